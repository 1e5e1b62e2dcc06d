"""FlashAttention's own parts of the variant page (its record's `page_part`): the tiles step by step, the memory, the
kernel, the traffic; on page 6b a note on the tile."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app_support.data import loaders
from app_support.efficient import efficient
from app_support.efficient.efficient_sections import Extras
from app_support.kit import charts, steps
from app_support.kit.widgets import check_link, link_value, linked
from attnviz import plots
from attnviz.efficient import REGISTRY, costs, flash
from attnviz.efficient.costs import human_bytes
from attnviz.efficient.flash import triton_kernel_source
from attnviz.efficient.io import Traffic, fewer_from, fewer_from2, flash2_io, flash_io, sram_numbers, standard_io
from attnviz.efficient.registry import KnobValue
from attnviz.host import to_host

# ---------------------------------------------------------------------------------------------- FlashAttention


def flash_section(reading: efficient.Reading, tile: int, labels: list[str]) -> None:
    steps.step("Step through the tiles")
    t = len(labels)
    spans = costs.flash_spans(t, t, tile)
    tile_note(t, tile)
    raw = link_value("l6_step")
    if len(spans) > 1:
        if st.session_state.get("l6_step", 1) > len(spans):  # a smaller tile count than the tile chosen before
            del st.session_state["l6_step"]  # start again at the first tile, instead of Streamlit's value error
        step = st.slider(
            "Tile", 1, len(spans), 1, key="l6_step", help="Walk the tiles in the order they run.",
            bind="query-params",
        )  # fmt: skip
        check_link(raw, step, f"The link asks for tile “{raw}”; there are {len(spans)} tiles: showing {step}.")
    else:
        step = 1
        st.caption("One tile holds the whole matrix at this tile size: choose a smaller tile to see the steps.")
    walk = efficient.flash_walk(reading, tile, step - 1)  # only this tile's block of rows
    now = walk.now
    done = costs.flash_progress(t, t, spans, step - 1)  # (T, S) 0 not yet, 1 earlier, 2 now
    scores = to_host(walk.scores)  # (T, S), NaN where not computed yet
    st.markdown(
        f"**Tile {step} of {len(spans)}**: queries {now.q_start + 1}–{now.q_stop} × keys {now.k_start + 1}–"
        f"{now.k_stop}. Each tile is computed, folded into the running figures of its rows, and thrown away."
    )
    left, right = st.columns([1, 1])
    charts.chart(
        plots.heatmap(scores, labels, labels, title="Scaled scores computed so far (framed: this tile)",
                      row_title="query", col_title="key", value_name="score", narrow=True,
                      boxes=[spans[step - 1]], top_k=None, overlay=done == 0, overlay_name="not computed yet"),
        key="l6_flash_tiles", name="flash tiles", where=left, csv=(scores, labels, labels),
    )  # fmt: skip
    _tile_rows(walk, labels, t, right)
    whole = efficient.run(reading, "flash", (("tile", tile),))  # the whole tiled pass, cached
    diff = float(np.abs(to_host(whole.approx.output) - to_host(whole.exact.output)).max())
    mem = costs.flash_memory(t, t, int(whole.approx.output.shape[-1]), tile, tile)
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
    flash_traffic(reading, tile, t)


def _tile_rows(walk: costs.FlashWalk, labels: list[str], t: int, right: Any) -> None:
    """The running max and sum of the tile's rows after it (in the column ``right``), and their partial output
    against the final one."""
    now = walk.now
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
    final = to_host(walk.rows_output)  # (Tq, Dv) these rows after their last tile
    # one colour scale for every tile of these rows (the largest difference, after their first tile), so the
    # difference is seen to shrink, and a final output reads as 0 rather than as an empty box
    reach = max(float(np.abs(to_host(x.output) - final).max()) for x in walk.row_steps)
    reach = reach if reach > 0 else 1.0
    charts.chart(
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


def tile_note(t: int, tile: int) -> None:
    """Why the smallest tiles are not offered for this length, when they are not (computed, not typed)."""
    options = next(k for k in REGISTRY["flash"].knobs if k.name == "tile").values
    floor = flash.flash_tile_floor(t)
    cut = [o for o in options if o < floor]
    if not cut:
        return
    below = max(cut)
    side_below = -(-t // below)
    side = -(-t // tile)
    st.caption(
        f"Your {t} tokens in tiles of {below} would make {side_below} × {side_below} = {side_below**2:,} tiles to "
        f"step through, one at a time. The walk offers tiles from ⌈{t} / {flash.WALK_SIDE}⌉ = {floor} on, at most "
        f"{flash.WALK_SIDE} × {flash.WALK_SIDE} = {flash.WALK_SIDE**2} tiles; with {tile} there are {side} × {side} = "
        f"{side * side:,}. The algorithm is the same at every tile size: a GPU kernel picks its tile by how much fast "
        "memory it has, not by the input's length."
    )


def flash_kernel() -> None:
    """The Triton kernel's source, beside the walk, and whether this server runs it."""
    with st.expander("The same algorithm as a GPU kernel (Triton)"):
        st.markdown(
            "Each *program* of the kernel owns one block of BLOCK_M query rows (`tl.program_id(0)`; "
            "`program_id(1)` is the head): flash.py's outer loop over query blocks (FlashAttention-2's order), with "
            "every block running at once on the GPU. The `for k0` loop is the walk above for one block of rows, one "
            "K/V tile at a time; the block's queries and its m, ℓ and acc stay in the program's registers and on-chip "
            "memory (SRAM) through it, and only O and the log-sum-exp are written back to the GPU's main memory."
        )
        st.markdown(kernel_note(loaders.device().type, importlib.util.find_spec("triton") is not None))
        st.code(triton_kernel_source(), language="python", wrap_lines=True)


