"""The decoder's forward pass, ours, with every layer's attention through the course's attention function.

One layer of the Llama architecture (Touvron et al., "LLaMA: Open and Efficient Foundation Language Models", 2023,
Section 2.2: pre-normalisation with RMSNorm, SwiGLU, rotary positions), at positions p … p + T − 1 after p cached
tokens:

    X̂ = RMSNorm(X)                                  Zhang & Sennrich, 2019: X / √(mean(X²) + ε) · gain
    Q, K, V = X̂·M_Q, X̂·M_K, X̂·M_V                   9 query heads, 3 key/value heads, each 64 wide
    Q, K = RoPE(Q), RoPE(K)                          each pair of dimensions turned by its position's angle
    K, V = [cached K; K], [cached V; V]              the KV cache: earlier tokens' keys and values, kept (S = p + T)
    O_h = softmax(Q_h·K_g(h)ᵀ/√64 + causal mask)·V_g(h)   query head h reads key/value head g(h) = h // 3 (GQA)
    X = X + [O_1 … O_9]·W_O
    X = X + (SiLU(X̂'·W_gate) ⊙ X̂'·W_up)·W_down     X̂' = RMSNorm(X); SwiGLU (Shazeer, "GLU Variants", 2020)

then logits = RMSNorm(X)·E ᵀ, E the token embedding (the file ties the two). There is no position vector anywhere:
positions enter only through RoPE.

The attention of every layer is, by default, `grouped_attention`: the course's formula
softmax(Q·Kᵀ/√Dh + M)·V (`attnviz.attention.scaled_dot_product`, equal to 1e-6), written for a decoder that keeps
its maps: the causal mask M is a bias of 0 and −∞ built once per pass, and the three query heads of a group are
stacked against their one key/value head, so that head is read, not copied three times. When the maps are not kept,
the field's fused kernel does the same sum (`torch.nn.functional.scaled_dot_product_attention`, with GQA), as
transformers' "sdpa" does. Another `AttentionFn` can be given instead: it gets q (H, T, Dh), k and v (H, S, Dh)
with each group's key/value head handed to its query heads (`attnviz.decoder.gqa.expand_kv`), and the causal mask
(T, S).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from attnviz.attention import AttentionFn, causal_mask, merge_heads, split_heads
from attnviz.decoder.gqa import expand_kv
from attnviz.decoder.model import Model
from attnviz.decoder.rope import Turns, turn, turn_complex, turns
from attnviz.decoder.tokens import MAX_TOKENS, Tokens, encode
from attnviz.errors import AttnvizInputError, EmptyTextError, TooManyTokensError


@dataclass(frozen=True, eq=False)
class KVCache:
    """Every layer's keys (after RoPE) and values for the tokens read so far: what generation does not recompute."""

    layer_keys: tuple[Tensor, ...]  # L of (Hkv, S, Dh)
    layer_values: tuple[Tensor, ...]  # L of (Hkv, S, Dh)

    @property
    def length(self) -> int:
        """S, the tokens cached."""
        return int(self.layer_keys[0].shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes the cache holds: 2 × L × Hkv × S × Dh × 4 for float32."""
        return sum(t.numel() * t.element_size() for t in (*self.layer_keys, *self.layer_values))

    @property
    def keys(self) -> Tensor:
        """(L, Hkv, S, Dh) every layer's keys, stacked (a copy: keep it rather than ask again)."""
        return torch.stack(self.layer_keys)

    @property
    def values(self) -> Tensor:
        """(L, Hkv, S, Dh) every layer's values, stacked (a copy)."""
        return torch.stack(self.layer_values)


@dataclass(frozen=True, eq=False)
class Pass:
    """What one call of `run` computed for T new tokens after S − T cached ones."""

    start: int  # the first new token's position (the cache's length before the call)
    hidden_states: Tensor  # (L+1, T, D) [0] the token embeddings, [i] the output of layer i−1 (before the last norm)
    layer_weights: tuple[Tensor, ...] | None  # L of (H, T, S); None when not kept or not built by the variant
    logits: Tensor  # (T, V), or (1, V) for the last token only
    cache: KVCache  # S tokens: the old cache and the new tokens

    @property
    def weights(self) -> Tensor | None:
        """(L, H, T, S) every layer's attention weights: stacked on the first call only (`stack_once`)."""
        return stack_once(self)


@dataclass(frozen=True, eq=False)
class Forward:
    """A text through the whole decoder.

    At 256 tokens it keeps about 71 MB of attention weights, 18 MB of hidden states, 50 MB of logits and 12 MB of
    cache; pages keep host copies of what they show. Like transformers' ``output_attentions``, the weights are kept
    layer by layer; `weights` stacks them once, on the first call.
    """

    tokens: Tokens
    hidden_states: Tensor  # (L+1, T, D)
    layer_weights: tuple[Tensor, ...] | None  # L of (H, T, T) every head's causal attention; upper triangle 0
    logits: Tensor  # (T, V) row t scores the token after t; (1, V) when only the last row was asked for
    cache: KVCache  # L of (Hkv, T, Dh) keys and values, ready for generation

    @property
    def weights(self) -> Tensor | None:
        """(L, H, T, T) every head's attention weights: stacked on the first call only (`stack_once`)."""
        return stack_once(self)

    @property
    def next_logits(self) -> Tensor:
        """(V,) the scores for the token after the text."""
        return self.logits[-1]


def stack_once(result: Pass | Forward) -> Tensor | None:
    """(L, H, T, S) a pass's maps, stacked on the first call; its ``layer_weights`` then become views of the stack.

    The pass keeps each layer's maps as attention made them, as transformers does: allocating one (L, H, T, S) tensor
    up front and writing into it cost 40–50 ms more per 256-token pass here (bench/RESULTS-lessons.md, 2026-12-08).
    Stacking on every call copied 71 MB each time at 256 tokens; now the copy is made once, and the layers' own
    tensors are released (held only by views), so the maps are never kept twice. Two threads asking at the same
    moment may both stack; each gets the same numbers, and the last one's stack is kept.
    """
    layers = result.layer_weights
    if layers is None:
        return None
    stacked = getattr(result, "_stacked", None)
    if stacked is None:
        stacked = torch.stack(layers)  # (L, H, T, S)
        object.__setattr__(result, "_stacked", stacked)  # frozen dataclasses: set once, never changed
        object.__setattr__(result, "layer_weights", tuple(stacked.unbind(0)))  # L of (H, T, S) views of it
    return stacked


def rms_norm(x: Tensor, gain: Tensor, eps: float) -> Tensor:
    """RMSNorm (Zhang & Sennrich, "Root Mean Square Layer Normalization", 2019): no mean subtracted, no bias.

    Args:
        x: (..., D).
        gain: (D,).
    Returns:
        (..., D) x / √(mean(x²) + eps) · gain.
    """
    mean_square = x.pow(2).mean(-1, keepdim=True)  # (..., 1)
    return gain * (x * torch.rsqrt(mean_square + eps))  # (..., D)


def causal_bias(t: int, s: int, device: torch.device | str | None = None) -> Tensor:
    """The causal mask as a bias added to the scaled scores: 0 where a query may look, −∞ where it may not.

    Returns:
        (T, S) float32; the T queries are the last T of the S positions (as `attnviz.attention.causal_mask`).
    """
    allowed = causal_mask(t, s, device=device)  # (T, S) bool
    return torch.zeros(t, s, device=device).masked_fill_(~allowed, float("-inf"))  # (T, S)


def grouped_attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """softmax(Q·Kᵀ/√Dh + M)·V for every query head, each group of query heads against its shared key/value head.

    The course's `scaled_dot_product` with the mask as a bias (`causal_bias`, built once per pass) and no NaN rows to
    clear (every causal row sees at least its own token); equal to it to 1e-6 (tests/attnviz/decoder).

    Args:
        q: (H, T, Dh) queries after RoPE; heads g·G … g·G + G − 1 read key/value head g (G = H / Hkv).
        k: (Hkv, S, Dh) keys after RoPE, the cache's first.
        v: (Hkv, S, Dh) values.
        bias: (T, S) 0 or −∞.
    Returns:
        output (H, T, Dh) and weights (H, T, S), upper triangle exactly 0.
    """
    h, t, dh = q.shape
    hkv, s = k.shape[0], k.shape[1]
    group = h // hkv
    q_grouped = q.reshape(hkv, group * t, dh)  # (Hkv, G·T, Dh) the G query heads of a group, one under another
    bias_grouped = bias.repeat(group, 1)  # (G·T, S)
    # 1–2. scores of every query against every key of its group's head, scaled by 1/√Dh, the mask added
    scaled = torch.baddbmm(bias_grouped, q_grouped, k.transpose(1, 2), alpha=1.0 / math.sqrt(dh))  # (Hkv, G·T, S)
    # 3. softmax along each row: −∞ becomes exactly 0
    weights = torch.softmax(scaled, dim=-1)  # (Hkv, G·T, S)
    # 4. mix the values of the group's head
    output = torch.bmm(weights, v)  # (Hkv, G·T, Dh)
    return output.view(h, t, dh), weights.view(h, t, s)  # (H, T, Dh), (H, T, S)


def _fused_attention(q: Tensor, k: Tensor, v: Tensor, start: int) -> Tensor:
    """The same sum by PyTorch's fused kernel, when no map is kept: (H, T, Dh).

    With a batch axis: given 3-D tensors, torch 2.13 on this CPU takes a slower path (5.5 ms against 1.9 ms per layer
    at 256 tokens, bench/RESULTS-lessons.md).
    """
    t, s = q.shape[1], k.shape[1]
    causal = start == 0 and t > 1  # from position 0: the kernel's own causal mask
    mask = None if causal or t == 1 else causal_mask(t, s, device=q.device)  # (T, S); one new token sees every key
    out = F.scaled_dot_product_attention(
        q[None], k[None], v[None], attn_mask=mask, is_causal=causal, enable_gqa=True
    )  # (1, H, T, Dh)
    return out[0]  # (H, T, Dh)


def _turner(rope: Turns) -> Callable[[Tensor], Tensor]:
    """RoPE for one pass: the complex form (one kernel) where the device has complex numbers, else `turn`."""
    if rope.cos.device.type == "mps":
        return lambda x: turn(x, rope)  # (..., T, Dh)
    unit = rope.unit  # (T, Dh/2) complex, once per pass
    return lambda x: turn_complex(x, unit)  # (..., T, Dh)


@dataclass(frozen=True, eq=False)
class _Mode:
    """How a pass runs each layer's attention (chosen once in `run`)."""

    attend: AttentionFn | None  # a variant, through the general interface; None for our own
    keep: bool  # keep the maps
    mask: Tensor  # (T, S) bool, for a variant
    bias: Tensor | None  # (T, S) 0/−∞, for `grouped_attention`
    start: int
    turn: Callable[[Tensor], Tensor]  # RoPE for these positions: (..., T, Dh) → (..., T, Dh)


def _attention(
    model: Model, index: int, x: Tensor, cache: KVCache | None, mode: _Mode
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    c, w = model.config, model.layers[index]
    h = rms_norm(x, w.attn_norm, c.rms_norm_eps)  # (T, D)
    # 1. projections: 9 query heads, but only 3 key/value heads
    q = split_heads(h @ w.w_q, c.n_heads)  # (H, T, Dh)
    k = split_heads(h @ w.w_k, c.n_kv_heads)  # (Hkv, T, Dh)
    v = split_heads(h @ w.w_v, c.n_kv_heads)  # (Hkv, T, Dh)
    # 2. positions: turn every pair of dimensions of q and k by its angle (values are not turned)
    q = mode.turn(q)  # (H, T, Dh)
    k = mode.turn(k)  # (Hkv, T, Dh)
    # 3. the cache: the keys and values of earlier tokens, as they were computed then
    if cache is not None and cache.length:
        k = torch.cat((cache.layer_keys[index], k), dim=1)  # (Hkv, S, Dh)
        v = torch.cat((cache.layer_values[index], v), dim=1)  # (Hkv, S, Dh)
    else:
        v = v.contiguous()  # (Hkv, S, Dh) as the cache keeps it
    # 4. attention per query head, each reading its group's key/value head, under the causal mask (T, S)
    weights = None
    if mode.attend is not None:
        heads = mode.attend(q, expand_kv(k, c.n_heads), expand_kv(v, c.n_heads), mask=mode.mask)  # (H, T, S)
        output, weights = heads.output, heads.weights  # (H, T, Dh), (H, T, S) or None
    elif mode.keep:
        output, weights = grouped_attention(q, k, v, mode.bias)  # (H, T, Dh), (H, T, S)
    else:
        output = _fused_attention(q, k, v, mode.start)  # (H, T, Dh)
    return merge_heads(output) @ w.w_o, k, v, weights  # (T, D)


def _feed_forward(model: Model, index: int, x: Tensor) -> Tensor:
    w = model.layers[index]
    h = rms_norm(x, w.ffn_norm, model.config.rms_norm_eps)  # (T, D)
    return (F.silu(h @ w.w_gate) * (h @ w.w_up)) @ w.w_down  # (T, D) SwiGLU


def _check_ids(model: Model, ids: Tensor, start: int) -> None:
    if ids.ndim != 1 or ids.numel() == 0:
        raise EmptyTextError("there is no token to read: the text is empty")
    if start + ids.numel() > model.config.max_positions:
        raise TooManyTokensError(
            f"the model was trained on {model.config.max_positions} positions; {start + ids.numel()} asked for"
        )
    if int(ids.min()) < 0 or int(ids.max()) >= model.config.vocab_size:
        raise AttnvizInputError("these tokens do not come from this model's vocabulary")


@torch.inference_mode()
def run(
    model: Model,
    ids: Tensor,
    cache: KVCache | None = None,
    attend: AttentionFn | None = None,
    *,
    keep_weights: bool = True,
    all_logits: bool = True,
) -> Pass:
    """Read T new tokens after the cached ones: the one pass that `forward` and `generate` both use.

    Args:
        model: from `load_model`.
        ids: (T,) token ids, at positions S₀ … S₀ + T − 1 where S₀ is the cache's length (0 without a cache).
        cache: the keys and values of the tokens before, from an earlier pass; None to start from position 0.
        attend: the attention function of every layer; default our exact `grouped_attention` (the fused kernel
            when the maps are not kept).
        keep_weights: keep every layer's (H, T, S) weights.
        all_logits: logits for every new token (next-token loss needs them) or only the last (generation).
    Returns:
        Pass, on the model's device (inference tensors).
    """
    c = model.config
    start = 0 if cache is None else cache.length
    _check_ids(model, ids, start)
    t, s = ids.numel(), start + ids.numel()
    positions = torch.arange(start, s, device=model.device)  # (T,)
    rope = turns(positions, c.head_dim, c.rope_base)  # cos, sin (T, Dh/2) for every layer
    own = attend is None and keep_weights
    mode = _Mode(
        attend=attend,
        keep=keep_weights,
        mask=causal_mask(t, s, device=model.device),  # (T, S)
        bias=causal_bias(t, s, device=model.device) if own else None,  # (T, S)
        start=start,
        turn=_turner(rope),
    )
    x = model.token_embedding[ids.to(model.device)]  # (T, D) no position vector: RoPE does that inside attention
    states, keys, values, weights = [x], [], [], []
    for i in range(c.n_layers):
        attn, k, v, w = _attention(model, i, x, cache, mode)
        x = x + attn  # (T, D) residual
        x = x + _feed_forward(model, i, x)  # (T, D) residual
        states.append(x)
        keys.append(k)
        values.append(v)
        weights.append(w if keep_weights else None)  # dropped at once when not kept
    last = x if all_logits else x[-1:]  # (T, D) or (1, D)
    logits = rms_norm(last, model.output_norm, c.rms_norm_eps) @ model.lm_head  # (T, V)
    kept = all(w is not None for w in weights)  # False when not asked for or the variant builds none
    return Pass(
        start=start,
        hidden_states=torch.stack(states),  # (L+1, T, D)
        layer_weights=tuple(weights) if kept else None,  # L of (H, T, S)
        logits=logits,
        cache=KVCache(layer_keys=tuple(keys), layer_values=tuple(values)),  # L of (Hkv, S, Dh) each
    )


def read_tokens(model: Model, tokens_or_text: Tokens | str, max_tokens: int = MAX_TOKENS) -> Tokens:
    """`encode` a text, or check given Tokens: 1 to ``max_tokens`` of them, else a clear error."""
    tokens = encode(model, tokens_or_text, max_tokens) if isinstance(tokens_or_text, str) else tokens_or_text
    if not isinstance(tokens, Tokens):
        raise AttnvizInputError(f"expected a text or Tokens, got {type(tokens_or_text).__name__}")
    if tokens.is_empty:
        raise EmptyTextError("The text is empty: type at least one word for the model to read.")
    if len(tokens) > max_tokens:
        raise TooManyTokensError(f"the model reads at most {max_tokens} tokens here, got {len(tokens)}")
    return tokens


def forward(
    model: Model,
    tokens_or_text: Tokens | str,
    attend: AttentionFn | None = None,
    *,
    keep_weights: bool = True,
    all_logits: bool = True,
    max_tokens: int = MAX_TOKENS,
) -> Forward:
    """Run the whole decoder on a text, from position 0.

    Args:
        model: from `load_model`.
        tokens_or_text: the text (read up to ``max_tokens`` tokens) or its `encode` result.
        attend: the attention function for every head of every layer (see `run`).
        keep_weights: keep the (L, H, T, T) attention weights.
        all_logits: logits at every position (for next-token loss), or only after the last token.
        max_tokens: the most tokens read; default `MAX_TOKENS`.
    Returns:
        Forward, its tensors on the model's device (inference tensors: read them, ``.clone()`` to edit).
    """
    tokens = read_tokens(model, tokens_or_text, max_tokens)
    ids = torch.tensor(tokens.ids, dtype=torch.long, device=model.device)  # (T,)
    p = run(model, ids, None, attend, keep_weights=keep_weights, all_logits=all_logits)
    return Forward(tokens, hidden_states=p.hidden_states, layer_weights=p.layer_weights, logits=p.logits, cache=p.cache)


__all__ = [
    "Forward",
    "KVCache",
    "Pass",
    "causal_bias",
    "forward",
    "grouped_attention",
    "read_tokens",
    "rms_norm",
    "run",
    "stack_once",
]
