"""Households and their persons, fitted together by list balancing of seed households.

Why list balancing (as in PopulationSim) rather than hierarchical IPF: a synthetic household is a
copy of a whole seed household, so its persons come with it and household-level and person-level
marginals are met by one set of weights, without a second step to reconcile persons with
households. Each seed household gets a weight per zone; each marginal cell is a control with an
incidence per household (1 if a household-level cell matches it, the number of matching persons
for a person-level cell). Controls are met in turn by scaling the weights of the households that
touch them, which meets that control exactly at that moment; cycling until every control is within
tolerance is IPF on the households' incidence (Deming-Stephan raking). Zones are a weight axis, so
all zones are balanced in one vectorised pass, and a marginal given per district scales the zones
of each district together.

Integerisation: household-level marginals are met exactly by integerising the table of zone x
household type (the combination of household-level categories) with the ``exact`` method of
`integerise.py`; within each zone and type, whole households are drawn by TRS on their weights.
Person-level marginals are then close but not, in general, exact: the fit report says which hold.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.optimize import linprog

from populations.convergence import ConvergenceRecord
from populations.errors import MarginalsError, NotFittedError, SeedSampleError
from populations.integerise import integerise, trs
from populations.ipf import Target
from populations.marginals import Geography, Marginal, check_marginals
from populations.seed import SeedSample

__all__ = ["HouseholdSynthesizer", "Population"]


@dataclass
class Population:
    """A synthetic population: households (None for a persons-only fit) and persons, each person
    with a `household_id` when there are households."""

    households: pl.DataFrame | None
    persons: pl.DataFrame


@dataclass(eq=False)
class _Control:
    """One marginal as controls: incidence per seed household, targets per geography unit."""

    marginal: Marginal
    geo_dim: str
    zone_group: np.ndarray  # (Z,) geography unit of each zone
    targets: np.ndarray  # (G, K)
    incidence: sp.csc_array  # (H, K)
    cell: np.ndarray | None  # (H,) the one cell of each household, for household-level controls


class HouseholdSynthesizer:
    """Fit seed households to household- and person-level marginals per zone, then sample.

    Parameters
    ----------
    tol : target max relative error of every marginal.
    max_iter : cap on cycles over the marginals.
    rescale : scale marginals of the same level to agree instead of refusing them.
    n_jobs : processes for polishing zones; None uses every core when 64 or more zones need it.
    refine_rounds : cap on rounds of household swaps that bring person-level counts closer
        after integerisation (0: none).

    Attributes
    ----------
    weights_ : (seed households, zones) fitted weights.
    status_, n_iter_, record_ : how the fit stopped (see `Status`), cycles, convergence record.
    fit_errors_ : per marginal, the max relative error of the fitted weights.
    zones_ : zone labels.

    Examples
    --------
    >>> from populations.demo import load_demo
    >>> demo = load_demo()
    >>> synth = HouseholdSynthesizer().fit(demo.seed, demo.marginals, geography=demo.geography)
    >>> synth.status_.value
    'converged'
    >>> pop = synth.sample(rng=np.random.default_rng(1))
    >>> pop.persons.height > 90_000
    True
    """

    def __init__(
        self,
        *,
        tol: float = 1e-6,
        max_iter: int = 2000,
        rescale: bool = False,
        n_jobs: int | None = None,
        refine_rounds: int = 200,
    ):
        self.tol = tol
        self.max_iter = max_iter
        self.rescale = rescale
        self.n_jobs = n_jobs
        self.refine_rounds = refine_rounds

    def fit(
        self,
        seed: SeedSample,
        marginals: Sequence[Marginal],
        *,
        geography: Geography | None = None,
        callback: Callable[[int, float], None] | None = None,
        on_polish: Callable[[int, int], None] | None = None,
    ) -> HouseholdSynthesizer:
        """Balance the seed households' weights in every zone to the marginals.

        `callback(iteration, max_error)` is called after each raking cycle and
        `on_polish(zones_done, zones_to_polish)` during polishing (for progress bars).
        """
        start = time.perf_counter()
        if not self.tol > 0:
            msg = f"tol must be positive, found {self.tol}"
            raise MarginalsError(msg)
        geography = geography or _zones_from(marginals)
        marginals = check_marginals(marginals, geography=geography, rescale=self.rescale)
        self.seed_, self.geography_, self.marginals_ = seed, geography, marginals
        self.zones_ = geography.zones
        controls = [self._control(m, seed, geography) for m in marginals]
        self.controls_ = controls
        weights = np.repeat(seed.weight[:, None], len(geography.zones), axis=1)
        # Raking hands a stalled fit to the exact polish below, so it may call a stall early:
        # under 1% progress in 10 cycles.
        record = ConvergenceRecord(
            tuple(m.name for m in marginals),
            self.tol,
            self.max_iter,
            stall_window=10,
            stall_ratio=0.99,
        )
        errors = np.empty(len(controls))
        while record.n_iter < self.max_iter:
            for j, c in enumerate(controls):
                errors[j] = _balance(weights, c)
            record.add(errors)
            if callback is not None:
                callback(record.n_iter, float(errors.max()))
            if record.below_tol() and self._errors(weights).max() <= self.tol:
                break
            if record.stalled():
                break
        final = self._errors(weights)
        self.polished_zones_: list[str] = []
        self.infeasible_zones_: list[str] = []
        if final.max() > self.tol:
            self._polish(weights, geography, on_polish)
            final = self._errors(weights)
        self.weights_ = weights
        self.record_ = record
        self.n_iter_ = record.n_iter
        self.status_ = record.status(final, infeasible=bool(self.infeasible_zones_))
        self.fit_errors_ = {m.name: float(e) for m, e in zip(marginals, final, strict=True)}
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _control(self, m: Marginal, seed: SeedSample, geo: Geography) -> _Control:
        geo_dims = [d for d in m.dims if d == geo.zone or d in geo.levels]
        if len(geo_dims) != 1:
            known = ", ".join(f"`{d}`" for d in (geo.zone, *geo.levels))
            found = "none" if not geo_dims else ", ".join(f"`{d}`" for d in geo_dims)
            msg = (
                f"marginal {m.where()}: expected exactly one geography column ({known}), "
                f"found {found}"
            )
            raise MarginalsError(msg)
        gdim = geo_dims[0]
        gpos = m.dims.index(gdim)
        units = m.categories[gpos]
        if gdim == geo.zone:
            lookup = {u: i for i, u in enumerate(units)}
            zone_group = np.array([lookup[z] for z in geo.zones], dtype=np.intp)
        else:
            zone_group = geo.index(gdim, units)
        dims = [d for d in m.dims if d != gdim]
        what = "seed households" if m.level == "household" else "seed persons"
        codes = seed.codes(m, dims, what)
        targets = np.moveaxis(m.counts, gpos, 0).reshape(len(units), -1)
        n_cells = targets.shape[1]
        n_hh = seed.households.height
        rows = np.arange(n_hh) if m.level == "household" else seed.person_household
        incidence = sp.csc_array((np.ones(rows.size), (rows, codes)), shape=(n_hh, n_cells))
        incidence.sum_duplicates()
        present = np.diff(incidence.indptr) > 0
        wanted = targets.sum(axis=0) > 0
        missing = np.flatnonzero(wanted & ~present)
        if missing.size:
            labels = np.unravel_index(
                int(missing[0]), [len(m.categories[m.dims.index(d)]) for d in dims]
            )
            cell = ", ".join(
                f"{d} `{m.categories[m.dims.index(d)][i]}`"
                for d, i in zip(dims, labels, strict=True)
            )
            msg = (
                f"marginal {m.where()} counts {cell}, but the seed sample has no such "
                f"{'household' if m.level == 'household' else 'person'} ({missing.size} such "
                "cells). Hint: add seed records with it, or merge it into a neighbouring category; "
                "list balancing can only reweight households the seed sample has."
            )
            raise SeedSampleError(msg)
        cell = codes if m.level == "household" else None
        return _Control(m, gdim, zone_group, targets, incidence, cell)

    def _polish(
        self,
        weights: np.ndarray,
        geography: Geography,
        on_polish: Callable[[int, int], None] | None = None,
    ) -> None:
        """Meet every control exactly where raking stalled, by linear programming.

        Raking converges very slowly when every exact solution needs some weights at zero (the
        maximum-entropy solution lies on the boundary). Zones tied together by a marginal given
        per district (or any coarser level) form one group; in each group still off, the
        smallest total change to the raked weights that meets every control exactly is found
        with HiGHS (`scipy.optimize.linprog`), and if none exists the group's zones are
        infeasible. Groups are independent, so many are spread over processes; the result does
        not depend on how many.
        """
        zone_controls = [c for c in self.controls_ if c.geo_dim == geography.zone]
        coarse_controls = [c for c in self.controls_ if c.geo_dim != geography.zone]
        groups = _linked_zones(len(self.zones_), [c.zone_group for c in coarse_controls])
        off_zone = np.zeros(len(self.zones_), dtype=bool)
        for c in self.controls_:
            s = _sums(weights, c)
            off_unit = (np.abs(s - c.targets) > self.tol * np.maximum(c.targets, 1e-12)).any(1)
            off_zone |= off_unit[c.zone_group]
        jobs = []
        for zones in groups:
            if off_zone[zones].any():
                targets = np.concatenate(
                    [
                        np.concatenate([c.targets[c.zone_group[z]] for c in zone_controls])
                        for z in zones
                    ]
                    + [c.targets[np.unique(c.zone_group[zones])].ravel() for c in coarse_controls]
                )
                jobs.append((zones, weights[:, zones].T.ravel().copy(), targets))
        n_jobs = self.n_jobs
        if n_jobs is None:
            n_jobs = (os.cpu_count() or 1) if len(jobs) >= 64 else 1
        step = max(1, len(jobs) // 50)  # small chunks: steady progress, balanced workers
        chunks = [jobs[i : i + step] for i in range(0, len(jobs), step)]
        shared = (
            [c.incidence for c in zone_controls],
            [(c.incidence, c.zone_group) for c in coarse_controls],
        )
        results = []
        if n_jobs > 1 and len(chunks) > 1:
            with ProcessPoolExecutor(n_jobs, initializer=_polish_init, initargs=shared) as ex:
                for part in ex.map(_polish_groups, chunks):
                    results.extend(part)
                    if on_polish is not None:
                        on_polish(len(results), len(jobs))
        else:
            _polish_init(*shared)
            for chunk in chunks:
                results.extend(_polish_groups(chunk))
                if on_polish is not None:
                    on_polish(len(results), len(jobs))
        for (zones, _, _), (status, w) in zip(jobs, results, strict=True):
            names = [self.zones_[z] for z in zones]
            if status == 0:
                weights[:, zones] = w.reshape(zones.size, -1).T
                self.polished_zones_.extend(names)
            elif status == 2:
                self.infeasible_zones_.extend(names)

    def _errors(self, weights: np.ndarray) -> np.ndarray:
        return np.array([_rel_error(_sums(weights, c), c.targets) for c in self.controls_])

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            msg = "this HouseholdSynthesizer is not fitted yet. Hint: call `fit` first."
            raise NotFittedError(msg)

    def sample(self, *, method: str = "exact", rng: np.random.Generator) -> Population:
        """Draw whole households per zone from the fitted weights.

        With ``method="exact"`` household-level marginals are met exactly; with ``"trs"`` only
        the number of households per zone is. Person-level marginals are met approximately (the
        fit report measures how closely).
        """
        self._check_fitted()
        if method not in {"exact", "trs"}:
            msg = f"unknown integerisation method `{method}`. Hint: use `exact` or `trs`."
            raise ValueError(msg)
        return self._expand(self._household_counts(method, rng))

    def _household_counts(self, method: str, rng: np.random.Generator) -> np.ndarray:
        """Integer number of copies of each seed household in each zone, (H, Z)."""
        w = self.weights_
        n_zones = w.shape[1]
        hh_controls = [c for c in self.controls_ if c.marginal.level == "household"]
        if not hh_controls or method == "trs":
            totals = np.rint(w.sum(axis=0)).astype(np.int64)
            groups = np.broadcast_to(np.arange(n_zones), w.shape)
            return trs(w.ravel(), groups=groups.ravel(), totals=totals, rng=rng).reshape(w.shape)
        # Household type = combination of the household-level cells, one table axis each.
        type_axes = [int(c.targets.shape[1]) for c in hh_controls]
        hh_type = np.ravel_multi_index([c.cell for c in hh_controls], type_axes)
        n_types = int(np.prod(type_axes))
        table = np.zeros((n_zones, n_types))
        np.add.at(table.T, hh_type, w)
        table = table.reshape(n_zones, *type_axes)
        targets = []
        for j, c in enumerate(hh_controls):
            if c.geo_dim == self.geography_.zone:  # rows in the geography's zone order
                counts, coarse = c.targets[c.zone_group], None
            else:
                counts, coarse = c.targets, c.zone_group
            targets.append(Target((0, j + 1), counts, coarsen=(coarse, None), name=c.marginal.name))
        type_counts, _ = integerise(table, targets, method="exact", rng=rng)
        type_counts = type_counts.reshape(n_zones, n_types)
        groups = hh_type[:, None] * n_zones + np.arange(n_zones)[None, :]
        totals = type_counts.T.ravel()
        counts = trs(w.ravel(), groups=groups.ravel(), totals=totals, rng=rng).reshape(w.shape)
        return self._refine(counts, hh_type)

    def _refine(self, counts: np.ndarray, hh_type: np.ndarray) -> np.ndarray:
        """Swap drawn households for others of the same type and zone to fit persons closer.

        Drawing whole households leaves person-level counts off by sampling noise. Each round,
        every zone makes the one swap (drop a copy of household i, add one of household j of
        the same type, so household-level counts stay exact) that most lowers the squared
        error of its person-level counts, among the most promising candidates of each type;
        rounds stop when no swap helps or after `refine_rounds`. A person-level marginal given
        per district aims each zone at its share in the fitted weights.
        """
        zone_dim = self.geography_.zone
        person = [c for c in self.controls_ if c.marginal.level == "person"]
        if not person or self.refine_rounds == 0:
            return counts
        inc = np.hstack([c.incidence.toarray() for c in person])  # (H, K)
        target = np.hstack(
            [
                c.targets[c.zone_group]
                if c.geo_dim == zone_dim
                else (c.incidence.T @ self.weights_).T
                for c in person
            ]
        )  # (Z, K)
        groups = [np.flatnonzero(hh_type == t) for t in np.unique(hh_type)]
        groups = [m for m in groups if m.size > 1]
        dist = [((inc[m][:, None, :] - inc[m][None, :, :]) ** 2).sum(axis=2) for m in groups]
        n = counts.T.copy()  # (Z, H)
        # Zones are independent: one with no improving swap left is done for good.
        active = np.arange(n.shape[0])
        for _ in range(self.refine_rounds):
            na = n[active]
            gain = 2.0 * (target[active] - na @ inc) @ inc.T  # (active, H): 2 r . a_h
            rows = np.arange(active.size)
            best = np.zeros(active.size)
            drop = np.zeros(active.size, dtype=np.intp)
            add = np.zeros(active.size, dtype=np.intp)
            for m, d in zip(groups, dist, strict=True):
                # Swapping i for j changes the squared error by g_i - g_j + |a_i - a_j|^2; look
                # at the few households with the lowest g_i (present) and highest g_j only.
                g = gain[:, m]
                g_drop = np.where(na[:, m] > 0, g, np.inf)
                i = _smallest(g_drop, _CANDIDATES)
                j = _smallest(-g, _CANDIDATES)
                gi = np.take_along_axis(g_drop, i, axis=1)
                gj = np.take_along_axis(g, j, axis=1)
                delta = gi[:, :, None] - gj[:, None, :] + d[i[:, :, None], j[:, None, :]]
                delta = delta.reshape(active.size, -1)
                k = delta.argmin(axis=1)
                value = delta[rows, k]
                better = value < best
                best = np.where(better, value, best)
                drop = np.where(better, m[i[rows, k // j.shape[1]]], drop)
                add = np.where(better, m[j[rows, k % j.shape[1]]], add)
            moving = best < -1e-9
            if not moving.any():
                break
            z = active[moving]
            n[z, drop[moving]] -= 1
            n[z, add[moving]] += 1
            active = z
        return n.T

    def _expand(self, counts: np.ndarray) -> Population:
        seed = self.seed_
        zone_idx, hh_idx = np.nonzero(counts.T)  # zone-major: households listed zone by zone
        reps = counts[hh_idx, zone_idx]
        src = np.repeat(hh_idx, reps)
        zone = np.repeat(zone_idx, reps)
        n_new = src.size
        new_id = np.arange(1, n_new + 1, dtype=np.int64)
        zone_enum = pl.Enum(list(self.zones_))
        zones = pl.Series(self.geography_.zone, np.array(self.zones_, dtype=object)[zone])
        households = pl.DataFrame(
            {"household_id": new_id, self.geography_.zone: zones.cast(zone_enum)}
        ).hstack(_carried(seed.households, seed, self.geography_)[src])
        # Persons: each new household gets its seed household's persons.
        size = np.bincount(seed.person_household, minlength=seed.households.height)
        first = np.concatenate([[0], np.cumsum(size)[:-1]])
        n_per = size[src]
        owner = np.repeat(np.arange(n_new), n_per)
        offset = np.arange(owner.size) - np.repeat(np.cumsum(n_per) - n_per, n_per)
        person_rows = first[src][owner] + offset
        persons = pl.DataFrame(
            {
                "person_id": np.arange(1, owner.size + 1, dtype=np.int64),
                "household_id": new_id[owner],
                self.geography_.zone: zones[owner].cast(zone_enum),
            }
        ).hstack(_carried(seed.persons, seed, self.geography_)[person_rows])
        return Population(households, persons)


def _carried(frame: pl.DataFrame, seed: SeedSample, geography: Geography) -> pl.DataFrame:
    """Seed columns copied onto synthetic units.

    Not ids and weights, which are the seed's, nor geography: a synthetic household lives in
    the zone it was drawn for, whatever district its seed household came from.
    """
    drop = {seed.household_id, "person_id", geography.zone, *geography.levels}
    if seed.weight_column:
        drop.add(seed.weight_column)
    return frame.drop([c for c in frame.columns if c in drop])


_POLISH: dict[str, Any] = {}
_CANDIDATES = 8  # households looked at per type and zone, for each side of a swap


def _smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the `k` smallest values of each row (all columns if fewer)."""
    if values.shape[1] <= k:
        return np.broadcast_to(np.arange(values.shape[1]), values.shape).copy()
    return np.argpartition(values, k - 1, axis=1)[:, :k]


