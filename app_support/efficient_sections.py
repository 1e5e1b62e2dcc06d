"""The parts of lesson 6's variant page that only one variant has (the FlashAttention step-through, Linformer's
singular values, the KV-cache meter, …). Each takes what the page already chose and draws its part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_support import efficient, show
from app_support.widgets import check_link, link_value, linked, predict_first
from attnviz import lesson6, plots
from attnviz.efficient.io import fewer_from, flash_io, sram_numbers, standard_io
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
        return predict_first(
            key,
            f"With {groups} K/V group(s), {head_label} loses its own keys and shares averaged ones. How far will "
            "its attention map move (relative error)?",
            ["under 10%", "10% to 50%", "over 50%"],
            correct=0 if moved < 0.1 else (1 if moved < 0.5 else 2),
            explain=f"It moves by {moved:.0%}. Averaging keys blurs what each head looked for; a model trained with "
            "shared K/V learns to live with it, but a multi-head checkpoint converted as-is does not.",
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
    partial = now.output.numpy()  # (Tq, Dv)
    final = flash.output.numpy()[now.q_start : now.q_stop]
    # one colour scale for every tile of these rows (the largest difference, after their first tile), so the
    # difference is seen to shrink, and a final output reads as 0 rather than as an empty box
    reach = max(float(np.abs(x.output.numpy() - final).max()) for x in steps if x.q_start == now.q_start)
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
        f"{human_bytes(big.tile + big.running)}. That difference is why long contexts are possible at all."
    )
    flash_traffic(text, source, layer, head, tile, t)


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


def performer_section(text: str, source: str, layer: int, head: int, s: lesson6.Sweep, labels: list[str]) -> None:
    """Why the error falls as it does on this head: the length of q + k, which sets the noise of each estimate."""
    show.step("How fast the error can fall: the length of q + k")
    inp = efficient.head_input(text, source, layer)
    spread = lesson6.kernel_spread(inp.q[head], inp.k[head])
    slope = lesson6.error_slope(s)
    b = f"{slope:.2f}".replace("-", "−")
    m_lo, m_hi = int(s.values[0]), int(s.values[-1])
    typical, largest = spread.typical, spread.largest
    needed = lesson6.features_needed(typical)
    left, right = st.columns([3, 2])
    show.chart(
        plots.heatmap(spread.sq, labels, labels, title="‖q + k‖²/√d, pair by pair", row_title="query",
                      col_title="key", value_name="‖q+k‖²/√d", diverging=False, narrow=True,
                      top_k=None, decimals=1),
        key="l6_qk_spread", name="q plus k", where=left, csv=(spread.sq, labels, labels),
    )  # fmt: skip
    right.metric("Typical pair: ‖q + k‖²/√d (median)", f"{typical:.1f}")
    right.metric("Largest pair", f"{largest:.1f}")
    right.metric("m for 10% noise on a typical kernel value", lesson6.large_number(needed))
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
        f"{lesson6.large_number(needed)} features to be within 10%"
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
    chosen = max(g for g in options if g <= groups) if groups <= shape.heads else shape.heads
    unit = 2**30
    show.chart(
        plots.bars([f"G = {g}" + (" (multi-query)" if g == 1 else " (multi-head)" if g == shape.heads else "")
                    for g in options], [b / unit for b in sizes], horizontal=True, value_name="GiB",
                   highlight=[options.index(chosen)], decimals=3, height=120 + 34 * len(options),
                   title=f"KV cache of {shape.name}, {length:,} tokens, batch 1"),
        key="l6_kv", name="kv cache",
    )  # fmt: skip
    released = lesson6.cache_bytes(shape, shape.kv_heads, length)
    st.caption(
        f"2 (K and V) × {shape.layers} layers × G heads × {length:,} tokens × {shape.head_dim} numbers × "
        f"{2 if shape.dtype.itemsize == 2 else 4} bytes. As released, with {shape.kv_heads} K/V heads: "
        f"{human_bytes(released)}. Every generated token reads all of it once, so a smaller cache is also faster."
    )  # fmt: skip
    changes = efficient.head_changes(text, source, layer, groups)
    show.chart(
        plots.bars([f"head {h + 1}" for h in range(heads)], changes, value_name="relative error",
                   title=f"How far each head's map moves with {groups} shared K/V group(s)", height=300),
        key="l6_head_changes", name="heads moved",
    )  # fmt: skip
