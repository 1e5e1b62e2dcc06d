"""Lesson 6: efficient attention, one variant at a time, on the learner's own sentence."""

import streamlit as st

from app_support.efficient import efficient
from app_support.efficient import efficient_sections as sections
from app_support.efficient import efficient_text as text_of
from app_support.efficient.efficient_patterns import dropped_section
from app_support.efficient.efficient_text import titles_of_kind
from app_support.kit import sentence, steps, tables
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import EDIT, check_link, link_value, text_or_stop, warn
from attnviz import AttnvizInputError
from attnviz.efficient import REGISTRY

st.title("6 · Efficient attention")
_of_kind = {kind: titles_of_kind(kind) for kind in ("pattern", "approx")}
st.markdown(
    "Exact attention compares every token with every other: T² scores for T tokens. At 1,000 tokens that is a "
    "million numbers per head, at 100,000 it is ten billion. The variants below cut different costs. "
    f"Some compute only the scores of a pattern ({_of_kind['pattern']}); some approximate the whole matrix "
    f"({_of_kind['approx']}). FlashAttention computes every score exactly, but never stores the T×T matrix. "
    "Multi-Query / Grouped-Query attention keeps all T² scores and shrinks the keys and values instead, and with "
    "them the cache a decoder keeps. Pick one, set its knob, and see what it keeps and what it costs on **your** "
    "sentence."
)
text = text_or_stop(sentence.current())

name = efficient.choose_variant("l6_variant")
c1, c2 = st.columns([2, 3])
info = REGISTRY[name].text
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

reading = efficient.Reading(text, source, layer, head)  # what this run reads, passed down to every part
inp = reading.inp  # Q, K, V of the layer's heads, computed once per text, source and layer
for note in inp.notes:
    warn(note)
if inp.length == 0:
    st.warning("None of your words are in the GloVe vocabulary. Try plain English words, or the real model.", icon=EDIT)
    st.stop()
labels = list(inp.labels)
who = f"layer {layer + 1}, head {head + 1} of MiniLM" if source == "real" else f"toy head {head + 1} over GloVe"

# --- the variant's section ---------------------------------------------------------------------------------------
steps.step(info.title)
st.caption(f"{info.paper}. Queries, keys and values: {who}, on your {inp.length} tokens.")
st.latex(info.formula)
m1, m2 = st.columns(2)
m1.markdown(f"**Time:** {info.time}")
m2.markdown(f"**Extra memory:** {info.memory}")
knobs = efficient.knob_widgets("l6", name, length=inp.length)
try:
    run = efficient.run(reading, name, efficient.knob_key(knobs))
except AttnvizInputError as err:
    warn(str(err))
    st.stop()
for note in run.settings.notes:
    st.info(md_escape(note), icon=":material/straighten:")
if not sections.ask(name, run, f"head {head + 1}"):
    st.stop()

sections.side_by_side(run, labels, f"{info.title}", name)
st.markdown("**How far from exact, beside uniform attention**")
tables.table(sections.figures_table(run), key="l6_figures")
st.caption(sections.verdict(name, run))

view = sections.View(reading, name, knobs, run, labels, inp)
extras = sections.part_of(name)  # its own parts: the module its record names
if extras.section is not None:
    extras.section(view)
if run.pattern is not None:
    dropped_section(run, labels)

swept = REGISTRY[name].swept  # None: the result never changes with the knob
if swept is not None:
    knob = next(k for k in text_of.knobs(name) if k.name == swept)
    steps.step(f"{knob.label.split(' (')[0]}: the error at every setting")
    others = {k: v for k, v in knobs.items() if k != knob.name}  # the swept knob is not part of the cache key
    s = efficient.sweep(reading, name, efficient.knob_key(others), knob.name)
    floor = None if extras.floor is None else extras.floor(view, s)
    sections.sweep_chart(s, knob.label, knobs[knob.name], log_x=extras.log_x, floor=floor)
    if extras.after_sweep is not None:
        extras.after_sweep(view, s, floor)

st.divider()
st.caption(
    "The address bar holds the variant, its knobs, the layer and the head: copy it to share exactly this view. "
    "Next: swap a variant into the whole model (6b), then time them all on this machine (6c)."
)
