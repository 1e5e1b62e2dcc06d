"""Longformer: a sliding window of w neighbours plus a few global tokens, computed in banded chunks.

Beltagy, Peters, Cohan, "Longformer: The Long-Document Transformer" (2020). Token t attends to the keys
t − w/2 … t + w/2 and to every global token; a global token attends to, and is attended by, every token.

No T×S matrix is ever formed. The queries are cut into chunks of c consecutive tokens; the keys a chunk needs
are one contiguous run of c + w positions, which is a strided view of K (no copy). Per chunk:

    s = q_chunk·k_runᵀ·scale + triangles   (c × (c + w)), the triangles -inf outside the band
    g = q_chunk·k_globalᵀ·scale            (c × G)
    p = 2^(s − m), 2^(g − m)                m = 0 when |q|·|k| proves no score can overflow, else the row max
    O = (p·v_run + p_g·v_global) / Σp        one softmax over band and global keys

Global rows are ordinary exact attention over all keys, accumulated in the same pass with an online softmax
(as FlashAttention's), while each group's keys are in the cache. Time O(T·(c+w)·D), memory O(T·D) plus one
group of chunks.

Dilation d (the paper's dilated sliding window) spreads the window's keys d apart: t − d·w/2, …, t − d, t, t + d,
…, t + d·w/2. It goes through the same banded pass with a band d times as wide and the positions between the
dilated ones masked out: a simple path (the T×T mask is built), for pictures and short inputs; d = 1 is the
fast path above, untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import (
    as_mask_4d,
    check_qkv,
    positive_int,
    resolve_scale,
    weights_from_lse,
)
from attnviz.efficient.banded import banded_attention
from attnviz.efficient.registry import BenchRow, Fit, Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText
from attnviz.errors import AttnvizInputError


@dataclass(frozen=True, kw_only=True)
class LongformerAttention(Attention):
    """Longformer's result. ``weights`` (T×S, zero off the pattern) only with return_weights=True."""

    window: int  # w: each token sees w//2 neighbours on each side, itself included in the middle
    global_tokens: Tensor  # (G,) long, positions that attend everywhere and are attended by all
    logsumexp: Tensor  # (..., T) log of each row's softmax denominator
    dilation: int = 1  # d: the window's keys are d apart


def longformer_mask(
    t: int,
    window: int,
    global_tokens: Sequence[int] = (),
    device: torch.device | str | None = None,
    dilation: int = 1,
) -> Tensor:
    """The Longformer pattern as a picture, without attending through it.

    Args:
        dilation: d; the window's keys are t ± d·j for j = 0 … w//2 (1: the plain sliding window).
    Returns:
        (T, T) bool, True where token t (row) may attend to token s (column).
    """
    radius = window // 2
    dilation = positive_int(dilation, "the dilation")
    pos = torch.arange(t, device=device)
    gap = pos[:, None] - pos[None, :]  # (T, T)
    allowed = (gap.abs() <= radius * dilation) & (gap % dilation == 0)  # (T, T) the (dilated) band
    glob = _global_index(global_tokens, t, device)
    allowed[glob, :] = True  # global rows see everything
    allowed[:, glob] = True  # every row sees the global columns
    return allowed


def _global_index(global_tokens: Sequence[int] | Tensor, t: int, device: torch.device | str | None) -> Tensor:
    glob = torch.as_tensor(list(map(int, global_tokens)), dtype=torch.long)
    if glob.numel() and (glob.min() < 0 or glob.max() >= t):
        raise AttnvizInputError(f"global tokens must be positions 0..{t - 1}, got {glob.tolist()}")
    return glob.unique().to(device)  # sorted, each once


