"""Rotary position embedding: RoPE (Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding",
2021, Section 3.4.2, eq. 34), as the Llama architecture applies it to every head's queries and keys in every layer.

A head's query or key (Dh = 64 numbers) is read as Dh/2 pairs (x_2i, x_2i+1), each a point in a plane. At position
m, pair i turns by the angle m·θ_i, with θ_i = base^(−2i/Dh) (base 100,000 for SmolLM2):

    x'_2i   = x_2i · cos(m·θ_i) − x_2i+1 · sin(m·θ_i)
    x'_2i+1 = x_2i · sin(m·θ_i) + x_2i+1 · cos(m·θ_i)

Pair 0 turns by one radian per position, the last pair by base^(−(Dh−2)/Dh) radians (about 1.4e-5 here). Nothing is
added to the token vectors: positions enter only through these turns, inside attention. A query turned by m·θ_i and
a key turned by n·θ_i meet at the angle (m − n)·θ_i, so their score q'·k' depends on the distance m − n and not on
where the two tokens stand (the paper's eq. 16): `shift_invariance` measures it.

We rotate adjacent pairs, the paper's layout and llama.cpp's, because the GGUF file stores each head's rows that way
(`attnviz.decoder.model`); transformers' "rotate half" pairs dimension i with i + Dh/2 after un-permuting the rows,
the same rotation on the same pairs in another order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.errors import AttnvizInputError


def frequencies(head_dim: int, base: float, device: torch.device | str | None = None) -> Tensor:
    """θ_i = base^(−2i/Dh) for i = 0 … Dh/2 − 1, radians per position.

    Returns:
        (Dh/2,) float32, computed as transformers' Llama does (1 / base^(2i/Dh)), so the angles agree to the bit.
    """
    if head_dim % 2:
        raise ValueError(f"RoPE turns pairs of dimensions; a head width of {head_dim} is odd")
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64, device=device).float() / head_dim  # (Dh/2,)
    return 1.0 / (base**exponents)  # (Dh/2,)


def angles(positions: Tensor, head_dim: int, base: float) -> Tensor:
    """m·θ_i for each position m and pair i.

    Args:
        positions: (T,) whole numbers.
    Returns:
        (T, Dh/2) float32 radians.
    """
    theta = frequencies(head_dim, base, positions.device)  # (Dh/2,)
    return positions.float()[:, None] * theta[None, :]  # (T, Dh/2)


@dataclass(frozen=True, eq=False)
class Turns:
    """cos and sin of every angle m·θ_i for a run of positions: computed once per pass, used by every layer."""

    cos: Tensor  # (T, Dh/2)
    sin: Tensor  # (T, Dh/2)

    @property
    def unit(self) -> Tensor:
        """(T, Dh/2) complex64 cos + i·sin = e^(i·m·θ_i), for `turn_complex`."""
        return torch.complex(self.cos, self.sin)  # (T, Dh/2)


def turns(positions: Tensor, head_dim: int, base: float) -> Turns:
    """cos(m·θ_i) and sin(m·θ_i) for each position m of ``positions`` (T,) and pair i."""
    a = angles(positions, head_dim, base)  # (T, Dh/2)
    return Turns(cos=a.cos(), sin=a.sin())


def turn(x: Tensor, t: Turns) -> Tensor:
    """Turn each pair (x_2i, x_2i+1) of every vector by its angle: the rotation itself.

    Args:
        x: (..., T, Dh) queries or keys of one or more heads.
        t: `turns` for the T positions.
    Returns:
        (..., T, Dh) the rotated vectors; lengths are unchanged.
    """
    pairs = x.unflatten(-1, (-1, 2))  # (..., T, Dh/2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]  # (..., T, Dh/2) each: the two coordinates of every pair
    turned_even = even * t.cos - odd * t.sin  # (..., T, Dh/2)
    turned_odd = odd * t.cos + even * t.sin  # (..., T, Dh/2)
    return torch.stack((turned_even, turned_odd), dim=-1).flatten(-2)  # (..., T, Dh)


def turn_complex(x: Tensor, unit: Tensor) -> Tensor:
    """`turn` written as RoFormer's complex form (Su et al., Section 3.4.1; Llama's own code does the same): read each
    pair (x_2i, x_2i+1) as the complex number x_2i + i·x_2i+1 and multiply it by e^(i·m·θ_i).

    (a + ib)(cos + i·sin) = (a·cos − b·sin) + i(a·sin + b·cos): the two lines of `turn`, in one kernel instead of six
    (0.07 ms against 0.39 ms for one layer's queries at 256 tokens, 1 thread); equal to `turn` to float rounding
    (tests/attnviz/decoder/test_rope.py). The forward pass uses it; the pages show `turn`.

    Args:
        x: (..., T, Dh) float32, its last axis contiguous (as `split_heads` leaves it).
        unit: (T, Dh/2) complex64, `Turns.unit`.
    Returns:
        (..., T, Dh) the rotated vectors, contiguous.
    """
    pairs = x.unflatten(-1, (-1, 2))  # (..., T, Dh/2, 2)
    if pairs.stride(-1) != 1 or any(st % 2 for st in pairs.stride()[:-1]) or pairs.storage_offset() % 2:
        pairs = pairs.contiguous()  # view_as_complex needs each pair side by side, at an even offset
    turned = torch.view_as_complex(pairs) * unit  # (..., T, Dh/2) complex
    return torch.view_as_real(turned).flatten(-2)  # (..., T, Dh)


def rotate(x: Tensor, positions: Tensor, base: float) -> Tensor:
    """Turn each pair (x_2i, x_2i+1) of every vector by its position's angle m·θ_i.

    Args:
        x: (..., T, Dh) queries or keys of one or more heads.
        positions: (T,) the position of each of the T vectors.
        base: the RoPE base.
    Returns:
        (..., T, Dh) the rotated vectors; lengths are unchanged.
    """
    return turn(x, turns(positions, x.shape[-1], base))  # (..., T, Dh)


def rotary_score(q: Tensor, k: Tensor, pos_q: int, pos_k: int, base: float) -> float:
    """q·k after turning q to position ``pos_q`` and k to ``pos_k`` (unscaled, as Q·Kᵀ).

    Args:
        q: (Dh,) a query before RoPE.
        k: (Dh,) a key before RoPE.
    """
    dev = q.device
    q_turned = rotate(q[None, :], torch.tensor([pos_q], device=dev), base)[0]  # (Dh,)
    k_turned = rotate(k[None, :], torch.tensor([pos_k], device=dev), base)[0]  # (Dh,)
    return float(q_turned @ k_turned)


@dataclass(frozen=True)
class ShiftCheck:
    """One query/key pair scored at its own positions and again with both moved by the same amount."""

    pos_q: int  # the query's position
    pos_k: int  # the key's position
    shifts: tuple[int, ...]  # amounts both were moved by (0 first)
    scores: tuple[float, ...]  # q'·k' at (pos_q + s, pos_k + s) for each shift s
    unmoved_q: tuple[float, ...]  # q'·k' with the key moved by s and the query left where it was (a control)

    @property
    def distance(self) -> int:
        return self.pos_q - self.pos_k

    @property
    def max_difference(self) -> float:
        """Largest |score(shifted) − score(unshifted)|: float rounding only (exact arithmetic gives 0)."""
        return max(abs(s - self.scores[0]) for s in self.scores)


def shift_invariance(q: Tensor, k: Tensor, pos_q: int, pos_k: int, shifts: Sequence[int], base: float) -> ShiftCheck:
    """Score one query and one key at their positions, then with both moved by each shift; as a control, with only
    the key moved (which changes the distance, and so the score).

    Args:
        q: (Dh,) a query before RoPE (e.g. `attnviz.decoder.views.rope_view`'s ``q_raw[t]``).
        k: (Dh,) a key before RoPE.
        pos_q, pos_k: positions, 0 or more.
        shifts: amounts to move by, each ≥ −min(pos_q, pos_k) so no position goes below 0.
        base: the RoPE base.
    """
    moves = (0, *(int(s) for s in shifts if int(s) != 0))
    if min(pos_q, pos_k) + min(moves) < 0:
        raise AttnvizInputError("a shift would move a token before position 0")
    scores = tuple(rotary_score(q, k, pos_q + s, pos_k + s, base) for s in moves)
    control = tuple(rotary_score(q, k, pos_q, pos_k + s, base) for s in moves if pos_k + s >= 0)
    return ShiftCheck(pos_q=pos_q, pos_k=pos_k, shifts=moves, scores=scores, unmoved_q=control)


__all__ = [
    "ShiftCheck",
    "Turns",
    "angles",
    "frequencies",
    "rotary_score",
    "rotate",
    "shift_invariance",
    "turn",
    "turn_complex",
    "turns",
]
