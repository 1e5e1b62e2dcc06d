"""Lesson 6c: time and memory of the variants against sequence length, measured live on this device."""

import importlib.util
import math
from pathlib import Path

import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import loaders
from app_support.efficient import efficient_closing, efficient_lab
from app_support.kit import charts, sentence, steps, tables
from app_support.kit.widgets import check_link, link_value, warn
from attnviz import curves, plots, scaling
from attnviz.efficient import flex
from attnviz.efficient.costs import human_bytes

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "RESULTS.md"
TIMED = scaling.timing()  # every timed case, read from the registry at each run of the page
LABELS = {case: timed.label for case, timed in TIMED.items()}  # every case's record names it
DEFAULT = ["sdpa", "plain", "flash", "longformer", "performer"]
EXACT = tuple(case for case, timed in TIMED.items() if timed.exact)  # every (causal) score: slope 2

device = loaders.device()
gpu = device.type == "cuda"
kernel_lang = "CUDA" if gpu else "C++"
compiled_lang = "Triton" if gpu else "C++"
for fused in ("sdpa-flash", "sdpa-efficient"):
    LABELS[fused] += f" ({kernel_lang})"
triton_flash = gpu and importlib.util.find_spec("triton") is not None  # flash (gpu_kernel=True) runs our Triton kernel
if triton_flash:
    LABELS["flash"] = "FlashAttention (ours, Triton kernel)"
BACKEND_NAMES = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "math": "MATH"}
runnable = flex.sdpa_backends(device.type)
missing = [c for c, b in scaling.SDPA_CASES.items() if b not in runnable]
OFFERED = [c for c in TIMED if c not in missing]
SIZES = (256, 512, 1024, 2048, 4096, 8192) + ((16384,) if gpu else ())
QUADRATIC_CAP = 8192 if gpu else 2048  # "plain" keeps three T×T matrices per head: 2048 is 400 MB here

keepers = [LABELS[c].split(" (")[0] for c in scaling.keeps_matrix(OFFERED)]  # exact cases whose memory grows like T²

st.title("6c · Scaling lab")
st.markdown(
    f"How do the variants behave as the input grows? Each case below runs **here, on {device.type.upper()}**, in "
    f"a fresh process so that no case's memory counts in another's: {scaling.HEADS} heads of width "
    f"{scaling.WIDTH}, random inputs, float32. On log-log axes a curve's slope tells how it grows: 2 is T², 1.5 is "
    "T·√T, 1 is T (T·log T reads a little above 1). Time and memory need not grow alike: every exact kernel "
    f"computes all T² scores, but only {len(keepers)} of the cases store them as T×T matrices, "
    + " and ".join(keepers)
    + "; a fused kernel works tile by tile, and its memory grows like T. The slopes of what you measure are "
    "computed below, beside what each method is designed to do."
)

raw_max = link_value("l6c_max")
cases = efficient_lab.choose_many("l6c_cases", "Variants to measure", {c: LABELS[c] for c in OFFERED}, DEFAULT)
c2, _ = st.columns([1, 2])
longest = c2.select_slider("Longest sequence", SIZES, value=2048, key="l6c_max", bind="query-params")
check_link(raw_max, longest, f"The link asks for sequences up to “{raw_max}”; this device measures {SIZES[0]} to "
           f"{SIZES[-1]:,}: using {longest:,}.")  # fmt: skip
sizes = [n for n in SIZES if n <= longest]
if missing:
    st.caption(
        "Left out on this "
        + device.type.upper()
        + ": "
        + ", ".join(f"SDPBackend.{BACKEND_NAMES[scaling.SDPA_CASES[c]]}" for c in missing)
        + f" (PyTorch {__import__('torch').__version__} has no such kernel here; tried at start). SDPA's backends "
        "that run here: " + ", ".join(f"SDPBackend.{BACKEND_NAMES[b]}" for b in runnable) + "."
    )
if any(c in scaling.FLEX_CASES for c in cases):
    st.caption(
        "FlexAttention runs a mask written as a function of (query, key) positions as one fused kernel that skips "
        f"the 128×128 blocks the pattern leaves empty; `torch.compile` builds that kernel ({compiled_lang} here) on "
        "the **first call**, which takes seconds. Each case runs in a fresh process, so each compiles once, before "
        "its timing starts: the times below are of the compiled kernel, and the compile time is listed beside them."
    )
where = device.type


def cap(case: str) -> int:
    return QUADRATIC_CAP if case == "plain" else SIZES[-1]


todo = [(c, n) for c in cases for n in sizes if n <= cap(c) and efficient_lab.stored(where, c, n) is None]
if "plain" in cases and longest > QUADRATIC_CAP:
    st.caption(f"The plain exact path stops at {QUADRATIC_CAP:,} tokens here: beyond it the T×T matrices alone "
               "would crowd this machine's memory.")  # fmt: skip

