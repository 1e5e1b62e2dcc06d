"""What page 6b says about the variant in the whole model, decided by what it computes on each text on the page."""

from __future__ import annotations

from attnviz.efficient import compare


def _numbers(indices: list[int]) -> str:
    """[0, 2, 3] → "sentences 1, 3 and 4"; [1] → "sentence 2"."""
    names = [str(i + 1) for i in indices]
    if len(names) == 1:
        return f"sentence {names[0]}"
    return "sentences " + ", ".join(names[:-1]) + " and " + names[-1]


def explain(title: str, swap: compare.Swap) -> str:
    """Why the learner's embedding moved as much as it did, from whether the variant is exact attention on it."""
    mine, t = swap.cosine_to_exact[0], swap.lengths[0]
    said = f"The cosine is {mine:.6f}. "
    if swap.exact[0]:
        return said + (
            f"With these settings {title} computes exact attention on your {t} tokens, in every layer and head, so "
            "only float rounding differs."
        )
    if swap.exact[0] is False:
        said += f"With these settings {title} is not exact attention on your {t} tokens"
        if f"{mine:.6f}" == "1.000000":
            return said + ", but what it changes here does not show in the six decimals of the cosine."
        said += ". "
    said += "Each layer's error changes the next layer's input, and the errors add up"
    if mine <= 0.9:
        said += (
            ": MiniLM was trained with exact attention, and swapping the variant in without training with it moves "
            "the embedding this far."
        )
    return said + "."


def exact_note(title: str, swap: compare.Swap) -> str:
    """On which of the page's texts the variant is exact attention, where that differs between them ("" else)."""
    known = [e for e in swap.exact if e is not None]
    if len(known) < len(swap.exact) or not known:
        return ""  # T alone does not decide (the Reformer's buckets): nothing said
    exact = [i for i, e in enumerate(swap.exact) if e]
    if len(exact) == len(swap.exact):
        return (
            f"{title} computes exact attention on all {len(exact)} sentences with these settings: their similarities "
            "differ from exact attention's only by float rounding."
        )
    if not exact:
        return f"{title} is exact attention on none of the {len(swap.exact)} sentences with these settings."
    rest = [i for i in range(len(swap.exact)) if i not in exact]
    return (
        f"With these settings {title} computes exact attention on {_numbers(exact)} ({_tokens(swap, exact)}) but "
        f"not on {_numbers(rest)} ({_tokens(swap, rest)}): only {'that one moves' if len(rest) == 1 else 'those move'} "
        "by more than float rounding."
    )


def _tokens(swap: compare.Swap, indices: list[int]) -> str:
    """The token counts of those texts: "12 tokens", "9 to 14 tokens"."""
    low, high = min(swap.lengths[i] for i in indices), max(swap.lengths[i] for i in indices)
    return f"{low} tokens" if low == high else f"{low} to {high} tokens"
