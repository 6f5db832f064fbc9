"""Benchmark: synthworld's `integerise` ("exact" and "trs") against humanleague's `qisi`.

What is measured
----------------
Case (c) of ``bench/ipf.py``: zones x 18 ages x 2 sexes x 5 employment states (1,000 zones by
default, ``--zones N`` to scale it), integer marginals (zone,age,sex) and (zone,employment) summed
from a Poisson(10) "true" table (fixed seeds, numpy.random.default_rng). The table is fitted once
with synthworld's ``ipf`` (tol 1e-6), then turned into whole persons by:

* ``integerise(table, targets, method="exact")`` and ``method="trs"``: median of ``--repeat``
  samples (default 5; calls under 20 ms are looped inside a sample), each call with a fresh
  ``default_rng(7)``;
* ``humanleague.qisi(seed, indices, marginals)`` (quasirandom integer sampling, integer marginals,
  same seed table). qisi on the whole 4-D table scales roughly with zones x population (about
  zones^2 here: ~1.5 s at 10 zones, ~160 s at 100 zones on the development machine), so at 1,000
  zones it is run zone by zone (1,000 3-D calls; ~30 s, the yardstick), once unless one run is
  under 5 s. The joint 4-D call is run only up to ``--joint-zones`` zones (default 20); when
  ``--zones`` is larger, a second line compares all methods at ``--joint-zones`` zones with it.

Per method: seconds, whether every marginal is met exactly (checked here by summing the counts),
and ``deviation`` = sum |counts - fitted table| / sum(fitted table), a closeness measure.
``speedup_exact_vs_humanleague`` = qisi seconds / exact seconds (same run).

A last line (``"case": "scale"``) measures the exact integerisation of the 1,000-zone case
(``--scale-zones``) in a fresh child process: wall time, peak RSS from
``resource.getrusage(...).ru_maxrss`` (the high-water mark is reset just before the call through
``/proc/self/clear_refs`` where Linux allows, so the peak is that of the call, not of the fit),
RSS sampled by ``psutil`` during the call if it is installed, and numpy's peak allocation during
the call from ``tracemalloc`` (a separate, untimed run).

How to run
----------
From the project root, with the ``bench`` extra installed (ipfn, humanleague, psutil)::

    python bench/integerise.py                    # 1,000 zones; qisi takes ~30 s
    python bench/integerise.py --zones 100 --repeat 3

One JSON object per line on stdout; progress on stderr. humanleague is skipped, with the reason in
``humanleague_skipped``, if it cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
from _common import ROOT, Case, case_c, emit, log, marginal, ratio, timed, try_import

from populations.integerise import integerise
from populations.ipf import Target, ipf

TOL = 1e-6
RNG_SEED = 7
FAST = 5.0  # seconds: a qisi run faster than this is repeated like the others


def targets_of(case: Case) -> list[Target]:
    return [Target(d, m, name=n) for d, m, n in zip(case.dims, case.margs, case.names, strict=True)]


def check(counts: np.ndarray, case: Case, fitted: np.ndarray) -> dict:
    """Exactness per marginal (by summing) and closeness to the fitted table."""
    exact = {
        n: bool(np.array_equal(marginal(counts, d), m))
        for d, m, n in zip(case.dims, case.margs, case.names, strict=True)
    }
    return {
        "marginals_exact": exact,
        "all_exact": all(exact.values()),
        "total": int(counts.sum()),
        "deviation": float(np.abs(counts - fitted).sum() / fitted.sum()),
    }


def qisi_joint(hl, case: Case):
    indices = [np.array(d, dtype=np.int64) for d in case.dims]
    margs = [np.rint(m).astype(np.int64) for m in case.margs]
    return lambda: np.asarray(hl.qisi(case.seed, indices, margs)[0])


def qisi_by_zone(hl, case: Case):
    seed3 = np.ascontiguousarray(case.seed[0])
    zas, ze = (np.rint(m).astype(np.int64) for m in case.margs)
    indices = [np.array([0, 1]), np.array([2])]

    def run():
        out = np.empty(case.seed.shape, dtype=np.int64)
        for z in range(case.seed.shape[0]):
            out[z] = hl.qisi(seed3, indices, [zas[z], ze[z]])[0]
        return out

    return run


def run_qisi(fn, repeat: int) -> tuple[float, int, np.ndarray]:
    """Median over `repeat` runs, or a single run if the first takes `FAST` seconds or more."""
    times = []
    out = None
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[0] >= FAST:
            break
    return statistics.median(times), len(times), out


def compare(zones: int, args, hl, hl_why, *, joint: bool) -> dict:
    case = case_c(zones)
    targets = targets_of(case)
    log(f"[integerise {zones} zones] fitting")
    fit = ipf(case.seed, targets, tol=TOL)
    table = fit.table
    row: dict = {
        "bench": "integerise",
        "case": "c",
        "zones": zones,
        "cells": case.cells,
        "population": float(table.sum()),
        "fit_status": fit.status.value,
        "fit_max_rel_error": max(fit.max_rel_error.values()),
        "repeat": args.repeat,
    }
    methods: dict[str, dict] = {}
    for method in ("exact", "trs"):
        log(f"[integerise {zones} zones] {method}")
        s, n, calls, (counts, reported) = timed(
            lambda method=method: integerise(
                table, targets, method=method, rng=np.random.default_rng(RNG_SEED)
            ),
            args.repeat,
            budget=120.0,
        )
        info = {"seconds": s, "runs": n, "calls_per_run": calls, **check(counts, case, table)}
        info["self_report_agrees"] = reported == info["marginals_exact"]
        methods[method] = info

    if hl is None:
        row["humanleague_skipped"] = hl_why
    else:
        log(f"[integerise {zones} zones] humanleague qisi zone by zone")
        s, n, counts = run_qisi(qisi_by_zone(hl, case), args.repeat)
        methods["humanleague_qisi_by_zone"] = {"seconds": s, "runs": n}
        methods["humanleague_qisi_by_zone"].update(check(counts, case, table))
        if joint:
            log(f"[integerise {zones} zones] humanleague qisi joint 4-D")
            s, n, counts = run_qisi(qisi_joint(hl, case), args.repeat)
            methods["humanleague_qisi_joint"] = {"seconds": s, "runs": n}
            methods["humanleague_qisi_joint"].update(check(counts, case, table))
        else:
            row["humanleague_qisi_joint_skipped"] = (
                f"joint 4-D qisi grows about as zones^2; above {args.joint_zones} zones it takes "
                "far longer than the zone-by-zone loop (see the joint line at fewer zones)"
            )

    exact_s = methods["exact"]["seconds"]
    row["exact_s"] = exact_s
    row["trs_s"] = methods["trs"]["seconds"]
    for key in ("humanleague_qisi_by_zone", "humanleague_qisi_joint"):
        if key in methods:
            row[f"{key}_s"] = methods[key]["seconds"]
            row[f"speedup_exact_vs_{key}"] = ratio(methods[key]["seconds"], exact_s)
    # Headline: against the humanleague run done on the full case (zone by zone at scale).
    hl_key = "humanleague_qisi_joint" if joint else "humanleague_qisi_by_zone"
    if hl_key in methods:
        row["speedup_exact_vs_humanleague"] = ratio(methods[hl_key]["seconds"], exact_s)
        row["speedup_exact_vs_humanleague_is_against"] = hl_key
    row["all_marginals_exact"] = {k: v["all_exact"] for k, v in methods.items()}
    row["deviation"] = {k: v["deviation"] for k, v in methods.items()}
    row["methods"] = methods
    head = ["bench", "case", "zones", "cells", "population", "exact_s", "trs_s"]
    head += [k for k in row if k.startswith("humanleague_qisi") and k.endswith("_s")]
    head += [k for k in row if k.startswith("speedup")]
    head += ["all_marginals_exact", "deviation"]
    head = [k for k in head if k in row]
    return {k: row[k] for k in head + [k for k in row if k not in head]}


def _rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def _vm_hwm_mb() -> float | None:
    """This process's own RSS high-water mark (Linux VmHWM), None where unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def scale_child(zones: int) -> None:
    """Run in a fresh process: fit, then time one exact integerisation and its memory."""
    psutil, why = try_import("psutil")
    case = case_c(zones)
    targets = targets_of(case)
    table = ipf(case.seed, targets, tol=TOL).table
    out: dict = {
        "bench": "integerise",
        "case": "scale",
        "method": "exact",
        "zones": zones,
        "cells": case.cells,
        "population": float(table.sum()),
        "table_mb": table.nbytes / 2**20,
        "peak_rss_before_call_mb": _rss_mb(),
    }
    proc = psutil.Process() if psutil is not None else None
    base_rss = proc.memory_info().rss if proc is not None else None
    out["peak_reset"] = _reset_peak()
    sampled = [base_rss or 0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            sampled.append(proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True) if proc is not None else None
    if thread is not None:
        thread.start()
    t0 = time.perf_counter()
    counts, exact = integerise(table, targets, method="exact", rng=np.random.default_rng(RNG_SEED))
    seconds = time.perf_counter() - t0
    stop.set()
    if thread is not None:
        thread.join()
    out["seconds"] = seconds
    out["ru_maxrss_mb"] = _rss_mb()
    out["ru_maxrss_note"] = (
        "whole child process, at least the parent's RSS when it was spawned (the kernel carries "
        "that over exec); the child is spawned before the parent does any work"
    )
    out["vm_hwm_mb"] = _vm_hwm_mb()
    out["vm_hwm_note"] = (
        "/proc VmHWM, reset just before the call: the call's peak plus what was resident"
        if out["peak_reset"]
        else "/proc VmHWM of the whole child process (fit included)"
    )
    if proc is not None:
        out["rss_before_call_mb"] = base_rss / 2**20
        out["psutil_sampled_peak_rss_mb"] = max(sampled) / 2**20
        out["psutil_peak_increase_mb"] = (max(sampled) - base_rss) / 2**20
    else:
        out["psutil_skipped"] = why
    out["all_marginals_exact"] = all(exact.values())
    tracemalloc.start()
    integerise(table, targets, method="exact", rng=np.random.default_rng(RNG_SEED))
    out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps(out), flush=True)


