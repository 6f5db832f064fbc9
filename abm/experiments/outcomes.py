"""Outcomes: what an experiment measures on each run, named scalars summarising its KPIs.

A summary maps the KPI frame of one run (``step, name, value``, the rows without groups) to
named numbers. `default_summary` gives, per KPI, its value at the last step (``NAME_last``) and
its sum over steps (``NAME_sum``): for the outbreak, ``new_infections_sum`` is the number of
infections over the run and ``D_last`` the deaths by its end. Every experiment (what-if, sweep,
sensitivity) stores a run's outcomes as a tidy frame ``outcome, value`` (`outcomes_frame`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from abm.experiments.jobs import whole_run
from populations.errors import ConfigError

__all__ = [
    "OUTCOMES_SCHEMA",
    "Summary",
    "check_confidence",
    "check_summary",
    "default_summary",
    "mean_interval",
    "outcomes_frame",
    "summarise",
    "summary_name",
]

Summary = Callable[[pl.DataFrame], Mapping[str, float]]

OUTCOMES_SCHEMA = {"outcome": pl.String, "value": pl.Float64}
"""The columns of one run's outcomes."""


def default_summary(kpis: pl.DataFrame) -> dict[str, float]:
    """Per KPI of one run: its value at the last step (``NAME_last``) and its sum over steps
    (``NAME_sum``)."""
    kpis = whole_run(kpis)
    out: dict[str, float] = {}
    for (name,), rows in kpis.sort("step").group_by("name", maintain_order=True):
        out[f"{name}_last"] = float(rows["value"][-1])
        out[f"{name}_sum"] = float(rows["value"].sum())
    return dict(sorted(out.items()))


def check_summary(summary: Any) -> Summary:
    if not callable(summary):
        msg = f"`summary` must be a callable, got {type(summary).__name__}."
        raise ConfigError(msg)
    return summary


def summarise(summary: Summary, kpis: pl.DataFrame, what: str) -> dict[str, float]:
    """`summary(kpis)` checked: a mapping of outcome names to numbers."""
    values = summary(kpis)
    return _numbers(values, what, "summary")


def _numbers(values: Any, what: str, source: str) -> dict[str, float]:
    if not isinstance(values, Mapping):
        msg = f"`{source}` must return a mapping of outcome names to numbers, got {values!r}."
        raise ConfigError(msg)
    try:
        return {str(k): float(v) for k, v in values.items()}
    except (TypeError, ValueError):
        msg = f"`{source}` returned a non-numeric outcome for {what}: {dict(values)!r}."
        raise ConfigError(msg) from None


def outcomes_frame(values: Mapping[str, float]) -> pl.DataFrame:
    """Named outcomes as a frame ``outcome, value`` (in the order given)."""
    return pl.DataFrame(
        {"outcome": list(values), "value": [float(v) for v in values.values()]},
        schema=OUTCOMES_SCHEMA,
    )


def summary_name(summary: Any) -> str:
    """``module:qualname`` of a summary (or function), as recorded in manifests."""
    module = getattr(summary, "__module__", None) or type(summary).__module__
    name = getattr(summary, "__qualname__", None) or type(summary).__qualname__
    return f"{module}:{name}"


def check_confidence(confidence: Any) -> float:
    """`confidence` as a float in (0, 1), else a `ConfigError`."""
    if isinstance(confidence, bool) or not isinstance(confidence, float | int):
        msg = f"`confidence` must be a number in (0, 1), got {confidence!r}."
        raise ConfigError(msg)
    if not 0 < confidence < 1:
        msg = f"`confidence` must be in (0, 1), got {confidence!r}. Hint: 0.95"
        raise ConfigError(msg)
    return float(confidence)


def mean_interval(values: np.ndarray, confidence: float) -> dict[str, float]:
    """Mean of `values` with its standard deviation, standard error and t-based interval
    (``mean, sd, se, ci_low, ci_high``; NaN but the mean for fewer than two values)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return {"mean": mean, "sd": math.nan, "se": math.nan, "ci_low": math.nan,
                "ci_high": math.nan}  # fmt: skip
    sd = float(np.std(values, ddof=1))
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return {"mean": mean, "sd": sd, "se": se, "ci_low": mean - half, "ci_high": mean + half}
