"""Global sensitivity analysis: Sobol indices (Saltelli sampling) and Morris screening, via SALib.

Which parameters drive an outcome, alone and through interactions? `sensitivity` samples the
varied parameters' ranges with SALib's sampler for the method, runs the target at every sample
and computes the method's indices with SALib, for every outcome:

* ``method="sobol"``: Saltelli's extension of the Sobol' sequence (``SALib.sample.sobol``,
  ``samples`` = N base samples, a power of two: N (D + 2) runs for D parameters, N (2D + 2) with
  `second_order`) and ``SALib.analyze.sobol``: first-order ``S1`` (the share of the outcome's
  variance due to the parameter alone), total ``ST`` (alone and in every interaction) and with
  `second_order` ``S2`` for each pair (parameter ``"a,b"``).
* ``method="morris"``: elementary effects on `levels`-level trajectories
  (``SALib.sample.morris``, ``samples`` = trajectories: ``samples (D + 1)`` runs) and
  ``SALib.analyze.morris``: ``mu_star`` (mean absolute effect of moving the parameter across
  its whole range; a ranking of influence), ``mu`` (signed) and ``sigma`` (spread: non-linearity
  or interactions). Cheap screening before Sobol.

Each index comes with the half-width of its bootstrap confidence interval at `confidence`
(``conf``; SALib's `resamples` resamples), so the result says how far to trust it. Sampling
happens in the unit cube and is mapped to each parameter's range (`Factor.from_unit`; a
whole-number parameter takes each integer of its range with equal probability).

The target is a scenario (each sample is a set of parameter values on a baseline; outcomes are a
`summary` of a run's KPIs, e.g. ``new_infections_sum``, averaged over `replicates`; runs as in
`abm.experiments.sweeps`, with common random numbers across samples by default) or a plain
Python function of a dict of parameter values, returning a number (outcome ``y``) or a mapping
of outcomes.

With `out` (scenarios), the analysis is written to a folder (`abm.experiments.store`,
resumable): ``manifest.json``, ``design.parquet`` (point, one column per parameter),
``results.parquet`` (point, replicate, seed, outcome, value) and ``indices.parquet`` (parameter,
outcome, index, value, conf).

References
----------
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Design and
estimator for the total sensitivity index. Computer Physics Communications 181(2):259-270,
https://doi.org/10.1016/j.cpc.2009.09.018.
Campolongo, F., Cariboni, J., Saltelli, A. (2007). An effective screening design for
sensitivity analysis of large models. Environmental Modelling & Software 22(10):1509-1518,
https://doi.org/10.1016/j.envsoft.2006.10.004.
Herman, J., Usher, W. (2017). SALib: an open-source Python library for sensitivity analysis.
Journal of Open Source Software 2(9):97, https://doi.org/10.21105/joss.00097.

Examples
--------
The Ishigami function, whose indices are known (S1 = 0.314, 0.442, 0):

>>> import numpy as np
>>> def ishigami(x):
...     return (np.sin(x["x1"]) + 7 * np.sin(x["x2"]) ** 2
...             + 0.1 * x["x3"] ** 4 * np.sin(x["x1"]))
>>> vary = {name: (-np.pi, np.pi) for name in ("x1", "x2", "x3")}
>>> result = sensitivity(ishigami, vary, samples=1024, seed=1, vectorized=True)
>>> s1 = result.indices.filter(index="S1")
>>> s1["parameter"].to_list()
['x1', 'x2', 'x3']
>>> bool(np.allclose(s1["value"], [0.314, 0.442, 0.0], atol=0.05))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.execution import Execution
from abm.experiments.changes import as_params
from abm.experiments.designs import Design, Factor, factors
from abm.experiments.jobs import as_scenario, check_int
from abm.experiments.outcomes import (
    Summary,
    check_confidence,
    check_summary,
    default_summary,
)
from abm.experiments.store import ExperimentStore, experiment_identity
from abm.experiments.sweeps import design_params, run_points
from abm.registry import Scenario
from abm.rng import Streams
from populations.errors import ConfigError, closest_hint

__all__ = ["INDICES", "METHODS", "SensitivityResult", "sensitivity", "sensitivity_design"]

METHODS = ("sobol", "morris")
INDICES = {"sobol": ("S1", "ST", "S2"), "morris": ("mu_star", "mu", "sigma")}
"""The indices each method gives (``S2`` only with ``second_order``)."""

_INDEX_SCHEMA = {
    "parameter": pl.String,
    "outcome": pl.String,
    "index": pl.String,
    "value": pl.Float64,
    "conf": pl.Float64,
}


@dataclass(frozen=True)
class SensitivityResult:
    """Sensitivity indices, and the runs they come from.

    Attributes
    ----------
    method : str
        ``sobol`` or ``morris``.
    design : polars.DataFrame
        ``point`` and one column per parameter: the samples.
    results : polars.DataFrame
        ``point, replicate, seed, outcome, value``: every run's outcomes.
    indices : polars.DataFrame
        ``parameter, outcome, index, value, conf``: each index with the half-width of its
        confidence interval (null where the method gives none, and for an outcome that does
        not vary, which has no Sobol indices).
    executed : int
        How many runs this call computed (fewer than all when it resumed a folder).
    """

    method: str
    design: pl.DataFrame
    results: pl.DataFrame
    indices: pl.DataFrame
    executed: int = 0

    def to_frame(self) -> pl.DataFrame:
        """The indices (one row per parameter, outcome and index)."""
        return self.indices


def _check_method(method: Any) -> str:
    if method not in METHODS:
        msg = f"unknown sensitivity method `{method}`. {closest_hint(str(method), METHODS)}"
        raise ConfigError(msg)
    return method


def _check_samples(method: str, samples: Any) -> int:
    samples = check_int(samples, "samples", low=2)
    if method == "sobol" and samples & (samples - 1):
        below = 1 << (samples.bit_length() - 1)
        msg = (
            f"Sobol sampling needs a power of two base samples (its balance depends on it), got "
            f"{samples}. Hint: {below} or {below * 2}."
        )
        raise ConfigError(msg)
    return samples


def _problem(found: Sequence[Factor]) -> dict[str, Any]:
    """SALib's problem: the unit cube (values are mapped to ranges by `Factor.from_unit`)."""
    return {
        "num_vars": len(found),
        "names": [f.name for f in found],
        "bounds": [[0.0, 1.0]] * len(found),
    }