def scale(zones: int) -> dict:
    log(f"[integerise scale {zones} zones] child process")
    proc = subprocess.run(
        [sys.executable, __file__, "--scale-child", str(zones)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        return {
            "bench": "integerise",
            "case": "scale",
            "zones": zones,
            "error": proc.stderr.strip().splitlines()[-1:] or ["child failed"],
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="runs per method; median reported")
    p.add_argument("--zones", type=int, default=1000, help="zones in case (c)")
    p.add_argument(
        "--joint-zones", type=int, default=20, help="largest zone count for the joint 4-D qisi"
    )
    p.add_argument("--scale-zones", type=int, default=1000, help="zones for the scale line")
    p.add_argument("--no-scale", action="store_true", help="skip the scale line")
    p.add_argument("--scale-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.scale_child is not None:
        scale_child(args.scale_child)
        return
    # The scale child runs first, while this process is still small: its ru_maxrss starts from
    # this process's RSS at spawn time.
    scale_row = None if args.no_scale else scale(args.scale_zones)
    hl, hl_why = try_import("humanleague")
    joint = args.zones <= args.joint_zones
    emit(compare(args.zones, args, hl, hl_why, joint=joint))
    if not joint and hl is not None:
        emit(compare(args.joint_zones, args, hl, hl_why, joint=True))
    if scale_row is not None:
        emit(scale_row)


if __name__ == "__main__":
    main()
