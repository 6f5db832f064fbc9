"""What-if experiments: a baseline and policies compared over replicates, paired.

`what_if` runs the baseline and every policy (parameter overrides on the baseline) for replicates
``k = 0 .. n-1``. With common random numbers (the default) replicate ``k`` of every arm is seeded
with the same ``replicate_seed(seed, k)``; keyed draws (`abm.rng.KeyedDraws`) then give each
person the same draws in every arm wherever the policy does not change what happens to them, so
the paired difference ``policy - baseline`` of replicate ``k`` carries the policy's effect and
little noise. With ``common_random_numbers=False`` policy ``i`` is seeded with
``replicate_seed(seed + 1 + i, k)`` instead (independent runs), for comparison.

Each run is summarised by `summary` (a KPI frame of one run to named scalars; by default
`default_summary`: per KPI the value at the last step, ``NAME_last``, and the sum over steps,
``NAME_sum``). The result gives per policy and outcome the baseline and policy means, the mean
paired difference, its standard error and a t-based confidence interval.

Examples
--------
>>> from scenarios.outbreak import SCENARIO  # doctest: +SKIP
>>> result = what_if(  # doctest: +SKIP
...     SCENARIO, ["days=60"], {"vaccinate": ["vaccination.coverage=0.6"]}, seed=1, n=10
... )
>>> result.to_frame()  # doctest: +SKIP

Worker processes (``processes > 1``) are started with ``spawn``; they load the scenario by name
and rebuild the parameters from plain data, as `abm.replicates.run_replicates` does, and receive
`build_kwargs` once each (it must be picklable).
"""

from __future__ import annotations

import copy
import math
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, is_dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from abm.params import params_to_dict, read_params
from abm.registry import Scenario, available_scenarios, load_scenario
from abm.replicates import all_cores, replicate_seed
from populations.errors import ConfigError

__all__ = ["BASELINE", "WhatIfResult", "default_summary", "replicate_kpis", "what_if"]

BASELINE = "baseline"
"""The baseline's name in the ``arm`` column of the per-replicate table."""

Summary = Callable[[pl.DataFrame], Mapping[str, float]]

# --------------------------------------------------------------------------- arguments


def _scenario(scenario: Scenario | str) -> Scenario:
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if not isinstance(scenario, Scenario):
        msg = f"`scenario` must be a Scenario or a scenario name, got {type(scenario).__name__}."
        raise ConfigError(msg)
    return scenario


