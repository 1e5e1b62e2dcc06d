"""One head of the decoder seen from inside: its queries and keys before and after RoPE, and the heads it shares
its key/value head with; the model's KV cache per token.

Computed again from the hidden state that entered the layer (`Forward.hidden_states`), so a `Forward` does not keep
every layer's queries and keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.checks import whole_number
from attnviz.decoder.forward import Forward, rms_norm
from attnviz.decoder.gqa import CacheSize, cache_size, groups, kv_head_of
from attnviz.decoder.model import Model
from attnviz.decoder.rope import angles, frequencies, rotate


@dataclass(frozen=True, eq=False)
class RopeView:
    """One query head and its key/value head in one layer, before and after RoPE."""

    layer: int  # 0-based
    head: int  # the query head, 0-based
    kv_head: int  # the key/value head it reads (GQA)
    shares_with: tuple[int, ...]  # the query heads reading the same key/value head, this one included
    q_raw: Tensor  # (T, Dh) X̂·M_Q for this head, before RoPE
    k_raw: Tensor  # (T, Dh) X̂·M_K for its key/value head, before RoPE
    q: Tensor  # (T, Dh) after RoPE: what attention scores
    k: Tensor  # (T, Dh) after RoPE: what the cache keeps
    frequencies: Tensor  # (Dh/2,) θ_i, radians per position, pair i = dimensions (2i, 2i+1)
    angles: Tensor  # (T, Dh/2) position · θ_i

    @property
    def scores(self) -> Tensor:
        """(T, T) q·kᵀ after RoPE, unscaled and unmasked (the causal mask drops the upper triangle)."""
        return self.q @ self.k.T  # (T, T)


@torch.inference_mode()
def rope_view(model: Model, fwd: Forward, layer: int, head: int) -> RopeView:
    """One head's queries and keys before and after RoPE, from the hidden state entering ``layer``.

    Args:
        model: the model ``fwd`` came from.
        fwd: a `forward` result (from position 0).
        layer: 0 … L−1.
        head: the query head, 0 … H−1.
    """
    c = model.config
    whole_number(layer, "the layer", 0, c.n_layers - 1)
    whole_number(head, "the head", 0, c.n_heads - 1)
    w = model.layers[layer]
    kv = kv_head_of(c.n_heads, c.n_kv_heads)[head]
    x = rms_norm(fwd.hidden_states[layer], w.attn_norm, c.rms_norm_eps)  # (T, D)
    dh = c.head_dim
    q_raw = x @ w.w_q[:, head * dh : (head + 1) * dh]  # (T, Dh) this head's columns of M_Q
    k_raw = x @ w.w_k[:, kv * dh : (kv + 1) * dh]  # (T, Dh) its key/value head's columns of M_K
    positions = torch.arange(q_raw.shape[0], device=q_raw.device)  # (T,)
    return RopeView(
        layer=layer,
        head=head,
        kv_head=kv,
        shares_with=groups(c.n_heads, c.n_kv_heads)[kv],
        q_raw=q_raw,
        k_raw=k_raw,
        q=rotate(q_raw, positions, c.rope_base),  # (T, Dh)
        k=rotate(k_raw, positions, c.rope_base),  # (T, Dh)
        frequencies=frequencies(dh, c.rope_base, q_raw.device),  # (Dh/2,)
        angles=angles(positions, dh, c.rope_base),  # (T, Dh/2)
    )


def model_cache_size(model: Model, bytes_per_number: int = 4) -> CacheSize:
    """This model's KV cache per token (3 key/value heads) against 9 separate ones; float32 by default, as ours."""
    c = model.config
    return cache_size(c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, bytes_per_number)


__all__ = ["RopeView", "model_cache_size", "rope_view"]
