"""The one check of a whole number in a range, for every setting a learner or a page passes to the core."""

from __future__ import annotations

from attnviz.errors import AttnvizInputError


def whole_number(value: object, name: str, low: int, high: int | None = None) -> int:
    """``value`` when it is a whole number (an ``int``, not a bool) from ``low`` to ``high`` (no upper end when
    None); else AttnvizInputError naming ``name`` and the range.

    >>> whole_number(3, "the head width", 1, 64)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise AttnvizInputError(f"{name} must be a whole number {span}, got {value!r}")
    return value
