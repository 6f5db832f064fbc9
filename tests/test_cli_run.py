"""`synthworld scenarios` and `synthworld run` end to end, on a real scenario plugin.

The plugin `toy` is installed the way pip would install a user's package: a module and its
``*.dist-info`` (with ``entry_points.txt``) on sys.path. Its model has 50 agents with one column
and one rule, writes an event per newly infected agent to an `EventLog` in ``--out`` and records
a KPI per step.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from abm.events import read_events
from abm.registry import available_scenarios

TOY = """
from dataclasses import dataclass

import numpy as np
import polars as pl

from abm.agents import ColumnAgent, column
from abm.events import EventLog, EventSchema
from abm.model import SynthModel
from abm.params import param, params_to_dict
from abm.registry import Scenario
from abm.replicates import replicate_seed


@dataclass(frozen=True)
class Params:
    agents: int = param(50, low=1, unit="persons", help="number of persons")
    rate: float = param(0.1, low=0, high=1, unit="per step", help="chance of infection")
    steps: int = param(10, low=0, unit="steps", help="steps to simulate")


class Person(ColumnAgent):
    infected = column(np.bool_, default=False)


SCHEMA = EventSchema("toy", {"step": pl.Int32, "event": pl.Enum(["infect"]), "agent": pl.Int64})


class Toy(SynthModel):
    rules = ("infect",)

    def __init__(self, params, *, seed, event_log=None):
        super().__init__(seed=seed, event_log=event_log)
        self.rate = params.rate
        self.add_agent_type(Person, params.agents, create_views=False)

    def infect(self):
        people = self.table(Person)
        hit = (self.streams["infect"].random(len(people)) < self.rate) & ~people["infected"]
        rows = people.where(hit)
        people["infected"][rows] = True
        self.emit(event="infect", agent=people.ids[rows])
        self.kpi("infected", int(people["infected"].sum()))


def build(params, *, seed, out=None, fmt="parquet", overwrite=False, shard=None):
    log = None
    if out is not None:
        log = EventLog(
            out, schema=SCHEMA, fmt=fmt, seed=seed, parameters=params_to_dict(params),
            overwrite=overwrite, shard=shard,
        )
    return Toy(params, seed=replicate_seed(seed, shard), event_log=log)


SCENARIO = Scenario("toy", "a toy infection among 50 persons", Params, build)
"""


def install_toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the `toy` scenario as a real package (module + dist-info) in ``tmp_path/site``,
    put it on sys.path (worker processes inherit it) and make `tmp_path` the working folder."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "toy_scenario.py").write_text(textwrap.dedent(TOY), encoding="utf-8")
    info = site / "toy_scenario-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-scenario\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[synthworld.scenarios]\ntoy = toy_scenario:SCENARIO\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The `toy` scenario, installed as a real package (module + dist-info) on sys.path."""
    install_toy(tmp_path, monkeypatch)
    yield tmp_path
    sys.modules.pop("toy_scenario", None)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_scenarios_lists_the_plugin(toy, cli):
    result = cli("scenarios")
    assert result.code == 0, result.err
    assert "toy" in result.out
    assert "a toy infection among 50 persons" in result.out


def test_scenarios_name_prints_its_parameters(toy, cli):
    for args in (["scenarios", "toy"], ["scenarios", "--params", "toy"]):
        result = cli(*args)
        assert result.code == 0, result.err
        for text in ("agents", "rate", "steps", "0.1", "per step", "chance of infection", "[0, 1]"):
            assert text in result.out, text


def test_scenarios_unknown_name(toy, cli):
    result = cli("scenarios", "tooy")
    assert result.code == 2
    assert result.err.strip() == "error: unknown scenario `tooy`. Hint: did you mean `toy`?"


