"""The "predict first" questions of each kind of variant, their answers decided by the measurement just made: how
much exact weight a pattern drops, whether an approximation beats uniform attention. A variant with a question of its
own names it in its record (`VariantSpec.question`: FlashAttention's, multi-query's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attnviz.efficient import anatomy
from attnviz.efficient.registry import Question, VariantSpec, band

if TYPE_CHECKING:
    from attnviz.efficient.compare import Run


def pattern_question(spec: VariantSpec, run: Run, head_label: str) -> Question:
    """How much of the exact weight falls outside the pattern (the answer: under 10%, 10% to 30%, over 30%)."""
    c = run.comparison
    dropped = 1.0 - (c.approx.mass_kept or 0.0)
    moved = anatomy.mean_row_l1(run.exact.weights, run.approx.weights)
    exact_is = ""
    if spec.shared_qk:
        exact_is = (
            " Here exact attention is full shared-QK attention on this head's queries, as in the paper: every "
            "key is its token's query at unit length, and no token attends to itself."
        )
    return Question(
        f"{spec.text.title} looks only at the pairs of its pattern.{exact_is} How much of the exact "
        "attention weight of your sentence falls outside it (averaged over the rows)?",
        ("under 10%", "10% to 30%", "over 30%"),
        band(dropped, 0.1, 0.3),
        f"{dropped:.1%} of the weight is outside the pattern. Each row's remaining weight is scaled "
        "back up to sum to 1, so a row that loses a share p moves by 2p in total (L1): p taken off the keys "
        f"dropped, p added to the keys kept. Measured here: the rows move by {moved:.3f} on average "
        f"(2 × {dropped:.1%}).",
    )


def uniform_question(spec: VariantSpec, run: Run, head_label: str) -> Question:
    """Is the variant closer to exact attention than uniform attention (its output error against uniform's)?"""
    c = run.comparison
    ratio = c.approx.output_rel_frobenius / max(c.uniform.output_rel_frobenius, 1e-12)
    return Question(
        f"Is {spec.text.title} with these settings closer to exact attention than the lazy answer, uniform "
        "attention (every output the plain mean of the values)?",
        ("yes, clearly (less than half the error)", "a little closer", "no, not closer"),
        band(ratio, 0.5, 1.0),
        f"Its output error is {c.approx.output_rel_frobenius:.3f}, uniform attention's is "
        f"{c.uniform.output_rel_frobenius:.3f} ({ratio:.0%} of it).",
    )


def question_for(spec: VariantSpec, run: Run, head_label: str) -> Question:
    """The variant's own question, else the one of its kind (a pattern's, else an approximation's)."""
    if spec.question is not None:
        return spec.question(spec, run, head_label)
    return (pattern_question if spec.kind == "pattern" else uniform_question)(spec, run, head_label)
