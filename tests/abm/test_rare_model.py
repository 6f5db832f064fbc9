"""What rare-event splitting needs from the engine and the outbreak: reseed, KPI scores, copies."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from abm.agents import ColumnAgent, column
from abm.events import KpiCollector
from abm.model import SynthModel
from abm.rare import (
    KpiScore,
    RareEvent,
    crude_monte_carlo,
    multilevel_splitting,
    scenario_event,
    seed_for,
    splitting_batch,
)
from abm.rng import Streams, keyed_uniform
from populations.errors import ConfigError
from scenarios.outbreak import SCENARIO, OutbreakModel, OutbreakParams


class Cell(ColumnAgent):
    level = column(np.float64, default=0.0)


class Noise(SynthModel):
    """Cells take keyed normal-ish steps; the KPI ``top`` is the highest level."""

    rules = ("move", "report")

    def __init__(self, n=5, *, seed=None):
        super().__init__(seed=seed, kpis=KpiCollector(groups=["cell"]))
        self.cells = self.add_agent_type(Cell, n)

    def move(self):
        u = self.keyed("move").uniform(self.clock.step, self.cells.ids)
        self.cells["level"] += u - 0.6
        self.cells["level"] += self.rng.normal(0.0, 0.01, len(self.cells.ids))

    def report(self):
        self.kpi("top", float(self.cells["level"].max()))
        self.kpi("by_cell", self.cells["level"], cell=[str(i) for i in range(5)])


def test_reseed_changes_every_draw_but_not_the_state():
    a, b = Noise(seed=1), Noise(seed=1)
    a.run(3)
    b.run(3)
    assert np.array_equal(a.cells["level"], b.cells["level"])
    b.reseed(99)
    state = b.cells["level"].copy()
    assert (b.clock.step, b.seed) == (3, 1)  # the run keeps its identity
    a.step()
    b.step()
    assert not np.array_equal(a.cells["level"], b.cells["level"])
    # b now draws as root 99 does: keyed draws and Mesa's model.rng alike
    u = keyed_uniform(99, "move", 3, b.cells.ids)
    noise = Streams(99)["model"].normal(0.0, 0.01, 5)
    assert np.allclose(b.cells["level"], state + u - 0.6 + noise, rtol=0, atol=1e-15)


def test_reseed_reaches_mesa_random_in_place_and_named_streams():
    model = Noise(seed=1)
    shuffler = model.agents.random
    model.reseed(np.random.SeedSequence(5))
    assert model.agents.random is shuffler  # agent sets keep working with the new seed
    fresh = Streams(np.random.SeedSequence(5))
    assert model.streams["x"].random() == fresh["x"].random()
    assert model.rng.random() == fresh["model"].random()


def test_the_model_keeps_the_last_and_total_of_whole_run_kpis():
    model = Noise(seed=2)
    model.run(4)
    tops = model.kpis.to_frame().filter(pl.col("name") == "top")["value"].to_list()
    assert model.kpi_last["top"] == tops[-1]
    assert model.kpi_sum["top"] == pytest.approx(sum(tops))
    assert "by_cell" not in model.kpi_last  # grouped KPIs are not kept
    assert KpiScore("top")(model) == tops[-1]
    assert KpiScore("top", stat="sum")(model) == pytest.approx(sum(tops))


def test_a_kpi_score_before_the_first_step_and_for_a_missing_kpi():
    model = Noise(seed=2)
    assert KpiScore("top")(model) == -math.inf
    assert KpiScore("top", stat="sum")(model) == 0.0
    model.step()
    with pytest.raises(ConfigError, match="no KPI `tpo`.*did you mean `top`"):
        KpiScore("tpo")(model)
    with pytest.raises(ConfigError, match="unknown KPI statistic `mean`"):
        KpiScore("top", stat="mean")
    with pytest.raises(ConfigError, match="needs an abm.model.SynthModel"):
        KpiScore("top")(object())


def test_splitting_on_a_synth_model_replays_its_keyed_draws():
    event = RareEvent(
        lambda seed: Noise(seed=seed), threshold=1.5, horizon=12, score=KpiScore("top")
    )
    record = splitting_batch(event, seed=3, particles=10)  # raises if a replay differs
    assert record["iterations"] > 0 and record["replayed_steps"] > 0


# ------------------------------------------------------------------------------- the outbreak


@pytest.fixture(scope="module")
def persons(demo_population):
    """Every tenth household of the demo city (about 10,000 persons)."""
    _, pop = demo_population
    return pop.persons.filter(pl.col("household_id") % 10 == 0)


def test_an_outbreak_copy_shares_the_read_only_parts_and_continues_alike(persons):
    params = OutbreakParams(days=20)
    model = OutbreakModel(params, seed=4, persons=persons, create_views=False)
    model.run(8)
    copy = model.clone()
    assert copy.persons is model.persons
    assert copy.contacts.network is model.contacts.network
    assert copy.people["state"] is not model.people["state"]
    model.run(6)
    copy.run(6)  # same state, same root: the same path
    assert np.array_equal(copy.people["state"], model.people["state"])
    assert copy.kpis.to_frame().equals(model.kpis.to_frame())
    other = model.clone()
    again = model.clone()
    other.reseed(seed_for(1, 2))
    again.reseed(seed_for(1, 3))
    other.run(6)
    again.run(6)
    assert not np.array_equal(other.people["state"], again.people["state"])


def test_an_outbreak_writing_a_log_cannot_be_copied(persons, tmp_path):
    with OutbreakModel(OutbreakParams(days=2), seed=1, persons=persons, out=tmp_path / "o") as m:
        with pytest.raises(ConfigError, match="writes an event log.*out=None"):
            m.clone()
        m.run(2)


def test_scenario_event_estimates_an_outbreak_kpi(persons):
    event = scenario_event(
        SCENARIO, ["days=12"], kpi="H", threshold=2, build_kwargs={"persons": persons}
    )
    assert (event.horizon, event.label) == (12, "peak H >= 2")
    rows = []
    result = crude_monte_carlo(
        event, seed=5, target_rel_error=None, batch_size=4, max_runs=4,
        on_batch=lambda r, frame, res: rows.append(frame),
    )  # fmt: skip
    frame = rows[0]
    assert result.runs == 4 and frame["max_score"].min() >= 0
    # run k is replicate k of `synthworld run --replicates`: the same peak
    model = SCENARIO.build(
        OutbreakParams(days=12), seed=Streams(5).replicate(2), persons=persons, create_views=False
    )
    model.run(12)
    peak = (
        model.kpis.to_frame()
        .filter(pl.col("name") == "H", pl.col("zone").is_null(), pl.col("age_band").is_null())[
            "value"
        ]
        .max()
    )
    assert frame["hit"][2] == (peak >= 2)
    if frame["hit"][2]:  # the run stopped at its first step at the threshold
        assert 2 <= frame["max_score"][2] <= peak
    else:
        assert frame["max_score"][2] == peak


def test_splitting_runs_on_the_outbreak(persons):
    event = scenario_event(
        "outbreak", {"days": 15}, kpi="new_infections", stat="sum", threshold=400,
        build_kwargs={"persons": persons},
    )  # fmt: skip
    result = multilevel_splitting(event, seed=6, particles=5, target_rel_error=None, max_batches=2)
    assert result.batches == 2 and result.details["replayed_steps"] > 0
    assert 0 <= result.estimate <= 1


def test_scenario_event_checks_its_arguments(persons):
    with pytest.raises(ConfigError, match="unknown scenario `outbreek`"):
        scenario_event("outbreek", kpi="H", threshold=1)
    with pytest.raises(ConfigError, match="`build_kwargs` must not set `out`"):
        scenario_event("outbreak", kpi="H", threshold=1, build_kwargs={"out": "x"})
    event = scenario_event(
        "outbreak", ["days=3"], kpi="Hospital", threshold=1, build_kwargs={"persons": persons}
    )
    with pytest.raises(ConfigError, match="no KPI `Hospital`.*Hint: expected one of `D`"):
        crude_monte_carlo(event, seed=1, max_runs=1)  # at the first step of the first run
