"""Binomial and batch-mean intervals of `abm.rare.intervals`: known values, exact coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from abm.rare.intervals import (
    binomial_interval,
    clopper_pearson,
    hall_interval,
    normal_interval,
    t_interval,
    wilson,
)
from populations.errors import ConfigError


def exact_coverage(method: str, n: int, p: float, confidence: float = 0.95) -> float:
    """P(the interval from Binomial(n, p) hits covers p), summed over every hit count."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p)
    covered = [
        low <= p <= high
        for low, high in (binomial_interval(h, n, confidence, method=method) for h in range(n + 1))
    ]
    return float(pmf[covered].sum())


def test_wilson_matches_its_formula():
    z = stats.norm.isf(0.025)
    h, n = 7, 40
    centre = (h + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(h * (n - h) / n + z * z / 4)
    assert wilson(h, n) == pytest.approx((centre - half, centre + half), rel=1e-12)


def test_clopper_pearson_tails_are_alpha_over_two():
    h, n = 7, 40
    low, high = clopper_pearson(h, n, 0.9)
    assert stats.binom.sf(h - 1, n, low) == pytest.approx(0.05, rel=1e-9)  # P(X >= h | low)
    assert stats.binom.cdf(h, n, high) == pytest.approx(0.05, rel=1e-9)  # P(X <= h | high)


def test_zero_hits_give_an_upper_bound_only():
    for method in ("wilson", "clopper-pearson"):
        low, high = binomial_interval(0, 1000, 0.95, method=method)
        assert low == 0.0
        assert 3.0 / 1000 < high < 4.0 / 1000  # the "rule of three" region
    assert clopper_pearson(0, 1000)[1] == pytest.approx(1 - 0.025 ** (1 / 1000))
    assert wilson(1000, 1000)[1] == 1.0 and clopper_pearson(1000, 1000)[1] == 1.0


@pytest.mark.parametrize("n, p", [(50, 0.02), (200, 0.01), (1000, 0.003), (400, 0.3)])
def test_clopper_pearson_covers_at_least_the_nominal_share(n, p):
    assert exact_coverage("clopper-pearson", n, p) >= 0.95


def test_wilson_covers_about_the_nominal_share_on_average():
    # Wilson's coverage oscillates with p; averaged over p it is close to nominal (Brown, Cai
    # & DasGupta 2001), and it never collapses the way the Wald interval does for small n p.
    ps = np.linspace(0.005, 0.2, 40)
    coverage = np.array([exact_coverage("wilson", 200, p) for p in ps])
    assert abs(coverage.mean() - 0.95) < 0.01
    assert coverage.min() > 0.89


def test_normal_and_t_intervals():
    assert normal_interval(0.5, 0.1, 0.95) == pytest.approx((0.304, 0.696), abs=1e-3)
    assert normal_interval(0.01, 0.02)[0] == 0.0  # clipped
    x = [0.1, 0.2, 0.3]
    mean, se, low, high = t_interval(x, 0.9)
    q = stats.t.isf(0.05, 2)
    assert (mean, se) == pytest.approx((0.2, 0.1 / math.sqrt(3)))
    assert (low, high) == pytest.approx((0.2 - q * se, 0.2 + q * se))
    assert all(math.isnan(v) for v in t_interval([0.3])[1:])


def test_hall_interval_is_the_t_interval_without_skew_and_moves_with_it():
    symmetric = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert hall_interval(symmetric) == pytest.approx(t_interval(symmetric))
    right = [0.1, 0.1, 0.12, 0.1, 0.9]
    left = [0.9, 0.9, 0.88, 0.9, 0.1]
    assert hall_interval(right)[3] > t_interval(right)[3]
    assert hall_interval(left)[2] < t_interval(left)[2]


def test_hall_interval_covers_the_mean_of_a_skewed_law_better_than_t():
    # Ten lognormal estimates at a time (sigma 1, scaled into [0, 1]): t under-covers their
    # mean, Hall's correction much less.
    rng = np.random.default_rng(7)
    truth = math.exp(0.5) / 100
    draws = rng.lognormal(0.0, 1.0, size=(4000, 10)) / 100
    cover_t = np.mean([lo <= truth <= hi for _, _, lo, hi in map(t_interval, draws)])
    cover_h = np.mean([lo <= truth <= hi for _, _, lo, hi in map(hall_interval, draws)])
    assert cover_t < 0.92  # the problem
    assert cover_h > cover_t + 0.02  # the fix


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: wilson(5, 3), "0 <= hits <= n"),
        (lambda: wilson(1, 10, 1.5), "`confidence` must be between 0 and 1"),
        (lambda: clopper_pearson(1.5, 10), "must be integers"),
        (lambda: binomial_interval(1, 10, method="wald"), "unknown interval `wald`"),
        (lambda: t_interval([]), "non-empty"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ConfigError, match=message):
        call()
