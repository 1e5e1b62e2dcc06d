"""attnviz.efficient.flex: SDPA with one backend forced, and FlexAttention on Longformer's, BigBird's, the Sparse
Transformer's and the causal pattern, checked against our readable implementations (eager FlexAttention: no
compile, so the tests stay fast)."""

import pytest
import torch
import torch.nn.functional as F

from attnviz import scaling
from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import flex
from attnviz.efficient.bigbird import bigbird_attention, bigbird_mask
from attnviz.efficient.longformer import longformer_attention, longformer_mask
from attnviz.efficient.sparse import sparse_attention, sparse_mask

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # eager FlexAttention warns that it is slow


def _qkv(t: int, heads: int = 2, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, heads, t, d, generator=g) for _ in range(3))  # (1, H, T, Dh) each


def test_cpu_backends_found_at_run_time():
    found = flex.sdpa_backends("cpu")
    assert "math" in found and set(found) <= set(flex.BACKENDS)
    assert found == tuple(b for b in flex.BACKENDS if b in found)  # in BACKENDS' order


@pytest.mark.parametrize("backend", flex.sdpa_backends("cpu"))
def test_sdpa_backend_equals_exact_attention(backend):
    q, k, v = _qkv(200)
    out = flex.sdpa_with(backend)(q, k, v)  # (1, H, T, Dh)
    assert out.shape == q.shape
    torch.testing.assert_close(out, scaled_dot_product(q, k, v).output, atol=1e-5, rtol=1e-5)


def test_sdpa_backend_is_really_forced():
    """The math path is a different computation from the fused kernel: its operator shows in the profile."""
    from torch.profiler import profile

    q, _, _ = _qkv(64)
    with profile() as prof:
        flex.sdpa_with("math")(q, q, q)
    names = {e.name for e in prof.events()}
    assert "aten::_scaled_dot_product_attention_math" in names
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" not in names


@pytest.mark.parametrize("t", [384, 300])  # whole blocks of 128, and a part block at the end
@pytest.mark.parametrize(("window", "glob"), [(64, (0, 1)), (64, (0, 1, 200)), (256, ())])
def test_flex_longformer_equals_ours(t, window, glob):
    q, k, v = _qkv(t)
    mask = flex.longformer_block_mask(t, window, glob)
    out = flex.flex(q, k, v, mask, compiled=False)  # (1, H, T, Dh)
    ours = longformer_attention(q, k, v, window=window, global_tokens=glob).output
    torch.testing.assert_close(out, ours, atol=1e-5, rtol=1e-5)
    full = scaled_dot_product(q, k, v).output
    assert (out - full).abs().max() > 1e-2  # the pattern really leaves keys out


def test_flex_longformer_mask_is_ours():
    t, window, glob = 300, 64, (0, 1, 200)
    mask = flex.longformer_block_mask(t, window, glob)
    dense = mask.to_dense()[0, 0]  # (T/128, T/128) blocks computed
    ours = longformer_mask(t, window, glob)  # (T, T)
    nb = dense.shape[-1]
    for i in range(nb):
        for j in range(nb):
            needed = bool(ours[i * 128 : (i + 1) * 128, j * 128 : (j + 1) * 128].any())
            assert needed <= bool(dense[i, j])  # every block the pattern touches is computed
    pos = torch.arange(t)
    allowed = mask.mask_mod(0, 0, pos[:, None], pos[None, :])  # (T, T)
    assert torch.equal(allowed, ours)


def test_flex_longformer_mask_skips_blocks():
    """At 4,096 tokens with w = 256 only the band's blocks (and the global row and column) are computed."""
    mask = flex.longformer_block_mask(4096, 256, (0, 1))
    counts = mask.kv_num_blocks[0, 0]  # (32,) key blocks per query block
    assert counts[0] == 32  # the block holding the global rows sees every key block
    assert int(counts[1:].max()) == 4  # its neighbours ±128 span 3 blocks, plus the global tokens' block 0
    assert mask.kv_indices.numel() == 32 * 32  # built from block indices: (T/128)², never T²


@pytest.mark.parametrize("t", [256, 300])
def test_flex_causal_equals_exact_causal(t):
    q, k, v = _qkv(t, seed=1)
    out = flex.flex(q, k, v, flex.causal_block_mask(t), compiled=False)  # (1, H, T, Dh)
    exact = scaled_dot_product(q, k, v, mask=causal_mask(t)).output
    torch.testing.assert_close(out, exact, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5, rtol=1e-5)


