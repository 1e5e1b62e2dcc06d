"""A figure's text alternative: what it shows in words (its title, its axes, its largest values), for a screen
reader, which cannot read a picture (WCAG 2.1, 1.1.1 "Non-text content"). Computed from the figure itself, so it is
true for what is drawn. No streamlit here: the page kit puts it beside each chart (`app_support.kit.charts`)."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

import numpy as np

from attnviz.plots._base import Figure, Spec

LARGEST = 3  # how many of the largest values a description names
TRACES = 4  # how many traces it describes one by one; the rest are counted
_TAG = re.compile(r"<[^>]*>")  # plotly's own markup (<br>, <b>, a link); learner text in a figure is escaped
_DECIMALS = re.compile(r"%\{[xyz]:\.(\d+)f\}")


def plain(text: object) -> str:
    """Figure text as words: plotly's markup taken out (a line break becomes a space), entities read."""
    return " ".join(html.unescape(_TAG.sub(" ", str(text))).split())


def _title(part: object) -> str:
    """The text of a title given as a dict ({"text": …}) or as a string."""
    return plain(part.get("text", "") if isinstance(part, dict) else part or "")


def _values(raw: object) -> np.ndarray:
    """A trace's numbers: a list, an array, or plotly.js's packed form {"dtype", "bdata", "shape"}."""
    if isinstance(raw, dict) and "bdata" in raw:
        flat = np.frombuffer(base64.b64decode(raw["bdata"]), dtype=np.dtype(raw.get("dtype", "f8")))
        shape = [int(n) for n in str(raw.get("shape", len(flat))).split(",") if n.strip()]
        return flat.astype(np.float64).reshape(shape)
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([])


def _number(value: float, decimals: int | None) -> str:
    return f"{value:.{decimals}f}" if decimals is not None else f"{value:.3g}"


def _decimals(trace: Spec) -> int | None:
    found = _DECIMALS.search(str(trace.get("hovertemplate", "")))
    return int(found.group(1)) if found else None


def _coord(value: object) -> str:
    """A coordinate as a label: a number as short as it reads (0.1, 65536), a word as it is."""
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.4g}"
    return plain(value)


def _labels(trace: Spec, layout: Spec, kind: str, count: int) -> list[str]:
    """The ``count`` labels along a trace's x or y axis: the axis's own tick texts where it sets them by position,
    else the trace's coordinates, else positions counted from 1."""
    axis = layout.get(f"{kind}axis" + str(trace.get(f"{kind}axis", kind))[1:]) or {}
    ticks, texts = axis.get("tickvals"), axis.get("ticktext")
    coords = trace.get(kind)
    if ticks is not None and texts is not None and len(ticks) == count == len(texts):
        return [plain(t) for t in texts]
    if coords is not None and not isinstance(coords, dict) and len(coords) == count:
        return [_coord(c) for c in coords]
    return [str(i + 1) for i in range(count)]


def _axis_names(trace: Spec, layout: Spec) -> tuple[str, str]:
    x = layout.get("xaxis" + str(trace.get("xaxis", "x"))[1:]) or {}
    y = layout.get("yaxis" + str(trace.get("yaxis", "y"))[1:]) or {}
    return _title(x.get("title")), _title(y.get("title"))


