"""The fit report: how closely a synthetic population meets each target marginal.

Per marginal: total absolute error (TAE), standardised root mean square error (SRMSE: the RMSE
of the cell counts divided by the mean target cell), the max relative error over cells with a
positive target, and whether every cell is met exactly. Measured on the population itself, so
the report states what holds, not what a method promises.

An optional ``privacy`` section (see `PopulationSynthesizer.report`) holds the disclosure risk
against the seed sample and, for a protected population, the fit before protection, the
tolerance on the change and whether it holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from populations.marginals import Geography, Marginal

__all__ = ["FitReport", "MarginalFit", "measure_fit", "plot_fit"]


@dataclass(frozen=True)
class MarginalFit:
    """How one marginal is met."""

    name: str
    level: str
    cells: int
    target_total: float
    achieved_total: float
    tae: float
    srmse: float
    max_rel_error: float
    exact: bool


@dataclass
class FitReport:
    """The fit of a whole population, with how the fitting went."""

    marginals: list[MarginalFit]
    fit: dict[str, Any] = field(default_factory=dict)
    population: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "fit": self.fit,
            "population": self.population,
            "marginals": [asdict(m) for m in self.marginals],
        }
        if self.privacy:  # disclosure risk and protection (populations.privacy, .protection)
            out["privacy"] = self.privacy
        return out

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def _achieved(table: pl.DataFrame, m: Marginal, geography: Geography | None) -> pl.DataFrame:
    frame = table
    for d in m.dims:
        if d not in frame.columns and geography is not None and d in geography.levels:
            mapping = dict(zip(geography.zones, geography.levels[d], strict=True))
            frame = frame.with_columns(
                pl.col(geography.zone).cast(pl.String).replace_strict(mapping).alias(d)
            )
    return frame.group_by([pl.col(d).cast(pl.String) for d in m.dims]).agg(pl.len().alias("n"))


def compare(table: pl.DataFrame, m: Marginal, geography: Geography | None) -> pl.DataFrame:
    """Target and achieved count per cell of `m` (columns: dims, ``target``, ``achieved``)."""
    target = m.to_frame(count="target").cast({d: pl.String for d in m.dims})
    got = _achieved(table, m, geography)
    return (
        target.join(got, on=list(m.dims), how="left")
        .with_columns(pl.col("n").fill_null(0).cast(pl.Float64).alias("achieved"))
        .drop("n")
    )


def measure_fit(
    households: pl.DataFrame | None,
    persons: pl.DataFrame,
    marginals: Sequence[Marginal],
    *,
    geography: Geography | None = None,
) -> list[MarginalFit]:
    """Measure each marginal on the population (household-level ones on `households`)."""
    out = []
    for m in marginals:
        table = households if m.level == "household" and households is not None else persons
        cmp = compare(table, m, geography)
        t = cmp["target"].to_numpy()
        a = cmp["achieved"].to_numpy()
        diff = np.abs(a - t)
        mean_t = t.mean() if t.size else 0.0
        rel = np.divide(diff, t, out=np.zeros_like(diff), where=t > 0)
        out.append(
            MarginalFit(
                name=m.name,
                level=m.level,
                cells=int(t.size),
                target_total=float(t.sum()),
                achieved_total=float(a.sum()),
                tae=float(diff.sum()),
                srmse=float(np.sqrt(np.mean(diff**2)) / mean_t) if mean_t > 0 else 0.0,
                max_rel_error=float(rel.max(initial=0.0)),
                exact=bool(np.all(diff < 1e-9)),
            )
        )
    return out


def plot_fit(
    households: pl.DataFrame | None,
    persons: pl.DataFrame,
    marginals: Sequence[Marginal],
    path: Path,
    *,
    geography: Geography | None = None,
) -> None:
    """Write a PNG: achieved against target count for every cell, one panel per marginal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(marginals)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    for ax, m in zip(axes.ravel(), marginals, strict=False):
        table = households if m.level == "household" and households is not None else persons
        cmp = compare(table, m, geography)
        t, a = cmp["target"].to_numpy(), cmp["achieved"].to_numpy()
        hi = max(float(t.max(initial=0)), float(a.max(initial=0)), 1.0)
        ax.plot([0, hi], [0, hi], color="0.6", lw=1, zorder=1)
        ax.scatter(t, a, s=6, alpha=0.6, zorder=2)
        diff = np.abs(a - t)
        srmse = float(np.sqrt(np.mean(diff**2)) / t.mean()) if t.size and t.mean() > 0 else 0.0
        met = "all cells met exactly" if np.all(diff < 1e-9) else f"SRMSE {srmse:.4f}"
        ax.set_title(f"{m.name} ({m.level}s, {t.size} cells): {met}", fontsize=10)
        ax.set_xlabel("target count")
        ax.set_ylabel("synthetic count")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle("Synthetic population against target marginals (on the diagonal = met)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
