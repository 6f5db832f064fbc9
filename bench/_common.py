"""Shared helpers for the benchmark scripts in this folder (not a benchmark itself).

Cases are built from fixed seeds, timings are medians over repeats, and every accuracy figure is
computed here with one formula, so the methods compared are judged alike.
"""

from __future__ import annotations

import importlib
import json
import math
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


class Interleaved:
    """Time several functions with their samples interleaved, so load bursts hit all alike.

    `add` makes a first, warm-up call (returning its result, and the only call if it alone takes
    more than `budget` seconds) and picks how many calls make one sample: calls faster than
    `min_sample` seconds are looped so a sample lasts at least that long. `run` then takes up to
    `repeat` samples of each function, round robin, stopping a function once it has used `budget`
    seconds. `seconds` is the median time per call.
    """

    def __init__(self, budget: float, min_sample: float = 0.02):
        self.budget = budget
        self.min_sample = min_sample
        self.fns: dict[str, Callable[[], object]] = {}
        self.calls: dict[str, int] = {}
        self.samples: dict[str, list[float]] = {}
        self.spent: dict[str, float] = {}
        self.outs: dict[str, object] = {}

    def add(self, key: str, fn: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        out = fn()
        first = time.perf_counter() - t0
        self.fns[key] = fn
        self.outs[key] = out
        self.spent[key] = first
        self.samples[key] = []
        if first >= self.budget:
            self.samples[key].append(first)
            self.calls[key] = 1
        else:
            self.calls[key] = (
                1
                if first >= self.min_sample
                else min(1000, math.ceil(self.min_sample / max(first, 1e-9)))
            )
        return out

    def run(self, repeat: int) -> None:
        for _ in range(max(repeat, 1)):
            for key, fn in self.fns.items():
                if self.spent[key] > self.budget or len(self.samples[key]) >= repeat:
                    continue
                number = self.calls[key]
                t0 = time.perf_counter()
                for _ in range(number):
                    self.outs[key] = fn()
                dt = time.perf_counter() - t0
                self.samples[key].append(dt / number)
                self.spent[key] += dt

    def seconds(self, key: str) -> float:
        return statistics.median(self.samples[key])

    def runs(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.samples.items()}


def timed(
    fn: Callable[[], object], repeat: int, budget: float, min_sample: float = 0.02
) -> tuple[float, int, int, object]:
    """One function via `Interleaved`: (median s per call, samples, calls per sample, result)."""
    bench = Interleaved(budget, min_sample)
    bench.add("f", fn)
    bench.run(repeat)
    return bench.seconds("f"), len(bench.samples["f"]), bench.calls["f"], bench.outs["f"]


def try_import(name: str):
    """(module, None) or (None, reason it cannot be used)."""
    try:
        return importlib.import_module(name), None
    except Exception as exc:
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
