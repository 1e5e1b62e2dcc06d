"""Page 5b's head census (`attnviz.census`): the learner's text and the course's own paragraphs, side by side."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from app_support.data import cached
from app_support.data.cached import paragraphs_census, text_census  # noqa: F401  (re-exported: they lived here)
from app_support.kit import charts, links, tables
from attnviz import census, plots, pretrained
from attnviz.census import HeadCensus, label_heads
from attnviz.census_paragraphs import PARAGRAPHS
from attnviz.host import to_host

LAYER_KEY, HEAD_KEY = "real_layer", "real_head"  # the head view's settings in the URL (lessons/real_heads.py)


def head_links(url_path: str, n_layers: int, n_heads: int) -> list[list[str]]:
    """[layer][head] a link to this page with that head chosen (the rest of the view kept), scrolled to its map.

    Relative to this page, so it works behind any address; the default head 1 of layer 1 stays out of the URL."""
    params = links.current_params()
    found = []
    for layer in range(n_layers):
        row = []
        for head in range(n_heads):
            query = {k: v for k, v in params.items() if k not in (LAYER_KEY, HEAD_KEY)}
            if layer or head:
                query |= {LAYER_KEY: str(layer + 1), HEAD_KEY: str(head + 1)}
            anchor = f"layer-{layer + 1}-head-{head + 1}-large"  # the heading "Layer l, head h, large"
            row.append(f"{url_path}?{urlencode(query)}#{anchor}" if query else f"{url_path}#{anchor}")
        found.append(row)
    return found


def _hover(c: HeadCensus) -> list[list[str]]:
    figures = {name: to_host(getattr(c, name)) for name in ("previous", "next", "itself", "special", "elsewhere")}
    entropy, spread, distance = to_host(c.entropy), to_host(c.spread), to_host(c.distance)
    n_layers, n_heads = entropy.shape
    return [
        [
            f"previous {figures['previous'][i, j]:.0%} · next {figures['next'][i, j]:.0%} · itself "
            f"{figures['itself'][i, j]:.0%}\n[CLS]/[SEP] {figures['special'][i, j]:.0%} · elsewhere "
            f"{figures['elsewhere'][i, j]:.0%}\nentropy {entropy[i, j]:.2f} bits ({spread[i, j]:.0%} of the most) · "
            f"looks {distance[i, j]:.1f} tokens away"
            for j in range(n_heads)
        ]
        for i in range(n_layers)
    ]


def table(c: HeadCensus, labels: list[list[str]], steady: list[list[str]]) -> pd.DataFrame:
    """Every head's figures, one row each."""
    n_layers, n_heads = len(labels), len(labels[0])
    figures = {
        "previous": c.previous,
        "next": c.next,
        "itself": c.itself,
        "[CLS]/[SEP]": c.special,
        "elsewhere": c.elsewhere,
    }
    data: dict[str, object] = {
        "layer": np.repeat(np.arange(1, n_layers + 1), n_heads),
        "head": np.tile(np.arange(1, n_heads + 1), n_layers),
        "label": [label for row in labels for label in row],
        "label on our paragraphs": [label for row in steady for label in row],
    }
    data |= {name: [f"{v:.0%}" for v in to_host(x).ravel()] for name, x in figures.items()}
    data |= {
        "entropy, bits": np.round(to_host(c.entropy).ravel(), 2),
        "share of the most": [f"{v:.0%}" for v in to_host(c.spread).ravel()],
        "distance, tokens": np.round(to_host(c.distance).ravel(), 1),
    }
    return pd.DataFrame(data)


def _counts(labels: list[list[str]]) -> str:
    found = Counter(label for row in labels for label in row)
    return ", ".join(f"{found[label]} {label}" for label in census.LABELS if found[label])


def census_section(model: pretrained.Model, text: str, url_path: str) -> None:
    """The census block of page 5b: thresholds, the two grids, what they say, the full table."""
    mine = cached.text_census(model, text)
    if mine is None:
        return
    steady = cached.paragraphs_census(model)
    labels, steady_labels = label_heads(mine), label_heads(steady)
    n_layers, n_heads = len(labels), len(labels[0])
    st.markdown(
        f"**A census of the {n_layers * n_heads} heads.** For each head, averaged over the rows of your text's tokens: "
        "the share of its weight on the token just before, the token just after, itself, and [CLS]/[SEP]; how spread "
        "its rows are (entropy, in bits, and as a share of the most a row could have: even weights on every token); "
        "and how far it looks (the mean distance, in tokens, of the weight it puts on your tokens). The label is the "
        f"first that fits: **previous-token**, **next-token**, **self** or **sink** when that one target holds more "
        f"than {census.DOMINANT_SHARE:.0%} of the weight; **broad** when the entropy is at least "
        f"{census.BROAD_SPREAD:.0%} of the most; **local** when it looks {census.LOCAL_DISTANCE:g} tokens away or "
        "less; **mixed** otherwise. Click a label in a grid to open that head below."
    )
    links = head_links(url_path, n_layers, n_heads)
    charts.chart(
        plots.census_grid(labels, _hover(mine), links, title=f"Your text ({mine.rows} tokens)"),
        key="real_census_grid",
        name="head census",
        csv=_label_table(labels),
    )
    on_yours = [[f"{hover}\non your text: {label}" for hover, label in zip(*pair, strict=True)]
                for pair in zip(_hover(steady), labels, strict=True)]  # fmt: skip
    charts.chart(
        plots.census_grid(
            steady_labels, on_yours, links, title=f"Our {len(PARAGRAPHS)} paragraphs ({steady.rows} tokens)"
        ),
        key="real_census_steady",
        name="head census of our paragraphs",
        csv=_label_table(steady_labels),
    )
    flat, steady_flat = [x for row in labels for x in row], [x for row in steady_labels for x in row]
    same = sum(a == b for a, b in zip(flat, steady_flat, strict=True))
    st.caption(
        f"On your text: {_counts(labels)}. On our paragraphs: {_counts(steady_labels)}. "
        f"{same} of the {n_layers * n_heads} heads get the same label on both"
        + (
            f"; your text gives each head only {mine.rows} rows to be judged on, against {steady.rows}, so the "
            "paragraphs' labels are the steadier."
            if mine.rows < steady.rows
            else "."
        )
        + (
            f" With {mine.rows} tokens no head can look more than {mine.rows - 1} away, so on your text “local” "
            "says little."
            if mine.rows - 1 <= 2 * census.LOCAL_DISTANCE
            else ""
        )
    )
    with st.expander(f"Every head's figures on your text ({n_layers * n_heads} rows)"):
        tables.table(table(mine, labels, steady_labels), key="real_census_table", hide_index=True)


def _label_table(labels: list[list[str]]) -> tuple[np.ndarray, list[str], list[str]]:
    """The grid's labels as the CSV under it: a row per layer, a column per head."""
    grid = np.array(labels, dtype=object)  # (L, H) label names
    return grid, [f"layer {i + 1}" for i in range(grid.shape[0])], [f"head {j + 1}" for j in range(grid.shape[1])]
