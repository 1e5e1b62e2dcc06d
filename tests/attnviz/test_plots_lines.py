"""Lines over shared axes (attnviz/plots/lines.py)."""

from attnviz import plots
from tests.attnviz.plots_checks import valid


def test_lines_log_axes_dashes_and_markers():
    chart = valid(
        plots.lines(
            [plots.Series("measured", [1, 2, 4], [1.1, 1.9, 4.2], mode="markers"),
             plots.Series("var = d", [1, 2, 4], [1, 2, 4], dash="dash", colour=0)],
            log_x=True, log_y=True, x_title="d", y_title="variance",
        )
    )  # fmt: skip
    assert chart.layout.xaxis.type == "log" and chart.layout.yaxis.type == "log"
    assert chart.data[0].mode == "markers" and chart.data[1].line.dash == "dash"
    assert chart.data[0].marker.symbol != chart.data[1].marker.symbol  # not by colour alone


def test_lines_with_baseline():
    fig = valid(
        plots.category_lines(["emb", "layer 1"], {"a": [1.0, 0.8], "<b>": [0.5, 0.4]}, baseline=("uniform", 0.1))
    )
    assert len(fig.data) == 2 and fig.data[0].line.dash != fig.data[1].line.dash
    assert fig.data[1].name == "&lt;b&gt;"
    assert fig.layout.shapes[0].y0 == 0.1
    assert fig.data[0].mode == "lines+markers"  # two series: values in the hover, not on the lines
    one = valid(plots.category_lines(["emb", "layer 1"], {"a": [1.0, 0.8]}))
    assert "text" in one.data[0].mode and one.layout.yaxis.range[1] > 1.0  # room for the written value
