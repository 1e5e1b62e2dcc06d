"""Time and peak memory of one attention variant at one sequence length, measured in a fresh process.

Shared by `bench/bench_efficient.py` (the committed tables) and the scaling lab page (live on the learner's
device), so both measure the same thing the same way. Each variant's timed case lives in its record
(`attnviz.efficient.REGISTRY`); PyTorch's kernels and the plain path are `BASELINES` here.

Each case runs in its own Python process (``python -m attnviz.scaling '<json task>'``), so that one case's
memory never counts in another's. On the CPU "extra memory" is the peak resident set (VmHWM, reset just before
the call) minus the resident set once the inputs exist; on CUDA it is torch.cuda.max_memory_allocated minus
what was allocated before the call. The driver side (`run_case`) polls the child and calls back between polls,
so a caller can draw progress, and kills the child if the caller is interrupted.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from attnviz.efficient import REGISTRY, flex
from attnviz.efficient.bigbird import SPEC as BIGBIRD
from attnviz.efficient.bigbird import bigbird_attention
from attnviz.efficient.flash import flash_attention
from attnviz.efficient.longformer import longformer_attention, longformer_flops
from attnviz.efficient.registry import HEADS, WIDTH, TimingCase, full_flops
from attnviz.efficient.sparse import sparse_attention
from attnviz.errors import AttnvizInputError

MILLION = 1 << 20
BIGBIRD_CASE = BIGBIRD.cases["bigbird"]  # FlexAttention runs the settings of our timed BigBird
SDPA_CASES = {"sdpa-flash": "flash", "sdpa-efficient": "efficient", "sdpa-math": "math"}  # case → SDPA backend
FLEX_CASES = ("flex-longformer", "flex-causal", "flex-bigbird", "flex-sparse-strided", "flex-sparse-fixed")


# ----------------------------------------------------------------------------------------------------------
# Worker side: one case in this process
# ----------------------------------------------------------------------------------------------------------


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident set (Linux ≥ 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def nominal_flops(name: str, n: int, heads: int = HEADS, d: int = WIDTH) -> float:
    """The multiply-adds (×2) each algorithm is designed to do; not counting softmax or masking."""
    timed = timing()
    if name not in timed:
        raise ValueError(name)
    return timed[name].flops(n, heads, d)


def sdpa_kernel(device: str = "cpu") -> str:
    """The ATen operator PyTorch's scaled_dot_product_attention runs for the timed inputs on ``device``."""
    import torch
    import torch.nn.functional as F
    from torch.profiler import profile

    q = torch.randn(1, HEADS, 256, WIDTH, device=device)  # (1, H, T, Dh)
    with profile() as prof:
        F.scaled_dot_product_attention(q, q, q)
    names = [e.name for e in prof.events() if e.name.startswith("aten::_scaled_dot_product")]
    return names[0] if names else "aten::scaled_dot_product_attention"


def inputs_for_timing(n: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(1, HEADS, n, WIDTH, generator=g).to(device) for _ in range(3))  # (1, H, n, Dh) each


def make_case(name: str, q, k, v):
    """A zero-argument function for one timed case; anything it needs besides the call is made here."""
    timed = timing()
    if name not in timed:
        raise ValueError(name)
    return timed[name].make(q, k, v)


def _flex_case(mask: Callable, ours: Callable, q, k, v):
    """FlexAttention compiled over ``mask(n, device)`` (a BlockMask), its first call (the compile) made here,
    outside the timing; ``fn.info`` says how long it took. Where compiling fails, ``ours(q, k, v)`` (our own
    implementation of the same pattern) is timed instead, with a note."""
    block_mask = mask(q.shape[-2], q.device)
    t0 = time.perf_counter()
    try:
        flex.flex(q, k, v, block_mask)  # compiles: the first call in this process
        info = {"compiled": True, "compile_s": time.perf_counter() - t0}

        def fn():
            return flex.flex(q, k, v, block_mask)
    except Exception as err:  # no compiler, or the compiler failed: say so, run ours
        info = {"compiled": False, "note": f"torch.compile failed ({type(err).__name__}); ours was timed instead"}

        def fn():
            return ours(q, k, v)

    fn.info = info  # type: ignore[attr-defined]
    return fn


def _flex(mask: Callable, ours: Callable) -> Callable:
    """A timing case's ``make`` for FlexAttention over ``mask(n, device)``, ``ours`` its fallback."""
    return functools.partial(_flex_case, mask, ours)


def _flex_longformer_mask(n, device):
    return flex.longformer_block_mask(n, 256, (0, 1), device=device)


def _flex_bigbird_mask(n, device):
    return flex.bigbird_block_mask(n, device=device)  # bigbird_attention's defaults, as its own case


def _flex_sparse_mask(pattern: str) -> Callable:
    def mask(n, device):
        return flex.sparse_block_mask(n, pattern=pattern, device=device)  # l = round(√n), causal

    return mask


FLEX_STRIDED, FLEX_FIXED = _flex_sparse_mask("strided"), _flex_sparse_mask("fixed")