def kernel_note(device: str, triton_installed: bool) -> str:
    """Whether anything on this server runs the kernel (``device`` as torch names it: "cpu", "cuda", …)."""
    walk = "This page never runs the kernel: the walk above is flash.py's Python loop, one tile at a time. "
    if device == "cuda" and triton_installed:
        return walk + "On this server's GPU, page 6c's timings of FlashAttention (ours) do run this kernel."
    if device == "cuda":
        return walk + "This server has a GPU, but Triton is not installed on it, so no page runs the kernel here."
    return walk + (
        f"This server computes on its {device.upper()}, and the kernel needs a GPU, so no page runs it here "
        "(the tests run it on a CPU in Triton's interpreter, slowly, to check it against exact attention)."
    )


def _times(ratio: float) -> str:
    """3.14 → '3.1×', 87.4 → '87×'."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


_TIMED = "_l6_flash_timed"  # session state: the (reading, tile) views timed in this session
_TIMED_KEEP = 16

# per streaming multiprocessor; the paper's analysis takes M ≈ 100 KB (Dao et al. 2022, section 3.2). NVIDIA's
# A100 whitepaper: 192 KB of combined L1/shared memory per SM, shared memory configurable up to 164 KB; H100
# whitepaper: 256 KB combined, shared memory up to 228 KB (the old text set A100's combined figure beside H100's shared)
SRAM_KIB = (16, 32, 64, 100, 192, 228)


def flash_traffic(reading: efficient.Reading, tile: int, t: int) -> None:
    """The papers' count of slow-memory traffic for the learner's length, both loop orders, beside times measured on
    this machine."""
    steps.step("Why it is fast on a GPU: memory traffic, counted")
    d = int(reading.inp.q.shape[-1])
    # Dao et al. (2022), Section 3.2 and Theorem 2: Algorithm 0 and Algorithm 1; Dao (2023), Algorithm 1: the order
    # of attnviz.efficient.flash, of the walk above and of flash_triton's kernel (counted in attnviz.efficient.io)
    st.markdown(
        "A GPU keeps Q, K, V and O in its large but slow memory (HBM) and computes in a small fast memory on the "
        "chip (SRAM), M numbers per streaming multiprocessor. Dao et al. (2022) count every number moved between "
        "the two (their Theorem 2): standard attention writes the T×T scores and weights out and reads them back, "
        "Θ(T·d + T²); FlashAttention keeps each tile on the chip and moves Θ(T²·d²/M). The two FlashAttention "
        "papers walk the tiles in opposite orders. **Algorithm 1 of FlashAttention (2022)** loops over blocks of "
        "keys outside: every block of query rows, with its O, ℓ and m, goes to HBM and back once per block of keys. "
        "**FlashAttention-2 (Dao, 2023)** loops over blocks of query rows outside: it reads each block of Q once, "
        "keeps its O, ℓ and m on the chip, divides by ℓ once at the end and writes O and the log-sum-exp once; "
        "instead it reads K and V once per block of query rows. The walk above, the formula beside it and the "
        "Triton kernel all use FlashAttention-2's order. Below, all three algorithms are counted exactly as "
        "written, for your length and this head's width d."
    )
    kib = linked(
        st.select_slider, "Fast memory M per multiprocessor (KiB)", SRAM_KIB, value=100, key="l6_sram",
        help="An A100 has 192 KB of L1 cache and shared memory per multiprocessor (the FlashAttention paper's "
        "figure), of which a kernel can use up to 164 KB; an H100 has 256 KB, up to 228 KB. The paper's analysis "
        "takes about 100 KB. Counted in float32 numbers: 1 KiB holds 256.",
    )  # fmt: skip
    m = sram_numbers(kib)
    counted = (standard_io(t, d), flash_io(t, d, m), flash2_io(t, d, m))
    frame = pd.DataFrame(
        {
            "numbers read": [f"{x.reads:,}" for x in counted],
            "numbers written": [f"{x.writes:,}" for x in counted],
            "in all": [f"{x.total:,}" for x in counted],
            "bytes (float32)": [human_bytes(4 * x.total) for x in counted],
        },
        index=pd.Index(list(ALGORITHMS), name=f"T = {t}, d = {d}, M = {m:,} numbers"),
    )
    st.dataframe(frame, key="l6_flash_io", width="stretch")
    st.caption(traffic_note(t, d, *counted))
    _traffic_chart(t, d, m, kib)
    _flash_times(reading, tile, t, d)


# the table's and the chart's names of the three counts of attnviz.efficient.io
ALGORITHMS = (
    "standard attention (Algorithm 0)",
    "FlashAttention, Algorithm 1 (2022): key blocks outside",
    "FlashAttention-2 (2023): query blocks outside, as on this page",
)


def _count(n: int) -> str:
    """1 → "once", 3 → "3 times"."""
    return "once" if n == 1 else f"{n:,} times"


def traffic_note(t: int, d: int, standard: Traffic, first: Traffic, second: Traffic) -> str:
    """What the table shows at the learner's length: the blocks of each order and who moves less, and why."""
    trips = first.outer_loops or 0
    reads = second.outer_loops or 0
    round_trips = first.total - (2 + trips) * t * d  # Algorithm 1: everything but the reads of Q, K and V
    said = (
        f"Algorithm 1's blocks: B_c = ⌈M/4d⌉ = {first.block_cols} keys outside, B_r = min(B_c, d) = "
        f"{first.block_rows} query rows inside, so Q, O, ℓ and m go back and forth T_c = {trips}: {_count(trips)}. "
        "FlashAttention-2 leaves its block sizes to the kernel (the paper tunes "
        "them by head width); counted here with the same sizes turned round, B_r = "
        f"{second.block_rows} query rows outside and B_c = {second.block_cols} keys inside, it reads K and V "
        f"T_r = {reads}: {_count(reads)}. "
    )
    ratio = first.total / standard.total
    if ratio > 1:
        said += (
            f"At your {t} tokens Algorithm 1 moves {ratio:.2f}× as much as standard attention: the T×T scores and "
            f"weights cost standard attention only 4T² = {4 * t * t:,} numbers of traffic, while Algorithm 1 sends "
            "O, ℓ and m back and forth (written first as zeros, then read and written once per block of keys): "
            f"{round_trips:,} numbers. "
        )
    else:
        said += f"At your {t} tokens Algorithm 1 moves {ratio:.2f}× as much as standard attention. "
    ratio2 = second.total / standard.total
    said += (
        f"FlashAttention-2's order moves {ratio2:.2f}× as much as standard attention ({second.total:,} numbers: "
        f"Q read once, K and V {_count(reads)}, O and the log-sum-exp written once)"
    )
    return said + (f", and {second.total / first.total:.2f}× as much as Algorithm 1." if first.total else ".")


