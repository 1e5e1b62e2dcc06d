"""Our own forward pass of the bundled all-MiniLM-L6-v2 against Hugging Face transformers, and its helpers."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import Attention, scaled_dot_product
from attnviz.errors import AttnvizInputError
from attnviz.pretrained import (
    cosine,
    drift_across_layers,
    encode,
    find_coreference_heads,
    find_word,
    forward,
    group_attention,
    group_states,
    group_tokens,
    head_projections,
    load_model,
    sentence_embedding,
)

SENTENCES = [
    "I walked by the river bank",
    "the cat sat on the mat because it was tired",
    "Please, GPT, can you tell me what is the most likely pet in a household?",
    "Tokenizers split unbelievably long words: embeddings, Transformers! 😀 東京 привет",
    "",
    " ".join(["the quick brown fox jumps over the lazy dog"] * 70),  # 630 words: truncated to 512 positions
]


@pytest.fixture(scope="module")
def model():
    return load_model("cpu")


@pytest.fixture(scope="module")
def reference(model):
    # the test-only reference, read from the very same local files; nothing may be downloaded
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        from transformers import BertModel

        ref = BertModel.from_pretrained(str(model.path), attn_implementation="eager", local_files_only=True)
    return ref.eval()


# ---------------------------------------------------------------------------------------------------------
# The forward pass is BERT's
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", SENTENCES, ids=lambda s: s[:24] or "empty")
def test_matches_transformers(model, reference, text):
    ours = forward(model, text)
    ids = torch.tensor([ours.tokens.ids])
    with torch.no_grad():
        ref = reference(ids, output_attentions=True, output_hidden_states=True)
    assert len(ref.attentions) == len(ours.layers) == 6
    for layer, ref_weights in zip(ours.layers, ref.attentions, strict=True):
        assert layer.weights.shape == (12, len(ids[0]), len(ids[0]))
        torch.testing.assert_close(layer.weights, ref_weights[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.hidden_states, torch.stack(ref.hidden_states)[:, 0], atol=1e-4, rtol=0)
    # the sentence-transformers recipe: mean pooling over the tokens, then L2 normalise
    expected = F.normalize(ref.last_hidden_state[0].mean(dim=0), dim=-1)
    torch.testing.assert_close(ours.sentence_embedding, expected, atol=1e-5, rtol=0)


def test_sentence_embedding_is_the_forward_one_and_unit_length(model):
    text = SENTENCES[2]
    emb = sentence_embedding(model, text)
    assert emb.shape == (384,)
    torch.testing.assert_close(emb, forward(model, text).sentence_embedding, atol=1e-6, rtol=0)
    assert float(emb.norm()) == pytest.approx(1.0, abs=1e-5)


def test_similar_sentences_score_higher_than_unrelated(model):
    base = "A man is eating food."
    similar = cosine(model, base, "A man is eating a piece of bread.")
    unrelated = cosine(model, base, "The stock market fell sharply on Monday.")
    assert similar > unrelated + 0.3
    assert cosine(model, base, base) == pytest.approx(1.0, abs=1e-5)


def test_forward_shapes_and_stacked_weights(model):
    fwd = forward(model, "I walked by the river bank")
    t = len(fwd.tokens)
    assert fwd.hidden_states.shape == (7, t, 384)
    torch.testing.assert_close(fwd.hidden_states[0], fwd.embeddings)
    for i, layer in enumerate(fwd.layers):
        assert layer.q.shape == layer.k.shape == layer.v.shape == layer.head_outputs.shape == (12, t, 32)
        assert layer.scores.shape == (12, t, t)
        torch.testing.assert_close(layer.output, fwd.hidden_states[i + 1])
        torch.testing.assert_close(layer.input, fwd.hidden_states[i])
    assert fwd.weights.shape == (6, 12, t, t)
    torch.testing.assert_close(fwd.weights.sum(-1), torch.ones(6, 12, t))


# ---------------------------------------------------------------------------------------------------------
# Attention is pluggable per call
# ---------------------------------------------------------------------------------------------------------


def test_attend_is_called_once_per_layer_with_every_head(model):
    calls = []

    def counting(q, k, v, mask=None, scale=None):
        calls.append((q.shape, mask))
        return scaled_dot_product(q, k, v, mask=mask, scale=scale)

    text = "the cat sat on the mat"
    fwd = forward(model, text, attend=counting)
    t = len(fwd.tokens)
    assert calls == [((12, t, 32), None)] * 6
    exact = forward(model, text).sentence_embedding
    torch.testing.assert_close(fwd.sentence_embedding, exact, atol=0, rtol=0)
    calls.clear()
    sentence_embedding(model, text, attend=counting)
    assert len(calls) == 6


def test_a_perturbing_attend_moves_the_embedding_and_is_recorded(model):
    def flattened(q, k, v, mask=None, scale=None):
        return scaled_dot_product(q, k, v, mask=mask, scale=scale, temperature=4.0)

    text = "the cat sat on the mat because it was tired"
    exact, hot = forward(model, text), forward(model, text, attend=flattened)
    assert float(exact.sentence_embedding @ hot.sentence_embedding) < 0.999
    assert not torch.allclose(exact.layers[0].weights, hot.layers[0].weights)
    # the traces hold what the plugged-in function returned
    torch.testing.assert_close(hot.layers[0].attention.output, hot.layers[0].head_outputs)


def test_a_variant_without_weights_still_runs(model):
    def output_only(q, k, v, mask=None, scale=None):
        return Attention(output=F.scaled_dot_product_attention(q, k, v), scale=q.shape[-1] ** -0.5)

    text = "I deposited money at the bank"
    fwd = forward(model, text, attend=output_only)
    assert fwd.layers[0].weights is None and fwd.head(0, 0).weights is None
    exact = forward(model, text).sentence_embedding
    torch.testing.assert_close(fwd.sentence_embedding, exact, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="attention matrix"):
        _ = fwd.weights


# ---------------------------------------------------------------------------------------------------------
# Layers, heads and their real projections
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer,head", [(0, 0), (2, 7), (5, 11)])
def test_head_projections_reproduce_the_forward_pass(model, layer, head):
    fwd = forward(model, "I walked by the river bank")
    proj = head_projections(model, layer, head)
    assert proj.m_q.shape == proj.m_k.shape == proj.m_v.shape == (384, 32)
    assert proj.m_o.shape == (32, 384)
    x = fwd.layer(layer).input  # (T, D)
    h = fwd.head(layer, head)
    torch.testing.assert_close(x @ proj.m_q + proj.b_q, h.q, atol=1e-5, rtol=0)
    torch.testing.assert_close(x @ proj.m_k + proj.b_k, h.k, atol=1e-5, rtol=0)
    torch.testing.assert_close(x @ proj.m_v + proj.b_v, h.v, atol=1e-5, rtol=0)
    torch.testing.assert_close(h.q @ h.k.T, h.scores, atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.softmax(h.scores / 32**0.5, dim=-1), h.weights, atol=1e-6, rtol=0)


def test_head_rows_of_w_o_sum_back_to_the_attention_output(model):
    fwd = forward(model, "the cat sat on the mat")
    trace = fwd.layer(3)
    total = sum(trace.head_outputs[h] @ head_projections(model, 3, h).m_o for h in range(12))
    torch.testing.assert_close(total + model.layers[3].b_o, trace.attn_output, atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer,head", [(6, 0), (-1, 0), (0, 12), (0, -1), (True, 0), (1.0, 0)])
def test_layer_and_head_outside_the_model_are_refused(model, layer, head):
    fwd = forward(model, "the cat")
    with pytest.raises(AttnvizInputError):
        fwd.head(layer, head)
    with pytest.raises(AttnvizInputError):
        head_projections(model, layer, head)


def test_model_weights_are_read_only(model):
    with pytest.raises(RuntimeError):
        model.layers[0].w_q.mul_(2)
    with pytest.raises(RuntimeError):
        head_projections(model, 0, 0).m_q[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.layers = ()


# ---------------------------------------------------------------------------------------------------------
# Tokens and bad input
# ---------------------------------------------------------------------------------------------------------


def test_encode_ties_pieces_to_words(model):
    tokens = encode(model, "Embeddings are tired, Bank!")
    pieces = ("[CLS]", "em", "##bed", "##ding", "##s", "are", "tired", ",", "bank", "!", "[SEP]")
    assert tokens.pieces == pieces
    assert tokens.words == ("Embeddings", "are", "tired", ",", "Bank", "!")
    assert tokens.word_ids == (None, 0, 0, 0, 0, 1, 2, 3, 4, 5, None)
    assert tokens.special == (True,) + (False,) * 9 + (True,)
    assert not tokens.truncated and tokens.notes == () and not tokens.is_empty
    assert find_word(model, tokens, "bank") == 4
    with pytest.raises(AttnvizInputError, match="river"):
        find_word(model, tokens, "river")


@pytest.mark.parametrize("text", ["", "   ", "\t\n "])
def test_empty_text_is_cls_sep_with_a_note(model, text):
    tokens = encode(model, text)
    assert tokens.pieces == ("[CLS]", "[SEP]") and tokens.is_empty
    assert any("empty" in note for note in tokens.notes)
    fwd = forward(model, tokens)
    assert torch.isfinite(fwd.sentence_embedding).all()
    assert group_tokens(tokens, keep_special=False).labels == ()


def test_emoji_become_unk_and_other_scripts_split_with_a_note(model):
    tokens = encode(model, "I love 🐱 and 東京 and привет 🐱")
    assert tokens.unknown_words == ("🐱",)
    assert tokens.pieces.count("[UNK]") == 2 and sum(tokens.unknown) == 2
    assert "東" in tokens.pieces and "京" in tokens.pieces and "п" in tokens.pieces
    assert any("[UNK]" in note and "🐱" in note for note in tokens.notes)
    assert torch.isfinite(forward(model, tokens).sentence_embedding).all()


def test_text_beyond_512_positions_is_truncated_with_a_note(model):
    tokens = encode(model, "word " * 600)
    assert len(tokens) == 512 and tokens.pieces[-1] == "[SEP]"
    assert tokens.truncated and tokens.n_dropped == 600 - 510
    assert any("512" in note and "90" in note for note in tokens.notes)
    assert not encode(model, "word " * 510).truncated
    assert encode(model, "word " * 511).n_dropped == 1


def test_bad_arguments_are_refused(model):
    with pytest.raises(AttnvizInputError):
        encode(model, None)
    too_long = dataclasses.replace(encode(model, "word " * 600), ids=(101,) + (1000,) * 600 + (102,))
    with pytest.raises(AttnvizInputError, match="512"):
        forward(model, too_long)
    with pytest.raises(AttnvizInputError):
        find_coreference_heads(model, "the cat sat because it was tired", top=0)
    with pytest.raises(AttnvizInputError, match="dog"):
        find_coreference_heads(model, "the cat sat because it was tired", target_word="dog")


# ---------------------------------------------------------------------------------------------------------
# Grouping pieces into words, special tokens in or out
# ---------------------------------------------------------------------------------------------------------


def test_group_tokens_merges_wordpieces(model):
    tokens = encode(model, "embeddings help")
    words = group_tokens(tokens)
    assert words.labels == ("[CLS]", "embeddings", "help", "[SEP]")
    assert words.members == ((0,), (1, 2, 3, 4), (5,), (6,))
    assert words.special == (True, False, False, True)
    pieces = group_tokens(tokens, words=False, keep_special=False)
    assert pieces.labels == ("em", "##bed", "##ding", "##s", "help")


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
