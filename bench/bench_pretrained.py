"""Load time and forward time of our own all-MiniLM-L6-v2 forward pass (attnviz.pretrained).

Targets from the issue: the model loads in under 3 s, and the forward pass of a 12-word sentence takes under
50 ms (median, after load). Loads are timed in fresh processes; forwards are the median of warm repetitions.

    python bench/bench_pretrained.py                 # CPU, default torch threads and 1 thread
    python bench/bench_pretrained.py --device cuda   # wherever the tensors should live
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from attnviz.device import describe  # noqa: E402
from attnviz.pretrained import encode, forward, load_model, sentence_embedding  # noqa: E402

SENTENCE = "the quick brown fox jumps over the lazy dog near the river"  # 12 words
# single-piece words: n of them make n + 2 tokens with [CLS] and [SEP]
FILLER = ("the", "cat", "sat", "on", "the", "mat", "because", "it", "was", "tired", "and", "a", "dog")

# what a fresh process pays before it can show the first real attention map
_FRESH = """
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from attnviz.pretrained import forward, load_model
t2 = time.perf_counter()
model = load_model(sys.argv[1])
t3 = time.perf_counter()
forward(model, "the quick brown fox jumps over the lazy dog near the river")
if model.device.type == "cuda":
    torch.cuda.synchronize()
t4 = time.perf_counter()
times = {"import_torch": t1 - t0, "import_attnviz": t2 - t1, "load_model": t3 - t2, "first_forward": t4 - t3}
print(json.dumps(times))
"""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fresh_loads(device: str, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(n):
        out = subprocess.run(
            [sys.executable, "-c", _FRESH, device], env=env, capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def text_of(n_tokens: int) -> str:
    words = [FILLER[i % len(FILLER)] for i in range(n_tokens - 2)]
    return " ".join(words)


def time_ms(fn, reps: int, sync: bool) -> tuple[float, float]:
    """(median, fastest) milliseconds over warm repetitions; the fastest shows the cost without contention."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu, the target's)")
    parser.add_argument("--loads", type=int, default=5, help="fresh processes timed for the load (median)")
    parser.add_argument("--reps", type=int, default=50, help="warm forward repetitions per row (median)")
    default = f"{torch.get_num_threads()},1"
    parser.add_argument("--threads", default=default, help="comma-separated torch thread counts to time")
    args = parser.parse_args()

    model = load_model(args.device, max_pieces=None)  # all 512 positions: the course reads 256, the bench times 512
    sync = model.device.type == "cuda"
    print(f"torch {torch.__version__} · {describe(model.device)} · {cpu_model()} ({os.cpu_count()} cores)")
    load_avg = os.getloadavg()
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in load_avg)}")
    if load_avg[0] > (os.cpu_count() or 1) * 0.5:
        print("  (other processes keep this CPU busy: multi-threaded timings suffer most; compare 1 thread)")
    print()

    load = fresh_loads(args.device, args.loads)
    print(f"Load, fresh process, median of {args.loads}            seconds")
    print(f"  import torch                                  {load['import_torch']:8.3f}")
    print(f"  import attnviz.pretrained                     {load['import_attnviz']:8.3f}")
    print(f"  load_model() (weights + tokenizer)            {load['load_model']:8.3f}   target < 3 s")
    print(f"  first forward (12 words, cold)                {load['first_forward']:8.3f}")
    print()

    rows = [("12 words", encode(model, SENTENCE))]
    rows += [(f"{n} tokens", encode(model, text_of(n))) for n in (64, 128, 512)]
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    default_threads = torch.get_num_threads()
    print(f"Forward in ms, median (fastest) of {args.reps} warm runs; a fifth as many at 512 tokens")
    header = "".join(f"   forward@{t}t (min)  embed@{t}t" for t in threads)
    print(f"  {'input':<10} {'T':>4}{header}")
    results = {}
    for label, tokens in rows:
        assert not tokens.truncated, label
        cells = ""
        for t in threads:
            torch.set_num_threads(t)
            reps = args.reps if len(tokens) <= 128 else max(5, args.reps // 5)
            fwd, fastest = time_ms(lambda tokens=tokens: forward(model, tokens), reps, sync)
            emb, _ = time_ms(lambda tokens=tokens: sentence_embedding(model, tokens), reps, sync)
            results[(label, t)] = fwd
            cells += f"   {fwd:10.1f} ({fastest:5.1f})  {emb:8.1f}"
        print(f"  {label:<10} {len(tokens):>4}{cells}")
    torch.set_num_threads(default_threads)
    print()
    print("forward = every intermediate kept (Forward); embed = sentence_embedding(), intermediates dropped")
    for t in threads:
        ms = results[("12 words", t)]
        verdict = "ok" if ms < 50 else "MISSED"
        print(f"12-word forward with {t} thread(s): {ms:.1f} ms, target < 50 ms: {verdict}")
    verdict = "ok" if load["load_model"] < 3 else "MISSED"
    print(f"load_model: {load['load_model']:.2f} s, target < 3 s: {verdict}")


if __name__ == "__main__":
    main()
