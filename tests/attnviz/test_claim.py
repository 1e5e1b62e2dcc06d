"""attnviz.claim: the attention a text's words get, from the last position and over the text."""

import numpy as np
import pytest

from attnviz.claim import FOCUS, OTHER, word_positions, word_weights
from attnviz.errors import AttnvizInputError

TEXT = "Please, what pet?"
OFFSETS = ((0, 6), (6, 7), (7, 12), (12, 16), (16, 17))  # "Please" "," " what" " pet" "?"


def test_words_take_their_tokens_and_punctuation_is_no_word():
    assert word_positions(TEXT, OFFSETS) == [("Please", (0,)), ("what", (2,)), ("pet", (3,))]
    # a word in two tokens ("house" "hold"), an apostrophe inside a word, a word no token reaches
    text = "household don't skip"
    assert word_positions(text, ((0, 5), (5, 9), (9, 15))) == [("household", (0, 1)), ("don't", (2,))]


def test_weights_from_the_last_row_and_received_per_row_that_sees_the_word():
    t = len(OFFSETS)
    rng = np.random.default_rng(0)
    raw = np.tril(rng.random((2, 3, t, t))) + 1e-9 * np.triu(np.ones((t, t)), 1)  # (L, H, T, T), nothing above
    w = np.tril(raw) / np.tril(raw).sum(-1, keepdims=True)  # causal softmax rows
    ww = word_weights(TEXT, OFFSETS, w, causal=True)
    mean = w.reshape(-1, t, t).mean(0)  # (T, T) over the 6 heads
    assert ww.words == ("Please", "what", "pet")
    np.testing.assert_allclose(ww.from_last, mean[-1, [0, 2, 3]], rtol=1e-6)
    lookers = np.arange(t, 0, -1)  # column j is seen by rows j … T−1
    per_head = w.reshape(-1, t, t).sum(-2) / lookers  # (6, T)
    np.testing.assert_allclose(ww.received, per_head.mean(0)[[0, 2, 3]], rtol=1e-6)
    assert ww.first_share == pytest.approx(mean[-1, 0])
    assert ww.find("PLEASE") == 0 and ww.find("cat") is None


def test_an_encoder_map_counts_every_row():
    t = len(OFFSETS)
    w = np.full((1, t, t), 1 / t)  # uniform rows, no mask
    ww = word_weights(TEXT, OFFSETS, w, causal=False)
    np.testing.assert_allclose(ww.received, [1 / t] * 3)
    np.testing.assert_allclose(ww.from_last, [1 / t] * 3)


def test_the_weights_must_match_the_tokens():
    with pytest.raises(AttnvizInputError, match=r"\(\.\.\., 5, 5\)"):
        word_weights(TEXT, OFFSETS, np.ones((2, 4, 4)), causal=True)


def test_the_claims_words():
    assert FOCUS == ("what", "likely", "pet", "household") and OTHER == "please"
