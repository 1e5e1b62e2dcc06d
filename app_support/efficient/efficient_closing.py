"""Page 6c's closing comparison: one row per variant, in the registry's order, with the text each variant's record
carries, then advice that reads what was measured on this device and what page 6 measures on the learner's text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from app_support.efficient import efficient, efficient_lab
from attnviz import curves
from attnviz.efficient import REGISTRY


def closing_table() -> pd.DataFrame:
    """What each variant keeps exact, gives up, costs and is chosen for: one row per variant of the registry, in its
    order, from the text each record carries."""
    texts = [spec.text for spec in REGISTRY.values()]
    return pd.DataFrame(
        {
            "keeps exact": [i.keeps_exact for i in texts],
            "gives up": [i.costs for i in texts],
            "time": [i.time for i in texts],
            "extra memory": [i.memory for i in texts],
            "choose it for": [i.choose_when for i in texts],
        },
        index=pd.Index([i.title for i in texts], name="variant"),
    )


def which_to_choose(
    text: str,
    cases: Sequence[str],
    sizes: Sequence[int],
    where: str,
    labels: Mapping[str, str],
    exact: Sequence[str],
) -> None:
    """The closing table, then the advice: fidelity on the learner's ``text``, and where a cheaper variant measured on
    this device (``where``) overtook the exact baseline among ``cases`` at ``sizes``."""
    st.table(closing_table())
    # fidelity: what converting the course's trained model to one K/V group does, on the learner's sentence (page 6)
    fidelity = (
        "- **Fidelity:** only an exact kernel leaves a trained model as it is: FlashAttention. Multi-query and "
        "grouped-query attention are exact attention over shared keys and values, but converting a trained multi-head "
        "model to them changes it"
    )
    if text.strip():
        # (12,) page 6's default: MiniLM's layer 3, one K/V group
        moved = efficient.head_changes(efficient.LayerReading(text, "real", 2), 1)
        fidelity += (
            f": with one K/V group the attention maps of MiniLM's layer 3 move by {moved.min():.0%} to "
            f"{moved.max():.0%} on your sentence (head 1: {moved[0]:.0%}; page 6 shows them)"
        )
    fidelity += ". The GQA paper retrains a converted model briefly (5% of its pre-training steps) to recover."
    base_name = labels["sdpa"] if "sdpa" in cases else labels["plain"] if "plain" in cases else None
    cheaper = [c for c in cases if c not in exact]
    base_case = "sdpa" if "sdpa" in cases else "plain" if "plain" in cases else None
    overtaken: list[tuple[int, str, int]] = []  # (from which length, variant, up to which) faster than the baseline
    longest_common = 0
    if base_case is not None:
        for case in cheaper:
            b = {n: efficient_lab.stored(where, base_case, n) for n in sizes}
            o = {n: efficient_lab.stored(where, case, n) for n in sizes}
            common = [n for n in sizes if b[n] and o[n] and b[n].get("median_s") and o[n].get("median_s")]
            if not common:
                continue
            longest_common = max(longest_common, common[-1])
            start = curves.faster_from(common, [b[n]["median_s"] for n in common], [o[n]["median_s"] for n in common])
            if start is not None:
                overtaken.append((start, case, common[-1]))
    if overtaken:
        start, case, last = min(overtaken)
        where_text = f"here {labels[case]} was faster than {base_name} from {start:,} tokens on (measured to {last:,})"
    elif longest_common:
        where_text = f"here no cheaper variant measured was faster than {base_name} up to {longest_common:,} tokens"
    else:
        where_text = "measure SDPA and a cheaper variant above to see where on this device"
    st.markdown(
        fidelity + "\n"
        "- **Very long inputs:** Longformer or BigBird when links are mostly local; Reformer when each token needs its "
        "nearest few; Performer or Linformer when a rough global mix is enough. A model is trained (or at least "
        "fine-tuned) with its variant: page 6b swaps one into the trained MiniLM as it is and measures how far its "
        "sentence embedding moves.\n"
        "- **Low latency:** a fused exact kernel, until a cheaper variant overtakes it. Where that happens depends on "
        f"the device and the settings: {where_text}. A trained model cannot take a linear variant without training "
        "with it (page 6b).\n"
        "- **Memory:** FlashAttention never stores the T×T matrix (memory like T, time still like T²); multi-query / "
        "grouped-query shrinks the KV cache a decoder keeps (page 6)."
    )
