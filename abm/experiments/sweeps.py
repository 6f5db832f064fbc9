"""Parameter sweeps: a scenario run at every point of a design, with replicates per point.

`sweep` runs replicate ``r = 0 .. replicates-1`` of every design point (`abm.experiments.designs`:
grid, random or Latin hypercube over dotted parameters) on top of a baseline, and summarises each
run into named outcomes (`abm.experiments.outcomes`). Replicate ``r`` of point ``p`` is seeded
with ``replicate_seed(seed, r)`` (common random numbers: every point's replicate ``r`` shares its
keyed draws, so differences between points are the parameters' doing, not noise), or with
``replicate_seed(seed + 1 + p, r)`` with ``common_random_numbers=False``. Seeds are computed, not
drawn in turn, so the results do not depend on the number of processes or on the order runs
finish in.

With `out`, the sweep is written to a folder (`abm.experiments.store`: resumable, a rerun with
the same arguments skips the finished runs): ``manifest.json``, ``design.parquet`` (point, one
column per varied parameter) and ``results.parquet`` (point, replicate, seed, outcome, value).

Examples
--------
>>> from abm.experiments import factors, lhs_design
>>> from scenarios.outbreak import SCENARIO  # doctest: +SKIP
>>> varied = factors(["vaccination.coverage=0:0.8"], SCENARIO.parameters)  # doctest: +SKIP
>>> design = lhs_design(varied, points=10, seed=1)  # doctest: +SKIP
>>> result = sweep(SCENARIO, design, seed=1, replicates=3, baseline=["days=60"])  # doctest: +SKIP
>>> result.summary().filter(pl.col("outcome") == "new_infections_sum")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from abm.execution import Execution
from abm.experiments.changes import apply_changes, as_params
from abm.experiments.designs import Design
from abm.experiments.jobs import Job, as_scenario, check_int, run_jobs
from abm.experiments.outcomes import (
    Summary,
    check_confidence,
    check_summary,
    default_summary,
    mean_interval,
    outcomes_frame,
    summarise,
)
from abm.experiments.store import (
    ExperimentStore,
    experiment_identity,
    run_name,
    run_resumable,
    stack,
)
from abm.params import params_to_dict
from abm.registry import Scenario
from populations.errors import ConfigError

__all__ = ["SweepResult", "point_summary", "sweep"]


def point_summary(
    design: pl.DataFrame, results: pl.DataFrame, confidence: float = 0.95
) -> pl.DataFrame:
    """Per point and outcome: the design's columns, then ``outcome, n, mean, sd, se, ci_low,
    ci_high`` over the point's replicates (t-based interval at `confidence`)."""
    confidence = check_confidence(confidence)
    rows = []
    ordered = results.sort("point", "outcome", "replicate", maintain_order=True)
    for (point, outcome), g in ordered.group_by("point", "outcome", maintain_order=True):
        values = g["value"].to_numpy()
        rows.append({"point": point, "outcome": outcome, "n": values.size,
                     **mean_interval(values, confidence)})  # fmt: skip
    schema = {"point": pl.Int64, "outcome": pl.String, "n": pl.Int64}
    schema |= dict.fromkeys(("mean", "sd", "se", "ci_low", "ci_high"), pl.Float64)
    table = pl.DataFrame(rows, schema=schema)
    return design.join(table, on="point", how="inner").sort("point", "outcome")


@dataclass(frozen=True)
class SweepResult:
    """The outcomes of every run of a sweep.

    Attributes
    ----------
    design : polars.DataFrame
        ``point`` and one column per varied parameter.
    results : polars.DataFrame
        Tidy outcomes: ``point, replicate, seed, outcome, value`` (``seed``: the root seed of
        the point's replicates).
    executed : int
        How many runs this call computed (fewer than all when it resumed a folder).
    """

    design: pl.DataFrame
    results: pl.DataFrame
    executed: int = 0

    def to_frame(self) -> pl.DataFrame:
        """The results with the design's values: ``point``, one column per parameter, then
        ``replicate, seed, outcome, value``."""
        columns = [*self.design.columns, *self.results.columns[1:]]
        return self.results.join(self.design, on="point", how="left").select(columns)

    def summary(self, confidence: float = 0.95) -> pl.DataFrame:
        """Per point and outcome, the mean over replicates with its interval (`point_summary`)."""
        return point_summary(self.design, self.results, confidence)


def check_design(design: Any) -> Design:
    if isinstance(design, pl.DataFrame):
        return Design.from_frame(design)
    if not isinstance(design, Design):
        msg = (
            "`design` must be a Design (grid_design, random_design, lhs_design) or a polars "
            f"DataFrame with a column per parameter, got {type(design).__name__}."
        )
        raise ConfigError(msg)
    return design


def design_params(scenario: Scenario, design: Design, base: Any) -> list[Any]:
    """The parameters of every design point: the baseline with the point's values."""
    base_data = params_to_dict(base)
    return [
        apply_changes(scenario.parameters, base_data, design.point(p), f"design point {p}")
        for p in range(design.points)
    ]