if cases:
    design = [
        plots.Series(LABELS[c], SIZES, [scaling.nominal_flops(c, n) / 1e9 for n in SIZES], mode="lines+markers")
        for c in cases
    ]
    charts.chart(
        plots.lines(design, title="The work each variant is designed to do (both axes logarithmic)",
                    x_title="sequence length T", y_title="GFLOP (multiply-adds × 2)", log_x=True, log_y=True,
                    x_ticks=SIZES, height=380),
        key="l6c_design", name="scaling design flops",
    )  # fmt: skip
    st.caption(
        "Counted, not measured: the products each algorithm is built from, with the settings in the table below. "
        "The measurement further down shows what the machine makes of it."
        + "".join(
            f" {', '.join(names[:-1])} and {names[-1]} are designed to do the same work: their lines lie on one "
            "another, the later ones dashed over the first."
            for names in plots.coincident_groups(design)
        )
    )
    if "mqa" in cases:
        st.caption(
            "Multi-query attention runs here over the whole sequence at once, as a prompt is read: it computes all "
            "T² scores like exact attention, so it is not designed to be faster here. What it saves is the KV cache "
            "while decoding one token at a time, which page 6 times (choose Multi-Query / Grouped-Query there)."
        )
    with st.expander("The settings each case runs with, and how it is designed to grow"):
        st.table(
            pd.DataFrame(
                {
                    "settings": [TIMED[c].setting for c in cases],
                    "time grows like": [TIMED[c].growth[0] for c in cases],
                    "extra memory grows like": [TIMED[c].growth[1] for c in cases],
                },
                index=pd.Index([LABELS[c] for c in cases], name="variant"),
            )
        )

slope_case = "sdpa" if "sdpa" in cases else next(iter(cases), None)
ends = [efficient_lab.stored(where, slope_case, n) for n in (sizes[0], sizes[-1])] if slope_case else [None, None]
slope = None
if len(sizes) > 1 and all(r is not None and r.get("median_s") for r in ends):
    slope = math.log(ends[1]["median_s"] / ends[0]["median_s"]) / math.log(sizes[-1] / sizes[0])
answered = len(sizes) < 2  # one length: nothing to compare, so nothing to predict
if answered:
    st.caption(f"Only one length, {sizes[0]:,} tokens: choose a longer “longest sequence” to see how time grows.")
else:
    answered = predict_first(
        "l6c_predict",
        f"From {sizes[0]:,} to {sizes[-1]:,} tokens the length grows {sizes[-1] // sizes[0]}×. How much longer will "
        f"{LABELS[slope_case] if slope_case else 'a variant'} take at the longest than at the shortest?",
        ["about the same time", "about as many times as the length grew", "about the square of that"],
        correct=None if slope is None else (0 if slope < 0.5 else (1 if slope < 1.5 else 2)),
        explain="Measure first (the button below), then the answer is read off the curve."
        if slope is None
        else f"Measured: the time grew {(sizes[-1] / sizes[0]) ** slope:.0f}× (a slope of {slope:.2f} on log-log axes)."
        + (
            " Short inputs hide the T² behind fixed costs (starting the call, passes over memory); it shows as T grows."
            if slope < 1.5
            else ""
        ),
    )

b1, b2 = st.columns([1, 3])
go = b1.button(f"Measure {len(todo)} new case(s)", key="l6c_run", disabled=not todo, type="primary")
b2.caption("Cases measured before (by anyone on this server) are kept and not measured again. Cancel stops the "
           "running case at once; what was measured is kept.")  # fmt: skip
if go and todo:
    jobs = [
        efficient_lab.Job(case, n, {"task": "time", "name": case, "n": n, "device": where, "quick": True, "min_reps": 4,
                                "budget_s": 0.3}, f"{LABELS[case]} at {n:,} tokens")
        for case, n in todo
    ]  # fmt: skip
    efficient_lab.measure(jobs, device=where, cancel_key="l6c_cancel", timeout=240)
if (note := efficient_lab.stopped_note()) is not None:
    st.info(note, icon=":material/stop:")

# --- the curves --------------------------------------------------------------------------------------------------
rows = []
for case in cases:
    for n in sizes:
        r = efficient_lab.stored(where, case, n)
        if r is not None:
            rows.append({"variant": LABELS[case], "case": case, "n": n, **r})
