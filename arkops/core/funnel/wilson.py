"""The Wilson score interval for a proportion (Wilson 1927), as in statsmodels' `proportion_confint(method="wilson")`.

Unlike the normal approximation it never leaves [0, 1] and stays honest at
0 of n and n of n, which is where a small funnel sample lives.
"""

from __future__ import annotations

import math

Z95 = 1.959964  # the 97.5th percentile of the standard normal: a two-sided 95 % interval


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """(low, high) for `successes` of `trials`; None when there were no trials."""
    if trials <= 0:
        return None
    k = min(max(successes, 0), trials)
    p = k / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == trials else min(1.0, centre + half)
    return low, high
