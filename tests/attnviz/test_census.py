import math

import pytest
import torch

from attnviz import census
from attnviz.census import LABELS, label_heads, layer_census, merge
from attnviz.errors import AttnvizInputError

# Six tokens: [CLS] a b c d [SEP]; the four rows of a, b, c, d (positions 1–4) are the census's rows.
SPECIAL = [True, False, False, False, False, True]
U = 1 / 6
HEADS = {
    # layer 1
    "previous": [[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0]],
    "next": [[0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1]],
    "uniform": [[U] * 6] * 4,
    "self": [[0, 0.5, 0.5, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0.5, 0.5]],
    # layer 2
    "sink": [[0.5, 0, 0, 0, 0, 0.5]] * 4,
    "two away": [[0, 0, 0.5, 0.5, 0, 0], [0, 0.5, 0, 0, 0.5, 0], [0, 0.5, 0, 0, 0.5, 0], [0, 0, 0.5, 0.5, 0, 0]],
    "far": [[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]],
    "half previous": [[0, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0]],
}


def toy_weights() -> torch.Tensor:
    """(2, 4, 6, 6): the heads above, with one-hot rows for [CLS] and [SEP] (not counted)."""
    maps = []
    for rows in HEADS.values():
        m = torch.zeros(6, 6, dtype=torch.float64)
        m[0, 0] = m[5, 5] = 1
        m[1:5] = torch.tensor(rows, dtype=torch.float64)
        maps.append(m)
    return torch.stack(maps).reshape(2, 4, 6, 6)


def test_toy_census_matches_hand_computed_figures():
    w = toy_weights()
    assert torch.allclose(w.sum(-1), torch.ones(2, 4, 6, dtype=torch.float64))
    c = layer_census(w, SPECIAL)
    assert c.rows == 4
    log6 = math.log2(6)
    # (layer, head): previous, next, itself, sinks, elsewhere, entropy in bits, mean distance
    expected = {
        # a → [CLS] (a sink: the token before a is not a text token); b, c, d → the token before: 3 of 4 rows
        (0, 0): (0.75, 0, 0, 0.25, 0, 0, 1.0),
        (0, 1): (0, 0.75, 0, 0.25, 0, 0, 1.0),
        # even weights: 1/6 on each key; a has no text token before it and d none after, so 3/4 · 1/6 = 1/8;
        # distance: rows a..d look 0+1+2+3, 1+0+1+2, 2+1+0+1, 3+2+1+0 = 20 steps · 1/6 over 16 · 1/6 of weight
        (0, 2): (1 / 8, 1 / 8, 1 / 6, 1 / 3, 1 - 1 / 8 - 1 / 8 - 1 / 6 - 1 / 3, log6, 20 / 16),
        # a: ½ itself ½ next (1 bit), b, c: itself (0 bits), d: ½ itself ½ [SEP] (1 bit); distance 0.5 / 3.5
        (0, 3): (0, 0.5 / 4, 3 / 4, 0.5 / 4, 0, 0.5, 0.5 / 3.5),
        # all weight on [CLS] and [SEP]: 1 bit a row; no weight on the text, so no distance
        (1, 0): (0, 0, 0, 1, 0, 1, 0),
        # every row: ½ on a neighbour, ½ two away (1 bit); distance 0.5·1 + 0.5·2 = 1.5
        (1, 1): (0.25, 0.25, 0, 0, 0.5, 1, 1.5),
        # a → d (3), b → d (2), c → a (2), d → a (3): all elsewhere, distance 10 / 4
        (1, 2): (0, 0, 0, 0, 1, 0, 2.5),
        # a → a, b → a, c → b, d → d: half the rows on the token before, half on themselves; distance 2 / 4
        (1, 3): (0.5, 0, 0.5, 0, 0, 0, 0.5),
    }
    for (layer, head), (prev, nxt, own, sink, other, bits, dist) in expected.items():
        got = [
            float(x[layer, head]) for x in (c.previous, c.next, c.itself, c.special, c.elsewhere, c.entropy, c.distance)
        ]
        assert got == pytest.approx([prev, nxt, own, sink, other, bits, dist], abs=1e-12), (layer, head)
        assert float(c.spread[layer, head]) == pytest.approx(bits / log6, abs=1e-12)
    total = c.previous + c.next + c.itself + c.special + c.elsewhere
    assert torch.allclose(total, torch.ones_like(total))
    assert torch.equal(c.neighbours, c.previous + c.next)