def sensitivity_design(
    found: Sequence[Factor],
    *,
    method: str = "sobol",
    samples: int,
    seed: int,
    second_order: bool = False,
    levels: int = 4,
) -> tuple[Design, np.ndarray]:
    """The samples of `method` over `found`: the design (values) and the unit-cube matrix
    SALib analyses (one row per point). Draws come from the stream ``"design"`` of `seed`."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    method = _check_method(method)
    samples = _check_samples(method, samples)
    found = tuple(found)
    ranges = [f.name for f in found if not f.is_range]
    if ranges:
        msg = (
            f"sensitivity analysis needs a range LOW:HIGH for each parameter, but `{ranges[0]}` "
            "is given a list of values. Hint: vary it over a range, or sweep it (synthworld "
            "sweep) instead."
        )
        raise ConfigError(msg)
    if not found:
        msg = "sensitivity analysis needs at least one varied parameter. Hint: --vary x=0:1"
        raise ConfigError(msg)
    rng = Streams(check_int(seed, "seed", low=0))["design"]
    problem = _problem(found)
    if method == "sobol":
        unit = sobol_sample.sample(
            problem, samples, calc_second_order=bool(second_order), scramble=True, seed=rng
        )
        settings = {"samples": samples, "second_order": bool(second_order), "seed": seed}
    else:
        levels = check_int(levels, "levels", low=2)
        unit = morris_sample.sample(problem, samples, num_levels=levels, seed=rng)
        settings = {"samples": samples, "levels": levels, "seed": seed}
    columns = {f.name: f.from_unit(unit[:, j]) for j, f in enumerate(found)}
    frame = pl.DataFrame(
        {
            f.name: pl.Series(columns[f.name], dtype=pl.Int64 if f.integer else pl.Float64)
            for f in found
        }  # fmt: skip
    )
    frame = frame.select(pl.int_range(frame.height, dtype=pl.Int64).alias("point"), pl.all())
    return Design(method, found, frame, settings), unit


def _analysis_seed(seed: int, outcome: str) -> int:
    """A seed for the bootstrap of `outcome`'s indices (non-zero: SALib ignores 0)."""
    generator = np.random.default_rng(Streams(seed).seed_sequence_for(f"analysis {outcome}"))
    return int(generator.integers(1, 2**31))


