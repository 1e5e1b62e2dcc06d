"""The parts of lesson 6's variant page that only one variant has (the FlashAttention step-through, Linformer's
singular values, the KV-cache meter, …). Each takes what the page already chose and draws its part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_support import efficient, show
from app_support.widgets import check_link, link_value, predict_first
from attnviz import lesson6, plots, scaling
from attnviz.lesson6 import INFO, KnobValue, human_bytes
from attnviz.metrics import Comparison

TOO_WIDE = 40  # a heatmap wider than this keeps only each row's strongest keys


def figures_table(comparison: Comparison, *, pattern: bool) -> pd.DataFrame:
    """The error figures of the variant beside uniform attention's, as a table."""
    a, u = comparison.approx, comparison.uniform

    def num(x: float | None) -> str:
        if x is None:
            return "–"
        return f"{x:.2e}" if 0 < abs(x) < 1e-3 else f"{x:.3f}"

    rows = {
        "attention matrix: relative error ‖A − A_exact‖ / ‖A_exact‖": (
            a.weights_rel_frobenius,
            u.weights_rel_frobenius,
        ),
        "attention matrix: largest error of one weight": (a.weights_max_abs, u.weights_max_abs),
        # KL is never negative; a value like -1e-9 is rounding, shown as 0
        "mean KL divergence of the rows (nats)": (
            None if a.row_kl is None else max(a.row_kl, 0.0),
            None if u.row_kl is None else max(u.row_kl, 0.0),
        ),
        "output: relative error ‖O − O_exact‖ / ‖O_exact‖": (a.output_rel_frobenius, u.output_rel_frobenius),
        "output: mean cosine with exact (1 is perfect)": (a.output_cosine, u.output_cosine),
    }
    if pattern:
        rows["exact attention weight the pattern keeps"] = (a.mass_kept, None)
    columns = {
        "this variant": [num(x) for x, _ in rows.values()],
        "uniform (every key the same)": [num(y) for _, y in rows.values()],
    }
    return pd.DataFrame(columns, index=pd.Index(list(rows), name="figure"))


def ask(name: str, run: lesson6.Run, head_label: str) -> bool:
    """The variant's "predict first" question, its answer decided by the measurement just made."""
    info, c = INFO[name], run.comparison
    key = f"l6_predict_{name}"
    if name == "flash":
        err = c.approx.output_max_abs
        return predict_first(
            key,
            "FlashAttention never holds the whole score matrix; it sees the keys one tile at a time. How close will "
            "its output be to exact attention?",
            ["the same, up to rounding", "close, about 1% off", "clearly different"],
            correct=0 if err < 1e-5 else (1 if c.approx.output_rel_frobenius < 0.05 else 2),
            explain=f"The largest difference of any output number is {err:.1e}: float rounding. The running maximum "
            "and sum make the tiled softmax the very same sum, only added up in a different order.",
        )
    if name == "mqa":
        moved = c.approx.weights_rel_frobenius or 0.0
        groups = run.settings.kwargs["groups"]
        heads = max(int(v) for v in info.knobs[0].values)  # the layer's heads: G = H is one K/V head per head
        question = (
            f"With {groups} K/V groups, one per head, this is ordinary multi-head attention: {head_label} keeps its "
            "own keys. How far will its attention map move (relative error)?"
            if groups == heads
            else f"With {groups} K/V group{'s' if groups > 1 else ''}, {head_label} loses its own keys and shares "
            "averaged ones. How far will its attention map move (relative error)?"
        )
        return predict_first(
            key,
            question,
            ["under 10%", "10% to 50%", "over 50%"],
            correct=0 if moved < 0.1 else (1 if moved < 0.5 else 2),
            explain=f"It moves by {moved:.0%}. "
            + (
                "With one K/V group per head nothing is shared or averaged: this is exact multi-head attention."
                if groups == heads
                else "Averaging keys blurs what each head looked for; a model trained with shared K/V (or uptrained "
                "after the conversion, as in the GQA paper) learns to live with it, but a multi-head checkpoint "
                "converted as-is does not."
            ),
        )
    if info.kind == "pattern":
        dropped = 1.0 - (c.approx.mass_kept or 0.0)
        return predict_first(
            key,
            f"{info.title} looks only at the pairs of its pattern. How much of the exact attention weight of your "
            "sentence falls outside it (averaged over the rows)?",
            ["under 10%", "10% to 30%", "over 30%"],
            correct=0 if dropped < 0.1 else (1 if dropped < 0.3 else 2),
            explain=f"{dropped:.0%} of the weight is outside the pattern. The variant spreads each row's weight "
            "over what is left, so those rows change by that much.",
        )
    ratio = c.approx.output_rel_frobenius / max(c.uniform.output_rel_frobenius, 1e-12)
    return predict_first(
        key,
        f"Is {info.title} with these settings closer to exact attention than the lazy answer, uniform attention "
        "(every output the plain mean of the values)?",
        ["yes, clearly (less than half the error)", "a little closer", "no, not closer"],
        correct=0 if ratio < 0.5 else (1 if ratio < 1 else 2),
        explain=f"Its output error is {c.approx.output_rel_frobenius:.3f}, uniform attention's is "
        f"{c.uniform.output_rel_frobenius:.3f} ({ratio:.0%} of it).",
    )


