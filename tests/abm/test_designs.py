"""Designs over parameters (`abm.experiments.designs`): grid, random, Latin hypercube, factors."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest

from abm.experiments import (
    Design,
    Factor,
    factors,
    grid_design,
    lhs_design,
    make_design,
    random_design,
)
from abm.experiments.designs import split_items
from abm.params import param
from populations.errors import ConfigError
from scenarios.outbreak import OutbreakParams


@dataclass(frozen=True)
class Inner:
    rate: float = param(0.5, low=0, high=1, help="a rate")


@dataclass(frozen=True)
class Params:
    beta: float = param(0.05, low=0, high=1, help="transmission")
    days: int = param(100, low=1, help="days")
    mode: str = param("a", choices=("a", "b", "c"), help="a mode")
    flag: bool = param(False, help="a switch")
    inner: Inner = param(Inner(), help="a table")


def test_grid_is_every_combination_first_factor_slowest():
    found = factors(["beta=0.1:0.3", "mode=a,c", "days=10:30"], Params)
    design = grid_design(found, levels=3)
    assert design.points == 3 * 2 * 3
    assert design.frame.columns == ["point", "beta", "mode", "days"]
    assert design.frame.schema["beta"] == pl.Float64
    assert design.frame.schema["days"] == pl.Int64
    expected = list(itertools.product([0.1, 0.2, 0.3], ["a", "c"], [10, 20, 30]))
    got = design.frame.drop("point").rows()
    assert len(got) == len(expected)
    for row, want in zip(got, expected, strict=True):
        assert row[0] == pytest.approx(want[0]) and row[1:] == want[1:]
    assert design.frame["point"].to_list() == list(range(18))
    assert design.settings == {"levels": 3}


def test_grid_levels_of_a_whole_number_range_do_not_repeat():
    (days,) = factors(["days=1:3"], Params)
    assert days.integer
    assert days.levels(5) == [1, 2, 3]  # 1, 1.5, 2, 2.5, 3 rounded, without repeats
    assert days.levels(2) == [1, 3]
    assert grid_design([days], levels=5).points == 3


def test_lhs_puts_one_point_in_each_stratum_of_every_factor():
    found = factors(["beta=0.2:0.6", "inner.rate=0:1", "days=1:40", "mode=a,b"], Params)
    n = 40
    design = lhs_design(found, points=n, seed=3)
    frame = design.frame
    assert frame.height == n
    for name, low, high in [("beta", 0.2, 0.6), ("inner.rate", 0.0, 1.0)]:
        strata = np.floor((frame[name].to_numpy() - low) / (high - low) * n).astype(int)
        assert sorted(strata) == list(range(n)), name
    # a whole-number range of 40 values over 40 points: each integer exactly once
    assert sorted(frame["days"].to_list()) == list(range(1, 41))
    # two values over 40 strata: each value takes half of them
    assert frame["mode"].value_counts().sort("mode").rows() == [("a", 20), ("b", 20)]


def test_random_design_stays_in_range_and_hits_every_integer_alike():
    found = factors(["beta=0.2:0.6", "days=1:4"], Params)
    frame = random_design(found, points=4000, seed=9).frame
    assert frame["beta"].min() >= 0.2 and frame["beta"].max() < 0.6
    counts = frame["days"].value_counts().sort("days")
    assert counts["days"].to_list() == [1, 2, 3, 4]
    # each of 4 integers has probability 1/4: 1000 +- 5 sd (sd = sqrt(4000 * 0.25 * 0.75) = 27)
    assert all(abs(c - 1000) < 5 * 27.4 for c in counts["count"])


def test_designs_are_reproducible_from_their_seed():
    found = factors(["beta=0:1", "days=1:50"], Params)
    for make in (random_design, lhs_design):
        a = make(found, points=12, seed=4).frame
        assert a.equals(make(found, points=12, seed=4).frame)
        assert not a.equals(make(found, points=12, seed=5).frame)
    assert make_design("lhs", found, points=12, seed=4).frame.equals(
        lhs_design(found, points=12, seed=4).frame
    )


def test_a_unit_uniform_maps_onto_the_range():
    beta = Factor("beta", low=0.5, high=1.5)
    assert beta.from_unit(np.array([0.0, 0.5, 1.0])) == [0.5, 1.0, 1.5]
    days = Factor("days", low=3, high=5, integer=True)
    assert days.from_unit(np.array([0.0, 0.33, 0.34, 0.66, 0.67, 0.999, 1.0])) == [
        3, 3, 4, 4, 5, 5, 5,
    ]  # fmt: skip
    mode = Factor("mode", values=("a", "b"))
    assert mode.from_unit(np.array([0.0, 0.49, 0.5, 1.0])) == ["a", "a", "b", "b"]


def test_values_are_converted_as_the_parameter_holds_them():
    beta, flag, mode = factors(["beta=0,1", "flag=true,false", "mode=b"], Params)
    assert beta.values == (0.0, 1.0) and all(isinstance(v, float) for v in beta.values)
    assert flag.values == (True, False)
    assert mode.values == ("b",)
    frame = grid_design([beta, flag]).frame
    assert frame.schema["beta"] == pl.Float64 and frame.schema["flag"] == pl.Boolean


def test_a_mapping_gives_ranges_as_pairs_and_values_as_lists():
    found = factors({"beta": (0.1, 0.2), "mode": ["a", "b"]}, Params)
    assert found[0] == Factor("beta", low=0.1, high=0.2)
    assert found[1].values == ("a", "b")


def test_without_parameters_factors_are_plain_numbers():
    x, y = factors(["x=-1:2.5", "y=1,2.5"])
    assert (x.low, x.high, x.integer) == (-1.0, 2.5, False)
    assert y.values == (1, 2.5)


def test_custom_design_from_a_frame():
    design = Design.from_frame(pl.DataFrame({"beta": [0.1, 0.2, 0.1], "days": [5, 5, 9]}))
    assert design.kind == "custom"
    assert design.frame.columns == ["point", "beta", "days"]
    assert design.point(2) == {"beta": 0.1, "days": 9}


def test_manifest_records_the_ranges_and_values():
    found = factors(["beta=0.1:0.3", "mode=a,c"], Params)
    record = grid_design(found, levels=2).to_manifest()
    assert record["design"] == "grid"
    assert record["vary"] == {
        "beta": {"low": 0.1, "high": 0.3, "type": "number"},
        "mode": {"values": ["a", "c"]},
    }
    assert record["points"] == 4


def test_split_items_keeps_brackets_and_quotes_whole():
    assert split_items("a=[1,2],b='x,y', c=3") == ["a=[1,2]", "b='x,y'", "c=3"]


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        (["beta=0.1:0.2", "bta=0:1"], r"unknown parameter `bta`\. Hint: did you mean `beta`\?"),
        (["inner.rat=0:1"], r"unknown parameter `inner\.rat`\. Hint: did you mean `inner\.rate`"),
        (["inner=0:1"], r"`inner` is a table of parameters.*e\.g\. `inner\.rate`"),
        (["beta"], r"vary `beta`: expected KEY=LOW:HIGH or KEY=V1,V2"),
        (["beta=0.1:"], r"vary `beta`: expected LOW:HIGH \(two numbers\), got `0\.1:`"),
        (["beta=0.1:0.2:0.3"], r"expected LOW:HIGH \(two numbers\)"),
        (["beta=0.3:0.1"], r"LOW must be below HIGH, got 0\.3:0\.1\. Hint: beta=0\.1:0\.3"),
        (["beta=0.1:0.1"], r"LOW must be below HIGH"),
        (["beta=low:0.3"], r"vary `beta`: LOW `low` is not a number"),
        (["beta=0.1:nan"], r"HIGH must be a finite number"),
        (["beta=x,y"], r"parameter `beta` expects a number, found 'x'"),
        (["beta=0:2"], r"vary `beta`: parameter `beta` = 2\.0 is out of range"),
        (["days=1.5:9"], r"`days`: the parameter is a whole number, but LOW is `1\.5`"),
        (["mode=0:1"], r"`mode` = '0:1' is not allowed: expected one of `a`, `b`, `c`"),
        (["flag=0:1"], r"a range LOW:HIGH needs a number parameter.*Hint: .*flag=true,false"),
        (["mode=a,d"], r"`mode` = 'd' is not allowed"),
        (["beta=0:1", "beta=0:0.5"], r"`beta` is varied twice"),
        ("beta=0:1", r"`vary` must be a list"),
    ],
)
def test_bad_factors_say_what_is_wrong(vary, message):
    with pytest.raises(ConfigError, match=message):
        factors(vary, Params)


def test_outbreak_names_are_checked_with_a_hint():
    with pytest.raises(ConfigError, match="did you mean `vaccination.coverage`"):
        factors(["vaccination.coverag=0:1"], OutbreakParams)
    (coverage,) = factors(["vaccination.coverage=0:0.8"], OutbreakParams)
    assert (coverage.low, coverage.high) == (0.0, 0.8)


def test_bad_design_arguments():
    found = factors(["beta=0:1"], Params)
    with pytest.raises(ConfigError, match="unknown design `lhc`.*did you mean `lhs`"):
        make_design("lhc", found, points=3, seed=1)
    with pytest.raises(ConfigError, match="needs a number of points"):
        make_design("random", found, seed=1)
    with pytest.raises(ConfigError, match="`levels` must be an integer >= 2"):
        grid_design(found, levels=1)
    with pytest.raises(ConfigError, match="`points` must be an integer >= 1"):
        lhs_design(found, points=0, seed=1)
    with pytest.raises(ConfigError, match="at least one factor"):
        grid_design([])
