"""attnviz.decoder.lesson: what page 7 shows, measured on one pass."""

import numpy as np
import pytest

from attnviz.decoder.gqa import kv_head_of
from attnviz.decoder.lesson import SHIFTS, THUMB_MAX, generated_view, grown_map, storage, text_view, time_cache
from attnviz.errors import EmptyTextError


def test_text_view_measures_the_causal_mask_and_the_first_token(model):
    view = text_view(model, "I walked by the river bank and saw a")
    L, H, T = model.config.n_layers, model.config.n_heads, len(view.tokens)
    assert view.weights.shape == (L, H, T, T) and view.upper_max == 0.0
    assert np.allclose(view.weights.sum(-1), 1, atol=1e-5)
    expected = view.weights[:, :, 1:, 0].mean(-1)  # (L, H) weight on token 0, rows 1 … T−1
    assert np.allclose(view.first_share, expected, atol=1e-6)
    assert view.thumbs.shape == (L, H, T, T) and len(view.thumb_labels) == T  # short: nothing pooled
    assert view.shift is not None and view.shift.shifts == (0, *SHIFTS) and view.shift.max_difference < 1e-4
    assert max(abs(s - view.shift.scores[0]) for s in view.shift.unmoved_q[1:]) > 1e-3  # the control moves
    probs = view.top.probabilities
    assert 0 < sum(probs) <= 1 + 1e-6 and probs == tuple(sorted(probs, reverse=True))


def test_text_view_pools_a_long_text_and_refuses_an_empty_one(model):
    view = text_view(model, "The quick brown fox jumps over the lazy dog. " * 40)
    assert len(view.tokens) == 256 and view.thumbs.shape[-1] == THUMB_MAX and view.upper_max == 0.0
    assert np.allclose(view.thumbs.sum(-1), 1, atol=1e-4)
    with pytest.raises(EmptyTextError):
        text_view(model, "")


def test_generated_rows_grow_the_map(model):
    text = "The capital of France is"
    view, gen = text_view(model, text), generated_view(model, text, 3, 0.0, 0)
    T = len(view.tokens)
    assert [s.cache_tokens for s in gen.steps] == [T + 1, T + 2, T + 3][: len(gen.steps)]
    assert gen.steps[0].label == view.top.labels[0]  # greedy takes the likeliest
    rows = [s.row[4, 2] for s in gen.steps]
    grown = grown_map(view.weights[4, 2], rows)
    n = T + len(rows)
    assert grown.shape == (n, n) and not np.triu(grown, 1).any()
    assert np.allclose(grown[:T, :T], view.weights[4, 2]) and np.allclose(grown[T:].sum(-1), 1, atol=1e-5)


def test_kv_heads_follow_the_config(model):
    c = model.config
    assert kv_head_of(c.n_heads, c.n_kv_heads) == tuple(h // c.group_size for h in range(c.n_heads))


def test_generating_from_the_kept_pass_equals_generating_from_the_text(model):
    text = "I walked by the river bank and saw a"
    prompt = text_view(model, text).prompt
    assert prompt.layer_weights is None and prompt.cache.length == len(prompt.tokens)  # the maps are not kept twice
    for temperature in (0.0, 0.9):
        again = generated_view(model, text, 5, temperature, 3)
        kept = generated_view(model, text, 5, temperature, 3, prompt)
        assert kept.text == again.text and [s.label for s in kept.steps] == [s.label for s in again.steps]
        for a, b in zip(kept.steps, again.steps, strict=True):
            assert a.cache_bytes == b.cache_bytes and np.allclose(a.row, b.row, atol=1e-6)


def test_storage_says_which_weights_each_type_holds(model):
    kinds = storage(model)
    assert [k.kind.name for k in kinds] == ["Q4_1", "Q8_0", "F32"]  # most weights first
    assert sum(k.share for k in kinds) == pytest.approx(1.0)
    q4, q8, f32 = kinds
    assert q4.parts == ("the layers' matrices",) and q4.code_bits == 4 and q4.kind.bits_per_weight == 5.0
    assert q4.share == pytest.approx(106_168_320 / model.n_parameters)  # 78.9%
    assert q8.parts == ("the token embedding, which is also the output layer",) and q8.kind.bits_per_weight == 8.5
    assert model.config.tied_embeddings and q8.kind.parameters == model.token_embedding.numel()
    n_norms = 2 * model.config.n_layers + 1  # two per layer and the final one
    assert f32.parts == (f"the {n_norms} norm vectors",) and f32.code_bits == 32


def test_time_cache_times_the_same_tokens_both_ways(model):
    prompt = text_view(model, "I walked by the river bank").prompt
    T = len(prompt.tokens)
    timing = time_cache(model, prompt, 3)
    assert timing.prompt_tokens == T and timing.same_tokens and timing.device == "cpu"
    assert len(timing.with_cache) == len(timing.without_cache) == 3
    assert all(s > 0 for s in (*timing.with_cache, *timing.without_cache))
    assert timing.tokens_read == (3, (T + 1) + (T + 2) + (T + 3))  # without the cache, step i reads T + i tokens
    assert timing.per_token == (float(np.median(timing.with_cache)), float(np.median(timing.without_cache)))