def _linked_zones(n_zones: int, zone_groups: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Zones tied by sharing a unit of some coarser-level marginal, as sorted index arrays."""
    parent = np.arange(n_zones)

    def root(z: int) -> int:
        while parent[z] != z:
            parent[z] = parent[parent[z]]
            z = parent[z]
        return int(z)

    for group in zone_groups:
        first: dict[int, int] = {}
        for z, unit in enumerate(group.tolist()):
            a, b = root(first.setdefault(unit, z)), root(z)
            parent[max(a, b)] = min(a, b)
    roots = np.array([root(z) for z in range(n_zones)])
    return [np.flatnonzero(roots == r) for r in np.unique(roots)]


def _polish_init(
    zone_incidence: list[sp.csc_array], coarse: list[tuple[sp.csc_array, np.ndarray]]
) -> None:
    """Share the controls' incidences with the process solving the linear programmes."""
    _POLISH["zone_t"] = sp.hstack(zone_incidence).T.tocsr() if zone_incidence else None
    _POLISH["coarse"] = [(inc.T.tocsr(), zone_group) for inc, zone_group in coarse]
    _POLISH["single"] = None


def _constraints(zones: np.ndarray) -> sp.csr_array:
    """Control totals as a matrix over the weights of `zones` (zone by zone, households inside).

    Zone-level controls give one block per zone; a coarser control sums the blocks of the zones
    in each of its units.
    """
    blocks = []
    if _POLISH["zone_t"] is not None:
        blocks.append(sp.kron(sp.eye_array(zones.size), _POLISH["zone_t"]))
    for inc_t, zone_group in _POLISH["coarse"]:
        units = np.unique(zone_group[zones])
        member = (zone_group[zones][None, :] == units[:, None]).astype(float)
        blocks.append(sp.kron(sp.csr_array(member), inc_t))
    return sp.vstack(blocks).tocsr()


def _polish_groups(
    jobs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> list[tuple[int, np.ndarray | None]]:
    """For each (zones, weights, targets): min sum |change| s.t. the targets are met, w >= 0."""
    out = []
    for zones, w, targets in jobs:
        if zones.size == 1 and not _POLISH["coarse"]:  # the common case: one cached matrix
            if _POLISH["single"] is None:
                a = _constraints(zones)
                _POLISH["single"] = (a, sp.hstack([a, -a]).tocsc())
            a, a_eq = _POLISH["single"]
        else:
            a = _constraints(zones)
            a_eq = sp.hstack([a, -a]).tocsc()
        n = w.size
        bounds = np.zeros((2 * n, 2))
        bounds[:n, 1] = np.inf
        bounds[n:, 1] = w
        res = linprog(
            np.ones(2 * n), A_eq=a_eq, b_eq=targets - a @ w, bounds=bounds, method="highs"
        )
        new = np.clip(w + res.x[:n] - res.x[n:], 0.0, None) if res.status == 0 else None
        out.append((res.status, new))
    return out


def _zones_from(marginals: Sequence[Marginal]) -> Geography:
    for m in marginals:
        if "zone" in m.dims:
            return Geography("zone", m.categories[m.dims.index("zone")], {})
    msg = (
        "no geography given and no marginal has a `zone` column. Hint: name the zone column "
        "`zone`, or give a zones table."
    )
    raise MarginalsError(msg)


def _sums(weights: np.ndarray, c: _Control) -> np.ndarray:
    """(G, K) weighted control totals per geography unit."""
    per_zone = (c.incidence.T @ weights).T  # (Z, K)
    out = np.zeros((c.targets.shape[0], per_zone.shape[1]))
    np.add.at(out, c.zone_group, per_zone)
    return out


def _rel_error(s: np.ndarray, t: np.ndarray) -> float:
    err = np.divide(np.abs(s - t), t, out=np.zeros_like(s), where=t > 0)
    worst = float(err.max(initial=0.0))
    return float("inf") if np.any((t <= 0) & (s > 1e-12)) else worst


def _balance(weights: np.ndarray, c: _Control) -> float:
    """Meet each control of `c` in turn; return the max relative error found before."""
    s = _sums(weights, c)
    before = _rel_error(s, c.targets)
    if c.cell is not None:  # one cell per household: all cells at once
        f = np.divide(c.targets, s, out=np.zeros_like(s), where=s > 0)  # (G, K)
        weights *= f[c.zone_group][:, c.cell].T
        return before
    ind = c.incidence
    n_groups = c.targets.shape[0]
    for k in range(ind.shape[1]):
        rows = ind.indices[ind.indptr[k] : ind.indptr[k + 1]]
        if rows.size == 0:
            continue
        vals = ind.data[ind.indptr[k] : ind.indptr[k + 1]]
        block = weights[rows]
        # Exact I-projection onto this control: scale household h by x**a_hk, where x solves
        # sum_a a * S_a * x**a = target (S_a: weight of households with a matching persons).
        powers = np.unique(vals)
        by_power = np.stack(
            [
                np.bincount(c.zone_group, weights=block[vals == a].sum(axis=0), minlength=n_groups)
                for a in powers
            ]
        )
        x = _solve_power_sum(powers, by_power, c.targets[:, k])
        block *= x[c.zone_group][None, :] ** vals[:, None]
        weights[rows] = block
    return before


def _solve_power_sum(powers: np.ndarray, s: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per column of `s`, the x > 0 with sum_a a * s[a] * x**a = target (0 where target is 0).

    The left side is increasing and convex in x, so Newton's method from any start converges
    after its first step; with a single power of 1 it is the plain IPF factor.
    """
    coef = powers[:, None] * s  # (A, G)
    total = coef.sum(axis=0)
    x = np.divide(target, total, out=np.zeros_like(total), where=total > 0)
    if powers.size == 1 and powers[0] == 1:
        return x
    for _ in range(50):
        xp = x[None, :] ** (powers[:, None] - 1)
        g = (coef * xp * x).sum(axis=0) - target
        dg = (coef * powers[:, None] * xp).sum(axis=0)
        step = np.divide(g, dg, out=np.zeros_like(g), where=dg > 0)
        x = np.where(x - step > 0, x - step, x / 2)
        if np.all(np.abs(g) <= 1e-12 * np.maximum(target, 1.0)):
            break
    return np.where(target > 0, x, 0.0)
