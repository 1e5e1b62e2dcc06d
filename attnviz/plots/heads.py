"""Pictures of attention heads that are not matrices: the head view's lines between words, the multi-head layer as
boxes and arrows, and tokens coloured by the bucket a hash put them in."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from attnviz.plots._base import OKABE_ITO, SCREEN_HEIGHT, Figure, Spec, _array, _category_axis, _figure, _safe


def head_view(
    queries: Sequence[str],
    keys: Sequence[str],
    weights: object,
    *,
    focus: int | None = None,
    top_k: int = 3,
    keep: Sequence[int] | None = None,
    title: str = "",
    value_name: str = "weight",
) -> Figure:
    """Tokens in two columns, lines from a query on the left to the keys it attends to on the right.

    A line's width and opacity grow with its weight. With ``focus`` the lines are that token's row of the
    map; without it every token draws lines to its ``top_k`` strongest keys.

    Args:
        queries, keys: T and S labels (the same sentence for self-attention).
        weights: (T, S).
        focus: the query to draw from, or None for every query.
        keep: which token positions to draw (in order) when a long sentence would not fit; default all.
    """
    w = _array(weights)  # (T, S)
    q_names, k_names = _safe(queries), _safe(keys)
    shown = list(range(max(len(q_names), len(k_names)))) if keep is None else sorted(set(keep))
    slot = {t: n for n, t in enumerate(shown)}  # token position → row on screen
    n_shown = len(shown)
    top = 80 if title else 40  # the title and the two column headings
    # rows as tall as fit a screen (`SCREEN_HEIGHT`), 13 to 28 px: over 44 tokens the view runs taller
    row_px = int(min(28, max(13, (SCREEN_HEIGHT - top) / (n_shown + 1))))
    font = 15 if row_px >= 24 else (13 if row_px >= 18 else 11)
    shapes = _head_lines(w, shown, slot, focus, top_k)
    words = _Column(shown, slot, focus, font)
    if focus is not None:
        source = html.escape(q_names[focus], quote=False)
        row = [float(v) for v in w[focus]]
        right = words.spec(
            k_names, 1.0, "right", f"{source} → <b>%{{text}}</b><br>{html.escape(value_name)}: %{{customdata:.3f}}"
            "<extra></extra>", row,
        )  # fmt: skip
    else:
        right = words.spec(k_names, 1.0, "right", "<b>%{text}</b> (key)<extra></extra>", None)
    left = words.spec(q_names, 0.0, "left", "<b>%{text}</b> (query)<extra></extra>", None)
    layout = {
        "shapes": shapes,
        "xaxis": {"range": [-0.75, 1.75], "visible": False, "fixedrange": True},
        "yaxis": {"range": [n_shown - 0.5, -0.8], "visible": False, "fixedrange": True},
        "annotations": [
            {
                "text": text,
                "x": x,
                "y": -0.8,
                "xref": "x",
                "yref": "y",
                "showarrow": False,
                "xanchor": anchor,
                "yanchor": "bottom",
                "font": {"size": 12, "color": "#555555"},
            }
            for text, x, anchor in (("attends from", 0.0, "right"), ("attends to", 1.0, "left"))
        ],
        "plot_bgcolor": "white",
    }
    return _figure([left, right], layout, title, top + row_px * (n_shown + 1))


def _head_lines(w: np.ndarray, shown: list[int], slot: dict[int, int], focus: int | None, top_k: int) -> list[Spec]:
    """The head view's lines, width and opacity growing with the weight: the ``focus`` query's row of the map
    ``w`` (T, S), or every shown query's ``top_k`` strongest keys; lines too faint to see are left out."""
    shapes: list[Spec] = []

    def line(i: int, j: int, weight: float, colour: str) -> None:
        if weight < 0.005 or i not in slot or j not in slot:
            return  # too faint to see
        shapes.append({
            "type": "line", "xref": "x", "yref": "y", "x0": 0.03, "x1": 0.97, "y0": slot[i], "y1": slot[j],
            "line": {"color": colour, "width": 0.5 + 9 * weight}, "opacity": float(min(1.0, 0.15 + weight)),
            "layer": "below",
        })  # fmt: skip

    if focus is not None:
        for j in range(w.shape[1]):
            line(focus, j, float(w[focus, j]), OKABE_ITO[5])
    else:
        for i in shown:
            if i < w.shape[0]:
                for j in np.argsort(-w[i])[:top_k]:
                    line(i, int(j), float(w[i, j]), OKABE_ITO[0])
    return shapes


