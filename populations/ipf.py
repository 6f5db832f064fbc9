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

import functools
import math
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
    """Precomputed per-target work: which axes to sum, how to coarsen and broadcast back.

    IPF's time goes into summing the table onto each marginal and rescaling it, once per marginal
    per cycle, so everything that does not depend on the table's values is worked out here, once.
    """

    def __init__(self, target: Target, ndim: int, shape: tuple[int, ...]):
        order = sorted(range(len(target.axes)), key=target.axes.__getitem__)
        maps = target.maps()
        self.axes = tuple(int(target.axes[i]) for i in order)
        self.maps = tuple(maps[i] for i in order)
        counts = np.asarray(target.counts, dtype=float)
        if order != sorted(order):
            counts = np.transpose(counts, order)
        self.counts = np.ascontiguousarray(counts)
        self.name = target.name
        self.other = tuple(a for a in range(ndim) if a not in self.axes)
        self.bshape = tuple(shape[a] if a in self.axes else 1 for a in range(ndim))
        self.fine_shape = tuple(shape[a] for a in self.axes)
        self.steps = _sum_steps(shape, self.axes)
        self.coarsened = any(m is not None for m in self.maps)
        self.onehots = [
            None if m is None else np.eye(int(self.counts.shape[j]))[m]
            for j, m in enumerate(self.maps)
        ]
        # All-positive targets (the usual case) need no zero-cell bookkeeping: see `update`.
        self.positive = bool(self.counts.size) and bool(self.counts.min() > 0)
        if not self.positive:
            positive = self.counts > 0
            self.inv = np.divide(1.0, self.counts, out=np.zeros_like(self.counts), where=positive)
            self.zero = ~positive
        self._total: float | None = None

    @property
    def total(self) -> float:
        """Sum of the target counts (computed on first use: only some checks need it)."""
        if self._total is None:
            self._total = float(self.counts.sum())
        return self._total

    def on_axes(self, keep: Sequence[int]) -> np.ndarray:
        """The target counts summed onto the table axes `keep` (a subset of `axes`)."""
        drop = tuple(j for j, x in enumerate(self.axes) if x not in keep)
        return np.add.reduce(self.counts, axis=drop) if drop else self.counts

    def sums(self, table: np.ndarray) -> np.ndarray:
        """`table` summed onto this marginal's axes (coarsened where it says), in sorted order."""
        if self.steps is None or not table.flags.c_contiguous or table.dtype != np.float64:
            s = table.sum(axis=self.other) if self.other else table  # keeps integer sums exact
        else:
            s = table
            for matrix, shape, left in self.steps:
                s = matrix @ s.reshape(shape) if left else s.reshape(shape) @ matrix
            s = s.reshape(self.fine_shape)
        if self.coarsened:
            for j, onehot in enumerate(self.onehots):
                if onehot is not None:
                    s = np.moveaxis(np.moveaxis(s, j, -1) @ onehot, -1, j)
        return s

    def rel_error(self, s: np.ndarray) -> float:
        """Max over cells of |s - target| / target; inf if a zero target cell has mass."""
        if self.positive:
            # |s - c| / c = |s / c - 1|, largest at the smallest or the largest ratio.
            r = s / self.counts
            err = max(float(r.max()) - 1.0, 1.0 - float(r.min()))
            return err if err == err else float("inf")  # a NaN sum counts as off
        err = np.abs(s - self.counts) * self.inv
        worst = float(err.max(initial=0.0))
        if np.any(s[self.zero] > 0):
            return float("inf")
        return worst

    def factor(self, s: np.ndarray) -> np.ndarray:
        """target / s per cell, 0 where s is 0 (IPF cannot put mass there)."""
        return np.divide(self.counts, s, out=np.zeros_like(s), where=s > 0)

    def scale(self, table: np.ndarray, f: np.ndarray) -> None:
        """Multiply `table` in place by the per-marginal-cell factors `f`."""
        if self.coarsened:
            for j, m in enumerate(self.maps):
                if m is not None:
                    f = np.take(f, m, axis=j)
        table *= f.reshape(self.bshape)

    def update(self, table: np.ndarray) -> float:
        """Rescale `table` to meet this marginal; return its max relative error before that.

        With all target cells positive and every sum positive and finite, the factors f = c / s
        alone give the error (|s - c| / c = |1 / f - 1|, largest at the smallest or the largest
        factor), saving the zero-cell masks of the general path, which runs otherwise.
        """
        s = self.sums(table)
        if self.positive:
            f = self.counts / s
            lo, hi = float(f.min()), float(f.max())
            if 0.0 < lo and hi < _INF:
                self.scale(table, f)
                return max(1.0 / lo - 1.0, 1.0 - 1.0 / hi)
        err = self.rel_error(s)
        self.scale(table, self.factor(s))
        return err


