"""Sobol and Morris sensitivity (`abm.experiments.sensitivity`) against known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from abm.experiments import sensitivity
from populations.errors import ConfigError
from scenarios.outbreak import SCENARIO

A, B = 7.0, 0.1
PI = math.pi
# Ishigami & Homma (1990), analytic variances for x_i ~ U(-pi, pi)
V = A**2 / 8 + B * PI**4 / 5 + B**2 * PI**8 / 18 + 0.5
V1 = 0.5 * (1 + B * PI**4 / 5) ** 2
V2 = A**2 / 8
V13 = B**2 * PI**8 * (1 / 18 - 1 / 50)
S1 = {"x1": V1 / V, "x2": V2 / V, "x3": 0.0}
ST = {"x1": (V1 + V13) / V, "x2": V2 / V, "x3": V13 / V}
ISHIGAMI_RANGES = {name: (-PI, PI) for name in ("x1", "x2", "x3")}


def ishigami(x):
    return np.sin(x["x1"]) + A * np.sin(x["x2"]) ** 2 + B * x["x3"] ** 4 * np.sin(x["x1"])


def test_analytic_values():
    assert [round(S1[k], 3) for k in S1] == [0.314, 0.442, 0.0]
    assert [round(ST[k], 3) for k in ST] == [0.558, 0.442, 0.244]


@pytest.fixture(scope="module")
def sobol():
    return sensitivity(ishigami, ISHIGAMI_RANGES, samples=1024, seed=11, vectorized=True)


def test_sobol_indices_of_ishigami_match_the_analytic_values(sobol):
    indices = sobol.to_frame()
    assert indices.columns == ["parameter", "outcome", "index", "value", "conf"]
    assert set(indices["index"]) == {"S1", "ST"} and set(indices["outcome"]) == {"y"}
    for index, truth in (("S1", S1), ("ST", ST)):
        rows = indices.filter(pl.col("index") == index)
        assert rows["parameter"].to_list() == ["x1", "x2", "x3"]
        for row in rows.iter_rows(named=True):
            error = abs(row["value"] - truth[row["parameter"]])
            # 1024 base samples (5120 runs): errors of about 0.01, bootstrap half-widths of
            # 0.02-0.06; the 95% interval covers the analytic value.
            assert error < 0.05, (index, row)
            assert 0 < row["conf"] < 0.1, (index, row)
            assert error <= row["conf"], (index, row)


def test_sobol_runs_and_design(sobol):
    assert sobol.method == "sobol"
    assert sobol.design.height == 1024 * (3 + 2)  # Saltelli without second order: N (D + 2)
    assert sobol.design.columns == ["point", "x1", "x2", "x3"]
    assert sobol.design["x1"].min() >= -PI and sobol.design["x1"].max() <= PI
    assert sobol.results.columns == ["point", "replicate", "seed", "outcome", "value"]
    x = {k: sobol.design[k].to_numpy() for k in ("x1", "x2", "x3")}
    assert np.allclose(sobol.results["value"].to_numpy(), ishigami(x))


def test_second_order_finds_the_x1_x3_interaction():
    result = sensitivity(
        ishigami, ISHIGAMI_RANGES, samples=1024, seed=4, vectorized=True, second_order=True
    )
    assert result.design.height == 1024 * (2 * 3 + 2)
    s2 = {r["parameter"]: r for r in result.indices.filter(index="S2").iter_rows(named=True)}
    assert sorted(s2) == ["x1,x2", "x1,x3", "x2,x3"]
    assert s2["x1,x3"]["value"] == pytest.approx(V13 / V, abs=0.1)  # 0.244
    assert abs(s2["x1,x2"]["value"]) < 0.1 and abs(s2["x2,x3"]["value"]) < 0.1


def test_a_plain_function_point_by_point_gives_the_same_indices():
    def point_by_point(x):
        return {"y": ishigami({k: np.array(v) for k, v in x.items()}).item(), "twice": 2.0}

    a = sensitivity(point_by_point, ISHIGAMI_RANGES, samples=64, seed=2)
    b = sensitivity(ishigami, ISHIGAMI_RANGES, samples=64, seed=2, vectorized=True)
    assert a.indices.filter(outcome="y").equals(b.indices)
    # an outcome that never varies has no variance to share out: no Sobol indices
    assert a.indices.filter(outcome="twice")["value"].is_null().all()


def test_morris_on_a_linear_function_gives_its_slopes():
    # y = 3 a - 2 b + 0 c: every elementary effect of a parameter is its slope times its range
    def linear(x):
        return 3 * x["a"] - 2 * x["b"] + 0 * x["c"]

    ranges = {"a": (0.0, 2.0), "b": (-1.0, 4.0), "c": (0.0, 1.0)}
    result = sensitivity(linear, ranges, method="morris", samples=8, seed=5, vectorized=True)
    assert result.design.height == 8 * (3 + 1)
    got = {(r["parameter"], r["index"]): r for r in result.indices.iter_rows(named=True)}
    assert got["a", "mu_star"]["value"] == pytest.approx(3 * 2)
    assert got["b", "mu_star"]["value"] == pytest.approx(2 * 5)
    assert got["b", "mu"]["value"] == pytest.approx(-2 * 5)
    assert got["c", "mu_star"]["value"] == pytest.approx(0)
    for p in "abc":
        assert got[p, "sigma"]["value"] == pytest.approx(0, abs=1e-9)
        assert got[p, "mu_star"]["conf"] == pytest.approx(0, abs=1e-9)
        assert got[p, "sigma"]["conf"] is None


def test_morris_on_ishigami_known_effects():
    # With 4 levels a step moves a parameter by 2/3 of its range: -pi <-> pi/3 or -pi/3 <-> pi.
    # x2: a sin^2 x2 changes by +-0.75 a each time, so mu_star = 0.75 a / (2/3) = 7.875 exactly,
    # with both signs equally likely (mu near 0); x1: sin x1 always rises by 0.866 (mu = mu_star);
    # x3 acts only through x3^4 sin x1, whose sign follows x1: effects of both signs (sigma > 0).
    result = sensitivity(
        ishigami, ISHIGAMI_RANGES, method="morris", samples=200, seed=1, vectorized=True
    )
    got = {(r["parameter"], r["index"]): r["value"] for r in result.indices.rows(named=True)}
    assert got["x2", "mu_star"] == pytest.approx(0.75 * A / (2 / 3))
    assert abs(got["x2", "mu"]) < 0.25 * got["x2", "mu_star"]
    assert got["x1", "mu"] == pytest.approx(got["x1", "mu_star"])
    assert got["x3", "sigma"] > 0 and abs(got["x3", "mu"]) < 0.4 * got["x3", "mu_star"]


def test_same_seed_same_indices_other_seed_other_samples():
    a = sensitivity(ishigami, ISHIGAMI_RANGES, samples=32, seed=3, vectorized=True)
    b = sensitivity(ishigami, ISHIGAMI_RANGES, samples=32, seed=3, vectorized=True)
    c = sensitivity(ishigami, ISHIGAMI_RANGES, samples=32, seed=4, vectorized=True)
    assert a.indices.equals(b.indices) and a.design.equals(b.design)
    assert not a.design.equals(c.design)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"samples": 100}, r"power of two.*got 100\. Hint: 64 or 128"),
        ({"samples": 64, "method": "sobl"}, r"unknown sensitivity method `sobl`.*`sobol`"),
        ({"samples": 64, "replicates": 2}, "`replicates`, `processes`, `baseline` and `out`"),
        ({"samples": 64, "confidence": 1.5}, r"`confidence` must be in \(0, 1\)"),
        ({"samples": 1}, "`samples` must be an integer >= 2"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        sensitivity(ishigami, ISHIGAMI_RANGES, seed=1, vectorized=True, **kwargs)


def test_a_list_of_values_is_not_a_range():
    with pytest.raises(ConfigError, match="needs a range LOW:HIGH.*`x2` is given a list"):
        sensitivity(ishigami, ["x1=0:1", "x2=0,1"], samples=8, seed=1)
    with pytest.raises(ConfigError, match="returned 3 values of `y` for 32 points"):
        sensitivity(lambda x: np.zeros(3), ["x1=0:1", "x2=0:1"], samples=8, seed=1,
                    vectorized=True)  # fmt: skip


# --------------------------------------------------------------------------- on a scenario


@pytest.fixture(scope="module")
def kwargs(demo_population):
    _, pop = demo_population
    persons = pop.persons.filter(pl.col("household_id") % 20 == 0)
    return {"persons": persons, "create_views": False}


def test_morris_on_the_outbreak_writes_its_folder(tmp_path, kwargs):
    out = tmp_path / "sens"
    vary = ["beta_community=0.01:0.06", "vaccination.coverage=0:0.9"]
    result = sensitivity(
        SCENARIO, vary, method="morris", samples=3, seed=2, baseline=["days=15"],
        build_kwargs=kwargs, out=out,
    )  # fmt: skip
    assert result.executed == 3 * (2 + 1)
    assert sorted(p.name for p in out.iterdir()) == [
        "design.parquet", "indices.parquet", "manifest.json", "results.parquet", "runs",
    ]  # fmt: skip
    assert pl.read_parquet(out / "indices.parquet").equals(result.indices)
    assert pl.read_parquet(out / "design.parquet").equals(result.design)
    assert pl.read_parquet(out / "results.parquet").equals(result.results)
    infections = {
        r["parameter"]: r["value"]
        for r in result.indices.filter(outcome="new_infections_sum", index="mu_star").rows(
            named=True
        )
    }
    # vaccination starts on day 30, after the 15 days run: only transmission matters
    assert infections["beta_community"] > 0 and infections["vaccination.coverage"] == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "sensitivity" and manifest["method"] == "morris"
    assert manifest["vary"] == {
        "beta_community": {"low": 0.01, "high": 0.06, "type": "number"},
        "vaccination.coverage": {"low": 0.0, "high": 0.9, "type": "number"},
    }
    assert manifest["replicates"] == 1 and manifest["seed"] == 2
    assert manifest["complete"] is True
    again = sensitivity(
        SCENARIO, vary, method="morris", samples=3, seed=2, baseline=["days=15"],
        build_kwargs=kwargs, out=out,
    )  # fmt: skip
    assert again.executed == 0 and again.indices.equals(result.indices)
