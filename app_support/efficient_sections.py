"""The parts of lesson 6's variant page that only one variant has (the FlashAttention step-through, Linformer's
singular values, the KV-cache meter, …). Each takes what the page already chose and draws its part."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
from torch import Tensor

from app_support import efficient, loaders, show
from app_support.efficient_text import INFO
from app_support.widgets import check_link, link_value, linked, md_escape, predict_first
from attnviz import plots, scaling
from attnviz.efficient import REGISTRY, anatomy, compare, costs
from attnviz.efficient.costs import human_bytes
from attnviz.efficient.flash import triton_kernel_source
from attnviz.efficient.io import fewer_from, flash_io, sram_numbers, standard_io
from attnviz.efficient.registry import KnobValue
from attnviz.host import to_host

TOO_WIDE = 40  # a heatmap wider than this keeps only each row's strongest keys


INFINITE = "∞"  # what the table shows for the KL of a pattern that drops weight
KL_PATTERN = "mean KL of the rows, nats (∞: weighted keys get 0)"
KL_CLAMPED = "mean KL of the rows, nats (weights < 1e-9 read as 1e-9)"


def figures_table(run: compare.Run) -> pd.DataFrame:
    """The error figures of the variant beside uniform attention's, as a table.

    For a pattern that leaves some exact weight out the variant's KL(exact‖variant) is infinite: a key with
    weight p > 0 gets exactly 0, and p·log(p/0) = ∞. The table says ∞ there, not the finite number the 1e-9
    clamp of `attnviz.metrics.mean_row_kl` would give; elsewhere it names the clamp.
    """
    comparison, pattern = run.comparison, run.pattern is not None
    a, u = comparison.approx, comparison.uniform
    outside = run.pattern is not None and anatomy.weight_outside(run.exact.weights, run.pattern)

    def num(x: float | None) -> str:
        if x is None:
            return "–"
        if x == float("inf"):
            return INFINITE
        return f"{x:.2e}" if 0 < abs(x) < 1e-3 else f"{x:.3f}"

    kl = None if a.row_kl is None else (float("inf") if outside else max(a.row_kl, 0.0))
    rows = {
        "attention matrix: relative error ‖A − A_exact‖ / ‖A_exact‖": (
            a.weights_rel_frobenius,
            u.weights_rel_frobenius,
        ),
        "attention matrix: largest error of one weight": (a.weights_max_abs, u.weights_max_abs),
        # KL is never negative; a value like -1e-9 is rounding, shown as 0
        KL_PATTERN if outside else KL_CLAMPED: (kl, None if u.row_kl is None else max(u.row_kl, 0.0)),
        "output: relative error ‖O − O_exact‖ / ‖O_exact‖": (a.output_rel_frobenius, u.output_rel_frobenius),
        "output: mean cosine with exact (1 is perfect)": (a.output_cosine, u.output_cosine),
    }
    if pattern:
        rows["exact attention weight the pattern keeps"] = (a.mass_kept, None)
        rows["exact attention weight outside the pattern"] = (
            None if a.mass_kept is None else max(1.0 - a.mass_kept, 0.0),
            None,
        )
    columns = {
        "this variant": [num(x) for x, _ in rows.values()],
        "uniform (every key the same)": [num(y) for _, y in rows.values()],
    }
    return pd.DataFrame(columns, index=pd.Index(list(rows), name="figure"))


@dataclass(frozen=True)
class Question:
    """A "predict first" question: three answers, the right one decided by a measured value against two bounds."""

    question: str
    options: tuple[str, str, str]
    correct: int  # the index of the right answer, from the measurement
    explain: str


def _band(value: float, low: float, high: float) -> int:
    """0 below ``low``, 1 below ``high``, else 2: which of three answers a measured value picks."""
    return 0 if value < low else (1 if value < high else 2)


def _flash_question(name: str, run: compare.Run, head_label: str) -> Question:
    c = run.comparison
    err = c.approx.output_max_abs
    return Question(
        "FlashAttention never holds the whole score matrix; it sees the keys one tile at a time. How close will "
        "its output be to exact attention?",
        ("the same, up to rounding", "close, about 1% off", "clearly different"),
        0 if err < 1e-5 else (1 if c.approx.output_rel_frobenius < 0.05 else 2),
        f"The largest difference of any output number is {err:.1e}: float rounding. The running maximum "
        "and sum make the tiled softmax the very same sum, only added up in a different order.",
    )


def _groups_question(name: str, run: compare.Run, head_label: str) -> Question:
    moved = run.comparison.approx.weights_rel_frobenius or 0.0
    groups = run.settings.kwargs["groups"]
    heads = max(int(v) for v in REGISTRY[name].knob("groups").values)  # the layer's heads: G = H, one per head
    question = (
        f"With {groups} K/V groups, one per head, this is ordinary multi-head attention: {head_label} keeps its "
        "own keys. How far will its attention map move (relative error)?"
        if groups == heads
        else f"With {groups} K/V group{'s' if groups > 1 else ''}, {head_label} loses its own keys and shares "
        "averaged ones. How far will its attention map move (relative error)?"
    )
    return Question(
        question,
        ("under 10%", "10% to 50%", "over 50%"),
        _band(moved, 0.1, 0.5),
        f"It moves by {moved:.0%}. "
        + (
            "With one K/V group per head nothing is shared or averaged: this is exact multi-head attention."
            if groups == heads
            else "Averaging keys blurs what each head looked for; a model trained with shared K/V (or uptrained "
            "after the conversion, as in the GQA paper) learns to live with it, but a multi-head checkpoint "
            "converted as-is does not."
        ),
    )


def _pattern_question(name: str, run: compare.Run, head_label: str) -> Question:
    c = run.comparison
    dropped = 1.0 - (c.approx.mass_kept or 0.0)
    moved = anatomy.mean_row_l1(run.exact.weights, run.approx.weights)
    exact_is = ""
    if REGISTRY[name].shared_qk:
        exact_is = (
            " Here exact attention is full shared-QK attention on this head's queries, as in the paper: every "
            "key is its token's query at unit length, and no token attends to itself."
        )
    return Question(
        f"{INFO[name].title} looks only at the pairs of its pattern.{exact_is} How much of the exact attention weight "
        "of your sentence falls outside it (averaged over the rows)?",
        ("under 10%", "10% to 30%", "over 30%"),
        _band(dropped, 0.1, 0.3),
        f"{dropped:.1%} of the weight is outside the pattern. Each row's remaining weight is scaled "
        "back up to sum to 1, so a row that loses a share p moves by 2p in total (L1): p taken off the keys "
        f"dropped, p added to the keys kept. Measured here: the rows move by {moved:.3f} on average "
        f"(2 × {dropped:.1%}).",
    )


def _uniform_question(name: str, run: compare.Run, head_label: str) -> Question:
    c = run.comparison
    ratio = c.approx.output_rel_frobenius / max(c.uniform.output_rel_frobenius, 1e-12)
    return Question(
        f"Is {INFO[name].title} with these settings closer to exact attention than the lazy answer, uniform attention "
        "(every output the plain mean of the values)?",
        ("yes, clearly (less than half the error)", "a little closer", "no, not closer"),
        _band(ratio, 0.5, 1.0),
        f"Its output error is {c.approx.output_rel_frobenius:.3f}, uniform attention's is "
        f"{c.uniform.output_rel_frobenius:.3f} ({ratio:.0%} of it).",
    )


def ask(name: str, run: compare.Run, head_label: str) -> bool:
    """The variant's "predict first" question, its answer decided by the measurement just made: the variant's own
    (`EXTRAS`), else the one of its kind (how much weight a pattern drops; an approximation against uniform)."""
    make = EXTRAS.get(name, Extras()).question
    if make is None:
        make = _pattern_question if REGISTRY[name].kind == "pattern" else _uniform_question
    q = make(name, run, head_label)
    return predict_first(f"l6_predict_{name}", q.question, list(q.options), correct=q.correct, explain=q.explain)


def side_by_side(run: compare.Run, labels: list[str], title: str, name: str) -> None:
    """Exact attention (with the pattern drawn over it) next to the variant's attention matrix."""
    t = len(labels)
    top_k = plots.TOP_K if t > TOO_WIDE else None
    left, right = st.columns(2)
    exact = to_host(run.exact.weights)  # (T, S)
    approx = to_host(run.approx.weights)  # (T, S)
    cover = None if run.pattern is None else ~to_host(run.pattern)
    exact_title = "Exact: softmax(Q·Kᵀ/√d)"
    if REGISTRY[name].shared_qk:  # the paper's shared-QK attention (see compare.run_variant)
        exact_title = "Exact shared-QK: K = Q/‖Q‖, none on itself"
    show.chart(
        plots.heatmap(exact, labels, labels, title=exact_title, row_title="query", col_title="key",
                      value_name="weight", diverging=False, zmax=1.0, narrow=True, top_k=top_k, overlay=cover,
                      overlay_name="outside the pattern"),
        key="l6_exact", name="exact attention", where=left, csv=(exact, labels, labels),
    )  # fmt: skip
    low = float(min(approx.min(), 0.0))
    show.chart(
        plots.heatmap(approx, labels, labels, title=title, row_title="query", col_title="key", value_name="weight",
                      diverging=low < 0, zmax=None if low < 0 else 1.0, narrow=True, top_k=top_k),
        key="l6_approx", name=f"{INFO[name].title.split(' (')[0]} map", where=right, csv=(approx, labels, labels),
    )  # fmt: skip
    if cover is not None:
        left.caption("Grey cells are outside the pattern: the variant never computes them.")
    if low < 0:
        right.caption(f"Some weights are negative (down to {low:.2f}): this approximation is not a softmax.")


