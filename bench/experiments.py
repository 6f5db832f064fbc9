"""Benchmark: common random numbers in a what-if experiment on the outbreak scenario.

Runs `abm.experiments.what_if` on the demo city (every household), baseline vs vaccination
(coverage 0.6 from day 20), `--n` replicates, with common random numbers and with independent
seeds, and reports per outcome the variance of the paired differences both ways, their ratio,
the CI half-widths and the seconds. Goal (experiments issue): ratio >= 10.

    python bench/experiments.py [--n 20] [--days 100] [--processes 4]

One JSON line per outcome on stdout.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl
from _common import emit, log

from abm.experiments import what_if
from populations.demo import load_demo
from populations.synthesis import PopulationSynthesizer
from scenarios.outbreak import SCENARIO

GOAL = 10.0
OUTCOMES = ("new_infections_sum", "D_last", "H_sum", "R_last")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    inputs = load_demo()
    synth = PopulationSynthesizer.from_config(inputs.config).fit(inputs)
    persons = synth.sample(rng=np.random.default_rng(0)).persons
    kwargs = {"persons": persons, "create_views": False}
    base = [f"days={args.days}"]
    policy = {"vaccinate": ["vaccination.coverage=0.6", "vaccination.start_day=20"]}
    results, seconds = {}, {}
    for crn in (True, False):
        t = time.perf_counter()
        results[crn] = what_if(
            SCENARIO, base, policy, seed=args.seed, n=args.n, processes=args.processes,
            common_random_numbers=crn, build_kwargs=kwargs,
        ).to_frame()  # fmt: skip
        seconds[crn] = time.perf_counter() - t
        log(f"crn={crn}: {seconds[crn]:.1f} s")
    for outcome in OUTCOMES:
        a, b = (results[c].filter(pl.col("outcome") == outcome).row(0, named=True) for c in (1, 0))
        var_crn, var_ind = a["diff_sd"] ** 2, b["diff_sd"] ** 2
        ratio = var_ind / var_crn if var_crn > 0 else None
        emit({
            "bench": "experiments", "outcome": outcome, "persons": persons.height,
            "days": args.days, "n": args.n, "policy": policy["vaccinate"],
            "baseline_mean": a["baseline_mean"], "diff_mean_crn": a["diff_mean"],
            "diff_mean_independent": b["diff_mean"], "var_diff_crn": var_crn,
            "var_diff_independent": var_ind, "variance_ratio": ratio,
            "ci_half_crn": (a["ci_high"] - a["ci_low"]) / 2,
            "ci_half_independent": (b["ci_high"] - b["ci_low"]) / 2,
            "seconds_crn": round(seconds[True], 2), "seconds_independent": round(seconds[False], 2),
            "goal_ratio": GOAL, "goal_met": ratio is not None and ratio >= GOAL,
        })  # fmt: skip


if __name__ == "__main__":
    main()
