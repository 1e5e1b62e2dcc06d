"""BigBird's own part of the variant page: why global and random blocks, and how many layers information needs
to cross the learner's sentence with its pattern."""

from __future__ import annotations

import streamlit as st

from app_support.efficient.efficient_sections import Extras
from app_support.kit import steps
from attnviz.efficient import anatomy, compare


def bigbird_section(run: compare.Run, labels: list[str]) -> None:
    steps.step("Why global and random blocks: the theory")
    kwargs = run.settings.kwargs
    t = len(labels)
    hops = anatomy.bigbird_hops(t, kwargs)

    def layers(n: int | None) -> str:
        return "never (some token is cut off)" if n is None else ("1 layer" if n == 1 else f"{n} layers")

    st.markdown(
        "Zaheer et al. prove two things about BigBird's pattern, both resting on the **global tokens**: with at "
        "least one token that attends to all and that all attend to, a sparse-attention encoder is a universal "
        "approximator of continuous sequence-to-sequence functions, as full attention is; and the encoder–decoder "
        "is Turing complete (with arbitrary precision, as the proof for full attention assumes). The **random "
        "blocks** are not needed for either theorem; they are motivated by graph theory: in a random graph the "
        "shortest path between two nodes is typically only O(log n) steps long, so information crosses the "
        "sequence in few layers. The paper also proves a limit: a task that one layer of full attention solves "
        "needs about n layers (up to log factors) with any sparse pattern of about n pairs."
    )
    st.caption(
        f"On your {t} tokens (blocks of {int(kwargs['block_size'])}): information reaches every token from every "
        f"other in {layers(hops.pattern)} with this pattern; without the global block, in {layers(hops.no_global)}; "
        f"with the window alone, in {layers(hops.window)}. BigBird's published models were pretrained on inputs "
        "of 4,096 tokens; the cost grows linearly with the length, but no published BigBird was trained on millions."
    )
    if hops.pattern == 1:
        st.caption(
            f"In 1 layer means the pattern covers every pair of your {t} tokens: at this length BigBird is exact "
            "attention. Smaller blocks, or a longer sentence, show the difference."
        )


PART = Extras(section=lambda v: bigbird_section(v.run, v.labels))
