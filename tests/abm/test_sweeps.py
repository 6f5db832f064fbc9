"""Sweeps (`abm.experiments.sweeps`) and their resumable folders (`abm.experiments.store`)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import polars as pl
import pytest

from abm.experiments import SweepResult, factors, grid_design, lhs_design, sweep
from abm.experiments.store import ExperimentStore
from abm.registry import load_scenario
from populations.errors import ConfigError, OutputExistsError
from scenarios.outbreak import SCENARIO, OutbreakParams
from tests.test_cli_run import install_toy

BASE = ["days=15", "initial_infections=30"]


@pytest.fixture(scope="module")
def kwargs(demo_population):
    """Every twentieth household of the demo city (about 5,000 persons), no Mesa views."""
    _, pop = demo_population
    persons = pop.persons.filter(pl.col("household_id") % 20 == 0)
    return {"persons": persons, "create_views": False}


@pytest.fixture(scope="module")
def design():
    found = factors(["beta_community=0.01:0.05", "vaccination.priority=oldest,random"],
                    OutbreakParams)  # fmt: skip
    return grid_design(found, levels=2)


def run(design, kwargs, **extra) -> SweepResult:
    return sweep(SCENARIO, design, seed=7, replicates=2, baseline=BASE, build_kwargs=kwargs,
                 **extra)  # fmt: skip


@pytest.fixture(scope="module")
def result(design, kwargs):
    return run(design, kwargs)


def test_results_are_tidy_one_row_per_run_and_outcome(result, design):
    assert result.design.equals(design.frame)
    assert result.results.columns == ["point", "replicate", "seed", "outcome", "value"]
    outcomes = result.results["outcome"].unique().to_list()
    assert {"new_infections_sum", "D_last"} <= set(outcomes)
    assert result.results.height == design.points * 2 * len(outcomes)
    runs = result.results.select("point", "replicate").unique().sort("point", "replicate")
    assert runs.rows() == [(p, r) for p in range(4) for r in range(2)]
    assert (result.results["seed"] == 7).all()
    assert result.executed == 8


def test_more_transmission_more_infections(result):
    summary = result.summary().filter(pl.col("outcome") == "new_infections_sum")
    low = summary.filter(pl.col("beta_community") == 0.01)["mean"].mean()
    high = summary.filter(pl.col("beta_community") == 0.05)["mean"].mean()
    assert high > low


def test_summary_and_frame_agree_with_the_results(result):
    summary = result.summary()
    assert summary.columns[:3] == ["point", "beta_community", "vaccination.priority"]
    row = summary.filter(pl.col("point") == 3, pl.col("outcome") == "R_last").row(0, named=True)
    values = result.results.filter(pl.col("point") == 3, pl.col("outcome") == "R_last")["value"]
    assert row["n"] == 2
    assert row["mean"] == pytest.approx(values.mean())
    assert row["sd"] == pytest.approx(values.std())
    assert row["ci_low"] < row["mean"] < row["ci_high"] or row["sd"] == 0
    frame = result.to_frame()
    assert frame.columns == [
        "point", "beta_community", "vaccination.priority", "replicate", "seed", "outcome", "value",
    ]  # fmt: skip
    assert frame.drop("beta_community", "vaccination.priority").equals(result.results)


def test_common_random_numbers_make_points_without_effect_identical(kwargs):
    # vaccination starts on day 30, after the 15 days simulated: coverage changes nothing
    found = factors(["vaccination.coverage=0,0.5,0.9"], OutbreakParams)
    design = grid_design(found)
    paired = run(design, kwargs)
    by_point = [
        paired.results.filter(pl.col("point") == p).drop("point") for p in range(design.points)
    ]
    assert by_point[0].equals(by_point[1]) and by_point[0].equals(by_point[2])
    independent = run(design, kwargs, common_random_numbers=False)
    assert independent.results.group_by("point").agg(pl.col("seed").first()).sort("point")[
        "seed"
    ].to_list() == [8, 9, 10]
    values = independent.results.filter(pl.col("outcome") == "new_infections_sum")
    assert values["value"].n_unique() > 1


def test_a_point_outside_the_parameters_rules_is_refused(kwargs):
    bad = pl.DataFrame({"school_closure.end_day": [5], "school_closure.start_day": [10]})
    with pytest.raises(ConfigError, match="design point 0: parameter `school_closure.end_day`"):
        sweep(SCENARIO, bad, seed=1, baseline=BASE, build_kwargs=kwargs)


def test_bad_arguments(design):
    with pytest.raises(ConfigError, match="`design` must be a Design"):
        sweep(SCENARIO, {"beta_community": [0.1]}, seed=1)
    with pytest.raises(ConfigError, match="`replicates` must be an integer >= 1"):
        sweep(SCENARIO, design, seed=1, replicates=0)
    with pytest.raises(ConfigError, match="baseline: unknown parameter `dayz`"):
        sweep(SCENARIO, design, seed=1, baseline=["dayz=3"])


# --------------------------------------------------------------------------- processes


@pytest.fixture
def toy(tmp_path, monkeypatch):
    install_toy(tmp_path, monkeypatch)
    yield tmp_path
    sys.modules.pop("toy_scenario", None)


def test_one_or_two_processes_give_the_same_results_and_bytes(toy):
    found = factors(["rate=0.05:0.4", "agents=20:80"], load_scenario("toy").parameters)
    design = lhs_design(found, points=3, seed=2)
    frames = {}
    for processes in (1, 2):
        out = toy / f"p{processes}"
        frames[processes] = sweep(
            "toy", design, seed=3, replicates=2, baseline={"steps": 6}, processes=processes,
            out=out,
        ).results  # fmt: skip
    assert frames[1].equals(frames[2])
    for name in ("design.parquet", "results.parquet"):
        assert (toy / "p1" / name).read_bytes() == (toy / "p2" / name).read_bytes()
    assert frames[1]["outcome"].unique().sort().to_list() == ["infected_last", "infected_sum"]


# --------------------------------------------------------------------------- resuming


def mtimes(folder) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((folder / "runs").iterdir())}


class Interrupt(Exception):
    pass


def stop_after(k: int):
    def progress(done: int, total: int) -> None:
        if done >= k:
            raise Interrupt

    return progress


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path, design, kwargs, result):
    out = tmp_path / "sweep"
    with pytest.raises(Interrupt):
        run(design, kwargs, out=out, progress=stop_after(3))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is False
    assert manifest["finished"] == ["00000-00000", "00000-00001", "00001-00000"]
    assert not (out / "results.parquet").exists()
    before = mtimes(out)
    assert sorted(before) == [f"{r}.outcomes.parquet" for r in manifest["finished"]]

    seen = []
    resumed = run(design, kwargs, out=out, progress=lambda d, t: seen.append((d, t)))
    assert resumed.executed == 5  # 8 runs, 3 of them finished before
    assert seen[0] == (3, 8) and seen[-1] == (8, 8)
    after = mtimes(out)
    assert {k: after[k] for k in before} == before, "finished runs were not run again"
    assert len(after) == 8
    assert resumed.results.equals(result.results)

    whole = tmp_path / "whole"
    run(design, kwargs, out=whole)
    for name in ("design.parquet", "results.parquet"):
        assert (out / name).read_bytes() == (whole / name).read_bytes()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True and len(manifest["finished"]) == 8
    for key in ("kind", "scenario", "seed", "replicates", "parameters", "parameters_sha256",
                "version", "created", "design", "vary"):  # fmt: skip
        assert key in manifest, key
    assert manifest["kind"] == "sweep" and manifest["design"] == "grid"
    assert manifest["vary"]["vaccination.priority"] == {"values": ["oldest", "random"]}
    assert manifest["parameters"] == json.loads(json.dumps(manifest["parameters"]))
    assert manifest["parameters"]["days"] == 15
    assert manifest["outputs"]["results.parquet"]["rows"] == result.results.height

    # a finished sweep run again computes nothing and rewrites the same tables
    again = run(design, kwargs, out=out)
    assert again.executed == 0
    assert (out / "results.parquet").read_bytes() == (whole / "results.parquet").read_bytes()


def test_another_sweep_into_the_same_folder_is_refused_unless_overwrite(tmp_path, design, kwargs):
    out = tmp_path / "sweep"
    with pytest.raises(Interrupt):
        run(design, kwargs, out=out, progress=stop_after(1))
    with pytest.raises(OutputExistsError, match=r"holds another experiment: its `seed` is 7"):
        sweep(SCENARIO, design, seed=8, replicates=2, baseline=BASE, build_kwargs=kwargs,
              out=out)  # fmt: skip
    with pytest.raises(OutputExistsError, match=r"its `replicates` is 2, this one's is 1"):
        sweep(SCENARIO, design, seed=7, replicates=1, baseline=BASE, build_kwargs=kwargs,
              out=out)  # fmt: skip
    with pytest.raises(OutputExistsError, match=r"its `parameters` is \{"):
        sweep(SCENARIO, design, seed=7, replicates=2, baseline=["days=16"], build_kwargs=kwargs,
              out=out)  # fmt: skip
    replaced = sweep(SCENARIO, design, seed=8, replicates=1, baseline=BASE, build_kwargs=kwargs,
                     out=out, overwrite=True)  # fmt: skip
    assert replaced.executed == 4
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 8 and manifest["complete"]
    assert len(os.listdir(out / "runs")) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"], "the old folder is gone"


def test_a_folder_of_other_files_is_refused(tmp_path, design, kwargs):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="not an experiment's results"):
        run(design, kwargs, out=out)
    assert (out / "notes.txt").read_text() == "mine"


def test_store_lists_only_runs_whose_files_exist(tmp_path):
    identity = {"kind": "sweep", "seed": 1}
    store = ExperimentStore(tmp_path / "e", identity)
    frame = pl.DataFrame({"outcome": ["y"], "value": [np.pi]})
    store.save("00000-00000", {"outcomes": frame})
    store.save("00001-00000", {"outcomes": frame})
    (tmp_path / "e" / "runs" / "00001-00000.outcomes.parquet").unlink()
    again = ExperimentStore(tmp_path / "e", identity)
    assert again.resumed and again.finished == {"00000-00000"}
    assert again.load("00000-00000")["outcomes"].equals(frame)
