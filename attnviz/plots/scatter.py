"""Points in 2-D or 3-D: words with labels and arrows, and words moved by a projection."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from attnviz.plots._base import ARROW_COLOURS, MARKERS, OKABE_ITO, Figure, Spec, _array, _figure, _safe


def moves(
    before: object,
    after: object,
    labels: Sequence[str],
    *,
    names: tuple[str, str] = ("before", "after"),
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2"),
    height: int = 520,
) -> Figure:
    """The same words at two moments in one 2-D view: a point before, a point after, an arrow between.

    Args:
        before, after: (N, 2) coordinates in one shared projection.
        labels: N words; the label sits on the "after" point (the arrow leads to it), the hover names both.
    """
    a, b = _array(before), _array(after)  # (N, 2) each
    words = _safe(labels)
    data = []
    for n, (coords, name) in enumerate(((a, names[0]), (b, names[1]))):
        data.append({
            "type": "scatter", "mode": "markers" if n == 0 else "markers+text", "x": coords[:, 0], "y": coords[:, 1],
            "name": html.escape(name, quote=False), "text": words, "textposition": "top center",
            "marker": {"color": OKABE_ITO[n], "size": 10, "symbol": MARKERS[n]},
            "hovertemplate": f"<b>%{{text}}</b> ({html.escape(name, quote=False)})<extra></extra>",
        })  # fmt: skip
    arrows = [
        {"x": b[i, 0], "y": b[i, 1], "ax": a[i, 0], "ay": a[i, 1], "xref": "x", "yref": "y", "axref": "x",
         "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowsize": 1.2, "arrowwidth": 1.5,
         "arrowcolor": "#888", "standoff": 5, "startstandoff": 5}
        for i in range(len(words))
    ]  # fmt: skip
    layout = {
        "legend": {"orientation": "h", "y": -0.15},
        "annotations": arrows,
        "xaxis": {"title": {"text": axis_titles[0]}, "zeroline": False},
        "yaxis": {"title": {"text": axis_titles[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
    }
    return _figure(data, layout, title, height)


def query_key_moves(
    before: object,
    q: object,
    k: object,
    labels: Sequence[str],
    *,
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2"),
    height: int = 560,
) -> Figure:
    """Words, their queries and their keys in one 2-D view: an arrow from each word to its query (M_Q) and one
    to its key (M_K), so that a query can be seen landing near another word's key.

    Args:
        before, q, k: (N, 2) coordinates in one shared projection.
        labels: N words; queries are labelled "q word", keys "k word", the plain words only on hover.
    """
    a, qq, kk = _array(before), _array(q), _array(k)  # (N, 2) each
    words = _safe(labels)
    sets = ((a, "word vectors I", "", 7), (qq, "queries Q = I·M_Q", "q ", 0), (kk, "keys K = I·M_K", "k ", 1))
    placed = _label_positions(np.concatenate([qq, kk]), [f"q {w}" for w in words] + [f"k {w}" for w in words], ())
    where = ["top center"] * len(words), placed[: len(words)], placed[len(words) :]
    data = []
    for n, (coords, name, prefix, colour) in enumerate(sets):
        data.append({
            "type": "scatter", "mode": "markers" if n == 0 else "markers+text", "x": coords[:, 0],
            "y": coords[:, 1], "name": name, "text": [prefix + w for w in words],
            "textposition": where[n],
            "textfont": {"color": OKABE_ITO[colour] if n else "#555555"},
            "marker": {"color": OKABE_ITO[colour] if n else "#AAAAAA", "size": 10 if n else 7,
                       "symbol": MARKERS[n]},
            "hovertemplate": f"<b>%{{text}}</b> ({name})<extra></extra>" if n else "<b>%{text}</b><extra></extra>",
        })  # fmt: skip
    arrows = [
        {"x": end[i, 0], "y": end[i, 1], "ax": a[i, 0], "ay": a[i, 1], "xref": "x", "yref": "y", "axref": "x",
         "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowsize": 1, "arrowwidth": 1.2,
         "arrowcolor": OKABE_ITO[colour], "opacity": 0.45, "standoff": 4, "startstandoff": 3}
        for end, colour in ((qq, 0), (kk, 1))
        for i in range(len(words))
    ]  # fmt: skip
    layout = {
        "legend": {"orientation": "h", "y": -0.12},
        "annotations": arrows,
        "xaxis": {"title": {"text": axis_titles[0]}, "zeroline": False},
        "yaxis": {"title": {"text": axis_titles[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
    }
    return _figure(data, layout, title, height)


# a label's places around its point (plotly's text positions) → which way its box sits from the point: the four
# sides first, then the four corners
_PLACES = {
    "top center": (0.0, 1.0), "bottom center": (0.0, -1.0), "middle right": (1.0, 0.0), "middle left": (-1.0, 0.0),
    "top right": (1.0, 1.0), "top left": (-1.0, 1.0), "bottom right": (1.0, -1.0), "bottom left": (-1.0, -1.0),
}  # fmt: skip


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The area two (x0, x1, y0, y1) boxes share."""
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[2], b[2]))


