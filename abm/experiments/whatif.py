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

With `out`, the experiment is written to a folder (`abm.experiments.store`: resumable, a rerun
with the same arguments skips the finished runs): ``manifest.json``, ``comparisons.parquet``
(`WhatIfResult.to_frame`), ``replicates.parquet`` (arm, replicate, seed, outcome, value) and
``kpis.parquet`` (arm, replicate, step, name, value and the KPI group columns: every run's KPI
time series).

Examples
--------
>>> from scenarios.outbreak import SCENARIO  # doctest: +SKIP
>>> result = what_if(  # doctest: +SKIP
...     SCENARIO, ["days=60"], {"vaccinate": ["vaccination.coverage=0.6"]}, seed=1, n=10
... )
>>> result.to_frame()  # doctest: +SKIP

Worker processes (``processes > 1``) are started with ``spawn``; they load the scenario by name
and rebuild the parameters from plain data (`abm.experiments.jobs`), and receive `build_kwargs`
once each (it must be picklable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from abm.execution import Execution
from abm.experiments.changes import apply_changes, as_params, changed
from abm.experiments.jobs import Job, as_scenario, check_int, run_jobs, whole_run
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

__all__ = ["BASELINE", "WhatIfResult", "default_summary", "replicate_kpis", "what_if"]

BASELINE = "baseline"
"""The baseline's name in the ``arm`` column of the per-replicate table."""


def replicate_kpis(
    scenario: Scenario | str,
    params: Any = None,
    *,
    seed: int,
    n: int,
    processes: int = 1,
    execution: Execution | None = None,
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
    scenario = as_scenario(scenario)
    seed = check_int(seed, "seed", low=0)
    n = check_int(n, "n", low=1)
    params = as_params(scenario, params)
    jobs = [Job(params, seed, k) for k in range(n)]
    frames = dict(
        run_jobs(
            scenario,
            jobs,
            processes=processes,
            execution=execution,
            build_kwargs=build_kwargs,
            groups=False,
        )  # fmt: skip
    )
    return pl.concat(
        [frames[k].select(pl.lit(k, pl.Int64).alias("replicate"), pl.all()) for k in range(n)]
    )


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
    kpis : polars.DataFrame or None
        Every run's KPI time series (``arm, replicate, step, name, value`` and the group
        columns), if asked for (``keep_kpis=True`` or `out`).
    executed : int
        How many runs this call computed (fewer than all when it resumed a folder).
    """

    comparisons: pl.DataFrame
    replicates: pl.DataFrame
    confidence: float
    common_random_numbers: bool
    kpis: pl.DataFrame | None = None
    executed: int = 0

    def to_frame(self) -> pl.DataFrame:
        """The comparisons (one row per policy and outcome)."""
        return self.comparisons


_COMPARISONS = {
    "policy": pl.String,
    "outcome": pl.String,
    "n": pl.Int64,
    **dict.fromkeys(
        ("baseline_mean", "policy_mean", "diff_mean", "diff_sd", "diff_se", "ci_low", "ci_high"),
        pl.Float64,
    ),
}


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
            diff = mean_interval(p - b, confidence)
            rows.append(
                {
                    "policy": policy,
                    "outcome": outcome,
                    "n": b.size,
                    "baseline_mean": float(b.mean()),
                    "policy_mean": float(p.mean()),
                    "diff_mean": diff["mean"],
                    "diff_sd": diff["sd"],
                    "diff_se": diff["se"],
                    "ci_low": diff["ci_low"],
                    "ci_high": diff["ci_high"],
                }
            )
    return pl.DataFrame(rows, schema=_COMPARISONS)


def what_if(
    scenario: Scenario | str,
    baseline: Any,
    policies: Mapping[str, Sequence[str] | Mapping[str, Any]],
    *,
    seed: int,
    n: int,
    processes: int = 1,
    execution: Execution | None = None,
    summary: Summary = default_summary,
    common_random_numbers: bool = True,
    confidence: float = 0.95,
    build_kwargs: Mapping[str, Any] | None = None,
    keep_kpis: bool = False,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], Any] | None = None,
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
    execution : abm.execution.Execution, optional
        Where the runs go instead of `processes`: local processes or a Dask cluster.
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
    keep_kpis : bool
        Keep every run's KPI time series, with group rows, in ``result.kpis``.
    out : path, optional
        Write the experiment to this folder (see the module docstring), resuming it if it
        holds this same experiment unfinished.
    overwrite : bool
        Replace whatever `out` holds (another experiment, or this one, started afresh).
    progress : callable, optional
        ``progress(done, total)`` as runs finish (``total`` = arms x `n`).

    Raises
    ------
    ConfigError
        For bad arguments, and a policy setting an unknown parameter (naming the policy and the
        closest parameter) or a bad value.
    OutputExistsError
        If `out` holds anything but this experiment, and not `overwrite`.
    """
    scenario = as_scenario(scenario)
    seed = check_int(seed, "seed", low=0)
    n = check_int(n, "n", low=2)
    confidence = check_confidence(confidence)
    summary = check_summary(summary)
    if not isinstance(policies, Mapping) or not policies:
        msg = "`policies` must be a non-empty mapping of policy names to overrides."
        raise ConfigError(msg)
    base = as_params(scenario, baseline, "baseline")
    base_data = params_to_dict(base)
    arms: list[tuple[str, Any, int]] = [(BASELINE, base, seed)]
    for i, (name, changes) in enumerate(policies.items()):
        if not isinstance(name, str) or not name or name == BASELINE:
            msg = f"policy names must be non-empty strings other than `{BASELINE}`, got {name!r}."
            raise ConfigError(msg)
        params = apply_changes(scenario.parameters, base_data, changes, f"policy `{name}`")
        arms.append((name, params, seed if common_random_numbers else seed + 1 + i))
    jobs = [Job(params, root, k) for _, params, root in arms for k in range(n)]
    names = [run_name(a, k) for a in range(len(arms)) for k in range(n)]
    keep_kpis = keep_kpis or out is not None
    store = None
    if out is not None:
        identity = experiment_identity(
            "whatif", scenario, base, seed=seed, replicates=n, summary=summary,
            common_random_numbers=common_random_numbers, build_kwargs=build_kwargs,
        )  # fmt: skip
        identity["policies"] = {name: changed(base_data, p) for name, p, _ in arms[1:]}
        identity["confidence"] = confidence
        parts = ("outcomes", "kpis")
        store = ExperimentStore(Path(out), identity, parts=parts, overwrite=overwrite)

    def compute(todo: list[int]) -> Any:
        chosen = [jobs[t] for t in todo]
        runs = run_jobs(
            scenario, chosen, processes=processes, execution=execution,
            build_kwargs=build_kwargs, groups=keep_kpis,
        )  # fmt: skip
        for i, kpis in runs:
            j = todo[i]
            arm = arms[j // n][0]
            values = summarise(summary, whole_run(kpis), f"{arm} replicate {j % n}")
            record = {"outcomes": outcomes_frame(values)}
            if keep_kpis:
                record["kpis"] = kpis
            yield j, record

    records, executed = run_resumable(names, compute, store=store, progress=progress)
    keys = {
        "arm": pl.Series([arms[j // n][0] for j in range(len(jobs))], dtype=pl.String),
        "replicate": pl.Series([j % n for j in range(len(jobs))], dtype=pl.Int64),
        "seed": pl.Series([arms[j // n][2] for j in range(len(jobs))], dtype=pl.Int64),
    }
    table = stack([r["outcomes"] for r in records], keys)
    comparisons = _compare(table, [a for a, _, _ in arms[1:]], confidence)
    kpis = None
    if keep_kpis:
        kpis = stack([r["kpis"] for r in records], {k: keys[k] for k in ("arm", "replicate")})
    if store is not None:
        store.complete(
            {"comparisons": comparisons, "replicates": table, "kpis": kpis},
            {"runs": len(jobs), "outcomes": table["outcome"].unique(maintain_order=True).to_list()},
        )
    return WhatIfResult(
        comparisons, table, confidence, bool(common_random_numbers), kpis=kpis, executed=executed
    )
