"""`abm.replicates.run_replicates` on the real `toy` plugin of ``tests/test_cli_run.py``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

from abm.events import read_events
from abm.registry import Scenario, load_scenario
from abm.replicates import MANIFEST, replicate_seed, run_replicates
from populations.errors import ConfigError, OutputExistsError
from tests.test_cli_run import install_toy


@pytest.fixture
def toy(tmp_path, monkeypatch):
    install_toy(tmp_path, monkeypatch)
    yield tmp_path
    sys.modules.pop("toy_scenario", None)


def files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


def test_one_or_two_processes_give_the_same_bytes(toy):
    params = {"steps": 6, "rate": 0.2}
    seen = []
    one = run_replicates(
        "toy", params, seed=5, n=3, out=toy / "one", progress=lambda *a: seen.append(a)
    )
    two = run_replicates("toy", params, seed=5, n=3, out=toy / "two", processes=2)
    a, b = files(toy / "one"), files(toy / "two")
    assert sorted(a) == [
        "events/shard=00000/part-00000.parquet",
        "events/shard=00001/part-00000.parquet",
        "events/shard=00002/part-00000.parquet",
        "kpis/shard=00000/part-00000.parquet",
        "kpis/shard=00001/part-00000.parquet",
        "kpis/shard=00002/part-00000.parquet",
        "manifests/shard=00000.json",
        "manifests/shard=00001.json",
        "manifests/shard=00002.json",
        MANIFEST,
    ]
    assert a == b
    assert one == two == json.loads(a[MANIFEST])
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [s["shard"] for s in one["shards"]] == [0, 1, 2]
    assert set(one["outputs"]) == set(a) - {MANIFEST}
    assert not [p for p in toy.iterdir() if p.name.startswith(".")], "no staging left behind"


def test_replicates_differ_and_read_as_one_table(toy):
    m = run_replicates("toy", {"steps": 8}, seed=1, n=3, out=toy / "D")
    events = read_events(toy / "D")
    assert events.columns == ["step", "event", "agent", "shard"]
    assert events.height == m["rows"] == sum(s["rows"] for s in m["shards"]) > 0
    per = events.group_by("shard").len().sort("shard")
    assert per["shard"].to_list() == [0, 1, 2]
    assert per["len"].to_list() == [s["rows"] for s in m["shards"]]
    agents = [events.filter(pl.col("shard") == k)["agent"].to_list() for k in range(3)]
    assert agents[0] != agents[1] and agents[1] != agents[2]
    shard = json.loads((toy / "D" / "manifests" / "shard=00001.json").read_text("utf-8"))
    assert (shard["seed"], shard["shard"], shard["parameters"]["steps"]) == (1, 1, 8)
    # replicate k is the single run seeded with Streams(seed).replicate(k)
    scenario = load_scenario("toy")
    params = scenario.parameters(steps=8)
    with scenario.build(params, seed=replicate_seed(1, 1), out=None) as model:
        model.run(8)
        infected = model.kpis.to_frame()["value"][-1]
    assert infected == m["shards"][1]["rows"]


def test_same_seed_other_n_keeps_the_first_replicates(toy):
    run_replicates("toy", None, seed=3, n=2, out=toy / "two", fmt="csv")
    run_replicates("toy", None, seed=3, n=3, out=toy / "three", fmt="csv")
    a, b = files(toy / "two"), files(toy / "three")
    for rel in a:
        if rel.startswith("events/"):
            assert a[rel] == b[rel]
    assert read_events(toy / "three")["shard"].unique().sort().to_list() == [0, 1, 2]


def test_existing_output_refused_before_work_then_replaced(toy):
    out = toy / "D"
    out.mkdir()
    (out / "old.txt").write_text("keep", encoding="utf-8")
    calls = []
    with pytest.raises(OutputExistsError, match="already holds results"):
        run_replicates("toy", None, seed=1, n=2, out=out, progress=lambda *a: calls.append(a))
    assert calls == [] and [p.name for p in out.iterdir()] == ["old.txt"]
    run_replicates("toy", None, seed=1, n=2, out=out, overwrite=True)
    assert "old.txt" not in files(out) and MANIFEST in files(out)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "`n` must be an integer >= 1, got 0"),
        ({"processes": -1}, "`processes` must be an integer >= 0"),
        ({"seed": -1}, "`seed` must be a non-negative integer"),
        ({"fmt": "xlsx"}, "unknown event log format `xlsx`"),
    ],
)
def test_bad_arguments(toy, kwargs, message):
    args = {"seed": 1, "n": 2, "out": toy / "D", **kwargs}
    with pytest.raises(ConfigError, match=message):
        run_replicates("toy", None, **args)
    assert not (toy / "D").exists()


def test_a_build_without_shard_is_refused(toy):
    real = load_scenario("toy")

    def build(params, *, seed, out=None, fmt="parquet", overwrite=False):
        return real.build(params, seed=seed, out=out, fmt=fmt, overwrite=overwrite)

    old = Scenario("old", "no shard", real.parameters, build)
    with pytest.raises(ConfigError, match="build\\(\\) takes no `shard`"):
        run_replicates(old, None, seed=1, n=2, out=toy / "D")

    def ignores(params, *, seed, out=None, fmt="parquet", overwrite=False, shard=None):
        toy_module = sys.modules["toy_scenario"]
        log = toy_module.EventLog(out, schema=toy_module.SCHEMA, seed=seed, shard=shard)
        return toy_module.Toy(params, seed=seed, event_log=log)

    careless = Scenario("careless", "seeds every replicate alike", real.parameters, ignores)
    with pytest.raises(ConfigError, match="did not seed the model with replicate 0"):
        run_replicates(careless, None, seed=1, n=2, out=toy / "D")
    with pytest.raises(ConfigError, match="not registered"):
        run_replicates(
            Scenario("nowhere", "", real.parameters, real.build),
            None,
            seed=1,
            n=2,
            out=toy / "D",
            processes=2,
        )
    assert sorted(p.name for p in toy.iterdir()) == ["site"]
