"""Lesson 6c: time and memory of the variants against sequence length, measured live on this device."""

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from app_support import efficient, loaders, show
from app_support.widgets import check_link, link_value, predict_first, warn
from attnviz import plots, scaling
from attnviz.lesson6 import INFO, human_bytes

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "RESULTS.md"
LABELS = {
    "sdpa": "PyTorch's fused kernel (SDPA)", "plain": "plain exact (keeps T×T)", "flash": "FlashAttention (ours)",
    "linformer": "Linformer", "performer": "Performer", "nystrom": "Nyströmformer",
    "nystrom-svd": "Nyströmformer (SVD pinv)", "longformer": "Longformer", "bigbird": "BigBird",
    "reformer": "Reformer", "sparse": "Sparse Transformer", "mqa": "Multi-query (1 K/V head)",
}  # fmt: skip
DEFAULT = ["sdpa", "plain", "flash", "longformer", "performer"]

device = loaders.device()
gpu = device.type == "cuda"
SIZES = (256, 512, 1024, 2048, 4096, 8192) + ((16384,) if gpu else ())
QUADRATIC_CAP = 8192 if gpu else 2048  # "plain" keeps three T×T matrices per head: 2048 is 400 MB here

st.title("6c · Scaling lab")
st.markdown(
    f"How do the variants behave as the input grows? Each case below runs **here, on {device.type.upper()}**, in "
    f"a fresh process so that no case's memory counts in another's: {scaling.HEADS} heads of width "
    f"{scaling.WIDTH}, random inputs, float32. Exact attention's time and memory grow like T², the linear "
    "variants' like T: on log-log axes, slopes 2 and 1."
)

raw_max = link_value("l6c_max")
c1, c2 = st.columns([3, 1])
cases = c1.multiselect(
    "Variants to measure", list(scaling.CASES), default=DEFAULT, key="l6c_cases", bind="query-params",
    help=" · ".join(f"{c}: {LABELS[c]}" for c in scaling.CASES),
)  # fmt: skip
longest = c2.select_slider("Longest sequence", SIZES, value=2048, key="l6c_max", bind="query-params")
check_link(raw_max, longest, f"The link asks for sequences up to “{raw_max}”; this device measures {SIZES[0]} to "
           f"{SIZES[-1]:,}: using {longest:,}.")  # fmt: skip
sizes = [n for n in SIZES if n <= longest]
where = device.type


def cap(case: str) -> int:
    return QUADRATIC_CAP if case == "plain" else SIZES[-1]


todo = [(c, n) for c in cases for n in sizes if n <= cap(c) and efficient.stored(where, c, n) is None]
if "plain" in cases and longest > QUADRATIC_CAP:
    st.caption(f"The plain exact path stops at {QUADRATIC_CAP:,} tokens here: beyond it the T×T matrices alone "
               "would crowd this machine's memory.")  # fmt: skip

if cases:
    design = [
        plots.Series(LABELS[c], SIZES, [scaling.nominal_flops(c, n) / 1e9 for n in SIZES], mode="lines+markers")
        for c in cases
    ]
    show.chart(
        plots.lines(design, title="The work each variant is designed to do (both axes logarithmic)",
                    x_title="sequence length T", y_title="GFLOP (multiply-adds × 2)", log_x=True, log_y=True,
                    x_ticks=SIZES, height=380),
        key="l6c_design", name="scaling design flops",
    )  # fmt: skip
    st.caption(
        "Counted, not measured: the products each algorithm is built from, for the settings in the help of the "
        "chooser above. A slope of 2 is quadratic, 1 is linear. The measurement below shows what the machine makes "
        "of it."
    )

slope_case = "sdpa" if "sdpa" in cases else next(iter(cases), None)
ends = [efficient.stored(where, slope_case, n) for n in (sizes[0], sizes[-1])] if slope_case else [None, None]
slope = None
if len(sizes) > 1 and all(r is not None and r.get("median_s") for r in ends):
    slope = math.log(ends[1]["median_s"] / ends[0]["median_s"]) / math.log(sizes[-1] / sizes[0])