def side_by_side(run: lesson6.Run, labels: list[str], title: str, name: str) -> None:
    """Exact attention (with the pattern drawn over it) next to the variant's attention matrix."""
    t = len(labels)
    top_k = plots.TOP_K if t > TOO_WIDE else None
    left, right = st.columns(2)
    exact = run.exact.weights.numpy()  # (T, S)
    approx = run.approx.weights.numpy()  # (T, S)
    cover = None if run.pattern is None else ~run.pattern.numpy()
    show.chart(
        plots.heatmap(exact, labels, labels, title="Exact: softmax(Q·Kᵀ/√d)", row_title="query", col_title="key",
                      value_name="weight", diverging=False, zmax=1.0, narrow=True, top_k=top_k, overlay=cover,
                      overlay_name="outside the pattern"),
        key="l6_exact", name="exact attention", where=left, csv=(exact, labels, labels),
    )  # fmt: skip
    low = float(min(approx.min(), 0.0))
    show.chart(
        plots.heatmap(approx, labels, labels, title=title, row_title="query", col_title="key", value_name="weight",
                      diverging=low < 0, zmax=None if low < 0 else 1.0, narrow=True, top_k=top_k),
        key="l6_approx", name=f"{name} attention", where=right, csv=(approx, labels, labels),
    )  # fmt: skip
    if cover is not None:
        left.caption("Grey cells are outside the pattern: the variant never computes them.")
    if low < 0:
        right.caption(f"Some weights are negative (down to {low:.2f}): this approximation is not a softmax.")


def sweep_chart(
    s: lesson6.Sweep,
    knob_label: str,
    now: KnobValue,
    *,
    log_x: bool = False,
    floor: tuple[list[int], list[float]] | None = None,
) -> None:
    """Error against the knob, the band over the draws, uniform attention as a dotted line; ``floor`` (x, y) is
    a bound no setting can beat (the best rank-k matrix, for Linformer)."""
    numeric = all(isinstance(x, int) for x in s.values)
    xs = list(s.values) if numeric else list(range(len(s.values)))
    band = (s.low, s.high) if s.seeds > 1 else None
    series = [
        plots.Series(
            f"variant (mean of {s.seeds} draws)" if s.seeds > 1 else "variant",
            xs,
            s.mean,
            mode="lines+markers",
            band=band,
        ),
        plots.Series("uniform attention", [xs[0], xs[-1]], [s.uniform, s.uniform], dash="dot", colour=7),
    ]
    if floor is not None:
        series.append(plots.Series("best rank-k matrix (SVD)", floor[0], floor[1], dash="dash", colour=2))
    if now in s.values:
        i = s.values.index(now)
        series.append(plots.Series("now", [xs[i]], [s.mean[i]], mode="markers", colour=5))
    ticks = xs if numeric and len(xs) <= 12 else None
    show.chart(
        plots.lines(series, title=f"Error of the attention matrix against {knob_label.lower()}", x_title=knob_label,
                    y_title="relative error", log_x=log_x and numeric, x_ticks=ticks, height=360),
        key="l6_sweep", name=f"error against {knob_label}",
    )  # fmt: skip
    if not numeric:
        st.caption("Points, left to right: " + ", ".join(map(str, s.values)) + ".")
    if s.seeds > 1:
        st.caption(f"The shaded band runs from the best to the worst of {s.seeds} random draws at each setting.")


