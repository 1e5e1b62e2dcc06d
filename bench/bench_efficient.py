"""Benchmark of the efficient attention variants against PyTorch's own kernel and the plain O(n²) path.

    python bench/bench_efficient.py [--device cuda] [--quick] [--out bench/RESULTS.md]

Prints markdown tables:
  1. time (median over warm repetitions), peak extra memory and GFLOP/s against a matmul ceiling measured
     here, for n ∈ {256, 1024, 2048, 4096, 8192}, H = 8 heads, head width 64, float32, every variant plus
     torch.nn.functional.scaled_dot_product_attention (SDPA) and the plain path (scaled_dot_product);
  2. error figures against exact attention on four kinds of input (Gaussian with logit scale 0.25, 1, 2; local
     / clustered structure), and on real Q/K/V from the pretrained model when `attnviz.pretrained` is there,
     always beside uniform attention;
  3. sliding-window attention over 1,048,576 tokens;
  4. the issue's targets, met or not, computed from the tables above.

Every timed case runs in a fresh process, so that memory figures do not mix. On the CPU "extra memory" is the
peak resident set (VmHWM, reset just before the call) minus the resident set after the inputs exist; on CUDA
it is torch.cuda.max_memory_allocated minus the memory allocated before the call.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attnviz.scaling import (  # noqa: E402  (the path above makes attnviz importable)
    HEADS,
    SDPA_CASES,
    WIDTH,
    make_case,
    timing,
    worker_million,
    worker_time,
)

SIZES = (256, 1024, 2048, 4096, 8192)
QUICK_SIZES = (256, 1024)
TIMED = timing()  # every timed case, the registered variants' among them, in attnviz.scaling's order
VARIANTS = tuple(TIMED)


# ----------------------------------------------------------------------------------------------------------
# Worker side: one case in this process (the timed cases themselves live in attnviz.scaling, shared with the
# scaling lab of lesson 6)
# ----------------------------------------------------------------------------------------------------------


def worker_pairs(n: int, device: str, names: list[str], reps: int) -> dict:
    """Each variant timed right after SDPA, round after round, in one process: the ratio of each pair is
    measured under the same load, which a shared machine does not keep steady across processes."""
    import torch
    import torch.nn.functional as F

    from attnviz.scaling import inputs_for_timing

    q, k, v = inputs_for_timing(n, device)
    cases = {name: make_case(name, q, k, v) for name in names}

    def timed(fn) -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    sdpa = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
    for fn in (sdpa, *cases.values()):
        timed(fn)  # warm
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(reps):
        for name, fn in cases.items():
            base = timed(sdpa)
            ratios[name].append(base / timed(fn))
    return {name: sorted(r)[len(r) // 2] for name, r in ratios.items()}


def worker_ceiling(device: str, quick: bool) -> dict:
    """The float32 matmul throughput of this device: best of square products (the FLOP/s ceiling)."""
    import torch

    best = 0.0
    for size in (1024, 2048) if quick else (1024, 2048, 4096):
        a, b = (torch.randn(size, size, device=device) for _ in range(2))
        for _ in range(2 if quick else 4):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            a @ b
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best = max(best, 2 * size**3 / (time.perf_counter() - t0))
    return {"gflops": best / 1e9}


def _inputs(kind: str, n: int, heads: int, d: int):
    """Q, K, V for the error tables. Gaussian: logit spread σ; local: a smooth walk in clusters."""
    import torch

    g = torch.Generator().manual_seed(1)
    if kind.startswith("gauss"):
        spread = float(kind.split("-")[1])
        q, k = (torch.randn(1, heads, n, d, generator=g) * spread**0.5 for _ in range(2))
    else:
        # tokens drift slowly (AR(1), correlation length ~16) and jump to a new cluster every ~64 tokens,
        # so attention is mostly local with some far tokens in the same cluster
        rho = math.exp(-1 / 16)
        noise = torch.randn(1, heads, n, d, generator=g)
        walk = torch.empty_like(noise)
        walk[..., 0, :] = noise[..., 0, :]
        for t in range(1, n):
            walk[..., t, :] = rho * walk[..., t - 1, :] + math.sqrt(1 - rho**2) * noise[..., t, :]
        centres = torch.randn(1, heads, 8, d, generator=g)
        cluster = torch.randint(0, 8, (n // 64 + 1,), generator=g).repeat_interleave(64)[:n]
        x = (walk + centres[..., cluster, :]) / math.sqrt(2)
        q = x + 0.3 * torch.randn(1, heads, n, d, generator=g)
        k = x + 0.3 * torch.randn(1, heads, n, d, generator=g)
        q, k = q * 2**0.5, k * 2**0.5  # logit spread about 2
    v = torch.randn(1, heads, q.shape[-2], d, generator=g)
    return q, k, v


def _pretrained_qkv():
    """Q, K, V of the middle layer of the pretrained model on a long text, or a note why not."""
    try:
        import attnviz.pretrained as pretrained
    except Exception as error:  # any failure means: not available here
        return None, f"attnviz.pretrained not available ({type(error).__name__}: {error})"
    try:
        model = pretrained.load_model("cpu", max_pieces=None)  # the long text below runs past 256 pieces, to 512
        text = (
            "Attention lets every word of a sentence look at every other word and decide how much each one "
            "matters for its own meaning. The weights come from comparing a query with all the keys, and the "
            "output mixes the values with those weights. Long documents make this expensive, because the "
            "number of comparisons grows with the square of the length, which is why so many efficient "
            "variants were proposed: some keep only nearby words, some hash similar words together, and some "
            "replace the softmax by a product of random features. "
        ) * 5
        captured = []

        def record(q, k, v, mask=None, scale=None):
            from attnviz.attention import scaled_dot_product

            captured.append((q.clone(), k.clone(), v.clone()))
            return scaled_dot_product(q, k, v, mask=mask, scale=scale)

        pretrained.forward(model, text, attend=record)
        q, k, v = captured[len(captured) // 2]
        return (
            q[None].float(),
            k[None].float(),
            v[None].float(),
        ), f"layer {len(captured) // 2} of {len(captured)}"
    except Exception as error:  # a module under construction may differ from what this expects
        return (
            None,
            f"attnviz.pretrained present but Q/K/V could not be captured ({type(error).__name__}: {error})",
        )


def worker_errors(kind: str, n: int) -> dict:
    """Every registered variant's error figures on one kind of input, beside uniform attention: one row for each of
    its record's bench settings (`VariantSpec.bench_rows`: its own, or its knobs at their defaults)."""
    from attnviz.attention import scaled_dot_product
    from attnviz.efficient import REGISTRY
    from attnviz.efficient.compare import not_self
    from attnviz.metrics import compare

    note = ""
    if kind == "pretrained":
        qkv, note = _pretrained_qkv()
        if qkv is None:
            return {"skipped": note}
        q, k, v = qkv
    else:
        q, k, v = _inputs(kind, n, HEADS, WIDTH)  # (1, H, T, Dh) each
    t = q.shape[-2]
    heads = q.shape[-3]
    exact = scaled_dot_product(q, k, v)
    # shared-QK attention (the Reformer): the keys are the queries and a token does not attend to itself. The bench
    # passes k = q as it is, which reformer.py allows beside unit-length q (page 6 takes compare.shared_keys, unit
    # length): its figures stay those of bench/RESULTS.md
    alone = not_self(t)  # (T, T)
    shared = scaled_dot_product(q, q, v, mask=alone)
    rows = {}
    for spec in REGISTRY.values():
        for setting in spec.bench_rows():
            kwargs = dict(setting.kwargs(t, heads))
            keys, reference, mask = (q, shared, alone) if spec.shared_qk else (k, exact, None)
            # a variant over every head at once (multi-query) returns its weights anyway, as on page 6
            approx = (
                spec.fn(q, keys, v, **kwargs) if spec.all_heads else spec.fn(q, keys, v, return_weights=True, **kwargs)
            )
            pattern = None if spec.pattern is None else spec.pattern(q, kwargs)  # (1, H, T, T) or (T, T)
            c = compare(reference, approx, v, mask=mask, pattern=pattern)
            name = f"{spec.name} ({setting.note})" if setting.note else spec.name
            rows[name] = {"approx": c.approx.__dict__, "uniform": c.uniform.__dict__}
    return {"t": t, "heads": heads, "width": q.shape[-1], "note": note, "rows": rows}


