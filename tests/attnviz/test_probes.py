"""The measurements of the real model's heads (attnviz.probes), pinned against hand computations from raw weights."""

from pathlib import Path

import pytest
import torch

from attnviz.errors import AttnvizInputError
from attnviz.pretrained import forward, head_projections, load_model
from attnviz.probes import (
    layer_census,
    pair_heads,
    pair_summary,
    parse_pairs,
    referent_shift,
    shift_scores,
    special_contribution,
    word_weights,
)
from attnviz.training import load_dataset

ROOT = Path(__file__).resolve().parents[2]
TIRED = "the cat sat on the mat because it was tired"
SOFT = "the cat sat on the mat because it was soft"


@pytest.fixture(scope="module")
def model():
    return load_model("cpu")


# ---------------------------------------------------------------------------------------------------------
# 1. The minimal pair
# ---------------------------------------------------------------------------------------------------------


def test_shift_scores_by_hand():
    # one layer, three heads: a head that follows the referent, one that always says "cat", one that inverts
    a_to_a = torch.tensor([[0.6, 0.7, 0.1]])
    a_to_b = torch.tensor([[0.1, 0.1, 0.5]])
    b_to_a = torch.tensor([[0.2, 0.7, 0.4]])
    b_to_b = torch.tensor([[0.5, 0.1, 0.2]])
    score = shift_scores(a_to_a, a_to_b, b_to_a, b_to_b)
    # (0.6 − 0.2) + (0.5 − 0.1) = 0.8;  (0.7 − 0.7) + (0.1 − 0.1) = 0;  (0.1 − 0.4) + (0.2 − 0.5) = −0.6
    torch.testing.assert_close(score, torch.tensor([[0.8, 0.0, -0.6]]))


def test_referent_shift_top_head_by_hand(model):
    found = referent_shift(model, TIRED, SOFT, "it", "cat", "mat", top=5)
    assert (found.source, found.referent_a, found.referent_b) == ("it", "cat", "mat")
    assert found.score.shape == (6, 12) and len(found.top) == 5
    # the ranking is by the stated score, highest first, and the first is the largest of all 72
    ranked = [float(found.score[lh, hh]) for lh, hh in found.top]
    assert ranked == sorted(ranked, reverse=True)
    assert ranked[0] == pytest.approx(float(found.score.max()))
    # the top head's four weights, read straight from each sentence's map: every word is one piece here
    layer, head = found.top[0]
    fa, fb = forward(model, TIRED), forward(model, SOFT)
    pa, pb = fa.tokens.pieces, fb.tokens.pieces
    wa, wb = fa.head(layer, head).weights, fb.head(layer, head).weights
    cat_a = float(wa[pa.index("it"), pa.index("cat")])
    mat_a = float(wa[pa.index("it"), pa.index("mat")])
    cat_b = float(wb[pb.index("it"), pb.index("cat")])
    mat_b = float(wb[pb.index("it"), pb.index("mat")])
    assert float(found.a_to_a[layer, head]) == pytest.approx(cat_a, abs=1e-6)
    assert float(found.b_to_b[layer, head]) == pytest.approx(mat_b, abs=1e-6)
    assert ranked[0] == pytest.approx((cat_a - cat_b) + (mat_b - mat_a), abs=1e-5)
    # measured on this model (all-MiniLM-L6-v2): layer 4 head 2 follows the change, 0.38 of a possible 2
    assert (layer, head) == (3, 1)
    assert ranked[0] == pytest.approx(0.385, abs=0.005)
    assert cat_a > mat_a and mat_b > cat_b  # it gives the true referent more weight in both sentences
    # the head with the largest weight on "cat" in A keeps "cat" in B: a high weight alone is no resolution
    sl, sh = divmod(int(found.a_to_a.argmax()), 12)
    assert (sl, sh) == (5, 11)
    assert float(found.b_to_a[sl, sh]) > float(found.b_to_b[sl, sh])
    assert not bool(found.resolved[sl, sh]) and bool(found.resolved[layer, head])
    # the pronoun's row in each sentence's word map ([CLS] is row 0), and the sentences' notes
    assert (found.source_row_a, found.source_row_b) == (8, 8)
    assert found.notes_a == found.tokens_a.notes == () and found.notes_b == ()


def test_referent_shift_on_the_host_keeps_its_properties(model):
    import numpy as np

    from attnviz.host import fields_to_host

    found = referent_shift(model, "the cat sat on the mat because it was tired 😀", SOFT)
    host = fields_to_host(found)
    assert isinstance(host.score, np.ndarray) and host.score.shape == (6, 12)
    assert host.resolved.tolist() == found.resolved.tolist() and host.top == found.top
    assert any("[UNK]" in n for n in host.notes_a)