# ---------------------------------------------------------------------------------------------- FlashAttention


def flash_section(text: str, source: str, layer: int, head: int, tile: int, labels: list[str]) -> None:
    show.step("Step through the tiles")
    flash = efficient.flash(text, source, layer, head, tile)
    steps = flash.steps
    t = len(labels)
    raw = link_value("l6_step")
    if len(steps) > 1:
        if st.session_state.get("l6_step", 1) > len(steps):  # a smaller tile count than the tile chosen before
            del st.session_state["l6_step"]  # start again at the last tile, instead of Streamlit's value error
        step = st.slider(
            "Tile", 1, len(steps), len(steps), key="l6_step", help="Walk the tiles in the order they run.",
            bind="query-params",
        )  # fmt: skip
        check_link(raw, step, f"The link asks for tile “{raw}”; there are {len(steps)} tiles: showing {step}.")
    else:
        step = 1
        st.caption("One tile holds the whole matrix at this tile size: choose a smaller tile to see the steps.")
    now = steps[step - 1]
    spans = [(s.q_start, s.q_stop, s.k_start, s.k_stop) for s in steps]
    done = lesson6.flash_progress(t, t, spans, step - 1)  # (T, S) 0 not yet, 1 earlier, 2 now
    scores = np.full((t, t), np.nan)
    for s in steps[:step]:
        scores[s.q_start : s.q_stop, s.k_start : s.k_stop] = s.scaled.numpy()
    st.markdown(
        f"**Tile {step} of {len(steps)}**: queries {now.q_start + 1}–{now.q_stop} × keys {now.k_start + 1}–"
        f"{now.k_stop}. Each tile is computed, folded into the running figures of its rows, and thrown away."
    )
    left, right = st.columns([1, 1])
    show.chart(
        plots.heatmap(scores, labels, labels, title="Scaled scores computed so far (framed: this tile)",
                      row_title="query", col_title="key", value_name="score", narrow=True,
                      boxes=[spans[step - 1]], top_k=None, overlay=done == 0, overlay_name="not computed yet"),
        key="l6_flash_tiles", name="flash tiles", where=left, csv=(scores, labels, labels),
    )  # fmt: skip
    rows = list(range(now.q_start, now.q_stop))
    table = pd.DataFrame(
        {
            "running max m": now.row_max.numpy(),
            "running sum ℓ": now.row_sum.numpy(),
            "shrink e^(m_old − m)": now.correction.numpy(),
        },
        index=pd.Index([labels[r] for r in rows], name="query"),
    )
    right.markdown("**The rows of this tile after it**")
    right.dataframe(table.style.format("{:.4f}"), key="l6_flash_rows", width="stretch")
    right.caption(
        "m only grows. When it does, everything summed so far is multiplied by e^(m_old − m), a number below 1, "
        "so all terms stay relative to the same maximum and nothing overflows. On a row's first tile the factor is 0: "
        "there was nothing before."
    )
    partial = now.output.numpy()  # (Tq, Dv)
    final = flash.output.numpy()[now.q_start : now.q_stop]
    show.chart(
        plots.heatmap(partial - final, [labels[r] for r in rows], [str(i + 1) for i in range(partial.shape[1])],
                      title="Partial output minus the final output (0 when the rows have seen all keys)",
                      row_title="query", col_title="output number", value_name="difference", cell_text=False,
                      height=140 + 30 * len(rows)),
        key="l6_flash_partial", name="flash partial output",
        csv=(partial - final, [labels[r] for r in rows], [str(i + 1) for i in range(partial.shape[1])]),
    )  # fmt: skip
    last_tile_of_rows = now.k_stop >= t
    st.caption(
        "These rows have now seen every key: their output is final."
        if last_tile_of_rows
        else f"These rows have seen keys 1–{now.k_stop} of {t}: their output still changes with the next tiles."
    )
    exact_out = efficient.run(text, source, layer, head, "flash", (("tile", tile),)).exact.output.numpy()
    diff = float(np.abs(flash.output.numpy() - exact_out).max())
    mem = lesson6.flash_memory(t, t, flash.output.shape[-1], tile, tile)
    c1, c2, c3 = st.columns(3)
    c1.metric("Largest difference from exact attention", f"{diff:.1e}")
    c2.metric("The T×T score matrix would need", human_bytes(mem.full_matrix))
    c3.metric("One tile and its rows' running figures", human_bytes(mem.tile + mem.running))
    big = lesson6.flash_memory(1 << 20, 1 << 20, 64, 256, 256)
    st.caption(
        f"On your {t} tokens both are tiny. At 1,048,576 tokens the score matrix of one head alone would take "
        f"{human_bytes(big.full_matrix)}; a 256 × 256 tile and its rows' running figures take "
        f"{human_bytes(big.tile + big.running)}. What FlashAttention saves is that memory, not work: it still "
        "computes every one of the T² scores, so its time still grows like T²."
    )