def sweep_chart(
    s: compare.Sweep,
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
            del st.session_state["l6_step"]  # start again at the first tile, instead of Streamlit's value error
        step = st.slider(
            "Tile", 1, len(steps), 1, key="l6_step", help="Walk the tiles in the order they run.",
            bind="query-params",
        )  # fmt: skip
        check_link(raw, step, f"The link asks for tile “{raw}”; there are {len(steps)} tiles: showing {step}.")
    else:
        step = 1
        st.caption("One tile holds the whole matrix at this tile size: choose a smaller tile to see the steps.")
    now = steps[step - 1]
    spans = [(s.q_start, s.q_stop, s.k_start, s.k_stop) for s in steps]
    done = costs.flash_progress(t, t, spans, step - 1)  # (T, S) 0 not yet, 1 earlier, 2 now
    scores = np.full((t, t), np.nan)
    for s in steps[:step]:
        scores[s.q_start : s.q_stop, s.k_start : s.k_stop] = to_host(s.scaled)
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
            "running max m": to_host(now.row_max),
            "running sum ℓ": to_host(now.row_sum),
            "shrink e^(m_old − m)": to_host(now.correction),
        },
        index=pd.Index([labels[r] for r in rows], name="query"),
    )
    right.markdown("**The rows of this tile after it**")
    right.dataframe(table.style.format("{:.4f}"), key="l6_flash_rows", width="stretch")
    first_tile = now.k_start == 0
    grew = int((now.correction < 1).sum()) if not first_tile else 0
    right.caption(
        "m only grows. When it does, everything summed so far is multiplied by e^(m_old − m), a number below 1, "
        "so all terms stay relative to the same maximum and nothing overflows. "
        + (
            "This is the rows' first tile, so the factor is 0: there was nothing before."
            if first_tile
            else f"In this tile the maximum grew in {grew} of {len(rows)} row(s); where it did not, the factor is 1."
        )
    )
    partial = to_host(now.output)  # (Tq, Dv)
    final = to_host(flash.output)[now.q_start : now.q_stop]
    # one colour scale for every tile of these rows (the largest difference, after their first tile), so the
    # difference is seen to shrink, and a final output reads as 0 rather than as an empty box
    reach = max(float(np.abs(to_host(x.output) - final).max()) for x in steps if x.q_start == now.q_start)
    reach = reach if reach > 0 else 1.0
    show.chart(
        plots.heatmap(partial - final, [labels[r] for r in rows], [str(i + 1) for i in range(partial.shape[1])],
                      title="Partial output minus the final output (0 when the rows have seen all keys)",
                      row_title="query", col_title="output number", value_name="difference", cell_text=False,
                      height=140 + 30 * len(rows), zrange=(-reach, reach)),
        key="l6_flash_partial", name="flash partial output",
        csv=(partial - final, [labels[r] for r in rows], [str(i + 1) for i in range(partial.shape[1])]),
    )  # fmt: skip
    last_tile_of_rows = now.k_stop >= t
    gap = float(np.abs(partial - final).max())
    st.caption(
        (
            "These rows have now seen every key: their output is final"
            + (" (the difference is exactly 0)." if gap == 0 else f" (largest difference {gap:.1e}, rounding).")
        )
        if last_tile_of_rows
        else f"These rows have seen keys 1–{now.k_stop} of {t}: their output still changes with the next tiles "
        f"(by up to {gap:.3f} here)."
    )
    exact_out = to_host(efficient.run(text, source, layer, head, "flash", (("tile", tile),)).exact.output)
    diff = float(np.abs(to_host(flash.output) - exact_out).max())
    mem = costs.flash_memory(t, t, flash.output.shape[-1], tile, tile)
    c1, c2, c3 = st.columns(3)
    c1.metric("Largest difference from exact attention", f"{diff:.1e}")
    c2.metric("The T×T score matrix would need", human_bytes(mem.full_matrix))
    c3.metric("One tile and its rows' running figures", human_bytes(mem.tile + mem.running))
    big = costs.flash_memory(1 << 20, 1 << 20, 64, 256, 256)
    st.caption(
        f"On your {t} tokens both are tiny. At 1,048,576 tokens the score matrix of one head alone would take "
        f"{human_bytes(big.full_matrix)}; a 256 × 256 tile and its rows' running figures take "
        f"{human_bytes(big.tile + big.running)}. What FlashAttention saves is that memory, not work: it still "
        "computes every one of the T² scores, so its time still grows like T²."
    )
    flash_kernel()
    flash_traffic(text, source, layer, head, tile, t)


