"""Importance sampling on shock rates (`abm.rare.importance_sampling`, `PoissonShocks`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from abm.rare import (
    PoissonShocks,
    RareEvent,
    cross_entropy_tilt,
    importance_sampling,
    runs_needed,
    seed_for,
)
from abm.rare.analytic import GaussianWalk, ShockCount, shock_count_probability
from populations.errors import ConfigError

RATE, HORIZON = 0.1, 20  # 2 shocks expected in a run


def shocks_event(level: float) -> RareEvent:
    return RareEvent(
        lambda seed, shocks=None: ShockCount(seed, rate=RATE, shocks=shocks),
        threshold=level,
        horizon=HORIZON,
    )


def test_the_weight_of_a_draw_is_its_likelihood_ratio():
    rng = np.random.default_rng(3)
    shocks = PoissonShocks(tilt={"storm": 3.0})
    rates = np.array([0.2, 0.5, 0.1])
    counts = shocks.poisson(rng, rates, name="storm")
    other = shocks.poisson(rng, 0.4, name="quake")  # not tilted: weight 1
    expected = np.sum(stats.poisson.logpmf(counts, rates) - stats.poisson.logpmf(counts, 3 * rates))
    assert shocks.log_weight == pytest.approx(expected, abs=1e-12)
    assert shocks.exposure == pytest.approx({"storm": 0.8, "quake": 0.4})
    assert shocks.counts == {"storm": float(counts.sum()), "quake": float(other)}
    assert shocks.weight == pytest.approx(math.exp(expected))


def test_weights_average_to_one_under_the_tilt():
    # E_tilted[W] = 1 for any tilt: the change of measure is a true likelihood ratio
    weights = []
    for i in range(4000):
        shocks = PoissonShocks(tilt=2.5)
        model = ShockCount(seed_for(1, i), rate=RATE, shocks=shocks)
        for _ in range(HORIZON):
            model.step()
        weights.append(shocks.weight)
    weights = np.array(weights)
    assert abs(weights.mean() - 1) < 4 * weights.std() / math.sqrt(weights.size)


def test_importance_sampling_finds_a_small_probability_with_few_runs():
    truth = shock_count_probability(10, HORIZON, rate=RATE)  # 4.6e-5
    result = importance_sampling(
        shocks_event(10), seed=2, tilt=5.0, target_rel_error=0.1, batch_size=200
    )
    assert result.converged and result.rel_error <= 0.1
    assert result.ci_low < truth < result.ci_high
    assert result.runs < runs_needed(truth, 0.1) / 100  # crude Monte Carlo needs 2 * 10^6
    assert 0 < result.details["ess"] < result.runs
    assert result.details["tilt"] == 5.0 and result.method == "importance"


def test_cross_entropy_finds_the_tilt_of_the_rare_count():
    found = cross_entropy_tilt(shocks_event(10), seed=3, runs=500)
    assert found["reached"] and found["levels"][-1] == 10
    assert found["levels"] == sorted(found["levels"])
    # the optimal Poisson tilt puts the mean count at the level: 10 / (0.1 * 20) = 5
    assert 4.0 < found["tilt"]["shocks"] < 6.5
    assert found["runs"] == 500 * len(found["levels"])


def test_auto_tilt_counts_the_pilot_and_resumes_without_it():
    truth = shock_count_probability(10, HORIZON, rate=RATE)
    kept, ticks = [], []
    first = importance_sampling(
        shocks_event(10), seed=4, pilot_runs=300, target_rel_error=None, batch_size=200,
        max_runs=400, on_batch=lambda r, *_: kept.append(r), progress=ticks.append,
    )  # fmt: skip
    pilot = first.details["pilot"]
    assert first.runs == 400 + pilot["runs"] and ticks[-1] == first.runs
    assert abs(first.estimate - truth) < 4 * first.stderr
    ticks.clear()
    resumed = importance_sampling(
        shocks_event(10), seed=4, pilot_runs=300, target_rel_error=None, batch_size=200,
        max_runs=600, finished=kept, progress=ticks.append,
    )  # fmt: skip
    fresh = importance_sampling(
        shocks_event(10), seed=4, pilot_runs=300, target_rel_error=None, batch_size=200,
        max_runs=600,
    )  # fmt: skip
    assert resumed == fresh
    assert ticks[-1] == 200  # only the new batch ran: no pilot again


def test_no_hit_gives_no_interval():
    result = importance_sampling(
        shocks_event(60), seed=1, tilt=1.0, target_rel_error=0.1, batch_size=100, max_runs=100
    )
    assert result.estimate == 0.0 and math.isnan(result.ci_high) and not result.converged
    assert "no run reached the threshold" in result.stop_reason


def test_per_name_tilts_leave_other_shocks_alone():
    shocks = PoissonShocks({"storm": 2.0})
    assert shocks.tilt_for("storm") == 2.0 and shocks.tilt_for("quake") == 1.0
    copy = shocks.copy()
    copy.log_weight = 5.0
    assert shocks.log_weight == 0.0


def test_a_model_without_shocks_is_refused_with_a_hint():
    event = RareEvent(lambda seed: GaussianWalk(seed), threshold=3, horizon=5)
    with pytest.raises(ConfigError, match="passes shocks= to make_model.*shocks=None"):
        importance_sampling(event, seed=1, tilt=2.0)
    ignoring = RareEvent(lambda seed, shocks=None: GaussianWalk(seed), threshold=3, horizon=5)
    with pytest.raises(ConfigError, match="drew no shocks through `shocks`"):
        importance_sampling(ignoring, seed=1, tilt=2.0, batch_size=10)
    with pytest.raises(ConfigError, match="drew no shocks through `shocks`"):
        importance_sampling(ignoring, seed=1, pilot_runs=10)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: PoissonShocks(0.0), "`tilt` must be a positive number"),
        (lambda: PoissonShocks({"a": -1}), "the tilt of `a` must be a positive number"),
        (
            lambda: PoissonShocks().poisson(np.random.default_rng(), -0.1, name="storm"),
            "shock `storm`: rates must be finite and >= 0",
        ),
        (lambda: importance_sampling(shocks_event(5), seed=1, tilt="best"), '"auto"'),
        (lambda: cross_entropy_tilt(shocks_event(5), seed=1, rho=1.5), "`rho` must be"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ConfigError, match=message):
        call()
