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

Dao, "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning" (2023), Algorithm 1 (the
forward pass), turns the loops round; `attnviz.efficient.flash`, the page's tile walk and the Triton kernel
(`flash_triton`) use this order:

    FlashAttention-2, with blocks of B_r query rows (outer loop) and B_c keys (inner loop)
        for each of the T_r = ⌈N/B_r⌉ blocks of query rows (outer loop):
            read Q_i once (over all i: Nd); O_i, ℓ_i, m_i start on chip
            for each of the T_c blocks of keys (inner loop): read K_j and V_j (over all j: 2Nd)
            divide O_i by ℓ_i once; write O_i and the log-sum-exp L_i = m_i + log ℓ_i (over all i: Nd + N)
       in all 2Nd + N + T_r·2Nd

FlashAttention-2 leaves B_r and B_c to the kernel (the paper tunes them by head width and shared memory).
To compare the two orders on the same fast memory, `flash2_blocks` turns Algorithm 1's sizes round: the outer
loop's blocks ⌈M/4d⌉ long, the inner loop's at most d, so that both keep tiles of the same size on chip.

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
        "FlashAttention, Algorithm 1 (2022)",
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


def flash2_blocks(d: int, m: int) -> tuple[int, int]:
    """(B_r, B_c) for FlashAttention-2's order: Algorithm 1's sizes turned round, the outer loop's blocks of query
    rows ⌈M/4d⌉ long, the inner loop's blocks of keys min(⌈M/4d⌉, d)."""
    inner, outer = flash_blocks(d, m)
    return outer, inner


def flash2_io(n: int, d: int, m: int) -> Traffic:
    """FlashAttention-2's forward pass (Dao, 2023, Algorithm 1) for N tokens, width d and M numbers of fast memory.

    Q is read once, O and the log-sum-exp are written once; K and V are read once per block of query rows (T_r
    times).
    """
    n = _positive(n, "the length N")
    rows, cols = flash2_blocks(d, m)
    outer = math.ceil(n / rows)  # T_r
    return Traffic(
        "FlashAttention-2 (2023)",
        (
            Transfer("read Q (once)", n * d, 0),
            Transfer(f"read K, V ({outer}×)", outer * 2 * n * d, 0),
            Transfer("write O and the log-sum-exp (once)", 0, n * d + n),
        ),
        block_rows=rows,
        block_cols=cols,
        outer_loops=outer,
    )


def _fewer_from(d: int, fixed: int, per_block: int, block: int) -> int | None:
    """The N from which on an algorithm that moves N·(fixed + per_block·⌈N/block⌉) numbers moves fewer than
    standard attention's N·(4d + 4N), at that N and every longer one; None if it does not stay below.

    It moves fewer exactly when 4N > fixed + per_block·⌈N/block⌉ − 4d. Within a block the left side grows and the
    right does not, so the N that fail are the first ones of a block; from block to block the first N that passes
    moves by per_block/4 − block, towards the start of its block when 4·block > per_block (rounding aside), and the
    last block where some N fails decides. With 4·block < per_block the ends of the blocks fail for good, and with
    4·block = per_block every block fails where the first does.
    """
    if 4 * block < per_block:
        return None
    last_fail, outer = 0, 1
    while True:
        first = (fixed + per_block * outer - 4 * d) // 4 + 1  # the smallest N with 4N > fixed + per_block·T − 4d
        lo, hi = (outer - 1) * block + 1, outer * block  # the N whose block count is ``outer``
        if first <= lo:
            return last_fail + 1
        if 4 * block == per_block:  # first − lo is the same in every block: it fails in each
            return None
        last_fail = min(first - 1, hi)
        outer += 1


def fewer_from(d: int, m: int) -> int | None:
    """The N from which on FlashAttention (Algorithm 1, 2022) moves fewer numbers than standard attention (at that
    N and every longer one); None if it does not stay below for long sequences.

    Per token, standard attention moves 4d + 4N numbers and Algorithm 1 3d + 2 + T_c·(3d + 4), with T_c = ⌈N/B_c⌉.
    """
    d = _positive(d, "the width d")
    _, cols = flash_blocks(d, m)
    return _fewer_from(d, 3 * d + 2, 3 * d + 4, cols)


def fewer_from2(d: int, m: int) -> int | None:
    """The same for FlashAttention-2's order (`flash2_io`): per token 2d + 1 + T_r·2d, with T_r = ⌈N/B_r⌉."""
    d = _positive(d, "the width d")
    rows, _ = flash2_blocks(d, m)
    return _fewer_from(d, 2 * d + 1, 2 * d, rows)