def flash_kernel() -> None:
    """The Triton kernel's source, beside the walk, and whether this server runs it."""
    with st.expander("The same algorithm as a GPU kernel (Triton)"):
        st.markdown(
            "Each *program* of the kernel owns one block of BLOCK_M query rows (`tl.program_id(0)`; "
            "`program_id(1)` is the head): flash.py's outer loop over query blocks, with every block running at once "
            "on the GPU. The `for k0` loop is the walk above for one block of rows, one K/V tile at a time; the "
            "block's queries and its m, ℓ and acc stay in the program's registers and on-chip memory (SRAM) through "
            "it, and only O and the log-sum-exp are written back to the GPU's main memory."
        )
        st.markdown(kernel_note(loaders.device().type, importlib.util.find_spec("triton") is not None))
        st.code(triton_kernel_source(), language="python", wrap_lines=True)


def kernel_note(device: str, triton_installed: bool) -> str:
    """Whether anything on this server runs the kernel (``device`` as torch names it: "cpu", "cuda", …)."""
    walk = "This page never runs the kernel: the walk above records every tile, so it is flash.py's Python loop. "
    if device == "cuda" and triton_installed:
        return walk + "On this server's GPU, lesson 6c's timings of FlashAttention (ours) do run this kernel."
    if device == "cuda":
        return walk + "This server has a GPU, but Triton is not installed on it, so no page runs the kernel here."
    return walk + (
        f"This server computes on its {device.upper()}, and the kernel needs a GPU, so no page runs it here "
        "(the tests run it on a CPU in Triton's interpreter, slowly, to check it against exact attention)."
    )