def _analyse(
    method: str,
    found: Sequence[Factor],
    unit: np.ndarray,
    y: np.ndarray,
    *,
    outcome: str,
    seed: int,
    second_order: bool,
    levels: int,
    confidence: float,
    resamples: int,
) -> list[dict[str, Any]]:
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    names = [f.name for f in found]
    problem = _problem(found)
    rows: list[dict[str, Any]] = []

    def add(parameter: str, index: str, value: Any, conf: Any) -> None:
        rows.append({"parameter": parameter, "outcome": outcome, "index": index,
                     "value": _number(value), "conf": _number(conf)})  # fmt: skip

    varies = bool(np.all(np.isfinite(y))) and float(np.ptp(y)) > 0
    if method == "sobol":
        if not varies:  # a constant (or undefined) outcome has no variance to share out
            for index in ("S1", "ST"):
                for name in names:
                    add(name, index, None, None)
            return rows
        s = sobol_analyze.analyze(
            problem, y, calc_second_order=second_order, num_resamples=resamples,
            conf_level=confidence, seed=_analysis_seed(seed, outcome),
        )  # fmt: skip
        for index in ("S1", "ST"):
            for j, name in enumerate(names):
                add(name, index, s[index][j], s[f"{index}_conf"][j])
        if second_order:
            for j in range(len(names)):
                for k in range(j + 1, len(names)):
                    add(f"{names[j]},{names[k]}", "S2", s["S2"][j, k], s["S2_conf"][j, k])
        return rows
    if not np.all(np.isfinite(y)):
        for index in ("mu_star", "mu", "sigma"):
            for name in names:
                add(name, index, None, None)
        return rows
    s = morris_analyze.analyze(
        problem, unit, y, num_resamples=resamples, conf_level=confidence, num_levels=levels,
        seed=_analysis_seed(seed, outcome),
    )  # fmt: skip
    for j, name in enumerate(names):
        add(name, "mu_star", s["mu_star"][j], s["mu_star_conf"][j])
    for index in ("mu", "sigma"):
        for j, name in enumerate(names):
            add(name, index, s[index][j], None)
    return rows


def _number(value: Any) -> float | None:
    if value is None or np.ma.is_masked(value):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def indices_frame(
    method: str,
    design: Design,
    unit: np.ndarray,
    results: pl.DataFrame,
    *,
    seed: int,
    confidence: float,
    resamples: int,
) -> pl.DataFrame:
    """The indices of every outcome in `results` (averaged over replicates per point)."""
    means = (
        results.group_by("point", "outcome", maintain_order=True)
        .agg(pl.col("value").mean())
        .sort("point", maintain_order=True)
    )
    second_order = bool(design.settings.get("second_order", False))
    levels = int(design.settings.get("levels", 4))
    rows: list[dict[str, Any]] = []
    for outcome in results["outcome"].unique(maintain_order=True).to_list():
        y = means.filter(pl.col("outcome") == outcome)
        if y.height != design.points:
            msg = (
                f"outcome `{outcome}` is missing from {design.points - y.height} of the "
                f"{design.points} points. Hint: a summary must give every outcome on every run."
            )
            raise ConfigError(msg)
        rows += _analyse(
            method, design.factors, unit, y["value"].to_numpy(), outcome=outcome, seed=seed,
            second_order=second_order, levels=levels, confidence=confidence,
            resamples=resamples,
        )  # fmt: skip
    return pl.DataFrame(rows, schema=_INDEX_SCHEMA)


