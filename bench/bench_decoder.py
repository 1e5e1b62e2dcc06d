"""Our own pass of SmolLM2-135M-Instruct (attnviz.decoder) against transformers on the same GGUF file.

Prints one table: load time and resident memory (fresh processes), then, for each thread count, interleaved
(every row in turn, so ours and transformers see the same load): a 256-token pass with every layer's attention
maps kept and without maps, a first view of a new 256-token text, one generated token with the KV cache after 256
tokens, and 8 generated tokens with and without the cache. Wall time (median) and the process's CPU time (median;
with 2 threads it adds both threads') are both given: on a shared machine the CPU time is the steadier figure.
Then the largest differences from transformers.

Limits from issue 28: our pass with the maps no slower than transformers' eager pass with its maps at the same
thread count; a first view ≤ 1.5 s; one generated token with the cache ≤ 80 ms.

    python bench/bench_decoder.py                # about 5 minutes on a quiet 2-core machine
    python bench/bench_decoder.py --reps 3 --loads 1 --gen-reps 1
    python bench/bench_decoder.py --kernels      # one layer's attention only, five ways (about 10 s)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TQDM_DISABLE="1")  # the same local file, quietly

import torch  # noqa: E402

from attnviz.census_paragraphs import PARAGRAPHS  # noqa: E402
from attnviz.decoder import FILE_NAME, encode, forward, generate, load_model, next_tokens, run, sink_share  # noqa: E402

N_NEW = 8  # tokens generated in the generation rows

_FRESH_OURS = """
import json, resource, sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
import attnviz.decoder as dec
t2 = time.perf_counter()
before, c = rss(), time.process_time()
model = dec.load_model("cpu")
t3, c3 = time.perf_counter(), time.process_time()
after = rss()
dec.forward(model, sys.argv[1])
t4 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"import_torch": t1 - t0, "import_decoder": t2 - t1, "load": t3 - t2, "load_cpu": c3 - c,
                  "first_pass": t4 - t3, "rss_before": before, "rss_after": after, "peak_rss": peak}))
