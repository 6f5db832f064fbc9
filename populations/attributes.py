"""Continuous attributes drawn for synthetic persons, never copied from the seed sample.

`AgeInBand` draws an age in whole years inside each person's age band, from the seed sample's
ages in that band smoothed towards uniform. `IncomeByGroup` fits, per group (employment, say), a
share of zero incomes and a log-normal to the positive ones (`scipy.stats.lognorm`, location 0),
falling back to the pooled fit for groups with too few seed records, and draws from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from populations.errors import ConfigError, NotFittedError, SeedSampleError, closest_hint

__all__ = ["AgeInBand", "IncomeByGroup", "parse_band"]

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-|–|to)\s*(\d+)\s*$")
_OPEN = re.compile(r"^\s*(\d+)\s*(?:\+|and over|or more)\s*$")


def parse_band(label: str, *, max_age: int = 100) -> tuple[int, int]:
    """Inclusive (low, high) ages of a band label such as ``"20-24"`` or ``"85+"``.

    >>> parse_band("20-24"), parse_band("85+", max_age=99)
    ((20, 24), (85, 99))
    """
    if m := _RANGE.match(label):
        lo, hi = int(m.group(1)), int(m.group(2))
    elif m := _OPEN.match(label):
        lo, hi = int(m.group(1)), max(int(m.group(1)), max_age)
    else:
        msg = (
            f"age band `{label}` is not a range. Hint: write bands as `20-24` or, for the last, "
            "`85+`."
        )
        raise ConfigError(msg)
    if hi < lo:
        msg = f"age band `{label}` ends before it starts"
        raise ConfigError(msg)
    return lo, hi


def _require(frame: pl.DataFrame, column: str, what: str) -> None:
    if column not in frame.columns:
        msg = f"{what}: no column `{column}`. {closest_hint(column, frame.columns)}"
        raise SeedSampleError(msg)


@dataclass
class _AgePMF:
    years: np.ndarray
    cdf: np.ndarray


class AgeInBand:
    """Age in years, drawn within each person's band.

    Parameters
    ----------
    band : column of band labels (``"0-4"`` ... ``"85+"``).
    column : column of ages in years in the seed sample (optional there) and in the output.
    max_age : upper end of an open band such as ``"85+"``.
    smoothing : pseudo-count added to every year of a band, so unseen ages can be drawn.

    Examples
    --------
    >>> seed = pl.DataFrame({"age_band": ["0-4", "0-4"], "age": [1, 3]})
    >>> model = AgeInBand().fit(seed)
    >>> ages = model.sample(pl.Series(["0-4"] * 5), rng=np.random.default_rng(0))
    >>> bool(ages.min() >= 0 and ages.max() <= 4)
    True
    """

    def __init__(
        self,
        *,
        band: str = "age_band",
        column: str = "age",
        max_age: int = 100,
        smoothing: float = 1.0,
    ):
        self.band = band
        self.column = column
        self.max_age = max_age
        self.smoothing = smoothing

    def fit(self, persons: pl.DataFrame) -> AgeInBand:
        _require(persons, self.band, "seed persons")
        labels = persons[self.band].cast(pl.String)
        ages = (
            persons[self.column].cast(pl.Int64, strict=False).to_numpy()
            if self.column in persons.columns
            else None
        )
        self.pmf_: dict[str, _AgePMF] = {}
        for label in labels.unique(maintain_order=True).to_list():
            self.pmf_[label] = self._pmf(
                label, None if ages is None else ages[(labels == label).to_numpy()]
            )
        return self

    def _pmf(self, label: str, ages: np.ndarray | None) -> _AgePMF:
        lo, hi = parse_band(label, max_age=self.max_age)
        years = np.arange(lo, hi + 1)
        weights = np.full(years.size, self.smoothing, dtype=float)
        if ages is not None:
            inside = ages[(ages >= lo) & (ages <= hi)]
            weights += np.bincount(inside - lo, minlength=years.size)
        cdf = np.cumsum(weights) / weights.sum()
        return _AgePMF(years, cdf)

    def sample(self, bands: pl.Series, *, rng: np.random.Generator) -> pl.Series:
        """One age per entry of `bands`."""
        if not hasattr(self, "pmf_"):
            msg = "this AgeInBand is not fitted yet. Hint: call `fit` first."
            raise NotFittedError(msg)
        labels = bands.cast(pl.String)
        out = np.empty(labels.len(), dtype=np.int64)
        u = rng.random(labels.len())
        values = labels.to_numpy()
        for label in labels.unique(maintain_order=True).to_list():
            idx = np.flatnonzero(values == label)
            pmf = self.pmf_.get(label) or self._pmf(label, None)
            out[idx] = pmf.years[
                np.searchsorted(pmf.cdf, u[idx], side="right").clip(max=pmf.years.size - 1)
            ]
        return pl.Series(self.column, out, dtype=pl.Int16)


@dataclass
class _IncomeFit:
    zero_share: float
    shape: float
    scale: float
    n: int


class IncomeByGroup:
    """Zero-inflated log-normal income, fitted per group of the seed sample.

    Parameters
    ----------
    column : income column in the seed sample and in the output.
    by : grouping columns (empty: one pooled fit).
    min_group : groups with fewer positive incomes than this use the pooled fit.

    Attributes
    ----------
    fits_ : per group key (tuple of labels), the zero share and log-normal parameters.
    pooled_ : the fit over all seed persons.
    """

    def __init__(self, *, column: str = "income", by: Sequence[str] = (), min_group: int = 30):
        self.column = column
        self.by = tuple(by)
        self.min_group = min_group

    def fit(self, persons: pl.DataFrame, *, weight: np.ndarray | None = None) -> IncomeByGroup:
        _require(persons, self.column, "seed persons")
        for b in self.by:
            _require(persons, b, "seed persons")
        income = persons[self.column].cast(pl.Float64, strict=False).to_numpy()
        ok = np.isfinite(income) & (income >= 0)
        if not ok.any():
            msg = f"seed persons, column `{self.column}`: no usable (non-negative) income values"
            raise SeedSampleError(msg)
        w = np.ones(income.size) if weight is None else np.asarray(weight, dtype=float)
        self.pooled_ = self._fit(income[ok], w[ok])
        self.fits_: dict[tuple[str, ...], _IncomeFit] = {}
        if self.by:
            keys = self._keys(persons)
            for key in set(keys):
                sel = ok & np.array([k == key for k in keys])
                fit = self._fit(income[sel], w[sel])
                if fit.n >= self.min_group:
                    self.fits_[key] = fit
        return self

    def _keys(self, frame: pl.DataFrame) -> list[tuple[str, ...]]:
        cols = [frame[b].cast(pl.String).to_list() for b in self.by]
        return list(zip(*cols, strict=True))

    def _fit(self, x: np.ndarray, w: np.ndarray) -> _IncomeFit:
        positive = x > 0
        zero_share = float(w[~positive].sum() / w.sum()) if w.sum() > 0 else 1.0
        pos = x[positive]
        if pos.size < 2:
            return _IncomeFit(
                zero_share, 0.0, float(pos.mean()) if pos.size else 0.0, int(pos.size)
            )
        shape, _, scale = stats.lognorm.fit(pos, floc=0)
        return _IncomeFit(zero_share, float(shape), float(scale), int(pos.size))

    def sample(self, persons: pl.DataFrame, *, rng: np.random.Generator) -> pl.Series:
        """One income per row of `persons` (which must have the `by` columns)."""
        if not hasattr(self, "pooled_"):
            msg = "this IncomeByGroup is not fitted yet. Hint: call `fit` first."
            raise NotFittedError(msg)
        n = persons.height
        out = np.zeros(n)
        u = rng.random(n)
        z = rng.standard_normal(n)
        if self.by:
            keys = persons.select(
                pl.concat_str([pl.col(b).cast(pl.String) for b in self.by], separator="\x1f")
            )
            key_values = keys.to_series().to_numpy()
        else:
            key_values = np.zeros(n, dtype=object)
        for key in np.unique(key_values):
            idx = np.flatnonzero(key_values == key)
            fit = (
                self.fits_.get(tuple(str(key).split("\x1f")), self.pooled_)
                if self.by
                else self.pooled_
            )
            positive = u[idx] >= fit.zero_share
            draws = fit.scale * np.exp(fit.shape * z[idx])
            out[idx] = np.where(positive, draws, 0.0)
        return pl.Series(self.column, np.round(out, 2))
