"""Shared helpers for the benchmark scripts in this folder (not a benchmark itself).

Cases are built from fixed seeds, timings are medians over repeats, and every accuracy figure is
computed here with one formula, so the methods compared are judged alike.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# `python bench/x.py` puts bench/ on sys.path, not the project root; add the root (relative to
# this file) so `populations` imports without installing the project.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Case:
    """A table fitting problem: a seed, marginal axes (sorted) and marginal counts."""

    name: str
    description: str
    seed: np.ndarray
    dims: list[tuple[int, ...]]
    margs: list[np.ndarray]
    names: list[str]

    @property
    def cells(self) -> int:
        return int(self.seed.size)


def marginal(table: np.ndarray, dims: Sequence[int]) -> np.ndarray:
    """Sum `table` over every axis not in `dims` (axes kept in increasing order)."""
    return table.sum(axis=tuple(a for a in range(table.ndim) if a not in dims))


def _case(name, description, true, seed, dims, names) -> Case:
    dims = [tuple(d) for d in dims]
    assert all(list(d) == sorted(d) for d in dims)
    margs = [marginal(true, d) for d in dims]
    assert all(np.all(m > 0) for m in margs), "benchmark marginals must be positive"
    return Case(name, description, np.ascontiguousarray(seed, dtype=float), dims, margs, names)


def case_a() -> Case:
    rng = np.random.default_rng(101)
    shape = (20, 20, 20)
    true = rng.poisson(10.0, shape).astype(float)
    seed = rng.uniform(0.1, 1.1, shape)
    return _case(
        "a",
        "3-D 20x20x20, 2-D marginals (0,1),(1,2),(0,2)",
        true,
        seed,
        [(0, 1), (1, 2), (0, 2)],
        ["01", "12", "02"],
    )


def case_b() -> Case:
    rng = np.random.default_rng(202)
    shape = (4, 5, 6, 8, 10)
    true = rng.poisson(10.0, shape).astype(float)
    seed = rng.uniform(0.1, 1.1, shape)
    return _case(
        "b",
        "5-D 4x5x6x8x10, marginals (0,),(1,2),(3,),(2,4),(0,3)",
        true,
        seed,
        [(0,), (1, 2), (3,), (2, 4), (0, 3)],
        ["0", "12", "3", "24", "03"],
    )


def case_c(zones: int = 1000) -> Case:
    """Zones x 18 ages x 2 sexes x 5 employment states; marginals (zone,age,sex), (zone,emp)."""
    rng = np.random.default_rng(303)
    shape = (zones, 18, 2, 5)
    true = rng.poisson(10.0, shape).astype(float)
    seed = np.broadcast_to(rng.uniform(0.1, 1.1, shape[1:]), shape)
    return _case(
        "c",
        f"{zones} zones x 18 ages x 2 sexes x 5 employment, marginals (zone,age,sex),(zone,emp)",
        true,
        seed,
        [(0, 1, 2), (0, 3)],
        ["zone_age_sex", "zone_emp"],
    )


def rel_errors(table: np.ndarray, case: Case) -> dict[str, float]:
    """Per marginal, max |sum - target| / target (inf if a zero target gets mass)."""
    out = {}
    for d, m, name in zip(case.dims, case.margs, case.names, strict=True):
        s = marginal(np.asarray(table, dtype=float), d)
        pos = m > 0
        err = float(np.max(np.abs(s[pos] - m[pos]) / m[pos], initial=0.0))
        if np.any(s[~pos] != 0):
            err = float("inf")
        out[name] = err
    return out


def max_rel_error(table: np.ndarray, case: Case) -> float:
    return max(rel_errors(table, case).values())


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Max over cells of |a - b| / max(|a|, |b|) (cells zero in both count as equal)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    den = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    nz = den > 0
    return float(np.max(diff[nz] / den[nz], initial=0.0))


def timed(
    fn: Callable[[], object], repeat: int, budget: float
) -> tuple[float, int, object]:
    """Median wall time of up to `repeat` calls, stopping early once `budget` seconds are spent.

    Returns (median seconds, number of runs, result of the last call).
    """
    times: list[float] = []
    out = None
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if sum(times) > budget:
            break
    return statistics.median(times), len(times), out


def try_import(name: str):
    """(module, None) or (None, reason it cannot be used)."""
    try:
        return importlib.import_module(name), None
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip this peer
        return None, f"not importable: {type(exc).__name__}: {exc}"


def emit(obj: dict) -> None:
    print(json.dumps(obj, default=_jsonable), flush=True)


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den
