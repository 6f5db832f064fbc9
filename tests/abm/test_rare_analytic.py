"""The known-answer models of `abm.rare.analytic`: their probabilities, checked independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abm.rare import PoissonShocks
from abm.rare.analytic import (
    ExponentialSum,
    GaussianWalk,
    LatticeWalk,
    ShockCount,
    exponential_sum_probability,
    gaussian_walk_probability,
    lattice_walk_probability,
    shock_count_probability,
)
from populations.errors import ConfigError


def binomial_z(hits: int, n: int, p: float) -> float:
    return (hits - n * p) / np.sqrt(n * p * (1 - p))


def test_gaussian_walk_probability_matches_a_vectorised_simulation():
    rng = np.random.default_rng(1)
    n, steps, level, drift = 400_000, 12, 3.0, -0.3
    paths = np.cumsum(drift + rng.standard_normal((n, steps)), axis=1)
    hits = int((paths.max(axis=1) >= level).sum())
    p = gaussian_walk_probability(level, steps, drift=drift)
    assert abs(binomial_z(hits, n, p)) < 4


def test_gaussian_walk_probability_is_converged_on_its_grid():
    coarse = gaussian_walk_probability(10.0, 20, drift=-0.5, h=1 / 200)
    fine = gaussian_walk_probability(10.0, 20, drift=-0.5, h=1 / 800)
    default = gaussian_walk_probability(10.0, 20, drift=-0.5)
    assert abs(default / fine - 1) < 1e-5
    assert abs(coarse / fine - 1) < 1e-4


def test_gaussian_walk_of_one_step_is_the_normal_tail():
    assert gaussian_walk_probability(2.0, 1, drift=0.5, sd=2.0) == pytest.approx(
        stats.norm.sf(2.0, loc=0.5, scale=2.0)
    )
    assert gaussian_walk_probability(-1.0, 5) == 1.0  # starts above the level


def test_lattice_walk_probability_follows_the_reflection_principle():
    # symmetric walk: P(max_{k<=n} S_k >= a) = P(S_n >= a) + P(S_n > a)
    n = 15
    for a in (1, 3, 6, 15):
        pos = 2 * np.arange(n + 1) - n
        pmf = stats.binom.pmf(np.arange(n + 1), n, 0.5)
        expected = pmf[pos >= a].sum() + pmf[pos > a].sum()
        assert lattice_walk_probability(a, n, up=0.5) == pytest.approx(expected, rel=1e-12)
    assert lattice_walk_probability(16, 15) == 0.0


def test_lattice_walk_probability_matches_enumeration_when_biased():
    up, n, level = 0.3, 10, 4
    rng = np.random.default_rng(2)
    steps = np.where(rng.random((300_000, n)) < up, 1, -1)
    hits = int((np.cumsum(steps, axis=1).max(axis=1) >= level).sum())
    assert abs(binomial_z(hits, 300_000, lattice_walk_probability(level, n, up=up))) < 4


def test_exponential_and_shock_probabilities():
    assert exponential_sum_probability(30.0, 10) == pytest.approx(stats.gamma.sf(30.0, 10))
    assert exponential_sum_probability(3.0, 1, rate=2.0) == pytest.approx(np.exp(-6.0))
    assert shock_count_probability(8, 20, rate=0.1) == pytest.approx(stats.poisson.sf(7, 2.0))
    assert shock_count_probability(7.5, 20, rate=0.1) == shock_count_probability(8, 20, rate=0.1)
    with pytest.raises(ConfigError, match="`steps` must be an integer >= 1"):
        exponential_sum_probability(1.0, 0)


def test_models_step_as_described():
    walk = GaussianWalk(3, drift=1.0, sd=0.0)
    for _ in range(4):
        walk.step()
    assert (walk.score(), walk.t) == (4.0, 4)
    lattice = LatticeWalk(1, up=1.0)
    lattice.step()
    assert lattice.score() == 1.0
    erlang = ExponentialSum(5, rate=2.0)
    draws = [erlang.step() or erlang.x for _ in range(3)]
    assert np.all(np.diff([0.0, *draws]) > 0)


def test_shock_count_draws_through_its_sampler_and_copies_it():
    shocks = PoissonShocks(tilt=2.0)
    model = ShockCount(7, rate=0.5, shocks=shocks)
    for _ in range(10):
        model.step()
    assert shocks.counts["shocks"] == model.score()
    assert shocks.exposure["shocks"] == pytest.approx(5.0)
    copy = model.clone()
    copy.step()
    assert copy.shocks is not shocks and shocks.exposure["shocks"] == pytest.approx(5.0)
