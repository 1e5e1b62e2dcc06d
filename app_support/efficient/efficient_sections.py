"""The variant page's parts every variant has (the two maps, the figures table, the predict-first question, the
sweep), and `part_of`: the parts only one variant has, drawn by the one module its record names
(`VariantSpec.page_part`, such as `efficient_flash` or `efficient_linformer` beside this one), whose `PART` is an
`Extras`. Each takes what the page already chose."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.efficient import efficient
from app_support.efficient.efficient_patterns import figure
from app_support.kit import charts
from attnviz import plots
from attnviz.efficient import REGISTRY, anatomy, compare, questions
from attnviz.efficient.registry import KnobValue
from attnviz.host import to_host

TOO_WIDE = 40  # a heatmap wider than this keeps only each row's strongest keys


INFINITE = "∞"  # what the table shows for the KL of a pattern that drops weight
KL_PATTERN = "mean KL of the rows, nats (∞: weighted keys get 0)"
KL_CLAMPED = "mean KL of the rows, nats (weights < 1e-9 read as 1e-9)"


def figures_table(run: compare.Run) -> pd.DataFrame:
    """The error figures of the variant beside uniform attention's, as a table.

    For a pattern that leaves some exact weight out the variant's KL(exact‖variant) is infinite: a key with
    weight p > 0 gets exactly 0, and p·log(p/0) = ∞. The table says ∞ there, not the finite number the 1e-9
    clamp of `attnviz.metrics.mean_row_kl` would give; elsewhere it names the clamp.
    """
    comparison, pattern = run.comparison, run.pattern is not None
    a, u = comparison.approx, comparison.uniform
    outside = run.pattern is not None and anatomy.weight_outside(run.exact.weights, run.pattern)

    def num(x: float | None) -> str:
        if x is None:
            return "–"
        if x == float("inf"):
            return INFINITE
        return f"{x:.2e}" if 0 < abs(x) < 1e-3 else f"{x:.3f}"

    kl = None if a.row_kl is None else (float("inf") if outside else max(a.row_kl, 0.0))
    rows = {
        "attention matrix: relative error ‖A − A_exact‖ / ‖A_exact‖": (
            a.weights_rel_frobenius,
            u.weights_rel_frobenius,
        ),
        "attention matrix: largest error of one weight": (a.weights_max_abs, u.weights_max_abs),
        # KL is never negative; a value like -1e-9 is rounding, shown as 0
        KL_PATTERN if outside else KL_CLAMPED: (kl, None if u.row_kl is None else max(u.row_kl, 0.0)),
        "output: relative error ‖O − O_exact‖ / ‖O_exact‖": (a.output_rel_frobenius, u.output_rel_frobenius),
        "output: mean cosine with exact (1 is perfect)": (a.output_cosine, u.output_cosine),
    }
    if pattern:
        rows["exact attention weight the pattern keeps"] = (a.mass_kept, None)
        rows["exact attention weight outside the pattern"] = (
            None if a.mass_kept is None else max(1.0 - a.mass_kept, 0.0),
            None,
        )
    columns = {
        "this variant": [num(x) for x, _ in rows.values()],
        "uniform (every key the same)": [num(y) for _, y in rows.values()],
    }
    return pd.DataFrame(columns, index=pd.Index(list(rows), name="figure"))


def verdict(name: str, run: compare.Run) -> str:
    """The sentence under the figures table: is the output closer to exact than uniform attention, and, when it is
    not, what the variant's cost buys."""
    if run.comparison.beats_uniform:
        return "Its output is closer to exact than uniform attention."
    if not REGISTRY[name].all_heads:  # an approximation or a pattern: it spends work to come close to exact
        return "Its output is no closer to exact than uniform attention: on this input its cost buys nothing."
    # multi-query / grouped-query: no accuracy-for-cost knob; G K/V heads trade quality for a smaller KV cache.
    # Shazeer (2019), abstract: "only minor quality degradation from the baseline"; Ainslie et al. (2023), abstract:
    # uptraining with 5% of the original pre-training compute, GQA "quality close to multi-head attention"
    groups = int(run.settings.kwargs["groups"])
    heads = max(int(v) for v in REGISTRY[name].knob("groups").values)  # the layer's heads: G = H, one per head
    return (
        f"Its output is no closer to exact than uniform attention here: this checkpoint was trained with {heads} K/V "
        f"heads, and averaging them into {groups} without retraining takes away what each head looked for. "
        "Multi-query attention is not an approximation bought for less work: it computes all T² scores. What "
        f"{groups} K/V head{'s' if groups > 1 else ''} instead of {heads} buy is a decoder's KV cache "
        f"{heads // groups}× smaller, which each generated token reads whole. Models trained this way lose little "
        "quality: Shazeer (2019) reports only minor degradation for multi-query attention; Ainslie et al. (2023) "
        "uptrain multi-head checkpoints with 5% of their pre-training compute, grouped-query attention coming close "
        "to multi-head quality."
    )


def ask(name: str, run: compare.Run, head_label: str) -> bool:
    """The variant's "predict first" question, its answer decided by the measurement just made: its record's own,
    else the one of its kind (`attnviz.efficient.questions`)."""
    q = questions.question_for(REGISTRY[name], run, head_label)
    return predict_first(f"l6_predict_{name}", q.question, list(q.options), correct=q.correct, explain=q.explain)