def _traffic_chart(t: int, d: int, m: int, kib: int) -> None:
    """The three counts against the length, and from which length each FlashAttention order moves fewer."""
    lengths = sorted({t, *(1 << e for e in range(4, 17))})
    counts = (standard_io, lambda n, d: flash_io(n, d, m), lambda n, d: flash2_io(n, d, m))
    charts.chart(
        plots.lines(
            [plots.Series(ALGORITHMS[i], lengths, [count(n, d).total for n in lengths], colour=colour)
             for i, (count, colour) in enumerate(zip(counts, (7, 5, 2), strict=True))],
            title=f"Numbers moved between HBM and SRAM (d = {d}, M = {kib} KiB)", x_title="tokens T",
            y_title="numbers read + written", log_x=True, log_y=True, height=360,
            x_ticks=[n for n in lengths if n >= 16 and (n.bit_length() - 1) % 2 == 0],
            marks=[(t, standard_io(t, d).total, f"your {t} tokens")],
        ),
        key="l6_flash_io_chart", name="HBM traffic",
    )  # fmt: skip
    far = lengths[-1]
    said = []
    for name, start, count in (("Algorithm 1", fewer_from(d, m), counts[1]), ("FlashAttention-2's order",
                               fewer_from2(d, m), counts[2])):  # fmt: skip
        if start is None:
            said.append(f"{name} never moves fewer numbers than standard attention for long inputs with so little "
                        "fast memory: its outer blocks are too short.")  # fmt: skip
        else:
            since = "at every length" if start == 1 else f"from T = {start:,} on"
            said.append(f"{name} moves fewer numbers than standard attention {since}; at T = {far:,} standard "
                        f"attention moves {standard_io(far, d).total / count(far, d).total:.0f}× as many.")  # fmt: skip
    st.caption(
        " ".join(said) + " A larger M means longer blocks in the outer loop, fewer trips of what the inner loop "
        "reads, and less traffic."
    )


