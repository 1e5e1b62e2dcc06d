"""The variant page's parts several variants share: what a sparse pattern drops, row by row (every variant with a
pattern), and how a small figure is written (`figure`)."""

from __future__ import annotations

import streamlit as st

from app_support.kit import charts, steps
from app_support.kit.sentence import md_escape
from attnviz import plots
from attnviz.efficient import anatomy, compare
from attnviz.host import to_host


def dropped_section(run: compare.Run, labels: list[str]) -> None:
    steps.step("What the pattern drops, row by row")
    per_row = to_host(anatomy.mass_dropped_per_row(run.exact.weights, run.pattern))
    charts.chart(
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


def figure(x: float) -> str:
    """A number to two decimals, or, when that would read 0.00 or −0.00, to its first two significant digits:
    −0.54 → "−0.54", −0.00012 → "−0.00012", 3e-7 → "3e-07"; a leading minus sign is "−"."""
    text = f"{x:.2f}" if abs(x) >= 0.005 or x == 0 else f"{x:.2g}"
    return "−" + text[1:] if text.startswith("-") else text
