"""Curves of measurements against sequence length, read on log-log axes: the slope of a curve (how it grows), and
where two curves cross.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def loglog_slope(sizes: Sequence[float], values: Sequence[float]) -> float | None:
    """The least-squares slope of log(value) against log(size): 2 for T², 1 for T, 1.5 for T·√T.

    Points that are not finite and positive are left out; None with fewer than two points left (or one size).
    """
    pts = [(math.log(n), math.log(y)) for n, y in zip(sizes, values, strict=True) if n > 0 and y > 0 and
           math.isfinite(y)]  # fmt: skip
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in pts) / sxx


@dataclass(frozen=True)
class Crossover:
    """Where one variant's curve crosses another's."""

    n: float  # sequence length at the crossing (interpolated on log-log axes)
    value: float  # the measurement there (seconds or bytes)
    faster: str  # which of the two is lower beyond the crossing


def crossovers(
    sizes: Sequence[int], a: Sequence[float], b: Sequence[float], name_a: str, name_b: str
) -> list[Crossover]:
    """The points where curve ``a`` and curve ``b`` (same sizes) cross, by straight lines between the measured
    points on log-log axes. A missing (non-positive or NaN) point breaks the curve there.
    """
    if not (len(sizes) == len(a) == len(b)):
        raise ValueError("sizes and both curves must have the same length")
    found: list[Crossover] = []
    for i in range(len(sizes) - 1):
        pts = (a[i], a[i + 1], b[i], b[i + 1])
        if not all(p > 0 and math.isfinite(p) for p in pts):
            continue
        d0 = math.log(a[i]) - math.log(b[i])
        d1 = math.log(a[i + 1]) - math.log(b[i + 1])
        if d0 == 0 or d0 * d1 >= 0:
            continue
        f = d0 / (d0 - d1)  # where the difference of the logs is 0
        x = math.exp(math.log(sizes[i]) + f * (math.log(sizes[i + 1]) - math.log(sizes[i])))
        y = math.exp(math.log(a[i]) + f * (math.log(a[i + 1]) - math.log(a[i])))
        found.append(Crossover(n=x, value=y, faster=name_a if d1 < 0 else name_b))
    return found


def faster_from(sizes: Sequence[int], base: Sequence[float], other: Sequence[float]) -> int | None:
    """The smallest measured size from which ``other`` is below ``base`` at that size and at every larger one
    (None if it is not below at the largest). Sizes ascending; a point missing in either (NaN, ≤ 0) is skipped."""
    if not (len(sizes) == len(base) == len(other)):
        raise ValueError("sizes and both curves must have the same length")
    found = None
    for n, a, b in reversed(list(zip(sizes, base, other, strict=True))):
        if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
            continue
        if b >= a:
            break
        found = n
    return found