# ---------------------------------------------------------------------------------------------- Linformer


def linformer_section(text: str, source: str, layer: int, head: int, labels: list[str]) -> None:
    show.step("How close to low rank are real attention maps?")
    spec = efficient.spectrum(text, source, layer)
    t = len(labels)
    values = spec.values[head]
    left, right = st.columns(2)
    show.chart(
        plots.bars([str(i + 1) for i in range(len(values))], values, title=f"Singular values of head {head + 1}",
                   value_name="σ", x_title="index", height=340),
        key="l6_sv", name="singular values", where=left,
    )  # fmt: skip
    ks = list(range(1, spec.energy.shape[1] + 1))
    series = [
        plots.Series(f"head {h + 1}", ks, spec.energy[h], colour=4 if h != head else 5) for h in range(len(spec.energy))
    ]
    show.chart(
        plots.lines(series, title="Share of ‖A‖² kept at rank k, per head",
                    x_title="rank k", y_title="share kept", height=340),
        key="l6_energy", name="rank energy", where=right,
    )  # fmt: skip
    st.caption(
        f"Your sentence has {t} tokens, so a map has {t} singular values. The best rank-k matrix keeps the first k "
        f"(Eckart–Young): for this head {int(spec.rank_90[head])} of {t} keep 90% of it; across the layer's heads "
        f"the median is {int(np.median(spec.rank_90))}. Linformer bets on that, with a fixed k for every input."
    )


# ---------------------------------------------------------------------------------------------- patterns


def dropped_section(run: lesson6.Run, labels: list[str]) -> None:
    show.step("What the pattern drops, row by row")
    per_row = lesson6.mass_dropped_per_row(run.exact.weights, run.pattern).numpy()
    show.chart(
        plots.bars(labels, per_row, title="Exact attention weight outside the pattern", value_name="weight dropped",
                   highlight=[int(per_row.argmax())], height=320,
                   reference=("mean", float(per_row.mean()))),
        key="l6_dropped", name="attention dropped",
    )  # fmt: skip
    st.caption(
        f"On average {per_row.mean():.0%} of a row's weight is outside the pattern "
        f"(1 − the {run.comparison.approx.mass_kept:.0%} it keeps); the worst row, "
        f"“{labels[int(per_row.argmax())]}”, loses {per_row.max():.0%}."
    )


