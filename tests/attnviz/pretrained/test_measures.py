"""`attnviz.pretrained.measures`: maps and vectors by word, heads ranked, one word across two sentences."""

import pytest
import torch
import torch.nn.functional as F

from attnviz.errors import AttnvizInputError
from attnviz.pretrained import (
    attention_view,
    drift_across_layers,
    encode,
    find_coreference_heads,
    forward,
    group_attention,
    group_states,
    group_tokens,
    top_heads,
)


def test_group_attention_sums_keys_and_averages_queries(model):
    tokens = encode(model, "embeddings help")
    weights = forward(model, tokens).weights  # (L, H, T, T)
    grouped = group_attention(weights, group_tokens(tokens))
    assert grouped.weights.shape == (6, 12, 4, 4)
    torch.testing.assert_close(grouped.weights.sum(-1), torch.ones(6, 12, 4))
    assert float(grouped.dropped.abs().max()) < 1e-6
    # "embeddings" → "help": mean over the 4 query pieces of the weight on "help"
    torch.testing.assert_close(grouped.weights[..., 1, 2], weights[..., 1:5, 5].mean(-1))
    # "help" → "embeddings": sum over the 4 key pieces
    torch.testing.assert_close(grouped.weights[..., 2, 1], weights[..., 5, 1:5].sum(-1))


def test_dropping_special_tokens_renormalises_rows(model):
    tokens = encode(model, "the cat sat on the mat")
    weights = forward(model, tokens).weights  # (L, H, T, T)
    grouping = group_tokens(tokens, keep_special=False)
    assert "[CLS]" not in grouping.labels and "[SEP]" not in grouping.labels and len(grouping) == 6
    shown = group_attention(weights, grouping)
    torch.testing.assert_close(shown.weights.sum(-1), torch.ones(6, 12, 6))
    to_special = weights[..., 1:-1, 0] + weights[..., 1:-1, -1]  # (L, H, 6)
    torch.testing.assert_close(shown.dropped, to_special)
    raw = group_attention(weights, grouping, renormalise=False)
    torch.testing.assert_close(raw.weights, weights[..., 1:-1, 1:-1])
    torch.testing.assert_close(raw.weights.sum(-1), 1 - to_special)


def test_group_states_averages_pieces(model):
    tokens = encode(model, "embeddings help")
    states = forward(model, tokens).hidden_states  # (L+1, T, D)
    grouped = group_states(states, group_tokens(tokens))
    assert grouped.shape == (7, 4, 384)
    torch.testing.assert_close(grouped[:, 1], states[:, 1:5].mean(1))


# ---------------------------------------------------------------------------------------------------------
# The ready examples are measured
# ---------------------------------------------------------------------------------------------------------


def test_coreference_heads_are_ranked_by_measured_weight(model):
    text = "the cat sat on the mat because it was tired"
    found = find_coreference_heads(model, text, "it", "cat", top=5)
    assert (found.source_word, found.target_word) == ("it", "cat")
    assert found.weights.shape == (6, 12) and len(found.top) == 5
    ranked = [s.weight for s in found.top]
    assert ranked == sorted(ranked, reverse=True)
    assert ranked[0] == pytest.approx(float(found.weights.max()))
    best = found.top[0]
    fwd = forward(model, text)
    it, cat = fwd.tokens.pieces.index("it"), fwd.tokens.pieces.index("cat")
    assert best.weight == pytest.approx(float(fwd.head(best.layer, best.head).weights[it, cat]), abs=1e-6)
    assert best.weight > 4 * found.uniform  # some head really looks from "it" to "cat"


def test_bank_drifts_apart_across_layers(model):
    river, money = "I walked by the river bank", "I deposited money at the bank"
    drift = drift_across_layers(model, river, money, "bank")
    assert drift.labels == ("embeddings", *(f"layer {i}" for i in range(1, 7)))
    assert len(drift.cosines) == 7 and drift.vectors_a.shape == (7, 384)
    # same piece at the same position: identical before any attention, apart after it
    assert drift.cosines[0] == pytest.approx(1.0, abs=1e-6)
    assert drift.cosines[-1] < 0.95
    a, b = forward(model, river), forward(model, money)
    ia, ib = a.tokens.pieces.index("bank"), b.tokens.pieces.index("bank")
    expected = F.cosine_similarity(a.hidden_states[3, ia], b.hidden_states[3, ib], dim=0)
    assert drift.cosines[3] == pytest.approx(float(expected), abs=1e-6)
    with pytest.raises(AttnvizInputError, match="bank"):
        drift_across_layers(model, river, "the cat sat", "bank")


