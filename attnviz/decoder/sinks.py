"""Attention sinks and the StreamingLLM experiment (Xiao et al., "Efficient Streaming Language Models with Attention
Sinks", 2023; ICLR 2024).

The observation (their Section 3.1): in most layers many heads give a large share of every row's weight to the first
token or few, whatever those tokens say: softmax must put each row's weight somewhere, and the first tokens, which
every later token can see, take what is not needed elsewhere. `sink_share` measures that share per head.

The experiment (Section 3.2, Figure 1): attend only to the last w tokens ("window attention", a rolling KV cache of
w entries) and next-token loss rises sharply once the first tokens fall out of the window; keep the first k tokens
(k = 4 in the paper) and the loss comes back close to full attention. The paper compares equal caches (Table 1,
Section 3.1: 0 + 1024, the window alone, against 4 + 1020, four first tokens in the place of four recent ones);
keeping the four beside a window of w instead gives the model w + 4 tokens, 4 more than the window alone.
`sink_experiment` measures all of these on a text, as next-token loss (perplexity = exp of the mean loss).

Each variant is one pass with a mask, not a rolling cache, and gives the same numbers: a window key's score depends
only on its distance to the query (RoPE), and that distance is the same in the text and in the cache. The sink keys
are the exception: StreamingLLM assigns positions within the cache, not those of the original text (Section 3.2),
so a sink j stands k + w − 1 − j positions before the query, not i − j. With ``cache_positions`` (the default)
`windowed` scores the sink keys with the query turned back to its place in the cache; without, at the distance in the
text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, scaled_dot_product
from attnviz.checks import whole_number
from attnviz.decoder.forward import Forward, forward
from attnviz.decoder.model import Model
from attnviz.decoder.rope import rotate
from attnviz.decoder.tokens import MAX_TOKENS, Tokens
from attnviz.errors import AttnvizInputError

PAPER_SINKS = 4  # the first tokens StreamingLLM keeps (Xiao et al., Section 3.2)
MAX_SINKS = 16


def window_mask(t: int, s: int, window: int, sinks: int = 0, device: torch.device | str | None = None) -> Tensor:
    """Causal attention to the last ``window`` tokens (the query itself included), plus the first ``sinks`` tokens.

    The T queries are the last T of the S positions (as `attnviz.attention.causal_mask` aligns them).

    Returns:
        (T, S) bool, True where attention is allowed.
    """
    rows = torch.arange(s - t, s, device=device)[:, None]  # (T, 1) each query's position
    cols = torch.arange(s, device=device)[None, :]  # (1, S)
    causal = cols <= rows  # (T, S)
    recent = rows - cols < window  # (T, S)
    return causal & (recent | (cols < sinks))  # (T, S)


def windowed(
    window: int, sinks: int = 0, *, rope_base: float | None = None, cache_positions: bool = True
) -> AttentionFn:
    """An `AttentionFn` for every layer: exact attention under `window_mask` (and any mask the caller passes).

    Args:
        window: tokens each query sees, itself included; 1 or more.
        sinks: first tokens always kept (0: window alone).
        rope_base: the model's RoPE base; needed to score the sinks at their cache positions.
        cache_positions: score each sink at its distance inside a rolling cache of sinks + window (StreamingLLM),
            rather than at its distance in the text. Needs ``rope_base``.
    """
    whole_number(window, "the window", 1)
    whole_number(sinks, "the number of sink tokens", 0, MAX_SINKS)
    renumber = bool(sinks) and cache_positions
    if renumber and rope_base is None:
        raise ValueError("scoring the sinks at their cache positions needs the RoPE base")

    def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: float | None = None) -> Attention:
        t, s = q.shape[-2], k.shape[-2]
        allowed = window_mask(t, s, window, sinks, q.device)  # (T, S)
        allowed = allowed if mask is None else allowed & mask
        if not renumber:
            return scaled_dot_product(q, k, v, mask=allowed, scale=scale)
        scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
        # 1. scores at the distances in the text: right for every key of the window
        scores = q @ k.transpose(-2, -1)  # (..., T, S)
        # 2. the sinks: in the cache a query stands at most sinks + window − 1, so turn it back by the rest
        positions = torch.arange(s - t, s, device=q.device)  # (T,)
        back = (positions - (sinks + window - 1)).clamp(min=0)  # (T,) 0 until a token has been dropped
        q_in_cache = rotate(q, -back, rope_base)  # (..., T, Dh) R(m)·R(−b) = R(m − b)
        n = min(sinks, s)
        scores[..., :n] = q_in_cache @ k[..., :n, :].transpose(-2, -1)  # (..., T, n)
        # 3. scale, mask, softmax, mix: as the exact path
        scaled = (scores * scale).masked_fill(~allowed, float("-inf"))  # (..., T, S)
        weights = torch.nan_to_num(torch.softmax(scaled, dim=-1), nan=0.0)  # (..., T, S)
        return Attention(output=weights @ v, scores=scores, scaled=scaled, weights=weights, scale=scale)

    return attend


def even_first_share(n_tokens: int) -> float:
    """What a head that spread each row's weight evenly would give the first token, as the mean over rows 2 to T
    that `sink_share` reports: row i (1-based) sees i tokens, so 1/i each: (1/(T−1)) · Σ_{i=2..T} 1/i. The baseline
    a measured share is read against (short texts give the first token a large share whatever the heads do)."""
    t = whole_number(n_tokens, "the number of tokens", 2)
    return sum(1.0 / i for i in range(2, t + 1)) / (t - 1)


def sink_share(weights: Tensor, first: int = 1) -> Tensor:
    """The share of each row's weight on the first ``first`` tokens, averaged over the rows after them.

    Args:
        weights: (L, H, T, T) causal attention weights (`Forward.weights`), or (H, T, T).
        first: how many first tokens count as the sink.
    Returns:
        (L, H) or (H,): mean over rows first … T−1 of Σ_{j<first} weights[row, j]; rows before can see only the
        first tokens, so they would count 1 whatever the head does. NaN when the text has no such row.
    """
    rows = weights[..., first:, :first]  # (..., T−first, first)
    if rows.shape[-2] == 0:
        return torch.full(weights.shape[:-2], float("nan"), device=weights.device)
    return rows.sum(dim=-1).mean(dim=-1)  # (L, H)


@dataclass(frozen=True, eq=False)
class LossCurve:
    """Next-token loss at every position of a text under one kind of attention."""

    name: str  # e.g. "window of 32 + 4 sinks"
    losses: Tensor  # (T−1,) −ln p(token t+1 | the tokens it may see), nats

    @property
    def perplexity(self) -> float:
        """exp(mean loss) over all T − 1 predictions."""
        return float(self.losses.mean().exp())

    def perplexity_from(self, start: int) -> float:
        """exp(mean loss) over the predictions made at positions ``start`` … T−2; NaN when there are none."""
        part = self.losses[start:]
        return float(part.mean().exp()) if part.numel() else float("nan")


@dataclass(frozen=True, eq=False)
class SinkExperiment:
    """Full attention, a sliding window alone, the paper's equal cache (the first tokens and a shorter window) and
    the same window keeping the first tokens besides, on one text."""

    tokens: Tokens
    window: int  # tokens each query sees, itself included
    sinks: int  # first tokens kept beside the window
    cache_positions: bool  # sinks scored at their positions in a rolling cache (StreamingLLM) or in the text
    full: LossCurve
    window_only: LossCurve
    equal_cache: LossCurve | None  # the first `sinks` + the last window − sinks (Table 1); None if window ≤ sinks
    with_sinks: LossCurve  # the window of `window` + the first `sinks`: a cache of window + sinks

    @property
    def first_dropped(self) -> int | None:
        """The first position whose prediction the window alone makes without token 0; None if the text fits."""
        return self.window if len(self.tokens) - 1 > self.window else None

    @property
    def curves(self) -> tuple[LossCurve, ...]:
        """Full, window alone, equal cache (when measured), window + first tokens."""
        middle = () if self.equal_cache is None else (self.equal_cache,)
        return (self.full, self.window_only, *middle, self.with_sinks)


def next_token_losses(logits: Tensor, ids: Tensor) -> Tensor:
    """−ln p(ids[t+1]) under logits[t], for t = 0 … T−2.

    Args:
        logits: (T, V).
        ids: (T,).
    Returns:
        (T−1,) in nats.
    """
    logp = torch.log_softmax(logits[:-1].float(), dim=-1)  # (T−1, V)
    return -logp.gather(-1, ids[1:, None]).squeeze(-1)  # (T−1,)


@torch.inference_mode()
def sink_experiment(
    model: Model,
    tokens_or_text: Tokens | str,
    window: int = 32,
    sinks: int = PAPER_SINKS,
    *,
    cache_positions: bool = True,
    full: Forward | None = None,
    max_tokens: int = MAX_TOKENS,
) -> SinkExperiment:
    """Next-token loss over a text with full attention, a window alone, the first tokens in the place of as many of the
    window's (the same cache: StreamingLLM's Table 1), and the window plus the first tokens.

    Args:
        model: from `load_model`.
        tokens_or_text: the text (at least 2 tokens; read up to ``max_tokens``).
        window: 1 to ``max_tokens``; the text must be longer than it for the window to drop anything.
        sinks: 1 to `MAX_SINKS` first tokens kept.
        cache_positions: see `windowed`.
        full: the text's `forward` with all logits, if already computed (saves one pass).
        max_tokens: the most tokens read; default `MAX_TOKENS`.
    Returns:
        SinkExperiment (four passes of the whole model, three with the full pass given; one fewer when the window is
        not wider than ``sinks``).
    """
    whole_number(window, "the window", 1, max_tokens)
    whole_number(sinks, "the number of sink tokens", 1, MAX_SINKS)
    if full is None:
        full = forward(model, tokens_or_text, keep_weights=False, max_tokens=max_tokens)
    tokens = full.tokens
    if len(tokens) < 2 or full.logits.shape[0] != len(tokens):
        raise AttnvizInputError("next-token loss needs a text of at least 2 tokens and the logits at every position")
    ids = torch.tensor(tokens.ids, dtype=torch.long, device=model.device)  # (T,)
    base = model.config.rope_base

    def curve(name: str, attend: AttentionFn | None) -> LossCurve:
        if attend is None:
            return LossCurve(name=name, losses=next_token_losses(full.logits, ids))  # (T−1,)
        logits = forward(model, tokens, attend, keep_weights=False, max_tokens=max_tokens).logits  # (T, V)
        return LossCurve(name=name, losses=next_token_losses(logits, ids))  # (T−1,)

    return SinkExperiment(
        tokens=tokens,
        window=window,
        sinks=sinks,
        cache_positions=cache_positions,
        full=curve("full attention", None),
        window_only=curve(f"window of {window}", windowed(window)),
        # StreamingLLM (Xiao et al., 2023) Table 1, Section 3.1: 4 + 1020 against 0 + 1024, one cache size
        equal_cache=None
        if window <= sinks
        else curve(
            f"first {sinks} + last {window - sinks}",
            windowed(window - sinks, sinks, rope_base=base, cache_positions=cache_positions),
        ),
        with_sinks=curve(
            f"window of {window} + {sinks} first tokens",
            windowed(window, sinks, rope_base=base, cache_positions=cache_positions),
        ),
    )


__all__ = [
    "MAX_SINKS",
    "PAPER_SINKS",
    "LossCurve",
    "SinkExperiment",
    "even_first_share",
    "next_token_losses",
    "sink_experiment",
    "sink_share",
    "window_mask",
    "windowed",
]