def reformer_section(text: str, source: str, layer: int, head: int, knobs: dict, labels: list[str]) -> None:
    show.step("Which bucket each token falls in")
    from attnviz.efficient import lsh_buckets

    inp = efficient.head_input(text, source, layer)
    n_buckets, n_rounds = int(knobs["buckets"]), int(knobs["rounds"])
    buckets, _ = lsh_buckets(inp.q[head], n_buckets, n_rounds, seed=0)  # (R, T)
    show.chart(
        plots.token_buckets(labels, buckets, title=f"{n_buckets} buckets, {n_rounds} round(s) of hashing",
                            n_buckets=n_buckets),
        key="l6_bucket_map", name="lsh buckets",
    )  # fmt: skip
    st.caption(
        "A token attends only to tokens in its own bucket (within its sorted chunk and the one before), in any "
        "round. Queries pointing the same way tend to share a bucket; more rounds give a missed pair another chance. "
        "The paper also ties each key to its query and keeps a token off its own key; the heads here have keys of "
        "their own, so the buckets come from the queries and a token still sees itself."
    )


# ---------------------------------------------------------------------------------------------- MQA / GQA

LENGTHS = (512, 2048, 8192, 32768, 131072, 1 << 20)
DECODE_CONTEXTS = (256, 512, 1024, 2048, 4096)  # prompt lengths the decoding loop can be timed at


def mqa_section(text: str, source: str, layer: int, groups: int, heads: int) -> None:
    show.step("The KV cache: what a decoder keeps for every past token")
    c1, c2 = st.columns(2)
    names = [s.name for s in lesson6.SHAPES]
    shape_name = c1.selectbox("Model shape", names, key="l6_shape")
    shape = lesson6.SHAPES[names.index(shape_name)]
    length = c2.select_slider("Context length (tokens)", LENGTHS, value=8192, key="l6_ctx",
                              format_func=lambda n: f"{n:,}")  # fmt: skip
    options = lesson6.group_options(shape.heads)
    sizes = [lesson6.cache_bytes(shape, g, length) for g in options]
    # the page's G is out of 12 heads; G = 12 (multi-head) means G = H of this shape
    chosen = shape.heads if groups >= heads else max(g for g in options if g <= groups)

    def bar_label(g: int) -> str:
        kind = " (multi-query)" if g == 1 else " (multi-head)" if g == shape.heads else ""
        return f"G = {g}{kind}" + (" · as released" if g == shape.kv_heads and shape.decoder else "")

    unit = 2**30
    show.chart(
        plots.bars([bar_label(g) for g in options], [b / unit for b in sizes], horizontal=True, value_name="GiB",
                   highlight=[options.index(chosen)], decimals=3, height=120 + 34 * len(options),
                   title=f"KV cache of {shape.name}, {length:,} tokens, batch 1"),
        key="l6_kv", name="kv cache",
    )  # fmt: skip
    width = shape.dtype.itemsize
    formula = (
        f"2 (K and V) × {shape.layers} layers × G heads × {length:,} tokens × {shape.head_dim} numbers × {width} bytes"
    )
    if shape.decoder:
        released = lesson6.cache_bytes(shape, shape.kv_heads, length)
        st.caption(
            f"{formula}. As released, with {shape.kv_heads} K/V head{'s' if shape.kv_heads > 1 else ''}: "
            f"{human_bytes(released)}. Every generated token reads the whole cache once; whether a smaller cache "
            "also decodes faster is timed below."
        )
    else:
        st.caption(
            f"{formula}. {shape.name.split(' (')[0].split(',')[0]} is an encoder: it reads its whole input at once "
            "and keeps no KV cache. The bars show what a decoder of its shape would keep."
        )
    changes = efficient.head_changes(text, source, layer, groups)
    whose = f"MiniLM layer {layer + 1}" if source == "real" else "the toy heads"
    show.chart(
        plots.bars([f"head {h + 1}" for h in range(heads)], changes, value_name="relative error", height=300,
                   title=f"Back on your sentence, {whose}: how far each head's map moves with {groups} shared K/V "
                   f"group{'s' if groups > 1 else ''}"),
        key="l6_head_changes", name="heads moved",
    )  # fmt: skip
    decoding_section()


