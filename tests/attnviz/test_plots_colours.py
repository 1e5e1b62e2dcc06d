"""The colour scales and palettes every builder uses (attnviz/plots/_base.py), as drawn and as restyled."""

import numpy as np

from attnviz import plots
from tests.attnviz.plots_checks import colour_scales, drawn_as_given


def test_plotly_js_scale_names_are_those_streamlit_ships():
    """`plots.PLOTLY_JS_SCALES` is the list in the plotly.js bundled with Streamlit (its `scales` object)."""
    import re
    from pathlib import Path

    import streamlit

    bundles = list((Path(streamlit.__file__).parent / "static").rglob("PlotlyChart*.js"))
    assert bundles, "Streamlit's plotly.js bundle not found"
    text = "".join(b.read_text(encoding="utf-8", errors="replace") for b in bundles)
    shipped = set(re.findall(r"\b([A-Z][A-Za-z]+):\[\[0,`(?:rgb|#)", text))
    assert shipped == plots.PLOTLY_JS_SCALES
    assert "Inferno" not in shipped  # the name the high-contrast view used to pass


def test_no_colour_is_one_streamlit_replaces():
    """Streamlit's chart theme rewrites some colours in a figure's JSON (its placeholders #000001… and plotly's
    default palette) to its own; a scale or palette that contains one is drawn with another colour."""
    import re
    from pathlib import Path

    import streamlit

    text = "".join(
        b.read_text(encoding="utf-8", errors="replace")
        for b in (Path(streamlit.__file__).parent / "static").rglob("PlotlyChart*.js")
    )
    start = text.index("`#000001`")
    replaced = {c.lower() for c in re.findall(r"`(#[0-9a-fA-F]{6})`", text[start - 200 : start + 3000])}
    assert {"#000001", "#000004", "#000024"} <= replaced
    ours = [c for scale in (plots.DIVERGING, plots.CIVIDIS, plots.INFERNO, plots.HIGH_CONTRAST_DIVERGING)
            for _, c in scale] + list(plots.OKABE_ITO)  # fmt: skip
    assert not {c.lower() for c in ours} & replaced


def test_every_colour_scale_is_explicit_stops_in_every_view():
    """One figure from each builder that colours by value, as drawn and restyled for high contrast: no scale is a
    name (not even one plotly.js knows), and high contrast swaps the value scales for its own."""
    rng = np.random.default_rng(3)
    words = ["the", "cat", "sat"]
    figures = [
        plots.heatmap(rng.normal(size=(3, 3)), words, words),
        plots.heatmap(rng.random((3, 3)), words, words, diverging=False, zmax=1.0, overlay=np.eye(3, dtype=bool)),
        plots.matrix(rng.normal(size=(4, 5))),
        plots.strip(rng.normal(size=(2, 10)), ["a", "b"]),
        plots.heatmap_grid(rng.random((2, 3, 3)), words, words, n_cols=2, names=["h1", "h2"]),
        plots.heatmap_mosaic(rng.random((1, 2, 3, 3)), words, row_headers=["l1"], col_headers=["h1", "h2"]),
        plots.token_buckets(words, np.array([[0, 1, 0]])),
        plots.scatter(rng.normal(size=(4, 3)), list("abcd"), arrows=[(0, 1)]),
    ]
    for fig in figures:
        for view in (fig, plots.styled(fig, contrast=True), plots.styled(fig, contrast=True, cells=True, present=True)):
            scales = colour_scales(view.to_dict())
            assert all(isinstance(s, list) and drawn_as_given(s) for s in scales), scales
    seq = plots.styled(figures[1], contrast=True).to_dict()["data"]
    assert seq[0]["colorscale"] == plots.INFERNO, "weights: inferno in high contrast"
    assert seq[1]["colorscale"] == [[0.0, "#6b6b6b"], [1.0, "#6b6b6b"]], "the grey cover stays grey"
    assert plots.styled(figures[0], contrast=True).to_dict()["data"][0]["colorscale"] == plots.HIGH_CONTRAST_DIVERGING
    grid = plots.styled(figures[4], contrast=True).to_dict()["layout"]["coloraxis"]
    assert grid["colorscale"] == plots.INFERNO, "a shared colour axis is restyled too"
    buckets = plots.styled(figures[6], contrast=True).to_dict()["data"][0]["colorscale"]
    assert buckets == figures[6].spec["data"][0]["colorscale"], "a palette of categories is left alone"
