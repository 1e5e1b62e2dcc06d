"""Plot builders: pure functions that return a fresh plotly Figure. No streamlit here.

Colours are colour-blind safe: matrices use a diverging blue–white–orange scale centred on zero (or a
sequential one for weights that cannot be negative) and categorical colours come from Okabe & Ito.
Every value is also in the hover text, so nothing is conveyed by colour alone.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DIVERGING = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#fdb863"], [1.0, "#b35806"]]
SEQUENTIAL = "Cividis"
FONT = {"size": 15}
CELL_TEXT_MAX = 14  # write the value in every cell when the matrix is at most this many rows and columns


def _safe(labels: Sequence[str]) -> list[str]:
    """Plotly reads a few HTML tags in labels; learner text must show as text."""
    return [html.escape(str(label), quote=False) for label in labels]


def _array(x: object) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()  # type: ignore[union-attr]
    return np.asarray(x, dtype=np.float64)


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 50 if title else 10, "b": 10},
        font=FONT,
        hoverlabel={"font_size": 15},
    )
    return fig


def heatmap(
    matrix: object,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    title: str = "",
    row_title: str = "",
    col_title: str = "",
    value_name: str = "value",
    diverging: bool = True,
    cell_text: bool | None = None,
    decimals: int = 2,
    height: int | None = None,
) -> go.Figure:
    """A labelled matrix. Hover shows the row token, the column token and the value.

    Args:
        matrix: (R, C) values.
        rows, cols: R and C labels (repeats are fine: the axes are positional).
        diverging: centre the colour scale on zero (for scores that can be negative).
        cell_text: write values in the cells; default when the matrix is small enough to read.
    """
    z = _array(matrix)  # (R, C)
    rows, cols = _safe(rows), _safe(cols)
    n_rows, n_cols = z.shape
    if cell_text is None:
        cell_text = max(n_rows, n_cols) <= CELL_TEXT_MAX
    hover_rows = np.repeat(np.asarray(rows, dtype=object)[:, None], n_cols, axis=1)
    hover_cols = np.repeat(np.asarray(cols, dtype=object)[None, :], n_rows, axis=0)
    custom = np.stack([hover_rows, hover_cols], axis=-1)  # (R, C, 2)
    limit = float(np.nanmax(np.abs(z))) if z.size and np.isfinite(z).any() else 1.0
    trace = go.Heatmap(
        z=z,
        x=list(range(n_cols)),
        y=list(range(n_rows)),
        customdata=custom,
        colorscale=DIVERGING if diverging else SEQUENTIAL,
        zmid=0.0 if diverging else None,
        zmin=-limit if diverging else None,
        zmax=limit if diverging else None,
        hovertemplate=(
            f"{row_title or 'row'}: <b>%{{customdata[0]}}</b><br>{col_title or 'column'}: "
            f"<b>%{{customdata[1]}}</b><br>{value_name}: <b>%{{z:.{decimals}f}}</b><extra></extra>"
        ),
        texttemplate=f"%{{z:.{decimals}f}}" if cell_text else None,
        textfont={"size": 13},
        colorbar={"thickness": 14, "title": {"text": value_name, "side": "right"}},
        xgap=1,
        ygap=1,
    )
    fig = go.Figure(trace)
    fig.update_xaxes(
        tickmode="array",
        tickvals=list(range(n_cols)),
        ticktext=list(cols),
        title=col_title,
        side="top",
        tickangle=-45 if n_cols > 8 else 0,
        showgrid=False,
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(n_rows)),
        ticktext=list(rows),
        title=row_title,
        autorange="reversed",
        showgrid=False,
    )
    auto_height = 140 + 34 * n_rows if n_rows <= 20 else 140 + 22 * n_rows
    return _layout(fig, title, height or min(900, auto_height))


def strip(vectors: object, labels: Sequence[str], *, title: str = "", value_name: str = "value") -> go.Figure:
    """The raw numbers of a few vectors, one row each: (N, D) as a short, wide heatmap."""
    z = _array(vectors)  # (N, D)
    dims = [str(i) for i in range(z.shape[1])]
    fig = heatmap(
        z,
        labels,
        dims,
        title=title,
        row_title="word",
        col_title="dimension",
        value_name=value_name,
        cell_text=False,
        height=120 + 40 * z.shape[0],
    )
    fig.update_xaxes(
        side="bottom",
        tickangle=0,
        tickvals=list(range(0, z.shape[1], 5)),
        ticktext=[str(i) for i in range(0, z.shape[1], 5)],
    )
    return fig


def bars(
    labels: Sequence[str],
    values: object,
    *,
    title: str = "",
    value_name: str = "value",
    x_title: str = "",
    highlight: Sequence[int] = (),
    horizontal: bool = False,
    decimals: int = 2,
    height: int = 360,
) -> go.Figure:
    """A bar per label; ``highlight`` marks some bars in the second colour (and with a hatch pattern)."""
    y = _array(values).ravel()  # (N,)
    labels = _safe(labels)
    colours = [OKABE_ITO[1] if i in set(highlight) else OKABE_ITO[0] for i in range(len(y))]
    patterns = ["/" if i in set(highlight) else "" for i in range(len(y))]
    positions = list(range(len(y)))
    common = {
        "marker": {"color": colours, "pattern": {"shape": patterns}},
        "customdata": list(labels),
        "text": [f"{v:.{decimals}f}" for v in y],
        "textposition": "outside" if len(y) <= 20 else "none",
        "cliponaxis": False,
    }
    if horizontal:
        trace = go.Bar(
            x=y,
            y=positions,
            orientation="h",
            hovertemplate=f"<b>%{{customdata}}</b><br>{value_name}: %{{x:.{decimals}f}}<extra></extra>",
            **common,
        )
    else:
        trace = go.Bar(
            x=positions,
            y=y,
            hovertemplate=f"<b>%{{customdata}}</b><br>{value_name}: %{{y:.{decimals}f}}<extra></extra>",
            **common,
        )
    fig = go.Figure(trace)
    axis = {"tickmode": "array", "tickvals": positions, "ticktext": list(labels)}
    # room beyond the longest bar for the value written next to it
    low, high = min(0.0, float(y.min(initial=0.0))), max(0.0, float(y.max(initial=0.0)))
    span = (high - low) or 1.0
    value_range = [low - 0.18 * span if low < 0 else 0.0, high + 0.18 * span if high > 0 else 0.0]
    if horizontal:
        fig.update_yaxes(autorange="reversed", **axis)
        fig.update_xaxes(title=value_name, zeroline=True, zerolinewidth=2, range=value_range)
    else:
        fig.update_xaxes(title=x_title, tickangle=-45 if len(y) > 10 else 0, **axis)
        fig.update_yaxes(title=value_name, zeroline=True, zerolinewidth=2, range=value_range)
    return _layout(fig, title, height)


def scatter(
    coords: object,
    labels: Sequence[str],
    *,
    arrows: Sequence[tuple[int, int]] = (),
    groups: Sequence[int] | None = None,
    group_names: Sequence[str] = (),
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2", "PC 3"),
    height: int = 520,
) -> go.Figure:
    """Labelled points in 2-D or 3-D with arrows from one point to another.

    Args:
        coords: (N, 2) or (N, 3).
        arrows: (from, to) index pairs; each arrow gets its own colour and a legend entry "a → b".
        groups: optional group index per point (coloured, with a legend entry from ``group_names``).
    """
    xyz = _array(coords)  # (N, 2|3)
    labels = _safe(labels)
    three_d = xyz.shape[1] == 3
    groups = list(groups) if groups is not None else [0] * len(labels)
    fig = go.Figure()
    for g in sorted(set(groups)):
        idx = [i for i, gi in enumerate(groups) if gi == g]
        name = group_names[g] if g < len(group_names) else "words"
        marker = {"size": 9 if not three_d else 5, "color": OKABE_ITO[(g + 2) % len(OKABE_ITO)]}
        common = {
            "mode": "markers+text",
            "text": [labels[i] for i in idx],
            "textposition": "top center",
            "name": name,
            "marker": marker,
            "hovertemplate": "<b>%{text}</b><extra></extra>",
            "showlegend": bool(group_names),
        }
        if three_d:
            fig.add_trace(go.Scatter3d(x=xyz[idx, 0], y=xyz[idx, 1], z=xyz[idx, 2], **common))
        else:
            fig.add_trace(go.Scatter(x=xyz[idx, 0], y=xyz[idx, 1], **common))
    for n, (a, b) in enumerate(arrows):
        colour = OKABE_ITO[(0, 1, 5, 3, 7)[n % 5]]
        name = f"{labels[a]} → {labels[b]}"
        if three_d:
            fig.add_trace(
                go.Scatter3d(
                    x=xyz[[a, b], 0],
                    y=xyz[[a, b], 1],
                    z=xyz[[a, b], 2],
                    mode="lines",
                    line={"color": colour, "width": 6},
                    name=name,
                    hoverinfo="name",
                )
            )
            tip = xyz[b] - xyz[a]
            fig.add_trace(
                go.Cone(
                    x=[xyz[b, 0]],
                    y=[xyz[b, 1]],
                    z=[xyz[b, 2]],
                    u=[tip[0]],
                    v=[tip[1]],
                    w=[tip[2]],
                    sizemode="absolute",
                    sizeref=0.12 * float(np.linalg.norm(tip) or 1),
                    anchor="tip",
                    colorscale=[[0, colour], [1, colour]],
                    showscale=False,
                    hoverinfo="skip",
                    name=name,
                )
            )
        else:
            fig.add_annotation(
                x=xyz[b, 0],
                y=xyz[b, 1],
                ax=xyz[a, 0],
                ay=xyz[a, 1],
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=3,
                arrowsize=1.4,
                arrowwidth=3,
                arrowcolor=colour,
                standoff=6,
            )
            # the shaft as a trace too, so that the arrow has a legend entry and a hover label
            fig.add_trace(
                go.Scatter(
                    x=xyz[[a, b], 0],
                    y=xyz[[a, b], 1],
                    mode="lines",
                    line={"color": colour, "width": 3},
                    name=name,
                    hoverinfo="name",
                )
            )
    if three_d:
        fig.update_layout(
            scene={
                "xaxis_title": axis_titles[0],
                "yaxis_title": axis_titles[1],
                "zaxis_title": axis_titles[2],
            }
        )
    else:
        fig.update_xaxes(title=axis_titles[0], zeroline=False)
        fig.update_yaxes(title=axis_titles[1], zeroline=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.15})
    return _layout(fig, title, height)


def distributions(
    groups: Mapping[str, object], *, title: str = "", value_name: str = "score", height: int = 380
) -> go.Figure:
    """Overlaid histograms of several groups of scores, each with its mean drawn as a dashed line."""
    fig = go.Figure()
    for n, (name, values) in enumerate(groups.items()):
        v = _array(values).ravel()
        colour = OKABE_ITO[n % len(OKABE_ITO)]
        fig.add_trace(
            go.Histogram(
                x=v,
                name=f"{name} ({v.size} pairs)",
                opacity=0.6,
                marker={"color": colour},
                histnorm="probability",
                nbinsx=40,
                hovertemplate=f"{name}<br>{value_name}: %{{x}}<br>share of pairs: %{{y:.1%}}<extra></extra>",
            )
        )
        fig.add_vline(x=float(v.mean()), line={"color": colour, "dash": "dash", "width": 3})
    fig.update_layout(barmode="overlay", legend={"orientation": "h", "y": 1.12, "x": 0})
    fig.update_xaxes(title=value_name)
    fig.update_yaxes(title="share of pairs", tickformat=".0%")
    return _layout(fig, title, height)
