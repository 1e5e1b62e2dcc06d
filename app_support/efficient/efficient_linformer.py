"""Linformer's own parts of the variant page: the singular values of the head's map, and under the sweep the best
any rank-k matrix can do (Eckart–Young)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_support.efficient import efficient
from app_support.efficient.efficient_sections import Extras, Floor, View
from app_support.kit import charts, steps
from attnviz import plots
from attnviz.efficient import compare


def linformer_section(reading: efficient.Reading, labels: list[str]) -> None:
    steps.step("How close to low rank are real attention maps?")
    spec = efficient.spectrum(reading.of_layer)  # every head of the layer: a head switch reads the cache
    head = reading.head
    t = len(labels)
    values = spec.values[head]
    left, right = st.columns(2)
    charts.chart(
        plots.bars([str(i + 1) for i in range(len(values))], values, title=f"Singular values of head {head + 1}",
                   value_name="σ", x_title="index", height=340),
        key="l6_sv", name="singular values", where=left,
    )  # fmt: skip
    ks = list(range(1, spec.energy.shape[1] + 1))
    series = [
        plots.Series(f"head {h + 1}", ks, spec.energy[h], colour=4 if h != head else 5) for h in range(len(spec.energy))
    ]
    charts.chart(
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


def linformer_floor(view: View, s: compare.Sweep) -> Floor:
    """Eckart–Young: no rank-k matrix is closer to the exact map than its truncated SVD."""
    energy = efficient.spectrum(view.reading.of_layer).energy[view.reading.head]  # (T,)
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


PART = Extras(
    section=lambda v: linformer_section(v.reading, v.labels),
    floor=linformer_floor,
    after_sweep=linformer_floor_note,
    charts=("l6_sv", "l6_energy"),
)
