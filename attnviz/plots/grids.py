"""Many small attention maps in one figure: a grid with an axis pair per panel, or a mosaic drawn as one heatmap."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from attnviz.labels import unique_labels
from attnviz.plots._base import OKABE_ITO, SEQUENTIAL, Figure, Spec, _array, _axis_key, _axis_ref, _figure, _safe


def heatmap_grid(
    maps: object,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    n_cols: int,
    names: Sequence[str],
    titles: Sequence[str] | None = None,
    row_headers: Sequence[str] = (),
    col_headers: Sequence[str] = (),
    title: str = "",
    row_title: str = "row",
    col_title: str = "column",
    value_name: str = "weight",
    zmax: float = 1.0,
    show_ticks: bool = False,
    highlight: int | None = None,
    panel_height: int = 120,
) -> Figure:
    """Small heatmaps in a grid, one shared colour scale, built as one figure with an axis pair per panel.

    Args:
        maps: (N, R, C) the panels, laid out row by row, ``n_cols`` to a row.
        rows, cols: R and C labels shared by every panel (shown on hover; as ticks with ``show_ticks``).
        names: N panel names for the hover text, e.g. "layer 2 · head 5".
        titles: N titles written above the panels (or None).
        row_headers, col_headers: one label per grid row (left) and per grid column (top), e.g. "layer 1".
        zmax: top of the shared sequential scale (weights: 1).
        show_ticks: write the row labels left of the first column and the column labels under every panel.
        highlight: index of a panel to frame (the one shown large elsewhere).
        panel_height: height of one panel in pixels.
    """
    z = _array(maps)  # (N, R, C)
    n = z.shape[0]
    n_cols = max(1, min(n_cols, n))
    n_rows = -(-n // n_cols)
    rows_l, cols_l = _safe(unique_labels(rows)), _safe(unique_labels(cols))
    # vertical room in pixels: titles above a panel, rotated tick labels below it
    label_px = 12 + 7 * max((len(c) for c in cols_l), default=1) if show_ticks else 0
    gap_px = (22 if titles else 8) + label_px
    top_px = (50 if title else 10) + (24 if col_headers else 0) + (22 if titles else 0)
    plot_px = n_rows * panel_height + (n_rows - 1) * gap_px
    bottom_px = 10 + label_px
    gap_x = 0.02 if not show_ticks else 0.035
    width = (1.0 - gap_x * (n_cols - 1)) / n_cols
    data: list[Spec] = []
    colour_bar = {"thickness": 12, "title": {"text": html.escape(value_name), "side": "right"}}
    layout: Spec = {
        "coloraxis": {"colorscale": SEQUENTIAL, "cmin": 0.0, "cmax": zmax, "colorbar": colour_bar},
        "annotations": [],
        "shapes": [],
    }
    for i in range(n):
        r, c = divmod(i, n_cols)
        y1 = 1.0 - r * (panel_height + gap_px) / plot_px
        box = (c * (width + gap_x), y1 - panel_height / plot_px, width, y1)  # x0, y0, width, y1 in the paper
        hover = _grid_hover(names[i], row_title, col_title, value_name)
        data.append({
            "type": "heatmap", "z": z[i], "x": cols_l, "y": rows_l, "coloraxis": "coloraxis",
            "xaxis": _axis_ref("x", i), "yaxis": _axis_ref("y", i), "xgap": 0.5, "ygap": 0.5, "hovertemplate": hover,
        })  # fmt: skip
        layout |= _panel_axes(i, box, show_ticks=show_ticks, first_column=c == 0)
        layout["annotations"] += _panel_labels(
            box, titles[i] if titles else None, col_headers[c] if r == 0 and c < len(col_headers) else None,
            row_headers[r] if c == 0 and r < len(row_headers) else None, titled=bool(titles),
        )  # fmt: skip
    if highlight is not None and 0 <= highlight < n:
        ref = _axis_ref("x", highlight), _axis_ref("y", highlight)
        layout["shapes"].append({
            "type": "rect", "xref": f"{ref[0]} domain", "yref": f"{ref[1]} domain",
            "x0": -0.06, "x1": 1.06, "y0": -0.06, "y1": 1.06, "line": {"color": OKABE_ITO[5], "width": 3},
        })  # fmt: skip
    fig = _figure(data, layout, title, top_px + plot_px + bottom_px)
    left_px = 70 if row_headers else (10 if not show_ticks else 80)
    fig.spec["layout"]["margin"] = {"l": left_px, "r": 10, "t": top_px, "b": 10}
    return fig


def _grid_hover(name: str, row_title: str, col_title: str, value_name: str) -> str:
    """A grid panel's hover: the panel's name, the row, the column and the weight."""
    return (
        f"<b>{html.escape(name, quote=False)}</b><br>{html.escape(row_title)}: <b>%{{y}}</b><br>"
        f"{html.escape(col_title)}: <b>%{{x}}</b><br>{html.escape(value_name)}: <b>%{{z:.2f}}</b><extra></extra>"
    )


def _panel_axes(i: int, box: tuple[float, float, float, float], *, show_ticks: bool, first_column: bool) -> Spec:
    """The i-th panel's x and y axes, placed in ``box`` (x0, y0, width, y1) of the figure."""
    x0, y0, width, y1 = box
    tick = {"tickfont": {"size": 11}, "ticks": ""}
    return {
        _axis_key("x", i): {
            "type": "category", "domain": [x0, x0 + width], "anchor": _axis_ref("y", i), "showgrid": False,
            "showticklabels": show_ticks, "tickangle": -90, "side": "bottom", "fixedrange": True,
        } | tick,
        _axis_key("y", i): {
            "type": "category", "domain": [max(0.0, y0), min(1.0, y1)], "anchor": _axis_ref("x", i),
            "autorange": "reversed", "showgrid": False, "showticklabels": show_ticks and first_column,
            "fixedrange": True,
        } | tick,
    }  # fmt: skip


