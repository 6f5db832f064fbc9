"""Running a scenario many times: the jobs of an experiment, in one or several processes.

Every experiment (what-if, sweep, sensitivity) is a list of jobs, each one scenario run: its
parameters, a root seed and a replicate index. Job ``(params, root, k)`` builds the scenario with
``seed=replicate_seed(root, k)`` (``Streams(root).replicate(k)``: computed without state, so the
same whichever process runs it) and no event log, runs it for ``scenario.steps_in(params)``
steps and returns its KPI frame. `run_jobs` runs jobs in this process or in spawned worker
processes and hands back each result as it finishes, with the job's index, so a caller can save
it at once (`abm.experiments.store`) and put results in job order afterwards: nothing in them
depends on the number of processes.

Worker processes are started with ``spawn`` (polars and numpy threads do not survive ``fork``);
each loads the scenario by name (`abm.registry.load_scenario`) and rebuilds the parameters from
plain data (`abm.params.read_params`), once per worker; `build_kwargs` go with every job (they
must be picklable). Where jobs run is `abm.execution`'s choice: this process, local processes,
or a Dask cluster.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.execution import Execution, all_cores
from abm.params import params_to_dict, read_params
from abm.registry import Scenario, available_scenarios, load_scenario
from abm.replicates import replicate_seed
from populations.errors import ConfigError

__all__ = ["Job", "as_scenario", "check_int", "run_jobs", "whole_run", "worker_count"]


@dataclass(frozen=True)
class Job:
    """One run: `params` (an instance of the scenario's parameters), replicate `replicate` of
    the root seed `root`."""

    params: Any
    root: int
    replicate: int


def as_scenario(scenario: Scenario | str) -> Scenario:
    """A `Scenario`, loading it by name if given a string."""
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if not isinstance(scenario, Scenario):
        msg = f"`scenario` must be a Scenario or a scenario name, got {type(scenario).__name__}."
        raise ConfigError(msg)
    return scenario


def check_int(value: Any, what: str, *, low: int) -> int:
    """`value` as an int if it is a whole number >= `low` (not a bool), else a `ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        msg = f"`{what}` must be an integer >= {low}, got {value!r}."
        raise ConfigError(msg)
    return int(value)


def worker_count(scenario: Scenario, processes: int, jobs: int) -> int:
    """How many worker processes run `jobs` jobs (1: this process); 0 `processes` = every core.

    More than one needs a registered scenario (the workers load it by name).
    """
    processes = check_int(processes, "processes", low=0)
    workers = max(1, min(all_cores() if processes == 0 else processes, jobs))
    if workers > 1 and scenario.name not in available_scenarios():
        msg = (
            f"scenario `{scenario.name}` is not registered, so worker processes cannot load it. "
            "Hint: register it (entry point group `synthworld.scenarios`) or use processes=1."
        )
        raise ConfigError(msg)
    return workers


def whole_run(kpis: pl.DataFrame) -> pl.DataFrame:
    """The rows of a KPI frame without any group (``step``, ``name``, ``value``)."""
    groups = [c for c in kpis.columns if c not in ("step", "name", "value")]
    if groups:
        kpis = kpis.filter(pl.all_horizontal(pl.col(g).is_null() for g in groups))
    return kpis.select(
        pl.col("step").cast(pl.Int64), pl.col("name").cast(pl.String), pl.col("value")
    )


def _kpis(kpis: pl.DataFrame, *, groups: bool) -> pl.DataFrame:
    if not groups:
        return whole_run(kpis)
    return kpis.with_columns(pl.col("step").cast(pl.Int64), pl.col("name").cast(pl.String))


def _run(
    scenario: Scenario, job: Job, build_kwargs: Mapping[str, Any], *, groups: bool
) -> pl.DataFrame:
    """Run `job` with no event log; its KPIs (with the group rows if `groups`)."""
    model = scenario.build(
        job.params, seed=replicate_seed(job.root, job.replicate), out=None, **build_kwargs
    )
    with model:
        model.run(scenario.steps_in(job.params))
    return _kpis(model.kpis.to_frame(), groups=groups)


@functools.cache
def _scenario_named(name: str) -> Scenario:
    return load_scenario(name)


@functools.lru_cache(maxsize=256)
def _params_of(name: str, key: str) -> Any:
    return read_params(_scenario_named(name).parameters, toml=json.loads(key))


def _worker(
    name: str,
    build_kwargs: Mapping[str, Any],
    params_key: str,
    root: int,
    k: int,
    groups: bool,  # noqa: FBT001
) -> pl.DataFrame:
    """One job where it runs (a local process or a Dask worker): only plain data came across;
    the scenario and parameters are loaded once per worker."""
    job = Job(_params_of(name, params_key), root, k)
    return _run(_scenario_named(name), job, build_kwargs, groups=groups)


def _check_kwargs(build_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    build_kwargs = dict(build_kwargs or {})
    if "seed" in build_kwargs or "out" in build_kwargs or "shard" in build_kwargs:
        msg = "`build_kwargs` must not set `seed`, `out` or `shard` (the experiment sets them)."
        raise ConfigError(msg)
    return build_kwargs


def run_jobs(
    scenario: Scenario,
    jobs: Sequence[Job],
    *,
    processes: int = 1,
    build_kwargs: Mapping[str, Any] | None = None,
    groups: bool = False,
    execution: Execution | None = None,
) -> Iterator[tuple[int, pl.DataFrame]]:
    """Run `jobs`; yield ``(index in jobs, KPI frame)`` for each as it finishes.

    Parameters
    ----------
    scenario : Scenario
        With more than one worker it must be registered.
    jobs : sequence of Job
    processes : int
        Worker processes: 1 runs in this process (in order), 0 uses every core. Never more than
        there are jobs.
    build_kwargs : mapping, optional
        Extra arguments to ``scenario.build`` (not `seed`, `out` or `shard`).
    groups : bool
        Keep the KPI rows of groups (``zone``, ``age_band``, ...) besides the whole-run rows
        (``step, name, value``).
    execution : abm.execution.Execution, optional
        Where the jobs run, instead of `processes` (local processes or a Dask cluster).

    Raises
    ------
    ConfigError
        For bad arguments, or when a worker process dies (with a hint to run in one process).
    """
    build_kwargs = _check_kwargs(build_kwargs)
    for job in jobs:
        scenario.steps_in(job.params)
    check_int(processes, "processes", low=0)
    where = execution if execution is not None else Execution(processes=processes)
    with where.open(tasks=len(jobs)) as backend:
        if backend.kind == "serial":
            for i, job in enumerate(jobs):
                yield i, _run(scenario, job, build_kwargs, groups=groups)
            return
        if scenario.name not in available_scenarios():
            msg = (
                f"scenario `{scenario.name}` is not registered, so worker processes cannot "
                "load it. Hint: register it (entry point group `synthworld.scenarios`) or use "
                "processes=1."
            )
            raise ConfigError(msg)
        keys = {id(j.params): json.dumps(params_to_dict(j.params), sort_keys=True) for j in jobs}
        tasks = [
            (scenario.name, build_kwargs, keys[id(j.params)], j.root, j.replicate, groups)
            for j in jobs
        ]
        yield from backend.run(_worker, tasks)
