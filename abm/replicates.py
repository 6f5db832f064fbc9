"""Replicates of one scenario run, in one or several processes, into one sharded folder.

`run_replicates` runs replicate ``k = 0 .. n-1`` of a scenario with the random streams
``Streams(seed).replicate(k)`` (`abm.rng`: computed without state, so replicate ``k`` is the same
whichever process builds it and however many there are) and writes its event log as shard ``k``
of one output folder::

    out/events/shard=00000/part-00000.parquet    replicate 0's events (and so on for each k)
    out/kpis/shard=00000/part-00000.parquet
    out/manifests/shard=00000.json
    out/replicates.json                          the run: seed, parameters, every shard

`abm.events.read_events(out)` reads every replicate as one table with a ``shard`` column. The
folder contains no timings and nothing that depends on the number of processes, so the same seed
and parameters give byte-identical files with ``processes=1`` or ``processes=2``.

The whole folder is staged beside `out` and appears only when every replicate has finished
(`populations.output.StagedOutput`); a failed replicate deletes everything.

The build protocol for replicates: besides ``build(params, *, seed, out, fmt, overwrite)`` (see
`abm.registry.Scenario`), the scenario's ``build`` accepts ``shard=None``. With ``shard=k`` it
must

* seed its model with ``replicate_seed(seed, shard)`` (``Streams(seed).replicate(k)``), and
* write its log as shard ``k`` of `out`: ``EventLog(out, shard=shard, seed=seed, ...)``.

`seed` stays the run's root seed (an int, recorded in every manifest). `run_replicates` checks
both after building each replicate.

Worker processes are started with ``spawn`` (polars and numpy threads do not survive ``fork``);
each one loads the scenario by name (`abm.registry.load_scenario`) and rebuilds the parameters
from plain data (`abm.params.read_params`), so only names and JSON values cross processes.
"""

from __future__ import annotations

import inspect
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from abm.events import EVENT_FORMATS
from abm.execution import Execution, all_cores
from abm.params import params_to_dict, read_params
from abm.registry import Scenario, available_scenarios, load_scenario
from abm.rng import Streams
from populations.errors import ConfigError, closest_hint
from populations.output import StagedOutput, package_version, parameters_sha256

__all__ = ["MANIFEST", "all_cores", "replicate_seed", "run_replicates"]

MANIFEST = "replicates.json"
"""The run's manifest, at the top of the output folder (beside ``manifests/``)."""
PLAN = "plan.json"
"""What an unfinished run is (scenario, seed, replicates, format, parameters' sha256), kept in
its temporary folder so that ``resume=True`` finds it; removed before the run is committed."""


def replicate_seed(seed: int, shard: int | None) -> int | Streams:
    """What a scenario's ``build`` seeds its model with: `seed` itself for a single run
    (``shard=None``), ``Streams(seed).replicate(shard)`` for replicate `shard`.

    >>> replicate_seed(7, None)
    7
    >>> replicate_seed(7, 2).seed_sequence.spawn_key
    (2,)
    """
    if shard is None:
        return seed
    return Streams(seed).replicate(shard)