def test_new_cases_are_registered():
    new = {*scaling.SDPA_CASES, *scaling.FLEX_CASES}
    assert {"flex-bigbird", "flex-sparse-strided", "flex-sparse-fixed"} <= set(scaling.FLEX_CASES)
    assert new <= set(scaling.cases())
    assert set(scaling.SDPA_CASES.values()) == set(flex.BACKENDS)
    assert scaling.timing()["sdpa-math"].growth == ("T²", "T²") and scaling.timing()["sdpa-flash"].growth == ("T²", "T")
    assert scaling.timing()["flex-longformer"].growth == scaling.timing()["longformer"].growth == ("T", "T")
    assert scaling.nominal_flops("flex-longformer", 4096) == scaling.nominal_flops("longformer", 4096)
    assert scaling.nominal_flops("flex-causal", 1024) == scaling.nominal_flops("sdpa-math", 1024) / 2
    assert "sdpa" in scaling.cases()  # old links (l6c_cases=sdpa) keep working


def test_sdpa_backend_cases_time_in_a_fresh_process():
    for case in ("sdpa-flash", "sdpa-math"):
        r = scaling.run_case({"task": "time", "name": case, "n": 256, "device": "cpu", "quick": True})
        assert r["median_s"] > 0 and r["gflop"] == pytest.approx(scaling.nominal_flops(case, 256) / 1e9)


def test_unavailable_backend_fails_clearly():
    """On the CPU the memory-efficient kernel does not exist: its case reports an error, never a number."""
    if "efficient" in flex.sdpa_backends("cpu"):
        pytest.skip("this PyTorch runs the memory-efficient kernel on the CPU")
    r = scaling.run_case({"task": "time", "name": "sdpa-efficient", "n": 256, "device": "cpu", "quick": True})
    assert "error" in r and "median_s" not in r


def test_longformer_block_share():
    assert flex.longformer_block_share(256) == 1.0  # two blocks, both within ±128 of each other
    # 4,096 tokens, 32 blocks: block 0 (the global rows) sees all 32; blocks 1 and 31 see 3 (block 0 is in the
    # band of block 1), blocks 2…30 see 3 band blocks plus block 0
    expected = (32 + 3 + 29 * 4 + 3) / 32**2
    assert flex.longformer_block_share(4096) == pytest.approx(expected)
    shares = [flex.longformer_block_share(n) for n in (512, 1024, 2048, 4096, 8192)]
    assert shares == sorted(shares, reverse=True) and shares[-1] < 0.1