@dataclass(frozen=True)
class _Column:
    """One column of words in the head view: which positions are shown, on which rows, in what size."""

    shown: list[int]
    slot: dict[int, int]
    focus: int | None
    font: int

    def spec(self, names: list[str], x: float, side: str, hover: str, custom: list[float] | None) -> Spec:
        """The column of ``names`` at ``x``, written on its ``side``; the focus query is in orange."""
        idx = [t for t in self.shown if t < len(names)]
        colours = [OKABE_ITO[5] if side == "left" and t == self.focus else "#222222" for t in idx]
        spec: Spec = {
            "type": "scatter", "mode": "markers+text", "x": [x] * len(idx), "y": [self.slot[t] for t in idx],
            "text": [names[t] for t in idx], "textposition": f"middle {side}",
            "textfont": {"size": self.font, "color": colours}, "marker": {"size": 8, "color": colours},
            "hovertemplate": hover, "showlegend": False, "cliponaxis": False,
        }  # fmt: skip
        if custom is not None:
            spec["customdata"] = [custom[t] for t in idx]
        return spec


def multihead_diagram(t: int, d_model: int, n_heads: int, head_dim: int) -> Figure:
    """The toy layer as boxes and arrows with the shapes written on them, one lane per head.

    I (T×D) → Q_h, K_h, V_h (T×Dh) → A_h = softmax(Q_h·K_hᵀ/√Dh) (T×T) → O_h = A_h·V_h (T×Dh)
    → concat (T×H·Dh) → ·W_O (H·Dh×D) → O (T×D).

    Compact so that it reads on a phone (about 350 px wide): every label is two short lines in 11 px type, and
    the columns stand 1.45 units apart, so a box is about 45 px wide there.
    """
    sub = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
    lane_px = 44
    mid = (n_heads - 1) / 2
    shapes: list[Spec] = []
    notes: list[Spec] = []
    font = {"size": 11, "color": "#111111"}
    x_in, x_qkv, x_a, x_o, x_cat, x_out = 0.0, 1.45, 2.9, 4.35, 5.8, 7.25  # the columns

    def box(x: float, y0: float, y1: float, text: str, colour: str, w: float = 1.0) -> None:
        shapes.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": x - w / 2, "x1": x + w / 2, "y0": y0 - 0.4,
            "y1": y1 + 0.4, "line": {"color": colour, "width": 2}, "fillcolor": "rgba(255,255,255,0.9)",
        })  # fmt: skip
        notes.append({"text": text, "x": x, "y": (y0 + y1) / 2, "xref": "x", "yref": "y", "showarrow": False,
                      "font": font})  # fmt: skip

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        notes.append({
            "x": x1, "y": y1, "ax": x0, "ay": y0, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
            "showarrow": True, "arrowhead": 2, "arrowsize": 1, "arrowwidth": 1.5, "arrowcolor": "#555555",
            "text": "",
        })  # fmt: skip

    def step(x: float, text: str) -> None:
        notes.append({"text": text, "x": x, "y": -0.75, "xref": "x", "yref": "y", "showarrow": False,
                      "yanchor": "bottom", "font": font})  # fmt: skip

    box(x_in, mid, mid, f"I<br>{t} × {d_model}", "#333333")
    step((x_in + x_qkv) / 2 + 0.1, f"· M<sub>Q,K,V</sub><br>({d_model} × {head_dim} each)")
    step((x_qkv + x_a) / 2 + 0.1, f"Q·Kᵀ/√{head_dim},<br>softmax<br>→ A ({t} × {t})")
    step((x_a + x_o) / 2 + 0.1, f"A·V<br>({t} × {head_dim})")
    step((x_o + x_cat) / 2, "side<br>by side")
    step((x_cat + x_out) / 2, f"· W<sub>O</sub><br>({n_heads * head_dim} × {d_model})")
    for h in range(n_heads):
        colour = OKABE_ITO[h % len(OKABE_ITO)] if OKABE_ITO[h % len(OKABE_ITO)] != "#F0E442" else "#B8A800"
        n = str(h + 1).translate(sub)
        arrow(x_in + 0.5, mid, x_qkv - 0.5, h)
        box(x_qkv, h, h, f"Q{n} K{n} V{n}<br>{t}×{head_dim}", colour)
        arrow(x_qkv + 0.5, h, x_a - 0.5, h)
        box(x_a, h, h, f"A{n}<br>{t}×{t}", colour)
        arrow(x_a + 0.5, h, x_o - 0.5, h)
        box(x_o, h, h, f"O{n}<br>{t}×{head_dim}", colour)
        arrow(x_o + 0.5, h, x_cat - 0.5, mid)
    box(x_cat, mid, mid, f"concat<br>{t} × {n_heads * head_dim}", "#333333")
    arrow(x_cat + 0.5, mid, x_out - 0.5, mid)
    box(x_out, mid, mid, f"O<br>{t} × {d_model}", "#333333")
    layout = {
        "shapes": shapes,
        "annotations": notes,
        "xaxis": {"range": [-0.55, 7.8], "visible": False, "fixedrange": True},
        "yaxis": {"range": [n_heads - 0.45, -1.75], "visible": False, "fixedrange": True},
        "plot_bgcolor": "white",
        "showlegend": False,
        "margin": {"l": 4, "r": 4, "t": 10, "b": 4},
    }
    return _figure([], layout, "", 100 + lane_px * n_heads)