_INF = float("inf")
# A summed middle block (m cells) before b kept cells, repeated `batches` times, is summed with
# one product per batch unless the batches are many and small (then one stacked-identity gemm).
_FEW_BATCHES = 64
_SHORT_BLOCK = 16
_SMALL_BATCH = 128
_MAX_ONES = 1 << 20  # longest summed block done by a product with a ones vector


def _sum_steps(
    shape: tuple[int, ...], axes: tuple[int, ...]
) -> tuple[tuple[np.ndarray, tuple[int, ...], bool], ...] | None:
    """How to sum a C-contiguous table of `shape` onto `axes` with matrix products.

    ``ndarray.sum`` is slow when the summed axes are short or are not the leading ones: summing
    the length-5 last axis of a 180,000-cell table takes 8x longer than
    ``t.reshape(-1, 5) @ ones(5)``. So adjacent axes are merged into blocks, all kept or all
    summed (length-1 axes dropped), and each summed block becomes one matrix product:

    - a trailing block of k cells: ``t.reshape(-1, k) @ ones(k)``;
    - a leading one: ``ones(k) @ t.reshape(k, -1)`` (these two first: they shrink the table most
      cheaply);
    - one of m cells between kept blocks, b cells after it: ``ones(m) @ t.reshape(-1, m, b)``, a
      product per leading index, or, when those are many and small, one BLAS call
      ``t.reshape(-1, m * b) @ P`` with P m stacked b x b identity matrices.

    Each step is ``(matrix, shape, left)``: ``matrix @ t.reshape(shape)`` if left, else
    ``t.reshape(shape) @ matrix``. None (use ``ndarray.sum``) for a table with an empty axis or
    a summed block longer than `_MAX_ONES`.
    """
    if 0 in shape:
        return None
    blocks: list[list] = []  # [size, kept], alternating
    for a, n in enumerate(shape):
        if n == 1:
            continue
        kept = a in axes
        if blocks and blocks[-1][1] == kept:
            blocks[-1][0] *= n
        else:
            blocks.append([n, kept])
    if any(n > _MAX_ONES for n, kept in blocks if not kept):
        return None  # the ones vector would cost memory like the table: sum without it
    steps = []
    if blocks and not blocks[-1][1]:
        k = blocks.pop()[0]
        steps.append((_ones(k), (-1, k), False))
    if blocks and not blocks[0][1]:
        k = blocks.pop(0)[0]
        steps.append((_ones(k), (k, -1), True))
    while len(blocks) > 1:  # kept, summed, kept, ...: fold the last summed block away
        b = blocks.pop()[0]
        m = blocks.pop()[0]
        batches = math.prod(n for n, _ in blocks)
        blocks[-1][0] *= b
        if batches > _FEW_BATCHES and b <= _SHORT_BLOCK and m * b < _SMALL_BATCH:
            steps.append((_stacked_eye(m, b), (-1, m * b), False))
        else:
            steps.append((_ones(m), (-1, m, b), True))
    return tuple(steps)


def _ones(n: int) -> np.ndarray:
    """A ones vector; short ones are shared (read-only), as building one costs as much as a sum."""
    return _short_ones(n) if n <= 4096 else np.ones(n)


@functools.lru_cache(maxsize=64)
def _short_ones(n: int) -> np.ndarray:
    v = np.ones(n)
    v.flags.writeable = False
    return v


def _stacked_eye(m: int, b: int) -> np.ndarray:
    """m b x b identity matrices stacked: ``t.reshape(-1, m * b) @ it`` sums the m axis away."""
    return np.tile(np.eye(b), (m, 1))


def marginal_sums(table: np.ndarray, target: Target) -> np.ndarray:
    """Sum `table` onto `target`'s axes (coarsened where it says), in `target`'s axis order.

    >>> t = np.arange(6.0).reshape(2, 3)
    >>> marginal_sums(t, Target(axes=(1,), counts=np.zeros(3)))
    array([3., 5., 7.])
    """
    table = np.asarray(table)
    plan = _Plan(target, table.ndim, table.shape)
    order = np.argsort(target.axes)
    return np.transpose(plan.sums(table), np.argsort(order))


