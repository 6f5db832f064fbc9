"""SynthModel: rules over columns, per-agent overrides, events, data collection, clean-up.

Two toy models are defined here: an SIR epidemic on a random graph (scipy.sparse adjacency) and
a Boltzmann wealth exchange. Each rule has a vectorised version on the model and a per-agent
version on an agent subclass; with keyed draws both give identical runs.
"""

from __future__ import annotations

import gc
import weakref

import mesa
import networkx as nx
import numpy as np
import polars as pl
import pytest

from abm.agents import ColumnAgent, column
from abm.events import EventLog, EventSchema, KpiCollector, read_events
from abm.model import SynthModel, agent_vars
from abm.rng import Streams
from populations.errors import ConfigError

SUS, INF, REC = 0, 1, 2


# ------------------------------------------------------------------------------ SIR toy model


class Person(ColumnAgent):
    state = column(np.int8, default=SUS, doc="0 susceptible, 1 infected, 2 recovered")
    infected_on = column(np.int32, default=-1, doc="step of infection")


class SIR(SynthModel):
    """SIR on a G(n, p) graph. Rules: `recover` (I -> R with probability `gamma`), then
    `infect` (S -> I with probability 1 - (1 - beta)**k, k = neighbours infected before this
    step)."""

    rules = ("recover", "infect")

    def __init__(self, *, seed, n=200, beta=0.1, gamma=0.15, initial=5, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.beta, self.gamma = beta, gamma
        graph = nx.gnp_random_graph(n, 6 / n, seed=int(self.streams["network"].integers(2**31)))
        self.adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(n), format="csr")
        degree_max = int(np.diff(self.adjacency.indptr).max())
        self.p_infect = 1.0 - (1.0 - beta) ** np.arange(degree_max + 1)
        people = self.add_agent_type(Person, n)
        first = self.streams["seeding"].choice(n, initial, replace=False)
        people["state"][first] = INF
        self.recovers = self.keyed("recover")
        self.infects = self.keyed("infect")
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "S": lambda m: m.count(SUS),
                "I": lambda m: m.count(INF),
                "R": lambda m: m.count(REC),
            },
            agent_reporters={"state": "state"},
            agenttype_reporters={Person: {"infected_on": "infected_on"}},
        )
        self.collect()

    def count(self, state):
        people = self.table(Person)
        return int(people.where(people["state"] == state).size)

    def infectious(self):
        people = self.table(Person)
        return (people["state"] == INF) & (people["infected_on"] < self.clock.step) & people.alive

    def recover(self):
        people, t = self.table(Person), self.clock.step
        rows = people.where(people["state"] == INF)
        done = rows[self.recovers.bernoulli(t, people.ids[rows], self.gamma)]
        people["state"][done] = REC
        self.emit(event="recover", agent=people.ids[done])

    def infect(self):
        people, t = self.table(Person), self.clock.step
        state = people["state"]
        pressure = (self.adjacency @ self.infectious().astype(np.int64)).astype(np.int64)
        rows = people.where((state == SUS) & (pressure > 0))
        hit = self.infects.uniform(t, people.ids[rows]) < self.p_infect[pressure[rows]]
        new = rows[hit]
        state[new] = INF
        people["infected_on"][new] = t
        self.emit(event="infect", agent=people.ids[new])
        self.kpi("new_infections", new.size)


class PerAgentPerson(Person):
    """Both SIR rules written per agent, plain Mesa style, on the same columns."""

    def recover(self):
        m = self.model
        if self.state == INF and m.recovers.uniform(m.clock.step, self.id) < m.gamma:
            self.state = REC

    def infect(self):
        if self.state != SUS:
            return
        m, t, cols = self.model, self.model.clock.step, self.columns
        adj = m.adjacency
        nbrs = adj.indices[adj.indptr[self.row] : adj.indptr[self.row + 1]]
        k = np.count_nonzero(
            (cols["state"][nbrs] == INF) & (cols["infected_on"][nbrs] < t) & cols.alive[nbrs]
        )
        if k and m.infects.uniform(t, self.id) < m.p_infect[k]:
            self.state = INF
            self.infected_on = t


class RecoverPerAgent(Person):
    """Only `recover` per agent; `infect` stays vectorised."""

    recover = PerAgentPerson.recover


class Counting(Person):
    """A plain Mesa ``step()`` next to the vectorised rules."""

    ticks = column(np.int32, default=0)

    def step(self):
        self.ticks += 1


def history(model):
    return model.datacollector.get_model_vars_dataframe().to_numpy()


# ------------------------------------------------------------------------------ Boltzmann toy


class Holder(ColumnAgent):
    wealth = column(np.int64, default=1)


