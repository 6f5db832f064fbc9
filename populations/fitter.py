"""`IPF`: iterative proportional fitting on labelled frames, in the scikit-learn habit.

Configure in the constructor, ``fit(marginals, seed=...)`` returns the fitter with learned state
ending in ``_`` (``table_``, ``status_``, ``n_iter_``), then ``integerise`` or ``sample`` whole
units. The numeric work is `ipf.ipf` and `integerise.integerise`; this module turns tidy frames
into a table with one axis per dimension (the zone among them) and back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from populations.errors import MarginalsError, NotFittedError, SeedSampleError, closest_hint
from populations.integerise import integerise
from populations.ipf import Target, ipf
from populations.marginals import Geography, Marginal, check_marginals, encode, to_polars

__all__ = ["IPF"]


class IPF:
    """Fit a table over the marginals' dimensions to the marginals.

    Parameters
    ----------
    tol : target max relative error of every marginal.
    max_iter : cap on cycles over the marginals.
    prior : a count added to every cell of the starting table. Without a seed sample the start is
        this prior (1 if None) everywhere. With a seed sample it fills categories the sample never
        shows, which are otherwise refused.
    rescale : scale marginals to agree instead of refusing them.
    structural_zeros : cells that must stay empty whatever the seed or prior, each given as
        ``{dimension: [categories]}``: every cell matching all of them is zero (for example
        ``{"age": ["0-4"], "employment": ["employed"]}``).

    Attributes
    ----------
    table_ : the fitted table, one axis per entry of ``dims_``.
    dims_, categories_ : the table's dimensions and their labels.
    status_ : converged, stalled, max_iter or infeasible.
    n_iter_, record_, fit_errors_, fit_seconds_ : cycles, convergence record, final max relative
        error per marginal, and wall time.

    Examples
    --------
    >>> ages = pl.DataFrame({"zone": ["a", "a", "b", "b"], "age": ["young", "old"] * 2,
    ...                      "count": [3, 1, 2, 2]})
    >>> sexes = pl.DataFrame({"zone": ["a", "a", "b", "b"], "sex": ["f", "m"] * 2,
    ...                       "count": [2, 2, 1, 3]})
    >>> marginals = [Marginal.from_frame(ages, name="age"), Marginal.from_frame(sexes, name="sex")]
    >>> fit = IPF().fit(marginals)
    >>> fit.status_.value, fit.dims_
    ('converged', ('zone', 'age', 'sex'))
    >>> fit.sample(rng=np.random.default_rng(0)).height
    8
    """

    def __init__(
        self,
        *,
        tol: float = 1e-6,
        max_iter: int = 1000,
        prior: float | None = None,
        rescale: bool = False,
        structural_zeros: Sequence[Mapping[str, Sequence[str]]] = (),
    ):
        self.tol = tol
        self.max_iter = max_iter
        self.prior = prior
        self.rescale = rescale
        self.structural_zeros = structural_zeros

    def fit(
        self,
        marginals: Sequence[Marginal],
        *,
        seed: Any = None,
        weight: str | None = None,
        geography: Geography | None = None,
        callback: Callable[[int, float], None] | None = None,
    ) -> IPF:
        if self.prior is not None and not self.prior > 0:
            msg = f"prior must be positive, found {self.prior}"
            raise MarginalsError(msg)
        marginals = check_marginals(marginals, geography=geography, rescale=self.rescale)
        dims, cats, targets = self._layout(marginals, geography)
        shape = tuple(len(c) for c in cats)
        if seed is None:
            start = np.full(shape, 1.0 if self.prior is None else float(self.prior))
        else:
            start = self._seed_table(to_polars(seed, what="seed sample"), weight, dims, cats)
            self._check_support(start, marginals, targets, dims, cats)
            if self.prior is not None:
                start = start + self.prior
        start[self._zero_mask(dims, cats)] = 0.0
        result = ipf(start, targets, tol=self.tol, max_iter=self.max_iter, callback=callback)
        self.marginals_ = marginals
        self.geography_ = geography
        self.dims_, self.categories_, self.targets_ = dims, cats, targets
        self.table_ = result.table
        self.status_ = result.status
        self.n_iter_ = result.n_iter
        self.record_ = result.record
        self.fit_errors_ = result.max_rel_error
        self.problems_ = result.problems
        self.fit_seconds_ = result.seconds
        return self

    @staticmethod
    def _layout(
        marginals: Sequence[Marginal], geography: Geography | None
    ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], list[Target]]:
        coarse = set(geography.levels) if geography is not None else set()
        dims: list[str] = []
        cats: list[tuple[str, ...]] = []
        if geography is not None and any(
            d == geography.zone or d in coarse for m in marginals for d in m.dims
        ):
            dims.append(geography.zone)
            cats.append(geography.zones)
        for m in marginals:
            for d, c in zip(m.dims, m.categories, strict=True):
                if d not in dims and d not in coarse:
                    dims.append(d)
                    cats.append(c)
        targets = []
        for m in marginals:
            axes, maps, order = [], [], []
            for j, (d, c) in enumerate(zip(m.dims, m.categories, strict=True)):
                if d in coarse:
                    axis = dims.index(geography.zone)
                    maps.append(geography.index(d, c))
                else:
                    axis = dims.index(d)
                    lookup = {v: i for i, v in enumerate(c)}
                    # Reorder the marginal's labels to the table's order along this axis.
                    order.append((j, np.array([lookup[v] for v in cats[axis]], dtype=np.intp)))
                    maps.append(None)
                axes.append(axis)
            counts = m.counts
            for j, idx in order:
                counts = np.take(counts, idx, axis=j)
            targets.append(Target(tuple(axes), counts, tuple(maps), name=m.name))
        return tuple(dims), tuple(cats), targets

    @staticmethod
    def _seed_table(
        seed: pl.DataFrame,
        weight: str | None,
        dims: tuple[str, ...],
        cats: tuple[tuple[str, ...], ...],
    ) -> np.ndarray:
        if seed.height == 0:
            msg = (
                "seed sample: it has no rows. "
                "Hint: give at least one record, or no seed and a prior."
            )
            raise SeedSampleError(msg)
        present = [i for i, d in enumerate(dims) if d in seed.columns]
        if not present:
            msg = (
                "seed sample: none of the marginals' dimensions is a column "
                f"(expected some of {', '.join(f'`{d}`' for d in dims)}). "
                f"{closest_hint(dims[-1], seed.columns)}"
            )
            raise SeedSampleError(msg)
        codes = []
        for i in present:
            code = encode(seed[dims[i]], cats[i])
            if np.any(code < 0):
                row = int(np.flatnonzero(code < 0)[0])
                msg = (
                    f"seed sample, row {row + 1}, column `{dims[i]}`: `{seed[dims[i]][row]}` is "
                    "not a category of any marginal. Hint: use the marginals' labels, or merge it."
                )
                raise SeedSampleError(msg)
            codes.append(code)
        w = np.ones(seed.height) if weight is None else seed[weight].cast(pl.Float64).to_numpy()
        sub_shape = [len(cats[i]) for i in present]
        flat = np.bincount(
            np.ravel_multi_index(codes, sub_shape), weights=w, minlength=int(np.prod(sub_shape))
        )
        sub = flat.reshape(sub_shape)
        shape = [len(c) if i in present else 1 for i, c in enumerate(cats)]
        return np.broadcast_to(sub.reshape(shape), [len(c) for c in cats]).copy()

    def _check_support(
        self,
        start: np.ndarray,
        marginals: Sequence[Marginal],
        targets: Sequence[Target],
        dims: tuple[str, ...],
        cats: tuple[tuple[str, ...], ...],
    ) -> None:
        if self.prior is not None:
            return
        for m, t in zip(marginals, targets, strict=True):
            for j, axis in enumerate(t.axes):
                if t.maps()[j] is not None:
                    continue
                support = start.sum(axis=tuple(a for a in range(start.ndim) if a != axis))
                wanted = t.counts.sum(axis=tuple(k for k in range(t.counts.ndim) if k != j))
                gap = np.flatnonzero((wanted > 0) & (support <= 0))
                if gap.size:
                    label = cats[axis][int(gap[0])]
                    msg = (
                        f"marginal {m.where()} counts {dims[axis]} `{label}`, but the seed sample "
                        f"has no record with it ({gap.size} such categories). Hint: add records, "
                        "merge the category, or ask for a prior to fill it (prior = 0.5)."
                    )
                    raise SeedSampleError(msg)

    def _zero_mask(self, dims: tuple[str, ...], cats: tuple[tuple[str, ...], ...]) -> np.ndarray:
        """Boolean table of the cells declared structurally zero."""
        mask = np.zeros(tuple(len(c) for c in cats), dtype=bool)
        for i, rule in enumerate(self.structural_zeros):
            where = f"structural_zeros[{i}]"
            selected = [np.arange(len(c)) for c in cats]
            for dim, labels in rule.items():
                if dim not in dims:
                    msg = f"{where}: unknown dimension `{dim}`. {closest_hint(dim, dims)}"
                    raise MarginalsError(msg)
                axis = dims.index(dim)
                unknown = [c for c in labels if c not in cats[axis]]
                if unknown:
                    msg = (
                        f"{where}: `{unknown[0]}` is not a category of `{dim}`. "
                        f"{closest_hint(unknown[0], cats[axis])}"
                    )
                    raise MarginalsError(msg)
                selected[axis] = np.array([cats[axis].index(c) for c in labels], dtype=np.intp)
            mask[np.ix_(*selected)] = True
        return mask

    def _check_fitted(self) -> None:
        if not hasattr(self, "table_"):
            msg = "this IPF is not fitted yet. Hint: call `fit` first."
            raise NotFittedError(msg)

    def to_frame(self) -> pl.DataFrame:
        """The fitted table as a tidy frame with a ``count`` column."""
        self._check_fitted()
        return self._tidy(self.table_)

    def _tidy(self, table: np.ndarray) -> pl.DataFrame:
        grids = np.indices(table.shape).reshape(table.ndim, -1)
        data: dict[str, Any] = {
            d: pl.Series(d, np.array(c, dtype=object)[g], dtype=pl.Enum(c))
            for d, c, g in zip(self.dims_, self.categories_, grids, strict=True)
        }
        data["count"] = table.ravel()
        return pl.DataFrame(data)

    def integerise(self, *, method: str = "exact", rng: np.random.Generator) -> pl.DataFrame:
        """Whole-unit counts per cell, as a tidy frame (see `integerise.integerise`)."""
        self._check_fitted()
        counts, self.exact_ = integerise(self.table_, self.targets_, method=method, rng=rng)
        return self._tidy(counts)

    def sample(self, *, method: str = "exact", rng: np.random.Generator) -> pl.DataFrame:
        """One row per unit (person), with ``person_id`` and a column per dimension."""
        tidy = self.integerise(method=method, rng=rng)
        n = tidy["count"].to_numpy().astype(np.int64)
        rows = np.repeat(np.arange(tidy.height), n)
        units = tidy.drop("count")[rows]
        return units.insert_column(0, pl.Series("person_id", np.arange(1, rows.size + 1)))
