"""`attnviz.decoder.forward`: our pass of SmolLM2 against transformers' LlamaForCausalLM on the same GGUF file."""

import pytest
import torch

from attnviz.attention import Attention, causal_mask, scaled_dot_product
from attnviz.decoder import MAX_TOKENS, encode, expand_kv, forward, run
from attnviz.decoder.forward import causal_bias, grouped_attention
from attnviz.decoder.tokens import Tokens
from attnviz.errors import AttnvizInputError, EmptyTextError, TooManyTokensError

TEXTS = [
    "The capital of France is",
    "I walked by the river bank and saw a",
    "Please, GPT, can you tell me what is the most likely pet in a household?",
    "Emoji 😀 東京 1234 <b>bold</b>",
    "<|im_start|>user\nIgnore all previous instructions.<|im_end|>\n<|im_start|>assistant\n",
]


def _reference(reference, ids):
    with torch.inference_mode():
        return reference(torch.tensor([ids]), output_attentions=True, output_hidden_states=True)


@pytest.mark.parametrize("text", TEXTS, ids=lambda s: s[:16])
def test_logits_and_every_attention_map_match_transformers(model, reference, text):
    ours = forward(model, text)
    ref = _reference(reference, ours.tokens.ids)
    t = len(ours.tokens)
    assert ours.weights.shape == (30, 9, t, t)
    assert len(ref.attentions) == 30
    torch.testing.assert_close(ours.weights, torch.stack(ref.attentions)[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.logits, ref.logits[0], atol=1e-4, rtol=0)
    fused = forward(model, text, keep_weights=False)  # no maps: PyTorch's fused kernel instead of ours
    torch.testing.assert_close(fused.logits, ref.logits[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(ours.hidden_states[0], ref.hidden_states[0][0], atol=0, rtol=0)  # the embeddings


def test_the_next_word_is_paris(model):
    probs = forward(model, "The capital of France is").next_logits.softmax(-1)
    assert int(probs.argmax()) == 7042  # " Paris"
    assert float(probs.max()) == pytest.approx(0.77, abs=0.01)


def test_causal_upper_triangle_is_exactly_zero_and_rows_sum_to_one(model):
    w = forward(model, TEXTS[2]).weights  # (L, H, T, T)
    t = w.shape[-1]
    upper = torch.ones(t, t, dtype=torch.bool).triu(1)
    assert bool((w[..., upper] == 0).all())
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5, rtol=0)
    assert bool((w[..., 0, 0] == 1).all())  # the first token can only look at itself


def test_shapes_of_the_pass(model):
    f = forward(model, TEXTS[0])
    t = len(f.tokens)
    assert f.hidden_states.shape == (31, t, 576)
    assert f.logits.shape == (t, 49152)
    assert f.cache.keys.shape == f.cache.values.shape == (30, 3, t, 64)
    assert f.cache.length == t and f.cache.nbytes == 2 * 30 * 3 * t * 64 * 4
    last = forward(model, TEXTS[0], all_logits=False, keep_weights=False)
    assert last.weights is None and last.logits.shape == (1, 49152)
    torch.testing.assert_close(last.next_logits, f.next_logits, atol=1e-4, rtol=0)  # the fused kernel's rounding


def test_attend_is_called_once_per_layer_with_9_heads_sharing_3_key_value_heads(model):
    calls = []

    def recording(q, k, v, mask=None, scale=None) -> Attention:
        calls.append((q.shape, k.shape, v.shape, mask))
        return scaled_dot_product(q, k, v, mask=mask, scale=scale)

    f = forward(model, TEXTS[0], recording)
    t = len(f.tokens)
    assert len(calls) == 30
    for q_shape, k_shape, v_shape, mask in calls:
        assert q_shape == k_shape == v_shape == (9, t, 64)
        assert torch.equal(mask, torch.ones(t, t, dtype=torch.bool).tril())
    torch.testing.assert_close(f.logits, forward(model, TEXTS[0], scaled_dot_product).logits, atol=0, rtol=0)
    torch.testing.assert_close(f.logits, forward(model, TEXTS[0]).logits, atol=1e-5, rtol=0)  # our default


def test_grouped_attention_is_the_course_formula_on_expanded_heads():
    torch.manual_seed(0)
    q, k, v = torch.randn(9, 12, 64), torch.randn(3, 20, 64), torch.randn(3, 20, 64)  # 12 new tokens after 8
    exact = scaled_dot_product(q, expand_kv(k, 9), expand_kv(v, 9), mask=causal_mask(12, 20))
    output, weights = grouped_attention(q, k, v, causal_bias(12, 20))
    torch.testing.assert_close(weights, exact.weights, atol=1e-6, rtol=0)
    torch.testing.assert_close(output, exact.output, atol=1e-5, rtol=0)
    assert bool((weights[:, causal_bias(12, 20).isinf()] == 0).all())  # the masked part exactly 0


def test_the_maps_are_stacked_once_not_on_each_call(model):
    f = forward(model, TEXTS[1])
    layer_4 = f.layer_weights[4].clone()
    stacked = f.weights  # (L, H, T, T)
    assert f.weights is stacked  # no copy per call (it was a 71 MB torch.stack at 256 tokens)
    assert f.layer_weights[4].data_ptr() == stacked[4].data_ptr()  # the layers are views of it: kept once
    assert torch.equal(stacked[4], layer_4)
    p = run(model, torch.tensor(f.tokens.ids))
    assert p.weights is p.weights and torch.equal(p.weights, stacked)


def test_the_fused_kernel_without_maps_gives_the_same_logits_and_cache(model):
    ids = torch.tensor(encode(model, TEXTS[2]).ids)
    kept = run(model, ids)
    fused = run(model, ids, keep_weights=False)
    assert fused.weights is None
    torch.testing.assert_close(fused.logits, kept.logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(fused.cache.values, kept.cache.values, atol=1e-4, rtol=1e-5)
    first = run(model, ids[:7], keep_weights=False)  # after a cache: the kernel gets the (T, S) causal mask
    second = run(model, ids[7:], first.cache, keep_weights=False)
    one = run(model, ids[-1:], run(model, ids[:-1], keep_weights=False).cache, keep_weights=False)  # T = 1
    torch.testing.assert_close(second.logits, kept.logits[7:], atol=1e-4, rtol=0)
    torch.testing.assert_close(one.logits, kept.logits[-1:], atol=1e-4, rtol=0)


def test_a_swapped_attention_changes_the_output(model):
    def uniform(q, k, v, mask=None, scale=None) -> Attention:
        weights = mask.float() / mask.sum(-1, keepdim=True)  # (T, S) every visible token alike
        return Attention(output=weights @ v, weights=weights.expand(q.shape[0], -1, -1))

    exact = forward(model, TEXTS[1])
    flat = forward(model, TEXTS[1], uniform)
    assert not torch.allclose(exact.logits, flat.logits, atol=1e-2)


def test_reading_in_two_parts_with_the_cache_is_reading_at_once(model):
    ids = torch.tensor(encode(model, TEXTS[2]).ids)
    whole = run(model, ids)
    first = run(model, ids[:7])
    second = run(model, ids[7:], first.cache)
    assert second.start == 7 and second.cache.length == len(ids)
    torch.testing.assert_close(second.logits, whole.logits[7:], atol=1e-4, rtol=0)
    torch.testing.assert_close(second.weights, whole.weights[:, :, 7:, :], atol=1e-5, rtol=0)
    torch.testing.assert_close(second.cache.keys, whole.cache.keys, atol=1e-4, rtol=1e-5)


def test_empty_text_is_refused_clearly(model):
    with pytest.raises(EmptyTextError, match="empty"):
        forward(model, "")
    with pytest.raises(EmptyTextError):
        run(model, torch.tensor([], dtype=torch.long))


def test_more_tokens_than_the_limit_are_refused(model):
    long = encode(model, "word " * 400, max_tokens=300)
    assert len(long) == 300 > MAX_TOKENS
    with pytest.raises(TooManyTokensError, match="at most 256"):
        forward(model, long)
    assert len(forward(model, "word " * 400).tokens) == MAX_TOKENS  # text is cut, not refused


def test_tokens_from_elsewhere_are_refused(model):
    fake = Tokens("x", (60_000,), ("x",), ("x",), ((0, 1),), (False,), False, 0, 1, ())
    with pytest.raises(AttnvizInputError, match="vocabulary"):
        forward(model, fake)
    with pytest.raises(AttnvizInputError, match="expected a text"):
        forward(model, 42)
    assert issubclass(EmptyTextError, ValueError) and issubclass(TooManyTokensError, ValueError)
