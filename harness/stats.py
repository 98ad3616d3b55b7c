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
        p = math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) - n * math.log(2.0))
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


# ------------------------------------------------------------------ replicates (seeds)
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom."""
    if not math.isfinite(t):
        return 0.0
    return incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p (p > 0.5), by bisection on the two-sided tail."""
    low, high = 0.0, 1e6
    for _ in range(200):
        mid = (low + high) / 2
        if t_two_sided_p(mid, df) / 2 > 1 - p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | int | None]:
    """n, mean, standard deviation (n-1) and the t-interval of the mean (None below n = 2)."""
    x = [float(v) for v in values]
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci95_low": None, "ci95_high": None}
    mean = sum(x) / n
    if n < 2:
        return {"n": 1, "mean": mean, "sd": None, "ci95_low": None, "ci95_high": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
    half = t_quantile(1 - (1 - confidence) / 2, n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci95_low": mean - half, "ci95_high": mean + half}


def paired_test(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> dict:
    """Paired t-test of a - b (one pair per seed): the mean difference with its 95% interval,
    the two-sided p-value, and the verdict: "a" or "b" (the better, where p < alpha),
    "tie" (the difference is inside the seed noise), or "n < 2" (nothing can be ranked)."""
    diffs = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    summary = mean_ci(diffs)
    n = summary["n"]
    if n < 2:
        return {**summary, "p": None, "verdict": "n < 2"}
    sd = summary["sd"]
    if sd == 0:
        p = 1.0 if summary["mean"] == 0 else 0.0
    else:
        p = t_two_sided_p(summary["mean"] / (sd / math.sqrt(n)), n - 1)
    verdict = "tie" if p >= alpha else ("a" if summary["mean"] > 0 else "b")
    return {**summary, "p": p, "verdict": verdict}
