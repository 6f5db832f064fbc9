"""Benchmark: synthworld's `ipf` against a plain numpy IPF loop, humanleague and ipfn.

What is measured
----------------
Wall time (median of ``--repeat`` samples, default 5) to fit a seed table to target marginals, on
three cases built from fixed seeds (numpy.random.default_rng):

(a) 3-D 20x20x20 table, 2-D marginals (0,1), (1,2), (0,2) of a Poisson(10) "true" table, random
    positive seed;
(b) 5-D 4x5x6x8x10 table (9,600 cells), marginals (0,), (1,2), (3,), (2,4), (0,3);
(c) 1,000 zones x 18 ages x 2 sexes x 5 employment states as one 4-D table, marginals
    (zone,age,sex) and (zone,employment), seed a random positive 18x2x5 table broadcast over
    zones. humanleague is also timed fitting zone by zone (1,000 3-D fits).

Methods: synthworld ``populations.ipf.ipf`` as users call it (target checks, convergence record,
final check, status); a plain numpy loop written here (``table *= target / table.sum(others)``
per marginal, max relative error checked after each cycle) as the hardware yardstick;
``humanleague.ipf`` and ``ipfn.ipfn`` (numpy-array mode). All stop on the same rule where they can:
every marginal's max relative error |sum - target| / target <= 1e-6. ipfn's ``convergence_rate``
is that same quantity (``rate_tolerance=0`` so it does not stop early). humanleague's ``ipf`` has
no tolerance argument: it stops on a fixed internal absolute error (about 1e-8), i.e. it fits
tighter than 1e-6; ``synthworld_s_at_humanleague_accuracy`` times synthworld at humanleague's
achieved accuracy for a like-for-like ratio. Every method's accuracy is recomputed here with the
one formula (``max_rel_error``), and each peer's table is compared cell by cell with synthworld's
(``agreement``: max |a-b|/max(|a|,|b|)); if that exceeds 1e-6 the fits are redone with a tighter
tolerance (``agreement_tol``) for the comparison only.

Timing: each method is called once to warm up (and to check its output), then ``--repeat``
samples of every method are taken round robin, so a burst of load hits all methods alike; a call
shorter than 20 ms is looped inside a sample (``calls_per_run``) so the clock reading is stable.
``*_s`` is the median seconds per call. Ratios (``speedup_vs_*`` = peer time / synthworld time,
``ratio_to_numpy`` = synthworld time / numpy time) are taken within one run, so they hold on a
noisy machine. A method is not sampled again once it has used ``--budget`` seconds on a case.

How to run
----------
From the project root, with the ``bench`` extra installed (ipfn, humanleague, psutil)::

    python bench/ipf.py                 # all cases, 5 repeats
    python bench/ipf.py --repeat 3 --cases a,b --zones 200

One JSON object per case is printed to stdout; progress goes to stderr. A peer that cannot be
imported is skipped, with the reason in ``<peer>_skipped``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import numpy as np
from _common import (
    Case,
    Interleaved,
    case_a,
    case_b,
    case_c,
    emit,
    log,
    max_rel_error,
    ratio,
    rel_diff,
    try_import,
)

from populations.ipf import Target, ipf

TOL = 1e-6
TIGHT_TOL = 1e-10
AGREEMENT_TARGET = 1e-6
MAX_ITER = 10_000
KEY_ORDER = [
    "bench", "case", "description", "shape", "cells", "repeat", "tol",
    "synthworld_s", "numpy_s", "humanleague_s", "humanleague_by_zone_s", "ipfn_s",
    "speedup_vs_humanleague", "speedup_vs_humanleague_by_zone", "speedup_vs_ipfn",
    "ratio_to_numpy", "max_rel_error", "agreement", "agreement_tol", "agreement_target",
    "status", "iterations",
]  # fmt: skip


def numpy_ipf(seed: np.ndarray, case: Case, tol: float, max_iter: int = MAX_ITER):
    """The simplest vectorised IPF: one broadcast rescale per marginal, error checked per cycle."""
    table = np.array(seed, dtype=float)
    others = [tuple(a for a in range(table.ndim) if a not in d) for d in case.dims]
    targets = [np.expand_dims(m, o) for m, o in zip(case.margs, others, strict=True)]
    err = np.inf
    it = 0
    while it < max_iter:
        it += 1
        for o, t in zip(others, targets, strict=True):
            table *= t / table.sum(axis=o, keepdims=True)
        err = max(
            float(np.max(np.abs(table.sum(axis=o, keepdims=True) - t) / t))
            for o, t in zip(others, targets, strict=True)
        )
        if err <= tol:
            break
    return table, it, err


def synthworld_fit(case: Case, tol: float):
    targets = [
        Target(d, m, name=n) for d, m, n in zip(case.dims, case.margs, case.names, strict=True)
    ]
    return lambda: ipf(case.seed, targets, tol=tol, max_iter=MAX_ITER)


def humanleague_fit(hl, case: Case):
    indices = [np.array(d, dtype=np.int64) for d in case.dims]
    margs = [np.ascontiguousarray(m, dtype=float) for m in case.margs]
    return lambda: hl.ipf(case.seed, indices, margs)


def humanleague_by_zone(hl, case: Case):
    """Case (c) fitted one zone at a time: marginals (age,sex) and (emp) per zone."""
    seed3 = np.ascontiguousarray(case.seed[0])
    zas, ze = case.margs
    indices = [np.array([0, 1]), np.array([2])]

    def run():
        out = np.empty(case.seed.shape)
        iters = []
        conv = True
        for z in range(case.seed.shape[0]):
            r, stats = hl.ipf(seed3, indices, [zas[z], ze[z]])
            out[z] = r
            iters.append(stats["iterations"])
            conv = conv and bool(stats["conv"])
        return out, {"conv": conv, "iterations": max(iters)}

    return run


def ipfn_fit(ipfn_mod, case: Case, tol: float):
    dims = [list(d) for d in case.dims]

    def run():
        # ipfn writes the fitted values into the array it is given, and prints to stdout.
        with contextlib.redirect_stdout(sys.stderr):
            m, converged, conv = ipfn_mod.ipfn(
                case.seed.copy(),
                [np.array(a, dtype=float) for a in case.margs],
                dims,
                convergence_rate=tol,
                max_iteration=MAX_ITER,
                rate_tolerance=0.0,
                verbose=2,
            ).iteration()
        return m, int(converged), len(conv)

    return run


def run_case(case: Case, args, hl, hl_why, ipfn_mod, ipfn_why) -> dict:
    row: dict = {
        "bench": "ipf",
        "case": case.name,
        "description": case.description,
        "shape": list(case.seed.shape),
        "cells": case.cells,
        "repeat": args.repeat,
        "tol": TOL,
    }
    bench = Interleaved(args.budget)
    iters: dict[str, int] = {}
    status: dict[str, str] = {}
    tables: dict[str, np.ndarray] = {}

    # Warm-up calls (outputs checked below), then all samples taken round robin.
    log(f"[ipf {case.name}] warm-up: synthworld, numpy")
    res = bench.add("synthworld", synthworld_fit(case, TOL))
    tables["synthworld"] = res.table
    iters["synthworld"] = res.n_iter
    status["synthworld"] = res.status.value
    t, iters["numpy"], _ = bench.add("numpy", lambda: numpy_ipf(case.seed, case, TOL))
    tables["numpy"] = t
    status["numpy"] = "converged" if max_rel_error(t, case) <= TOL else "not converged"
    if hl is None:
        row["humanleague_skipped"] = hl_why
    else:
        log(f"[ipf {case.name}] warm-up: humanleague")
        t, stats = bench.add("humanleague", humanleague_fit(hl, case))
        tables["humanleague"] = np.asarray(t)
        iters["humanleague"] = int(stats["iterations"])
        status["humanleague"] = "converged" if stats["conv"] else "not converged"
        # Like-for-like: synthworld stopped at the accuracy humanleague reached (at least 1e-12).
        match_tol = max(max_rel_error(t, case), 1e-12)
        mres = bench.add("synthworld_at_humanleague_accuracy", synthworld_fit(case, match_tol))
        row["humanleague_accuracy_tol"] = match_tol
        row["synthworld_at_humanleague_accuracy_status"] = mres.status.value
        if case.name == "c":
            log(f"[ipf {case.name}] warm-up: humanleague zone by zone")
            t, stats = bench.add("humanleague_by_zone", humanleague_by_zone(hl, case))
            tables["humanleague_by_zone"] = t
            iters["humanleague_by_zone"] = int(stats["iterations"])
            status["humanleague_by_zone"] = "converged" if stats["conv"] else "not converged"
    if ipfn_mod is None:
        row["ipfn_skipped"] = ipfn_why
    else:
        log(f"[ipf {case.name}] warm-up: ipfn")
        t, conv, iters["ipfn"] = bench.add("ipfn", ipfn_fit(ipfn_mod, case, TOL))
        tables["ipfn"] = t
        status["ipfn"] = "converged" if conv else "not converged"
    log(f"[ipf {case.name}] timing {', '.join(bench.fns)} x {args.repeat}, interleaved")
    bench.run(args.repeat)

    def sec(key: str) -> float | None:
        return bench.seconds(key) if key in bench.fns else None

    sw_s, np_s, hl_s = sec("synthworld"), sec("numpy"), sec("humanleague")
    hlz_s, ipfn_s = sec("humanleague_by_zone"), sec("ipfn")
    row["synthworld_s"] = sw_s
    row["numpy_s"] = np_s
    row["humanleague_s"] = hl_s
    if hlz_s is not None:
        row["humanleague_by_zone_s"] = hlz_s
    row["ipfn_s"] = ipfn_s
    if hl_s is not None:
        row["synthworld_s_at_humanleague_accuracy"] = sec("synthworld_at_humanleague_accuracy")
    row["speedup_vs_humanleague"] = ratio(hl_s, sw_s)
    if hlz_s is not None:
        row["speedup_vs_humanleague_by_zone"] = ratio(hlz_s, sw_s)
    if hl_s is not None:
        row["speedup_vs_humanleague_at_its_accuracy"] = ratio(
            hl_s, row["synthworld_s_at_humanleague_accuracy"]
        )
    row["speedup_vs_ipfn"] = ratio(ipfn_s, sw_s)
    row["ratio_to_numpy"] = ratio(sw_s, np_s)
    errs = {k: max_rel_error(v, case) for k, v in tables.items()}
    row["max_rel_error"] = errs

    ref = tables["synthworld"]
    agreement = {k: rel_diff(ref, v) for k, v in tables.items() if k != "synthworld"}
    row["agreement_target"] = AGREEMENT_TARGET
    if max(agreement.values(), default=0.0) <= AGREEMENT_TARGET:
        row["agreement"] = agreement
        row["agreement_tol"] = TOL
    else:
        # Not timed: refit at a tighter tolerance to show the methods reach the same table.
        log(f"[ipf {case.name}] agreement above target; refitting at tol {TIGHT_TOL:g}")
        row["agreement_at_timed_tol"] = agreement
        ref = synthworld_fit(case, TIGHT_TOL)().table
        tight = {"numpy": numpy_ipf(case.seed, case, TIGHT_TOL)[0]}
        if "humanleague" in tables:  # no tolerance to tighten: its own fit again
            tight["humanleague"] = tables["humanleague"]
        if "humanleague_by_zone" in tables:
            tight["humanleague_by_zone"] = tables["humanleague_by_zone"]
        if "ipfn" in tables:
            tight["ipfn"] = ipfn_fit(ipfn_mod, case, TIGHT_TOL)()[0]
        row["agreement"] = {k: rel_diff(ref, v) for k, v in tight.items()}
        row["agreement_tol"] = TIGHT_TOL
    row["status"] = status
    row["iterations"] = iters
    row["runs"] = bench.runs()
    row["calls_per_run"] = bench.calls
    row["settings"] = {
        "synthworld": f"ipf(seed, targets, tol={TOL:g}, max_iter={MAX_ITER})",
        "numpy": f"stop when max rel error <= {TOL:g} after a cycle",
        "humanleague": "ipf(seed, indices, marginals); no tolerance argument (fixed internal "
        "absolute tolerance)",
        "ipfn": f"convergence_rate={TOL:g}, rate_tolerance=0, max_iteration={MAX_ITER}, verbose=2",
    }
    first = [k for k in KEY_ORDER if k in row]
    return {k: row[k] for k in first + [k for k in row if k not in first]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="runs per method; median reported")
    p.add_argument("--cases", default="a,b,c", help="comma-separated subset of a,b,c")
    p.add_argument("--zones", type=int, default=1000, help="zones in case (c)")
    p.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="stop repeating a method once its runs on a case took this many seconds",
    )
    args = p.parse_args(argv)
    hl, hl_why = try_import("humanleague")
    ipfn_pkg, ipfn_why = try_import("ipfn")
    ipfn_mod = getattr(ipfn_pkg, "ipfn", None) if ipfn_pkg is not None else None
    builders = {"a": case_a, "b": case_b, "c": lambda: case_c(args.zones)}
    for name in args.cases.split(","):
        emit(run_case(builders[name.strip()](), args, hl, hl_why, ipfn_mod, ipfn_why))


if __name__ == "__main__":
    main()
