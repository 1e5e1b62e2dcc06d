"""The Nyströmformer's own part of the variant page: the landmarks, when m = T is exact, and the rows of F·A⁺·B
against a softmax's (Xiong et al., 2021)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from torch import Tensor

from app_support.efficient.efficient_patterns import figure
from app_support.efficient.efficient_sections import Extras
from app_support.kit import steps
from attnviz.efficient import REGISTRY, anatomy, compare


def _sums(low: float, high: float) -> str:
    """A range of row sums, to six decimals ("… in every row" when both ends read the same)."""
    a, b = f"{low:.6f}", f"{high:.6f}"
    return f"{a} in every row" if a == b else f"between {a} and {b}"


def nystrom_section(run: compare.Run, labels: list[str], q: Tensor, k: Tensor, v: Tensor) -> None:
    """The landmarks, when m = T is exact, and the rows of F·A⁺·B against a softmax's (Xiong et al., 2021).

    Args:
        q, k, v: (T, Dh) the head's queries, keys and values, as the page ran them.
    """
    steps.step("The landmarks are segment means")
    t, kwargs = len(labels), run.settings.kwargs
    m = int(kwargs["n_landmarks"])
    segments = anatomy.landmark_segments(t, m)
    table = pd.DataFrame(
        {
            "landmark": [str(j + 1) for j in range(m)],
            "tokens averaged": [" · ".join(labels[i] for i in seg) for seg in segments],
            "positions": [f"{seg.start + 1}–{seg.stop}" if len(seg) > 1 else str(seg.start + 1) for seg in segments],
        }
    )
    st.dataframe(table, key="l6_landmarks", hide_index=True)
    top = max(int(x) for x in REGISTRY["nystrom"].knob("landmarks").values)
    # m = T: every landmark is one token, F = A = B = P and F·A⁺·B = P·P⁺·P = P (a property of any pseudo-inverse)
    exact_at_t = (
        f"With one token per stretch (m = T = {t}, which the knob reaches here) F = A = B = the exact map P, and "
        "P·P⁺·P = P: exact, with an exact pseudo-inverse."
        if t <= top
        else f"The knob stops at m = {top}, below your {t} tokens: no setting here gives one token per stretch "
        "(m = T, where F = A = B = the exact map P and P·P⁺·P = P would be exact)."
    )
    st.caption(
        f"Nothing is sampled or learned: your {t} tokens are cut into {m} stretches that follow each "
        "other, and a landmark query is the plain mean of the queries of one stretch (a landmark key, the mean of "
        "its keys). The three small softmax matrices see the tokens only through these averages and their own "
        f"queries and keys. {exact_at_t}"
    )
    rows = anatomy.nystrom_rows(q, k, v, kwargs)
    iterations = int(kwargs.get("pinv_iterations", 6))
    negative = (
        f"The most negative weight of F·A⁺·B here is {figure(rows.lowest)}: a key weighed against, which a "
        "softmax never does."
        if rows.lowest < 0
        else f"No weight of F·A⁺·B is negative here (the smallest is {figure(rows.lowest)}); other settings and "
        "sentences give negative ones."
    )
    exact_ones = abs(rows.exact_sum_low - 1) < 1e-6 and abs(rows.exact_sum_high - 1) < 1e-6
    sums = (
        f"Its rows sum to {_sums(rows.sum_low, rows.sum_high)}, with the page's {iterations} iterations of the "
        f"inverse. F, A and B are softmaxes (rows summing to 1) and A·1 = 1, so with an exact inverse every row sums "
        f"to 1: torch.linalg.pinv in float64 gives {_sums(rows.exact_sum_low, rows.exact_sum_high)}"
        + (
            "; only the iteration drifts."
            if exact_ones
            else ", not exactly 1: A is nearly singular here, and its pseudo-inverse is not an inverse."
        )
        + f" With the exact inverse the most negative weight is {figure(rows.exact_lowest)}."
    )
    st.caption(f"{negative} {sums}")


PART = Extras(section=lambda v: nystrom_section(v.run, v.labels, *v.reading.qkv()))