@functools.cache
def _blocks_computed(mask: Callable, n: int) -> int:
    return flex.blocks_computed(mask(n, "cpu"))


def _block_flops(mask: Callable) -> Callable[[int, int, int], float]:
    """The work FlexAttention does over ``mask(n, device)``: Q·Kᵀ and P·V for every 128×128 block it computes."""
    return lambda n, heads, d: 4.0 * _blocks_computed(mask, n) * flex.BLOCK**2 * d * heads


def _ours(fn: Callable, **kwargs) -> Callable:
    return lambda q, k, v: fn(q, k, v, **kwargs)


def _sdpa_case(backend: str) -> Callable:
    def make(q, k, v):
        from attnviz.efficient.flex import sdpa_with

        attend = sdpa_with(backend)
        return lambda: attend(q, k, v)

    return make


def _plain_case(q, k, v):
    from attnviz.attention import scaled_dot_product

    return lambda: scaled_dot_product(q, k, v)


def _fused_case(q, k, v):
    import torch.nn.functional as F

    return lambda: F.scaled_dot_product_attention(q, k, v)


# PyTorch's own kernels and the plain path, timed beside the variants (whose cases are in their records)
BASELINES: dict[str, TimingCase] = {
    "sdpa": TimingCase(
        _fused_case, full_flops, "torch.nn.functional.scaled_dot_product_attention, PyTorch's own choice of backend",
        ("T²", "T"), "PyTorch SDPA (fused C++ kernel)", exact=True,  # a fused kernel: never the T×T matrix
    ),
    "sdpa-flash": TimingCase(
        _sdpa_case("flash"), full_flops,
        "SDPA inside sdpa_kernel(SDPBackend.FLASH_ATTENTION): the fused FlashAttention kernel only",
        ("T²", "T"), "PyTorch SDPA · fused flash kernel", exact=True,  # tile by tile: a running max and sum per row
    ),
    "sdpa-efficient": TimingCase(
        _sdpa_case("efficient"), full_flops,
        "SDPA inside sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION): the memory-efficient kernel only",
        ("T²", "T"), "PyTorch SDPA · memory-efficient kernel", exact=True,
    ),
    "sdpa-math": TimingCase(
        _sdpa_case("math"), full_flops,
        "SDPA inside sdpa_kernel(SDPBackend.MATH): the unfused reference path (builds the T×T weights)",
        ("T²", "T²"), "PyTorch SDPA · math path (builds T×T)", exact=True,  # scores and weights as T×T tensors
    ),
    "plain": TimingCase(
        _plain_case, full_flops, "attention.scaled_dot_product (keeps scores, scaled and weights)",
        ("T²", "T²"), "plain exact (keeps T×T)", exact=True,
    ),
    "flex-longformer": TimingCase(
        _flex(_flex_longformer_mask, _ours(longformer_attention, window=256, global_tokens=(0, 1))), longformer_flops,
        "torch.compile(flex_attention), w=256, 2 global tokens, 128×128 blocks (compiled once, before the timing)",
        ("T", "T"), "FlexAttention · Longformer window (compiled)",  # the band's blocks and the global ones
    ),
    "flex-causal": TimingCase(
        _flex(lambda n, device: flex.causal_block_mask(n, device=device), _ours(flash_attention, causal=True)),
        lambda n, h, d: full_flops(n, h, d) / 2,  # key ≤ query
        "torch.compile(flex_attention), causal mask, 128×128 blocks (compiled once, before the timing)",
        ("T²", "T"), "FlexAttention · causal (compiled)", exact=True,  # half the blocks of full attention
    ),
    "flex-bigbird": TimingCase(
        _flex(_flex_bigbird_mask, _ours(bigbird_attention)), _block_flops(_flex_bigbird_mask),
        f"torch.compile(flex_attention) on BigBird's layout ({BIGBIRD_CASE.setting}, seed 0: the same blocks as "
        "ours); a 128×128 block is computed (and counted) where one of its 64×64 blocks is kept (compiled once, "
        "before the timing)",
        ("T", "T"), "FlexAttention · BigBird blocks (compiled)",  # a fixed number of key blocks per query block
    ),
    "flex-sparse-strided": TimingCase(
        _flex(FLEX_STRIDED, _ours(sparse_attention, pattern="strided")), _block_flops(FLEX_STRIDED),
        "torch.compile(flex_attention), Sparse Transformer strided, l=round(√n), causal; every causal 128×128 "
        "block holds a key l apart while l < 128, so all of them are computed and counted (compiled once, before the "
        "timing)",
        ("T²", "T"), "FlexAttention · Sparse Transformer strided (compiled)",
    ),
    "flex-sparse-fixed": TimingCase(
        _flex(FLEX_FIXED, _ours(sparse_attention, pattern="fixed")), _block_flops(FLEX_FIXED),
        "torch.compile(flex_attention), Sparse Transformer fixed, l=round(√n), c=1, causal; every causal 128×128 "
        "block holds a summary key while l ≤ 128, so all of them are computed and counted (compiled once, before the "
        "timing)",
        ("T²", "T"), "FlexAttention · Sparse Transformer fixed (compiled)",
    ),
}  # fmt: skip