def _times(ratio: float) -> str:
    """3.14 → '3.1×', 87.4 → '87×'."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


SRAM_KIB = (16, 32, 64, 100, 192, 228)  # per streaming multiprocessor; the paper's analysis takes M ≈ 100 KB


def flash_traffic(text: str, source: str, layer: int, head: int, tile: int, t: int) -> None:
    """The paper's count of slow-memory traffic for the learner's length, beside times measured on this machine."""
    show.step("Why it is fast on a GPU: memory traffic, counted")
    d = int(efficient.head_input(text, source, layer).q.shape[-1])
    st.markdown(
        "A GPU keeps Q, K, V and O in its large but slow memory (HBM) and computes in a small fast memory on the "
        "chip (SRAM), M numbers per streaming multiprocessor. Dao et al. count every number moved between the two "
        "(their Theorem 2): standard attention writes the T×T scores and weights out and reads them back, "
        "Θ(T·d + T²); FlashAttention keeps each tile on the chip and moves Θ(T²·d²/M). Below, both algorithms of "
        "the paper are counted exactly as written, for your length and this head's width d."
    )
    kib = linked(
        st.select_slider, "Fast memory M per multiprocessor (KiB)", SRAM_KIB, value=100, key="l6_sram",
        help="An A100 has 192 KB of SRAM per multiprocessor, an H100 228 KB; the paper's analysis takes about 100 KB. "
        "Counted in float32 numbers: 1 KiB holds 256.",
    )  # fmt: skip
    m = sram_numbers(kib)
    standard, tiled = standard_io(t, d), flash_io(t, d, m)
    rows = {
        standard.algorithm: (standard.reads, standard.writes, standard.total),
        tiled.algorithm: (tiled.reads, tiled.writes, tiled.total),
    }
    frame = pd.DataFrame(
        {
            "numbers read": [f"{r:,}" for r, _, _ in rows.values()],
            "numbers written": [f"{w:,}" for _, w, _ in rows.values()],
            "in all": [f"{a:,}" for _, _, a in rows.values()],
            "bytes (float32)": [human_bytes(4 * a) for _, _, a in rows.values()],
        },
        index=pd.Index(list(rows), name=f"T = {t}, d = {d}, M = {m:,} numbers"),
    )
    st.dataframe(frame, key="l6_flash_io", width="stretch")
    ratio = standard.total / tiled.total
    round_trips = tiled.total - (2 + (tiled.outer_loops or 0)) * t * d  # everything but the reads of Q, K and V
    st.caption(
        f"FlashAttention's blocks here: B_c = ⌈M/4d⌉ = {tiled.block_cols} keys, B_r = min(B_c, d) = "
        f"{tiled.block_rows} query rows, so Q, O, ℓ and m go back and forth T_c = {tiled.outer_loops} "
        f"time{'' if tiled.outer_loops == 1 else 's'}. "
        + (
            f"At your {t} tokens it moves {1 / ratio:.2f}× as much as standard attention: the T×T scores and "
            f"weights cost standard attention only 4T² = {4 * t * t:,} numbers of traffic, while FlashAttention "
            f"sends O, ℓ and m back and forth (written first as zeros, then read and written once per block of "
            f"keys): {round_trips:,} numbers."
            if ratio < 1
            else f"At your {t} tokens standard attention moves {ratio:.2f}× as much."
        )
    )
    lengths = sorted({t, *(1 << e for e in range(4, 17))})
    totals_std = [standard_io(n, d).total for n in lengths]
    totals_flash = [flash_io(n, d, m).total for n in lengths]
    show.chart(
        plots.lines(
            [plots.Series("standard attention (Algorithm 0)", lengths, totals_std, colour=7),
             plots.Series("FlashAttention (Algorithm 1)", lengths, totals_flash, colour=5)],
            title=f"Numbers moved between HBM and SRAM (d = {d}, M = {kib} KiB)", x_title="tokens T",
            y_title="numbers read + written", log_x=True, log_y=True, height=360,
            x_ticks=[n for n in lengths if n >= 16 and (n.bit_length() - 1) % 2 == 0],
            marks=[(t, standard.total, f"your {t} tokens")],
        ),
        key="l6_flash_io_chart", name="HBM traffic",
    )  # fmt: skip
    start = fewer_from(d, m)
    far = lengths[-1]
    st.caption(
        (
            f"From T = {start:,} on FlashAttention moves fewer numbers; at T = {far:,} standard attention moves "
            f"{standard_io(far, d).total / flash_io(far, d, m).total:.0f}× as many. "
            if start is not None
            else f"With so little fast memory the blocks hold too few keys (B_c = {tiled.block_cols}): "
            "FlashAttention never moves fewer numbers for long inputs. "
        )
        + "A larger M means longer blocks of keys, fewer round trips of Q and O, and less traffic."
    )

    timings = efficient.flash_timings(text, source, layer, head, tile)
    times = pd.DataFrame(
        {
            "median time": [f"{x * 1e6:,.0f} µs" for x in (timings.fused, timings.plain, timings.tiled)],
            "what runs": [
                f"torch.nn.functional.scaled_dot_product_attention: one fused C++ kernel ({timings.fused_backend})",
                "attnviz's matrix path: the scores, the weights and the output, each kept whole",
                f"attnviz's readable tiled loop (this page's algorithm): one Python step per {tile} × {tile} tile",
            ],
        },
        index=pd.Index(["PyTorch, fused", "the matrix path", "our tiled loop"], name="way"),
    )
    st.markdown(f"**Measured here, on this server's {timings.device}, for your {t} tokens, one head (d = {d})**")
    st.dataframe(times, key="l6_flash_times", width="stretch")
    slower = timings.tiled / timings.fused
    st.caption(
        "Median of repeated runs after a warm-up (a single run where one takes half a second or more), measured "
        "once per sentence, head and tile size. "
        f"Our tiled loop is {_times(slower if slower >= 1 else 1 / slower)} {'slower' if slower >= 1 else 'faster'} "
        "than PyTorch's fused kernel here: "
        "it is written to show the algorithm, one Python step per tile, not to be fast. "
        + (
            "These are CPU times: the paper's speed-up comes from moving fewer bytes between a GPU's HBM and its "
            "SRAM, which the counts above measure and these times do not."
            if timings.device.startswith("CPU")
            else "The paper's speed-up comes from moving fewer bytes between a GPU's HBM and its SRAM, which the "
            "counts above measure."
        )
    )


# ---------------------------------------------------------------------------------------------- Performer


def performer_section(text: str, source: str, layer: int, head: int, s: compare.Sweep, labels: list[str]) -> None:
    """Why the error falls as it does on this head: the length of q + k, which sets the noise of each estimate."""
    show.step("How fast the error can fall: the length of q + k")
    inp = efficient.head_input(text, source, layer)
    spread = anatomy.kernel_spread(inp.q[head], inp.k[head])
    slope = anatomy.error_slope(s)
    b = f"{slope:.2f}".replace("-", "−")
    m_lo, m_hi = int(s.values[0]), int(s.values[-1])
    typical, largest = spread.typical, spread.largest
    needed = anatomy.features_needed(typical)
    left, right = st.columns([3, 2])
    show.chart(
        plots.heatmap(spread.sq, labels, labels, title="‖q + k‖²/√d, pair by pair", row_title="query",
                      col_title="key", value_name="‖q+k‖²/√d", diverging=False, narrow=True,
                      top_k=None, decimals=1),
        key="l6_qk_spread", name="q plus k", where=left, csv=(spread.sq, labels, labels),
    )  # fmt: skip
    right.metric("Typical pair: ‖q + k‖²/√d (median)", f"{typical:.1f}")
    right.metric("Largest pair", f"{largest:.1f}")
    right.metric("m for 10% noise on a typical kernel value", costs.large_number(needed))
    right.metric(f"Measured: error ∝ m^b from m = {m_lo} to {m_hi}", f"b = {b}")
    beats = [int(v) for v, e in zip(s.values, s.mean, strict=True) if e < s.uniform]
    st.markdown(
        "**What the paper guarantees.** FAVOR+ estimates the kernel e^(q·k/√d) without bias: the average over the "
        "random directions is exact. One direction's estimate has relative variance e^(‖q+k‖²/√d) − 1 (the paper's "
        "Lemma 2, for independent directions; the orthogonal ones used here lower it), and m directions "
        "divide it by m. So for each pair the error does fall like 1/√m, but with a constant that grows like "
        "e^(‖q+k‖²/(2√d)). "
        "A weight divides one estimate by the sum of its row's estimates: a ratio, only nearly unbiased."
    )
    if slope > -0.4:
        verdict = (
            f"On this head a least-squares fit over every m gives error ∝ m^{b}, far slower than 1/√m (b = −0.5): "
            f"the error goes from {s.mean[0]:.2f} at m = {m_lo} to {s.mean[-1]:.2f} at m = {m_hi}, where 1/√m would "
            f"have cut it {(m_hi / m_lo) ** 0.5:.0f}-fold."
        )
    else:
        verdict = (
            f"On this head a least-squares fit over every m gives error ∝ m^{b}, close to 1/√m (b = −0.5): the "
            f"error goes from {s.mean[0]:.2f} at m = {m_lo} to {s.mean[-1]:.2f} at m = {m_hi}."
        )
    why = (
        f" A typical pair has ‖q + k‖²/√d = {typical:.1f}, so one kernel value needs about "
        f"{costs.large_number(needed)} features to be within 10%"
    )
    if needed > m_hi and slope > -0.4:
        why += (
            f", far more than {m_hi}: each estimate is still decided by the few directions that happen to point "
            "along q + k, and adding features barely helps yet."
        )
    elif needed <= m_hi and slope <= -0.4:
        why += f"; m = {m_hi} is beyond that, and the error falls as the theory says."
    else:
        why += (
            f" (m on this page goes up to {m_hi}). The weights are ratios of many such estimates, so this single-pair "
            "figure is a guide, not the whole story."
        )
    against = (
        f" At no m does it come below uniform attention's {s.uniform:.2f}."
        if not beats
        else f" It is below uniform attention's {s.uniform:.2f} from m = {beats[0]} on."
        if all(int(v) in beats for v in s.values if int(v) >= beats[0])
        else f" It is below uniform attention's {s.uniform:.2f} at m = {', '.join(map(str, beats))}."
    )
    st.markdown(verdict + why + against)


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
        f"Your sentence has {t} tokens, so a map has {t} singular values. The best rank-k matrix keeps the first "
        f"k of them (Eckart–Young): for this head the first {int(spec.rank_90[head])} of {t} hold 90% of ‖A‖²; "
        f"across the layer's heads the median is {int(np.median(spec.rank_90))}. Linformer uses one fixed k for "
        "every input, betting that maps are this close to low rank."
    )


# ---------------------------------------------------------------------------------------------- patterns


def dropped_section(run: compare.Run, labels: list[str]) -> None:
    show.step("What the pattern drops, row by row")
    per_row = to_host(anatomy.mass_dropped_per_row(run.exact.weights, run.pattern))
    show.chart(
        plots.bars(labels, per_row, title="Exact attention weight outside the pattern", value_name="weight dropped",
                   highlight=[int(per_row.argmax())], height=320,
                   reference=("mean", float(per_row.mean()))),
        key="l6_dropped", name="attention dropped",
    )  # fmt: skip
    worst = int(per_row.argmax())
    if not anatomy.weight_outside(run.exact.weights, run.pattern):
        st.caption(
            f"The pattern covers every pair of your {len(labels)} tokens: nothing is dropped, and the variant is "
            "exact attention here. A longer sentence, or smaller settings, leaves pairs out."
        )
        return
    st.caption(
        f"On average {per_row.mean():.1%} of a row's weight is outside the pattern "
        f"(1 − the {run.comparison.approx.mass_kept:.1%} it keeps); the worst row, "
        f"“{md_escape(labels[worst])}”, loses {per_row[worst]:.1%}."
    )
    st.caption(
        "That is why the table's KL(exact‖variant) is ∞: a key the exact map weighs p > 0 gets exactly 0 from "
        "the pattern, and p·log(p/0) is infinite. (Elsewhere the KL reads variant weights below 1e-9 as 1e-9.)"
    )


def reformer_section(run: compare.Run, knobs: dict, labels: list[str], q: Tensor) -> None:
    """Which bucket each token falls in, and whether tokens whose queries point the same way share one.

    Args:
        q: (T, Dh) the head's queries (the keys are these at unit length).
    """
    show.step("Which bucket each token falls in")
    approx = run.approx
    buckets = approx.buckets  # (R, T)
    n_buckets, n_rounds, t = int(knobs["buckets"]), int(knobs["rounds"]), len(labels)
    show.chart(
        plots.token_buckets(labels, buckets, title=f"{n_buckets} buckets, {n_rounds} round(s) of hashing",
                            n_buckets=n_buckets),
        key="l6_bucket_map", name="lsh buckets",
    )  # fmt: skip
    chunk = int(approx.chunk_size)
    st.caption(
        f"Each round sorts your {t} tokens by bucket and cuts the sorted line into chunks of c = {chunk} "
        f"(⌈2·{t}/{n_buckets}⌉, at most {t}). A token attends to the tokens of its own bucket in its chunk and in "
        "the chunk before, in any round; a token alone there attends to itself. More rounds give a missed pair "
        "another chance."
    )
    pairs = anatomy.bucket_pairs(q, buckets)
    iu = np.triu_indices(t, k=1)
    order = np.argsort(-pairs.cosine[iu], kind="stable")[:8]
    if order.size:
        rows = [(iu[0][i], iu[1][i]) for i in order]
        table = pd.DataFrame(
            {
                "token": [labels[a] for a, _ in rows],
                "token ": [labels[b] for _, b in rows],
                "cosine of their queries": [f"{pairs.cosine[a, b]:.2f}" for a, b in rows],
                "same bucket in": [f"{pairs.rounds_shared[a, b]} of {n_rounds} round(s)" for a, b in rows],
            }
        )
        st.markdown("**Similar queries, same bucket: the most similar pairs of your sentence**")
        st.dataframe(table, key="l6_bucket_pairs", hide_index=True)
    said = []
    if pairs.same_mean is not None and pairs.apart_mean is not None:
        closer = "higher" if pairs.same_mean > pairs.apart_mean else "not higher"
        said.append(
            f"Pairs that share a bucket in some round have a mean query cosine of {pairs.same_mean:.2f}; pairs "
            f"never in the same bucket, {pairs.apart_mean:.2f}: {closer}."
        )
    elif pairs.same_mean is not None:
        said.append(f"Every pair of your {t} tokens shared a bucket in at least one of the {n_rounds} round(s).")
    twins = [(a, b) for a, b in zip(*iu, strict=True) if pairs.cosine[a, b] > 1 - 1e-6]
    if twins:
        a, b = twins[0]
        said.append(
            f"The hash sees only directions: “{md_escape(labels[a])}” and “{md_escape(labels[b])}” have the same "
            f"query, so they share a bucket in every round ({len(twins)} such pair(s) here); the chunks can still "
            "keep them apart."
        )
    if said:
        st.caption(" ".join(said))
    kept = run.comparison.approx.mass_kept or 0.0
    chance = anatomy.uniform_share(run.pattern, run.exact_mask)
    versus = f"beats chance by {100 * (kept - chance):.1f} points" if kept > chance else "is no better than chance"
    peak = float(run.exact.weights.max(dim=-1).values.mean())
    st.caption(
        f"The buckets keep {kept:.1%} of the exact shared-QK weight; uniform attention puts {chance:.1%} on the "
        f"same cells: the hash's choice {versus}. The exact shared-QK map is flat here: a row's largest "
        f"weight is {peak:.2f} on average, against {1 / max(t - 1, 1):.2f} if all {max(t - 1, 1)} other keys "
        "weighed the same. These queries were not trained to be shared with the keys."
    )


# ---------------------------------------------------------------------------------------------- Sparse Transformer


def sparse_section(run: compare.Run, labels: list[str]) -> None:
    show.step("Both directions here; the paper looks back only")
    kwargs = run.settings.kwargs
    t = len(labels)
    stride, pattern = int(kwargs["stride"]), str(kwargs["pattern"])
    reach = anatomy.sparse_reach(t, pattern, stride)
    st.caption(
        f"The Sparse Transformer is a decoder: a token sees only earlier keys. Your heads are an encoder's, so the "
        f"pattern here reaches both ways, as the formula says: with the {pattern} pattern and l = {stride}, the "
        f"last token, “{md_escape(labels[-1])}”, sees {reach.last_row} of {t} keys, and all rows together see "
        f"{reach.both} of {t * t} pairs. The paper's causal version keeps the {reach.causal} of them with s ≤ t."
    )


# ---------------------------------------------------------------------------------------------- Longformer


def longformer_section(run: compare.Run, labels: list[str]) -> None:
    show.step("Dilated windows, global tokens, and how long")
    kwargs = run.settings.kwargs
    window, glob, now = int(kwargs["window"]), tuple(kwargs["global_tokens"]), int(kwargs.get("dilation", 1))
    dilations = REGISTRY["longformer"].knob("dilation").values
    kept = anatomy.dilation_kept(run.exact.weights, window, glob, dilations)  # type: ignore[arg-type]
    show.chart(
        plots.bars([f"d = {d}" for d in dilations], kept, title=f"Exact weight kept by a window of w = {window} "
                   "at each dilation", value_name="weight kept", highlight=[dilations.index(now)], height=280),
        key="l6_dilation_kept", name="dilation",
    )  # fmt: skip
    reach = (window // 2) * now
    tokens = "token" if reach == 1 else "tokens"
    st.caption(
        f"With dilation d = {now} the window's {2 * (window // 2) + 1} positions lie {now} apart and reach "
        f"{reach} {tokens} to each side; the grey cells of the exact map above are this pattern, and it keeps "
        f"{kept[dilations.index(now)]:.1%} of the weight (d = 1: {kept[0]:.1%}). Same cost, wider reach, with "
        "holes. In the paper's character-level language models, only 2 heads of the upper layers are dilated; "
        "the lower layers keep d = 1."
    )
    names = ", ".join(f"“{md_escape(labels[g])}”" for g in glob) if glob else "none"
    first = "" if not glob else " (your first token)" if len(glob) == 1 else f" (your first {len(glob)} tokens)"
    st.caption(
        f"Global tokens here: {names}{first}. The paper chooses them for the task: [CLS] for classification, the "
        "question's tokens for question answering."
    )
    st.caption(
        "The cost grows linearly with the length at a fixed window, so the mechanism itself runs on very long "
        "inputs; the published Longformer models were trained on inputs of up to 4,096 tokens, not millions."
    )


# ---------------------------------------------------------------------------------------------- BigBird


def bigbird_section(run: compare.Run, labels: list[str]) -> None:
    show.step("Why global and random blocks: the theory")
    kwargs = run.settings.kwargs
    t = len(labels)
    hops = anatomy.bigbird_hops(t, kwargs)

    def layers(n: int | None) -> str:
        return "never (some token is cut off)" if n is None else ("1 layer" if n == 1 else f"{n} layers")

    st.markdown(
        "Zaheer et al. prove two things about BigBird's pattern, both resting on the **global tokens**: with at "
        "least one token that attends to all and that all attend to, a sparse-attention encoder is a universal "
        "approximator of continuous sequence-to-sequence functions, as full attention is; and the encoder–decoder "
        "is Turing complete (with arbitrary precision, as the proof for full attention assumes). The **random "
        "blocks** are not needed for either theorem; they are motivated by graph theory: in a random graph the "
        "shortest path between two nodes is typically only O(log n) steps long, so information crosses the "
        "sequence in few layers. The paper also proves a limit: a task that one layer of full attention solves "
        "needs about n layers (up to log factors) with any sparse pattern of about n pairs."
    )
    st.caption(
        f"On your {t} tokens (blocks of {int(kwargs['block_size'])}): information reaches every token from every "
        f"other in {layers(hops.pattern)} with this pattern; without the global block, in {layers(hops.no_global)}; "
        f"with the window alone, in {layers(hops.window)}. BigBird's published models were pretrained on inputs "
        "of 4,096 tokens; the cost grows linearly with the length, but no published BigBird was trained on millions."
    )
    if hops.pattern == 1:
        st.caption(
            f"In 1 layer means the pattern covers every pair of your {t} tokens: at this length BigBird is exact "
            "attention. Smaller blocks, or a longer sentence, show the difference."
        )


# ---------------------------------------------------------------------------------------------- Nyströmformer


def nystrom_section(run: compare.Run, labels: list[str]) -> None:
    show.step("The landmarks are segment means")
    m = int(run.settings.kwargs["n_landmarks"])
    segments = anatomy.landmark_segments(len(labels), m)
    table = pd.DataFrame(
        {
            "landmark": [str(j + 1) for j in range(m)],
            "tokens averaged": [" · ".join(labels[i] for i in seg) for seg in segments],
            "positions": [f"{seg.start + 1}–{seg.stop}" if len(seg) > 1 else str(seg.start + 1) for seg in segments],
        }
    )
    st.dataframe(table, key="l6_landmarks", hide_index=True)
    st.caption(
        f"Nothing is sampled or learned: your {len(labels)} tokens are cut into {m} stretches that follow each "
        "other, and a landmark query is the plain mean of the queries of one stretch (a landmark key, the mean of "
        "its keys). The three small softmax matrices see the tokens only through these averages and their own "
        f"queries and keys; with one token per stretch (m = T = {len(labels)}) the approximation is exact."
    )


# ---------------------------------------------------------------------------------------------- MQA / GQA

LENGTHS = (512, 2048, 8192, 32768, 131072, 1 << 20)
DECODE_CONTEXTS = (256, 512, 1024, 2048, 4096)  # prompt lengths the decoding loop can be timed at


def mqa_section(text: str, source: str, layer: int, groups: int, heads: int) -> None:
    show.step("The KV cache: what a decoder keeps for every past token")
    c1, c2 = st.columns(2)
    names = [s.name for s in costs.SHAPES]
    shape_name = c1.selectbox("Model shape", names, key="l6_shape")
    shape = costs.SHAPES[names.index(shape_name)]
    length = c2.select_slider("Context length (tokens)", LENGTHS, value=8192, key="l6_ctx",
                              format_func=lambda n: f"{n:,}")  # fmt: skip
    options = costs.group_options(shape.heads)
    sizes = [costs.cache_bytes(shape, g, length) for g in options]
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
        released = costs.cache_bytes(shape, shape.kv_heads, length)
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


# ---------------------------------------------------------------------------------------------- the page's table

Floor = tuple[list[int], list[float]] | None  # knob values and the best any method could do there


@dataclass(frozen=True)
class View:
    """What the variant page chose and measured, handed to a variant's own parts."""

    text: str
    source: str
    layer: int
    head: int
    name: str
    knobs: Mapping[str, KnobValue]
    run: compare.Run
    labels: list[str]
    inp: efficient.HeadInput


