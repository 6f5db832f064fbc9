"""Results folders for reports (`abm.report.folders`), and builders of every kind for the report
tests.

The builders write folders in the layout the experiment commands write (`manifest.json` with its
kind, and the kind's Parquet files), from the library itself: a what-if from `what_if` on a small
toy scenario (with its KPIs per step and zone from the same runs), a sweep from
`replicate_kpis` at each design point, a sensitivity analysis of the Ishigami function with its
analytic Sobol indices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from abm.agents import ColumnAgent, column
from abm.events import EventLog, EventSchema, KpiCollector
from abm.experiments import default_summary, replicate_kpis, what_if
from abm.model import SynthModel
from abm.params import param, params_to_dict, read_params
from abm.registry import Scenario
from abm.replicates import replicate_seed, run_replicates
from abm.report import read_results
from populations.errors import ConfigError
from populations.output import package_version, parameters_sha256

ZONES = ["north", "centre", "south"]


@dataclass(frozen=True)
class FluParams:
    days: int = param(30, low=1, unit="days", help="days to simulate")
    people: int = param(600, low=3, unit="persons", help="persons, spread over three zones")
    rate: float = param(0.03, low=0, high=1, unit="/day", help="chance to fall ill per day")
    recovery: float = param(0.2, low=0, high=1, unit="/day", help="chance to recover per day")


class Person(ColumnAgent):
    ill = column(np.bool_, default=False)
    immune = column(np.bool_, default=False)
    zone = column(np.int8, default=0)


SCHEMA = EventSchema(
    "flu", {"step": pl.Int32, "event": pl.Enum(["ill", "recovered"]), "person": pl.Int64}
)


class Flu(SynthModel):
    """Persons fall ill (keyed draws, so arms share them) and recover; KPIs by zone."""

    rules = ("fall_ill", "recover", "count")

    def __init__(self, params: FluParams, *, seed, event_log=None):
        kpis = event_log.kpis if event_log else KpiCollector(groups={"zone": pl.Enum(ZONES)})
        super().__init__(seed=seed, event_log=event_log, kpis=kpis)
        self.params = params
        zone = (np.arange(params.people) % len(ZONES)).astype(np.int8)
        self.add_agent_type(Person, {"zone": zone}, create_views=False)
        self.new = np.zeros(params.people, dtype=bool)

    def fall_ill(self):
        people = self.table(Person)
        rate = self.params.rate * (1 + people["zone"])  # the south falls ill most
        hit = self.keyed("ill").bernoulli(self.clock.step, people.ids, np.minimum(rate, 1))
        self.new = hit & ~people["ill"] & ~people["immune"]
        people["ill"][self.new] = True
        self.emit(event="ill", person=people.ids[self.new])

    def recover(self):
        people = self.table(Person)
        done = self.keyed("recover").bernoulli(self.clock.step, people.ids, self.params.recovery)
        done &= people["ill"] & ~self.new
        people["ill"][done] = False
        people["immune"][done] = True
        self.emit(event="recovered", person=people.ids[done])

    def count(self):
        people = self.table(Person)
        self.kpi("new_cases", int(self.new.sum()))
        self.kpi("ill", int(people["ill"].sum()))
        by_zone = np.bincount(people["zone"], minlength=len(ZONES))
        new = np.bincount(people["zone"], weights=self.new, minlength=len(ZONES))
        ill = np.bincount(people["zone"], weights=people["ill"], minlength=len(ZONES))
        assert by_zone.sum() == len(people)
        self.kpi("new_cases", new, zone=ZONES)
        self.kpi("ill", ill, zone=ZONES)


def build_flu(params, *, seed, out=None, fmt="parquet", overwrite=False, shard=None):
    log = None
    if out is not None:
        log = EventLog(
            out, schema=SCHEMA, fmt=fmt, seed=seed, parameters=params_to_dict(params),
            overwrite=overwrite, shard=shard,
            kpis=KpiCollector(groups={"zone": pl.Enum(ZONES)}),
        )  # fmt: skip
    return Flu(params, seed=replicate_seed(seed, shard), event_log=log)


FLU = Scenario("flu", "a toy flu in three zones", FluParams, build_flu, steps="days")


def _manifest(kind: str, params: FluParams, *, seed: int, n: int, **extra) -> dict:
    data = params_to_dict(params)
    return {
        "kind": kind,
        "scenario": "flu",
        "seed": seed,
        "replicates": n,
        "parameters": data,
        "parameters_sha256": parameters_sha256(data),
        "version": package_version(),
        "created": "2026-01-02T03:04:05+00:00",
        **extra,
    }


POLICIES = {"halve": {"rate": 0.015}, "same": {}}


def write_whatif(out: Path, *, n: int = 6, seed: int = 5, policies=None) -> Path:
    """A what-if folder of the flu: the baseline against halving the rate and an identical
    policy, `n` paired replicates."""
    policies = POLICIES if policies is None else policies
    base = read_params(FluParams)
    result = what_if(FLU, base, policies, seed=seed, n=n)
    frames = []
    for arm, changes in [("baseline", {}), *policies.items()]:
        params = read_params(FluParams, toml={**params_to_dict(base), **changes})
        for k in range(n):
            with FLU.build(params, seed=seed, shard=k) as model:
                model.run(params.days)
            frames.append(
                model.kpis.to_frame().select(
                    pl.lit(arm).alias("arm"), pl.lit(k, pl.Int64).alias("replicate"), pl.all()
                )
            )
    out.mkdir(parents=True, exist_ok=True)
    result.to_frame().write_parquet(out / "comparisons.parquet")
    result.replicates.write_parquet(out / "replicates.parquet")
    pl.concat(frames).write_parquet(out / "kpis.parquet")
    manifest = _manifest(
        "whatif", base, seed=seed, n=n, policies=policies, confidence=result.confidence,
        common_random_numbers=result.common_random_numbers,
    )  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


def write_replicates(out: Path, *, n: int = 4, seed: int = 8) -> Path:
    """Replicates of the flu written by `abm.replicates.run_replicates` (`synthworld run
    --replicates` writes the same)."""
    run_replicates(FLU, {"days": 20}, seed=seed, n=n, out=out)
    return out


def write_sweep(out: Path, *, n: int = 3, seed: int = 2) -> Path:
    """A full-grid sweep of the flu over `rate` and `recovery`, `n` replicates per point."""
    rates, recoveries = [0.005, 0.01, 0.02, 0.04], [0.1, 0.3]
    design = pl.DataFrame(
        {
            "point": list(range(len(rates) * len(recoveries))),
            "rate": [r for r in rates for _ in recoveries],
            "recovery": [c for _ in rates for c in recoveries],
        }
    )
    rows = []
    for point, rate, recovery in design.iter_rows():
        kpis = replicate_kpis(FLU, {"rate": rate, "recovery": recovery}, seed=seed, n=n)
        for (k,), frame in kpis.group_by("replicate", maintain_order=True):
            for outcome, value in default_summary(frame.drop("replicate")).items():
                rows.append((point, k, seed, outcome, value))
    results = pl.DataFrame(
        rows, schema={"point": pl.Int64, "replicate": pl.Int64, "seed": pl.Int64,
                      "outcome": pl.String, "value": pl.Float64}, orient="row",
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    design.write_parquet(out / "design.parquet")
    results.write_parquet(out / "results.parquet")
    manifest = _manifest(
        "sweep", read_params(FluParams), seed=seed, n=n, design="grid",
        vary={"rate": rates, "recovery": recoveries},
    )  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


# Ishigami (a = 7, b = 0.1): analytic first-order and total Sobol indices (Saltelli et al. 2008).
ISHIGAMI = {
    "S1": {"x1": 0.3139, "x2": 0.4424, "x3": 0.0},
    "ST": {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437},
}


def write_sensitivity(out: Path, *, method: str = "sobol") -> Path:
    """A sensitivity folder of the Ishigami function: its analytic indices (Sobol) or
    made-up Morris indices, and a small sample of it as design and results."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-np.pi, np.pi, size=(64, 3))
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    design = pl.DataFrame({"point": np.arange(64), "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    results = pl.DataFrame({"point": np.arange(64), "replicate": 0, "seed": 0, "outcome": "y",
                            "value": y})  # fmt: skip
    if method == "sobol":
        rows = [(p, "y", index, v, 0.02) for index, vals in ISHIGAMI.items()
                for p, v in vals.items()]  # fmt: skip
    else:
        rows = [("x1", "y", "mu_star", 1.9, 0.2), ("x2", "y", "mu_star", 7.8, 0.5),
                ("x3", "y", "mu_star", 0.4, 0.1), ("x1", "y", "sigma", 2.2, None),
                ("x2", "y", "sigma", 1.0, None), ("x3", "y", "sigma", 0.5, None)]  # fmt: skip
    indices = pl.DataFrame(
        rows, schema={"parameter": pl.String, "outcome": pl.String, "index": pl.String,
                      "value": pl.Float64, "conf": pl.Float64}, orient="row",
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    design.write_parquet(out / "design.parquet")
    results.write_parquet(out / "results.parquet")
    indices.write_parquet(out / "indices.parquet")
    manifest = {
        "kind": "sensitivity", "scenario": "ishigami", "seed": 0, "replicates": 1,
        "parameters": {"a": 7, "b": 0.1}, "parameters_sha256": parameters_sha256({"a": 7,
        "b": 0.1}), "version": package_version(), "created": "2026-01-02T03:04:05+00:00",
        "method": method, "vary": {"x1": [-3.1416, 3.1416], "x2": [-3.1416, 3.1416],
        "x3": [-3.1416, 3.1416]},
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def whatif_dir(tmp_path_factory) -> Path:
    return write_whatif(tmp_path_factory.mktemp("whatif") / "halve")


# --------------------------------------------------------------------------- reading


def test_reads_a_whatif_folder(whatif_dir):
    folder = read_results(whatif_dir)
    assert folder.kind == "whatif" and folder.scenario == "flu"
    assert set(folder.tables) == {"comparisons", "replicates", "kpis"}
    kpis = folder.kpis
    assert kpis.columns == ["arm", "replicate", "step", "name", "value", "zone"]
    assert folder.group_columns == ["zone"]
    assert set(kpis["arm"]) == {"baseline", "halve", "same"}
    # the zones add up to the whole population at every step
    whole = kpis.filter(pl.col("zone").is_null()).sort("arm", "replicate", "step", "name")
    zones = (
        kpis.filter(pl.col("zone").is_not_null())
        .group_by("arm", "replicate", "step", "name")
        .agg(pl.col("value").sum())
        .sort("arm", "replicate", "step", "name")
    )
    assert whole["value"].to_list() == zones["value"].to_list()


def test_reads_the_manifest_path_too(whatif_dir):
    assert read_results(whatif_dir / "manifest.json").path == whatif_dir


def test_reads_sweep_and_sensitivity_folders(tmp_path):
    sweep = read_results(write_sweep(tmp_path / "sweep", n=2))
    assert sweep.kind == "sweep" and sweep.kpis is None
    assert sweep.tables["design"].columns == ["point", "rate", "recovery"]
    assert sweep.tables["results"]["replicate"].unique().sort().to_list() == [0, 1]
    sens = read_results(write_sensitivity(tmp_path / "sens"))
    assert sens.kind == "sensitivity"
    assert set(sens.tables) == {"design", "results", "indices"}


def test_reads_a_replicates_folder(tmp_path):
    folder = read_results(write_replicates(tmp_path / "reps", n=3))
    assert folder.kind == "replicates" and folder.manifest_name == "replicates.json"
    assert folder.kpis["replicate"].unique().sort().to_list() == [0, 1, 2]
    assert folder.group_columns == ["zone"]
    assert folder.kpis["step"].max() == 19


def test_run_folder_kpis_get_arm_and_replicate(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"kind": "event-log", "seed": 1}))
    pl.DataFrame({"step": [0, 1], "name": ["x", "x"], "value": [1.0, 2.0]}).write_parquet(
        run / "kpis.parquet"
    )
    folder = read_results(run)
    assert folder.kind == "run"
    assert folder.kpis.rows() == [("baseline", 0, 0, "x", 1.0), ("baseline", 0, 1, "x", 2.0)]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "holds no manifest.json or replicates.json"),
        (lambda p: (p.mkdir(), (p / "manifest.json").write_text("{oops")), "cannot read"),
        (lambda p: (p.mkdir(), (p / "manifest.json").write_text("[1]")), "not a manifest"),
        (
            lambda p: (p.mkdir(), (p / "manifest.json").write_text('{"command": "populate"}')),
            "synthetic population",
        ),
        (
            lambda p: (p.mkdir(), (p / "manifest.json").write_text('{"kind": "rare"}')),
            "of kind `rare`, which has no report",
        ),
        (
            lambda p: (p.mkdir(), (p / "manifest.json").write_text('{"kind": "whatif"}')),
            "comparisons.parquet` is missing",
        ),
        (
            lambda p: (
                p.mkdir(),
                (p / "manifest.json").write_text('{"kind": "sweep", "complete": false}'),
            ),
            "has not finished .* rerun the same command to resume it",
        ),
        (
            lambda p: (p.mkdir(), (p / "replicates.json").write_text('{"shards": []}')),
            "lists no shards",
        ),
    ],
    ids=["missing", "empty", "bad-json", "not-object", "population", "unknown-kind",
         "missing-file", "unfinished", "no-shards"],
)  # fmt: skip
def test_bad_folders_say_what_is_wrong(tmp_path, setup, message):
    path = tmp_path / "results"
    setup(path)
    with pytest.raises(ConfigError, match=message):
        read_results(path)


def test_a_missing_column_is_named(tmp_path, whatif_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text((whatif_dir / "manifest.json").read_text())
    pl.read_parquet(whatif_dir / "comparisons.parquet").drop("ci_low").write_parquet(
        broken / "comparisons.parquet"
    )
    with pytest.raises(ConfigError, match="lacks the column\\(s\\) `ci_low`"):
        read_results(broken)


def test_a_missing_replicate_shard_is_named(tmp_path):
    run = tmp_path / "reps"
    run.mkdir()
    shards = [{"shard": 0, "kpis": "kpis/shard=00000/part-00000.parquet"}]
    (run / "replicates.json").write_text(json.dumps({"kind": "replicates", "shards": shards}))
    with pytest.raises(ConfigError, match="part-00000.parquet` is missing"):
        read_results(run)
