"""Benchmark: model runs a variance-reduction method needs for 10% relative error, vs crude MC.

For a probability near 1e-5 with a known value, each variance-reduction method of `abm.rare` is
run to a target relative error of 10% (stderr / estimate), repeated with `--repeats` seeds; the
runs and model steps it used are compared with what crude Monte Carlo needs for the same
relative error, ``(1 - p) / (p * 0.1^2)`` runs, at the steps per run crude Monte Carlo was
measured to take on the same model (the yardstick, measured in this run). Goal (experiments
issue): at least 100x fewer runs.

Cases:

* ``splitting``: adaptive multilevel splitting (100 particles a batch, at least 20 batches) on a
  Gaussian walk with drift -0.5 reaching 10 within 20 steps, p = 1.386e-5 (numerically exact,
  `abm.rare.analytic.gaussian_walk_probability`).
* ``importance``: importance sampling with the cross-entropy tilt on a Poisson shock count
  reaching 11 within 20 steps of rate 0.1, p = 8.3e-6 (`shock_count_probability`).

A further line checks crude Monte Carlo's cost formula empirically at p = 3.4e-3 on the walk:
the runs its stopping rule used for 10%, and the relative error of repeated estimates.

    python bench/rare.py [--repeats 5] [--seed 1]

One JSON line per case on stdout.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import emit, log

from abm.rare import (
    RareEvent,
    crude_monte_carlo,
    importance_sampling,
    multilevel_splitting,
    runs_needed,
)
from abm.rare.analytic import (
    GaussianWalk,
    ShockCount,
    gaussian_walk_probability,
    shock_count_probability,
)

GOAL = 100.0
TARGET = 0.1


def walk_event(level: float) -> RareEvent:
    return RareEvent(lambda seed: GaussianWalk(seed, drift=-0.5), threshold=level, horizon=20)


def shock_event() -> RareEvent:
    return RareEvent(
        lambda seed, shocks=None: ShockCount(seed, rate=0.1, shocks=shocks),
        threshold=11,
        horizon=20,
    )


def crude_cost(event: RareEvent, runs: int, seed: int) -> tuple[float, float]:
    """Crude Monte Carlo's steps and seconds per run on `event`, measured over `runs` runs."""
    t = time.perf_counter()
    result = crude_monte_carlo(
        event, seed=seed, target_rel_error=None, batch_size=runs, max_runs=runs
    )
    return result.model_steps / runs, (time.perf_counter() - t) / runs


def compare(case: str, method: str, event: RareEvent, p: float, run, repeats: int, seed: int):
    steps_per_run, seconds_per_run = crude_cost(event, 20_000, seed + 10_000)
    crude_runs = runs_needed(p, TARGET)
    results, seconds = [], []
    for r in range(repeats):
        t = time.perf_counter()
        results.append(run(seed + r))
        seconds.append(time.perf_counter() - t)
        res = results[-1]
        log(f"{case} repeat {r}: {res}  ({seconds[-1]:.1f} s)")
    estimates = np.array([res.estimate for res in results])
    runs = statistics.mean(res.runs for res in results)
    steps = statistics.mean(res.model_steps for res in results)
    secs = statistics.mean(seconds)
    emit({
        "bench": "rare", "case": case, "method": method, "p_exact": p,
        "target_rel_error": TARGET, "repeats": repeats,
        "converged": sum(res.converged for res in results),
        "estimates": estimates.tolist(),
        "covered": sum(res.ci_low <= p <= res.ci_high for res in results),
        "reported_rel_error_mean": statistics.mean(res.rel_error for res in results),
        "realised_rel_error": float(np.sqrt(np.mean((estimates / p - 1) ** 2))),
        "runs": runs, "model_steps": steps, "seconds": round(secs, 2),
        "crude_runs_needed": crude_runs,
        "crude_steps_per_run_measured": steps_per_run,
        "crude_steps_needed": crude_runs * steps_per_run,
        "crude_seconds_needed": round(crude_runs * seconds_per_run, 1),
        "ratio_runs": crude_runs / runs,
        "ratio_steps": crude_runs * steps_per_run / steps,
        "ratio_seconds": crude_runs * seconds_per_run / secs,
        "goal_ratio": GOAL, "goal_met": crude_runs / runs >= GOAL,
    })  # fmt: skip


def check_crude_formula(repeats: int, seed: int) -> None:
    """Crude MC at a larger p: runs used for 10% vs the formula, and the realised error."""
    level = 5.0
    p = gaussian_walk_probability(level, 20, drift=-0.5)
    event = walk_event(level)
    results = []
    t = time.perf_counter()
    for r in range(repeats):
        results.append(
            crude_monte_carlo(
                event, seed=seed + 20_000 + r, target_rel_error=TARGET, batch_size=500
            )
        )
    secs = (time.perf_counter() - t) / repeats
    estimates = np.array([res.estimate for res in results])
    runs = statistics.mean(res.runs for res in results)
    emit({
        "bench": "rare", "case": "crude_formula_check", "method": "monte-carlo",
        "p_exact": p, "target_rel_error": TARGET, "repeats": repeats,
        "runs_used_mean": runs, "runs_formula": runs_needed(p, TARGET),
        "runs_ratio_used_to_formula": runs / runs_needed(p, TARGET),
        "realised_rel_error": float(np.sqrt(np.mean((estimates / p - 1) ** 2))),
        "covered": sum(res.ci_low <= p <= res.ci_high for res in results),
        "seconds": round(secs, 2),
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    p = gaussian_walk_probability(10.0, 20, drift=-0.5)
    compare(
        "gaussian_walk", "splitting", walk_event(10.0), p,
        lambda s: multilevel_splitting(
            walk_event(10.0), seed=s, particles=100, target_rel_error=TARGET
        ),
        args.repeats, args.seed,
    )  # fmt: skip
    p = shock_count_probability(11, 20, rate=0.1)
    compare(
        "poisson_shocks", "importance", shock_event(), p,
        lambda s: importance_sampling(
            shock_event(), seed=s, target_rel_error=TARGET, batch_size=500, pilot_runs=1000
        ),
        args.repeats, args.seed,
    )  # fmt: skip
    check_crude_formula(max(args.repeats, 10), args.seed)


if __name__ == "__main__":
    main()