if rows and answered:
    steps.step("Time and memory against length")
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
                if case == base or case in scaling.SDPA_CASES:  # PyTorch's own exact kernels: no "win" to mark
                    continue
                cn, cy = curve(case, field)
                common = sorted(set(bn) & set(cn))
                a = [by[bn.index(n)] * scale_ for n in common]
                b = [cy[cn.index(n)] * scale_ for n in common]
                for x in curves.crossovers(common, a, b, base, case):
                    if x.faster == case:
                        marks.append((x.n, x.value, f"{LABELS[case].split(' (')[0]} wins from ≈{x.n:,.0f}"))
        if series:
            charts.chart(
                plots.lines(series, title=f"{title} (both axes logarithmic)", x_title="sequence length T", y_title=unit,
                            log_x=True, log_y=True, x_ticks=sizes, marks=marks, height=440),
                key=f"l6c_{field}", name=f"scaling {field}",
            )  # fmt: skip
    st.caption(
        "Marked: where a variant's curve crosses below "
        + (LABELS[base] if base else "an exact baseline (choose SDPA or plain to see crossings)")
        + ". Memory on the CPU is the rise of the process's peak resident set, so small cases can read 0 (not drawn). "
        "Timings on a shared machine vary from run to run: a crossing between close curves can move or vanish."
    )
    shown = good.assign(
        time=good["median_s"].map(lambda s: f"{s * 1e3:.2f} ms"),
        memory=good["extra_bytes"].map(lambda b: "n/a" if b != b else human_bytes(max(b, 0))),
        gflops=(good["gflop"] / good["median_s"]).map(lambda g: f"{g:.1f}"),
    )[["variant", "n", "time", "memory", "gflops"]].rename(columns={"gflops": "GFLOP/s (nominal)"})
    if "compile_s" in good:
        shown["first call (compile)"] = good["compile_s"].map(lambda c: "" if c != c else f"{c:.1f} s")
    tables.table(shown, key="l6c_table", hide_index=True)
    if "compile_s" in good and good["compile_s"].notna().any():
        flexed = good[good["compile_s"].notna()]
        slow = flexed.loc[flexed["compile_s"].idxmax()]
        st.caption(
            f"Compiling took {flexed['compile_s'].min():.1f} to {flexed['compile_s'].max():.1f} s per process here "
            f"(the longest: {slow['variant']} at {slow['n']:,} tokens, {slow['compile_s'] / slow['median_s']:,.0f}× "
            "one compiled call). A model compiles once and then calls the kernel many times; a single call would "
            "not pay off."
        )
    if "compiled" in good:
        for _, row in good[good["compiled"].eq(False)].iterrows():  # NaN (not False) for the other cases
            warn(f"{row['variant']} at {row['n']:,} tokens: {row['note']}. Its curve is ours, not FlexAttention.")

    steps.step("Which curve grows how: the measured slopes")
    slopes = []
    for case in cases:
        ns, ts = curve(case, "median_s")
        _, ms = curve(case, "extra_bytes")
        if len(ns) < 2:
            continue
        t_slope, m_slope = curves.loglog_slope(ns, ts), curves.loglog_slope(ns, ms)
        slopes.append({
            "variant": LABELS[case], "lengths": f"{ns[0]:,}–{ns[-1]:,}",
            "time: measured slope": "–" if t_slope is None else f"{t_slope:.2f}",
            "time: designed": TIMED[case].growth[0],
            "memory: measured slope": "–" if m_slope is None else f"{m_slope:.2f}",
            "memory: designed": TIMED[case].growth[1],
        })  # fmt: skip
    if slopes:
        st.table(pd.DataFrame(slopes).set_index("variant"))
        st.caption(
            "Least-squares slopes on log-log axes over the lengths measured; memory points that read 0 are left out "
            "(–: fewer than two). Short inputs hide growth behind fixed costs, so slopes rise as the longest length "
            "grows."
        )
    else:
        st.caption("Measure at least two lengths of a variant to see its slopes.")
    flex_ns = curve("flex-longformer", "median_s")[0]
    if flex_ns:
        shares = [flex.longformer_block_share(n) for n in (flex_ns[0], flex_ns[-1])]
        st.caption(
            "FlexAttention computes whole 128×128 blocks: for Longformer's window (w = 256, 2 global tokens) it "
            f"computes {shares[0]:.0%} of the blocks at {flex_ns[0]:,} tokens"
            + (f" and {shares[1]:.0%} at {flex_ns[-1]:,}" if len(flex_ns) > 1 else "")
            + ". Its time can grow like T only once T spans many windows, where the share computed falls as T grows."
        )
    ratio_at = sorted(set(curve("sdpa", "median_s")[0]) & set(curve("flash", "median_s")[0]))
    if ratio_at:
        n = ratio_at[-1]
        t_sdpa = curve("sdpa", "median_s")[1][curve("sdpa", "median_s")[0].index(n)]
        t_flash = curve("flash", "median_s")[1][curve("flash", "median_s")[0].index(n)]
        st.markdown(
            ("**Why ours is slower than PyTorch's.**" if t_flash > t_sdpa else "**Ours beside PyTorch's.**")
            + f" At {n:,} tokens our FlashAttention took {t_flash / t_sdpa:.2f}× the time of PyTorch's SDPA. "
            "Both compute the same exact attention tile by tile: "
            f"on this {where.upper()} PyTorch runs `{efficient_lab.sdpa_kernel(where)}`, a fused {kernel_lang} kernel, "
            + ("while ours here is our Triton kernel (attnviz/efficient/flash_triton.py, 64×64 tiles). "
               if triton_flash else "while ours is the readable version, a Python loop over tiles. ")
            + "FlashAttention's speed-up in its paper (Dao et al., 2022) comes from memory traffic on a GPU: tiles "
            "stay in fast on-chip SRAM instead of travelling to and from the GPU's main memory (HBM). "
            + ("A CPU run does not show that effect." if not gpu else "" if triton_flash else "Ours, Python driving "
               "many small tiles, cannot show it even on this GPU: it needs a kernel written for the GPU.")
        )  # fmt: skip

    kernel_at = sorted(set(curve("sdpa-flash", "median_s")[0]) & set(curve("sdpa-math", "median_s")[0]))
    if kernel_at:
        n = kernel_at[-1]

        def at_n(case: str, field: str) -> float:
            ns, ys = curve(case, field)
            return ys[ns.index(n)]

        speed = at_n("sdpa-math", "median_s") / at_n("sdpa-flash", "median_s")
        m_flash, m_math = at_n("sdpa-flash", "extra_bytes"), at_n("sdpa-math", "extra_bytes")
        memory = (
            f"used {human_bytes(max(m_flash, 0))} of extra memory against {human_bytes(max(m_math, 0))}"
            if m_flash == m_flash and m_math == m_math
            else "(memory not readable here)"
        )
        st.markdown(
            f"**PyTorch's FlashAttention kernel against its math path, on this {where.upper()}.** At {n:,} tokens the "
            "fused kernel was "
            + (f"{speed:.2f}× faster than" if speed >= 1 else f"slower: {1 / speed:.2f}× the time of")
            + f" the math path, and {memory}. Both are PyTorch's own {kernel_lang} code computing the same exact "
            "attention; the math path builds the T×T weights, the fused kernel works tile by tile and keeps only a "
            "running maximum and sum per row."
        )  # fmt: skip

