"""The Sparse Transformer's own part of the variant page: the pattern both ways here, only back in the paper."""

from __future__ import annotations

import streamlit as st

from app_support.efficient.efficient_sections import Extras
from app_support.kit import steps
from app_support.kit.sentence import md_escape
from attnviz.efficient import anatomy, compare


def sparse_section(run: compare.Run, labels: list[str]) -> None:
    steps.step("Both directions here; the paper looks back only")
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


PART = Extras(section=lambda v: sparse_section(v.run, v.labels))
