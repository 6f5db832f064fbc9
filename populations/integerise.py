"""Turning a fitted table of fractional counts into whole units (persons, households).

Two methods:

``"trs"``
    Truncate, replicate, sample (Lovelace and Ballas, 2013): keep each cell's integer part, then
    draw the remaining units without replacement, each cell with probability equal to its
    fractional part (systematic sampling), so expected counts equal the weights. The total is
    exact; marginals are met only approximately.
``"exact"``
    Meets consistent integer marginals exactly. The marginals are taken in an order where each
    one's overlap with those before lies inside a single earlier marginal (the running
    intersection property of decomposable models, which covers the usual census layout: every
    marginal shares only the geography). The first marginal is taken as it is; each next one
    splits the units placed so far over its new dimensions, block by block of the overlap: the
    fitted table, rescaled inside the block to the block's integer row and column sums, is
    rounded by TRS per row and then repaired by moving single units between columns, each move
    chosen to stay closest to the fitted table. Row and column sums end exact. Marginals outside
    that order are met approximately; `integerise` reports which are met exactly, by checking.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from populations.ipf import Target, _Plan

__all__ = ["integerise", "trs"]


def trs(
    weights: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    totals: np.ndarray | None = None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Integerise `weights` by truncate-replicate-sample, optionally within groups.

    Parameters
    ----------
    weights : non-negative fractional counts, 1-D.
    groups : group index of each weight (0..G-1); one group if omitted.
    totals : integer total per group; the rounded group sums if omitted.
    rng : random generator for the sampling step.

    Returns
    -------
    numpy.ndarray of int64, same shape as `weights`, summing to `totals` within each group.
    A zero weight stays zero.

    Examples
    --------
    >>> trs(np.array([0.5, 1.5, 2.0]), rng=np.random.default_rng(0)).sum()
    np.int64(4)
    """
    w = np.asarray(weights, dtype=float)
    g = np.zeros(w.size, dtype=np.intp) if groups is None else np.asarray(groups, dtype=np.intp)
    n_groups = int(g.max(initial=-1)) + 1
    gsum = np.bincount(g, weights=w, minlength=n_groups)
    if totals is None:
        totals = np.rint(gsum)
    totals = np.asarray(totals, dtype=np.int64)
    if np.any((totals > 0) & (gsum <= 0)):
        bad = int(np.flatnonzero((totals > 0) & (gsum <= 0))[0])
        msg = f"group {bad} must hold {totals[bad]} units but all its weights are zero"
        raise ValueError(msg)
    scale = np.divide(totals, gsum, out=np.zeros(n_groups), where=gsum > 0)
    scaled = w * scale[g]
    whole = np.floor(scaled + 1e-9).astype(np.int64)
    frac = np.clip(scaled - whole, 0.0, None)
    remainder = totals - np.bincount(g, weights=whole, minlength=n_groups).astype(np.int64)
    candidates = np.flatnonzero(frac > 1e-12)
    if candidates.size:
        drawn = _systematic(frac[candidates], g[candidates], remainder, n_groups, rng)
        whole[candidates[drawn]] += 1
    return whole.reshape(np.shape(weights))


