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
positions enter only through RoPE. The attention is `attnviz.attention.scaled_dot_product` unless another
`AttentionFn` is given; it gets q (H, T, Dh), k and v (H, S, Dh) with each group's key/value head handed to its
query heads (`attnviz.decoder.gqa.expand_kv`), and the causal mask (T, S).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from attnviz.attention import AttentionFn, causal_mask, merge_heads, scaled_dot_product, split_heads
from attnviz.decoder.gqa import expand_kv
from attnviz.decoder.model import Model
from attnviz.decoder.rope import Turns, turn, turns
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
        """(L, H, T, S) every layer's attention weights, stacked (a copy: keep it rather than ask again)."""
        return None if self.layer_weights is None else torch.stack(self.layer_weights)


@dataclass(frozen=True, eq=False)
class Forward:
    """A text through the whole decoder.

    At 256 tokens it keeps about 71 MB of attention weights, 18 MB of hidden states, 50 MB of logits and 12 MB of
    cache; pages keep host copies of what they show. Like transformers' ``output_attentions``, the weights are kept
    layer by layer; `weights` stacks them.
    """

    tokens: Tokens
    hidden_states: Tensor  # (L+1, T, D)
    layer_weights: tuple[Tensor, ...] | None  # L of (H, T, T) every head's causal attention; upper triangle 0
    logits: Tensor  # (T, V) row t scores the token after t; (1, V) when only the last row was asked for
    cache: KVCache  # L of (Hkv, T, Dh) keys and values, ready for generation

    @property
    def weights(self) -> Tensor | None:
        """(L, H, T, T) every head's attention weights, stacked (a copy: keep it rather than ask again)."""
        return None if self.layer_weights is None else torch.stack(self.layer_weights)

    @property
    def next_logits(self) -> Tensor:
        """(V,) the scores for the token after the text."""
        return self.logits[-1]


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


def _attention(
    model: Model, index: int, x: Tensor, rope: Turns, mask: Tensor, cache: KVCache | None, attend: AttentionFn
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    c, w = model.config, model.layers[index]
    h = rms_norm(x, w.attn_norm, c.rms_norm_eps)  # (T, D)
    # 1. projections: 9 query heads, but only 3 key/value heads
    q = split_heads(h @ w.w_q, c.n_heads)  # (H, T, Dh)
    k = split_heads(h @ w.w_k, c.n_kv_heads)  # (Hkv, T, Dh)
    v = split_heads(h @ w.w_v, c.n_kv_heads)  # (Hkv, T, Dh)
    # 2. positions: turn every pair of dimensions of q and k by its angle (values are not turned)
    q = turn(q, rope)  # (H, T, Dh)
    k = turn(k, rope)  # (Hkv, T, Dh)
    # 3. the cache: the keys and values of earlier tokens, as they were computed then
    if cache is not None and cache.length:
        k = torch.cat((cache.layer_keys[index], k), dim=1)  # (Hkv, S, Dh)
        v = torch.cat((cache.layer_values[index], v), dim=1)  # (Hkv, S, Dh)
    # 4. attention per query head, each reading its group's key/value head, under the causal mask (T, S)
    heads = attend(q, expand_kv(k, c.n_heads), expand_kv(v, c.n_heads), mask=mask)  # weights (H, T, S)
    out = merge_heads(heads.output) @ w.w_o  # (T, D)
    return out, k, v, heads.weights


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
        attend: the attention function of every layer; default the exact `scaled_dot_product`.
        keep_weights: keep every layer's (H, T, S) weights.
        all_logits: logits for every new token (next-token loss needs them) or only the last (generation).
    Returns:
        Pass, on the model's device (inference tensors).
    """
    attend = scaled_dot_product if attend is None else attend
    start = 0 if cache is None else cache.length
    _check_ids(model, ids, start)
    positions = torch.arange(start, start + ids.numel(), device=model.device)  # (T,)
    rope = turns(positions, model.config.head_dim, model.config.rope_base)  # cos, sin (T, Dh/2) for every layer
    mask = causal_mask(ids.numel(), start + ids.numel(), device=model.device)  # (T, S)
    x = model.token_embedding[ids.to(model.device)]  # (T, D) no position vector: RoPE does that inside attention
    states, keys, values, weights = [x], [], [], []
    for i in range(model.config.n_layers):
        attn, k, v, w = _attention(model, i, x, rope, mask, cache, attend)
        x = x + attn  # (T, D) residual
        x = x + _feed_forward(model, i, x)  # (T, D) residual
        states.append(x)
        keys.append(k)
        values.append(v)
        weights.append(w if keep_weights else None)  # dropped at once when not kept
    last = x if all_logits else x[-1:]  # (T, D) or (1, D)
    logits = rms_norm(last, model.output_norm, model.config.rms_norm_eps) @ model.lm_head  # (T, V)
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


__all__ = ["Forward", "KVCache", "Pass", "forward", "read_tokens", "rms_norm", "run"]
