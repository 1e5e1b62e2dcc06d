"""`attnviz.decoder.sinks`: window masks, StreamingLLM's sinks at their cache positions, the experiment."""

import math

import pytest
import torch

from attnviz.attention import scaled_dot_product
from attnviz.decoder import (
    forward,
    rotary_score,
    rotate,
    sink_experiment,
    sink_share,
    window_mask,
    windowed,
)
from attnviz.decoder.sinks import next_token_losses
from attnviz.errors import AttnvizInputError

PARAGRAPH = (
    "The history of the city begins in the Middle Ages, when a small market grew up beside the river crossing. "
    "Merchants came from the villages around to sell wool, grain and salt, and by the thirteenth century the town "
    "had a charter and a stone bridge."
)


def test_window_mask():
    m = window_mask(5, 5, window=2)
    assert m.tolist()[4] == [False, False, False, True, True]
    assert torch.equal(window_mask(5, 5, window=1), torch.eye(5, dtype=torch.bool))
    with_sink = window_mask(6, 6, window=2, sinks=1)
    assert with_sink[:, 0].all() and with_sink.sum().item() == 1 + 2 + 3 + 3 + 3 + 3
    assert torch.equal(window_mask(2, 6, window=3), window_mask(6, 6, window=3)[4:])  # the last queries
    assert not window_mask(4, 4, window=10, sinks=2).triu(1).any()  # still causal


def test_a_window_as_wide_as_the_text_is_exact_attention():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 6, 8, generator=g) for _ in range(3))
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    exact = scaled_dot_product(q, k, v, mask=causal)
    wide = windowed(6, 2, rope_base=10_000.0)(q, k, v, mask=causal)
    torch.testing.assert_close(wide.weights, exact.weights, atol=1e-6, rtol=0)


def test_sinks_are_scored_at_their_positions_in_a_rolling_cache():
    g = torch.Generator().manual_seed(1)
    base, window, sinks, t = 10_000.0, 3, 2, 9
    q_raw, k_raw = torch.randn(t, 16, generator=g), torch.randn(t, 16, generator=g)
    positions = torch.arange(t)
    q, k = rotate(q_raw, positions, base), rotate(k_raw, positions, base)
    out = windowed(window, sinks, rope_base=base)(q[None], k[None], k[None])
    for i in range(t):
        # StreamingLLM's cache at query i: sinks at 0, 1, then the window; the query last, at ≤ sinks + window − 1
        at = min(i, sinks + window - 1)
        for j in range(sinks):
            assert float(out.scores[0, i, j]) == pytest.approx(rotary_score(q_raw[i], k_raw[j], at, j, base), abs=1e-4)
        for j in range(max(sinks, i - window + 1), i + 1):  # window keys: the distance in the text is the same
            assert float(out.scores[0, i, j]) == pytest.approx(rotary_score(q_raw[i], k_raw[j], i, j, base), abs=1e-4)
    in_text = windowed(window, sinks, cache_positions=False)(q[None], k[None], k[None])
    nothing_dropped = slice(0, sinks + window)
    torch.testing.assert_close(in_text.scores[0, nothing_dropped], out.scores[0, nothing_dropped], atol=1e-5, rtol=0)
    assert not torch.allclose(in_text.scores[0, -1, :sinks], out.scores[0, -1, :sinks])


def test_sink_share_leaves_out_the_rows_that_see_only_the_sink():
    w = torch.zeros(1, 1, 4, 4)
    w[0, 0, 0, 0] = 1.0
    w[0, 0, 1:, 0] = torch.tensor([0.5, 0.25, 0.0])
    w[0, 0, 1:, 1] = 1.0 - w[0, 0, 1:, 0]
    assert float(sink_share(w)[0, 0]) == pytest.approx(0.25)
    assert math.isnan(float(sink_share(w[..., :1, :1])[0, 0]))


def test_the_first_token_takes_a_large_share_in_a_real_model(model):
    share = sink_share(forward(model, "I walked by the river bank and saw a").weights)  # (L, H)
    assert share.shape == (30, 9)
    assert float(share[10].min()) > 0.1  # every head of layer 10 parks over a tenth of its weight on token 0


def test_the_streaming_experiment(model):
    full = forward(model, PARAGRAPH, keep_weights=False)
    exp = sink_experiment(model, PARAGRAPH, window=8, sinks=4, full=full)
    t = len(exp.tokens)
    assert t > 40 and exp.first_dropped == 8
    for curve in exp.curves:
        assert curve.losses.shape == (t - 1,)
    # before the window drops anything the three are the same pass
    torch.testing.assert_close(exp.window_only.losses[:8], exp.full.losses[:8], atol=1e-4, rtol=0)
    torch.testing.assert_close(exp.with_sinks.losses[:12], exp.full.losses[:12], atol=1e-4, rtol=0)
    # on this text: the window alone loses far more than the window that keeps the first 4 tokens
    assert exp.window_only.perplexity_from(8) > 2 * exp.with_sinks.perplexity_from(8)
    assert exp.full.perplexity < exp.with_sinks.perplexity
    assert exp.full.perplexity == pytest.approx(math.exp(float(exp.full.losses.mean())), rel=1e-6)
    # the paper's equal cache (Table 1: 4 + 1020 against 0 + 1024): the first 4 and the last 4, one cache of 8
    assert [c.name for c in exp.curves] == ["full attention", "window of 8", "first 4 + last 4", exp.with_sinks.name]
    ids = torch.tensor(exp.tokens.ids)
    alone = forward(model, exp.tokens, windowed(4, 4, rope_base=model.config.rope_base), keep_weights=False)
    torch.testing.assert_close(exp.equal_cache.losses, next_token_losses(alone.logits, ids), atol=1e-5, rtol=0)
    torch.testing.assert_close(exp.equal_cache.losses[:8], exp.full.losses[:8], atol=1e-4, rtol=0)  # nothing dropped
    assert not torch.allclose(exp.equal_cache.losses, exp.with_sinks.losses)  # a cache of 8, not 8 + 4
    assert exp.window_only.perplexity_from(8) > 2 * exp.equal_cache.perplexity_from(8)


def test_a_window_no_wider_than_the_sinks_has_no_equal_cache(model):
    exp = sink_experiment(model, PARAGRAPH, window=4, sinks=4)
    assert exp.equal_cache is None and len(exp.curves) == 3


def test_the_experiment_refuses_bad_settings(model):
    with pytest.raises(AttnvizInputError):
        sink_experiment(model, PARAGRAPH, window=0)
    with pytest.raises(AttnvizInputError):
        sink_experiment(model, PARAGRAPH, sinks=0)
    with pytest.raises(AttnvizInputError, match="at least 2 tokens"):
        sink_experiment(model, "Hi")


def test_the_even_spread_baseline_is_the_mean_of_one_over_each_rows_length():
    """A head spreading every row evenly, measured the way `sink_share` measures: the mean over rows 2 to T of 1/i."""
    from attnviz.decoder.sinks import even_first_share, sink_share

    for t in (2, 3, 6, 255):
        even = torch.tril(torch.ones(t, t))
        even = (even / even.sum(-1, keepdim=True))[None, None]  # (1, 1, T, T): row i spreads over its i tokens
        assert even_first_share(t) == pytest.approx(float(sink_share(even).mean()), abs=1e-6)
    assert even_first_share(2) == pytest.approx(0.5) and even_first_share(6) == pytest.approx(0.2900, abs=1e-4)
