"""Multi-query and grouped-query attention's own parts of the variant page: the KV-cache meter, the decoding loop."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support.efficient import efficient, efficient_lab
from app_support.efficient.efficient_sections import Extras
from app_support.kit import charts, steps
from app_support.kit.widgets import check_link, link_value
from attnviz import plots
from attnviz.efficient import costs, mqa
from attnviz.efficient.costs import human_bytes

# ---------------------------------------------------------------------------------------------- MQA / GQA

LENGTHS = (512, 2048, 8192, 32768, 131072, 1 << 20)
DECODE_CONTEXTS = (256, 512, 1024, 2048, 4096)  # prompt lengths the decoding loop can be timed at


def mqa_section(reading: efficient.LayerReading, groups: int, heads: int) -> None:
    steps.step("The KV cache: what a decoder keeps for every past token")
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
    charts.chart(
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
    changes = efficient.head_changes(reading, groups)
    whose = f"MiniLM layer {reading.layer + 1}" if reading.source == "real" else "the toy heads"
    charts.chart(
        plots.bars([f"head {h + 1}" for h in range(heads)], changes, value_name="relative error", height=300,
                   title=f"Back on your sentence, {whose}: how far each head's map moves with {groups} shared K/V "
                   f"group{'s' if groups > 1 else ''}"),
        key="l6_head_changes", name="heads moved",
    )  # fmt: skip
    decoding_section()


def decoding_section() -> None:
    """Time a decoding loop with a KV cache for multi-head, grouped-query and multi-query attention."""
    d = mqa.DECODER
    steps.step("Does a smaller cache decode faster? Timed on this machine")
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
    times = efficient_lab.decoding_times("cpu", context)
    if c2.button("Time the decoding loop", key="l6_decode_run", icon=":material/timer:", disabled=times is not None):
        efficient_lab.time_decoding("cpu", context)
        times = efficient_lab.decoding_times("cpu", context)
    if times is None:
        st.caption("A few seconds on this machine's CPU. Results are kept for everyone on this server.")
        return
    mha, one = times[d.heads], times[1]
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
    cache_ratio = mha["cache_bytes"] / one["cache_bytes"]
    speedup = mha["per_token_s"] / one["per_token_s"]
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
        f"Measured on this machine's CPU with a {context:,}-token prompt (median of {int(one['steps'])} steps): "
        f"multi-query's cache is {cache_ratio:.0f}× smaller than multi-head's and its step took "
        + (f"{speedup:.1f}× less time" if speedup >= 1 else f"{1 / speedup:.1f}× more time")
        + f"; {verdict}. The papers' speed-ups (Shazeer, 2019; Ainslie et al., 2023) were "
        "measured on accelerators, where a decoding step is mostly waiting for the cache to arrive from memory "
        "(memory bandwidth), and larger batches and longer contexts make the cache larger still. Timings on a "
        "shared machine vary from run to run."
    )


PART = Extras(
    section=lambda v: mqa_section(v.reading.of_layer, int(v.run.settings.kwargs["groups"]), int(v.inp.q.shape[0])),
    charts=("l6_kv", "l6_head_changes"),
)