def side_by_side(run: compare.Run, labels: list[str], title: str, name: str) -> None:
    """Exact attention (with the pattern drawn over it) next to the variant's attention matrix."""
    t = len(labels)
    top_k = plots.TOP_K if t > TOO_WIDE else None
    left, right = st.columns(2)
    exact = to_host(run.exact.weights)  # (T, S)
    approx = to_host(run.approx.weights)  # (T, S)
    cover = None if run.pattern is None else ~to_host(run.pattern)
    exact_title = "Exact: softmax(Q·Kᵀ/√d)"
    if REGISTRY[name].shared_qk:  # the paper's shared-QK attention (see compare.run_variant)
        exact_title = "Exact shared-QK: K = Q/‖Q‖, none on itself"
    charts.chart(
        plots.attention_map(exact, labels, labels, title=exact_title, narrow=True, top_k=top_k, overlay=cover,
                            overlay_name="outside the pattern"),
        key="l6_exact", name="exact attention", where=left, csv=(exact, labels, labels),
    )  # fmt: skip
    low = float(min(approx.min(), 0.0))
    charts.chart(
        plots.attention_map(approx, labels, labels, title=title, diverging=low < 0, zmax=None if low < 0 else 1.0,
                            narrow=True, top_k=top_k),
        key="l6_approx", name=f"{REGISTRY[name].text.title.split(' (')[0]} map", where=right,
        csv=(approx, labels, labels),
    )  # fmt: skip
    if cover is not None:
        left.caption("Grey cells are outside the pattern: the variant never computes them.")
    if low < 0:
        right.caption(f"Some weights are negative (down to {figure(low)}): this approximation is not a softmax.")


def sweep_chart(
    s: compare.Sweep,
    knob_label: str,
    now: KnobValue,
    *,
    log_x: bool = False,
    floor: tuple[list[int], list[float]] | None = None,
) -> None:
    """Error against the knob, the band over the draws, uniform attention as a dotted line; ``floor`` (x, y) is
    a bound no setting can beat (the best rank-k matrix, for Linformer)."""
    numeric = all(isinstance(x, int) for x in s.values)
    xs = list(s.values) if numeric else list(range(len(s.values)))
    band = (s.low, s.high) if s.seeds > 1 else None
    series = [
        plots.Series(
            f"variant (mean of {s.seeds} draws)" if s.seeds > 1 else "variant",
            xs,
            s.mean,
            mode="lines+markers",
            band=band,
        ),
        plots.Series("uniform attention", [xs[0], xs[-1]], [s.uniform, s.uniform], dash="dot", colour=7),
    ]
    if floor is not None:
        series.append(plots.Series("best rank-k matrix (SVD)", floor[0], floor[1], dash="dash", colour=2))
    if now in s.values:
        i = s.values.index(now)
        series.append(plots.Series("now", [xs[i]], [s.mean[i]], mode="markers", colour=5))
    ticks = xs if numeric and len(xs) <= 12 else None
    charts.chart(
        plots.lines(series, title=f"Error of the attention matrix against {knob_label.lower()}", x_title=knob_label,
                    y_title="relative error", log_x=log_x and numeric, x_ticks=ticks, height=360),
        key="l6_sweep", name=f"error against {knob_label}",
    )  # fmt: skip
    if not numeric:
        st.caption("Points, left to right: " + ", ".join(map(str, s.values)) + ".")
    if s.seeds > 1:
        st.caption(f"The shaded band runs from the best to the worst of {s.seeds} random draws at each setting.")


# ---------------------------------------------------------------------------------------------- the page's table

Floor = tuple[list[int], list[float]] | None  # knob values and the best any method could do there


@dataclass(frozen=True)
class View:
    """What the variant page chose and measured, handed to a variant's own parts."""

    reading: efficient.Reading  # the text, source, layer and head this run reads
    name: str
    knobs: Mapping[str, KnobValue]
    run: compare.Run
    labels: list[str]
    inp: efficient.HeadInput  # the reading's `inp`, read once this run


@dataclass(frozen=True)
class Extras:
    """A variant's own parts of the page (its part module's `PART`); a variant whose record names no module gets the
    parts every variant has."""

    section: Callable[[View], None] | None = None  # drawn after the figures
    floor: Callable[[View, compare.Sweep], Floor] | None = None  # a lower bound drawn under the sweep
    after_sweep: Callable[[View, compare.Sweep, Floor], None] | None = None
    log_x: bool = False  # the sweep's knob on a log axis
    swap_note: Callable[[int, Mapping[str, KnobValue]], None] | None = None  # page 6b, under the knobs: (longest T,
    # knobs) → a note of its own
    charts: tuple[str, ...] = ()  # the keys of charts its parts always draw on page 6 (the tests look for them)


def part_of(name: str) -> Extras:
    """The variant's own parts of pages 6 and 6b: the `PART` of the module its record names (`page_part`, imported
    here, since attnviz names it only as text), or none. TypeError when that module's `PART` is not an `Extras`."""
    path = REGISTRY[name].page_part
    if path is None:
        return Extras()
    part = getattr(importlib.import_module(path), "PART", None)
    if not isinstance(part, Extras):
        raise TypeError(f"{path}, the page part of {name!r}, needs a PART that is an Extras, not {type(part).__name__}")
    return part