def test_referent_shift_refuses_bad_words(model):
    with pytest.raises(AttnvizInputError, match="sentence B"):
        referent_shift(model, TIRED, "the dog sat because it was soft", "it", "cat", "mat")
    with pytest.raises(AttnvizInputError, match="three different words"):
        referent_shift(model, TIRED, SOFT, "it", "cat", "cat")
    with pytest.raises(AttnvizInputError, match="top"):
        referent_shift(model, TIRED, SOFT, top=0)


# ---------------------------------------------------------------------------------------------------------
# 2. The census: itself / neighbours / [CLS] and [SEP] / elsewhere
# ---------------------------------------------------------------------------------------------------------


def test_census_on_a_hand_made_map():
    # T = 4: [CLS] a b [SEP]; one layer, one head
    w = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.2, 0.3, 0.4, 0.1],  # a: special 0.3, itself 0.3, neighbour b 0.4 ([CLS] is not a neighbour)
            [0.1, 0.6, 0.2, 0.1],  # b: special 0.2, itself 0.2, neighbour a 0.6
            [0.0, 0.0, 0.0, 1.0],
        ]
    )[None, None]  # (1, 1, 4, 4)
    c = layer_census(w, [True, False, False, True])
    assert c.rows == 2
    assert float(c.itself) == pytest.approx(0.25)
    assert float(c.neighbours) == pytest.approx(0.5)
    assert float(c.special) == pytest.approx(0.25)
    assert float(c.elsewhere) == pytest.approx(0.0, abs=1e-7)
    assert c.heads_over(0.5).tolist() == [0] and c.heads_over(0.4).tolist() == [1]
    with pytest.raises(AttnvizInputError, match="no words"):
        layer_census(w, [True, True, True, True])


def test_census_layer_one_neighbour_shares_by_hand(model):
    fwd = forward(model, TIRED)
    weights, special = fwd.weights, fwd.tokens.special
    c = layer_census(weights, special)
    t = len(special)
    rows = [i for i in range(t) if not special[i]]
    for head in range(12):
        w = weights[0, head]
        near = sum(float(w[i, j]) for i in rows for j in (i - 1, i + 1) if 0 <= j < t and not special[j]) / len(rows)
        ends = sum(float(w[i, j]) for i in rows for j in range(t) if special[j]) / len(rows)
        own = sum(float(w[i, i]) for i in rows) / len(rows)
        assert float(c.neighbours[0, head]) == pytest.approx(near, abs=1e-5)
        assert float(c.special[0, head]) == pytest.approx(ends, abs=1e-5)
        assert float(c.itself[0, head]) == pytest.approx(own, abs=1e-5)
    total = c.itself + c.neighbours + c.special + c.elsewhere
    torch.testing.assert_close(total, torch.ones_like(total), atol=1e-5, rtol=0)
    # measured: the first layer does not mostly look next door on this sentence
    assert float(c.neighbours[0].mean()) == pytest.approx(0.20, abs=0.01)
    assert float(c.special[0].mean()) == pytest.approx(0.33, abs=0.01)
    assert int(c.heads_over(0.5)[0]) == 1


# ---------------------------------------------------------------------------------------------------------
# 3. [CLS]/[SEP]: weight against weight × ‖f(x)‖
# ---------------------------------------------------------------------------------------------------------


def test_special_contribution_by_hand(model):
    text = "I walked by the river bank"
    found = special_contribution(model, text)
    fwd = forward(model, text)
    special = torch.tensor(fwd.tokens.special)
    rows = (~special).nonzero().flatten()
    layer, head = 2, 5
    proj = head_projections(model, layer, head)
    trace = fwd.head(layer, head)
    f = (fwd.layers[layer].input @ proj.m_v + proj.b_v) @ proj.m_o  # (T, D) what each token passes on
    size = f.norm(dim=-1)  # (T,)
    a = trace.weights[rows]  # (R, T)
    weight = float(a[:, special].sum(-1).mean())
    moved = a * size
    norm = float((moved[:, special].sum(-1) / moved.sum(-1)).mean())
    assert float(found.weight_share[layer, head]) == pytest.approx(weight, abs=1e-5)
    assert float(found.norm_share[layer, head]) == pytest.approx(norm, abs=1e-4)
    torch.testing.assert_close(found.value_norms[layer, head], size, atol=1e-4, rtol=1e-4)
    # measured on this sentence: [CLS]/[SEP] take most of the weight but pass on much less
    assert float(found.weight_share.mean()) > 0.5 > 0.3 > float(found.norm_share.mean())


def test_special_contribution_of_an_empty_sentence_is_nan(model):
    found = special_contribution(model, "")
    assert torch.isnan(found.weight_share).all() and torch.isnan(found.norm_share).all()


