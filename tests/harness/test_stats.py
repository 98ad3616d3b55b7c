"""harness.stats: the confidence interval of the median, and the replicate statistics
(mean, spread, the paired t-test that decides whether frameworks are ranked)."""

import pytest

from harness import stats


@pytest.mark.parametrize(("t", "df", "p"), [(4.302652729911275, 2, 0.05), (2.776445105197793, 4, 0.05),
                                            (12.706204736174698, 1, 0.05), (0.0, 3, 1.0)])  # fmt: skip
def test_t_distribution_tails_match_the_tables(t, df, p):
    assert stats.t_two_sided_p(t, df) == pytest.approx(p, abs=1e-9)
    if p < 1:
        assert stats.t_quantile(1 - p / 2, df) == pytest.approx(t, rel=1e-6)


def test_mean_ci_of_three_seeds():
    s = stats.mean_ci([0.70, 0.72, 0.74])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.72) and s["sd"] == pytest.approx(0.02)
    half = 4.302652729911275 * 0.02 / 3**0.5
    assert (s["ci95_low"], s["ci95_high"]) == pytest.approx((0.72 - half, 0.72 + half))
    assert stats.mean_ci([0.7])["sd"] is None


def test_paired_test_ranks_consistent_differences_and_ties_the_rest():
    a, b = [0.80, 0.83, 0.78], [0.78, 0.81, 0.77]  # a ahead by 1-2 points on every seed
    assert stats.paired_test(a, b)["verdict"] == "a" and stats.paired_test(b, a)["verdict"] == "b"
    assert stats.paired_test([0.80, 0.70, 0.79], [0.78, 0.75, 0.77])["verdict"] == "tie"  # the sign changes
    assert stats.paired_test([0.9], [0.1])["verdict"] == "n < 2"  # one seed ranks nothing
    # unpaired, the same numbers would not be told apart: the seeds' spread is larger than the gap
    assert stats.mean_ci(a)["ci95_low"] < stats.mean_ci(b)["ci95_high"]