def timing() -> dict[str, TimingCase]:
    """Every timed case by name: PyTorch's kernels, the plain path, each variant's own case(s) in the registry's order
    (read at each call: one registered at run time is among them), then FlexAttention."""
    return (
        {c: BASELINES[c] for c in ("sdpa", *SDPA_CASES, "plain")}
        | {c: case for spec in REGISTRY.values() for c, case in spec.cases.items()}
        | {c: BASELINES[c] for c in FLEX_CASES}
    )


def cases() -> tuple[str, ...]:
    """The names of every timed case, in `timing`'s order."""
    return tuple(timing())


def keeps_matrix(names: Sequence[str]) -> list[str]:
    """The exact cases among ``names`` that store the T×T scores or weights: extra memory designed to grow like T²
    (the plain path and SDPA's math path; the fused kernels keep one tile and grow like T)."""
    return [c for c in names if (timed := timing()[c]).exact and timed.growth[1] == "T²"]


def time_and_memory(fn, device: str, min_reps: int, budget_s: float) -> dict:
    """Warm call, then repetitions; median time and peak extra memory."""
    import gc

    import torch

    cuda = device.startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    gc.collect()
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_kib("VmRSS") * 1024
        reset = _reset_peak()
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
        del out
        if len(times) > min_reps and time.perf_counter() - start > budget_s:
            break
        if len(times) >= 25:
            break
    warm = sorted(times[1:])  # the first call warms up
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _rss_kib("VmHWM") * 1024 - base if reset else float("nan")
    return {"median_s": warm[len(warm) // 2], "reps": len(warm), "extra_bytes": peak}


def worker_time(
    name: str, n: int, device: str, quick: bool, min_reps: int | None = None, budget_s: float | None = None
) -> dict:
    """One variant at one length: median time, peak extra memory, and the nominal GFLOP it performs.

    ``min_reps`` and ``budget_s`` override what ``quick`` chooses (the scaling lab wants a few repetitions even
    when quick: the first calls in a fresh process are slow).
    """
    fn = make_case(name, *inputs_for_timing(n, device))
    info = getattr(fn, "info", {})
    reps = (1 if quick else 3) if min_reps is None else min_reps
    budget = (0.5 if quick else 2.0) if budget_s is None else budget_s
    result = time_and_memory(fn, device, min_reps=reps, budget_s=budget)
    result["gflop"] = nominal_flops(name, n) / 1e9
    result.update(info)
    return result


def worker_million(device: str, quick: bool) -> dict:
    """Sliding-window attention (w=256, 2 global tokens, H=1, d=64) over 2^20 tokens."""
    import torch

    from attnviz.efficient import longformer_attention

    n = (1 << 16) if quick else MILLION
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, n, WIDTH, generator=g).to(device) for _ in range(3))  # (1, 1, n, Dh) each
    result = time_and_memory(
        lambda: longformer_attention(q, k, v, window=256, global_tokens=(0, 1)),
        device,
        min_reps=1 if quick else 4,
        budget_s=0.0,
    )
    result.update(n=n, gflop=4.0 * n * 256 * WIDTH / 1e9)
    return result


WORKERS: dict[str, Callable[..., dict]] = {"time": worker_time, "million": worker_million}


# ----------------------------------------------------------------------------------------------------------
# Driver side: a fresh process per case
# ----------------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def run_case(
    task: dict,
    *,
    timeout: float = 300.0,
    tick: Callable[[float], None] | None = None,
    poll_s: float = 0.2,
    python: str = sys.executable,
) -> dict:
    """Run one task (``{"task": "time", "name": ..., "n": ..., "device": ..., "quick": ...}``) in a new process.

    ``tick(elapsed_seconds)`` is called between polls; whatever it raises stops the measurement, and the child
    is killed on the way out (also on a timeout). Returns the worker's dict, or ``{"error": ...}``.
    """
    command = [python, "-m", "attnviz.scaling", json.dumps(task)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.monotonic()
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - start
            if elapsed > timeout:
                return {"error": f"stopped after {timeout:.0f} s"}
            if tick is not None:
                tick(elapsed)
            time.sleep(poll_s)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return {"error": (err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]}
    return json.loads(lines[-1])


def check_sizes(sizes: Sequence[int], limit: int) -> list[int]:
    """Sizes a learner asked for, sorted; AttnvizInputError beyond ``limit``."""
    out = sorted({int(n) for n in sizes})
    if not out or out[0] < 1:
        raise AttnvizInputError("choose at least one sequence length of 1 or more")
    if out[-1] > limit:
        raise AttnvizInputError(f"this device measures up to {limit:,} tokens, not {out[-1]:,}")
    return out


def main(argv: Sequence[str]) -> None:
    task = json.loads(argv[0])
    kind = task.pop("task")
    print(json.dumps(WORKERS[kind](**task)), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(sys.argv[1:])
