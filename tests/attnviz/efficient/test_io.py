"""HBM traffic of standard attention and FlashAttention, against the paper's algorithms counted by hand."""

import math

import pytest

from attnviz.efficient.io import (
    fewer_from,
    fewer_from2,
    flash2_blocks,
    flash2_io,
    flash_blocks,
    flash_io,
    sram_numbers,
    standard_io,
)
from attnviz.errors import AttnvizInputError


def test_standard_attention_by_hand():
    # N = 8, d = 2. Step 1 reads Q, K (2·8·2 = 32) and writes S (64); step 2 reads S, writes P (64 + 64);
    # step 3 reads P, V (64 + 16) and writes O (16)
    io = standard_io(8, 2)
    assert [(p.reads, p.writes) for p in io.parts] == [(32, 64), (64, 64), (80, 16)]
    assert (io.reads, io.writes, io.total) == (176, 144, 320)
    assert io.total == 4 * 8 * 2 + 4 * 8 * 8  # Theorem 2's Θ(Nd + N²), exactly 4Nd + 4N²


def test_flash_attention_by_hand():
    # N = 8, d = 2, M = 16: B_c = ⌈16/8⌉ = 2, B_r = min(2, 2) = 2, T_c = ⌈8/2⌉ = 4
    io = flash_io(8, 2, 16)
    assert (io.block_rows, io.block_cols, io.outer_loops) == (2, 2, 4)
    # init writes O, ℓ, m: 16 + 8 + 8; K, V read once: 32; Q read 4×: 64; O read and written 4×: 64 + 64;
    # ℓ, m read and written 4×: 64 + 64
    assert io.writes == 32 + 64 + 64
    assert io.reads == 32 + 64 + 64 + 64
    assert io.total == 384 > standard_io(8, 2).total  # so short a sequence: more traffic than standard


def test_flash_ragged_blocks_by_hand():
    # N = 10, d = 3, M = 40: B_c = ⌈40/12⌉ = 4, B_r = min(4, 3) = 3, T_c = ⌈10/4⌉ = 3 (the last block holds 2)
    io = flash_io(10, 3, 40)
    assert (io.block_rows, io.block_cols, io.outer_loops) == (3, 4, 3)
    nd, n = 30, 10
    assert io.reads == 2 * nd + 3 * nd + 3 * nd + 3 * 2 * n
    assert io.writes == nd + 2 * n + 3 * nd + 3 * 2 * n


def test_flash_blocks_follow_the_paper():
    assert flash_blocks(64, sram_numbers(100)) == (64, 100)  # 100 KiB of float32: 25,600 numbers, ⌈25600/256⌉
    assert flash_blocks(32, 25_600) == (32, 200)
    assert flash_blocks(128, 512) == (1, 1)
    with pytest.raises(AttnvizInputError):
        flash_blocks(128, 511)  # not even one row each of Q, K, V and O


@pytest.mark.parametrize("d,kib", [(64, 100), (128, 100), (64, 16), (32, 192)])
def test_theorem_2_growth(d, kib):
    # for N ≫ M/d, FlashAttention's traffic is 3·N·d·T_c + O(Nd) ≈ 12·N²d²/M: the ratio tends to a constant
    m = sram_numbers(kib)
    n = 1 << 16
    io = flash_io(n, d, m)
    assert io.total / (n * n * d * d / m) == pytest.approx(12, rel=0.05)
    assert standard_io(n, d).total / (n * n) == pytest.approx(4, rel=0.01)
    # and the traffic falls as the fast memory grows
    assert flash_io(n, d, 2 * m).total < io.total


def test_fewer_from_is_where_the_totals_cross():
    for d in (2, 3, 8, 32, 64):
        for m in (4 * d, 8 * d, 64, 200, 1000, 25_600):
            if m < 4 * d:
                continue
            found = fewer_from(d, m)
            more = [n for n in range(1, 4000) if flash_io(n, d, m).total >= standard_io(n, d).total]
            if found is None:  # FlashAttention moves at least as much at some long N
                assert more and more[-1] > 2000, (d, m)
            else:  # fewer at found and after it, not just before it
                assert more[-1] == found - 1 if more else found == 1, (d, m)
    assert fewer_from(32, 25_600) == math.floor((2 * 32 + 6) / 4) + 1  # one block of keys: 4N > 2d + 6
    assert fewer_from(8, 200) is None  # B_c = 7 keys: 4·7 ≤ 3·8 + 4, although N = 6 to 7 move fewer


def test_bad_sizes_are_refused():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(AttnvizInputError):
            standard_io(bad, 4)
        with pytest.raises(AttnvizInputError):
            flash_io(8, bad, 64)
    with pytest.raises(AttnvizInputError):
        sram_numbers(0)


# FlashAttention-2's order (Dao, 2023, Algorithm 1): query blocks outside, Q read once, O and L written once


def test_flash2_by_hand():
    # N = 8, d = 2, M = 16: Algorithm 1's sizes turned round, B_r = ⌈16/8⌉ = 2 rows outside, B_c = min(2, 2) keys
    io = flash2_io(8, 2, 16)
    assert (io.block_rows, io.block_cols, io.outer_loops) == (2, 2, 4)  # T_r = 4 blocks of query rows
    # Q read once: 16; K and V read once per block of rows: 4 × 32; O written once: 16, the log-sum-exp: 8
    assert io.reads == 16 + 4 * 32
    assert io.writes == 16 + 8
    assert io.total == 168 < flash_io(8, 2, 16).total == 384


def test_flash2_reads_q_once_and_writes_o_once():
    # one block of query rows (T_r = 1): K and V are read once too, 4Td + T in all, below standard attention
    m = sram_numbers(100)  # 25,600 numbers: B_r = 200 rows at d = 32
    for n in (1, 8, 50, 200):
        io = flash2_io(n, 32, m)
        assert io.outer_loops == 1 and io.total == 4 * n * 32 + n < standard_io(n, 32).total
        assert io.total < flash_io(n, 32, m).total  # Algorithm 1 writes O, ℓ, m out and reads them back
    assert flash2_io(8, 32, m).total == 1032  # the default sentence: 8 tokens, d = 32


@pytest.mark.parametrize("d,kib", [(64, 100), (128, 100), (64, 16), (32, 192)])
def test_flash2_growth(d, kib):
    # for N ≫ M/d: K and V read T_r = ⌈N/B_r⌉ times, 2N²d/B_r ≈ 8·N²d²/M
    m = sram_numbers(kib)
    n = 1 << 16
    rows, _ = flash2_blocks(d, m)
    assert flash2_io(n, d, m).total / (2 * n * n * d / rows) == pytest.approx(1, rel=0.01)
    if rows == math.ceil(m / (4 * d)):
        assert flash2_io(n, d, m).total / (n * n * d * d / m) == pytest.approx(8, rel=0.05)


def test_fewer_from2_is_where_the_totals_cross():
    for d in (2, 3, 8, 32, 64):
        for m in (4 * d, 8 * d, 64, 200, 1000, 4096, 25_600):
            if m < 4 * d:
                continue
            found = fewer_from2(d, m)
            more = [n for n in range(1, 4000) if flash2_io(n, d, m).total >= standard_io(n, d).total]
            if found is None:
                assert more and more[-1] > 2000, (d, m)
            else:
                assert more[-1] == found - 1 if more else found == 1, (d, m)
    assert fewer_from2(32, 25_600) == 1  # fewer at every length with 100 KiB
    assert fewer_from2(64, 4096) is None  # 16 KiB at d = 64: blocks of 16 rows, K and V re-read too often