@dataclass(frozen=True)
class Extras:
    """A variant's own parts of the page; a variant without an entry gets the parts every variant has."""

    section: Callable[[View], None] | None = None  # drawn after the figures
    question: Callable[[str, compare.Run, str], Question] | None = None  # else the question of its kind
    floor: Callable[[View, compare.Sweep], Floor] | None = None  # a lower bound drawn under the sweep
    after_sweep: Callable[[View, compare.Sweep, Floor], None] | None = None
    log_x: bool = False  # the sweep's knob on a log axis


def linformer_floor(view: View, s: compare.Sweep) -> Floor:
    """Eckart–Young: no rank-k matrix is closer to the exact map than its truncated SVD."""
    energy = efficient.spectrum(view.text, view.source, view.layer).energy[view.head]  # (T,)
    ranks = [int(r) for r in s.values]
    return ranks, [float(max(1.0 - energy[r - 1], 0.0) ** 0.5) for r in ranks]


def linformer_floor_note(view: View, s: compare.Sweep, floor: Floor) -> None:
    assert floor is not None
    st.caption(
        "The dashed line is the truncated SVD of the exact map: by Eckart–Young no rank-k matrix is closer to it, "
        "whatever produced that matrix (a fixed projection, a learned one, or one fitted to this very sentence). "
        "Linformer's map has rank at most k, so its line can never go below the dashed one."
    )
    now = view.knobs[s.knob]
    if now in s.values:
        i = s.values.index(now)
        st.caption(
            f"At k = {s.values[i]}: Linformer's error is {s.mean[i]:.3f}"
            + (f" (mean of {s.seeds} draws)" if s.seeds > 1 else "")
            + f", the best rank-{s.values[i]} matrix's {floor[1][i]:.3f}."
        )