def test_toy_labels_by_the_thresholds(monkeypatch):
    c = layer_census(toy_weights(), SPECIAL)
    # the toy text has 4 tokens, so no head looks more than 3 away: "local" is drawn at 2 tokens for it
    monkeypatch.setattr(census, "LOCAL_DISTANCE", 2.0)
    assert label_heads(c) == [
        ["previous-token", "next-token", "broad", "self"],
        # "half previous" has exactly 0.5 on the token before: not more than DOMINANT_SHARE, so it falls through to
        # its distance (0.5 tokens)
        ["sink", "local", "mixed", "local"],
    ]
    assert set(LABELS) == {"previous-token", "next-token", "self", "sink", "broad", "local", "mixed"}


def test_labels_follow_the_named_thresholds(monkeypatch):
    c = layer_census(toy_weights(), SPECIAL)
    # the "two away" head (spread 1/log2 6 ≈ 0.39, distance 1.5) and the "far" one (distance 2.5)
    monkeypatch.setattr(census, "LOCAL_DISTANCE", 2.0)
    assert label_heads(c)[1][1:3] == ["local", "mixed"]
    monkeypatch.setattr(census, "LOCAL_DISTANCE", 2.5)
    assert label_heads(c)[1][1:3] == ["local", "local"]  # at most the threshold is local
    monkeypatch.setattr(census, "LOCAL_DISTANCE", 1.0)
    assert label_heads(c)[1][1:3] == ["mixed", "mixed"]
    monkeypatch.setattr(census, "BROAD_SPREAD", 0.3)
    assert label_heads(c)[1][1] == "broad"
    monkeypatch.setattr(census, "DOMINANT_SHARE", 0.8)
    assert label_heads(c)[0][0] != "previous-token"  # 0.75 on the token before is no longer enough


def test_merge_averages_over_rows_and_weight():
    w = toy_weights()
    one = layer_census(w, SPECIAL)
    # the same heads on a text of one word: [CLS] a [SEP], a looking at itself in every head
    short = torch.zeros(2, 4, 3, 3, dtype=torch.float64)
    short[..., 0, 0] = short[..., 2, 2] = short[..., 1, 1] = 1
    two = layer_census(short, [True, False, True])
    both = merge([one, two])
    assert both.rows == 5
    assert torch.allclose(both.itself, (4 * one.itself + 1) / 5)
    assert torch.allclose(both.previous, 4 * one.previous / 5)
    # the distance: the short text adds weight 1 at distance 0; the "uniform" head had 20/6 steps over 16/6 of weight
    assert float(both.distance[0, 2]) == pytest.approx((20 / 6) / (16 / 6 + 1))
    # the sink head has no weight on the first text's words: its distance is the short text's, 0
    assert float(both.distance[1, 0]) == 0
    assert merge([one]).distance.equal(one.distance)
    with pytest.raises(AttnvizInputError):
        merge([])


def test_census_rejects_bad_input():
    w = toy_weights()
    with pytest.raises(AttnvizInputError, match="do not fit"):
        layer_census(w, SPECIAL[:-1])
    with pytest.raises(AttnvizInputError, match="no words"):
        layer_census(w, [True] * 6)


def test_census_grid_figure():
    from attnviz.plots import LABEL_COLOURS, census_grid

    assert tuple(LABEL_COLOURS) == LABELS  # the figure's label order is the census's

    labels = [["previous-token", "sink"], ["broad", "mixed"]]
    hover = [["a <b>", "b"], ["c", "d\ne"]]
    links = [["p?x=1&y=2", 'p?q="x"'], ["p", "p"]]
    fig = census_grid(labels, hover, links, title="Toy <i>")
    fig.plotly()  # every property valid
    cells = fig.spec["data"][0]
    assert cells["z"] == [[0, 3], [4, 6]]
    assert cells["text"][0][0] == "a &lt;b&gt;" and cells["text"][1][1] == "d<br>e"  # hover is text, not HTML
    notes = fig.spec["layout"]["annotations"]
    assert 'href="p?x=1&amp;y=2"' in notes[0]["text"] and 'href="p?q=&quot;x&quot;"' in notes[1]["text"]
    assert notes[0]["text"].endswith(">prev</a>") and notes[3]["font"]["color"] == "#000000"
    assert [t["name"] for t in fig.spec["data"][1:]] == ["previous-token (1)", "sink (1)", "broad (1)", "mixed (1)"]
    assert fig.spec["data"][1]["marker"]["color"] == LABEL_COLOURS["previous-token"]
    assert fig.spec["layout"]["title"]["text"] == "Toy &lt;i&gt;"
    plain = census_grid(labels, hover, None)
    assert "<a" not in plain.spec["layout"]["annotations"][0]["text"]