class Boltzmann(SynthModel):
    """Each step every agent with money gives one unit to a random live agent."""

    rules = ("exchange",)

    def __init__(self, *, seed, n=100, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.add_agent_type(Holder, {"wealth": np.full(n, 3)})

    def exchange(self):
        people, t = self.table(Holder), self.clock.step
        live = people.where()
        wealth = people["wealth"]
        givers = live[wealth[live] > 0]
        targets = live[self.keyed("exchange").integers(t, people.ids[givers], live.size)]
        wealth[givers] -= 1
        wealth += np.bincount(targets, minlength=people.n)


class MesaHolder(Holder):
    """The exchange rule per agent, asynchronous, with Mesa's own random generator."""

    def exchange(self):
        if self.wealth > 0:
            other = self.columns.agent(int(self.rng.choice(self.columns.where())))
            other.wealth += 1
            self.wealth -= 1


# ------------------------------------------------------------------------------ tests


def test_vectorised_and_per_agent_rules_give_identical_runs():
    base = SIR(seed=11).run(25)
    per_agent = SIR(seed=11, agent_classes={Person: PerAgentPerson}).run(25)
    mixed = SIR(seed=11, agent_classes={Person: RecoverPerAgent}).run(25)
    a = base.table(Person)
    assert a.to_polars()["state"].value_counts().height > 1  # something happened
    assert base.count(REC) > 0
    for other in (per_agent, mixed):
        b = other.table(PerAgentPerson if other is per_agent else RecoverPerAgent)
        assert np.array_equal(a["state"], b["state"])
        assert np.array_equal(a["infected_on"], b["infected_on"])
        np.testing.assert_array_equal(history(base), history(other))


def test_per_agent_rules_replace_the_vectorised_rule(monkeypatch):
    calls = []
    monkeypatch.setattr(SIR, "recover", lambda self: calls.append("vectorised"))
    SIR(seed=1, agent_classes={Person: PerAgentPerson}).run(2)
    assert calls == []
    SIR(seed=1).run(2)
    assert calls == ["vectorised"] * 2


def test_agent_step_runs_after_the_rules_on_the_same_columns():
    base = SIR(seed=4).run(6)
    counted = SIR(seed=4, agent_classes={Person: Counting}).run(6)
    cols = counted.table(Person)  # the registered subclass is found by its base
    assert cols.agent_class is Counting
    assert cols["ticks"].tolist() == [6] * cols.n
    assert np.array_equal(base.table(Person)["state"], cols["state"])


class Inspector(mesa.Agent):
    """A plain Mesa agent (no columns) in a SynthModel: stepped, never running rules."""

    def __init__(self, model):
        super().__init__(model)
        self.seen = []
        self.state = -1  # for the model's agent reporter, which sees every agent

    def step(self):
        self.seen.append(self.model.count(INF))

    def recover(self):
        msg = "rules are only overridden by column-backed agent types"
        raise AssertionError(msg)


def test_plain_mesa_agents_step_beside_column_agents():
    base = SIR(seed=4).run(3)
    model = SIR(seed=4)
    inspectors = Inspector.create_agents(model, 2)
    model.run(3)
    assert [len(a.seen) for a in inspectors] == [3, 3]
    assert np.array_equal(history(base), history(model))


def test_same_seed_same_run_different_seed_different_run():
    a, b, c = SIR(seed=3).run(20), SIR(seed=3).run(20), SIR(seed=4).run(20)
    assert np.array_equal(history(a), history(b))
    assert np.array_equal(a.table(Person)["state"], b.table(Person)["state"])
    assert not np.array_equal(history(a), history(c))
    replicate = Streams(3).replicate(0)
    d, e = SIR(seed=replicate).run(20), SIR(seed=Streams(3).replicate(0)).run(20)
    assert np.array_equal(history(d), history(e))


def test_boltzmann_conserves_money_both_ways():
    vectorised = Boltzmann(seed=5, n=100).run(50)
    wealth = vectorised.table(Holder)["wealth"]
    assert wealth.sum() == 300 and wealth.min() >= 0
    assert wealth.max() > 3  # inequality emerges
    per_agent = Boltzmann(seed=5, n=100, agent_classes={Holder: MesaHolder}).run(50)
    assert per_agent.table(Holder)["wealth"].sum() == 300
    assert per_agent.agents.agg("wealth", sum) == 300


def test_boltzmann_skips_removed_agents():
    model = Boltzmann(seed=2, n=60).run(5)
    people = model.table(Holder)
    gone = np.arange(0, 60, 3)
    model.agents_by_type[Holder].select(lambda a: a.row in set(gone[:10].tolist())).do("remove")
    model.remove_agents(Holder, gone[10:])
    left = int(people["wealth"][people.alive].sum())
    frozen = people["wealth"][gone].copy()
    model.run(20)
    assert int(people["wealth"][people.alive].sum()) == left
    assert np.array_equal(people["wealth"][gone], frozen)  # removed rows untouched
    assert len(model.agents) == people.n_alive == 40


def test_sir_skips_removed_agents():
    model = SIR(seed=8).run(3)
    people = model.table(Person)
    rows = people.where(people["state"] == SUS)[:30]
    for agent in people.agents(rows):
        agent.remove()
    model.run(30)
    assert (people["state"][rows] == SUS).all()
    assert len(model.agents) == people.n_alive == people.n - 30


def test_datacollector_steps_are_ints_and_match_the_columns():
    model = SIR(seed=9)
    snapshots = [model.table(Person)["state"].copy()]
    for _ in range(4):
        model.step()
        snapshots.append(model.table(Person)["state"].copy())
    frame = agent_vars(model.datacollector)
    steps = frame.index.get_level_values("Step")
    assert steps.dtype == np.int64
    assert sorted(set(steps.tolist())) == [0, 1, 2, 3, 4]
    for step, snap in enumerate(snapshots):
        assert frame.xs(step, level="Step")["state"].tolist() == snap.tolist()
    typed = agent_vars(model.datacollector, Person)
    assert typed.index.get_level_values("Step").dtype == np.int64
    assert (
        typed.xs(4, level="Step")["infected_on"].tolist()
        == model.table(Person)["infected_on"].tolist()
    )
    counts = model.datacollector.get_model_vars_dataframe()
    assert counts.sum(axis=1).tolist() == [200] * 5
    assert counts["I"].iloc[-1] == model.count(INF)


def test_agentset_vocabulary_sees_the_columns():
    model = SIR(seed=12).run(5)
    people = model.table(Person)
    state = people["state"]
    agents = model.agents_by_type[Person]
    assert len(agents.select(lambda a: a.state == INF)) == int((state == INF).sum())
    assert agents.agg("state", sum) == int(state.sum())
    counts = agents.groupby("state").count()
    assert counts == {k: int(v) for k, v in enumerate(np.bincount(state)) if v}
    assert sorted(agents.get("state")) == sorted(state.tolist())


def test_scheduled_events_run_first_in_priority_then_insertion_order():
    seen = []

    class Toy(SynthModel):
        rules = ("note",)

        def note(self):
            seen.append(("rule", self.clock.step))

        def lockdown(self):
            seen.append(("lockdown", self.clock.step))

    model = Toy(seed=0)
    model.schedule(2, lambda m: seen.append(("b", m.clock.step)), priority=1)
    model.schedule(2, lambda m: seen.append(("a", m.clock.step)))
    model.schedule(2, lambda m: seen.append(("c", m.clock.step)), priority=1)
    model.schedule(1, "lockdown")
    dropped = model.schedule(1, lambda m: seen.append(("cancelled", m.clock.step)))
    assert model.cancel(dropped)

    def cascade(m):
        seen.append(("first", m.clock.step))
        m.schedule(m.clock.step, lambda m2: seen.append(("follow-up", m2.clock.step)))

    model.schedule(3, cascade)
    model.run(4)
    assert seen == [
        ("rule", 0),
        ("lockdown", 1),
        ("rule", 1),
        ("a", 2),
        ("b", 2),
        ("c", 2),
        ("rule", 2),
        ("first", 3),
        ("follow-up", 3),
        ("rule", 3),
    ]
    assert model.clock.step == 4
    with pytest.raises(ConfigError, match="model is at step 4"):
        model.schedule(3, "lockdown")
    model.schedule(4, "lockdown")  # step 4 has not started yet
    model.step()
    assert seen[-2:] == [("lockdown", 4), ("rule", 4)]
    model.fire_events()  # step 5 starts: from now on (in its rules) step 5 is too late
    with pytest.raises(ConfigError, match="Hint: schedule at step 6"):
        model.schedule(5, "lockdown")
    with pytest.raises(ConfigError, match="did you mean `lockdown`"):
        model.schedule(9, "lockdwn")
    with pytest.raises(ConfigError, match="callable"):
        model.schedule(9, 42)


def test_run_reports_progress_and_stops_when_not_running():
    calls = []
    model = SIR(seed=1).run(3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    model.running = False
    model.run(5)
    assert model.clock.step == 3


def test_event_log_and_kpis(tmp_path):
    schema = EventSchema(
        "sir",
        {"step": pl.Int32, "event": pl.Enum(["infect", "recover"]), "agent": pl.Int64},
    )
    log = EventLog(tmp_path / "run", schema=schema, seed=6)
    with SIR(seed=6, event_log=log) as model:
        model.run(15)
        infected_ever = int((model.table(Person)["state"] != SUS).sum())
    assert model.closed and model.manifest["rows"] == log.rows
    events = read_events(tmp_path / "run")
    assert events.filter(pl.col("event") == "infect").height == infected_ever - 5
    kpis = pl.read_parquet(tmp_path / "run" / "kpis.parquet")
    assert kpis["step"].to_list() == list(range(15))
    assert kpis["value"].sum() == infected_ever - 5
    with pytest.raises(ConfigError, match="closed"):
        model.step()


def test_a_failed_run_leaves_no_log(tmp_path):
    schema = EventSchema("sir", {"step": pl.Int32, "event": pl.String, "agent": pl.Int64})
    with (
        pytest.raises(RuntimeError),
        SIR(seed=1, event_log=EventLog(tmp_path / "r", schema=schema)),
    ):
        msg = "boom"
        raise RuntimeError(msg)
    assert not (tmp_path / "r").exists()


def test_kpis_without_a_log():
    kpis = KpiCollector()
    model = SIR(seed=2, kpis=kpis).run(3)
    assert model.kpis is kpis and len(kpis) == 3
    assert SIR(seed=2).run(2).kpis.to_frame().height == 2


def _finished(**kwargs):
    model = SIR(seed=1, n=50, **kwargs).run(3)
    model.close()
    return weakref.ref(model)


def test_a_closed_model_is_garbage_collected():
    ref = _finished()
    gc.collect()
    assert ref() is None


@pytest.mark.skipif(not hasattr(mesa.Agent, "_ids"), reason="only Mesa 3.3 keeps models alive")
def test_mesa_33_keeps_unclosed_models_alive():
    def unclosed():
        return weakref.ref(SIR(seed=1, n=20).run(1))

    ref = unclosed()
    gc.collect()
    model = ref()
    assert model is not None  # why close() matters on Mesa 3.3
    assert model in mesa.Agent._ids
    model.close()
    assert model not in mesa.Agent._ids
    del model
    gc.collect()
    assert ref() is None


# ------------------------------------------------------------------------------ bad input


def test_duplicate_agent_type():
    model = SIR(seed=1, n=10)
    with pytest.raises(ConfigError, match="`Person` is already registered.*Hint: add agents"):
        model.add_agent_type(Person, 5)


def test_unknown_table_and_column():
    model = SIR(seed=1, n=10)
    with pytest.raises(ConfigError, match="`Holder` is not registered.*Hint"):
        model.table(Holder)
    with pytest.raises(ConfigError, match="no column `stat`. Hint: did you mean `state`"):
        model.table(Person)["stat"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": 1.5}, "`seed` must be a non-negative integer"),
        ({"seed": True}, "`seed` must be"),
        ({"seed": 1, "agent_classes": {Person: Holder}}, "not a subclass"),
        ({"seed": 1, "event_log": "run"}, "must be an EventLog"),
        ({"seed": 1, "kpis": []}, "must be a KpiCollector"),
    ],
)
def test_bad_model_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SIR(**kwargs)


def test_bad_rules():
    with pytest.raises(ConfigError, match="tuple of rule names"):

        class _Str(SynthModel):
            rules = "infect"

    with pytest.raises(ConfigError, match="method of SynthModel itself"):

        class _Step(SynthModel):
            rules = ("step",)

    with pytest.raises(ConfigError, match="lists `a` twice"):

        class _Twice(SynthModel):
            rules = ("a", "b", "a")

    class Missing(SynthModel):
        rules = ("transmit",)

    with pytest.raises(ConfigError, match="rule `transmit`.*Hint: define `def transmit"):
        Missing(seed=1).step()

    class Clash(SynthModel):
        rules = ("state",)

    with pytest.raises(ConfigError, match="`Person.state` is a column and also a rule"):
        Clash(seed=1).add_agent_type(Person, 3)


def test_lazy_types_refuse_per_agent_rules():
    class Lazy(SIR):
        def __init__(self, **kwargs):
            SynthModel.__init__(self, seed=1, **kwargs)
            self.add_agent_type(Person, 10, create_views=False)

    assert len(Lazy().agents) == 0
    with pytest.raises(ConfigError, match="rule `recover` per agent.*create_views=False"):
        Lazy(agent_classes={Person: PerAgentPerson})
    with pytest.raises(ConfigError, match="`step\\(\\)` per agent"):
        Lazy(agent_classes={Person: Counting})


def test_bad_run_and_add_arguments():
    model = SIR(seed=1, n=10)
    with pytest.raises(ConfigError, match="`steps` must be an integer"):
        model.run(2.5)
    with pytest.raises(ConfigError, match=">= 0"):
        model.run(-1)
    with pytest.raises(ConfigError, match="subclass of ColumnAgent"):
        model.add_agent_type(mesa.Agent, 3)
    with pytest.raises(ConfigError, match="`step` must be an integer step"):
        model.schedule("3", "count")


def test_a_replicate_model_records_the_root_seed():
    from abm.rng import Streams

    model = SynthModel(seed=Streams(5).replicate(2))
    assert model.seed == 5
    assert SynthModel(seed=7).seed == 7
    model.close()