"""

_FRESH_REF = """
import json, os, resource, sys, time
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TQDM_DISABLE="1")
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
import torch
from transformers import AutoModelForCausalLM
before, c, t = rss(), time.process_time(), time.perf_counter()
AutoModelForCausalLM.from_pretrained(sys.argv[1], gguf_file=sys.argv[2], local_files_only=True).eval()
print(json.dumps({"load": time.perf_counter() - t, "load_cpu": time.process_time() - c, "rss_before": before,
                  "rss_after": rss(), "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return "unknown CPU"


def load_avg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def fresh(script: str, args: list[str], n: int) -> dict[str, float]:
    """Median of each figure over ``n`` fresh processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def load_reference(folder: Path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' progress bars while it converts the file
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    return AutoModelForCausalLM.from_pretrained(
        str(folder), gguf_file=FILE_NAME, attn_implementation="eager", local_files_only=True
    ).eval()


Timed = dict[str, tuple[float, float]]  # row → (median wall ms, median CPU ms)


def interleaved(fns: dict[str, Callable[[], object]], reps: int) -> Timed:
    """Median wall and CPU ms of each function, run in turn so that every one sees the same load."""
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            c, t = time.process_time(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    return {name: (statistics.median(wall[name]) * 1e3, statistics.median(cpu[name]) * 1e3) for name in fns}


def first_view(model, text: str) -> None:
    """What a page does on a new text: read it, one pass with every map, the next tokens, the sinks' share."""
    f = forward(model, text)
    next_tokens(model, f.next_logits, 10)
    sink_share(f.weights)


def rows(model, ref, tokens, texts: list[str]) -> tuple[dict[str, Callable[[], object]], dict[str, Callable]]:
    """The timed rows (fast ones, and the generation rows that take seconds)."""
    ids = torch.tensor([tokens.ids])  # (1, T)
    new = torch.tensor([[tokens.ids[-1]]])  # (1, 1) the token to generate from
    with torch.inference_mode():
        state = {
            "hf": ref(ids[:, :-1], use_cache=True).cache,  # 255 cached, as ours below
            "ours": run(model, ids[0, :-1], keep_weights=False, all_logits=False).cache,
            "text": 0,
        }

    def hf(attn: str, **kw):
        ref.set_attn_implementation(attn)
        return ref(ids, **kw)

    def hf_step():  # transformers' cache grows in place: each call adds one token, as ours below
        ref.set_attn_implementation("sdpa")
        state["hf"] = ref(new, cache=state["hf"], use_cache=True).cache

    def ours_step():
        state["ours"] = run(model, new[0], state["ours"], all_logits=False).cache  # its attention row kept

    def new_text():  # a text this process has not read: the census paragraphs in another order
        state["text"] += 1
        first_view(model, texts[state["text"] % len(texts)])

    def hf_generate(use_cache: bool):
        ref.set_attn_implementation("sdpa")
        ref.generate(ids, max_new_tokens=N_NEW, min_new_tokens=N_NEW, do_sample=False, use_cache=use_cache,
                     pad_token_id=0)  # fmt: skip

    fast = {
        "256 tokens, maps kept: ours": lambda: forward(model, tokens),
        "256 tokens, maps kept: transformers eager": lambda: hf("eager", output_attentions=True),
        "256 tokens, no maps: ours (SDPA)": lambda: forward(model, tokens, keep_weights=False),
        "256 tokens, no maps: transformers sdpa": lambda: hf("sdpa"),
        "first view of a new 256-token text: ours": new_text,
        "one cached token after 256: ours": ours_step,
        "one cached token after 256: transformers": hf_step,
    }
    slow = {
        f"{N_NEW} tokens with the cache: ours": lambda: generate(model, tokens, N_NEW, keep_weights=False),
        f"{N_NEW} tokens with the cache: transformers": lambda: hf_generate(True),
        f"{N_NEW} tokens without the cache: ours": lambda: generate(
            model, tokens, N_NEW, use_cache=False, keep_weights=False
        ),
        f"{N_NEW} tokens without the cache: transformers": lambda: hf_generate(False),
    }
    return fast, slow


@torch.inference_mode()
def differences(model, ref, tokens) -> tuple[float, float, float]:
    ref.set_attn_implementation("eager")
    ours = forward(model, tokens)
    theirs = ref(torch.tensor([tokens.ids]), output_attentions=True)
    logits = float((ours.logits - theirs.logits[0]).abs().max())
    weights = float((ours.weights - torch.stack(theirs.attentions)[:, 0]).abs().max())
    fused = float((forward(model, tokens, keep_weights=False).logits - theirs.logits[0]).abs().max())
    return logits, weights, fused


def texts_of_256(model) -> tuple[object, list[str]]:
    """The four census paragraphs read as one text (cut at 256 tokens), and four reorderings of them."""
    orders = [PARAGRAPHS[i:] + PARAGRAPHS[:i] for i in range(len(PARAGRAPHS))]
    tokens = encode(model, " ".join(PARAGRAPHS))
    assert len(tokens) == 256, len(tokens)
    return tokens, [" ".join(reversed(o)) for o in orders]


def print_load(ours: dict[str, float], theirs: dict[str, float] | None, n: int) -> None:
    mib = 2**20
    print(f"Load, fresh process (median of {n}; transformers once)   ours       transformers")
    print(f"  import torch                                 {ours['import_torch']:8.2f} s")
    print(f"  import attnviz.decoder (reads nothing)       {ours['import_decoder']:8.2f} s")
    tl = f"{theirs['load']:8.2f} s ({theirs['load_cpu']:.1f} s CPU)" if theirs else "-"
    print(f"  load the GGUF file (wall, CPU)               {ours['load']:8.2f} s ({ours['load_cpu']:.1f} s CPU)  {tl}")
    print(f"  first pass, 256 tokens, cold                 {ours['first_pass']:8.2f} s")
    added = (theirs["rss_after"] - theirs["rss_before"]) / mib if theirs else float("nan")
    print(f"  resident memory added by the load            {(ours['rss_after'] - ours['rss_before']) / mib:8.0f} MiB"
          f"      {added:6.0f} MiB")  # fmt: skip
    print(f"  resident memory after the load (process)     {ours['rss_after'] / mib:8.0f} MiB"
          f"      {(theirs['rss_after'] / mib if theirs else float('nan')):6.0f} MiB")  # fmt: skip
    print(f"  peak resident memory of the process          {ours['peak_rss'] / mib:8.0f} MiB"
          f"      {(theirs['peak_rss'] / mib if theirs else float('nan')):6.0f} MiB")  # fmt: skip


@torch.inference_mode()
def kernels(reps: int = 50) -> None:
    """One layer's attention at 256 tokens (9 query heads, 3 key/value heads, width 64), five ways, 1 thread."""
    import math

    import torch.nn.functional as F

    from attnviz.attention import causal_mask, scaled_dot_product
    from attnviz.decoder import expand_kv
    from attnviz.decoder.forward import causal_bias, grouped_attention

    torch.set_num_threads(1)
    torch.manual_seed(0)
    q, k, v = torch.randn(9, 256, 64), torch.randn(3, 256, 64), torch.randn(3, 256, 64)
    mask, bias = causal_mask(256), causal_bias(256, 256)

    def eager():  # transformers' eager attention: repeat_kv, matmul, scale, add the mask, softmax, matmul
        kx, vx = expand_kv(k, 9), expand_kv(v, 9)
        return torch.softmax(q @ kx.transpose(1, 2) / math.sqrt(64) + bias, -1) @ vx

    ways = {
        "course scaled_dot_product on expanded K, V": lambda: scaled_dot_product(
            q, expand_kv(k, 9), expand_kv(v, 9), mask=mask
        ),
        "grouped_attention (ours, maps kept)": lambda: grouped_attention(q, k, v, bias),
        "transformers-style eager": eager,
        "SDPA, 3-D tensors, GQA, causal": lambda: F.scaled_dot_product_attention(
            q, k, v, is_causal=True, enable_gqa=True
        ),
        "SDPA, 4-D tensors, GQA, causal (ours, no maps)": lambda: F.scaled_dot_product_attention(
            q[None], k[None], v[None], is_causal=True, enable_gqa=True
        ),
    }
    print(f"One layer's attention at 256 tokens, 1 thread, CPU ms, median of {reps} (load average {load_avg()})")
    for name, fn in interleaved(ways, reps).items():
        print(f"  {name:50} {fn[1]:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=2, help="fresh processes timed for our load (median)")
    parser.add_argument("--reps", type=int, default=7, help="interleaved repetitions of the fast rows (median)")
    parser.add_argument("--gen-reps", type=int, default=2, help="interleaved repetitions of the generation rows")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--no-reference-load", action="store_true", help="skip transformers' fresh-process load")
    parser.add_argument("--kernels", action="store_true", help="time one layer's attention five ways, and stop")
    args = parser.parse_args()
    if args.kernels:
        kernels()
        return
    threads = [int(t) for t in args.threads.split(",") if t.strip()]

    import transformers

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now} · torch {torch.__version__} · transformers {transformers.__version__} · {cpu_model()} "
          f"({os.cpu_count()} cores)")  # fmt: skip
    print(f"load average (1, 5, 15 min) at the start: {load_avg()}")
    print()
    model = load_model("cpu")
    tokens, texts = texts_of_256(model)
    ours_load = fresh(_FRESH_OURS, [" ".join(PARAGRAPHS)], args.loads)
    ref_load = None if args.no_reference_load else fresh(_FRESH_REF, [str(model.path.parent), FILE_NAME], 1)
    print_load(ours_load, ref_load, args.loads)
    print(f"  load average after the loads: {load_avg()}")
    print()

    ref = load_reference(model.path.parent)
    fast, slow = rows(model, ref, tokens, texts)
    results: dict[int, Timed] = {}
    with torch.inference_mode():
        for t in threads:
            torch.set_num_threads(t)
            results[t] = {**interleaved(fast, args.reps), **interleaved(slow, args.gen_reps)}
            print(f"  {t} thread(s) done; load average {load_avg()}")
    print()
    print(f"ms, median of {args.reps} interleaved runs ({args.gen_reps} for generation): wall / CPU")
    print(f"  {'':48}" + "".join(f"{f'{t} thread(s)':>18}" for t in threads))
    for name in results[threads[0]]:
        print(f"  {name:48}" + "".join(f"{results[t][name][0]:9.0f} /{results[t][name][1]:6.0f}" for t in threads))
    print()
    for t in threads:
        r = {name: wall for name, (wall, _) in results[t].items()}
        ours, theirs = r["256 tokens, maps kept: ours"], r["256 tokens, maps kept: transformers eager"]
        view, step = r["first view of a new 256-token text: ours"], r["one cached token after 256: ours"]
        print(f"  {t} thread(s): pass with maps {ours:.0f} vs transformers {theirs:.0f} ms "
              f"({'ok' if ours <= theirs else 'SLOWER'}); first view {view:.0f} ms (≤ 1,500: "
              f"{'ok' if view <= 1500 else 'MISSED'}); a cached token {step:.0f} ms (≤ 80: "
              f"{'ok' if step <= 80 else 'MISSED'})")  # fmt: skip
    torch.set_num_threads(max(threads))
    logits, weights, fused = differences(model, ref, tokens)
    print()
    print(f"Largest difference from transformers at 256 tokens: logits {logits:.1e} (maps kept), {fused:.1e} "
          f"(no maps, SDPA); attention weights {weights:.1e}")  # fmt: skip
    print(f"load average (1, 5, 15 min) at the end: {load_avg()}")


if __name__ == "__main__":
    main()