def _evaluate(
    func: Callable[..., Any], design: Design, *, seed: int, vectorized: bool
) -> pl.DataFrame:
    """A plain function at every point: results ``point, replicate (0), seed, outcome, value``."""
    n = design.points
    if vectorized:
        values = {name: design.frame[name].to_numpy() for name in design.names}
        out = func(values)
        outputs = out if isinstance(out, Mapping) else {"y": out}
        columns = {}
        for name, array in outputs.items():
            array = np.asarray(array, dtype=float).reshape(-1)
            if array.size != n:
                msg = (
                    f"the function returned {array.size} values of `{name}` for {n} points. "
                    "Hint: with vectorized=True it gets arrays and returns one value per point."
                )
                raise ConfigError(msg)
            columns[str(name)] = array
    else:
        columns = {}
        for p in range(n):
            out = func(design.point(p))
            outputs = out if isinstance(out, Mapping) else {"y": out}
            if p == 0:
                columns = {str(k): np.empty(n) for k in outputs}
            if set(map(str, outputs)) != set(columns):
                msg = (
                    f"the function returned outcomes {sorted(map(str, outputs))} at point {p}, "
                    f"{sorted(columns)} at point 0. Hint: return the same outcomes every time."
                )
                raise ConfigError(msg)
            for k, v in outputs.items():
                try:
                    columns[str(k)][p] = float(v)
                except (TypeError, ValueError):
                    msg = f"the function returned a non-numeric `{k}` at point {p}: {v!r}."
                    raise ConfigError(msg) from None
    frames = [
        pl.DataFrame({"outcome": [name] * n, "value": array},
                     schema={"outcome": pl.String, "value": pl.Float64})
        for name, array in columns.items()
    ]  # fmt: skip
    table = pl.concat(frames).with_columns(
        pl.Series("point", np.tile(np.arange(n), len(columns)), dtype=pl.Int64)
    )
    keys = {"replicate": 0, "seed": seed}
    return table.select(
        "point", *(pl.lit(v, pl.Int64).alias(k) for k, v in keys.items()), "outcome", "value"
    ).sort("point", maintain_order=True)


