"""Statistics with spread: every timing is summarized by its median and the uncertainty
around it, never by one number.

The confidence interval is the distribution-free one for the median: order statistics
chosen from the binomial(n, 1/2) distribution, so it holds for skewed, heavy-tailed step
times without assuming normality (no bootstrap randomness either: same samples, same CI).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def median_ci(samples: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | tuple[None, None]:
    """Distribution-free CI of the median; (None, None) with fewer than 6 samples (too few
    for a 95% interval from order statistics)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    if n < 6:
        return None, None
    alpha = 1 - confidence
    # Largest k with P(Binomial(n, 1/2) < k) <= alpha/2: the CI is [x_(k), x_(n-k+1)] (1-based).
    cdf, k = 0.0, 0
    for j in range(n + 1):
        p = math.comb(n, j) / 2.0**n
        if cdf + p > alpha / 2:
            break
        cdf += p
        k = j + 1
    k = max(k, 1)
    return float(x[k - 1]), float(x[n - k])


def summarize(samples: Sequence[float]) -> dict[str, float | int | None]:
    """median, 95% CI of the median, quartiles/IQR, p90, mean, min, max, n."""
    x = np.asarray(samples, dtype=float)
    if len(x) == 0:
        return {"n": 0}
    low, high = median_ci(x)
    q1, median, q3, p90 = np.percentile(x, [25, 50, 75, 90])
    return {
        "n": int(len(x)),
        "median": float(median),
        "ci95_low": low,
        "ci95_high": high,
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "p90": float(p90),
        "mean": float(x.mean()),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def throughput(step_seconds: Sequence[float], batch_size: int) -> dict[str, float | int | None]:
    """Images/s from per-step times: median, CI and quartiles (of per-step rates)."""
    rates = batch_size / np.asarray(step_seconds, dtype=float)
    return summarize(rates)


def overlaps(a: tuple[float | None, float | None], b: tuple[float | None, float | None]) -> bool:
    """True when two intervals overlap (a tie within the measurement's spread)."""
    if None in a or None in b:
        return True
    return a[0] <= b[1] and b[0] <= a[1]
