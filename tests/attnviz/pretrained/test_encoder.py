"""`attnviz.pretrained.encoder`: our forward pass of the bundled all-MiniLM-L6-v2 against Hugging Face transformers."""

import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import Attention, scaled_dot_product
from attnviz.errors import AttnvizInputError
from attnviz.pretrained import (
    cosine,
    forward,
    head_projections,
    sentence_embedding,
)

SENTENCES = [
    "I walked by the river bank",
    "the cat sat on the mat because it was tired",
    "Please, GPT, can you tell me what is the most likely pet in a household?",
    "Tokenizers split unbelievably long words: embeddings, Transformers! 😀 東京 привет",
    "",
    " ".join(["the quick brown fox jumps over the lazy dog"] * 70),  # 630 words: truncated to the 256 pieces read
]


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
