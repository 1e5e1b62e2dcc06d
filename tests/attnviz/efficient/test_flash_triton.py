"""The Triton FlashAttention kernel against exact attention, run on the CPU in Triton's interpreter.

TRITON_INTERPRET=1 must be set before triton decorates the kernel (when flash_triton is imported); it is set only
for that import and the module is dropped again afterwards, so nothing else in the test run sees an interpreted
kernel. On a machine with CUDA the kernel is also compiled and run there, in a fresh process without the variable.
"""

import functools
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import causal_mask
from attnviz.efficient import flash as flash_module
from attnviz.efficient import grouped_query_attention
from attnviz.efficient.flash import flash_attention, triton_kernel_source

# Triton decides at import time, for its own library functions and for our kernel, whether they are compiled for a
# GPU or interpreted: the variable must be there before triton is first imported. Outside this module's tests it is
# removed again, so processes started later (the CUDA check below, timing workers) compile as usual.
_MODULE = "attnviz.efficient.flash_triton"
if "triton" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip(
        "triton was imported earlier in this process without TRITON_INTERPRET=1; run this file on its own",
        allow_module_level=True,
    )
_before = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
try:
    pytest.importorskip("triton", reason="triton is not installed (pip install -r requirements-dev.txt)")
    sys.modules.pop(_MODULE, None)
    ft = importlib.import_module(_MODULE)
finally:
    if _before is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _before


@pytest.fixture(autouse=True)
def _interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # triton also looks at it while launching
    yield


@pytest.fixture(autouse=True, scope="module")
def _forget_interpreted_kernel():
    yield
    sys.modules.pop(_MODULE, None)  # a later import recompiles the kernel rather than reusing the interpreted one


def qkv(lead, t, s, d, dv=None, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, t, d, generator=g)  # (..., T, D)
    k = torch.randn(*lead, s, d, generator=g)  # (..., S, D)
    v = torch.randn(*lead, s, d if dv is None else dv, generator=g)  # (..., S, Dv)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def exact(q, k, v, causal, scale=None):
    """SDPA in float32 with our causal convention (aligned to the end), and its log-sum-exp."""
    q, k, v = q.float(), k.float(), v.float()
    t, s = q.shape[-2], k.shape[-2]
    allowed = causal_mask(t, s) if causal else torch.ones(t, s, dtype=torch.bool)  # (T, S)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.mT * scale).masked_fill(~allowed, float("-inf"))  # (..., T, S)
    lse = torch.logsumexp(scores, dim=-1)  # (..., T)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale)  # (..., T, Dv)
    return torch.nan_to_num(out), lse  # a row without keys: 0, as in flash.py


@pytest.mark.parametrize("d", [16, 64])
@pytest.mark.parametrize(
    ("t", "s", "causal"),
    [(1, 1, False), (7, 7, False), (33, 33, False), (65, 65, False), (7, 20, False), (65, 33, False),
     (1, 1, True), (7, 7, True), (33, 33, True), (65, 65, True)],
)  # fmt: skip
def test_float32_matches_exact_attention(t, s, causal, d):
    q, k, v = qkv((3,), t, s, d)  # (B·H, T, D)
    out, lse = ft.flash_attention_triton(q, k, v, causal=causal, block_m=16, block_n=16)
    ref, ref_lse = exact(q, k, v, causal)
    assert out.shape == (3, t, d) and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lse, ref_lse, atol=1e-5, rtol=1e-5)
    if causal and t == s:  # our causal convention is PyTorch's when T = S
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5, rtol=0)


def test_causal_with_more_keys_is_aligned_to_the_end_as_in_flash_py():
    q, k, v = qkv((2,), 7, 33, 16)
    out, lse = ft.flash_attention_triton(q, k, v, causal=True, block_m=16, block_n=16)
    ours = flash_attention(q, k, v, causal=True, block_q=4, block_k=8)
    torch.testing.assert_close(out, ours.output, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lse, ours.logsumexp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, exact(q, k, v, True)[0], atol=1e-5, rtol=1e-5)


def test_causal_rows_without_keys_give_zero_output_and_minus_infinite_lse():
    q, k, v = qkv((2,), 33, 7, 16)  # rows 0..25 see no key at all
    out, lse = ft.flash_attention_triton(q, k, v, causal=True, block_m=16, block_n=16)
    assert torch.equal(out[:, :26], torch.zeros(2, 26, 16))
    assert torch.isneginf(lse[:, :26]).all() and torch.isfinite(lse[:, 26:]).all()
    torch.testing.assert_close(out, flash_attention(q, k, v, causal=True).output, atol=1e-5, rtol=1e-5)


def test_four_dimensional_input_scale_and_default_blocks():
    q, k, v = qkv((2, 3), 65, 40, 32)  # (B, H, T, D)
    out, lse = ft.flash_attention_triton(q, k, v, scale=0.3)
    ref, ref_lse = exact(q, k, v, False, scale=0.3)
    assert out.shape == (2, 3, 65, 32) and lse.shape == (2, 3, 65)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lse, ref_lse, atol=1e-5, rtol=1e-5)


def test_head_widths_that_are_not_powers_of_two_are_padded_without_changing_the_result():
    q, k, v = qkv((2,), 33, 33, 24, dv=40)
    out, _ = ft.flash_attention_triton(q, k, v, causal=True, block_m=16, block_n=16)
    assert out.shape == (2, 33, 40)
    torch.testing.assert_close(out, exact(q, k, v, True)[0], atol=1e-5, rtol=1e-5)  # scale 1/√24, not 1/√32