def longformer_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    window: int = 256,
    global_tokens: Sequence[int] = (),
    dilation: int = 1,
    chunk: int | None = None,
    return_weights: bool = False,
) -> LongformerAttention:
    """Sliding-window attention plus global tokens, exact on its pattern.

    Args:
        q: (..., T, D) queries.
        k: (..., T, D) keys (the same tokens: the window is defined on positions).
        v: (..., T, Dv) values.
        mask: bool broadcastable to (..., T, T), True where allowed; intersected with the pattern.
        scale: multiplies the scores; default 1/√D.
        window: w; token t sees t − w//2 … t + w//2.
        global_tokens: positions that attend to all tokens and that all tokens attend to ([CLS], a question).
        dilation: d; the window's keys are t ± d·j, j = 0 … w//2 (1: the plain window, the fast path; above 1
            a simple path that builds the T×T pattern, for short inputs).
        chunk: queries per chunk (a speed knob; the result does not depend on it).
        return_weights: also rebuild the T×S weights (zero off the pattern) for pictures, small T.
    Returns:
        LongformerAttention; output equals scaled_dot_product with mask = longformer_mask(...) & mask.
    """
    check_qkv(q, k, v, self_attention=True)
    if isinstance(window, bool) or int(window) != window or window < 0:
        raise AttnvizInputError(f"the window must be a whole number of at least 0, got {window!r}")
    scale = resolve_scale(scale, q.shape[-1])
    lead, t = q.shape[:-2], q.shape[-2]
    if mask is not None:
        mask = as_mask_4d(mask, lead)
    glob = _global_index(global_tokens, t, q.device)  # (G,)
    radius = int(window) // 2
    dilation = positive_int(dilation, "the dilation")

    if dilation == 1:
        # every row: its band and the global keys; global rows: every key
        output, lse = banded_attention(
            q, k, v, left=radius, right=radius, scale=scale, mask=mask, shared=glob, chunk=chunk
        )
    else:
        # a band d times as wide, the positions between the dilated ones masked out (the global rows and
        # columns stay allowed: the mask also reaches the global keys and the global rows)
        between = longformer_mask(t, window, glob.tolist(), q.device, dilation)  # (T, T)
        reach = radius * dilation
        band_mask = between if mask is None else between & mask
        output, lse = banded_attention(
            q, k, v, left=reach, right=reach, scale=scale, mask=band_mask, shared=glob, chunk=chunk
        )

    weights = None
    if return_weights:
        allowed = longformer_mask(t, window, glob.tolist(), q.device, dilation)
        weights = weights_from_lse(q, k, lse, scale, allowed if mask is None else allowed & mask)
    return LongformerAttention(
        output=output,
        weights=weights,
        scale=scale,
        window=int(window),
        global_tokens=glob,
        logsumexp=lse,
        dilation=dilation,
    )


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _longformer_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    g = fit.cut(int(knobs["globals"]), "Global tokens")
    return {"window": int(knobs["window"]), "global_tokens": tuple(range(g)), "dilation": int(knobs["dilation"])}


def _longformer_pattern(q: Tensor, kwargs: Mapping[str, object]) -> Tensor:
    window, dilation = int(kwargs["window"]), int(kwargs.get("dilation", 1))  # type: ignore[call-overload]
    return longformer_mask(q.shape[-2], window, kwargs["global_tokens"], dilation=dilation)  # type: ignore[arg-type]


def longformer_flops(n: int, heads: int, d: int) -> float:
    """The window of 256 (and its 2 global tokens, not counted) of the timed case."""
    return 4.0 * n * min(256, n) * d * heads


SPEC = VariantSpec(
    name="longformer",
    fn=longformer_attention,
    kind="pattern",
    text=VariantText(
        title="Longformer",
        paper="Beltagy et al., 2020",
        knobs={
            "window": KnobText(
                label="Window w",
                help="Each token sees itself and (w − 1)/2 window positions on each side.",
            ),
            "globals": KnobText(
                label="Global tokens (from the start)",
                help=(
                    "The first g tokens see every token and every token sees them. With the real model the first is "
                    "[CLS]; with GloVe it is your first word."
                ),
            ),
            "dilation": KnobText(
                label="Dilation d",
                help="The window's positions are d apart: t ± d, t ± 2d, … (1: the plain sliding window).",
            ),
        },
        formula=(
            r"\text{token } t \text{ sees } s \iff \big(|t-s| \le d\,\tfrac{w-1}{2} \;\land\; d \mid t-s\big) \;\lor\; "
            r"t \in G \;\lor\; s \in G"
        ),
        time="O(T·(w + g)·D)",
        memory="O(T·(w + g))",
        keeps_exact="exact softmax on its pattern: (dilated) window plus global tokens",
        costs="every weight outside the window (unless global)",
        choose_when="long documents where most links are local (with a few global tokens for the task)",
    ),
    knobs=(
        Knob("window", (1, 3, 5, 7, 9, 13, 17, 25, 33), 3),
        Knob("globals", (0, 1, 2, 3, 4), 1),
        Knob("dilation", (1, 2, 3, 4), 1),
    ),
    to_kwargs=_longformer_kwargs,
    pattern=_longformer_pattern,
    swept="window",
    page_part="app_support.efficient.efficient_longformer",
    bench=(BenchRow("", lambda t, heads: {"window": 256, "global_tokens": (0, 1)}),),
    cases={
        "longformer": TimingCase(
            make=lambda q, k, v: lambda: longformer_attention(q, k, v, window=256, global_tokens=(0, 1)),
            flops=longformer_flops,
            setting="w=256, 2 global tokens",
            growth=("T", "T"),
            label="Longformer (ours)",
        )
    },
)
