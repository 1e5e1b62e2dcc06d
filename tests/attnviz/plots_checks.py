"""Checks the plot tests share: every property of a figure valid in plotly's object model, every colour scale one
the browser draws as meant."""

import plotly.graph_objects as go

from attnviz import plots


def colour_scales(spec: object) -> list[object]:
    """Every ``colorscale`` anywhere in a figure's spec (traces, colour axes, markers)."""
    found = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "colorscale":
                found.append(value)
            else:
                found += colour_scales(value)
    elif isinstance(spec, list | tuple):
        for value in spec:
            found += colour_scales(value)
    return found


def drawn_as_given(scale: object) -> bool:
    """A colour scale the browser's plotly.js draws as meant: explicit stops from 0 to 1, or one of its own names.
    (plotly.py accepts many more names, e.g. "Inferno", which plotly.js silently replaces by a grey-to-red one.)"""
    if isinstance(scale, str):
        return scale in plots.PLOTLY_JS_SCALES
    stops = [float(at) for at, _ in scale]
    return len(stops) >= 2 and stops[0] == 0.0 and stops[-1] == 1.0 and stops == sorted(stops)


def valid(fig: plots.Figure) -> go.Figure:
    """Builders skip plotly's object model for speed; here every property is checked (go.Figure raises), and every
    colour scale is one the browser draws as meant."""
    assert isinstance(fig, plots.Figure)
    for scale in colour_scales(fig.spec):
        assert drawn_as_given(scale), scale
    return fig.plotly()