def decoding_section() -> None:
    """Time a decoding loop with a KV cache for multi-head, grouped-query and multi-query attention."""
    d = scaling.DECODER
    show.step("Does a smaller cache decode faster? Timed on this machine")
    st.markdown(
        f"A decoder makes one token per step: it appends the token's keys and values to the cache, and the token's "
        f"{d.heads} query heads read the whole cache. Here one layer of a Llama-style shape ({d.heads} query heads "
        f"× {d.head_dim} numbers, float32, batch {d.batch}) generates {d.steps} tokens after a prompt, with "
        f"{d.heads}, 8 and 1 K/V heads."
    )
    c1, c2 = st.columns([2, 1])
    raw = link_value("l6_decode_ctx")
    context = c1.select_slider("Prompt already in the cache (tokens)", DECODE_CONTEXTS, value=1024,
                               key="l6_decode_ctx", format_func=lambda n: f"{n:,}", bind="query-params")  # fmt: skip
    check_link(raw, context, f"The link asks for a prompt of “{raw}” tokens; the choices are "
               f"{', '.join(map(str, DECODE_CONTEXTS))}: using {context:,}.")  # fmt: skip
    times = efficient.decoding_times("cpu", context)
    if c2.button("Time the decoding loop", key="l6_decode_run", icon=":material/timer:", disabled=times is not None):
        efficient.time_decoding("cpu", context)
        times = efficient.decoding_times("cpu", context)
    if times is None:
        st.caption("A few seconds on this machine's CPU. Results are kept for everyone on this server.")
        return
    mha, mqa = times[d.heads], times[1]
    names = {d.heads: "multi-head", 8: "grouped-query", 1: "multi-query"}
    table = pd.DataFrame(
        {
            "K/V heads": list(times),
            "cache of the layer": [human_bytes(r["cache_bytes"]) for r in times.values()],
            "time per token": [f"{r['per_token_s'] * 1e3:.2f} ms" for r in times.values()],
            "time vs multi-head": [f"{r['per_token_s'] / mha['per_token_s']:.2f}×" for r in times.values()],
        },
        index=pd.Index([names[g] for g in times], name="attention"),
    )
    st.table(table)
    cache_ratio = mha["cache_bytes"] / mqa["cache_bytes"]
    speedup = mha["per_token_s"] / mqa["per_token_s"]
    if speedup >= 0.5 * cache_ratio:
        verdict = "the time fell about as much as the cache did: reading the cache dominated each step here"
    elif speedup > 1.1:
        verdict = (
            "the time fell, but far less than the cache did: on this CPU at batch "
            f"{d.batch} much of a step is other work (the Python loop, launching small matrix products)"
        )
    else:
        verdict = (
            f"the time did not fall: on this CPU at batch {d.batch} a step is dominated by other work (the Python "
            "loop, launching small matrix products), not by reading the cache"
        )
    st.caption(
        f"Measured on this machine's CPU with a {context:,}-token prompt (median of {int(mqa['steps'])} steps): "
        f"multi-query's cache is {cache_ratio:.0f}× smaller than multi-head's and its step took "
        + (f"{speedup:.1f}× less time" if speedup >= 1 else f"{1 / speedup:.1f}× more time")
        + f"; {verdict}. The papers' speed-ups (Shazeer, 2019; Ainslie et al., 2023) were "
        "measured on accelerators, where a decoding step is mostly waiting for the cache to arrive from memory "
        "(memory bandwidth), and larger batches and longer contexts make the cache larger still. Timings on a "
        "shared machine vary from run to run."
    )