def _count(value: Any, what: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        msg = f"`{what}` must be an integer >= {low}, got {value!r}."
        raise ConfigError(msg)
    return int(value)


def _check_build(scenario: Scenario) -> None:
    try:
        signature = inspect.signature(scenario.build)
    except (TypeError, ValueError):  # a builtin or C callable: let the call decide
        return
    kinds = {p.kind for p in signature.parameters.values()}
    if "shard" not in signature.parameters and inspect.Parameter.VAR_KEYWORD not in kinds:
        msg = (
            f"scenario `{scenario.name}` cannot run replicates: its build() takes no `shard`. "
            "Hint: accept `shard=None`, seed the model with abm.replicates.replicate_seed(seed, "
            "shard) and pass shard=shard to its EventLog."
        )
        raise ConfigError(msg)


def _run_one(
    scenario: Scenario, params: Any, seed: int, shard: int, out: Path, fmt: str
) -> dict[str, Any]:
    """Build, run and close replicate `shard`; return what the run's manifest lists of it."""
    from abm.model import SynthModel

    total = scenario.steps_in(params)
    name = scenario.name
    try:
        model = scenario.build(params, seed=seed, out=out, fmt=fmt, overwrite=False, shard=shard)
    except TypeError as exc:
        if "shard" not in str(exc):
            raise
        msg = (
            f"scenario `{name}` cannot run replicates: its build() does not accept `shard` "
            f"({exc}). Hint: accept `shard=None`, seed the model with "
            "abm.replicates.replicate_seed(seed, shard) and pass shard=shard to its EventLog."
        )
        raise ConfigError(msg) from None
    if not isinstance(model, SynthModel):
        msg = (
            f"scenario `{name}`: build() returned a {type(model).__name__}, not a SynthModel. "
            "Hint: return the model (an abm.model.SynthModel subclass)."
        )
        raise ConfigError(msg)
    with model:
        expected = Streams(seed).replicate(shard).seed_sequence
        got = model.streams.seed_sequence
        if (got.entropy, got.spawn_key) != (expected.entropy, expected.spawn_key):
            msg = (
                f"scenario `{name}`: build(shard={shard}) did not seed the model with replicate "
                f"{shard}'s streams. Hint: pass seed=abm.replicates.replicate_seed(seed, shard) "
                "to the model."
            )
            raise ConfigError(msg)
        log = model.event_log
        if log is None or log.shard != shard or log.path != out:
            msg = (
                f"scenario `{name}`: build(shard={shard}) did not give the model an event log "
                f"for shard {shard} of `out`. Hint: EventLog(out, shard=shard, ...)."
            )
            raise ConfigError(msg)
        model.run(total)
    manifest = model.manifest or {}
    return {
        "shard": shard,
        "steps": model.clock.step,
        "rows": manifest.get("rows"),
        "manifest": f"manifests/shard={shard:05d}.json",
        "events": manifest.get("events"),
        "kpis": manifest.get("kpis"),
        "kpi_rows": (manifest.get("outputs", {}).get(manifest.get("kpis"), {}).get("rows")),
    }


def _worker(
    name: str, params_data: dict[str, Any], seed: int, shard: int, out: str, fmt: str
) -> dict[str, Any]:
    """One replicate in a worker process: only plain data came across.

    Idempotent: a replicate already written (a Dask worker that died after finishing it loses
    its result, and the scheduler runs it again) is read back instead of run again.
    """
    done = _finished(Path(out), shard)
    if done is not None:
        return done
    scenario = load_scenario(name)
    params = read_params(scenario.parameters, toml=params_data)
    return _run_one(scenario, params, seed, shard, Path(out), fmt)


def run_replicates(
    scenario: Scenario | str,
    params: Any = None,
    *,
    seed: int,
    n: int,
    out: str | Path,
    fmt: str = "parquet",
    processes: int = 1,
    execution: Execution | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Run `n` replicates of `scenario` and write them as the shards of one folder `out`.

    Parameters
    ----------
    scenario : Scenario or str
        The scenario, or its registered name. Outside this process (``processes > 1``, Dask) it
        must be registered (the workers load it by name).
    params : dataclass instance, mapping or None
        The scenario's parameters: an instance of ``scenario.parameters``, a mapping of values
        (as in a TOML file), or None for the defaults.
    seed : int
        The root seed: replicate ``k`` runs with ``Streams(seed).replicate(k)``.
    n : int
        Number of replicates (shards ``0 .. n-1``), at least 1.
    out : str or Path
        The output folder (see the module docstring); refused if it holds files, unless
        `overwrite`, before any replicate runs.
    fmt : {"parquet", "csv", "jsonl"}
        The event logs' format.
    processes : int
        Worker processes: 1 runs in this process, 0 uses every core. The files do not depend
        on it.
    execution : abm.execution.Execution, optional
        Where the replicates run, instead of `processes`: local processes, a running Dask
        cluster (``Execution(scheduler="tcp://host:8786")``) or a local one
        (``Execution(workers=2)``). The files do not depend on it.
    overwrite : bool
        Replace what `out` holds, once every replicate has finished.
    resume : bool
        Finish the run a killed process left unfinished (its temporary folder beside `out`):
        the replicates it finished are kept, the others run. The run must have the same
        scenario, parameters, seed, number of replicates and format; without such a folder the
        run starts afresh.
    progress : callable, optional
        ``progress(done, n)`` after each replicate finishes (in the order they finish); a
        callable that also takes ``rows=`` gets the events written so far.

    Returns
    -------
    dict
        The run's manifest, also written as ``out/replicates.json``: seed, parameters, and per
        shard its steps, rows and manifest, plus every file's rows and sha256 (``outputs``).

    Raises
    ------
    ConfigError
        For bad arguments, a scenario whose build does not honour ``shard`` (see the module
        docstring), or any error of a replicate (the folder is then not written).
    OutputExistsError
        If `out` holds files and not `overwrite`.
    """
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if not isinstance(scenario, Scenario):
        msg = f"`scenario` must be a Scenario or a scenario name, got {type(scenario).__name__}."
        raise ConfigError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"`seed` must be a non-negative integer, got {seed!r}."
        raise ConfigError(msg)
    seed = int(seed)
    n = _count(n, "n", low=1)
    processes = _count(processes, "processes", low=0)
    if fmt not in EVENT_FORMATS:
        msg = f"unknown event log format `{fmt}`. " + closest_hint(str(fmt), EVENT_FORMATS)
        raise ConfigError(msg)
    if params is None or isinstance(params, Mapping):
        params = read_params(scenario.parameters, toml=params)
    elif not isinstance(params, scenario.parameters):
        msg = (
            f"`params` must be a {scenario.parameters.__name__} (scenario `{scenario.name}`), a "
            f"mapping or None, got {type(params).__name__}."
        )
        raise ConfigError(msg)
    params_data = params_to_dict(params)
    scenario.steps_in(params)
    _check_build(scenario)
    out = Path(out)
    plan = {
        "scenario": scenario.name,
        "seed": seed,
        "replicates": n,
        "format": fmt,
        "parameters_sha256": parameters_sha256(params_data),
    }
    staging = _unfinished(out, plan) if resume else None
    with StagedOutput(out, overwrite=overwrite, manifest=MANIFEST, staging=staging) as staged:
        (staged.path / PLAN).write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
        shards = {k: s for k in range(n) if (s := _finished(staged.path, k)) is not None}
        todo = [k for k in range(n) if k not in shards]
        report = _reporter(progress)
        if shards:
            report(shards, n)
        where = execution if execution is not None else Execution(processes=processes)
        with where.open(tasks=len(todo)) as backend:
            if backend.kind == "serial":
                fn, tasks = _run_one, [(scenario, params, seed, k, staged.path, fmt) for k in todo]
            else:
                if available_scenarios().get(scenario.name) is None:
                    msg = (
                        f"scenario `{scenario.name}` is not registered, so worker processes "
                        "cannot load it. Hint: register it (entry point group "
                        "`synthworld.scenarios`) or use processes=1."
                    )
                    raise ConfigError(msg)
                fn = _worker
                tasks = [(scenario.name, params_data, seed, k, str(staged.path), fmt) for k in todo]
            for i, shard in backend.run(fn, tasks):
                shards[todo[i]] = shard
                report(shards, n)
        (staged.path / PLAN).unlink()
        _drop_partials(staged.path)  # what killed tasks left (their work was done again)
        listed = [shards[k] for k in range(n)]
        rows: dict[str, Any] = {}
        for s in listed:
            rows[s["events"]] = s["rows"]
            rows[s["kpis"]] = s.pop("kpi_rows")
        manifest = {
            "synthworld": package_version(),
            "kind": "replicates",
            "scenario": scenario.name,
            "seed": seed,
            "replicates": n,
            "replicate_seeds": "abm.rng.Streams(seed).replicate(shard)",
            "format": fmt,
            "parameters": params_data,
            "parameters_sha256": parameters_sha256(params_data),
            "rows": sum(s["rows"] or 0 for s in listed),
            "shards": listed,
        }
        return staged.commit(manifest, rows)


def _reporter(progress: Callable[..., Any] | None) -> Callable[[dict, int], None]:
    """``report(shards, n)``: calls `progress` with the count (and rows, if it takes them)."""
    if progress is None:
        return lambda shards, n: None
    try:
        takes_rows = "rows" in inspect.signature(progress).parameters
    except (TypeError, ValueError):
        takes_rows = False

    def report(shards: dict, n: int) -> None:
        if takes_rows:
            progress(len(shards), n, rows=sum(s["rows"] or 0 for s in shards.values()))
        else:
            progress(len(shards), n)

    return report


def _unfinished(out: Path, plan: dict[str, Any]) -> Path | None:
    """The temporary folder of an unfinished run of the same `plan` beside `out`, if any."""
    for folder in StagedOutput.partial_folders(out):
        try:
            found = json.loads((folder / PLAN).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if found == plan:
            return folder
    return None


def _finished(staging: Path, shard: int) -> dict[str, Any] | None:
    """What the run's manifest lists of shard `shard`, if an earlier attempt finished it."""
    rel = f"manifests/shard={shard:05d}.json"
    try:
        manifest = json.loads((staging / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outputs = manifest.get("outputs", {})
    return {
        "shard": shard,
        "steps": manifest.get("steps"),
        "rows": manifest.get("rows"),
        "manifest": rel,
        "events": manifest.get("events"),
        "kpis": manifest.get("kpis"),
        "kpi_rows": outputs.get(manifest.get("kpis"), {}).get("rows"),
    }


def _drop_partials(folder: Path) -> None:
    for leftover in folder.rglob(".*.partial-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
