"""What-if experiments: paired replicates with common random numbers (`abm.experiments`)."""

from __future__ import annotations

import polars as pl
import pytest

from abm.experiments import WhatIfResult, default_summary, replicate_kpis, what_if
from abm.params import read_params
from abm.replicates import replicate_seed
from populations.errors import ConfigError
from scenarios.outbreak import SCENARIO, OutbreakParams

BASE = ["days=50", "initial_infections=30"]
VACCINATE = ["vaccination.coverage=0.8", "vaccination.start_day=5"]
N = 12


@pytest.fixture(scope="module")
def kwargs(demo_population):
    """Every tenth household of the demo city (about 10,000 persons), no Mesa views."""
    _, pop = demo_population
    persons = pop.persons.filter(pl.col("household_id") % 10 == 0)
    return {"persons": persons, "create_views": False}


def compare(kwargs, *, crn: bool, n: int = N) -> WhatIfResult:
    return what_if(
        SCENARIO,
        BASE,
        {"same": [], "vaccinate": VACCINATE},
        seed=3,
        n=n,
        common_random_numbers=crn,
        build_kwargs=kwargs,
    )


@pytest.fixture(scope="module")
def crn(kwargs):
    return compare(kwargs, crn=True)


@pytest.fixture(scope="module")
def independent(kwargs):
    return compare(kwargs, crn=False)


def row(result: WhatIfResult, policy: str, outcome: str) -> dict:
    frame = result.to_frame().filter(pl.col("policy") == policy, pl.col("outcome") == outcome)
    assert frame.height == 1
    return frame.row(0, named=True)


def test_result_shape(crn):
    frame = crn.to_frame()
    assert frame.columns == [
        "policy", "outcome", "n", "baseline_mean", "policy_mean", "diff_mean", "diff_sd",
        "diff_se", "ci_low", "ci_high",
    ]  # fmt: skip
    assert set(frame["policy"]) == {"same", "vaccinate"}
    assert {"new_infections_sum", "D_last", "R_last", "S_sum"} <= set(frame["outcome"])
    assert (frame["n"] == N).all()
    table = crn.replicates
    assert table.columns == ["arm", "replicate", "seed", "outcome", "value"]
    assert set(table["arm"]) == {"baseline", "same", "vaccinate"}
    assert table.filter(pl.col("arm") == "baseline")["replicate"].unique().sort().to_list() == (
        list(range(N))
    )


def test_identical_policy_differs_by_exactly_zero_under_crn(crn, independent):
    same = crn.to_frame().filter(pl.col("policy") == "same")
    assert (same["diff_mean"] == 0).all() and (same["diff_sd"] == 0).all()
    assert (same["baseline_mean"] == same["policy_mean"]).all()
    other = independent.to_frame().filter(pl.col("policy") == "same")
    assert (other["diff_sd"] > 0).any()
    assert row(independent, "same", "new_infections_sum")["diff_sd"] > 0
    assert set(independent.replicates["seed"]) == {3, 4, 5}
    assert set(crn.replicates["seed"]) == {3}


def test_vaccination_lowers_infections(crn):
    r = row(crn, "vaccinate", "new_infections_sum")
    assert r["ci_low"] <= r["diff_mean"] <= r["ci_high"] < 0
    assert r["policy_mean"] < r["baseline_mean"]


def test_crn_shrinks_the_variance_of_paired_differences(crn, independent):
    paired = row(crn, "vaccinate", "new_infections_sum")["diff_sd"] ** 2
    unpaired = row(independent, "vaccinate", "new_infections_sum")["diff_sd"] ** 2
    # About 1.5 on this 10,000-person city; the gain grows with the population
    # (bench/experiments.py measures 18x for infections on the whole demo city).
    assert unpaired / paired > 1


def test_processes_do_not_change_the_replicates(kwargs):
    runs = [
        what_if(
            SCENARIO,
            BASE,
            {"vaccinate": {"vaccination": {"coverage": 0.8}, "vaccination.start_day": 5}},
            seed=11,
            n=2,
            processes=p,
            build_kwargs=kwargs,
        )
        for p in (1, 2)
    ]
    assert runs[0].replicates.equals(runs[1].replicates)
    assert runs[0].to_frame().equals(runs[1].to_frame())


def test_replicate_kpis_are_whole_run_rows_by_replicate(kwargs):
    params = read_params(OutbreakParams, overrides=["days=10", "initial_infections=30"])
    frame = replicate_kpis(SCENARIO, params, seed=5, n=2, build_kwargs=kwargs)
    assert frame.columns == ["replicate", "step", "name", "value"]
    assert frame["replicate"].unique().sort().to_list() == [0, 1]
    model = SCENARIO.build(params, seed=replicate_seed(5, 1), **kwargs)
    with model:
        model.run(10)
    kpis = model.kpis.to_frame().filter(pl.col("zone").is_null(), pl.col("age_band").is_null())
    one = frame.filter(pl.col("replicate") == 1).drop("replicate")
    assert one.equals(kpis.select("step", "name", "value"))
    summary = default_summary(one)
    assert (
        summary["new_infections_sum"]
        == one.filter(pl.col("name") == "new_infections")["value"].sum()
    )


@pytest.mark.parametrize(
    ("policies", "match"),
    [
        ({"v": ["vaccination.coverag=0.5"]}, "policy `v`.*did you mean `vaccination.coverage`"),
        ({"v": {"vacination": {"coverage": 0.5}}}, "policy `v`.*did you mean `vaccination`"),
        ({"v": ["vaccination.coverage=2"]}, "policy `v`.*vaccination.coverage"),
        ({"baseline": []}, "policy names"),
        ({}, "non-empty"),
    ],
)
def test_bad_policies(policies, match):
    with pytest.raises(ConfigError, match=match):
        what_if(SCENARIO, BASE, policies, seed=1, n=2)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="`n` must be an integer >= 2"):
        what_if(SCENARIO, BASE, {"v": []}, seed=1, n=1)
    with pytest.raises(ConfigError, match="confidence"):
        what_if(SCENARIO, BASE, {"v": []}, seed=1, n=2, confidence=95)
    with pytest.raises(ConfigError, match="baseline: unknown parameter `dayz`"):
        what_if(SCENARIO, ["dayz=3"], {"v": []}, seed=1, n=2)
    with pytest.raises(ConfigError, match="unknown scenario"):
        replicate_kpis("outbreek", seed=1, n=1)
