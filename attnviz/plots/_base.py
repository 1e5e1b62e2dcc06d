"""The figure every builder returns (`Figure`: plotly's JSON as plain data), its colours and the small helpers the
builders share. No streamlit here.

Figures are assembled as plain dicts and handed on as they are: building plotly's object tree (go.Figure) for each
figure, and copying it back out as JSON for the browser, costs more than a page computes, on every rerun of every
student's page. `Figure.plotly()` gives the validated go.Figure for whoever wants plotly's object model; the tests
validate every builder's output that way.

Colours are colour-blind safe: matrices use a diverging blue–white–orange scale centred on zero (or a
sequential one for weights that cannot be negative) and categorical colours come from Okabe & Ito.
Every value is also in the hover text, so nothing is conveyed by colour alone.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from attnviz.host import to_host

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
ARROW_COLOURS = (OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[5], OKABE_ITO[3], OKABE_ITO[7])
# Every colour scale is given as explicit stops, never by name: the plotly.js that Streamlit ships knows only its own
# short list of names (`PLOTLY_JS_SCALES`) and draws an unknown one, e.g. "Inferno", as a grey-to-red default.
DIVERGING = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#fdb863"], [1.0, "#b35806"]]
# cividis (Nuñez, Anderton & Renslow 2018): blue to yellow, readable with every common colour-vision deficiency
CIVIDIS = [[i / 9, c] for i, c in enumerate(("#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8678",
                                             "#a59c74", "#c3b369", "#e1cc55", "#fee838"))]  # fmt: skip
# inferno (matplotlib): black through purple and red to pale yellow; lightness alone orders the values. Its first
# colour is written rgb(0,0,4), not #000004: Streamlit's chart theme replaces the colours #000001 to #000024 (and
# plotly's default ones) in a figure's JSON with its own, so #000004 was drawn as a pale red.
INFERNO = [[i / 9, c] for i, c in enumerate(("rgb(0,0,4)", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446",
                                             "#ed6925", "#fb9b06", "#f7d13d", "#fcffa4"))]  # fmt: skip
SEQUENTIAL = CIVIDIS
# high contrast: the same hues as DIVERGING with darker ends and a wider lightness range; inferno for weights
HIGH_CONTRAST_DIVERGING = [[0.0, "#08306b"], [0.25, "#4a98c9"], [0.5, "#ffffff"], [0.75, "#f98e2b"], [1.0, "#7f2704"]]
HIGH_CONTRAST_SEQUENTIAL = INFERNO
# the scale names plotly.js itself knows (src/components/colorscale/scales.js); any other name is drawn as a default
PLOTLY_JS_SCALES = frozenset({
    "Greys", "YlGnBu", "Greens", "YlOrRd", "Bluered", "RdBu", "Reds", "Blues", "Picnic", "Rainbow", "Portland", "Jet",
    "Hot", "Blackbody", "Earth", "Electric", "Viridis", "Cividis",
})  # fmt: skip
# The tallest a long figure is drawn (a paragraph's map, its strip of vectors, a head view), so that it fits one
# screen: a 1280×800 screen shows 740 px under Streamlit's 60-px header, a 390×844 phone 784; presenter mode draws
# figures 1.25 times as tall (attnviz.plots.theme), 875 px on a 1080-px projector. A drag inside the figure zooms in.
SCREEN_HEIGHT = 700
MARKERS = ("circle", "diamond", "square", "triangle-up", "x", "star")  # shape as well as colour tells series apart

Spec = dict[str, Any]


class Figure:
    """A plotly figure as plain data: ``spec = {"data": [trace, ...], "layout": {...}}``, what plotly.js draws.

    Arrays in it are numpy arrays or lists. Builders return a fresh one each call, so it is the caller's.
    """

    __slots__ = ("spec",)

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def to_dict(self) -> Spec:
        """A deep copy of the spec."""
        return copy.deepcopy(self.spec)

    def plotly(self) -> go.Figure:
        """The figure as plotly's object model, every property validated (raises on an invalid one)."""
        return go.Figure(self.spec)

    def __repr__(self) -> str:
        kinds = [trace.get("type", "?") for trace in self.spec.get("data", [])]
        return f"Figure({kinds}, title={self.spec.get('layout', {}).get('title', {}).get('text', '')!r})"


def _safe(labels: Sequence[object]) -> list[str]:
    """Plotly reads a few HTML tags in labels; learner text must show as text."""
    return [html.escape(str(label), quote=False) for label in labels]


def _array(x: object) -> np.ndarray:
    if hasattr(x, "detach"):
        x = to_host(x)  # type: ignore[arg-type]
    return np.asarray(x, dtype=np.float64)


def _figure(data: list[Spec], layout: Spec, title: str, height: int) -> Figure:
    base: Spec = {
        "title": {"text": html.escape(title, quote=False), "x": 0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 50 if title else 10, "b": 10},
        "font": {"size": 15},
        "hoverlabel": {"font": {"size": 15}},
        # no plotly template: Streamlit draws its own chart theme over the figure whatever template it has, and
        # plotly's default one is three quarters of a small figure's JSON, copied, encoded and sent on every rerun
        "template": {},
    }
    return Figure({"data": data, "layout": base | layout})


def high_contrast_scale(scale: object) -> list | None:
    """The high-contrast version of one of this module's colour scales (`DIVERGING`, `SEQUENTIAL`), or None for any
    other scale (a single colour, a palette of categories), which stays as it is."""
    if scale == DIVERGING:
        return HIGH_CONTRAST_DIVERGING
    if scale == SEQUENTIAL:
        return HIGH_CONTRAST_SEQUENTIAL
    return None


def _category_axis(labels: list[str], **extra: Any) -> Spec:
    """A positional axis with word labels: repeated words stay apart."""
    positions = list(range(len(labels)))
    return {"tickmode": "array", "tickvals": positions, "ticktext": labels, "showgrid": False} | extra


def _axis_key(kind: str, n: int) -> str:
    """Layout key of the n-th (0-based) x or y axis: "xaxis", "xaxis2", …"""
    return f"{kind}axis" if n == 0 else f"{kind}axis{n + 1}"


def _axis_ref(kind: str, n: int) -> str:
    """Trace reference of the n-th (0-based) axis: "x", "x2", …"""
    return kind if n == 0 else f"{kind}{n + 1}"