def _heatmap(trace: Spec, layout: Spec) -> str:
    z = _values(trace.get("z"))
    if z.ndim != 2 or not z.size:
        return ""
    n_rows, n_cols = z.shape
    rows, cols = _labels(trace, layout, "y", n_rows), _labels(trace, layout, "x", n_cols)
    x_name, y_name = _axis_names(trace, layout)
    text = f"a map of {n_rows} rows" + (f" ({y_name})" if y_name else "") + f" by {n_cols} columns"
    text += f" ({x_name})" if x_name else ""
    finite = np.where(np.isfinite(z), z, -np.inf)  # (R, C)
    order = np.argsort(-finite, axis=None, kind="stable")[:LARGEST]
    shown = [(int(i) // n_cols, int(i) % n_cols) for i in order if np.isfinite(finite.flat[int(i)])]
    if not shown:
        return text + ", with no values drawn"
    decimals = _decimals(trace)
    low = float(np.nanmin(np.where(np.isfinite(z), z, np.nan)))
    text += f"; values from {_number(low, decimals)} to {_number(float(finite.flat[int(order[0])]), decimals)}"
    largest = "; ".join(f"{rows[r]} → {cols[c]}: {_number(float(z[r, c]), decimals)}" for r, c in shown)
    return text + f"; the largest: {largest}"


def _words(trace: Spec) -> str:
    """Points labelled with words (a map of word vectors, a column of the head view): the words, where each sits
    when they are spread over the plane, and the largest of the values they carry (``customdata``), if any."""
    words = [plain(t) for t in trace["text"]]
    x, y = _values(trace.get("x")), _values(trace.get("y"))
    spread = x.shape == y.shape == (len(words),) and np.ptp(x) > 0
    shown = [f"{w} ({_coord(a)}, {_coord(b)})" for w, a, b in zip(words, x, y, strict=True)] if spread else words
    text = f"{len(words)} words: " + ", ".join(shown[:12]) + (", …" if len(words) > 12 else "")
    custom = _values(trace.get("customdata")) if "customdata" in trace else np.array([])
    if custom.shape == (len(words),) and np.isfinite(custom).any():
        order = np.argsort(-np.where(np.isfinite(custom), custom, -np.inf), kind="stable")[:LARGEST]
        text += "; the largest: " + "; ".join(f"{words[i]}: {_number(float(custom[i]), 3)}" for i in order)
    return text


def _series(trace: Spec, layout: Spec) -> str:
    """A line, a set of points or of bars: its name, its axes, and where it is largest."""
    kind = trace.get("type", "scatter")
    if kind != "bar" and "text" in str(trace.get("mode", "")) and isinstance(trace.get("text"), list):
        return _words(trace)
    horizontal = kind == "bar" and trace.get("orientation") == "h"
    values = _values(trace.get("x" if horizontal else "y"))
    name = plain(trace.get("name", ""))
    what = "bars" if kind == "bar" else "a line" if "lines" in str(trace.get("mode", "lines")) else "points"
    text = f"{what}" + (f" “{name}”" if name else "")
    if values.ndim != 1 or not values.size or not np.isfinite(values).any():
        return text
    at = _labels(trace, layout, "y" if horizontal else "x", values.size)
    x_name, y_name = _axis_names(trace, layout)
    value_axis, place_axis = (x_name, y_name) if horizontal else (y_name, x_name)
    text += f", {values.size} value{'s' if values.size > 1 else ''}" + (f" of {value_axis}" if value_axis else "")
    text += f" by {place_axis}" if place_axis else ""
    order = np.argsort(-np.where(np.isfinite(values), values, -np.inf), kind="stable")[:LARGEST]
    decimals = _decimals(trace)
    largest = "; ".join(f"{at[i]}: {_number(float(values[i]), decimals)}" for i in order if np.isfinite(values[i]))
    return text + f"; the largest: {largest}"


def _links(spec: Spec) -> str:
    """Lines drawn between two columns of words (the head view): how many, and the thickest, word to word."""
    columns: dict[float, dict[float, str]] = {}
    for trace in spec.get("data", []):
        if isinstance(trace.get("text"), list) and "text" in str(trace.get("mode", "")):
            for x, y, word in zip(_values(trace.get("x")), _values(trace.get("y")), trace["text"], strict=False):
                columns.setdefault(round(float(x)), {})[float(y)] = plain(word)
    lines = [
        s for s in (spec.get("layout") or {}).get("shapes") or []
        if isinstance(s, dict) and s.get("type") == "line" and s.get("x0", 1) < 0.5 < s.get("x1", 0)
    ]  # fmt: skip
    if not lines or set(columns) != {0, 1}:
        return ""
    lines.sort(key=lambda s: -float((s.get("line") or {}).get("width", 0)))
    left, right = columns[0], columns[1]
    thickest = [f"{left.get(s['y0'], '?')} → {right.get(s['y1'], '?')}" for s in lines[:LARGEST]]
    return (
        f"{len(lines)} lines from the words on the left to the words on the right, thicker for a larger weight; "
        f"the thickest: {'; '.join(thickest)}"
    )


def _traces(spec: Spec) -> list[str]:
    layout = spec.get("layout") or {}
    parts = []
    for trace in spec.get("data", []):
        kind = trace.get("type", "scatter")
        if kind == "heatmap":
            scale = trace.get("colorscale")
            if isinstance(scale, list) and len({str(c) for _, c in scale}) == 1:
                continue  # a one-colour cover over some cells, not values
            parts.append(_heatmap(trace, layout))
        elif kind in {"scatter", "scattergl", "bar"}:
            parts.append(_series(trace, layout))
    parts = [p for p in parts if p]
    if len(parts) > 1 or not parts:  # panels of a grid, or a drawing: the words written on it name its parts
        notes = [plain(n.get("text", "")) for n in layout.get("annotations") or [] if isinstance(n, dict)]
        notes = list(dict.fromkeys(n for n in notes if n))
        if notes:
            parts.insert(0, "labels on it: " + "; ".join(notes[:12]) + ("; …" if len(notes) > 12 else ""))
    return parts


def describe(fig: Figure | Spec) -> str:
    """The figure in words: "Figure: <title>. <each trace: its axes and its largest values>." At most `TRACES`
    traces are described one by one (a grid of maps counts the rest); every value stays in the hover."""
    spec: Any = fig.spec if isinstance(fig, Figure) else fig
    title = _title((spec.get("layout") or {}).get("title"))
    parts = _traces(spec)
    links = _links(spec)
    if links:
        parts = [links, *parts]
    text = "Figure" + (f": {title}." if title else ".")
    if not parts:
        return text
    described = parts[:TRACES]
    text += " " + " ".join(f"{p[0].upper()}{p[1:]}." for p in described)
    if len(parts) > TRACES:
        text += f" And {len(parts) - TRACES} more of the same kind."
    return text