def test_run_writes_events_kpis_and_manifest(toy, cli):
    out = toy / "D"
    result = cli("run", "toy", "--out", out, "--steps", "5", "--set", "rate=0.2")
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [
        "events.parquet",
        "kpis.parquet",
        "manifest.json",
    ]
    m = manifest(out)
    assert m["seed"] == 42
    assert m["parameters"] == {"agents": 50, "rate": 0.2, "steps": 5}
    events = read_events(out)
    assert events.height == m["rows"] > 0
    assert events["step"].max() <= 4
    assert events["agent"].n_unique() == events.height
    kpis = pl.read_parquet(out / "kpis.parquet")
    assert kpis["step"].to_list() == [0, 1, 2, 3, 4]
    assert kpis["value"][-1] == events.height
    # the summary: steps, files with their rows, the last KPI
    assert f"Ran `toy` for 5 steps (seed 42): {events.height} events." in result.out
    assert "events.parquet" in result.out and "manifest.json" in result.out
    assert "infected" in result.out
    assert not list(toy.glob(".D.*")), "no staging folder left behind"


def test_same_seed_same_bytes_other_seed_differs(toy, cli):
    files = {}
    for label, seed in (("a", 3), ("b", 3), ("c", 4)):
        out = toy / label
        assert cli("run", "toy", "--out", out, "--seed", seed, "--steps", 8).code == 0
        files[label] = (out / "events.parquet").read_bytes()
    assert files["a"] == files["b"]
    assert files["a"] != files["c"]


def test_default_out_and_steps(toy, cli):
    result = cli("run", "toy")
    assert result.code == 0, result.err
    m = manifest(toy / "run-toy")
    assert (m["seed"], m["parameters"]["steps"]) == (42, 10)


def test_config_file_then_set(toy, cli):
    (toy / "p.toml").write_text("rate = 0.5\nagents = 20\n", encoding="utf-8")
    result = cli("run", "toy", "--config", "p.toml", "--set", "agents=30", "--out", "D")
    assert result.code == 0, result.err
    assert manifest(toy / "D")["parameters"] == {"agents": 30, "rate": 0.5, "steps": 10}


def test_unknown_scenario(toy, cli):
    result = cli("run", "tooy", "--out", "D")
    assert result.code == 2
    assert result.err.strip() == "error: unknown scenario `tooy`. Hint: did you mean `toy`?"
    assert not (toy / "D").exists()


def test_unknown_parameter_leaves_no_folder(toy, cli):
    result = cli("run", "toy", "--out", "D", "--set", "rat=0.2")
    assert result.code == 2
    assert result.err.strip() == "error: unknown parameter `rat`. Hint: did you mean `rate`?"
    assert list(toy.iterdir()) == [toy / "site"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "rate=2"], "parameter `rate` = 2.0 is out of range"),
        (["--set", "rate=high"], "parameter `rate` expects a number, found 'high'"),
        (["--set", "rate"], "`--set rate`: expected key=value"),
        (["--steps", "-1"], "parameter `steps` = -1 is out of range"),
        (["--config", "missing.toml"], "parameter file `missing.toml` does not exist"),
    ],
)
def test_bad_values(toy, cli, args, message):
    result = cli("run", "toy", "--out", "D", *args)
    assert result.code == 2
    assert result.err.startswith("error: ") and message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (toy / "D").exists()


