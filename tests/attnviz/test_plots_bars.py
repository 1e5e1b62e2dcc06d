"""Bars, rankings, grouped bars and histograms (attnviz/plots/bars.py)."""

import numpy as np

from attnviz import plots
from tests.attnviz.plots_checks import valid


def test_bars():
    bars = valid(plots.bars(["x", "y", "z"], [1.0, 2.0, 3.0], highlight=[1], title="t"))
    assert list(bars.data[0].y) == [1.0, 2.0, 3.0]
    assert bars.data[0].marker.color[1] != bars.data[0].marker.color[0]
    h = valid(plots.bars(["x", "y"], [1.0, -2.0], horizontal=True))
    assert h.data[0].orientation == "h"
    assert h.layout.xaxis.range[0] < -2 and h.layout.xaxis.range[1] > 1  # room for the value labels


def test_distributions():
    fig = valid(plots.distributions({"a": np.arange(10.0), "b": np.arange(5.0)}))
    assert len(fig.data) == 2 and "10 pairs" in fig.data[0].name
    assert [s.x0 for s in fig.layout.shapes] == [4.5, 2.0]  # the means


def test_ranking():
    fig = valid(plots.ranking([("banks", 0.87), ("banking", 0.8)], highlight_first=True))
    assert list(fig.data[0].x) == [0.87, 0.8] and fig.data[0].orientation == "h"
    assert fig.data[0].marker.color[0] != fig.data[0].marker.color[1]
    valid(plots.ranking([]))


def test_bars_reference_line():
    fig = valid(plots.bars(["a", "b"], [0.5, 0.2], reference=("uniform", 0.1)))
    assert fig.layout.shapes[0].y0 == 0.1 and fig.layout.annotations[0].text == "uniform"
    h = valid(plots.bars(["a", "b"], [0.5, 0.2], reference=("<u>", 0.9), horizontal=True))
    assert h.layout.shapes[0].x0 == 0.9 and h.layout.xaxis.range[1] > 0.9
    assert h.layout.annotations[0].text == "&lt;u&gt;"


def test_grouped_bars():
    fig = valid(
        plots.grouped_bars(["l6 h12", "<x>"], {"it → cat": [0.7, 0.5], "others": [0.6, 0.1]}, reference=("even", 0.1))
    )
    assert len(fig.data) == 2 and fig.layout.barmode == "group"
    assert fig.data[0].marker.pattern.shape != fig.data[1].marker.pattern.shape  # not colour alone
    assert list(fig.data[0].customdata) == ["l6 h12", "&lt;x&gt;"]
    assert fig.layout.shapes[0].x0 == 0.1 and fig.layout.xaxis.range[1] > 0.7
