"""Lesson 6: efficient attention, one variant at a time, on the learner's own sentence."""

import streamlit as st

from app_support import efficient, sentence, show
from app_support import efficient_sections as sections
from app_support.widgets import EDIT, check_link, link_value, md_escape, warn
from attnviz import AttnvizInputError
from attnviz.lesson6 import INFO

st.title("6 · Efficient attention")
_of_kind = {kind: ", ".join(i.title for i in INFO.values() if i.kind == kind) for kind in ("pattern", "approx")}
st.markdown(
    "Exact attention compares every token with every other: T² scores for T tokens. At 1,000 tokens that is a "
    "million numbers per head, at 100,000 it is ten billion. The variants below cut different costs. "
    f"Some compute only the scores of a pattern ({_of_kind['pattern']}); some approximate the whole matrix "
    f"({_of_kind['approx']}). FlashAttention computes every score exactly, but never stores the T×T matrix. "
    "Multi-Query / Grouped-Query attention keeps all T² scores and shrinks the keys and values instead, and with "
    "them the cache a decoder keeps. Pick one, set its knob, and see what it keeps and what it costs on **your** "
    "sentence."
)
text = sentence.current()
if not text.strip():
    st.warning("The sentence box is empty. Type a sentence in the sidebar, or pick a ready one.", icon=EDIT)
    st.stop()

name = efficient.choose_variant("l6_variant")
c1, c2 = st.columns([2, 3])
info = INFO[name]
source = c1.radio(
    "Q, K and V from", list(efficient.SOURCES), captions=list(efficient.SOURCES.values()), key="l6_source",
    horizontal=True, bind="query-params",
)  # fmt: skip
raw_layer, raw_head = link_value("l6_layer"), link_value("l6_head")
s1, s2 = c2.columns(2)
layer = 0
if source == "real":
    layer = s1.selectbox("Layer", range(1, 7), index=2, key="l6_layer", bind="query-params") - 1
    check_link(raw_layer, layer + 1, f"The link asks for layer “{raw_layer}”; MiniLM has layers 1 to 6.")
head = s2.selectbox("Head", range(1, 13), index=0, key="l6_head", bind="query-params") - 1
check_link(raw_head, head + 1, f"The link asks for head “{raw_head}”; there are heads 1 to 12.")

inp = efficient.head_input(text, source, layer)
for note in inp.notes:
    warn(note)
if inp.length == 0:
    st.warning("None of your words are in the GloVe vocabulary. Try plain English words, or the real model.", icon=EDIT)
    st.stop()
labels = list(inp.labels)
who = f"layer {layer + 1}, head {head + 1} of MiniLM" if source == "real" else f"toy head {head + 1} over GloVe"

# --- the variant's section ---------------------------------------------------------------------------------------
show.step(info.title)
st.caption(f"{info.paper}. Queries, keys and values: {who}, on your {inp.length} tokens.")
st.latex(info.formula)
m1, m2 = st.columns(2)
m1.markdown(f"**Time:** {info.time}")
m2.markdown(f"**Extra memory:** {info.memory}")
knobs = efficient.knob_widgets("l6", name)
try:
    run = efficient.run(text, source, layer, head, name, efficient.knob_key(knobs))
except AttnvizInputError as err:
    warn(str(err))
    st.stop()
for note in run.settings.notes:
    st.info(md_escape(note), icon=":material/straighten:")
if not sections.ask(name, run, f"head {head + 1}"):
    st.stop()

sections.side_by_side(run, labels, f"{info.title}", name)
st.markdown("**How far from exact, beside uniform attention**")
st.dataframe(sections.figures_table(run), key="l6_figures")
verdict = (
    "closer to exact than uniform attention"
    if run.comparison.beats_uniform
    else "no closer to exact than uniform attention: on this input its cost buys nothing"
)
st.caption(f"Its output is {verdict}.")

if name == "flash":
    sections.flash_section(text, source, layer, head, int(knobs["tile"]), labels)
elif name == "linformer":
    sections.linformer_section(text, source, layer, head, labels)
elif name == "reformer":
    sections.reformer_section(run, knobs, labels, inp.q[head])
elif name == "sparse":
    sections.sparse_section(run, labels)
elif name == "longformer":
    sections.longformer_section(run, labels)
elif name == "bigbird":
    sections.bigbird_section(run, labels)
elif name == "nystrom":
    sections.nystrom_section(run, labels)
elif name == "mqa":
    sections.mqa_section(text, source, layer, int(run.settings.kwargs["groups"]), int(inp.q.shape[0]))
if run.pattern is not None:
    sections.dropped_section(run, labels)

if name != "flash":
    knob = info.knobs[0] if name != "reformer" else info.knobs[1]
    show.step(f"{knob.label.split(' (')[0]}: the error at every setting")
    others = {k: v for k, v in knobs.items() if k != knob.name}  # the swept knob is not part of the cache key
    s = efficient.sweep(text, source, layer, head, name, efficient.knob_key(others), knob.name)
    floor = None
    if name == "linformer":  # Eckart–Young: no rank-k matrix is closer than the truncated SVD
        energy = efficient.spectrum(text, source, layer).energy[head]  # (T,)
        ranks = [int(r) for r in s.values]
        floor = (ranks, [float(max(1.0 - energy[r - 1], 0.0) ** 0.5) for r in ranks])
    sections.sweep_chart(s, knob.label, knobs[knob.name], log_x=name == "performer", floor=floor)
    if floor is not None:
        st.caption(
            "The dashed line is the truncated SVD of the exact map: by Eckart–Young no rank-k matrix is closer to it, "
            "whatever produced that matrix (a fixed projection, a learned one, or one fitted to this very sentence). "
            "Linformer's map has rank at most k, so its line can never go below the dashed one."
        )
        if knobs[knob.name] in s.values:
            i = s.values.index(knobs[knob.name])
            st.caption(
                f"At k = {s.values[i]}: Linformer's error is {s.mean[i]:.3f}"
                + (f" (mean of {s.seeds} draws)" if s.seeds > 1 else "")
                + f", the best rank-{s.values[i]} matrix's {floor[1][i]:.3f}."
            )
    if name == "performer":
        sections.performer_section(text, source, layer, head, s, labels)

st.divider()
st.caption(
    "The address bar holds the variant, its knobs, the layer and the head: copy it to share exactly this view. "
    "Next: swap a variant into the whole model (6b), then time them all on this machine (6c)."
)
