"""Angular locality-sensitive hashing, the first step of Reformer's attention (`attnviz.efficient.reformer`).

Kitaev, Kaiser, Levskaya, "Reformer: The Efficient Transformer" (2020), the angular scheme of Andoni et al. (2015):
bucket(x) = argmax([x·R ; −x·R]) for a random rotation R (D × n_buckets/2), so that vectors pointing the same way
tend to share a bucket. The rotated tokens are made a block of rows at a time (HASH_BLOCK), so extra memory grows
like T; the buckets are bit for bit those of hashing everything at once.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from attnviz.efficient._common import generator, positive_int
from attnviz.errors import AttnvizInputError

# at most this many rotated numbers (rows × n_buckets/2, over rounds and heads) exist at once while hashing
HASH_BLOCK = 1 << 20


def lsh_settings(t: int, n_buckets: int, n_rounds: int, chunk_size: int | None) -> tuple[int, int, int]:
    """The number of buckets, of rounds and the chunk size for T tokens, checked (AttnvizInputError)."""
    n_buckets = positive_int(n_buckets, "the number of buckets")
    if n_buckets > 1 and n_buckets % 2:
        raise AttnvizInputError(f"the number of buckets must be 1 or even (buckets come as ±x·R), got {n_buckets}")
    n_rounds = positive_int(n_rounds, "the number of hashing rounds")
    # by default a chunk holds about two buckets' worth of tokens, as in the paper
    chunk = min(t, -(-2 * t // n_buckets)) if chunk_size is None else positive_int(chunk_size, "chunk_size")
    return n_buckets, n_rounds, max(1, min(chunk, t))


def lsh_buckets(x: Tensor, n_buckets: int, n_rounds: int = 1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Angular locality-sensitive hashing of every vector, once per round.

    Args:
        x: (..., T, D)
        n_buckets: 1 (everything in bucket 0) or an even number.
    Returns:
        buckets (R, ..., T) long, and rotations (R, D, n_buckets/2).
    """
    n_buckets, n_rounds, _ = lsh_settings(x.shape[-2], n_buckets, n_rounds, 1)
    lead, t, d = x.shape[:-2], x.shape[-2], x.shape[-1]
    half = n_buckets // 2
    rotations = torch.randn(n_rounds, d, half, generator=generator(seed)).to(x.device, x.dtype)
    buckets = torch.zeros(n_rounds, *lead, t, dtype=torch.long, device=x.device)  # (R, ..., T)
    if n_buckets == 1:
        return buckets, rotations
    # the rotated tokens of all rows at once would be R·N·T·nb/2 numbers, T² when nb grows like T: hash the
    # rows in blocks instead, so that extra memory grows like T; each row's buckets are the same either way
    rows = max(1, HASH_BLOCK // max(1, n_rounds * math.prod(lead) * half))
    for start in range(0, t, rows):
        block = slice(start, start + rows)
        rotated = torch.einsum("...td,rdb->r...tb", x[..., block, :], rotations)  # (R, ..., rows, nb/2)
        # argmax over [x·R ; −x·R] without building it: the largest x·R, or the smallest, negated; a tie goes
        # to the first half, as argmax gives the first of equal values
        top, top_at = rotated.max(dim=-1)  # (R, ..., rows) each
        low, low_at = rotated.min(dim=-1)  # (R, ..., rows) each
        buckets[..., block] = torch.where(top >= -low, top_at, low_at + half)
    return buckets, rotations
