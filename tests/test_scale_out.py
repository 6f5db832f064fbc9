"""Scale-out on a real Dask scheduler and workers on localhost, and resumable runs.

The same bytes from 1 process, 2 processes and a 2-worker Dask cluster; a Dask worker killed
mid-run does not change the output; a killed run finished with ``--resume`` equals one that never
stopped and does not redo finished replicates; the partitioned output is queried by DuckDB and
polars.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from abm.execution import Execution, open_backend
from abm.replicates import run_replicates
from populations.errors import ConfigError

pytest.importorskip("distributed", reason="the dask extra is not installed")

ROOT = Path(__file__).resolve().parents[1]

# A scenario whose replicate `crash_shard` ends its process the first time it starts (a marker
# file next to the output says it has crashed once): a worker (or the whole run) killed mid-run.
# Every build is logged, so a test can tell which replicates ran again.
CRASHY = """
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from abm.events import EventLog, EventSchema
from abm.model import SynthModel
from abm.params import param, params_to_dict
from abm.registry import Scenario
from abm.replicates import replicate_seed


@dataclass(frozen=True)
class Params:
    steps: int = param(20, low=1, help="steps")
    crash_shard: int = param(-1, low=-1, help="replicate that dies once (-1: none)")


SCHEMA = EventSchema("draws", {"step": pl.Int32, "value": pl.Float64})


class Draws(SynthModel):
    rules = ("draw",)

    def draw(self):
        self.emit(value=self.streams["draw"].random(50))
        self.kpi("mean", 0.5)


def build(params, *, seed, out=None, fmt="parquet", overwrite=False, shard=None):
    if out is not None:
        folder = Path(out).parent
        with open(folder / "builds.log", "a") as log:
            log.write(f"{shard}\\n")
        marker = folder / "crashed-once"
        if shard == params.crash_shard and not marker.exists():
            marker.write_text("x")
            os._exit(1)
    log = None
    if out is not None:
        log = EventLog(out, schema=SCHEMA, fmt=fmt, seed=seed, parameters=params_to_dict(params),
                       overwrite=overwrite, shard=shard)
    return Draws(seed=replicate_seed(seed, shard), event_log=log)