def _pooled(pattern: torch.Tensor) -> torch.Tensor:
    """(T, T) bool → (T/128, T/128): does the 128×128 block hold an allowed pair."""
    t = pattern.shape[-1]
    nb = -(-t // flex.BLOCK)
    pad = nb * flex.BLOCK - t
    padded = F.pad(pattern, (0, pad, 0, pad))  # (nb·128, nb·128)
    return padded.view(nb, flex.BLOCK, nb, flex.BLOCK).any(3).any(1)


def _check_mask(block_mask, ours: torch.Tensor) -> None:
    """The BlockMask computes exactly the blocks our pattern touches, and its mask function is our pattern."""
    t = ours.shape[-1]
    assert torch.equal(block_mask.to_dense()[0, 0].bool(), _pooled(ours))  # no block missing, none needless
    if block_mask.full_kv_num_blocks is not None:  # blocks computed without the mask: every pair allowed there
        full = torch.zeros_like(_pooled(ours))  # (T/128, T/128)
        for i, (n, row) in enumerate(
            zip(block_mask.full_kv_num_blocks[0, 0], block_mask.full_kv_indices[0, 0], strict=True)
        ):
            full[i, row[:n]] = True
        assert not (full & _pooled(~ours)).any()  # no block skipping the mask holds a pair the pattern leaves out
    pos = torch.arange(t)
    assert torch.equal(block_mask.mask_mod(0, 0, pos[:, None], pos[None, :]), ours)  # (T, T)


SPARSE = [  # (T, pattern, stride, summary, causal): strides and blocks that do not divide T
    (300, "strided", 17, 1, True), (300, "strided", 17, 1, False), (200, "strided", 150, 1, True),
    (300, "fixed", 17, 2, True), (300, "fixed", 17, 2, False), (260, "fixed", 130, 3, True),
    (64, "strided", 8, 1, True),
]  # fmt: skip


@pytest.mark.parametrize(("t", "pattern", "stride", "summary", "causal"), SPARSE)
def test_flex_sparse_equals_ours(t, pattern, stride, summary, causal):
    q, k, v = _qkv(t, seed=2)
    knobs = {"pattern": pattern, "stride": stride, "summary": summary, "causal": causal}
    mask = flex.sparse_block_mask(t, **knobs)
    _check_mask(mask, sparse_mask(t, **knobs))
    out = flex.flex(q, k, v, mask, compiled=False)  # (1, H, T, Dh)
    torch.testing.assert_close(out, sparse_attention(q, k, v, **knobs).output, atol=1e-5, rtol=1e-5)


def test_flex_sparse_block_layout_everywhere():
    """The block lists, worked out from each block's edges, against our pattern for many settings (no attention)."""
    for t in (127, 300, 520):
        for pattern in ("strided", "fixed"):
            for stride in (1, 8, 17, 130):
                for summary in (1, 4):
                    for causal in (True, False):
                        knobs = {"pattern": pattern, "stride": stride, "summary": summary, "causal": causal}
                        dense = flex.sparse_block_mask(t, **knobs).to_dense()[0, 0].bool()
                        assert torch.equal(dense, _pooled(sparse_mask(t, **knobs))), (t, knobs)


BIGBIRD = [  # (T, block size, window blocks, global blocks, random blocks, seed)
    (300, 48, 3, 2, 2, 5), (300, 64, 3, 1, 1, 0), (500, 100, 3, 1, 0, 3), (64, 8, 3, 1, 2, 7), (620, 200, 3, 1, 0, 1),
]  # fmt: skip


@pytest.mark.parametrize(("t", "block", "window", "glob", "random", "seed"), BIGBIRD)
def test_flex_bigbird_equals_ours(t, block, window, glob, random, seed):
    q, k, v = _qkv(t, seed=3)
    knobs = {"block_size": block, "window_blocks": window, "global_blocks": glob, "random_blocks": random,
             "seed": seed}  # fmt: skip
    mask = flex.bigbird_block_mask(t, **knobs)
    _check_mask(mask, bigbird_mask(t, **knobs))  # the same random blocks for the same seed
    out = flex.flex(q, k, v, mask, compiled=False)  # (1, H, T, Dh)
    torch.testing.assert_close(out, bigbird_attention(q, k, v, **knobs).output, atol=1e-5, rtol=1e-5)
    assert (out - scaled_dot_product(q, k, v).output).abs().max() > 1e-2  # the pattern really leaves keys out


def test_flex_bigbird_seed_changes_the_blocks():
    a, b = (flex.bigbird_block_mask(2048, seed=s).to_dense()[0, 0] for s in (0, 1))
    assert not torch.equal(a, b)


def test_flex_pattern_masks_are_built_from_blocks():
    """At 8,192 tokens the masks hold (T/128)² block indices; BigBird's share of blocks falls as T grows, the
    Sparse Transformer's (l = √T < 128) is every causal block, as the timing cases say."""
    n, nb = 8192, 64
    for mask in (flex.bigbird_block_mask(n), flex.sparse_block_mask(n), flex.sparse_block_mask(n, pattern="fixed")):
        assert mask.kv_indices.shape[-2:] == (nb, nb)
    bigbird = flex.bigbird_block_mask(2048)
    assert int(bigbird.full_kv_num_blocks.sum()) > 16  # whole 128-blocks inside the layout skip the mask function
    _check_mask(bigbird, bigbird_mask(2048))  # ... and only where every pair in them is allowed
    assert flex.block_share(bigbird) == float(bigbird.kv_num_blocks.sum() + bigbird.full_kv_num_blocks.sum()) / 16**2
    shares = [flex.block_share(flex.bigbird_block_mask(m)) for m in (1024, 2048, 4096, 8192)]
    assert shares == sorted(shares, reverse=True) and shares[-1] < 0.2
    causal = flex.block_share(flex.causal_block_mask(n))
    assert flex.block_share(flex.sparse_block_mask(n)) == flex.block_share(flex.sparse_block_mask(n, pattern="fixed"))
    assert flex.block_share(flex.sparse_block_mask(n)) == causal


def test_flex_cases_name_what_they_are():
    for case in ("flex-bigbird", "flex-sparse-strided", "flex-sparse-fixed"):
        timed = scaling.timing()[case]
        assert timed.label.startswith("FlexAttention · ") and "compiled" in timed.label
        assert "torch.compile(flex_attention)" in timed.setting
    # counted as the 128×128 blocks FlexAttention computes: more than our 64×64 blocks, all causal blocks for l < 128
    blocks = flex.blocks_computed(flex.bigbird_block_mask(4096))
    assert scaling.nominal_flops("flex-bigbird", 4096) == 4.0 * blocks * 128**2 * 64 * 8
    assert scaling.nominal_flops("flex-bigbird", 4096) > scaling.nominal_flops("bigbird", 4096)
    assert scaling.nominal_flops("flex-sparse-strided", 4096) == 4.0 * (32 * 33 // 2) * 128**2 * 64 * 8
    assert scaling.nominal_flops("flex-sparse-fixed", 4096) == scaling.nominal_flops("flex-sparse-strided", 4096)
    assert len({timed.label for timed in scaling.timing().values()}) == len(scaling.cases())  # every label distinct