def sensitivity(
    target: Scenario | str | Callable[..., Any],
    vary: Sequence[str | Factor] | Mapping[str, Any],
    *,
    method: str = "sobol",
    samples: int,
    seed: int,
    replicates: int = 1,
    baseline: Any = None,
    processes: int = 1,
    execution: Execution | None = None,
    summary: Summary = default_summary,
    common_random_numbers: bool = True,
    confidence: float = 0.95,
    second_order: bool = False,
    levels: int = 4,
    resamples: int = 100,
    vectorized: bool = False,
    build_kwargs: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], Any] | None = None,
) -> SensitivityResult:
    """Sobol or Morris sensitivity indices of `target`'s outcomes to the parameters in `vary`.

    Parameters
    ----------
    target : Scenario, str or callable
        A scenario (or its registered name), or a function of a dict ``{parameter: value}``
        returning a number or a mapping of outcomes.
    vary : sequence or mapping
        The ranges: ``KEY=LOW:HIGH`` strings or a mapping ``{name: (low, high)}`` (dotted
        scenario parameters; see `abm.experiments.designs.factors`).
    method : {"sobol", "morris"}
    samples : int
        Sobol: base samples N (a power of two); Morris: trajectories. See the module docstring
        for the number of runs.
    seed : int
        Root seed: of the samples (stream ``"design"``), of the runs' replicates and of the
        bootstrap.
    replicates : int
        Scenario runs per sample (their outcomes are averaged); 1 for a function.
    baseline : dataclass instance, mapping, list of ``key=value`` strings or None
        The scenario parameters that are not varied.
    processes : int
        Worker processes for scenario runs (0: every core); results do not depend on it.
    execution : abm.execution.Execution, optional
        Where the runs go instead of `processes`: local processes or a Dask cluster.
    summary : callable
        A run's KPI frame to named outcomes (scenarios).
    common_random_numbers : bool
        Every sample's replicate ``r`` uses ``replicate_seed(seed, r)`` (True) or sample ``p``
        uses ``replicate_seed(seed + 1 + p, r)``.
    confidence : float
        Level of the bootstrap confidence intervals.
    second_order : bool
        Sobol: also the pairwise ``S2`` (twice the runs, less two per base sample).
    levels : int
        Morris: levels of the grid (even; 4 is usual).
    resamples : int
        Bootstrap resamples for the intervals.
    vectorized : bool
        A function gets a dict of arrays (every sample at once) and returns arrays.
    build_kwargs : mapping, optional
        Extra arguments to ``scenario.build``.
    out : path, optional
        Write the analysis to this folder (scenarios only; resumable).
    overwrite : bool
        Replace whatever `out` holds.
    progress : callable, optional
        ``progress(done, total)`` as scenario runs finish.

    Raises
    ------
    ConfigError
        For bad arguments: an unknown method or parameter, a range that is not
        ``LOW < HIGH`` numbers, a list of values instead of a range, a Sobol sample size that is
        not a power of two.
    """
    method = _check_method(method)
    seed = check_int(seed, "seed", low=0)
    replicates = check_int(replicates, "replicates", low=1)
    confidence = check_confidence(confidence)
    resamples = check_int(resamples, "resamples", low=2)
    is_scenario = isinstance(target, Scenario | str)
    if not is_scenario and not callable(target):
        msg = (
            "`target` must be a Scenario, a scenario name or a function of a dict of parameter "
            f"values, got {type(target).__name__}."
        )
        raise ConfigError(msg)
    if is_scenario:
        scenario = as_scenario(target)
        base = as_params(scenario, baseline, "baseline")
        found = factors(vary, scenario.parameters, base)
    else:
        if (
            replicates != 1
            or processes != 1
            or execution is not None
            or out is not None
            or baseline is not None
        ):
            msg = (
                "a function is evaluated once per sample in this process: `replicates`, "
                "`processes`, `baseline` and `out` are for scenarios."
            )
            raise ConfigError(msg)
        found = factors(vary)
    design, unit = sensitivity_design(
        found, method=method, samples=samples, seed=seed, second_order=second_order,
        levels=levels,
    )  # fmt: skip
    if not is_scenario:
        results = _evaluate(target, design, seed=seed, vectorized=vectorized)
        indices = indices_frame(
            method, design, unit, results, seed=seed, confidence=confidence,
            resamples=resamples,
        )  # fmt: skip
        return SensitivityResult(method, design.frame, results, indices, design.points)
    summary = check_summary(summary)
    params = design_params(scenario, design, base)
    store = None
    if out is not None:
        identity = experiment_identity(
            "sensitivity", scenario, base, seed=seed, replicates=replicates, summary=summary,
            common_random_numbers=common_random_numbers, build_kwargs=build_kwargs,
        )  # fmt: skip
        identity |= {
            "method": method,
            "vary": {f.name: f.to_manifest() for f in design.factors},
            "points": design.points,
            "design_settings": design.settings,
            "confidence": confidence,
            "resamples": resamples,
        }
        store = ExperimentStore(Path(out), identity, overwrite=overwrite)
    results, executed = run_points(
        scenario, params, seed=seed, replicates=replicates, processes=processes,
        execution=execution,
        summary=summary, common_random_numbers=common_random_numbers,
        build_kwargs=build_kwargs, store=store, progress=progress,
    )  # fmt: skip
    indices = indices_frame(
        method, design, unit, results, seed=seed, confidence=confidence, resamples=resamples
    )
    if store is not None:
        store.complete(
            {"design": design.frame, "results": results, "indices": indices},
            {"runs": design.points * replicates,
             "outcomes": indices["outcome"].unique(maintain_order=True).to_list()},
        )  # fmt: skip
    return SensitivityResult(method, design.frame, results, indices, executed)