answered = predict_first(
    "l6c_predict",
    f"From {sizes[0]:,} to {sizes[-1]:,} tokens the length grows {sizes[-1] // sizes[0]}×. How much longer will "
    f"{LABELS[slope_case] if slope_case else 'a variant'} take at the longest than at the shortest?",
    ["about the same time", "about as many times as the length grew", "about the square of that"],
    correct=None if slope is None else (0 if slope < 0.5 else (1 if slope < 1.5 else 2)),
    explain="Measure first (the button below), then the answer is read off the curve."
    if slope is None
    else f"Measured: the time grew {(sizes[-1] / sizes[0]) ** slope:.0f}× (a slope of {slope:.2f} on log-log axes). "
    "Short inputs hide the T² behind fixed costs (starting the call, passes over memory); it shows as T grows.",
)

b1, b2 = st.columns([1, 3])
go = b1.button(f"Measure {len(todo)} new case(s)", key="l6c_run", disabled=not todo, type="primary")
b2.caption("Cases measured before (by anyone on this server) are kept and not measured again.")
if go and todo:
    lock = efficient.measurement_lock()
    if not lock.acquire(blocking=False):
        warn("Another measurement is running on this server right now (timings of two at once would measure each "
             "other). Try again in a minute.")  # fmt: skip
    else:
        try:
            st.button("Cancel", key="l6c_cancel", icon=":material/stop:")
            bar = st.progress(0.0, text="Starting…")
            for i, (case, n) in enumerate(todo):

                def tick(elapsed: float, i: int = i, case: str = case, n: int = n) -> None:
                    bar.progress(i / len(todo), text=f"{LABELS[case]} at {n:,} tokens: {elapsed:.0f} s "
                                 f"(case {i + 1} of {len(todo)})")  # fmt: skip

                task = {"task": "time", "name": case, "n": n, "device": where, "quick": True, "min_reps": 4,
                        "budget_s": 0.3}  # fmt: skip
                efficient.keep(where, case, n, scaling.run_case(task, timeout=180, tick=tick))
            bar.progress(1.0, text=f"Measured {len(todo)} case(s).")
        finally:
            lock.release()

# --- the curves --------------------------------------------------------------------------------------------------
rows = []
for case in cases:
    for n in sizes:
        r = efficient.stored(where, case, n)
        if r is not None:
            rows.append({"variant": LABELS[case], "case": case, "n": n, **r})
if rows and answered:
    show.step("Time and memory against length")
    table = pd.DataFrame(rows)
    failed = table[table.get("error", pd.Series(dtype=object)).notna()] if "error" in table else table.iloc[:0]
    for _, row in failed.iterrows():
        warn(f"{row['variant']} at {row['n']:,} tokens did not finish: {row['error']}")
    good = table[table["median_s"].notna()] if "median_s" in table else table.iloc[:0]
    base = "sdpa" if "sdpa" in cases else ("plain" if "plain" in cases else None)

    def curve(case: str, field: str) -> tuple[list[int], list[float]]:
        part = good[good["case"] == case].sort_values("n")
        return part["n"].tolist(), part[field].tolist()

    for field, title, unit, scale_ in (("median_s", "Time per call", "seconds", 1.0),
                                       ("extra_bytes", "Peak extra memory", "MiB", 2.0**-20)):  # fmt: skip
        series, marks = [], []
        for case in cases:
            ns, ys = curve(case, field)
            pts = [(n, y * scale_) for n, y in zip(ns, ys, strict=True) if y == y and y > 0]
            if pts:
                series.append(plots.Series(LABELS[case], [p[0] for p in pts], [p[1] for p in pts],
                                           mode="lines+markers"))  # fmt: skip
        if base is not None:
            bn, by = curve(base, field)
            for case in cases:
                if case == base:
                    continue
                cn, cy = curve(case, field)
                common = sorted(set(bn) & set(cn))
                a = [by[bn.index(n)] * scale_ for n in common]
                b = [cy[cn.index(n)] * scale_ for n in common]
                for x in scaling.crossovers(common, a, b, base, case):
                    if x.faster == case:
                        marks.append((x.n, x.value, f"{LABELS[case].split(' (')[0]} wins from ≈{x.n:,.0f}"))
        if series:
            show.chart(
                plots.lines(series, title=f"{title} (both axes logarithmic)", x_title="sequence length T", y_title=unit,
                            log_x=True, log_y=True, x_ticks=sizes, marks=marks, height=440),
                key=f"l6c_{field}", name=f"scaling {field}",
            )  # fmt: skip
    st.caption(
        "Marked: where a variant's curve crosses below "
        + (LABELS[base] if base else "an exact baseline (choose SDPA or plain to see crossings)")
        + ". Memory on the CPU is the rise of the process's peak resident set, so small cases can read 0 (not drawn)."
    )
    shown = good.assign(
        time=good["median_s"].map(lambda s: f"{s * 1e3:.2f} ms"),
        memory=good["extra_bytes"].map(lambda b: "n/a" if b != b else human_bytes(max(b, 0))),
        gflops=(good["gflop"] / good["median_s"]).map(lambda g: f"{g:.1f}"),
    )[["variant", "n", "time", "memory", "gflops"]].rename(columns={"gflops": "GFLOP/s (nominal)"})
    st.dataframe(shown, key="l6c_table", hide_index=True)

