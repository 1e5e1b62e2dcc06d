"""Lesson 6b: put an efficient variant in every layer of the pretrained model and see what the embedding keeps."""

import numpy as np
import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.efficient import efficient
from app_support.efficient import efficient_sections as sections
from app_support.efficient import efficient_swap_text as swap_text
from app_support.kit import charts, sentence, steps
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import text_or_stop, warn
from attnviz import AttnvizInputError, plots
from attnviz.efficient import REGISTRY

OTHERS = 4  # ready sentences compared with the learner's

st.title("6b · Swap into the real model")
st.markdown(
    "Page 6 compared one head at a time. Here the variant replaces attention in **all 72 heads** of MiniLM at once, "
    "and the errors pile up layer after layer. What the model is for, a sentence embedding, tells how much is left: "
    "the cosine between the embedding with the variant and the one with exact attention (1 means unchanged), and "
    "whether the similarities between sentences keep their order."
)
text = text_or_stop(sentence.current())

c1, c2 = st.columns([1, 1])  # the chooser wide enough for the longest name
with c1:
    name = efficient.choose_variant("l6b_variant", old_key="l6b_variant")
info = REGISTRY[name].text
others = [p for p in sentence.PRESETS if p.strip().lower() != text.strip().lower()][:OTHERS]
texts = (text, *others)
longest = efficient.longest(texts)
knobs = efficient.knob_widgets("l6b", name, where=c2, length=longest)
extras = sections.part_of(name)  # its own parts: the module its record names
if extras.swap_note is not None:  # the variant's own note on page 6b
    extras.swap_note(longest, knobs)
try:
    swap = efficient.swap(texts, name, efficient.knob_key(knobs))
except AttnvizInputError as err:
    warn(str(err))
    st.stop()
st.caption(
    "Knobs larger than a sentence allows are cut to its length, sentence by sentence. The same setting is used in "
    "every layer and head."
)

steps.step(f"Your sentence with {info.title} in every layer")
mine = swap.cosine_to_exact[0]
answered = predict_first(
    "l6b_predict",
    f"After six layers of {info.title}, how close will your sentence's embedding stay to the exact one (cosine)?",
    ["above 0.99: practically the same", "0.9 to 0.99: close", "below 0.9: noticeably moved"],
    correct=0 if mine > 0.99 else (1 if mine > 0.9 else 2),
    explain=swap_text.explain(info.title, swap),
)
if not answered:
    st.stop()
m1, m2 = st.columns(2)
m1.metric("Cosine with the exact embedding", f"{mine:.6f}")
m2.metric("Pairs of similarities kept in order", f"{swap.order_kept:.0%}")
short = [t if len(t) <= 40 else t[:38] + "…" for t in swap.texts]
short[0] = "your sentence: " + short[0]
charts.chart(
    plots.bars(short, swap.cosine_to_exact, horizontal=True, value_name="cosine with exact", decimals=4,
               highlight=[0], height=120 + 40 * len(short), title="Each sentence: embedding with the variant vs exact"),
    key="l6b_cosines", name="swap cosines",
)  # fmt: skip

steps.step("Do the sentences keep their order of similarity?")
left, right = st.columns(2)
labels = [f"{i + 1}" for i in range(len(texts))]
charts.chart(
    plots.heatmap(swap.exact_similarity, labels, labels, title="Exact attention", value_name="cosine",
                  diverging=False, zrange=(0.0, 1.0), narrow=True, row_title="sentence", col_title="sentence"),
    key="l6b_sim_exact", name="similarity exact", where=left, csv=(swap.exact_similarity, labels, labels),
)  # fmt: skip
charts.chart(
    plots.heatmap(swap.variant_similarity, labels, labels, title=f"With {info.title}", value_name="cosine",
                  diverging=False, zrange=(0.0, 1.0), narrow=True, row_title="sentence", col_title="sentence"),
    key="l6b_sim_variant", name="similarity variant", where=right,
    csv=(swap.variant_similarity, labels, labels),
)  # fmt: skip
st.dataframe(pd.DataFrame({"sentence": list(swap.texts)}, index=pd.Index(labels, name="#")), key="l6b_texts")
iu = np.triu_indices(len(texts), k=1)
moved = float(np.abs(swap.exact_similarity[iu] - swap.variant_similarity[iu]).max()) if len(texts) > 1 else 0.0
st.caption(
    f"Of all pairs of sentence pairs, {swap.order_kept:.0%} keep which of the two is more similar; the largest "
    f"change of one similarity is {moved:.3f}. A search engine built on these embeddings ranks by this order. "
    + swap_text.exact_note(info.title, swap)
)
st.caption(f"Sentences 2–{len(texts)} are the course's ready sentences; yours is “{md_escape(text)}”.")
