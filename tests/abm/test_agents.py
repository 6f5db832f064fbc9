"""Columns and ColumnAgent: numpy columns seen through real Mesa agents."""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import polars as pl
import pytest

from abm.agents import ColumnAgent, Columns, column
from abm.model import SynthModel, agent_vars
from populations.errors import ConfigError


class Person(ColumnAgent):
    age = column(np.int16, default=30)
    wealth = column(np.float64, default=1.0)
    sick = column(bool, default=False)


class Firm(ColumnAgent):
    size = column(np.int32, default=1)


class Worker(Person):
    """Inherits Person's columns and adds one."""

    firm = column(np.int64, default=-1)


def model_with(n=10, **kwargs):
    model = SynthModel(seed=1)
    table = model.add_agent_type(Person, n, **kwargs)
    return model, table


# ------------------------------------------------------------------------------ Columns


def test_columns_grow_and_keep_data():
    cols = Columns(Person.column_specs())
    assert cols.n == 0 and cols.capacity == 0
    first = cols.add(3, data={"age": [1, 2, 3]})
    assert first.tolist() == [0, 1, 2]
    for k in range(100):
        cols.add(1, data={"age": [k + 4]})
    assert cols.n == 103 and cols.capacity >= 103
    assert cols.capacity < 2 * 103 + 16  # doubling, not one array per add
    assert cols["age"].tolist() == list(range(1, 104))
    assert cols["wealth"].tolist() == [1.0] * 103
    assert cols["sick"].dtype == np.bool_ and not cols["sick"].any()
    assert cols.ids.tolist() == list(range(103))
    assert cols["age"].shape == (103,)


def test_columns_views_write_through():
    cols = Columns({"x": column(np.int64)})
    cols.add(5)
    cols["x"][cols.where(np.arange(5) % 2 == 0)] = 7
    assert cols["x"].tolist() == [7, 0, 7, 0, 7]
    cols["x"] = 3
    cols["x"] = np.arange(5)
    assert cols["x"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="has 5 rows, got values of shape \\(4,\\)"):
        cols["x"] = np.arange(4)
    with pytest.raises(ConfigError, match="expects int64 values, got float64"):
        cols["x"] = np.ones(5)


def test_removal_is_a_tombstone_and_ids_are_never_reused():
    cols = Columns(Person.column_specs())
    cols.add(6, data={"age": np.arange(6)})
    cols.remove([1, 4, 4])
    cols.remove([1])  # idempotent
    assert cols.n == 6 and cols.n_alive == 4
    assert cols.alive.tolist() == [True, False, True, True, False, True]
    assert cols.where().tolist() == [0, 2, 3, 5]
    assert cols.where(cols["age"] < 4).tolist() == [0, 2, 3]
    assert cols["age"].tolist() == list(range(6))  # rows keep their values
    assert cols.add(2).tolist() == [6, 7]
    assert cols.ids.tolist() == list(range(8))
    assert cols.to_polars()["id"].to_list() == [0, 2, 3, 5, 6, 7]
    assert cols.to_polars(include_removed=True).height == 8
    with pytest.raises(ValueError, match="read-only"):
        cols.alive[0] = False
    with pytest.raises(ConfigError, match="not a mask"):
        cols.remove(cols.alive)


def test_explicit_ids_from_a_frame():
    frame = pl.DataFrame({"person_id": [10, 30, 20], "age": [5, 6, 7]})
    cols = Columns(Person.column_specs())
    cols.add(data=frame, ids="person_id")
    assert cols.ids.tolist() == [10, 30, 20]
    assert "person_id" not in cols
    assert cols.rows_of([20, 10]).tolist() == [2, 0]
    assert cols.add(2).tolist() == [3, 4]
    assert cols.ids.tolist() == [10, 30, 20, 31, 32]  # next ids follow the largest
    assert cols.rows_of(32) == 4
    with pytest.raises(ConfigError, match="no agent with id 11"):
        cols.rows_of([11])
    with pytest.raises(ConfigError, match="id 30 is given more than once"):
        cols.add(data={"age": [1]}, ids=[30])
    with pytest.raises(ConfigError, match="non-negative"):
        cols.add(1, ids=[-1])


