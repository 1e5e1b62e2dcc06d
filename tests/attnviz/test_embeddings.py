import numpy as np
import pytest
import torch

from attnviz import AttnvizInputError
from attnviz.embeddings import (
    LIST_READ_LIMIT,
    MAX_LIST_WORDS,
    MAX_WORDS,
    check_noun_claim,
    compare,
    neighbours,
    parse_expression,
    parse_word_list,
    pca,
    solve_analogy,
    tokenize,
    vectors_for,
    word_vector,
    word_vectors,
)


def test_vocabulary_is_glove_6b_50d(kv):
    assert len(kv.index_to_key) == 400_000
    assert kv.vector_size == 50
    assert kv.index_to_key[0] == "the"


@pytest.mark.parametrize(
    "text,answer",
    [("king - man + woman", "queen"), ("paris - france + italy", "rome"), ("-man + woman + king", "queen")],
)
def test_analogies_top_1(kv, text, answer):
    analogy = solve_analogy(kv, parse_expression(text, kv), topn=5)
    assert analogy.answers[0][0] == answer


def test_king_queen_score_and_inputs_switch(kv):
    excluded = solve_analogy(kv, parse_expression("king - man + woman"), topn=5)
    assert excluded.answers[0] == ("queen", pytest.approx(0.852, abs=1e-3))
    assert not {"king", "man", "woman"} & {w for w, _ in excluded.answers}
    included = solve_analogy(kv, parse_expression("king - man + woman"), topn=5, exclude_inputs=False)
    assert included.answers[0][0] == "king"
    assert included.excluded == ()


def test_cat_dog_beats_cat_debt(kv):
    cat, dog, debt = (word_vector(kv, w) for w in ("cat", "dog", "debt"))
    assert compare(cat, dog).dot > compare(cat, debt).dot
    assert compare(cat, dog).cosine > compare(cat, debt).cosine


def test_compare_terms_add_up(kv):
    a, b = word_vector(kv, "river"), word_vector(kv, "bank")
    c = compare(a, b)
    assert c.products.shape == (50,)
    assert c.dot == pytest.approx(float(np.dot(a.astype(np.float64), b)), rel=1e-9)
    assert c.cosine == pytest.approx(float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)), rel=1e-5)
    assert compare(np.zeros(3), np.ones(3)).cosine == 0.0


def test_neighbours_exclude_and_rank(kv):
    near = neighbours(kv, word_vector(kv, "bank"), 5, exclude=["bank"])
    assert len(near) == 5 and "bank" not in [w for w, _ in near]
    assert [c for _, c in near] == sorted((c for _, c in near), reverse=True)
    assert near[0][0] == "banks"


@pytest.mark.parametrize(
    "text,words,unknown",
    [
        ("I walked by the river bank", ("i", "walked", "by", "the", "river", "bank"), ()),
        ("", (), ()),
        ("   \n\t ", (), ()),
        ("Hello, world!!! ... ???", ("hello", "world"), ()),
        ("😀🎉 🚀", (), ()),
        ("didn't the cat's toy", ("did", "n't", "the", "cat", "'s", "toy"), ()),
        ("zzqxv bank zzqxv", ("bank",), ("zzqxv",)),
        ("<script>alert(1)</script>", ("script", "alert", "1", "script"), ()),
        ("Année 2024 東京", ("année", "2024"), ("東京",)),
    ],
)
def test_tokenize_edge_cases(kv, text, words, unknown):
    tokens = tokenize(text, kv)
    assert tokens.words == words
    assert tokens.unknown == unknown


def test_tokenize_caps_length_and_labels_are_unique(kv):
    tokens = tokenize("the " * 10_000, kv)
    assert len(tokens.words) == MAX_WORDS and tokens.truncated == 10_000 - MAX_WORDS
    assert len(set(tokens.labels)) == MAX_WORDS
    assert tokens.labels[:3] == ("the", "the·2", "the·3")


@pytest.mark.parametrize(
    "text,pos,neg",
    [
        ("king - man + woman", ["king", "woman"], ["man"]),
        ("  King  -Man+WOMAN ", ["king", "woman"], ["man"]),
        ("- man + woman", ["woman"], ["man"]),
        ("paris − france + italy", ["paris", "italy"], ["france"]),
        ("queen", ["queen"], []),
    ],
)
def test_parse_expression(text, pos, neg):
    e = parse_expression(text)
    assert e.positive == pos and e.negative == neg


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("", "Type an expression"),
        ("   ", "Type an expression"),
        ("king - - man", "Two operators"),
        ("king + man -", "ends with an operator"),
        ("+", "ends with an operator"),
        ("king man", "follows another word"),
        ("king * man", "neither a word"),
        ("king - <b>x</b>", "neither a word"),
        ("king - zzqxv + woman", "Not in the vocabulary: zzqxv"),
    ],
)
def test_parse_expression_errors(kv, text, fragment):
    with pytest.raises(AttnvizInputError, match=fragment):
        parse_expression(text, kv)


def test_word_vector_errors(kv):
    with pytest.raises(AttnvizInputError):
        word_vector(kv, "  ")
    with pytest.raises(AttnvizInputError, match="not in the vocabulary"):
        word_vector(kv, "zzqxv")
    assert word_vector(kv, " Cat ").shape == (50,)