# ----------------------------------------------------------------------------------------------------------
# Driver side: fresh process per case, tables
# ----------------------------------------------------------------------------------------------------------


def _run(task: dict, timeout: float = 900) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(task)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def _machine(device: str) -> list[str]:
    import torch

    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    lines = [
        f"- CPU: {model}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.platform(terse=True)}",
        f"- device: {device}" + (f" ({torch.cuda.get_device_name(0)})" if device.startswith("cuda") else ""),
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        + (f", OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}" if "OMP_WAIT_POLICY" in os.environ else ""),
    ]
    return lines


def _fmt_time(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def _fmt_mib(b: float) -> str:
    return "n/a" if b != b else f"{b / 2**20:.0f}"


def _num(x) -> str:
    if x is None:
        return "–"
    if x == 0:
        return "0"
    return f"{x:.2e}" if abs(x) < 1e-3 else f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quick", action="store_true", help="small sizes only, under a minute")
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        task = json.loads(args.worker)
        kind = task.pop("task")
        fn = {
            "time": worker_time,
            "pairs": worker_pairs,
            "ceiling": worker_ceiling,
            "million": worker_million,
            "errors": worker_errors,
        }
        print(json.dumps(fn[kind](**task)))
        return

    device, quick = args.device, args.quick
    sizes = QUICK_SIZES if quick else SIZES
    out: list[str] = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    started = time.perf_counter()
    emit("# Efficient attention: time, memory and error" + (" (quick run)" if quick else ""))
    emit()
    emit(f"`python bench/bench_efficient.py --device {device}{' --quick' if quick else ''}`")
    emit()
    for line in _machine(device):
        emit(line)
    ceiling = _run({"task": "ceiling", "device": device, "quick": quick}).get("gflops", float("nan"))
    emit(f"- float32 matmul ceiling measured here: {ceiling:.1f} GFLOP/s (best square product)")
    emit()

    from attnviz.efficient.flex import sdpa_backends

    runnable = sdpa_backends(device)  # SDPA's backends that run here, found by trying each
    left_out = [name for name, backend in SDPA_CASES.items() if backend not in runnable]
    variants = [name for name in VARIANTS if name not in left_out]

    # 1. time and memory
    emit(f"## 1. Time, peak extra memory, throughput (H={HEADS}, d={WIDTH}, float32, batch 1)")
    emit()
    emit("Median over warm repetitions, each case in a fresh process. Memory: MiB above the inputs.")
    emit("GFLOP/s counts each algorithm's nominal multiply-adds (×2); % is of the matmul ceiling.")
    emit("sdpa-*: SDPA with one backend forced (torch.nn.attention.sdpa_kernel); flex-*: FlexAttention compiled")
    emit("once per process before the timing (the compile time is given in the cell).")
    if left_out:
        emit(f"Left out on {device}: {', '.join(left_out)} (that SDPA backend does not run here).")
    emit()
    emit("| variant | settings | " + " | ".join(f"n={n}" for n in sizes) + " |")
    emit("|---|---|" + "---|" * len(sizes))
    timings: dict[tuple[str, int], dict] = {}
    for name in variants:
        cells = []
        for n in sizes:
            r = _run({"task": "time", "name": name, "n": n, "device": device, "quick": quick})
            timings[name, n] = r
            if "error" in r:
                cells.append(f"failed: {r['error'][:60]}")
                continue
            gflops = r["gflop"] / r["median_s"]
            cells.append(
                f"{_fmt_time(r['median_s'])} · {_fmt_mib(r['extra_bytes'])} MiB · "
                f"{gflops:.0f} GFLOP/s ({100 * gflops / ceiling:.0f}%)"
                + (f" · compile {r['compile_s']:.0f} s" if "compile_s" in r else "")
                + (f" · {r['note']}" if r.get("compiled") is False else "")
            )
        emit(f"| {name} | {TIMED[name].setting} | " + " | ".join(cells) + " |")
    emit()
    # the ratios the targets speak of: each variant right after SDPA, round after round, in one process
    emit("Speed-up over SDPA, measured side by side: SDPA then the variant, alternating in one process")
    emit("(median over rounds of SDPA time / variant time; both see the same load at the same moment):")
    emit()
    paired_sizes = [n for n in sizes if n >= 1024]
    paired_names = [name for name in variants if name not in ("sdpa", "plain")]
    pairs = {}
    for n in paired_sizes:
        reps = 3 if quick else (7 if n <= 4096 else 5)
        pairs[n] = _run({"task": "pairs", "n": n, "device": device, "names": paired_names, "reps": reps})
    emit("| variant | " + " | ".join(f"n={n}" for n in paired_sizes) + " |")
    emit("|---|" + "---|" * len(paired_sizes))
    for name in paired_names:
        cells = [f"{pairs[n][name]:.2f}×" if name in pairs[n] else "–" for n in paired_sizes]
        emit(f"| {name} | " + " | ".join(cells) + " |")
    emit()
    emit("From the separate processes of the table above (SDPA time / variant time):")
    emit()
    emit("| variant | " + " | ".join(f"n={n}" for n in sizes) + " |")
    emit("|---|" + "---|" * len(sizes))
    for name in variants[1:]:
        cells = []
        for n in sizes:
            a, b = timings.get(("sdpa", n), {}), timings.get((name, n), {})
            cells.append(f"{a['median_s'] / b['median_s']:.2f}×" if "median_s" in a and "median_s" in b else "–")
        emit(f"| {name} | " + " | ".join(cells) + " |")
    emit()

    # 2. errors
    n_err = 256 if quick else 1024
    emit(f"## 2. Error against exact attention (n={n_err}, H={HEADS}, d={WIDTH}), beside uniform attention")
    emit()
    emit("Attention-matrix figures use the matrix each variant implies (return_weights=True); KL is the mean")
    emit("row KL(exact‖approx), approx clamped at 1e-9; mass = exact attention weight on the sparse pattern.")
    emit("Each row shows the variant and, after the slash, uniform attention on the same reference.")
    emit()
    kinds = ["gauss-0.25", "gauss-1", "gauss-2", "local", "pretrained"]
    errors = {}
    for kind in kinds:
        r = _run({"task": "errors", "kind": kind, "n": n_err})
        errors[kind] = r
        title = {
            "gauss-0.25": "Gaussian Q, K, logit scale 0.25",
            "gauss-1": "Gaussian Q, K, logit scale 1",
            "gauss-2": "Gaussian Q, K, logit scale 2",
            "local": "local / clustered structure (smooth walk in clusters, logit scale ≈ 2)",
            "pretrained": "real Q/K/V from the pretrained model",
        }[kind]
        emit(f"### {title}")
        emit()
        if "error" in r or "skipped" in r:
            emit(f"Skipped: {r.get('skipped') or r.get('error')}")
            emit()
            continue
        if r.get("note"):
            emit(f"T={r['t']}, H={r['heads']}, d={r['width']}, {r['note']}.")
            emit()
        emit("| variant | A rel. Frobenius | A max abs | row KL | O rel. Frobenius | O cosine | mass kept |")
        emit("|---|---|---|---|---|---|---|")
        for name, row in r["rows"].items():
            a, u = row["approx"], row["uniform"]
            emit(
                f"| {name} | {_num(a['weights_rel_frobenius'])} / {_num(u['weights_rel_frobenius'])} "
                f"| {_num(a['weights_max_abs'])} / {_num(u['weights_max_abs'])} "
                f"| {_num(a['row_kl'])} / {_num(u['row_kl'])} "
                f"| {_num(a['output_rel_frobenius'])} / {_num(u['output_rel_frobenius'])} "
                f"| {_num(a['output_cosine'])} / {_num(u['output_cosine'])} | {_num(a['mass_kept'])} |"
            )
        emit()

    # 3. a million tokens
    emit("## 3. Sliding window over a million tokens (w=256, 2 global tokens, H=1, d=64)")
    emit()
    m = _run({"task": "million", "device": device, "quick": quick}, timeout=1800)
    if "error" in m:
        emit(f"failed: {m['error']}")
    else:
        rate = m["gflop"] / m["median_s"]
        emit(
            f"n = {m['n']:,} tokens: {_fmt_time(m['median_s'])} (median of {m['reps']}), "
            f"{_fmt_mib(m['extra_bytes'])} MiB extra, {rate:.1f} GFLOP/s counting 4·n·w·d = "
            f"{100 * rate / ceiling:.0f}% of the matmul ceiling"
        )
    emit()

    # 4. targets
    emit("## 4. The issue's targets, from this run")
    emit()

    def ratio(name: str, n: int) -> float | None:
        return pairs.get(n, {}).get(name)

    def mib(name: str, n: int) -> float | None:
        r = timings.get((name, n), {})
        return round(r["extra_bytes"] / 2**20) if "extra_bytes" in r else None

    rows: list[tuple[str, bool, str]] = []

    def target(label: str, value, ok, text) -> None:
        """One row: the value (None when its case failed), whether it meets the target, how to show it."""
        rows.append((label, False, "not measured") if value is None else (label, ok(value), text(value)))

    if not quick:
        for n in (4096, 8192):
            target(
                f"flash within 1.5× of SDPA, n={n}",
                ratio("flash", n),
                lambda r: 1 / r <= 1.5,
                lambda r: f"{1 / r:.2f}× SDPA's time",
            )
        plain = mib("plain", 8192)
        target(
            "flash ≤ 150 MiB extra at n=8192",
            mib("flash", 8192),
            lambda m: m <= 150,
            lambda m: f"{m:.0f} MiB (plain path: {plain} MiB)",
        )
        for name in ("linformer", "nystrom"):
            target(
                f"{name} ≥ 7× faster than SDPA at n=4096",
                ratio(name, 4096),
                lambda r: r >= 7,
                lambda r: f"{r:.2f}×",
            )
        for name, n0 in (("performer", 2048), ("longformer", 4096)):
            rs = [ratio(name, n) for n in SIZES if n >= n0]
            target(
                f"{name} faster than SDPA from n={n0}",
                None if None in rs else rs,
                lambda rs: all(r > 1 for r in rs),
                lambda rs: ", ".join(f"{r:.2f}×" for r in rs),
            )
        target(
            "bigbird ≤ 300 MiB extra at n=8192",
            mib("bigbird", 8192),
            lambda m: m <= 300,
            lambda m: f"{m:.0f} MiB",
        )
    if "error" not in m:
        target(
            f"sliding window over {m['n']:,} tokens under 1 GiB extra",
            m["extra_bytes"] / 2**30,
            lambda g: g < 1,
            lambda g: f"{g:.2f} GiB",
        )
        pct = 100 * m["gflop"] / m["median_s"] / ceiling
        target("... at ≥ 30% of the matmul ceiling", pct, lambda p: p >= 30, lambda p: f"{p:.0f}%")
    emit("| target | met | measured |")
    emit("|---|---|---|")
    for target, ok, measured in rows:
        emit(f"| {target} | {'yes' if ok else '**no**'} | {measured} |")
    emit()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    emit(f"- load average at end: {load}; run took {time.perf_counter() - started:.0f} s")
    if args.out:
        args.out.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
