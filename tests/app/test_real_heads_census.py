"""Page 5b's head census: the grid of labels for the learner's text and for our paragraphs, its links and figures."""

import re

import pytest

from attnviz import census, pretrained
from attnviz.census import LABELS, label_heads, layer_census
from tests.app.elements import chart, ok, z
from tests.app.test_pages import _reveal_all
from tests.app.test_real_heads import REAL


@pytest.fixture(scope="module")
def model():
    return pretrained.load_model("cpu")


def test_census_grid_labels_links_and_figures(app, model):
    at = ok(_reveal_all(app(REAL, sentence="she sat on the bank and watched the river")))
    grid = chart(at, "real_census_grid")
    cells = z(grid["data"][0])
    assert cells.shape == (6, 12)
    # the same labels as the census computed here, on the same text
    fwd = pretrained.forward(model, "she sat on the bank and watched the river")
    found = layer_census(fwd.weights.float(), fwd.tokens.special)
    expected = label_heads(found)
    assert [[LABELS[int(v)] for v in row] for row in cells] == expected
    # every cell names its label and links to its head's view on this page, in the same tab
    notes = grid["layout"]["annotations"]
    assert len(notes) == 72
    assert all(n["captureevents"] for n in notes)  # else plotly's drag layer takes the click from the link
    first, cell_3_5 = notes[0]["text"], notes[2 * 12 + 4]["text"]
    assert 'target="_self"' in first and "real_layer" not in first  # layer 1 · head 1 is the default: not in the URL
    assert "#layer-1-head-1-large" in first
    href = re.search(r'href="([^"]+)"', cell_3_5).group(1)
    assert href.startswith("real-heads?") and href.endswith("#layer-3-head-5-large")
    assert "real_layer=3" in href and "real_head=5" in href and "sentence=" in href
    # the key: one legend entry per label present, with its count
    legend = [t["name"] for t in grid["data"][1:]]
    counts = {label: sum(row.count(label) for row in expected) for label in LABELS}
    assert legend == [f"{label} ({n})" for label, n in counts.items() if n]
    # our paragraphs' census beside it, and a sentence that compares the two from the numbers
    steady = chart(at, "real_census_steady")
    assert z(steady["data"][0]).shape == (6, 12) and "Our 4 paragraphs" in steady["layout"]["title"]["text"]
    said = next(c.value for c in at.caption if c.value.startswith("On your text:"))
    steady_labels = [[LABELS[int(v)] for v in row] for row in z(steady["data"][0])]
    same = sum(a == b for r, s in zip(expected, steady_labels, strict=True) for a, b in zip(r, s, strict=True))
    assert f"{same} of the 72 heads get the same label on both" in said
    assert f"{counts['sink']} sink" in said
    # the thresholds on the page are the constants
    text = " ".join(m.value for m in at.markdown)
    assert f"more than {census.DOMINANT_SHARE:.0%} of the weight" in text
    assert f"at least {census.BROAD_SPREAD:.0%} of the most" in text
    assert f"{census.LOCAL_DISTANCE:g} tokens away or less" in text
    # every head's figures, in the table
    table = next(d.value for d in at.dataframe if "label on our paragraphs" in d.value.columns)
    assert len(table) == 72
    row = table[(table["layer"] == 2) & (table["head"] == 3)].iloc[0]
    assert row["previous"] == f"{float(found.previous[1, 2]):.0%}"
    assert row["entropy, bits"] == round(float(found.entropy[1, 2]), 2)
    assert row["label"] == expected[1][2]


def test_census_link_opens_the_head(app):
    at = ok(app(REAL, real_layer="3", real_head="5"))
    assert at.selectbox(key="real_layer").value == 3 and at.selectbox(key="real_head").value == 5
    assert any(h.value == "Layer 3, head 5, large" for h in at.header)