def run_points(
    scenario: Scenario,
    params: list[Any],
    *,
    seed: int,
    replicates: int,
    processes: int,
    execution: Execution | None,
    summary: Summary,
    common_random_numbers: bool,
    build_kwargs: Mapping[str, Any] | None,
    store: ExperimentStore | None,
    progress: Callable[[int, int], Any] | None,
) -> tuple[pl.DataFrame, int]:
    """Run every replicate of every point (resuming `store`); the results, tidy, and how many
    runs were computed."""
    roots = [seed if common_random_numbers else seed + 1 + p for p in range(len(params))]
    jobs = [Job(q, roots[p], r) for p, q in enumerate(params) for r in range(replicates)]
    names = [run_name(p, r) for p in range(len(params)) for r in range(replicates)]

    def compute(todo: list[int]) -> Any:
        chosen = [jobs[t] for t in todo]
        runs = run_jobs(
            scenario, chosen, processes=processes, execution=execution,
            build_kwargs=build_kwargs,
        )  # fmt: skip
        for i, kpis in runs:
            j = todo[i]
            what = f"point {j // replicates} replicate {j % replicates}"
            yield j, {"outcomes": outcomes_frame(summarise(summary, kpis, what))}

    records, executed = run_resumable(names, compute, store=store, progress=progress)
    keys = {
        "point": pl.Series([j // replicates for j in range(len(jobs))], dtype=pl.Int64),
        "replicate": pl.Series([j % replicates for j in range(len(jobs))], dtype=pl.Int64),
        "seed": pl.Series([roots[j // replicates] for j in range(len(jobs))], dtype=pl.Int64),
    }
    return stack([r["outcomes"] for r in records], keys), executed


def sweep(
    scenario: Scenario | str,
    design: Design | pl.DataFrame,
    *,
    seed: int,
    replicates: int = 1,
    baseline: Any = None,
    processes: int = 1,
    execution: Execution | None = None,
    summary: Summary = default_summary,
    common_random_numbers: bool = True,
    build_kwargs: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], Any] | None = None,
) -> SweepResult:
    """Run `scenario` at every point of `design`, `replicates` times each.

    Parameters
    ----------
    scenario : Scenario or str
        The scenario or its registered name (registered if ``processes > 1``).
    design : Design or polars.DataFrame
        The points (`grid_design`, `random_design`, `lhs_design`), or a frame with one column
        per dotted parameter and one row per point.
    seed : int
        Root seed (of the replicates; a design's own draws took theirs from its seed).
    replicates : int
        Runs per point, at least 1.
    baseline : dataclass instance, mapping, list of ``key=value`` strings or None
        The parameters that are not varied (None: the defaults).
    processes : int
        Worker processes (0: every core); results do not depend on it.
    execution : abm.execution.Execution, optional
        Where the runs go instead of `processes`: local processes or a Dask cluster.
    summary : callable
        A run's KPI frame (``step, name, value``, no group rows) to named scalar outcomes.
    common_random_numbers : bool
        True: replicate ``r`` of every point runs with ``replicate_seed(seed, r)``. False:
        point ``p`` uses ``replicate_seed(seed + 1 + p, r)``.
    build_kwargs : mapping, optional
        Extra arguments to ``scenario.build``; picklable if ``processes > 1``.
    out : path, optional
        Write the sweep to this folder (see the module docstring), resuming it if it holds this
        same sweep unfinished.
    overwrite : bool
        Replace whatever `out` holds.
    progress : callable, optional
        ``progress(done, total)`` as runs finish.

    Raises
    ------
    ConfigError
        For bad arguments or a design point the scenario's parameters do not allow.
    OutputExistsError
        If `out` holds anything but this sweep, and not `overwrite`.
    """
    scenario = as_scenario(scenario)
    design = check_design(design)
    seed = check_int(seed, "seed", low=0)
    replicates = check_int(replicates, "replicates", low=1)
    summary = check_summary(summary)
    base = as_params(scenario, baseline, "baseline")
    params = design_params(scenario, design, base)
    store = None
    if out is not None:
        identity = experiment_identity(
            "sweep", scenario, base, seed=seed, replicates=replicates, summary=summary,
            common_random_numbers=common_random_numbers, build_kwargs=build_kwargs,
        )  # fmt: skip
        identity |= design.to_manifest()
        store = ExperimentStore(Path(out), identity, overwrite=overwrite)
    results, executed = run_points(
        scenario, params, seed=seed, replicates=replicates, processes=processes,
        execution=execution,
        summary=summary, common_random_numbers=common_random_numbers,
        build_kwargs=build_kwargs, store=store, progress=progress,
    )  # fmt: skip
    if store is not None:
        outcomes = results["outcome"].unique(maintain_order=True).to_list()
        store.complete(
            {"design": design.frame, "results": results},
            {"runs": design.points * replicates, "outcomes": outcomes},
        )
    return SweepResult(design.frame, results, executed)
