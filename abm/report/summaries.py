"""The numbers behind a report, computed from tidy frames with polars.

* `whole_run` and `by_group`: a KPI frame's rows without groups, or with exactly one group
  column set (``zone``...);
* `bands`: per arm, KPI and step, the mean over replicates and a band (the 5-95% quantiles
  from 10 replicates up, the range below);
* `run_outcomes`: per arm and replicate, each KPI at the last step (``NAME_last``), summed over
  steps (``NAME_sum``) and its peak (``NAME_peak`` at ``peak_step``), as
  `abm.experiments.whatif.default_summary` names them;
* `paired`: differences of each policy from the baseline, paired by replicate (and step, or
  category), with t-based confidence intervals, as the what-if comparisons are computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

__all__ = [
    "band_rule",
    "bands",
    "by_group",
    "categories",
    "measure",
    "paired",
    "run_outcomes",
    "t_interval",
    "whole_run",
]

KEYS = ("arm", "replicate", "step", "name", "value")


def _groups(kpis: pl.DataFrame) -> list[str]:
    return [c for c in kpis.columns if c not in KEYS]


def whole_run(kpis: pl.DataFrame) -> pl.DataFrame:
    """The rows of the whole population (every group column null)."""
    groups = _groups(kpis)
    if groups:
        kpis = kpis.filter(pl.all_horizontal(pl.col(g).is_null() for g in groups))
    return kpis.select(KEYS)


def by_group(kpis: pl.DataFrame, group: str) -> pl.DataFrame:
    """The rows by `group` alone (other group columns null), with the group as ``category``
    (text, in the column's category order for an Enum)."""
    others = [g for g in _groups(kpis) if g != group]
    rows = kpis.filter(pl.col(group).is_not_null())
    if others:
        rows = rows.filter(pl.all_horizontal(pl.col(g).is_null() for g in others))
    return rows.select(*KEYS, pl.col(group).cast(pl.String).alias("category"))


def categories(kpis: pl.DataFrame, group: str) -> list[str]:
    """The categories of `group` in order: an Enum's own order, else sorted."""
    dtype = kpis.schema[group]
    present = set(kpis[group].drop_nulls().cast(pl.String).unique().to_list())
    if isinstance(dtype, pl.Enum):
        return [c for c in dtype.categories.to_list() if c in present]
    return sorted(present)


def band_rule(n: int) -> str:
    """What the shaded band of `bands` is, in words, for `n` replicates."""
    if n >= 10:
        return f"the shaded band holds the middle 90% of the {n} runs"
    if n >= 2:
        return f"the shaded band spans the {n} runs, lowest to highest"
    return "one run, so no band"


def bands(whole: pl.DataFrame, by: Sequence[str] = ("arm", "name", "step")) -> pl.DataFrame:
    """Mean over replicates and a band (see `band_rule`) of ``value``, grouped `by`."""
    n = whole.select(pl.col("replicate").n_unique()).item() if whole.height else 0
    if n >= 10:
        low, high = (
            pl.col("value").quantile(0.05, "linear"),
            pl.col("value").quantile(0.95, "linear"),
        )
    else:
        low, high = pl.col("value").min(), pl.col("value").max()
    return (
        whole.group_by(list(by))
        .agg(pl.col("value").mean().alias("mean"), low.alias("low"), high.alias("high"))
        .sort(list(by))
    )


def measure(name: str) -> str:
    """Which summary a KPI is shown by: its sum over steps for ``new_...`` (a count per step),
    else its value at the last step (a level)."""
    return "sum" if name.startswith("new_") else "last"


def run_outcomes(whole: pl.DataFrame, by: Sequence[str] = ("arm", "replicate")) -> pl.DataFrame:
    """Per `by` and KPI: ``last``, ``sum``, ``peak`` and ``peak_step`` (the first step at the
    peak)."""
    keys = [*by, "name"]
    return (
        whole.sort("step")
        .group_by(keys)
        .agg(
            pl.col("value").last().alias("last"),
            pl.col("value").sum().alias("sum"),
            pl.col("value").max().alias("peak"),
            pl.col("step").get(pl.col("value").arg_max()).alias("peak_step"),
        )
        .sort(keys)
    )


def t_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean and t-based confidence interval of the mean (NaN bounds below 2 values)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def paired(
    frame: pl.DataFrame, on: Sequence[str], *, baseline: str, confidence: float
) -> pl.DataFrame:
    """Differences ``policy - baseline`` of ``value``, paired by ``replicate`` and `on`.

    `frame` has ``arm, replicate, value`` and the `on` columns. Returns ``policy``, the `on`
    columns, ``mean`` (the mean difference), ``low`` and ``high`` (its t-based interval) and
    ``n``.
    """
    on = list(on)
    base = frame.filter(pl.col("arm") == baseline).select(
        "replicate", *on, pl.col("value").alias("base")
    )
    diffs = (
        frame.filter(pl.col("arm") != baseline)
        .join(base, on=["replicate", *on], how="inner")
        .with_columns((pl.col("value") - pl.col("base")).alias("diff"))
    )
    level = float(confidence)
    out = (
        diffs.group_by(["arm", *on])
        .agg(
            pl.col("diff").mean().alias("mean"),
            pl.col("diff").std(ddof=1).alias("sd"),
            pl.len().alias("n"),
        )
        .rename({"arm": "policy"})
    )
    n = out["n"].to_numpy()
    tq = np.where(n > 1, stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)), np.nan)
    half = tq * out["sd"].fill_null(np.nan).to_numpy() / np.sqrt(np.maximum(n, 1))
    mean = out["mean"].to_numpy()
    return out.with_columns(pl.Series("low", mean - half), pl.Series("high", mean + half)).sort(
        ["policy", *on]
    )
