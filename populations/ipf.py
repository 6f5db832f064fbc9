"""Iterative proportional fitting of an n-dimensional table to target marginals.

IPF (Deming and Stephan, 1940) rescales a starting table, in turn, so that its sums over each
target marginal's dimensions match the target. Marginals may be on any subset of the table's axes
(1-D, 2-D, overlapping), and an axis may be *coarsened*: a marginal given per district constrains a
table whose axis is the zone, through a zone -> district index. Many zones are fitted in one
vectorised pass by making the zone an axis of the table.

This module works on numpy arrays; `IPF` in `fitter.py` wraps it for labelled frames.

References
----------
Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled frequency table
when the expected marginal totals are known. Ann. Math. Statist. 11(4), 427-444.
doi:10.1214/aoms/1177731829
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from populations.convergence import ConvergenceRecord, Status

__all__ = ["IPFResult", "Target", "check_targets", "ipf", "marginal_sums"]


@dataclass(frozen=True, eq=False)
class Target:
    """A target marginal on some axes of the table.

    Parameters
    ----------
    axes : table axes the marginal is on, in the order of `counts`' axes.
    counts : target counts, one axis per entry of `axes`.
    coarsen : per entry of `axes`, ``None`` or an integer array mapping each category of the
        table's axis to a category of the marginal's axis (zone -> district).
    name : shown in reports and messages.
    """

    axes: tuple[int, ...]
    counts: np.ndarray
    coarsen: tuple[np.ndarray | None, ...] | None = None
    name: str = ""

    def maps(self) -> tuple[np.ndarray | None, ...]:
        return self.coarsen if self.coarsen is not None else (None,) * len(self.axes)


@dataclass
class IPFResult:
    """What `ipf` returns.

    Attributes
    ----------
    table : the fitted table.
    status : converged, stalled, max_iter or infeasible (see `Status`).
    n_iter : full cycles over the marginals.
    max_rel_error : per marginal name, the final max relative error |fit - target| / target.
    record : max relative error per marginal per iteration.
    problems : why the targets are infeasible, if they are.
    seconds : wall time of the fit.
    """

    table: np.ndarray
    status: Status
    n_iter: int
    max_rel_error: dict[str, float]
    record: ConvergenceRecord
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED


class _Plan:
    """Precomputed per-target work: which axes to sum, how to coarsen and broadcast back."""

    def __init__(self, target: Target, ndim: int, shape: tuple[int, ...]):
        order = np.argsort(target.axes)
        self.axes = tuple(int(target.axes[i]) for i in order)
        self.maps = tuple(target.maps()[i] for i in order)
        self.counts = np.ascontiguousarray(np.transpose(target.counts, order), dtype=float)
        self.name = target.name
        self.other = tuple(a for a in range(ndim) if a not in self.axes)
        self.bshape = tuple(shape[a] if a in self.axes else 1 for a in range(ndim))
        self.onehots = [
            None if m is None else np.eye(int(self.counts.shape[j]))[m]
            for j, m in enumerate(self.maps)
        ]
        positive = self.counts > 0
        self.inv = np.divide(1.0, self.counts, out=np.zeros_like(self.counts), where=positive)
        self.zero = ~positive

    def sums(self, table: np.ndarray) -> np.ndarray:
        s = table.sum(axis=self.other) if self.other else table
        for j, onehot in enumerate(self.onehots):
            if onehot is not None:
                s = np.moveaxis(np.moveaxis(s, j, -1) @ onehot, -1, j)
        return s

    def rel_error(self, s: np.ndarray) -> float:
        err = np.abs(s - self.counts) * self.inv
        worst = float(err.max(initial=0.0))
        if np.any(s[self.zero] > 0):
            return float("inf")
        return worst

    def factor(self, s: np.ndarray) -> np.ndarray:
        f = np.divide(self.counts, s, out=np.zeros_like(s), where=s > 0)
        for j, m in enumerate(self.maps):
            if m is not None:
                f = np.take(f, m, axis=j)
        return f.reshape(self.bshape)


def marginal_sums(table: np.ndarray, target: Target) -> np.ndarray:
    """Sum `table` onto `target`'s axes (coarsened where it says), in `target`'s axis order.

    >>> t = np.arange(6.0).reshape(2, 3)
    >>> marginal_sums(t, Target(axes=(1,), counts=np.zeros(3)))
    array([3., 5., 7.])
    """
    plan = _Plan(target, table.ndim, table.shape)
    order = np.argsort(target.axes)
    return np.transpose(plan.sums(table), np.argsort(order))


def check_targets(seed: np.ndarray, targets: Sequence[Target], *, rtol: float = 1e-6) -> list[str]:
    """Reasons no table with `seed`'s zero pattern can meet `targets` (empty if none found).

    Two kinds are found: a positive target on cells where the seed is zero everywhere (IPF only
    rescales, so it can never put mass there), and two marginals whose sums over the axes they
    share disagree. Other contradictions (among three marginals, say) show up as a stalled fit.
    """
    problems: list[str] = []
    plans = [_Plan(t, seed.ndim, seed.shape) for t in targets]
    for plan in plans:
        support = plan.sums(seed)
        bad = (plan.counts > 0) & (support <= 0)
        if bad.any():
            cell = tuple(int(i) for i in np.argwhere(bad)[0])
            problems.append(
                f"marginal `{plan.name}` asks for {plan.counts[cell]:g} at cell {cell} "
                f"where the starting table is zero ({int(bad.sum())} such cells)"
            )
    for i, a in enumerate(plans):
        for b in plans[i + 1 :]:
            problem = _compare_shared(a, b, rtol)
            if problem:
                problems.append(problem)
    return problems


def _compare_shared(a: _Plan, b: _Plan, rtol: float) -> str | None:
    # Compare on the axes both marginals state at the same resolution; coarsened or not.
    shared = [x for x in a.axes if x in b.axes]
    keep = [x for x in shared if _same_map(a.maps[a.axes.index(x)], b.maps[b.axes.index(x)])]
    sa = a.counts.sum(axis=tuple(j for j, x in enumerate(a.axes) if x not in keep))
    sb = b.counts.sum(axis=tuple(j for j, x in enumerate(b.axes) if x not in keep))
    scale = max(float(sa.sum()), float(sb.sum()), 1.0)
    diff = np.abs(sa - sb)
    if float(diff.max(initial=0.0)) <= rtol * scale:
        return None
    cell = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    where = f" at cell {tuple(int(i) for i in cell)} of axes {tuple(keep)}" if keep else ""
    return (
        f"marginals `{a.name}` and `{b.name}` disagree{where}: "
        f"{float(sa[cell]):g} against {float(sb[cell]):g}"
    )


def _same_map(m1: np.ndarray | None, m2: np.ndarray | None) -> bool:
    if m1 is None or m2 is None:
        return m1 is None and m2 is None
    return m1.shape == m2.shape and bool(np.array_equal(m1, m2))


def ipf(
    seed: np.ndarray,
    targets: Sequence[Target],
    *,
    tol: float = 1e-6,
    max_iter: int = 1000,
    callback: Callable[[int, float], None] | None = None,
) -> IPFResult:
    """Fit `seed` to `targets` by iterative proportional fitting.

    Parameters
    ----------
    seed : starting table (a seed sample's cross-table, a prior, or ones); not modified.
    targets : the marginals to meet.
    tol : stop when every marginal's max relative error is at most `tol`.
    max_iter : cap on full cycles over the targets.
    callback : called as ``callback(iteration, max_error)`` after each cycle (progress bars).

    Returns
    -------
    IPFResult
        The fitted table with an honest status: converged only when a final check of every
        marginal on the returned table is within `tol`.

    Examples
    --------
    A 2x2 table fitted to row sums (3, 7) and column sums (4, 6):

    >>> r = ipf(np.ones((2, 2)), [Target((0,), np.array([3.0, 7.0])),
    ...                            Target((1,), np.array([4.0, 6.0]))])
    >>> r.status.value, r.table.round(2).tolist()
    ('converged', [[1.2, 1.8], [2.8, 4.2]])
    """
    start = time.perf_counter()
    table = np.array(seed, dtype=float)
    if np.any(table < 0) or not np.all(np.isfinite(table)):
        msg = "the starting table has negative or non-finite cells"
        raise ValueError(msg)
    targets = [
        t if t.name else Target(t.axes, t.counts, t.coarsen, name=f"marginal {i}")
        for i, t in enumerate(targets)
    ]
    problems = check_targets(table, targets, rtol=tol)
    plans = [_Plan(t, table.ndim, table.shape) for t in targets]
    record = ConvergenceRecord(tuple(p.name for p in plans), tol, max_iter)
    errors = np.empty(len(plans))
    while record.n_iter < max_iter:
        for j, plan in enumerate(plans):
            s = plan.sums(table)
            errors[j] = plan.rel_error(s)
            table *= plan.factor(s)
        record.add(errors)
        if callback is not None:
            callback(record.n_iter, float(errors.max(initial=0.0)))
        # The in-loop errors are measured before each update; confirm on the final table.
        if record.below_tol() and _final_errors(plans, table).max(initial=0.0) <= tol:
            break
        if record.stalled():
            break
    final = _final_errors(plans, table)
    status = record.status(final, infeasible=bool(problems))
    return IPFResult(
        table=table,
        status=status,
        n_iter=record.n_iter,
        max_rel_error={p.name: float(e) for p, e in zip(plans, final, strict=True)},
        record=record,
        problems=problems,
        seconds=time.perf_counter() - start,
    )


def _final_errors(plans: Sequence[_Plan], table: np.ndarray) -> np.ndarray:
    return np.array([p.rel_error(p.sums(table)) for p in plans])