def token_buckets(labels: Sequence[str], buckets: object, *, title: str = "", n_buckets: int | None = None) -> Figure:
    """Tokens coloured by the bucket a hash put them in, one row per round of hashing.

    The bucket number is written in every cell as well, so nothing depends on telling colours apart.

    Args:
        labels: T tokens.
        buckets: (R, T) integer buckets.
        n_buckets: how many buckets there can be (fixes the colours across rounds); default the largest seen + 1.
    """
    b = np.asarray(_array(buckets), dtype=np.int64)  # (R, T)
    n_rounds, t = b.shape
    count = int(n_buckets if n_buckets is not None else (b.max(initial=0) + 1))
    colours = OKABE_ITO[:7]  # not the black: the token is written in black on top
    palette = [colours[i % len(colours)] for i in range(max(count, 1))]
    # a discrete scale: bucket i takes the band [i/count, (i+1)/count] of the colour scale
    scale: list[list[object]] = []
    for i, colour in enumerate(palette):
        scale += [[i / len(palette), colour], [(i + 1) / len(palette), colour]]
    names = _safe(labels)
    text = [[f"{names[j]}<br>bucket {b[r, j]}" for j in range(t)] for r in range(n_rounds)]
    trace: Spec = {
        "type": "heatmap", "z": b.astype(float), "x": list(range(t)), "y": [f"round {r + 1}" for r in range(n_rounds)],
        "zmin": -0.5, "zmax": len(palette) - 0.5, "colorscale": scale, "showscale": False, "xgap": 2, "ygap": 2,
        "opacity": 0.8,
        "text": text, "texttemplate": "%{text}", "textfont": {"size": 13, "color": "#000000"},
        "hovertemplate": "%{y}: %{text}<extra></extra>",
    }  # fmt: skip
    layout = {
        "xaxis": _category_axis(names, showticklabels=False),  # the tokens are written in the cells
        "yaxis": {"type": "category", "autorange": "reversed", "showgrid": False},
    }
    return _figure([trace], layout, title, 110 + 70 * n_rounds)
