"""Crude Monte Carlo (`abm.rare.crude_monte_carlo`) and the event protocol it runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.rare import RareEvent, crude_monte_carlo, runs_needed, seed_for, wilson
from abm.rare.analytic import ExponentialSum, GaussianWalk, exponential_sum_probability
from populations.errors import ConfigError

LEVEL, HORIZON = 8.0, 3
P = exponential_sum_probability(LEVEL, HORIZON)  # 0.0138


def erlang() -> RareEvent:
    return RareEvent(lambda seed: ExponentialSum(seed), threshold=LEVEL, horizon=HORIZON)


def test_estimate_is_the_share_of_hits_and_agrees_with_the_truth():
    result = crude_monte_carlo(erlang(), seed=1, target_rel_error=None, max_runs=20_000)
    hits = result.details["hits"]
    assert result.estimate == hits / 20_000
    assert result.stderr == pytest.approx(math.sqrt(P * (1 - P) / 20_000), rel=0.1)
    assert (result.ci_low, result.ci_high) == wilson(hits, 20_000)
    assert abs(result.estimate - P) < 4 * result.stderr
    assert result.method == "monte-carlo" and result.converged


def test_it_stops_at_the_first_batch_that_meets_the_target():
    records = []
    result = crude_monte_carlo(
        erlang(),
        seed=2,
        target_rel_error=0.2,
        batch_size=100,
        on_batch=lambda record, rows, res: records.append((record, res)),
    )
    assert result.converged and result.rel_error <= 0.2
    assert "target relative error 0.2 reached" in result.stop_reason
    assert result.runs == 100 * len(records)
    assert all(res.rel_error > 0.2 for _, res in records[:-1])  # no earlier batch met it
    assert result.details["hits"] >= 1 / 0.2**2 * (1 - 0.05)  # about 25 hits needed


def test_each_run_is_seeded_by_its_number_and_stops_at_its_first_hit():
    rows = []
    crude_monte_carlo(
        erlang(),
        seed=3,
        target_rel_error=None,
        batch_size=40,
        max_runs=100,
        on_batch=lambda record, frame, res: rows.append(frame),
    )
    assert [f.height for f in rows] == [40, 40, 20]  # the last batch is cut to the budget
    run = rows[2].row(5, named=True)  # run 85
    assert run["run"] == 85
    best, hit, steps = erlang().simulate(seed_for(3, 85))
    assert (run["max_score"], run["hit"], run["steps"]) == (best, hit, steps)
    model = ExponentialSum(seed_for(3, 85))  # the run by hand
    while model.t < HORIZON and model.x < LEVEL:
        model.step()
    assert (model.x, model.t) == (best, steps)


def test_a_hit_ends_the_run():
    event = RareEvent(lambda seed: GaussianWalk(seed, drift=1.0, sd=0.0), threshold=3, horizon=10)
    assert event.simulate(seed_for(0, 0)) == (3.0, True, 3)


def test_a_model_that_stops_running_ends_its_run():
    class Stops(GaussianWalk):
        def step(self):
            super().step()
            self.running = self.t < 4

    event = RareEvent(lambda seed: Stops(seed, drift=0.1, sd=0.0), threshold=5, horizon=100)
    best, hit, steps = event.simulate(seed_for(0, 0))
    assert (steps, hit) == (4, False) and best == pytest.approx(0.4)


def test_no_hit_gives_an_upper_bound_only():
    event = RareEvent(lambda seed: ExponentialSum(seed), threshold=60.0, horizon=3)
    result = crude_monte_carlo(event, seed=1, batch_size=500, max_runs=1000)
    assert (result.estimate, result.ci_low) == (0.0, 0.0)
    assert result.ci_high == pytest.approx(wilson(0, 1000)[1]) and result.ci_high < 0.004
    assert not result.converged and "upper bound" in result.stop_reason
    assert math.isinf(result.rel_error)


def test_budget_reached_before_the_target_is_not_converged():
    result = crude_monte_carlo(erlang(), seed=1, target_rel_error=0.01, max_runs=500)
    assert not result.converged and "max_runs (500) reached" in result.stop_reason


def test_resuming_from_finished_batches_gives_the_uninterrupted_result():
    kept = []

    def keep(record, rows, result):
        kept.append(record)

    kwargs = {"seed": 5, "target_rel_error": None, "batch_size": 200}
    crude_monte_carlo(erlang(), max_runs=300, on_batch=keep, **kwargs)  # batches of 200, 100
    assert [r["runs"] for r in kept] == [200, 100]
    new = []
    resumed = crude_monte_carlo(
        erlang(), max_runs=700, finished=kept, on_batch=lambda r, *_: new.append(r), **kwargs
    )
    fresh = crude_monte_carlo(erlang(), max_runs=700, **kwargs)
    assert resumed == fresh
    assert [r["batch"] for r in new] == [1, 2, 3]  # batch 0 kept; the cut batch 1 redone
    assert [r["runs"] for r in new] == [200, 200, 100]


def test_the_cost_of_the_crude_method():
    assert runs_needed(1e-5, 0.1) == pytest.approx(1e7, rel=1e-4)
    result = crude_monte_carlo(erlang(), seed=9, target_rel_error=0.25, batch_size=50)
    # stopping needs about (1 - p) / (p r^2) runs: within a factor 2 here
    assert 0.5 < result.runs / runs_needed(P, 0.25) < 2
    assert result.model_steps <= 3 * result.runs


def test_the_clopper_pearson_interval_can_be_chosen():
    result = crude_monte_carlo(
        erlang(), seed=1, target_rel_error=None, max_runs=2000, interval="clopper-pearson"
    )
    h = result.details["hits"]
    assert result.details["interval"] == "clopper-pearson"
    low, high = result.ci_low, result.ci_high
    assert low < h / 2000 < high and (low, high) != wilson(h, 2000)


def test_result_to_dict_is_json_ready():
    import json

    event = RareEvent(lambda seed: ExponentialSum(seed), threshold=60.0, horizon=3)
    data = crude_monte_carlo(event, seed=1, max_runs=100).to_dict()
    assert data["rel_error"] is None  # infinite
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert set(data) >= {"estimate", "stderr", "ci_low", "ci_high", "runs", "model_steps"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "`seed` must be a non-negative integer"),
        ({"seed": 1, "target_rel_error": 0}, "`target_rel_error` must be a positive number"),
        ({"seed": 1, "interval": "wald"}, "unknown interval `wald`"),
        ({"seed": 1, "batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ({"seed": 1, "confidence": 95}, "`confidence` must be between 0 and 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        crude_monte_carlo(erlang(), **kwargs)


@pytest.mark.parametrize(
    "event, message",
    [
        (lambda: RareEvent(lambda s: GaussianWalk(s), threshold=np.inf, horizon=3), "finite"),
        (lambda: RareEvent(lambda s: GaussianWalk(s), threshold=1, horizon=0), "`horizon`"),
        (lambda: RareEvent(lambda s: GaussianWalk(s), threshold=1, horizon=3, score=3), "score"),
        (lambda: RareEvent(42, threshold=1, horizon=3), "`make_model` must be callable"),
    ],
)
def test_bad_events_are_named(event, message):
    with pytest.raises(ConfigError, match=message):
        event()


@pytest.mark.parametrize(
    "event, message",
    [
        (RareEvent(lambda s: object(), threshold=1, horizon=3), "without a step"),
        (
            RareEvent(lambda s: GaussianWalk(s), threshold=1, horizon=3, score="risk"),
            "no method `risk\\(\\)` for the score",
        ),
        (
            RareEvent(lambda s: GaussianWalk(s), threshold=1, horizon=3, score=lambda m: "x"),
            "the score must be a number",
        ),
        (
            RareEvent(lambda s: GaussianWalk(s), threshold=1, horizon=3, score=lambda m: np.nan),
            "the score is NaN",
        ),
    ],
)
def test_bad_models_and_scores_are_named(event, message):
    with pytest.raises(ConfigError, match=message):
        crude_monte_carlo(event, seed=1, max_runs=10)