def _panel_labels(
    box: tuple[float, float, float, float], title: str | None, col_header: str | None, row_header: str | None,
    *, titled: bool,
) -> list[Spec]:  # fmt: skip
    """The texts around one panel: its title above it, the header of its grid column above that (first grid row
    only), the header of its grid row left of it (first grid column only)."""
    x0, y0, width, y1 = box
    notes: list[Spec] = []
    if title is not None:
        notes.append({
            "text": html.escape(title, quote=False), "xref": "paper", "yref": "paper", "showarrow": False,
            "x": x0 + width / 2, "y": y1, "yanchor": "bottom", "xanchor": "center", "font": {"size": 13},
        })  # fmt: skip
    if col_header is not None:
        notes.append({
            "text": html.escape(col_header, quote=False), "xref": "paper", "yref": "paper",
            "showarrow": False, "x": x0 + width / 2, "y": 1.0, "yanchor": "bottom", "xanchor": "center",
            "yshift": 22 if titled else 2, "font": {"size": 12},
        })  # fmt: skip
    if row_header is not None:
        notes.append({
            "text": html.escape(row_header, quote=False), "xref": "paper", "yref": "paper",
            "showarrow": False, "x": 0.0, "y": (y0 + y1) / 2, "xanchor": "right", "yanchor": "middle",
            "xshift": -6, "font": {"size": 12},
        })  # fmt: skip
    return notes


def _shared_word(headers: list[str]) -> tuple[str, list[str]]:
    """("head", ["1", "2", …]) for headers "head 1", "head 2", …; ("", the headers) when they share no first word."""
    parts = [h.rsplit(" ", 1) for h in headers]
    if len(parts) > 1 and all(len(p) == 2 and p[0] == parts[0][0] and p[1].isdigit() for p in parts):
        return parts[0][0], [p[1] for p in parts]
    return "", list(headers)


def _mosaic_headers(heads: list[str], rows: list[str], step: int, g: int) -> list[Spec]:
    """The mosaic's column headers over the panels and its row headers left of them. "head 1" … "head 12" over
    panels 13 px wide (a phone) ran into each other: the numbers go over the panels, the shared word once, in the
    corner above the row headers."""
    word, numbers = _shared_word(heads)
    notes: list[Spec] = [
        {"text": numbers[c], "x": c * step + (g - 1) / 2, "y": 1.0, "xref": "x", "yref": "paper",
         "yanchor": "bottom", "showarrow": False, "font": {"size": 12}}
        for c in range(len(heads))
    ] + [
        {"text": rows[r], "x": 0, "y": r * step + (g - 1) / 2, "xref": "paper", "yref": "y", "xanchor": "right",
         "xshift": -6, "showarrow": False, "font": {"size": 12}}
        for r in range(len(rows))
    ]  # fmt: skip
    if word:
        notes.append({"text": word, "x": 0, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "right",
                      "yanchor": "bottom", "xshift": -6, "showarrow": False, "font": {"size": 12}})  # fmt: skip
    return notes


