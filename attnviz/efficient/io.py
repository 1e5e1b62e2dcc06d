"""How many numbers standard attention and FlashAttention move between slow and fast memory.

Dao, Fu, Ermon, Rudra, Ré, "FlashAttention" (2022), Section 3.2. A GPU keeps Q, K, V and O in its large, slow
high-bandwidth memory (HBM); arithmetic happens in a small fast on-chip memory (SRAM) of M numbers per
streaming multiprocessor. The paper counts HBM accesses, element by element, of two algorithms:

    Algorithm 0, standard attention (N tokens, width d)
        1. read Q and K (2Nd), compute S = QKᵀ, write S (N²)
        2. read S (N²), compute P = softmax(S), write P (N²)
        3. read P and V (N² + Nd), compute O = PV, write O (Nd)
       in all 4Nd + 4N² = Θ(Nd + N²) (Theorem 2)

    Algorithm 1, FlashAttention, with blocks B_c = ⌈M/4d⌉ keys and B_r = min(⌈M/4d⌉, d) query rows
        write O = 0, ℓ = 0, m = −∞ to HBM (Nd + 2N)
        for each of the T_c = ⌈N/B_c⌉ blocks of keys (outer loop):
            read K_j and V_j once (over all j: 2Nd)
            for each of the T_r = ⌈N/B_r⌉ blocks of query rows (inner loop):
                read Q_i, O_i, ℓ_i, m_i, compute the tile, write O_i, ℓ_i, m_i back
            (over all i: read Nd + Nd + 2N, write Nd + 2N)
       in all 2Nd + T_c·(3Nd + 4N) + Nd + 2N = Θ(N²d²/M) for d ≤ M ≤ Nd (Theorem 2)

The counts below are those of the algorithms as written, exactly, not only their order of growth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from attnviz.errors import AttnvizInputError


@dataclass(frozen=True)
class Transfer:
    """One line of an algorithm's traffic: what is read from and written to HBM, in numbers (elements)."""

    what: str
    reads: int
    writes: int


@dataclass(frozen=True)
class Traffic:
    """Every HBM read and write of one attention pass, line by line."""

    algorithm: str
    parts: tuple[Transfer, ...]
    block_rows: int | None = None  # B_r (FlashAttention only)
    block_cols: int | None = None  # B_c
    outer_loops: int | None = None  # T_c: how often Q, O, ℓ and m go back and forth

    @property
    def reads(self) -> int:
        return sum(p.reads for p in self.parts)

    @property
    def writes(self) -> int:
        return sum(p.writes for p in self.parts)

    @property
    def total(self) -> int:
        return self.reads + self.writes


def _positive(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AttnvizInputError(f"{what} must be a whole number of at least 1, not {value!r}")
    return value


def sram_numbers(kib: float, bytes_per_number: int = 4) -> int:
    """How many numbers (float32 by default) fit in ``kib`` KiB of fast memory: the paper's M."""
    if not kib > 0:
        raise AttnvizInputError(f"the fast memory must be larger than 0 KiB, not {kib!r}")
    return int(kib * 1024) // bytes_per_number


def standard_io(n: int, d: int) -> Traffic:
    """Algorithm 0 of the paper: S and P are written to HBM and read back. 4Nd + 4N² numbers."""
    n, d = _positive(n, "the length N"), _positive(d, "the width d")
    return Traffic(
        "standard attention (Algorithm 0)",
        (
            Transfer("read Q, K; write S = QKᵀ", 2 * n * d, n * n),
            Transfer("read S; write P = softmax(S)", n * n, n * n),
            Transfer("read P, V; write O = PV", n * n + n * d, n * d),
        ),
    )


def flash_blocks(d: int, m: int) -> tuple[int, int]:
    """(B_r, B_c): the paper's block sizes for width d and M numbers of fast memory."""
    d, m = _positive(d, "the width d"), _positive(m, "the fast memory M")
    if m < 4 * d:
        raise AttnvizInputError(f"{m} numbers of fast memory cannot hold one row each of Q, K, V and O (4·{d})")
    cols = math.ceil(m / (4 * d))
    return min(cols, d), cols


def flash_io(n: int, d: int, m: int) -> Traffic:
    """Algorithm 1 of the paper (the forward pass) for N tokens, width d and M numbers of fast memory.

    K and V are read once; Q, O, ℓ and m make a round trip once per block of keys (T_c times).
    """
    n = _positive(n, "the length N")
    rows, cols = flash_blocks(d, m)
    outer = math.ceil(n / cols)  # T_c
    return Traffic(
        "FlashAttention (Algorithm 1)",
        (
            Transfer("write O = 0, ℓ = 0, m = −∞", 0, n * d + 2 * n),
            Transfer("read K, V (once)", 2 * n * d, 0),
            Transfer(f"read Q ({outer}×)", outer * n * d, 0),
            Transfer(f"read and write O ({outer}×)", outer * n * d, outer * n * d),
            Transfer(f"read and write ℓ, m ({outer}×)", outer * 2 * n, outer * 2 * n),
        ),
        block_rows=rows,
        block_cols=cols,
        outer_loops=outer,
    )


def fewer_from(d: int, m: int) -> int | None:
    """The N from which on FlashAttention moves fewer numbers than standard attention (at that N and every longer
    one); None if it does not stay below for long sequences.

    Per token, standard attention moves 4d + 4N numbers and FlashAttention 3d + 2 + T_c·(3d + 4), with
    T_c = ⌈N/B_c⌉, so FlashAttention moves fewer exactly when 4N > T_c·(3d + 4) − d + 2. Long sequences satisfy it
    only if 4·B_c > 3d + 4; then, block of keys after block, the first N that satisfies it moves towards the start
    of its block (by B_c − (3d + 4)/4 per block, rounding aside), and the last block where some N fails decides.
    """
    d = _positive(d, "the width d")
    _, cols = flash_blocks(d, m)
    if 4 * cols <= 3 * d + 4:
        return None
    last_fail, outer = 0, 1
    while True:
        first = (outer * (3 * d + 4) - d + 2) // 4 + 1  # the smallest N with 4N > T_c·(3d + 4) − d + 2
        lo, hi = (outer - 1) * cols + 1, outer * cols  # the N whose T_c is ``outer``
        if first <= lo:
            return last_fail + 1
        last_fail = min(first - 1, hi)
        outer += 1