def test_vectors_for_rows_match_vocabulary(kv):
    rows = word_vectors(kv, ["river", "bank"])
    assert rows.shape == (2, 50) and rows.dtype == np.float32
    assert np.array_equal(rows[1], kv["bank"])
    rows[0] = 0  # a copy: the shared vectors are untouched
    assert kv["river"].any()
    x = vectors_for(kv, ["river", "bank"])
    assert x.shape == (2, 50) and x.dtype == torch.float32
    assert np.array_equal(x[1].numpy(), kv["bank"])


def test_pca_recovers_a_plane():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((50, 2)))[0].T  # (2, 50) orthonormal
    coeffs = rng.standard_normal((30, 2)) * np.array([5.0, 1.0])  # (30, 2)
    points = (coeffs @ basis).astype(np.float32)  # (30, 50)
    coords, share = pca(points, 3)
    assert coords.shape == (30, 3) and coords.dtype == np.float32 and share.shape == (3,)
    assert share[:2].sum() == pytest.approx(1.0, abs=1e-5)
    assert share[0] > share[1]

    # distances are preserved by a projection onto the plane the points lie in
    def distances(p: np.ndarray) -> np.ndarray:
        return np.linalg.norm(p[:, None] - p[None], axis=-1)  # (N, N)

    assert np.allclose(distances(coords[:, :2]), distances(coeffs), atol=1e-4)
    again, _ = pca(points, 3)
    assert np.array_equal(coords, again)  # deterministic signs


def test_pca_by_hand():
    # four points on a line through (1, 1) along (1, 2): one direction holds all the spread
    points = np.array([[1.0, 1.0], [2.0, 3.0], [0.0, -1.0], [3.0, 5.0]])  # (4, 2)
    coords, share = pca(points, 2)
    along = (points - points.mean(0)) @ np.array([1.0, 2.0]) / np.sqrt(5)  # (4,) signed distance along the line
    assert np.allclose(coords[:, 0], along) and np.allclose(coords[:, 1], 0, atol=1e-12)
    assert share == pytest.approx([1.0, 0.0], abs=1e-12)


def test_claim_check_over_shipped_lists(kv):
    from pathlib import Path

    assets = Path(__file__).resolve().parents[2] / "assets" / "words"
    nouns = parse_word_list((assets / "nouns.txt").read_text())
    verbs = parse_word_list((assets / "verbs.txt").read_text())
    assert len(nouns) >= 40 and len(verbs) >= 40
    assert all(w in kv.key_to_index for w in nouns + verbs)
    claim = check_noun_claim(kv, nouns, verbs, "dot")
    n, m = len(nouns), len(verbs)
    assert claim.noun_noun.shape == (n * (n - 1) // 2,) and claim.noun_verb.shape == (n * m,)
    # the win rate is the share of (noun-noun, noun-verb) pairs where the first is larger
    brute = (claim.noun_noun[:, None] > claim.noun_verb[None, :]).mean()
    assert claim.win_rate == pytest.approx(brute, abs=1e-3)
    assert 0.5 < claim.win_rate <= 1.0  # the claim holds more often than not on these lists
    assert 0.0 <= claim.nouns_won <= 1.0


def test_claim_check_needs_words(kv):
    with pytest.raises(AttnvizInputError):
        check_noun_claim(kv, ["cat"], ["eat"])
    with pytest.raises(AttnvizInputError):
        check_noun_claim(kv, ["cat", "dog"], [])


def test_claim_check_refuses_lists_too_long_to_draw(kv):
    nouns, verbs = kv.index_to_key[1000 : 1000 + MAX_LIST_WORDS + 1], ["eat", "run"]
    with pytest.raises(AttnvizInputError, match=f"up to {MAX_LIST_WORDS} words per list, and the noun list"):
        check_noun_claim(kv, nouns, verbs)
    with pytest.raises(AttnvizInputError, match="the verb list has more"):
        check_noun_claim(kv, ["cat", "dog"], kv.index_to_key[2000 : 2000 + MAX_LIST_WORDS + 1])
    claim = check_noun_claim(kv, nouns[:MAX_LIST_WORDS], verbs)  # the limit itself is allowed
    assert claim.noun_noun.size == MAX_LIST_WORDS * (MAX_LIST_WORDS - 1) // 2


def test_parse_word_list():
    assert parse_word_list("# comment\nCat dog\n\ncat # again\nx-ray") == ["cat", "dog", "x-ray"]


def test_parse_word_list_stops_reading_a_huge_paste():
    text = "\n".join(f"w{i} w{i}" for i in range(50_000))
    words = parse_word_list(text)
    assert words == [f"w{i}" for i in range(LIST_READ_LIMIT)]
    assert parse_word_list("a b c d", limit=2) == ["a", "b"]


def test_first_lesson_path_imports_no_torch():
    """Lesson 1 computes with NumPy: the modules its page imports, and loading the vectors, leave torch unloaded
    (importing it costs a fresh server about 1.4 s before the first page could be drawn)."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys\n"
        "import app_support.data.cached, app_support.data.loaders, app_support.kit.charts, app_support.kit.steps\n"
        "import app_support.kit.widgets, app_support.classroom.predict\n"
        "import attnviz.plots\n"
        "from attnviz import embeddings\n"
        "kv = embeddings.load_glove()\n"
        "x = embeddings.word_vectors(kv, ['river', 'bank', 'money'])\n"
        "embeddings.pca(x, 2)\n"
        "embeddings.check_noun_claim(kv, ['river', 'bank'], ['walk'], 'cosine')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('no torch')\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "no torch"