@pytest.mark.parametrize("kind", ["polars", "pandas", "dict"])
def test_data_is_copied_in_from_frames(kind):
    data = {"age": np.array([20, 40, 60], np.int64), "wealth": np.array([1.5, 2.5, 3.5])}
    frame = {"polars": pl.DataFrame, "pandas": pd.DataFrame, "dict": dict}[kind](data)
    model, people = model_with(0)
    model.add_agents(Person, frame)
    assert people["age"].dtype == np.int16
    assert people["age"].tolist() == [20, 40, 60]
    people["wealth"][:] = 0.0  # our own, writeable copy (pandas 3 hands out read-only arrays)
    source = frame["wealth"] if kind != "polars" else frame["wealth"].to_numpy()
    assert list(source) == [1.5, 2.5, 3.5]
    assert len(model.agents) == 3


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"agee": [1]}, "unknown column `agee` in the data. Hint: did you mean `age`"),
        ({"age": [1.5]}, "column `age` expects int16 values, got float64. Hint: round"),
        ({"age": [40_000]}, "outside the range of int16"),
        ({"age": ["old"]}, "expects int16 values, got <U3"),
        ({"age": [1, 2], "wealth": [1.0]}, "different lengths"),
        (pl.DataFrame({"age": [1, None]}), "`age` has 1 missing value"),
        (pd.DataFrame({"wealth": [1.0, np.nan], "age": [1, 2]}), "`wealth` has 1 missing"),
        (pd.DataFrame({"age": ["a", "b"]}), "expects int16 values, got Python objects"),
        ([1, 2, 3], "cannot read agent data from list"),
    ],
)
def test_bad_agent_data(data, match):
    model, _ = model_with(0)
    with pytest.raises(ConfigError, match=match):
        model.add_agents(Person, data)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: column("no-such-dtype"), "is not a numpy dtype"),
        (lambda: column(np.dtype("U5")), "cannot be a column"),
        (lambda: column(np.int8, default=300), "outside the range of int8"),
        (lambda: column(np.int64, default=0.5), "expects int64 values, got float64"),
        (lambda: column(np.float64, default=[1.0]), "must be a scalar"),
        (lambda: Columns({"alive": column()}), "kept by the table itself"),
        (lambda: Columns({"x": np.int8}), "must be declared with column"),
    ],
)
def test_bad_column_declarations(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_reserved_attribute_names():
    with pytest.raises(ConfigError, match="`Bad.model` cannot be a column"):

        class Bad(ColumnAgent):
            model = column(np.int8)

    with pytest.raises(ConfigError, match="`Bad2.step` cannot be a column"):

        class Bad2(ColumnAgent):
            step = column(np.int8)


# ------------------------------------------------------------------------------ ColumnAgent


def test_agents_are_views_of_their_row():
    model, people = model_with(4)
    agents = list(model.agents_by_type[Person])
    assert [a.row for a in agents] == [0, 1, 2, 3] and [a.id for a in agents] == [0, 1, 2, 3]
    assert all(isinstance(a, mesa.Agent) for a in agents)
    a = people.agent(2)
    assert a is agents[2]
    a.age += 5
    a.sick = True
    assert people["age"].tolist() == [30, 30, 35, 30]
    assert people["sick"].tolist() == [False, False, True, False]
    people["wealth"][2] = 9.5
    assert a.wealth == 9.5
    assert type(a.age) is int and type(a.wealth) is float and type(a.sick) is bool
    assert Person.age.dtype == np.int16 and "default=30" in repr(Person.age)
    assert "id=2" in repr(a) and "alive=4" in repr(people)


def test_views_survive_growth():
    model, people = model_with(2)
    a = people.agent(0)
    model.add_agents(Person, 100)
    a.age = 99
    assert people["age"][0] == 99 and len(model.agents) == 102


def test_mesa_style_creation_appends_rows():
    model = SynthModel(seed=1)
    created = Person.create_agents(model, 3, age=[1, 2, 3])
    assert len(created) == 3
    people = model.table(Person)
    assert people["age"].tolist() == [1, 2, 3]
    Person(model, wealth=4.0)
    assert people.n == 4 and people["wealth"].tolist() == [1.0, 1.0, 1.0, 4.0]
    with pytest.raises(ConfigError, match="no column `welth`"):
        Person(model, welth=1.0)
    with pytest.raises(ConfigError, match="needs a SynthModel"):
        Person(mesa.Model(rng=1))


def test_inherited_columns_and_several_types():
    model = SynthModel(seed=1)
    model.add_agent_type(Person, 2)
    workers = model.add_agent_type(Worker, {"firm": [7, 8, 9]})
    model.add_agent_type(Firm, 2)
    assert workers.names == ["age", "wealth", "sick", "firm"]
    assert workers["firm"].tolist() == [7, 8, 9] and workers["age"].tolist() == [30] * 3
    assert {t.__name__: len(s) for t, s in model.agents_by_type.items()} == {
        "Person": 2,
        "Worker": 3,
        "Firm": 2,
    }
    assert len(model.agents) == 7
    with pytest.raises(ConfigError, match="several registered agent types"):
        SynthModel(seed=1).add_agent_type(Person, 1).model.add_agent_type(Worker, 1).model.table(
            ColumnAgent
        )


def test_agentset_methods_on_column_agents():
    model, people = model_with(6)
    people["age"] = np.array([10, 20, 30, 40, 50, 60])
    people["sick"] = np.array([True, False, True, False, False, True])
    agents = model.agents
    assert len(agents.select(lambda a: a.age > 25)) == 4
    assert agents.select(lambda a: a.sick).get("age") == [10, 30, 60]
    assert agents.agg("age", sum) == 210
    assert agents.agg("wealth", max) == 1.0
    assert agents.groupby("sick").count() == {True: 3, False: 3}
    assert agents.groupby("sick").agg("age", sum) == {True: 100, False: 110}
    agents.select(lambda a: a.age >= 40).set("wealth", 5.0)
    assert people["wealth"].tolist() == [1.0, 1.0, 1.0, 5.0, 5.0, 5.0]
    agents.do(lambda a: setattr(a, "age", a.age + 1))
    assert people["age"].tolist() == [11, 21, 31, 41, 51, 61]
    assert sorted(agents.map("__getattribute__", "id")) == list(range(6))
    agents.shuffle_do(lambda a: setattr(a, "wealth", a.wealth * 2))
    assert people["wealth"].sum() == 36.0


def test_datacollector_agent_reporters():
    model, people = model_with(3)
    model.datacollector = mesa.DataCollector(
        model_reporters={"total": lambda m: float(m.table(Person)["wealth"].sum())},
        agent_reporters={"wealth": "wealth", "old": lambda a: a.age > 30},
    )
    model.collect()
    people["wealth"][1] = 10.0
    people["age"][2] = 80
    model.step()
    frame = agent_vars(model.datacollector)
    assert frame.index.get_level_values("Step").tolist() == [0, 0, 0, 1, 1, 1]
    assert frame["wealth"].tolist() == [1.0, 1.0, 1.0, 1.0, 10.0, 1.0]
    assert frame["old"].tolist() == [False] * 5 + [True]
    assert model.datacollector.get_model_vars_dataframe()["total"].tolist() == [3.0, 12.0]


def test_agent_removal_keeps_columns_consistent():
    model, people = model_with(5)
    people["age"] = np.arange(5)
    people.agent(1).remove()
    model.remove_agents(Person, [3])
    assert people.alive.tolist() == [True, False, True, False, True]
    assert people.n_alive == len(model.agents) == len(model.agents_by_type[Person]) == 3
    assert model.agents.get("age") == [0, 2, 4]
    assert people.where(people["age"] > 0).tolist() == [2, 4]
    rows = model.add_agents(Person, 2)
    assert rows.tolist() == [5, 6] and people.ids.tolist() == list(range(7))
    with pytest.raises(ConfigError, match="no live agent at row 3"):
        people.agent(3)
    model.remove_all_agents()
    assert people.n_alive == 0 and people.where().size == 0


def test_lazy_views_only_exist_on_demand():
    model, people = model_with(1000, create_views=False)
    assert people.n == 1000 and len(model.agents) == 0 and people.n_views == 0
    a = people.agent(500)
    assert people.agent(500) is a and len(model.agents) == 1
    a.wealth = 3.0
    assert people["wealth"][500] == 3.0
    assert model.agents.agg("wealth", sum) == 3.0
    rows = model.add_agents(Person, 10)
    assert people.n == 1010 and len(model.agents) == 1  # still lazy
    people.remove(rows[:5])
    people.remove([500])
    assert len(model.agents) == 0 and people.n_alive == 1004
    assert len(people.agents(people.where(people["age"] == 30)[:3])) == 3


def test_bare_columns_have_no_views():
    cols = Columns(Person.column_specs())
    cols.add(2)
    with pytest.raises(ConfigError, match="belongs to no model"):
        cols.agent(0)


def test_ids_as_an_array_beside_frame_data():
    import polars as pl

    cols = Columns({"w": column(np.float64)}, name="t")
    rows = cols.add(data=pl.DataFrame({"w": [1.0, 2.0]}), ids=np.array([10, 20]))
    assert cols.ids[rows].tolist() == [10, 20]