# --- a million tokens ---------------------------------------------------------------------------------------------
steps.step("A million tokens")
st.markdown(
    "Sliding-window attention (Longformer, w = 256, 2 global tokens, one head of width 64) over **1,048,576 "
    f"tokens**. Exact attention would need a {human_bytes(float(1 << 40) * 4)} score matrix for that one head."
)
million = efficient_lab.stored(where, "million", 1 << 20)
if st.button("Run it", key="l6c_million", icon=":material/play_arrow:"):
    task = {"task": "million", "device": where, "quick": False}
    job = efficient_lab.Job("million", 1 << 20, task, "Sliding window over 1,048,576 tokens")
    efficient_lab.measure([job], device=where, cancel_key="l6c_million_cancel", timeout=300, expected_s=60.0)
    million = efficient_lab.stored(where, "million", 1 << 20)
if million is not None:
    if "error" in million:
        warn(f"The run did not finish: {million['error']}")
    else:
        m1, m2, m3 = st.columns(3)
        m1.metric("Time", f"{million['median_s']:.2f} s")
        extra = million["extra_bytes"]
        m2.metric("Peak extra memory", "n/a" if extra != extra else human_bytes(max(extra, 0)))
        m3.metric("Throughput", f"{million['gflop'] / million['median_s']:.1f} GFLOP/s")
        st.caption(
            f"{million['gflop']:.0f} GFLOP on {where.upper()}, counting the band only: 4·n·w·d is Q·Kᵀ and P·V for the "
            "w keys of each query's window (2 FLOPs per multiply-add). The two global tokens' rows and columns, the "
            "softmax and the masking are not counted, so the throughput is a lower bound."
        )

# --- the committed tables ----------------------------------------------------------------------------------------
steps.step("Reference: the committed benchmark")
if RESULTS.exists():
    # part 1 of the file is bench_efficient.py's output; part 2 (the classroom load test) belongs to the teacher
    committed = RESULTS.read_text(encoding="utf-8").split("\n## 2. ")[0]
    with st.expander("bench/RESULTS.md (measured with bench/bench_efficient.py; every size, every variant)"):
        st.markdown(committed.replace("<", "\\<"))  # a file's text: a "<" in it ("l < 128") is text, not a tag
else:
    st.info(
        "bench/RESULTS.md is not in this copy of the course yet. It is written by `python bench/bench_efficient.py "
        "--out bench/RESULTS.md`, which runs the same measurements as this page for every variant and size.",
        icon=":material/info:",
    )

# --- closing comparison -------------------------------------------------------------------------------------------
steps.step("Which to choose")
efficient_closing.which_to_choose(sentence.current(), cases, sizes, where, LABELS, EXACT)
