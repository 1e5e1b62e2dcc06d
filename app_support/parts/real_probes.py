"""Pieces shared by pages 5b and 5c: the census table, answers that survive a question being hidden, and the pronoun
heads ranked on the ready minimal pairs and tested on pairs held out of the ranking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from app_support.kit import charts
from app_support.kit.sentence import md_escape
from attnviz import plots
from attnviz.host import fields_to_host

if TYPE_CHECKING:
    from attnviz.census import HeadCensus as Census  # as `app_support.data.cached.census` returns it: numpy fields
    from attnviz.pretrained import Model
    from attnviz.referents import HeldOutHeads

PAIRS_FILE = Path(__file__).resolve().parents[2] / "assets" / "probes" / "referent_pairs.txt"

_KEPT = "_kept_answer_"


def census_table(census: Census) -> pd.DataFrame:
    """One row per layer: where its heads' weight goes on average, and how many heads look mostly next door."""
    n_layers = census.neighbours.shape[0]
    return pd.DataFrame(
        {
            "itself": [f"{v:.0%}" for v in census.itself.mean(axis=1)],
            "next-door tokens (±1)": [f"{v:.0%}" for v in census.neighbours.mean(axis=1)],
            "next-door, by head": [
                f"{lo:.0%} to {hi:.0%}"
                for lo, hi in zip(census.neighbours.min(axis=1), census.neighbours.max(axis=1), strict=True)
            ],
            "[CLS] and [SEP]": [f"{v:.0%}" for v in census.special.mean(axis=1)],
            "elsewhere": [f"{v:.0%}" for v in census.elsewhere.mean(axis=1)],
            "heads over 50% next door": [f"{int(n)} of {census.neighbours.shape[1]}" for n in census.heads_over_half],
        },
        index=pd.Index([f"layer {i + 1}" for i in range(n_layers)], name="layer"),
    )


def kept_answer(key: str, ask: Callable[[], bool]) -> bool:
    """Run a "predict first" question (``ask`` draws it) so that its answer outlives a run where it was not drawn.

    Streamlit forgets a widget's value when a run does not draw it, so a bad edit that hides a question would
    otherwise ask it again once the edit is fixed. The answer is copied to a plain key and put back.
    """
    store = _KEPT + key
    if st.session_state.get(key) is None and st.session_state.get(store) is not None:
        st.session_state[key] = st.session_state[store]
    answered = ask()
    if st.session_state.get(key) is not None:
        st.session_state[store] = st.session_state[key]
    return answered


@st.cache_data(show_spinner="Scoring every head on the ready minimal pairs (once per server)…", max_entries=1)
def ready_pairs(_model: Model) -> HeldOutHeads:
    """`attnviz.referents.held_out_heads` on assets/probes/referent_pairs.txt (numpy fields)."""
    from attnviz.referents import held_out_heads, parse_minimal_pairs

    pairs = parse_minimal_pairs(PAIRS_FILE.read_text(encoding="utf-8"), PAIRS_FILE.name)
    return fields_to_host(held_out_heads(_model, pairs))


def head_name(layer: int, head: int) -> str:
    return f"layer {layer + 1} · head {head + 1}"


def held_out_section(model: Model) -> None:
    """The heads ranked on the ranking pairs, and how the first one scores on the held-out pairs."""
    found = ready_pairs(model)
    sets = found.pairs
    r = len(sets.ranking)
    rows = [f"ranking: {q.name}" for q in sets.ranking] + [f"held out: {q.name}" for q in sets.held_out]
    cols = [head_name(*h) for h in found.top]
    layers, heads = [h[0] for h in found.top], [h[1] for h in found.top]
    table = np.concatenate([found.ranking_scores, found.held_scores])[:, layers, heads]  # (R + P, K)
    charts.chart(
        plots.heatmap(table, rows, cols, title=f"Score of the {len(cols)} heads ranked first, on every ready pair",
                      row_title="pair", col_title="head (by mean score on the ranking pairs)", value_name="score",
                      diverging=True, decimals=2, row_groups=r, height=140 + 32 * len(rows)),
        key="real_coref_heldout", name="heads on held-out pairs", csv=(table, rows, cols),
    )  # fmt: skip
    st.caption(held_out_verdict(found))
    pairs = (*sets.ranking, *sets.held_out)
    with st.expander(f"The {len(pairs)} ready pairs"):
        st.dataframe(
            pd.DataFrame({
                "set": ["ranking"] * r + ["held out"] * len(sets.held_out),
                "sentence A": [q.text_a for q in pairs],
                "sentence B": [q.text_b for q in pairs],
                "pronoun": [q.pronoun for q in pairs],
                "in A it means": [q.referent_a for q in pairs],
                "in B it means": [q.referent_b for q in pairs],
            }),
            hide_index=True,
            key="real_coref_pairs",
        )  # fmt: skip


def held_out_verdict(found: HeldOutHeads) -> str:
    """What the held-out pairs say about the head ranked first, every figure measured."""
    sets, n_heads = found.pairs, int(found.ranking_mean.size)
    r, p = len(sets.ranking), len(sets.held_out)
    first = found.top[0]
    held = [float(s[first]) for s in found.held_scores]  # P
    in_top = sum(rank <= 5 for rank in found.top_held_ranks)
    if in_top == p:
        carry = "it is among the top 5 on every one: on these pairs, the ranking carries over."
    else:
        carry = f"it is among the top 5 on {in_top} of them: " + (
            "on most of these pairs the ranking carries over, not on all."
            if 2 * in_top > p
            else "a head picked on some pairs need not be the one that moves on others."
        )
    text = (
        f"Ranked by their mean score on the {r} ranking pairs, {head_name(*first)} comes first "
        f"({float(found.ranking_mean[first]):.2f} of a possible 2). On the {p} held-out pairs, which played no part in "
        "the ranking, it scores " + ", ".join(f"{v:.2f}" for v in held) + ", ranking "
        + ", ".join(str(k) for k in found.top_held_ranks) + f" of {n_heads}: {carry} Its mean over them, "
        f"{float(found.held_mean[first]):.2f}, ranks {found.top_held_mean_rank} of {n_heads}"
    )  # fmt: skip
    if p < 2:
        return text + "."
    best = int(np.argmax(held))
    rest = (sum(held) - held[best]) / (p - 1)
    return text + (
        f"; without its best held-out pair ({md_escape(sets.held_out[best].name)}, {held[best]:.2f}) it would be "
        f"{rest:.2f}."
    )