# --- a million tokens ---------------------------------------------------------------------------------------------
show.step("A million tokens")
st.markdown(
    "Sliding-window attention (Longformer, w = 256, 2 global tokens, one head of width 64) over **1,048,576 "
    f"tokens**. Exact attention would need a {human_bytes(float(1 << 40) * 4)} score matrix for that one head."
)
million = efficient.stored(where, "million", 1 << 20)
if st.button("Run it", key="l6c_million", icon=":material/play_arrow:"):
    lock = efficient.measurement_lock()
    if not lock.acquire(blocking=False):
        warn("Another measurement is running on this server right now. Try again in a minute.")
    else:
        try:
            st.button("Cancel", key="l6c_million_cancel", icon=":material/stop:")
            bar = st.progress(0.0, text="Starting…")

            def tick(elapsed: float) -> None:
                bar.progress(min(elapsed / 60.0, 0.99), text=f"Running: {elapsed:.0f} s")

            million = scaling.run_case({"task": "million", "device": where, "quick": False}, timeout=300, tick=tick)
            efficient.keep(where, "million", 1 << 20, million)
            bar.progress(1.0, text="Done.")
        finally:
            lock.release()
if million is not None:
    if "error" in million:
        warn(f"The run did not finish: {million['error']}")
    else:
        m1, m2, m3 = st.columns(3)
        m1.metric("Time", f"{million['median_s']:.2f} s")
        extra = million["extra_bytes"]
        m2.metric("Peak extra memory", "n/a" if extra != extra else human_bytes(max(extra, 0)))
        m3.metric("Throughput", f"{million['gflop'] / million['median_s']:.1f} GFLOP/s")
        st.caption(f"{million['gflop']:.0f} GFLOP of useful multiply-adds (4·n·w·d), on {where.upper()}.")

# --- the committed tables ----------------------------------------------------------------------------------------
show.step("Reference: the committed benchmark")
if RESULTS.exists():
    # part 1 of the file is bench_efficient.py's output; part 2 (the classroom load test) belongs to the teacher
    committed = RESULTS.read_text(encoding="utf-8").split("\n## 2. ")[0]
    with st.expander("bench/RESULTS.md (measured with bench/bench_efficient.py; every size, every variant)"):
        st.markdown(committed)
else:
    st.info(
        "bench/RESULTS.md is not in this copy of the course yet. It is written by `python bench/bench_efficient.py "
        "--out bench/RESULTS.md`, which runs the same measurements as this page for every variant and size.",
        icon=":material/info:",
    )

# --- closing comparison -------------------------------------------------------------------------------------------
show.step("Which to choose")
st.dataframe(
    pd.DataFrame(
        {
            "keeps exact": [i.keeps_exact for i in INFO.values()],
            "gives up": [i.costs for i in INFO.values()],
            "time": [i.time for i in INFO.values()],
            "extra memory": [i.memory for i in INFO.values()],
            "choose it for": [i.choose_when for i in INFO.values()],
        },
        index=pd.Index([i.title for i in INFO.values()], name="variant"),
    ),
    key="l6c_choose",
)
st.markdown(
    "- **Fidelity:** FlashAttention (exact) and, for decoding, grouped-query attention (exact softmax, shared K/V).\n"
    "- **Very long inputs:** Longformer or BigBird when links are mostly local; Reformer when each token needs its "
    "nearest few; Performer or Linformer when a rough global mix is enough.\n"
    "- **Low latency:** a fused exact kernel up to a few thousand tokens (see the crossings above); beyond, a "
    "linear variant.\n"
    "- **Memory:** FlashAttention removes the T×T matrix; multi-query / grouped-query shrinks the KV cache."
)