def check_targets(seed: np.ndarray, targets: Sequence[Target], *, rtol: float = 1e-6) -> list[str]:
    """Reasons no table with `seed`'s zero pattern can meet `targets` (empty if none found).

    Two kinds are found: a positive target on cells where the seed is zero everywhere (IPF only
    rescales, so it can never put mass there), and two marginals whose sums over the axes they
    share disagree. Other contradictions (among three marginals, say) show up as a stalled fit.
    """
    seed = np.asarray(seed, dtype=float)
    plans = [_Plan(t, seed.ndim, seed.shape) for t in targets]
    positive = bool(seed.size) and bool(seed.min() > 0)
    return _problems(seed, plans, rtol, seed_positive=positive)


def _problems(
    seed: np.ndarray, plans: Sequence[_Plan], rtol: float, *, seed_positive: bool
) -> list[str]:
    """`check_targets` on plans already built (`ipf` reuses its own)."""
    problems: list[str] = []
    for plan in plans:
        # A positive seed gives every marginal cell support, unless a coarse category has no
        # fine category mapped to it; only then are the seed's sums needed.
        if seed_positive and not plan.coarsened:
            continue
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
    keep = [
        x
        for x in a.axes
        if x in b.axes and _same_map(a.maps[a.axes.index(x)], b.maps[b.axes.index(x)])
    ]
    scale = max(a.total, b.total, 1.0)
    if not keep:  # only the grand totals to compare: plain floats
        if abs(a.total - b.total) <= rtol * scale:
            return None
        return f"marginals `{a.name}` and `{b.name}` disagree: {a.total:g} against {b.total:g}"
    sa, sb = a.on_axes(keep), b.on_axes(keep)
    diff = np.abs(sa - sb)
    if float(diff.max(initial=0.0)) <= rtol * scale:
        return None
    cell = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return (
        f"marginals `{a.name}` and `{b.name}` disagree at cell {tuple(int(i) for i in cell)} "
        f"of axes {tuple(keep)}: {float(sa[cell]):g} against {float(sb[cell]):g}"
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
    table = np.array(seed, dtype=float, order="C")
    lowest = float(table.min(initial=np.inf))  # NaN propagates through min and max
    if not (lowest >= 0 and float(table.max(initial=0.0)) < np.inf):
        msg = "the starting table has negative or non-finite cells"
        raise ValueError(msg)
    targets = [
        t if t.name else Target(t.axes, t.counts, t.coarsen, name=f"marginal {i}")
        for i, t in enumerate(targets)
    ]
    plans = [_Plan(t, table.ndim, table.shape) for t in targets]
    problems = _problems(table, plans, tol, seed_positive=bool(table.size) and lowest > 0)
    record = ConvergenceRecord(tuple(p.name for p in plans), tol, max_iter)
    final = None  # exact errors of the current table, when measured
    previous = None
    while record.n_iter < max_iter:
        final = None
        with np.errstate(divide="ignore", invalid="ignore"):  # `_Plan.update` handles 0 and NaN
            errors = np.array([plan.update(table) for plan in plans])
        record.add(errors)
        worst = float(errors.max(initial=0.0))
        if callback is not None:
            callback(record.n_iter, worst)
        # The in-loop errors are measured before each update, so they trail the table by about
        # a cycle: check the final table exactly once they are, or are predicted to be, in tol.
        if _worth_checking(worst, previous, tol):
            final = _final_errors(plans, table)
            if final.max(initial=0.0) <= tol:
                break
        if record.stalled():
            break
        previous = worst
    if final is None:
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


def _worth_checking(worst: float, previous: float | None, tol: float) -> bool:
    """Whether the table after this cycle may be within `tol`, so worth an exact check.

    `worst` (this cycle's max in-loop error) measures the table from before the cycle's updates;
    the table after it is about one cycle's contraction (worst / previous) better. Checking on the
    prediction saves the cycle that waiting for `worst` itself to reach `tol` would cost; a wrong
    prediction costs one pass of sums, and the status only ever comes from the exact check.
    """
    if worst <= tol:
        return True
    if previous is None or not previous > 0:
        return False
    return worst * (worst / previous) <= tol


def _final_errors(plans: Sequence[_Plan], table: np.ndarray) -> np.ndarray:
    """Exact max relative error of every marginal on `table` (what the status is decided on)."""
    return np.array([p.rel_error(p.sums(table)) for p in plans])