def _flash_times(reading: efficient.Reading, tile: int, t: int, d: int) -> None:
    """On a button: the three ways timed on this server for the view (our tiled loop, the matrix path, PyTorch's
    fused kernel), kept for the session."""
    timed = st.session_state.setdefault(_TIMED, [])  # the views this session has timed (bounded)
    view = (reading, tile)  # a frozen Reading: compared field by field
    if view not in timed:
        st.markdown(f"**Time the three ways on this server, for your {t} tokens, one head (d = {d})**")
        if not st.button(
            "Time them",
            key="l6_flash_time",
            icon=":material/timer:",
            help="Runs each way repeatedly for a moment; kept for this text, head and tile size.",
        ):
            st.caption(
                "PyTorch's fused kernel, attnviz's matrix path and our tiled loop, each run repeatedly on this head; "
                "measured when you ask, since a timing takes a moment and measures this server as it is then."
            )
            return
        timed.append(view)
        del timed[:-_TIMED_KEEP]
    timings = efficient.flash_timings(reading, tile)
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


def swap_note(longest: int, knobs: Mapping[str, KnobValue]) -> None:
    """Page 6b, under the knobs: why the tile sizes offered start where they do for the longest text there."""
    floor = flash.flash_tile_floor(longest)
    if floor <= 1:
        return
    side = -(-longest // int(knobs["tile"]))
    st.caption(
        f"Tiles from ⌈{longest} / {flash.WALK_SIDE}⌉ = {floor} on, for the longest text here ({longest} pieces): "
        "our tiled loop is "
        f"Python, one step per tile, and with {knobs['tile']} it already takes {side} × {side} = {side * side:,} "
        "steps in each of the 6 layers. FlashAttention is exact, so every tile size gives the same embedding up to "
        "rounding."
    )


PART = Extras(
    section=lambda v: flash_section(v.reading, int(v.knobs["tile"]), v.labels),
    swap_note=swap_note,
    charts=("l6_flash_tiles",),
)