def heatmap_mosaic(
    maps: object,
    labels: Sequence[str],
    *,
    row_headers: Sequence[str],
    col_headers: Sequence[str],
    title: str = "",
    value_name: str = "weight",
    zmax: float = 1.0,
    highlight: tuple[int, int] | None = None,
    panel_height: int | None = None,
) -> Figure:
    """A grid of small square maps drawn as ONE heatmap with empty lines between the panels.

    One trace instead of one per panel: a 6 × 12 grid built trace by trace costs plotly about 60 ms per
    rerun. Hover names the panel with the words: "the (layer 2)" → "cat (head 3)".

    Args:
        maps: (R, C, G, G) one G×G map per grid cell, e.g. (layers, heads, tokens, tokens).
        labels: G token labels, shared by every map.
        row_headers, col_headers: R and C names, e.g. "layer 1" and "head 1".
        highlight: (r, c) of a panel to frame.
        panel_height: pixels per grid row; default grows with G from 64 to 96.
    """
    z = _array(maps)  # (R, C, G, G)
    n_r, n_c, g, _ = z.shape
    step = g + 1  # a panel and the empty line after it
    gap = 0.5 if g <= 16 else 0  # white lines between cells would wash out cells of a pixel or two
    big = np.full((n_r * step - 1, n_c * step - 1), np.nan, dtype=np.float32)  # (R·(G+1)−1, C·(G+1)−1)
    for r in range(n_r):
        for c in range(n_c):
            big[r * step : r * step + g, c * step : c * step + g] = z[r, c]
    words = _safe(unique_labels(labels))
    heads = [html.escape(h, quote=False) for h in col_headers]
    rows = [html.escape(h, quote=False) for h in row_headers]
    # category axes need distinct labels: the gap lines get their own (never shown: ticks are off)
    x = [f"{words[k]} ({heads[c]})" if k < g else f"gap {c}" for c in range(n_c) for k in range(step)][:-1]
    y = [f"{words[k]} ({rows[r]})" if k < g else f"gap {r}" for r in range(n_r) for k in range(step)][:-1]
    trace: Spec = {
        "type": "heatmap", "z": big, "x": x, "y": y, "colorscale": SEQUENTIAL, "zmin": 0.0, "zmax": zmax,
        "hoverongaps": False, "xgap": gap, "ygap": gap,
        "colorbar": {"thickness": 12, "title": {"text": html.escape(value_name), "side": "right"}},
        "hovertemplate": f"word: <b>%{{y}}</b><br>attends to: <b>%{{x}}</b><br>{html.escape(value_name)}: "
        "<b>%{z:.2f}</b><extra></extra>",
    }  # fmt: skip
    notes = _mosaic_headers(heads, rows, step, g)
    shapes = []
    if highlight is not None:
        r, c = highlight
        shapes.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": c * step - 0.9, "x1": c * step + g - 0.1,
            "y0": r * step - 0.9, "y1": r * step + g - 0.1, "line": {"color": OKABE_ITO[5], "width": 3},
        })  # fmt: skip
    layout = {
        "xaxis": {"type": "category", "showticklabels": False, "showgrid": False, "fixedrange": True, "ticks": ""},
        "yaxis": {"type": "category", "showticklabels": False, "showgrid": False, "fixedrange": True, "ticks": "",
                  "autorange": "reversed"},
        "annotations": notes,
        "shapes": shapes,
        "plot_bgcolor": "white",
    }  # fmt: skip
    panel_height = panel_height or int(min(96, max(64, 2 * g)))
    fig = _figure([trace], layout, title, (50 if title else 10) + 30 + n_r * panel_height + 10)
    fig.spec["layout"]["margin"] = {"l": 70, "r": 10, "t": (50 if title else 10) + 24, "b": 10}
    return fig
