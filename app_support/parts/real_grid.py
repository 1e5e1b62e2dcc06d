"""Page 5b's view of the whole model: every head's small map in one grid, how different each layer's heads are,
the weight and weighted length that [CLS] and [SEP] receive, and where each layer looks (the census)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from app_support.data import cached
from app_support.kit import charts, tables
from app_support.parts import census_view
from app_support.parts.real_probes import census_table
from attnviz import plots

if TYPE_CHECKING:
    from attnviz.pretrained import AttentionView as RealView
    from attnviz.pretrained import Model


def all_heads(
    model: Model,
    view: RealView,
    text: str,
    words: bool,
    keep_special: bool,
    highlight: tuple[int, int],
    shares: tuple[np.ndarray, np.ndarray],
) -> None:
    """The grid of every head (``highlight`` = (layer, head) framed), then the layers' differences, [CLS]/[SEP]'s
    weight and weighted length (``shares``: their (L, H) share of the weight and of weight × ‖f(x)‖), the census."""
    _grid(model, view, highlight)
    _layer_difference(model, text, words, keep_special)
    _parking(model, view, *shares)
    _census(model, text)
    census_view.census_section(model, text, "real-heads")  # every head labelled, beside our paragraphs' census


def _grid(model: Model, view: RealView, highlight: tuple[int, int]) -> None:
    L, H = model.n_layers, model.n_heads
    labels = list(view.labels)
    G, G_thumb = len(labels), view.thumbs.shape[-1]
    charts.chart(
        plots.heatmap_mosaic(
            view.thumbs,
            view.thumb_labels,
            row_headers=[f"layer {i + 1}" for i in range(L)],
            col_headers=[f"head {j + 1}" for j in range(H)],
            highlight=highlight,
        ),
        key="real_grid",
        name="all heads",
        csv=(
            view.weights.reshape(L * H * G, G),
            [f"layer {i + 1} · head {j + 1} · {w}" for i in range(L) for j in range(H) for w in labels],
            labels,
        ),
    )
    st.caption(
        "One small map per head: rows look, columns are looked at. Hover a cell to read it; pick a layer and a "
        "head above to see it large (framed in the grid)."
        + (f" Your {G} tokens are pooled into {G_thumb} blocks here." if G_thumb < G else "")
    )


def _layer_difference(model: Model, text: str, words: bool, keep_special: bool) -> None:
    L, H = model.n_layers, model.n_heads
    charts.chart(
        plots.bars(
            [f"layer {i + 1}" for i in range(L)],
            cached.layer_difference(model, text, words, keep_special),
            value_name="bits",
            title="How different each layer's heads are",
            height=240,
        ),
        key="real_js",
        name="difference between heads",
    )
    js = cached.layer_difference(model, text, words, keep_special)
    st.caption(
        "Each bar: the Jensen–Shannon divergence between two heads' rows, averaged over the rows and over every "
        f"pair of heads in the layer, in bits (0 to 1). 0 bits would mean {H} copies of one head: each head "
        "learned its own $M_Q$, $M_K$ and $M_V$. Here the "
        f"heads of layer {int(np.argmin(js)) + 1} are the most alike, at {float(js.min()):.2f} bits; of layer "
        f"{int(np.argmax(js)) + 1} the most different, at {float(js.max()):.2f}. "
        + (
            "[CLS] and [SEP] are in the maps: switch them off above to compare the heads on your words alone."
            if keep_special
            else "With [CLS] and [SEP] switched off, this compares the heads on your words alone."
        )
    )


def _parking(model: Model, view: RealView, weight_share: np.ndarray, norm_share: np.ndarray) -> None:
    share, moved = float(view.special_share.mean()), float(np.nanmean(norm_share))
    charts.chart(
        plots.grouped_bars(
            [f"layer {i + 1}" for i in range(model.n_layers)],
            {
                "share of the weight": np.nanmean(weight_share, axis=1),
                "share of weight × ‖f(x)‖": np.nanmean(norm_share, axis=1),
            },
            value_name="[CLS] and [SEP], mean over the heads of the layer",
            title="[CLS]/[SEP]: weight and weighted length",
            height=420,
        ),
        key="real_parking",
        name="special tokens weight and norm",
    )
    st.caption(
        r"A head adds $\sum_j \alpha_{ij}\, f(x_j)$ to word $i$, where $f(x_j) = (x_j M_V + b_V)\, W_O$ is what "
        r"token $j$ passes on. The solid bars are the weight $\alpha_{ij}$ that [CLS] and [SEP] receive; the "
        r"hatched bars their share of $\alpha_{ij} \lVert f(x_j) \rVert$, which also counts how long the "
        "passed-on vectors are (Kobayashi et al., “Attention is not only a weight”, 2020, who measured BERT's "
        "[CLS], [SEP] and punctuation this way and found their vectors short). On your sentence: "
        f"{share:.0%} of the weight, {moved:.0%} of the weighted length."
    )


def _census(model: Model, text: str) -> None:
    census = cached.census(model, text)
    if census is None:
        return
    nb = census.neighbours
    st.markdown("**Where each layer looks**, on your sentence's tokens (pieces, not words):")
    tables.table(census_table(census), key="real_census")
    st.caption(
        f"Layer 1 puts {nb[0].mean():.0%} of its weight on the tokens right beside each token and "
        f"{census.special[0].mean():.0%} on [CLS] and [SEP]; {int(census.heads_over_half.sum())} of "
        f"{model.n_layers * model.n_heads} heads put over half next door"
        + (
            " (" + ", ".join(f"{n} in layer {i + 1}" for i, n in enumerate(census.heads_over_half) if n) + ")."
            if census.heads_over_half.sum()
            else "."
        )
        + " A head with most of its weight next door draws a line just beside the diagonal of its map."
    )
