"""Adaptive multilevel splitting (`abm.rare.multilevel_splitting`) on models with known answers."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest

from abm.rare import RareEvent, multilevel_splitting, splitting_batch
from abm.rare.analytic import (
    GaussianWalk,
    LatticeWalk,
    gaussian_walk_probability,
    lattice_walk_probability,
)
from populations.errors import ConfigError


def batch_estimates(event: RareEvent, batches: int, *, seed: int, **kwargs) -> np.ndarray:
    return np.array(
        [splitting_batch(event, seed=seed, batch=b, **kwargs)["estimate"] for b in range(batches)]
    )


def assert_unbiased(estimates: np.ndarray, truth: float) -> None:
    se = estimates.std(ddof=1) / math.sqrt(estimates.size)
    assert abs(estimates.mean() - truth) < 4 * se, (estimates.mean() / truth, se / truth)


def gaussian(level: float = 4.0, steps: int = 10, drift: float = -0.5, **kwargs) -> RareEvent:
    return RareEvent(
        lambda seed: GaussianWalk(seed, drift=drift), threshold=level, horizon=steps, **kwargs
    )


def test_batches_are_unbiased_for_a_first_passage():
    truth = gaussian_walk_probability(4.0, 10, drift=-0.5)  # 0.0071
    assert_unbiased(batch_estimates(gaussian(), 200, seed=1, particles=20), truth)


def test_batches_are_unbiased_with_ties_in_the_score():
    # a +-1 walk: integer scores, so many particles share a level and die together
    event = RareEvent(lambda seed: LatticeWalk(seed, up=0.3), threshold=5, horizon=15)
    truth = lattice_walk_probability(5, 15, up=0.3)  # 0.0011
    assert_unbiased(batch_estimates(event, 200, seed=2, particles=20), truth)


def test_killing_several_particles_an_iteration_is_unbiased_too():
    truth = gaussian_walk_probability(4.0, 10, drift=-0.5)
    assert_unbiased(batch_estimates(gaussian(), 150, seed=3, particles=20, k=5), truth)


def test_an_increasing_transform_of_the_importance_changes_nothing():
    plain = splitting_batch(gaussian(), seed=4, batch=2, particles=30)
    scaled = splitting_batch(
        gaussian(importance=lambda m: 2.0 * m.score() + 1.0), seed=4, batch=2, particles=30
    )
    assert plain == scaled and plain["iterations"] > 10


def test_a_time_aware_importance_is_unbiased():
    # rank by the position plus the drift still to come: a different ordering, same answer
    event = gaussian(importance=lambda m: m.x + m.drift * (10 - m.t))
    truth = gaussian_walk_probability(4.0, 10, drift=-0.5)
    plain = splitting_batch(gaussian(), seed=5, batch=0, particles=30)
    timed = splitting_batch(event, seed=5, batch=0, particles=30)
    assert plain != timed
    assert_unbiased(batch_estimates(event, 150, seed=5, particles=20), truth)


def test_the_runner_stops_at_the_target_and_reports_its_cost():
    truth = gaussian_walk_probability(8.0, 20, drift=-0.5)  # 1.4e-4
    records = []
    result = multilevel_splitting(
        gaussian(8.0, 20),
        seed=6,
        particles=30,
        target_rel_error=0.15,
        on_batch=lambda record, rows, res: records.append((record, rows, res)),
    )
    assert result.converged and result.rel_error <= 0.15 and result.batches >= 20
    assert all(res.rel_error > 0.15 for *_, res in records[19:-1])
    assert result.ci_low < truth < result.ci_high
    assert result.runs == sum(r["paths"] for r, *_ in records)
    assert result.runs == sum(30 + r["killed"] for r, *_ in records)
    assert result.model_steps == sum(r["model_steps"] for r, *_ in records)
    assert 0 < result.details["replayed_steps"] < result.model_steps
    assert records[0][1].columns == [
        "batch", "estimate", "iterations", "hits", "paths", "extinct", "model_steps",
    ]  # fmt: skip
    # far fewer runs than crude Monte Carlo's (1 - p) / (p r^2) = 3 * 10^5
    assert result.runs < 0.1 * (1 - truth) / (truth * 0.15**2)


def test_resuming_gives_the_uninterrupted_result():
    kept = []
    kwargs = {"seed": 7, "particles": 20, "target_rel_error": None}
    multilevel_splitting(gaussian(), max_batches=3, on_batch=lambda r, *_: kept.append(r), **kwargs)
    new = []
    resumed = multilevel_splitting(
        gaussian(), max_batches=5, finished=kept, on_batch=lambda r, *_: new.append(r), **kwargs
    )
    assert resumed == multilevel_splitting(gaussian(), max_batches=5, **kwargs)
    assert [r["batch"] for r in new] == [3, 4]
    # records made with other particles are not reused
    other = multilevel_splitting(gaussian(), max_batches=3, finished=kept, seed=7, particles=25)
    assert other.details["batch_estimates"] != [r["estimate"] for r in kept]


class AgentWalk(mesa.Model):
    """A Mesa model with agents: each step every agent moves by a normal draw from model.rng
    (in an order from model.random). The sum of 4 positions is a Gaussian walk of sd 2."""

    def __init__(self, rng=None):
        super().__init__(rng=rng)
        Walker.create_agents(self, 4)

    def step(self):
        self.agents.shuffle_do("move")

    def score(self):
        return float(sum(self.agents.get("x")))


class Walker(mesa.Agent):
    def __init__(self, model):
        super().__init__(model)
        self.x = 0.0

    def move(self):
        self.x += self.model.rng.normal(-0.125, 1.0)


def test_a_plain_mesa_model_with_agents_is_copied_and_reseeded_by_default():
    event = RareEvent(lambda seed: AgentWalk(rng=seed), threshold=6.0, horizon=8)
    truth = gaussian_walk_probability(6.0, 8, drift=-0.5, sd=2.0)  # 0.0072
    estimates = batch_estimates(event, 40, seed=8, particles=20)
    assert_unbiased(estimates, truth)


_SHARED = np.random.default_rng(0)


class Unreproducible(GaussianWalk):
    def step(self):
        self.x += self.drift + _SHARED.standard_normal()  # not the model's own generator
        self.t += 1


def test_a_model_that_cannot_repeat_its_path_is_stopped_with_an_explanation():
    event = RareEvent(lambda seed: Unreproducible(seed, drift=-0.5), threshold=4, horizon=10)
    with pytest.raises(ConfigError, match="did not repeat its path when replayed"):
        splitting_batch(event, seed=1, particles=10)


def test_models_that_write_an_event_log_are_refused():
    class Logged(GaussianWalk):
        event_log = "a log"

    event = RareEvent(lambda seed: Logged(seed), threshold=4, horizon=10)
    with pytest.raises(ConfigError, match="writes an event log.*out=None"):
        splitting_batch(event, seed=1, particles=10)


def test_a_model_without_a_generator_needs_a_reseed():
    class Opaque:
        def __init__(self, seed):
            self.x = 0.0

        def step(self):
            self.x += 1.0

        def score(self):
            return self.x

    event = RareEvent(Opaque, threshold=4, horizon=10)
    with pytest.raises(ConfigError, match="define reseed\\(seed\\)"):
        splitting_batch(event, seed=1, particles=10)


def test_a_score_that_never_moves_dies_out_and_says_so():
    event = RareEvent(lambda seed: GaussianWalk(seed, sd=0.0), threshold=1.0, horizon=5)
    record = splitting_batch(event, seed=1, particles=10)
    assert record["extinct"] and record["estimate"] == 0.0 and record["iterations"] == 0
    result = multilevel_splitting(event, seed=1, particles=10, max_batches=3)
    assert result.estimate == 0.0 and math.isnan(result.ci_high) and not result.converged
    assert "died out" in result.stop_reason


def test_splitting_is_reproducible_from_its_seed():
    a = multilevel_splitting(gaussian(), seed=9, particles=15, max_batches=4)
    b = multilevel_splitting(gaussian(), seed=9, particles=15, max_batches=4)
    c = multilevel_splitting(gaussian(), seed=10, particles=15, max_batches=4)
    assert a == b and a.details["batch_estimates"] != c.details["batch_estimates"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"particles": 1}, "`particles` must be an integer >= 2"),
        ({"particles": 5, "k": 5}, "`k` .* must be below `particles`"),
        ({"min_batches": 1}, "`min_batches` must be an integer >= 2"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        multilevel_splitting(gaussian(), seed=1, **kwargs)