# each variant's own parts of the page, by its name in attnviz.efficient.REGISTRY
EXTRAS: Mapping[str, Extras] = {
    "flash": Extras(
        section=lambda v: flash_section(v.text, v.source, v.layer, v.head, int(v.knobs["tile"]), v.labels),
        question=_flash_question,
    ),
    "linformer": Extras(
        section=lambda v: linformer_section(v.text, v.source, v.layer, v.head, v.labels),
        floor=linformer_floor,
        after_sweep=linformer_floor_note,
    ),
    "performer": Extras(
        after_sweep=lambda v, s, floor: performer_section(v.text, v.source, v.layer, v.head, s, v.labels),
        log_x=True,
    ),
    "reformer": Extras(section=lambda v: reformer_section(v.run, dict(v.knobs), v.labels, v.inp.q[v.head])),
    "sparse": Extras(section=lambda v: sparse_section(v.run, v.labels)),
    "longformer": Extras(section=lambda v: longformer_section(v.run, v.labels)),
    "bigbird": Extras(section=lambda v: bigbird_section(v.run, v.labels)),
    "nystrom": Extras(section=lambda v: nystrom_section(v.run, v.labels)),
    "mqa": Extras(
        section=lambda v: mqa_section(
            v.text, v.source, v.layer, int(v.run.settings.kwargs["groups"]), int(v.inp.q.shape[0])
        ),
        question=_groups_question,
    ),
}