def test_drift_refuses_a_missing_word_before_any_forward_pass(model, monkeypatch):
    from attnviz.pretrained import measures

    def no_forward(*args, **kwargs):
        raise AssertionError("a forward pass ran before the words were checked")

    monkeypatch.setattr(measures, "forward", no_forward)
    with pytest.raises(AttnvizInputError, match="'bank' is not a word of the sentence 'the cat sat'"):
        drift_across_layers(model, "I walked by the river bank", "the cat sat", "bank")


def test_drift_notes_are_the_sentences_notes(model):
    drift = drift_across_layers(model, "the bank 😀", "the bank", "bank")
    assert drift.notes_a == drift.tokens_a.notes and any("[UNK]" in n for n in drift.notes_a)
    assert drift.notes_b == ()


# ---------------------------------------------------------------------------------------------------------
# Every head's map as drawn, and heads ranked
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("words,keep_special", [(True, True), (True, False), (False, True), (False, False)])
def test_attention_view_is_group_attention_with_the_special_share(model, words, keep_special):
    tokens = encode(model, "embeddings help the bank")
    weights = forward(model, tokens).weights  # (L, H, T, T)
    view = attention_view(tokens, weights, words=words, keep_special=keep_special)
    grouping = group_tokens(tokens, words=words, keep_special=keep_special)
    grouped = group_attention(weights, grouping)
    assert view.labels == grouping.labels and view.special == grouping.special
    torch.testing.assert_close(view.weights, grouped.weights)
    torch.testing.assert_close(view.dropped, grouped.dropped)
    # [CLS]/[SEP]'s share, by hand: with them kept, the mean over the words' rows of the weight on the two
    full = group_attention(weights, group_tokens(tokens, words=words, keep_special=True))
    rows = full.weights[..., 1:-1, :]  # (L, H, W, G) the rows of the words
    torch.testing.assert_close(view.special_share, (rows[..., 0] + rows[..., -1]).mean(-1))
    # short enough: the thumbnails are the maps themselves
    assert view.thumbs.shape == view.weights.shape and view.thumb_labels == view.labels


def test_attention_view_pools_long_sentences_into_labelled_blocks(model):
    tokens = encode(model, " ".join(f"w{i}" for i in range(40)))  # 40 words, more pieces than that
    weights = forward(model, tokens).weights
    view = attention_view(tokens, weights, words=False, keep_special=True, max_blocks=10)
    assert view.thumbs.shape == (6, 12, 10, 10) and len(view.thumb_labels) == 10
    assert view.thumb_labels[0] == f"{view.labels[0]} … {view.labels[len(view.labels) // 10 - 1]}"
    torch.testing.assert_close(view.thumbs.sum(-1), torch.ones(6, 12, 10))


def test_attention_view_of_an_empty_sentence_keeps_cls_and_sep(model):
    tokens = encode(model, "")
    view = attention_view(tokens, forward(model, tokens).weights, words=True, keep_special=True)
    assert view.labels == ("[CLS]", "[SEP]") and view.special_share.shape == (6, 12)


def test_top_heads_ranks_highest_first_and_keeps_ties_in_order():
    score = torch.tensor([[0.1, 0.9, 0.3], [0.9, 0.2, 0.0]])  # (L=2, H=3)
    assert top_heads(score, 3) == ((0, 1), (1, 0), (0, 2))
    assert top_heads(score, 10) == ((0, 1), (1, 0), (0, 2), (1, 1), (0, 0), (1, 2))
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(AttnvizInputError, match=r"top \(a number of heads\) must be a whole number"):
            top_heads(score, bad)