# ---------------------------------------------------------------------------------------------------------
# 4. Verb → subject
# ---------------------------------------------------------------------------------------------------------


def test_parse_pairs_reads_both_files():
    far = parse_pairs((ROOT / "assets/probes/verb_subject_far.txt").read_text(encoding="utf-8"))
    assert len(far) == 24 and all(len(ex.pairs) == 1 for ex in far)
    assert all(s < q - 1 for ex in far for q, s in ex.pairs)  # a word or more between subject and verb
    page3 = parse_pairs((ROOT / "assets/training/verb_subject.txt").read_text(encoding="utf-8"))
    ds = load_dataset(ROOT / "assets/training/verb_subject.txt")
    assert page3 == ds.train + ds.heldout  # the sections are read through, every sentence kept
    with pytest.raises(AttnvizInputError, match="line 2"):
        parse_pairs("# c\nthe dog barked\n")
    with pytest.raises(AttnvizInputError, match="not in the sentence"):
        parse_pairs("the dog barked\tbarked>cat\n")
    with pytest.raises(AttnvizInputError, match="no labelled"):
        parse_pairs("# nothing\n")


def test_pair_heads_by_hand(model):
    examples = parse_pairs("the man in the red coat smiled\tsmiled>man\nthe dog barked\tbarked>dog\n")
    found = pair_heads(model, examples, top=3)
    assert found.weights.shape == (2, 6, 12) and found.adjacent.tolist() == [False, True]
    # the first pair, from the map: "smiled" (piece 7) to "man" (piece 2), every word one piece
    fwd = forward(model, "the man in the red coat smiled")
    assert fwd.tokens.pieces[7] == "smiled" and fwd.tokens.pieces[2] == "man"
    torch.testing.assert_close(found.weights[0], fwd.weights[:, :, 7, 2], atol=1e-6, rtol=0)
    torch.testing.assert_close(found.previous[0], fwd.weights[:, :, 7, 6], atol=1e-6, rtol=0)
    ranked = [float(found.mean[lh, hh]) for lh, hh in found.top]
    assert ranked == sorted(ranked, reverse=True) and ranked[0] == pytest.approx(float(found.mean.max()))
    assert found.uniform == pytest.approx((1 / 9 + 1 / 5) / 2)
    # every word to the word before it, over both sentences (pieces 2..7 and 2..3)
    fwd2 = forward(model, "the dog barked")
    back = [fwd.weights[:, :, i, i - 1] for i in range(2, 8)] + [fwd2.weights[:, :, i, i - 1] for i in range(2, 4)]
    torch.testing.assert_close(found.any_previous, torch.stack(back).mean(0), atol=1e-5, rtol=0)


def test_page3_sentences_cannot_tell_a_subject_head_from_a_previous_word_head(model):
    ds = load_dataset(ROOT / "assets/training/verb_subject.txt")
    found = pair_heads(model, ds.train + ds.heldout)
    assert int(found.adjacent.sum()) == len(found.sentences) == 100  # every subject right before its verb
    layer, head = found.top[0]
    assert (layer, head) == (0, 2)  # measured: layer 1 head 3
    # it looks one word back from every word, not just from verbs
    assert float(found.any_previous[layer, head]) > 0.9 and float(found.mean[layer, head]) > 0.9
    far = pair_heads(model, parse_pairs((ROOT / "assets/probes/verb_subject_far.txt").read_text(encoding="utf-8")))
    assert float(far.mean[layer, head]) < 0.1  # with words between, that head misses the subject
    assert float(far.mean.max()) < 0.3  # and no head gives the subject much: measured 0.19


def test_word_weights_rows_are_words(model):
    fwd = forward(model, "embeddings help")
    w = word_weights(fwd.weights, fwd.tokens)
    assert w.shape == (6, 12, 4, 4)
    torch.testing.assert_close(w.sum(-1), torch.ones(6, 12, 4), atol=1e-5, rtol=0)


def test_pair_summary_names_each_pair_and_reduces_pair_heads(model):
    examples = parse_pairs("the man in the red coat smiled\tsmiled>man\nthe dog barked\tbarked>dog\n")
    found = pair_heads(model, examples, top=3)
    summary = pair_summary(model, examples, top=3)
    assert summary.sentences == ("the man in the red coat smiled", "the dog barked")
    assert (summary.queries, summary.targets, summary.query_rows) == (("smiled", "barked"), ("man", "dog"), (7, 3))
    assert summary.adjacent == 1 and summary.top == found.top and summary.uniform == found.uniform
    torch.testing.assert_close(summary.mean, found.weights.mean(0))
    torch.testing.assert_close(summary.mean_previous, found.previous.nanmean(0))
    torch.testing.assert_close(summary.top_share, found.on_top.float().mean(0))
    torch.testing.assert_close(summary.any_previous, found.any_previous)