def _label_positions(xy: np.ndarray, names: list[str], arrows: Sequence[tuple[int, int]]) -> list[str]:
    """A text position for each 2-D point's label that keeps labels off each other and off arriving arrowheads.

    Greedy: each label in turn takes the first of eight places (`_PLACES`) whose rough box (characters × a char
    width, in data units) overlaps no label already placed; where every place overlaps one, the place that overlaps
    least (so two labels of one point, a query and a key that coincide, never take the same place). A point that an
    arrow ends on puts its label on the far side first.
    """
    span = np.ptp(xy, axis=0) if len(xy) > 1 else np.ones(2)
    span = np.where(span > 0, span, 1.0)
    char_w, line_h = 0.022 * span[0], 0.09 * span[1]
    arriving = {b: xy[b] - xy[a] for a, b in arrows}  # the direction each arrow comes in from
    boxes: list[tuple[float, float, float, float]] = []
    out = []
    for i, name in enumerate(names):
        w, h = char_w * max(len(name), 1), line_h
        order = list(_PLACES)
        if i in arriving:  # put the label where the arrow does not come from
            d = arriving[i] / span
            order.sort(key=lambda p: -(_PLACES[p][0] * d[0] + _PLACES[p][1] * d[1]))
        candidates = []
        for place in order:
            dx, dy = _PLACES[place]
            cx, cy = xy[i, 0] + dx * (w / 2 + char_w), xy[i, 1] + dy * line_h
            box = (cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)
            candidates.append((sum(_overlap(box, other) for other in boxes), place, box))
        _, chosen, box = min(candidates, key=lambda c: c[0])  # the first that overlaps nothing, else the least
        boxes.append(box)
        out.append(chosen)
    return out


def scatter(
    coords: object,
    labels: Sequence[str],
    *,
    arrows: Sequence[tuple[int, int]] = (),
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2", "PC 3"),
    height: int = 520,
) -> Figure:
    """Labelled points in 2-D or 3-D with arrows from one point to another.

    Args:
        coords: (N, 2) or (N, 3).
        arrows: (from, to) index pairs; each arrow gets its own colour and a legend entry "a → b".
    """
    xyz = _array(coords)  # (N, 2|3)
    names = _safe(labels)
    three_d = xyz.shape[1] == 3
    kind = "scatter3d" if three_d else "scatter"
    positions = "top center" if three_d else _label_positions(xyz, names, arrows)

    def xyz_of(idx: list[int]) -> Spec:
        out = {"x": xyz[idx, 0], "y": xyz[idx, 1]}
        return out | {"z": xyz[idx, 2]} if three_d else out

    points: Spec = {
        "type": kind,
        "mode": "markers+text",
        "text": names,
        "textposition": positions,
        "marker": {"size": 5 if three_d else 9, "color": OKABE_ITO[2]},
        "hovertemplate": "<b>%{text}</b><extra></extra>",
        "showlegend": False,
    } | xyz_of(list(range(len(names))))
    data = [points]
    annotations = []
    for n, (a, b) in enumerate(arrows):
        colour = ARROW_COLOURS[n % len(ARROW_COLOURS)]
        name = f"{names[a]} → {names[b]}"
        # the shaft as a trace, so that the arrow has a legend entry and a hover label
        data.append(
            {
                "type": kind,
                "mode": "lines",
                "line": {"color": colour, "width": 6 if three_d else 3},
                "name": name,
                "hoverinfo": "name",
            }
            | xyz_of([a, b])
        )
        tip = xyz[b] - xyz[a]
        if three_d:
            data.append({
                "type": "cone", "x": [xyz[b, 0]], "y": [xyz[b, 1]], "z": [xyz[b, 2]],
                "u": [tip[0]], "v": [tip[1]], "w": [tip[2]], "sizemode": "absolute",
                "sizeref": 0.12 * float(np.linalg.norm(tip) or 1), "anchor": "tip",
                "colorscale": [[0, colour], [1, colour]], "showscale": False, "hoverinfo": "skip", "name": name,
            })  # fmt: skip
        else:
            annotations.append({
                "x": xyz[b, 0], "y": xyz[b, 1], "ax": xyz[a, 0], "ay": xyz[a, 1],
                "xref": "x", "yref": "y", "axref": "x", "ayref": "y", "showarrow": True,
                "arrowhead": 3, "arrowsize": 1.4, "arrowwidth": 3, "arrowcolor": colour, "standoff": 6,
            })  # fmt: skip
    layout: Spec = {"legend": {"orientation": "h", "y": -0.15}, "annotations": annotations}
    if three_d:
        layout["scene"] = {f"{a}axis": {"title": {"text": t}} for a, t in zip("xyz", axis_titles, strict=False)}
        # the default camera sits so close that the axis titles fall outside the figure: step back
        layout["scene"]["camera"] = {"eye": {"x": 1.7, "y": 1.7, "z": 1.1}}
        layout["margin"] = {"l": 0, "r": 0, "t": 50 if title else 10, "b": 0}
    else:
        # room around the points for their labels, which plotly's autorange does not count
        low, high = xyz.min(axis=0), xyz.max(axis=0)
        pad = 0.18 * np.where(high > low, high - low, 1.0)
        layout["xaxis"] = {"title": {"text": axis_titles[0]}, "zeroline": False,
                           "range": [float(low[0] - pad[0]), float(high[0] + pad[0])]}  # fmt: skip
        layout["yaxis"] = {"title": {"text": axis_titles[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1,
                           "range": [float(low[1] - pad[1]), float(high[1] + pad[1])]}  # fmt: skip
    return _figure(data, layout, title, height)
