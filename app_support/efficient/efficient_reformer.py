"""The Reformer's own part of the variant page: which bucket each token falls in, and whether tokens whose queries
point the same way share one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from torch import Tensor

from app_support.efficient.efficient_sections import Extras
from app_support.kit import charts, steps
from app_support.kit.sentence import md_escape
from attnviz import plots
from attnviz.efficient import anatomy, compare


def reformer_section(run: compare.Run, knobs: dict, labels: list[str], q: Tensor) -> None:
    """Which bucket each token falls in, and whether tokens whose queries point the same way share one.

    Args:
        q: (T, Dh) the head's queries (the keys are these at unit length).
    """
    steps.step("Which bucket each token falls in")
    approx = run.approx
    buckets = approx.buckets  # (R, T)
    n_buckets, n_rounds, t = int(knobs["buckets"]), int(knobs["rounds"]), len(labels)
    charts.chart(
        plots.token_buckets(labels, buckets, title=f"{n_buckets} buckets, {n_rounds} round(s) of hashing",
                            n_buckets=n_buckets),
        key="l6_bucket_map", name="lsh buckets",
    )  # fmt: skip
    chunk = int(approx.chunk_size)
    st.caption(
        f"Each round sorts your {t} tokens by bucket and cuts the sorted line into chunks of c = {chunk} "
        f"(⌈2·{t}/{n_buckets}⌉, at most {t}). A token attends to the tokens of its own bucket in its chunk and in "
        "the chunk before, in any round; a token alone there attends to itself. More rounds give a missed pair "
        "another chance."
    )
    pairs = anatomy.bucket_pairs(q, buckets)
    iu = np.triu_indices(t, k=1)
    order = np.argsort(-pairs.cosine[iu], kind="stable")[:8]
    if order.size:
        rows = [(iu[0][i], iu[1][i]) for i in order]
        table = pd.DataFrame(
            {
                "token": [labels[a] for a, _ in rows],
                "token ": [labels[b] for _, b in rows],
                "cosine of their queries": [f"{pairs.cosine[a, b]:.2f}" for a, b in rows],
                "same bucket in": [f"{pairs.rounds_shared[a, b]} of {n_rounds} round(s)" for a, b in rows],
            }
        )
        st.markdown("**Similar queries, same bucket: the most similar pairs of your sentence**")
        st.dataframe(table, key="l6_bucket_pairs", hide_index=True)
    said = []
    if pairs.same_mean is not None and pairs.apart_mean is not None:
        closer = "higher" if pairs.same_mean > pairs.apart_mean else "not higher"
        said.append(
            f"Pairs that share a bucket in some round have a mean query cosine of {pairs.same_mean:.2f}; pairs "
            f"never in the same bucket, {pairs.apart_mean:.2f}: {closer}."
        )
    elif pairs.same_mean is not None:
        said.append(f"Every pair of your {t} tokens shared a bucket in at least one of the {n_rounds} round(s).")
    twins = [(a, b) for a, b in zip(*iu, strict=True) if pairs.cosine[a, b] > 1 - 1e-6]
    if twins:
        a, b = twins[0]
        said.append(
            f"The hash sees only directions: “{md_escape(labels[a])}” and “{md_escape(labels[b])}” have the same "
            f"query, so they share a bucket in every round ({len(twins)} such pair(s) here); the chunks can still "
            "keep them apart."
        )
    if said:
        st.caption(" ".join(said))
    kept = run.comparison.approx.mass_kept or 0.0
    chance = anatomy.uniform_share(run.pattern, run.exact_mask)
    versus = f"beats chance by {100 * (kept - chance):.1f} points" if kept > chance else "is no better than chance"
    peak = float(run.exact.weights.max(dim=-1).values.mean())
    st.caption(
        f"The buckets keep {kept:.1%} of the exact shared-QK weight; uniform attention puts {chance:.1%} on the "
        f"same cells: the hash's choice {versus}. The exact shared-QK map is flat here: a row's largest "
        f"weight is {peak:.2f} on average, against {1 / max(t - 1, 1):.2f} if all {max(t - 1, 1)} other keys "
        "weighed the same. These queries were not trained to be shared with the keys."
    )


PART = Extras(
    section=lambda v: reformer_section(v.run, dict(v.knobs), v.labels, v.inp.q[v.reading.head]),
    charts=("l6_bucket_map",),
)
