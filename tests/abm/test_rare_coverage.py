"""Acceptance: the rare-event intervals cover the truth in about the stated share of repeats.

Each estimator is repeated with fixed seeds on a model with a known answer (`abm.rare.analytic`)
and the share of its 95% intervals that contain the truth is compared with 0.95, within three
binomial standard errors of the number of repeats.
"""

from __future__ import annotations

import math

import pytest

from abm.rare import RareEvent, crude_monte_carlo, importance_sampling, multilevel_splitting
from abm.rare.analytic import (
    ExponentialSum,
    GaussianWalk,
    ShockCount,
    exponential_sum_probability,
    gaussian_walk_probability,
    shock_count_probability,
)

NOMINAL = 0.95


def tolerance(repeats: int) -> float:
    return 3 * math.sqrt(NOMINAL * (1 - NOMINAL) / repeats)


def coverage(estimate, truth: float, repeats: int, first_seed: int) -> float:
    covered = 0
    for r in range(repeats):
        result = estimate(first_seed + r)
        assert result.confidence == NOMINAL
        covered += result.ci_low <= truth <= result.ci_high
    return covered / repeats


@pytest.mark.parametrize("interval", ["wilson", "clopper-pearson"])
def test_monte_carlo_stopped_at_its_target(interval):
    # p = 0.05; stopping at 30% relative error takes about 11 hits, some 200 runs
    level, horizon = 6.3, 3
    truth = exponential_sum_probability(level, horizon)
    event = RareEvent(lambda seed: ExponentialSum(seed), threshold=level, horizon=horizon)

    def estimate(seed):
        return crude_monte_carlo(
            event, seed=seed, target_rel_error=0.3, batch_size=50, interval=interval
        )

    share = coverage(estimate, truth, 300, first_seed=100)
    if interval == "wilson":
        assert abs(share - NOMINAL) <= tolerance(300)
    else:  # conservative by construction
        assert share >= NOMINAL - tolerance(300)


def test_splitting_batches():
    # p = 0.007 by ten batches of 20 particles: a relative error of about 25% per estimate
    truth = gaussian_walk_probability(4.0, 10, drift=-0.5)
    event = RareEvent(lambda seed: GaussianWalk(seed, drift=-0.5), threshold=4.0, horizon=10)

    def estimate(seed):
        return multilevel_splitting(
            event, seed=seed, particles=20, target_rel_error=None, max_batches=10
        )

    share = coverage(estimate, truth, 150, first_seed=200)
    assert abs(share - NOMINAL) <= tolerance(150)


def test_importance_sampling():
    # p = 0.0011 (8 shocks where 2 are expected), tilted 3.5-fold, 100 runs per estimate
    truth = shock_count_probability(8, 10, rate=0.2)
    event = RareEvent(
        lambda seed, shocks=None: ShockCount(seed, rate=0.2, shocks=shocks),
        threshold=8,
        horizon=10,
    )

    def estimate(seed):
        return importance_sampling(
            event, seed=seed, tilt=3.5, target_rel_error=None, batch_size=100, max_runs=100
        )

    share = coverage(estimate, truth, 200, first_seed=300)
    assert abs(share - NOMINAL) <= tolerance(200)