def _int(value: Any, what: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        msg = f"`{what}` must be an integer >= {low}, got {value!r}."
        raise ConfigError(msg)
    return int(value)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}, "c.d": 2}`` as ``[("a.b", 1), ("c.d", 2)]``."""
    items: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(_flatten(value, name + "."))
        else:
            items.append((name, value))
    return items


def _apply(cls: type, base: Mapping[str, Any], changes: Any, what: str) -> Any:
    """`base` (plain data) with `changes` (``key=value`` strings or a mapping) as `cls`."""
    data = copy.deepcopy(dict(base))
    if changes is None:
        changes = ()
    if isinstance(changes, str):
        changes = [changes]
    try:
        if isinstance(changes, Mapping):
            for key, value in _flatten(changes):
                node = data
                *parents, last = key.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                    if not isinstance(node, dict):
                        msg = f"`{key}`: `{part}` is a value, not a table of parameters"
                        raise ConfigError(msg)
                node[last] = copy.deepcopy(value)
            return read_params(cls, toml=data)
        if isinstance(changes, Sequence):
            return read_params(cls, toml=data, overrides=list(changes))
    except ConfigError as exc:
        msg = f"{what}: {exc}"
        raise ConfigError(msg) from None
    msg = (
        f"{what}: expected overrides (a list of 'key=value' strings) or a mapping of "
        f"parameters, got {type(changes).__name__}."
    )
    raise ConfigError(msg)


def _params(scenario: Scenario, params: Any, what: str = "`params`") -> Any:
    """Parameters given as an instance, a mapping, overrides or None, as an instance."""
    cls = scenario.parameters
    if isinstance(params, cls):
        return params
    if is_dataclass(params) and not isinstance(params, type):
        msg = (
            f"{what} must be a {cls.__name__} (scenario `{scenario.name}`), a mapping, "
            f"overrides or None, got {type(params).__name__}."
        )
        raise ConfigError(msg)
    return _apply(cls, {}, params, what)


def _workers(scenario: Scenario, processes: int, jobs: int) -> int:
    processes = _int(processes, "processes", low=0)
    workers = min(all_cores() if processes == 0 else processes, jobs)
    if workers > 1 and scenario.name not in available_scenarios():
        msg = (
            f"scenario `{scenario.name}` is not registered, so worker processes cannot load it. "
            "Hint: register it (entry point group `synthworld.scenarios`) or use processes=1."
        )
        raise ConfigError(msg)
    return workers


# --------------------------------------------------------------------------- running


def _whole_run(kpis: pl.DataFrame) -> pl.DataFrame:
    """The rows of a KPI frame without any group (``step``, ``name``, ``value``)."""
    groups = [c for c in kpis.columns if c not in ("step", "name", "value")]
    if groups:
        kpis = kpis.filter(pl.all_horizontal(pl.col(g).is_null() for g in groups))
    return kpis.select(
        pl.col("step").cast(pl.Int64), pl.col("name").cast(pl.String), pl.col("value")
    )


def _run(
    scenario: Scenario, params: Any, root: int, k: int, build_kwargs: Mapping[str, Any]
) -> pl.DataFrame:
    """Replicate `k` of `root` with no event log; its whole-run KPIs."""
    model = scenario.build(params, seed=replicate_seed(root, k), out=None, **build_kwargs)
    with model:
        model.run(scenario.steps_in(params))
    return _whole_run(model.kpis.to_frame())


_STATE: dict[str, Any] = {}


def _init_worker(name: str, build_kwargs: Mapping[str, Any]) -> None:
    _STATE["scenario"] = load_scenario(name)
    _STATE["build_kwargs"] = dict(build_kwargs)
    _STATE["params"] = {}


def _worker(params_data: dict[str, Any], root: int, k: int) -> pl.DataFrame:
    scenario = _STATE["scenario"]
    key = repr(params_data)
    cache = _STATE["params"]
    if key not in cache:
        cache[key] = read_params(scenario.parameters, toml=params_data)
    return _run(scenario, cache[key], root, k, _STATE["build_kwargs"])


def _run_all(
    scenario: Scenario,
    jobs: Sequence[tuple[Any, int, int]],
    *,
    processes: int,
    build_kwargs: Mapping[str, Any] | None,
) -> list[pl.DataFrame]:
    """The whole-run KPIs of each job ``(params, root seed, replicate)``, in order."""
    build_kwargs = dict(build_kwargs or {})
    if "seed" in build_kwargs or "out" in build_kwargs or "shard" in build_kwargs:
        msg = "`build_kwargs` must not set `seed`, `out` or `shard` (the experiment sets them)."
        raise ConfigError(msg)
    for params, _, _ in jobs:
        scenario.steps_in(params)
    workers = _workers(scenario, processes, len(jobs))
    if workers == 1:
        return [_run(scenario, p, root, k, build_kwargs) for p, root, k in jobs]
    data = [params_to_dict(p) for p, _, _ in jobs]
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(scenario.name, build_kwargs),
        ) as pool:
            futures = [
                pool.submit(_worker, d, root, k) for d, (_, root, k) in zip(data, jobs, strict=True)
            ]
            try:
                return [f.result() for f in futures]
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    except BrokenProcessPool as exc:
        msg = (
            f"a worker process running `{scenario.name}` died ({exc}). Hint: run with "
            "processes=1 to see its error; a script that starts workers needs "
            "`if __name__ == '__main__':`."
        )
        raise ConfigError(msg) from exc


def replicate_kpis(
    scenario: Scenario | str,
    params: Any = None,
    *,
    seed: int,
    n: int,
    processes: int = 1,
    build_kwargs: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """The whole-run KPIs of `n` replicates of `scenario`, with no event log written.

    Replicate ``k`` is built with ``seed=replicate_seed(seed, k)`` and ``out=None`` (plus
    `build_kwargs`) and run for ``scenario.steps_in(params)`` steps. `params` is an instance of
    ``scenario.parameters``, a mapping, a list of ``key=value`` overrides or None (defaults).
    With ``processes > 1`` (0: every core) replicates run in spawned worker processes; the
    result does not depend on it.

    Returns a tidy frame ``replicate, step, name, value``: the KPI rows without groups.
    """
    scenario = _scenario(scenario)
    seed = _int(seed, "seed", low=0)
    n = _int(n, "n", low=1)
    params = _params(scenario, params)
    frames = _run_all(
        scenario, [(params, seed, k) for k in range(n)], processes=processes,
        build_kwargs=build_kwargs,
    )  # fmt: skip
    return pl.concat(
        [f.select(pl.lit(k, pl.Int64).alias("replicate"), pl.all()) for k, f in enumerate(frames)]
    )


# --------------------------------------------------------------------------- what if


def default_summary(kpis: pl.DataFrame) -> dict[str, float]:
    """Per KPI of one run: its value at the last step (``NAME_last``) and its sum over steps
    (``NAME_sum``)."""
    kpis = _whole_run(kpis)
    out: dict[str, float] = {}
    for (name,), rows in kpis.sort("step").group_by("name", maintain_order=True):
        out[f"{name}_last"] = float(rows["value"][-1])
        out[f"{name}_sum"] = float(rows["value"].sum())
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class WhatIfResult:
    """Paired comparisons of policies with a baseline.

    Attributes
    ----------
    comparisons : polars.DataFrame
        One row per policy and outcome: ``policy, outcome, n, baseline_mean, policy_mean,
        diff_mean, diff_sd, diff_se, ci_low, ci_high`` (the difference is policy - baseline,
        paired by replicate; the interval is t-based at `confidence`).
    replicates : polars.DataFrame
        The raw outcomes, tidy: ``arm`` (`BASELINE` or a policy), ``replicate``, ``seed`` (the
        root seed the arm's replicates come from), ``outcome``, ``value``.
    confidence : float
    common_random_numbers : bool
    """

    comparisons: pl.DataFrame
    replicates: pl.DataFrame
    confidence: float
    common_random_numbers: bool

    def to_frame(self) -> pl.DataFrame:
        """The comparisons (one row per policy and outcome)."""
        return self.comparisons


def _summarise(summary: Summary, kpis: pl.DataFrame, what: str) -> dict[str, float]:
    values = summary(kpis)
    if not isinstance(values, Mapping):
        msg = f"`summary` must return a mapping of outcome names to numbers, got {values!r}."
        raise ConfigError(msg)
    try:
        return {str(k): float(v) for k, v in values.items()}
    except (TypeError, ValueError):
        msg = f"`summary` returned a non-numeric outcome for {what}: {dict(values)!r}."
        raise ConfigError(msg) from None


def _compare(table: pl.DataFrame, policies: Sequence[str], confidence: float) -> pl.DataFrame:
    base = table.filter(pl.col("arm") == BASELINE).select(
        "replicate", "outcome", pl.col("value").alias("baseline")
    )
    rows: list[dict[str, Any]] = []
    for policy in policies:
        pol = table.filter(pl.col("arm") == policy).select(
            "replicate", "outcome", pl.col("value").alias("policy")
        )
        paired = base.join(pol, on=["replicate", "outcome"], how="inner").sort(
            "outcome", "replicate"
        )
        for (outcome,), g in paired.group_by("outcome", maintain_order=True):
            b, p = g["baseline"].to_numpy(), g["policy"].to_numpy()
            d = p - b
            n = d.size
            sd = float(np.std(d, ddof=1)) if n > 1 else math.nan
            se = sd / math.sqrt(n) if n > 1 else math.nan
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se if n > 1 else math.nan
            mean = float(d.mean())
            rows.append(
                {
                    "policy": policy,
                    "outcome": outcome,
                    "n": n,
                    "baseline_mean": float(b.mean()),
                    "policy_mean": float(p.mean()),
                    "diff_mean": mean,
                    "diff_sd": sd,
                    "diff_se": se,
                    "ci_low": mean - half,
                    "ci_high": mean + half,
                }
            )
    schema = {
        "policy": pl.String,
        "outcome": pl.String,
        "n": pl.Int64,
        **dict.fromkeys(
            ("baseline_mean", "policy_mean", "diff_mean", "diff_sd", "diff_se", "ci_low"),
            pl.Float64,
        ),
        "ci_high": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def what_if(
    scenario: Scenario | str,
    baseline: Any,
    policies: Mapping[str, Sequence[str] | Mapping[str, Any]],
    *,
    seed: int,
    n: int,
    processes: int = 1,
    summary: Summary = default_summary,
    common_random_numbers: bool = True,
    confidence: float = 0.95,
    build_kwargs: Mapping[str, Any] | None = None,
) -> WhatIfResult:
    """Compare `policies` with `baseline` over `n` paired replicates.

    Parameters
    ----------
    scenario : Scenario or str
        The scenario or its registered name (registered if ``processes > 1``).
    baseline : dataclass instance, mapping, list of ``key=value`` strings or None
        The baseline parameters (None: the defaults).
    policies : mapping of name to overrides
        Each policy as changes to the baseline: ``["vaccination.coverage=0.6"]`` or a mapping
        (``{"vaccination": {"coverage": 0.6}}`` or ``{"vaccination.coverage": 0.6}``).
    seed : int
        Root seed. Replicate ``k`` of the baseline runs with ``replicate_seed(seed, k)``.
    n : int
        Replicates per arm, at least 2.
    processes : int
        Worker processes (0: every core); results do not depend on it.
    summary : callable
        A run's KPI frame (``step, name, value``, no group rows) to named scalar outcomes.
    common_random_numbers : bool
        True: every policy's replicate ``k`` uses the baseline's seed. False: policy ``i``
        (in the order given) uses ``replicate_seed(seed + 1 + i, k)``.
    confidence : float
        Level of the t-based intervals, in (0, 1).
    build_kwargs : mapping, optional
        Extra arguments to ``scenario.build`` (e.g. ``persons=...``); picklable if
        ``processes > 1``.

    Raises
    ------
    ConfigError
        For bad arguments, and a policy setting an unknown parameter (naming the policy and the
        closest parameter) or a bad value.
    """
    scenario = _scenario(scenario)
    seed = _int(seed, "seed", low=0)
    n = _int(n, "n", low=2)
    if isinstance(confidence, bool) or not isinstance(confidence, float | int):
        msg = f"`confidence` must be a number in (0, 1), got {confidence!r}."
        raise ConfigError(msg)
    if not 0 < confidence < 1:
        msg = f"`confidence` must be in (0, 1), got {confidence!r}. Hint: 0.95"
        raise ConfigError(msg)
    if not callable(summary):
        msg = f"`summary` must be a callable, got {type(summary).__name__}."
        raise ConfigError(msg)
    if not isinstance(policies, Mapping) or not policies:
        msg = "`policies` must be a non-empty mapping of policy names to overrides."
        raise ConfigError(msg)
    base = _params(scenario, baseline, "baseline")
    base_data = params_to_dict(base)
    arms: list[tuple[str, Any, int]] = [(BASELINE, base, seed)]
    for i, (name, changes) in enumerate(policies.items()):
        if not isinstance(name, str) or not name or name == BASELINE:
            msg = f"policy names must be non-empty strings other than `{BASELINE}`, got {name!r}."
            raise ConfigError(msg)
        params = _apply(scenario.parameters, base_data, changes, f"policy `{name}`")
        arms.append((name, params, seed if common_random_numbers else seed + 1 + i))
    jobs = [(params, root, k) for _, params, root in arms for k in range(n)]
    frames = _run_all(scenario, jobs, processes=processes, build_kwargs=build_kwargs)
    records: dict[str, list[Any]] = {c: [] for c in ("arm", "replicate", "seed", "outcome")}
    records["value"] = []
    for j, frame in enumerate(frames):
        arm, _, root = arms[j // n]
        k = j % n
        for outcome, value in _summarise(summary, frame, f"{arm} replicate {k}").items():
            records["arm"].append(arm)
            records["replicate"].append(k)
            records["seed"].append(root)
            records["outcome"].append(outcome)
            records["value"].append(value)
    table = pl.DataFrame(
        records,
        schema={
            "arm": pl.String,
            "replicate": pl.Int64,
            "seed": pl.Int64,
            "outcome": pl.String,
            "value": pl.Float64,
        },
    )
    comparisons = _compare(table, [a for a, _, _ in arms[1:]], float(confidence))
    return WhatIfResult(comparisons, table, float(confidence), bool(common_random_numbers))
