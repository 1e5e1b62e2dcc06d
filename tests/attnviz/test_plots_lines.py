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


def test_lines_that_lie_on_one_another_say_so_and_stay_visible():
    """Page 6c's designed work: three variants count the same products, so three of five lines coincide and only the
    last drawn showed. A line that lies on an earlier one is dashed, thinner, and names the line it lies on."""
    x = [256, 1024, 4096]
    same = [1.0, 16.0, 256.0]
    series = [
        plots.Series("SDPA", x, same), plots.Series("plain", x, same), plots.Series("window", x, [0.5, 2.0, 8.0]),
        plots.Series("flash", x, list(same)), plots.Series("kernel", x, [0.5, 2.0, 8.0]),
    ]  # fmt: skip
    assert plots.coincident(series) == [None, 0, None, 0, 2]
    assert plots.coincident_groups(series) == [["SDPA", "plain", "flash"], ["window", "kernel"]]
    fig = valid(plots.lines(series))
    names = [t.name for t in fig.data]
    assert names == ["SDPA", "plain, same line as SDPA", "window", "flash, same line as SDPA",
                     "kernel, same line as window"]  # fmt: skip
    dashes = [t.line.dash for t in fig.data]
    assert dashes[0] == dashes[2] == "solid" and len({dashes[1], dashes[3]}) == 2 and "solid" not in dashes[1::2]
    assert plots.coincident([plots.Series("a", x, same), plots.Series("b", x, [1.0, 16.0, 256.1])]) == [None, None]