def _systematic(
    p: np.ndarray, g: np.ndarray, k: np.ndarray, n_groups: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices drawn, within each group, with inclusion probability `p` (each below 1, summing
    to the group's `k`): systematic sampling over the entries in random order.

    Unlike successive weighted draws, this makes each entry's chance of being drawn exactly its
    fractional part, so TRS counts are unbiased for the weights.
    """
    # One float sort instead of a lexsort: the group, plus a random fraction to shuffle within it.
    order = np.argsort(g + 0.5 * rng.random(p.size))
    ps, gs = p[order], g[order]
    cum = np.cumsum(ps)
    start = np.concatenate([[0.0], cum])[np.searchsorted(gs, np.arange(n_groups), side="left")]
    hi = cum - start[gs]
    lo = hi - ps
    u = rng.random(n_groups)[gs]
    chosen = np.floor(hi - u) > np.floor(lo - u)
    # Rounding can leave a group one unit off its count; settle it by the largest fractions.
    got = np.bincount(gs, weights=chosen, minlength=n_groups).astype(np.int64)
    for grp in np.flatnonzero(got != k):
        idx = np.flatnonzero(gs == grp)
        ranked = idx[np.argsort(-ps[idx], kind="stable")]
        chosen[idx] = False
        chosen[ranked[: k[grp]]] = True
    return order[chosen]


def integerise(
    table: np.ndarray,
    targets: Sequence[Target] = (),
    *,
    method: str = "exact",
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, bool]]:
    """Integer counts from a fitted `table`, and which of `targets` they meet exactly.

    Parameters
    ----------
    table : fitted fractional counts.
    targets : the marginals the table was fitted to (integer counts for ``"exact"``).
    method : ``"trs"`` or ``"exact"`` (see the module docstring).
    rng : random generator.

    Returns
    -------
    counts : int64 array shaped like `table`.
    exact : per target name, whether `counts` meets it exactly (checked, not assumed).

    Examples
    --------
    >>> from populations.ipf import ipf
    >>> ts = [Target((0,), np.array([3.0, 4.0]), name="rows"),
    ...       Target((1,), np.array([5.0, 2.0]), name="cols")]
    >>> fit = ipf(np.ones((2, 2)), ts)
    >>> counts, exact = integerise(fit.table, ts, rng=np.random.default_rng(1))
    >>> counts.sum(axis=1).tolist(), counts.sum(axis=0).tolist(), exact
    ([3, 4], [5, 2], {'rows': True, 'cols': True})
    """
    table = np.asarray(table, dtype=float)
    if method == "trs":
        counts = trs(table.ravel(), rng=rng).reshape(table.shape)
    elif method == "exact":
        counts = _exact(table, list(targets), rng)
    else:
        msg = f"unknown integerisation method `{method}`. Hint: use `exact` or `trs`."
        raise ValueError(msg)
    exact = {}
    for t in targets:
        plan = _Plan(t, table.ndim, table.shape)
        exact[t.name] = bool(np.array_equal(plan.sums(counts.astype(float)), plan.counts))
    return counts, exact


def _exact(table: np.ndarray, targets: list[Target], rng: np.random.Generator) -> np.ndarray:
    for t in targets:
        c = np.asarray(t.counts, dtype=float)
        if not np.allclose(c, np.rint(c), rtol=0, atol=1e-6):
            bad = c.ravel()[np.flatnonzero(np.abs(c - np.rint(c)).ravel() > 1e-6)[0]]
            msg = (
                f"exact integerisation needs whole-number marginals; `{t.name}` has {bad:g}. "
                "Hint: round the marginals consistently, or use method `trs`."
            )
            raise ValueError(msg)
    plans = [_Plan(t, table.ndim, table.shape) for t in targets]
    for plan in plans:
        plan.counts = np.rint(plan.counts)
    starts = [p for p in plans if all(m is None for m in p.maps)]
    if not starts:
        return trs(table.ravel(), rng=rng).reshape(table.shape)
    first = max(starts, key=lambda p: (len(p.axes), p.counts.size))
    axes = list(first.axes)
    counts = first.counts.astype(np.int64)
    done = [first]
    pending = [p for p in plans if p is not first]
    while True:
        # The widest marginal first: a narrower one it contains is then met with it.
        ready = [p for p in pending if _extends(p, axes, done)]
        if not ready:
            break
        nxt = max(ready, key=lambda p: len(p.axes))
        pending.remove(nxt)
        axes, counts = _split(table, axes, counts, nxt, rng)
        done.append(nxt)
    if len(axes) < table.ndim:
        axes, counts = _split(table, axes, counts, None, rng)
    return counts


def _extends(plan: _Plan, axes: list[int], done: list[_Plan]) -> bool:
    """Whether `plan` adds new, uncoarsened axes and overlaps a single earlier marginal."""
    new = [a for a in plan.axes if a not in axes]
    if not new or any(plan.maps[plan.axes.index(a)] is not None for a in new):
        return False
    shared = [(a, plan.maps[j]) for j, a in enumerate(plan.axes) if a in axes]
    return any(
        all(
            a in d.axes and (d.maps[d.axes.index(a)] is None or _equal(d.maps[d.axes.index(a)], m))
            for a, m in shared
        )
        for d in done
    )


def _equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return a is not None and b is not None and np.array_equal(a, b)


def _split(
    table: np.ndarray,
    axes: list[int],
    counts: np.ndarray,
    plan: _Plan | None,
    rng: np.random.Generator,
) -> tuple[list[int], np.ndarray]:
    """Split integer `counts` on `axes` over `plan`'s new axes (all remaining axes if None)."""
    new = (
        [a for a in range(table.ndim) if a not in axes]
        if plan is None
        else [a for a in plan.axes if a not in axes]
    )
    both = sorted(axes + new)
    fitted = table.sum(axis=tuple(a for a in range(table.ndim) if a not in both))
    fitted = np.transpose(fitted, [both.index(a) for a in axes + new])
    n_rows = counts.size
    y = fitted.reshape(n_rows, -1).copy()
    rows = counts.ravel()
    if plan is None:
        blocks, target = None, None
    else:
        blocks, target = _blocks(table.shape, axes, plan, new)
    y = _balance(y, rows, blocks, target)
    x = trs(y.ravel(), groups=np.repeat(np.arange(n_rows), y.shape[1]), totals=rows, rng=rng)
    x = x.reshape(y.shape)
    if plan is not None:
        _repair(x, y, blocks, target)
    shape = [table.shape[a] for a in axes + new]
    merged = x.reshape(shape).transpose([(axes + new).index(a) for a in both])
    return both, np.ascontiguousarray(merged)


def _blocks(
    shape: tuple[int, ...], axes: list[int], plan: _Plan, new: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Block (overlap cell) of each row, and the target as (block, new-axes cell)."""
    shared = [j for j, a in enumerate(plan.axes) if a in axes]
    grids = np.indices([shape[a] for a in axes]).reshape(len(axes), -1)
    coords = []
    for j in shared:
        idx = grids[axes.index(plan.axes[j])]
        m = plan.maps[j]
        coords.append(idx if m is None else m[idx])
    dims = [plan.counts.shape[j] for j in shared]
    blocks = np.ravel_multi_index(coords, dims) if shared else np.zeros(grids.shape[1], np.intp)
    order = shared + [plan.axes.index(a) for a in new]
    target = np.transpose(plan.counts, order).reshape(int(np.prod(dims)), -1)
    return blocks, target.astype(np.int64)


def _balance(
    y: np.ndarray, rows: np.ndarray, blocks: np.ndarray | None, target: np.ndarray | None
) -> np.ndarray:
    """Rescale `y` to row sums `rows` and (per block) column sums `target` by 2-D IPF."""
    rows = rows.astype(float)
    for _ in range(1 if blocks is None else 100):
        rs = y.sum(axis=1)
        empty = (rs <= 0) & (rows > 0)
        if empty.any():  # units with no fitted split: spread them evenly
            y[empty] = 1.0
            rs = y.sum(axis=1)
        y *= np.divide(rows, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        if blocks is None:
            break
        cs = np.zeros(target.shape)
        np.add.at(cs, blocks, y)
        f = np.divide(target, cs, out=np.zeros_like(cs), where=cs > 0)
        if np.max(np.abs(f[cs > 0] - 1.0), initial=0.0) < 1e-10:
            break
        y *= f[blocks]
    return y


def _repair(x: np.ndarray, y: np.ndarray, blocks: np.ndarray, target: np.ndarray) -> None:
    """Move single units between columns, inside rows, until each block's columns are exact.

    All blocks move at once, one unit each per round, from their most-over to their most-under
    column. A block where no row can make that move directly (structural zeros in the way) is
    finished by `_repair_by_paths`.
    """
    d = np.zeros(target.shape, dtype=np.int64)
    np.add.at(d, blocks, x)
    d -= target
    # A block whose rows hold a different total than its targets cannot be met; leave it.
    inconsistent = d.sum(axis=1) != 0
    stuck = inconsistent.copy()
    while True:
        active = (d.max(axis=1) > 0) & ~stuck
        if not active.any():
            for blk in np.flatnonzero(stuck & ~inconsistent & (d.max(axis=1) > 0)):
                _repair_by_paths(x, y, np.flatnonzero(blocks == blk), d[blk])
            return
        live = np.flatnonzero(active[blocks])
        b = blocks[live]
        k1 = d.argmax(axis=1)[b]
        k2 = d.argmin(axis=1)[b]
        can = (x[live, k1] > 0) & (y[live, k2] > 0)
        score = (y[live, k2] - x[live, k2]) - (y[live, k1] - x[live, k1])
        score = np.where(can, score, -np.inf)
        order = np.lexsort((-score, b))
        firsts = order[np.unique(b[order], return_index=True)[1]]
        ok = np.isfinite(score[firsts])
        stuck[b[firsts[~ok]]] = True
        pick = firsts[ok]
        r, bb, c1, c2 = live[pick], b[pick], k1[pick], k2[pick]
        x[r, c1] -= 1
        x[r, c2] += 1
        d[bb, c1] -= 1
        d[bb, c2] += 1


def _repair_by_paths(x: np.ndarray, y: np.ndarray, rows: np.ndarray, d: np.ndarray) -> None:
    """Settle one block's column excesses `d` along chains of moves (transportation style).

    A unit can go from column a to column b in a row that has a unit in a and a fitted share
    in b. When no single row links an over column to an under one, a breadth-first search over
    the columns finds a chain a -> c -> b, and one unit moves along each link; each link uses
    the row that stays closest to the fitted table. Stops when exact or when no chain exists.
    """
    xs, ys = x[rows], y[rows]
    n_cols = d.size
    while d.max() > 0:
        link = ((xs > 0).T.astype(np.int64) @ (ys > 0).astype(np.int64)) > 0  # (from, to)
        np.fill_diagonal(link, False)
        parent = np.full(n_cols, -1)
        frontier = list(np.flatnonzero(d > 0))
        seen = set(frontier)
        end = -1
        while frontier and end < 0:
            nxt = []
            for a in frontier:
                for b in np.flatnonzero(link[a]):
                    if b in seen:
                        continue
                    parent[b], seen = a, seen | {b}
                    if d[b] < 0:
                        end = b
                        break
                    nxt.append(b)
                if end >= 0:
                    break
            frontier = nxt
        if end < 0:
            break
        b = end
        while parent[b] >= 0:  # walk back to the over column the chain starts from
            a = parent[b]
            ok = (xs[:, a] > 0) & (ys[:, b] > 0)
            score = np.where(ok, (ys[:, b] - xs[:, b]) - (ys[:, a] - xs[:, a]), -np.inf)
            r = int(np.argmax(score))
            xs[r, a] -= 1
            xs[r, b] += 1
            b = a
        d[end] += 1
        d[b] -= 1
    x[rows] = xs