SCENARIO = Scenario("crashy", "random draws; one replicate may die once", Params, build)
"""


@pytest.fixture
def crashy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The `crashy` scenario installed as a package; workers and subprocesses find it too."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "crashy_scenario.py").write_text(textwrap.dedent(CRASHY), encoding="utf-8")
    info = site / "crashy_scenario-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crashy-scenario\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[synthworld.scenarios]\ncrashy = crashy_scenario:SCENARIO\n"
    )
    monkeypatch.syspath_prepend(str(site))
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("crashy_scenario", None)


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_bytes_from_one_process_two_processes_and_a_dask_cluster(crashy: Path) -> None:
    runs = {
        "one": Execution(processes=1),
        "two": Execution(processes=2),
        "dask": Execution(workers=2),
    }
    for name, where in runs.items():
        (crashy / name).mkdir()
        run_replicates(
            "crashy", {"steps": 15}, seed=4, n=4, out=crashy / name / "out", execution=where
        )
    first = digest(crashy / "one" / "out")
    assert len(first) == 4 * 3 + 1  # events, kpis, manifest per shard; the run's manifest
    assert digest(crashy / "two" / "out") == first
    assert digest(crashy / "dask" / "out") == first


def test_a_dask_worker_killed_mid_run_changes_nothing(crashy: Path) -> None:
    for name, crash in (("calm", -1), ("killed", 2)):
        (crashy / name).mkdir()
        run_replicates(
            "crashy",
            {"steps": 15, "crash_shard": crash},
            seed=8,
            n=4,
            out=crashy / name / "out",
            execution=Execution(workers=2),
        )
    assert (crashy / "killed" / "crashed-once").exists()  # the worker did die
    builds = (crashy / "killed" / "builds.log").read_text().split()
    assert builds.count("2") == 2  # replicate 2 ran again, on a fresh worker
    calm, killed = digest(crashy / "calm" / "out"), digest(crashy / "killed" / "out")
    # the same files but for the parameter that asked for the crash
    assert set(calm) == set(killed)
    events = [k for k in calm if k.startswith("events/")]
    assert all(calm[k] == killed[k] for k in events)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synthworld", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_killed_run_resumed_equals_one_that_never_stopped(crashy: Path) -> None:
    args = ["run", "crashy", "--replicates", "5", "--steps", "10", "--seed", "3"]
    (crashy / "calm").mkdir()
    calm = _cli(*args, "--out", "out", cwd=crashy / "calm")
    assert calm.returncode == 0, calm.stderr
    (crashy / "cut").mkdir()
    cut = _cli(*args, "--set", "crash_shard=3", "--out", "out", cwd=crashy / "cut")
    assert cut.returncode == 1  # the whole run died while building replicate 3
    assert not (crashy / "cut" / "out").exists()  # nothing that looks finished
    again = _cli(*args, "--set", "crash_shard=3", "--out", "out", "--resume", cwd=crashy / "cut")
    assert again.returncode == 0, again.stderr
    builds = (crashy / "cut" / "builds.log").read_text().split()
    assert builds == ["0", "1", "2", "3", "3", "4"]  # 0-2 were not run again
    a, b = digest(crashy / "calm" / "out"), digest(crashy / "cut" / "out")
    assert set(a) == set(b)
    assert all(a[k] == b[k] for k in a if k.startswith("events/"))
    assert not list((crashy / "cut").glob(".out.partial-*"))


def test_resume_without_an_unfinished_run_starts_afresh(crashy: Path) -> None:
    run_replicates("crashy", {"steps": 5}, seed=1, n=2, out=crashy / "out", resume=True)
    assert (crashy / "out" / "replicates.json").is_file()


def test_partitioned_fraud_shards_on_dask_read_by_duckdb_and_polars(tmp_path: Path) -> None:
    import duckdb

    out = tmp_path / "fraud"
    params = {"customers": 400, "days": 4, "fraud": {"rate": 0.01}, "laundering": {"rate": 0.01}}
    manifest = run_replicates("fraud", params, seed=2, n=2, out=out, execution=Execution(workers=2))
    by_polars = (
        pl.scan_parquet(out / "events" / "**" / "*.parquet", hive_partitioning=True)
        .group_by("day", "is_fraud", "is_laundering")
        .len()
        .sort("day", "is_fraud", "is_laundering")
        .collect()
    )
    by_duckdb = duckdb.sql(
        f"select day, is_fraud, is_laundering, count(*) as len from "
        f"read_parquet('{out}/events/**/*.parquet', hive_partitioning=true) "
        "group by all order by all"
    ).pl()
    assert by_polars["len"].sum() == by_duckdb["len"].sum() == manifest["rows"]
    assert by_polars.rows() == by_duckdb.rows()
    assert set(by_polars["day"]) == {0, 1, 2, 3}
    assert by_polars.filter(pl.col("is_fraud"))["len"].sum() > 0


def test_bad_execution_options_are_named(monkeypatch: pytest.MonkeyPatch, cli) -> None:
    with pytest.raises(ConfigError, match="exclude each other"):
        open_backend(scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(ConfigError, match="is not an address. Hint: tcp://HOST:PORT"):
        open_backend(scheduler="127.0.0.1:8786")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at `tcp://127.0.0.1:9`"):
        open_backend(scheduler="tcp://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'synthworld\[dask\]'"):
        open_backend(workers=2)
    res = cli("run", "outbreak", "--steps", "2", "--workers", "2")
    assert res.code == 2
    assert "--scheduler, --workers and --resume are for runs of several replicates" in res.err
