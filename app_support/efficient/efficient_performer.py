"""Performer's own part of the variant page: under the sweep, the length of q + k, which sets the noise of each
estimate."""

from __future__ import annotations

import streamlit as st

from app_support.efficient import efficient
from app_support.efficient.efficient_sections import Extras
from app_support.kit import charts, steps
from attnviz import plots
from attnviz.efficient import anatomy, compare, costs


def performer_section(reading: efficient.Reading, s: compare.Sweep, labels: list[str]) -> None:
    """Why the error falls as it does on this head: the length of q + k, which sets the noise of each estimate."""
    steps.step("How fast the error can fall: the length of q + k")
    q, k, _ = reading.qkv()  # (T, Dh) each
    spread = anatomy.kernel_spread(q, k)
    slope = anatomy.error_slope(s)
    b = f"{slope:.2f}".replace("-", "−")
    m_lo, m_hi = int(s.values[0]), int(s.values[-1])
    typical, largest = spread.typical, spread.largest
    needed = anatomy.features_needed(typical)
    left, right = st.columns([3, 2])
    charts.chart(
        plots.heatmap(spread.sq, labels, labels, title="‖q + k‖²/√d, pair by pair", row_title="query",
                      col_title="key", value_name="‖q+k‖²/√d", diverging=False, narrow=True,
                      top_k=None, decimals=1),
        key="l6_qk_spread", name="q plus k", where=left, csv=(spread.sq, labels, labels),
    )  # fmt: skip
    right.metric("Typical pair: ‖q + k‖²/√d (median)", f"{typical:.1f}")
    right.metric("Largest pair", f"{largest:.1f}")
    right.metric("m for 10% noise on a typical kernel value", costs.large_number(needed))
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
        f"{costs.large_number(needed)} features to be within 10%"
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


PART = Extras(
    after_sweep=lambda v, s, floor: performer_section(v.reading, s, v.labels),
    log_x=True,
    charts=("l6_qk_spread",),
)