def test_float16_within_half_precision():
    q, k, v = qkv((2,), 33, 33, 32)
    out, _ = ft.flash_attention_triton(q.half(), k.half(), v.half(), causal=True, block_m=16, block_n=16)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), exact(q.half(), k.half(), v.half(), True)[0], atol=3e-3, rtol=3e-3)


def test_bad_input_gives_clear_errors():
    q, k, v = qkv((1,), 8, 8, 256)
    with pytest.raises(ValueError, match=r"head widths 1\.\.128"):
        ft.flash_attention_triton(q, k, v)
    q, k, v = qkv((1,), 8, 8, 16)
    with pytest.raises(ValueError, match="power of two"):
        ft.flash_attention_triton(q, k, v, block_m=24)
    with pytest.raises(ValueError, match="float32, float16 or bfloat16"):
        ft.flash_attention_triton(q.double(), k.double(), v.double())


def test_cpu_tensors_keep_the_python_loop():
    q, k, v = qkv((2,), 9, 9, 16)
    assert not flash_module._triton_kernel_applies(q, k, v)
    assert flash_attention(q, k, v, block_q=4, block_k=4, gpu_kernel=True).block_q == 4


def test_dispatch_runs_the_kernel_where_it_applies_and_mqa_inherits_it(monkeypatch):
    monkeypatch.setattr(flash_module, "_triton_kernel_applies", lambda q, k, v: True)  # as on a CUDA GPU
    q, k, v = qkv((4,), 33, 33, 16)  # (H, T, D)
    assert flash_attention(q, k, v, causal=True, block_q=8, block_k=8).block_q == 8  # only when asked for
    result = flash_attention(q, k, v, causal=True, block_q=8, block_k=8, gpu_kernel=True)
    assert (result.block_q, result.block_k) == ft.KERNEL_BLOCKS  # the tiles that actually ran
    torch.testing.assert_close(result.output, exact(q, k, v, True)[0], atol=1e-5, rtol=1e-5)
    # a mask, steps or weights still need the loop
    assert flash_attention(q, k, v, block_q=8, block_k=8, record_steps=True, gpu_kernel=True).block_q == 8
    # multi-query: 4 query heads against 1 K/V head, flash inside
    k1, v1 = k[:1], v[:1]  # (1, S, D)
    mqa = grouped_query_attention(q, k1, v1, attend=functools.partial(flash_attention, gpu_kernel=True))
    ref = exact(q, k1.expand_as(k), v1.expand_as(v), False)[0]
    torch.testing.assert_close(mqa.output, ref, atol=1e-5, rtol=1e-5)


def test_the_kernel_source_shown_in_lesson_6_is_the_kernel():
    source = triton_kernel_source()
    assert source.startswith("@triton.jit\ndef flash_forward_kernel(")
    assert "tl.program_id(0)" in source and "for k0 in range(0, k_end, BLOCK_N)" in source
    assert source.rstrip().endswith("tl.store(LSE + head * T + rows, lse, mask=row_ok)")


def test_compiles_for_a100_and_h100_without_a_gpu(tmp_path):  # a few seconds
    # the interpreter runs Python, not the GPU compiler: compile the same kernel ahead of time for sm_80 and sm_90
    # (down to the machine code, cubin) in a fresh process without TRITON_INTERPRET, as a GPU would at first launch
    script = textwrap.dedent(
        """
        import triton
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
        from attnviz.efficient.flash_triton import flash_forward_kernel as kernel

        names = kernel.arg_names
        for dtype, precision, causal, width, arch in (
            ("fp32", "ieee", True, 16, 90), ("bf16", "tf32", True, 128, 90), ("fp16", "tf32", False, 64, 80)
        ):
            signature = {name: f"*{dtype}" for name in ("Q", "K", "V", "O")}
            signature.update(LSE="*fp32", T="i32", S="i32", causal_offset="i32", qk_scale="fp32")
            signature.update({name: "constexpr" for name in names[9:]})
            constants = dict(CAUSAL=causal, D=width, DV=width, BLOCK_M=64, BLOCK_N=64, PRECISION=precision)
            constants = {(names.index(name),): value for name, value in constants.items()}
            source = ASTSource(kernel, signature, constants)
            compiled = triton.compile(source, target=GPUTarget("cuda", arch, 32))
            assert compiled.asm["cubin"], (dtype, causal, arch)
        print("ok")
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU: the compiled kernel cannot run here")
def test_on_cuda_compiled():
    script = textwrap.dedent(
        """
        import torch, torch.nn.functional as F
        from attnviz.efficient.flash import flash_attention
        from attnviz.efficient.flash_triton import flash_attention_triton
        g = torch.Generator().manual_seed(0)
        for t, s, causal in [(1, 1, True), (65, 65, True), (65, 33, False), (1000, 1000, True)]:
            for d in (16, 64, 128):
                q, k, v = (torch.randn(2, 4, n, d, generator=g).cuda() for n in (t, s, s))
                ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                out, _ = flash_attention_triton(q, k, v, causal=causal)
                torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
                for dt, tol in ((torch.bfloat16, 3e-2), (torch.float16, 3e-3)):
                    out, _ = flash_attention_triton(q.to(dt), k.to(dt), v.to(dt), causal=causal)
                    assert out.dtype == dt
                    torch.testing.assert_close(out.float(), ref, atol=tol, rtol=tol)
                assert flash_attention(q, k, v, causal=causal, gpu_kernel=True).block_q == 64  # the kernel ran
                assert flash_attention(q, k, v, causal=causal).block_q == 256  # the loop, unless asked
        print("ok")
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}  # compiled, for the GPU
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