def test_existing_out_refused_then_replaced(toy, cli):
    out = toy / "D"
    out.mkdir()
    (out / "old.txt").write_text("keep me", encoding="utf-8")
    result = cli("run", "toy", "--out", out, "--steps", 2)
    assert result.code == 2
    assert "already holds results" in result.err and "--overwrite" in result.err
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    result = cli("run", "toy", "--out", out, "--steps", 2, "--overwrite")
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [
        "events.parquet",
        "kpis.parquet",
        "manifest.json",
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats(toy, cli, fmt):
    out = toy / fmt
    assert cli("run", "toy", "--out", out, "--format", fmt, "--steps", 4).code == 0
    assert (out / f"events.{fmt}").is_file()
    m = manifest(out)
    assert (m["format"], m["events"]) == (fmt, f"events.{fmt}")
    assert cli("run", "toy", "--out", toy / "pq", "--steps", 4).code == 0
    assert read_events(out).equals(read_events(toy / "pq"))


def test_help_texts(cli):
    for command, example in (
        ("scenarios", "synthworld scenarios outbreak"),
        ("run", "synthworld run outbreak --steps 30"),
    ):
        result = cli(command, "--help")
        assert result.code == 0
        assert "Examples:" in result.out and example in result.out


@pytest.mark.skipif(
    "outbreak" not in available_scenarios(),
    reason="the `outbreak` entry point is not installed (reinstall synthworld: pip install -e .)",
)
def test_outbreak_runs(tmp_path, cli):
    out = tmp_path / "D"
    result = cli("run", "outbreak", "--steps", "3", "--out", out)
    assert result.code == 0, result.err
    assert (out / "manifest.json").is_file()
    assert manifest(out)["seed"] == 42


def test_replicates_in_two_processes(toy, cli):
    result = cli(
        "run", "toy", "--out", "D", "--steps", 5, "--replicates", 3, "--processes", 2, "--seed", 9
    )
    assert result.code == 0, result.err
    out = toy / "D"
    events = read_events(out)
    m = json.loads((out / "replicates.json").read_text(encoding="utf-8"))
    assert (m["seed"], m["replicates"], m["parameters"]["steps"]) == (9, 3, 5)
    assert events["shard"].unique().sort().to_list() == [0, 1, 2]
    assert events.height == m["rows"]
    ran = f"Ran 3 replicates of `toy` for 5 steps (seed 9, on 2 local processes): {m['rows']}"
    assert f"{ran} events." in result.out
    for s in m["shards"]:  # rows per replicate in the summary
        assert f"events/shard={s['shard']:05d}/part-00000.parquet" in result.out
        assert str(s["rows"]) in result.out
    # the same run in one process writes the same bytes
    assert cli("run", "toy", "--out", "E", "--steps", 5, "--replicates", 3, "--seed", 9).code == 0
    for p in out.rglob("*"):
        if p.is_file():
            assert p.read_bytes() == (toy / "E" / p.relative_to(out)).read_bytes()
    # one replicate is the plain single run
    assert cli("run", "toy", "--out", "F", "--replicates", 1, "--processes", 0).code == 0
    assert (toy / "F" / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicates", "0"], "error: --replicates must be at least 1, got 0."),
        (["--replicates", "2", "--processes", "-1"], "error: --processes must be 0 (every core)"),
    ],
)
def test_bad_replicates(toy, cli, args, message):
    result = cli("run", "toy", "--out", "D", *args)
    assert result.code == 2
    assert result.err.startswith(message)
    assert len(result.err.strip().splitlines()) == 1
    assert not (toy / "D").exists()


def test_replicates_refuse_existing_out(toy, cli):
    (toy / "D").mkdir()
    (toy / "D" / "old.txt").write_text("keep me", encoding="utf-8")
    result = cli("run", "toy", "--out", "D", "--replicates", 2)
    assert result.code == 2 and "already holds results" in result.err
    assert [p.name for p in (toy / "D").iterdir()] == ["old.txt"]


@pytest.mark.skipif(
    "outbreak" not in available_scenarios(),
    reason="the `outbreak` entry point is not installed (reinstall synthworld: pip install -e .)",
)
def test_outbreak_replicates(tmp_path, cli):
    out = tmp_path / "D"
    result = cli("run", "outbreak", "--steps", 3, "--replicates", 2, "--processes", 2, "--out", out)
    assert result.code == 0, result.err
    m = json.loads((out / "replicates.json").read_text(encoding="utf-8"))
    assert (m["seed"], m["replicates"]) == (42, 2)
    assert read_events(out)["shard"].unique().sort().to_list() == [0, 1]


@pytest.mark.skipif(
    "outbreak" not in available_scenarios(),
    reason="the `outbreak` entry point is not installed (reinstall synthworld: pip install -e .)",
)
def test_a_killed_outbreak_run_leaves_nothing_that_looks_complete(tmp_path):
    import signal
    import subprocess
    import time

    out = tmp_path / "D"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synthworld",
            "run",
            "outbreak",
            "--steps",
            "400",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while not list(tmp_path.glob(".D.partial-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob(".D.partial-*")), "the run never started writing"
        time.sleep(0.5)  # well into the run, the log open and being written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    assert all(p.name.startswith(".D.partial-") for p in tmp_path.iterdir())
