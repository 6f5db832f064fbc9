"""Benchmark: common random numbers in a what-if experiment, and replication throughput.

CRN: runs `abm.experiments.what_if` on the demo city (every household), baseline vs vaccination
(coverage 0.6 from day 20), `--n` replicates, with common random numbers and with independent
seeds, and reports per outcome the variance of the paired differences both ways, their ratio,
the CI half-widths and the seconds. Goal (experiments issue): ratio >= 10.

Throughput: `--throughput-n` replicates of the outbreak as `synthworld whatif/sweep` run them
(each replicate samples its population of the demo city, builds its contact layers and runs
`--days` days; `abm.experiments.replicate_kpis`), in 1 and in 2 worker processes in the same
invocation: runs per second each way and the speed-up (yardstick: the one-process run), with a
check that both give identical results. Worker start-up (spawn, imports) is included. Also the
cores kept busy each way (CPU seconds per second: above 1 in one process means numpy/polars
threads already use a second core) and the machine's load, which caps the speed-up.

    python bench/experiments.py [--n 20] [--days 100] [--processes 4] [--throughput-n 8]
                                [--part all|crn|throughput]

One JSON line per outcome (CRN) and one for the throughput on stdout.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import polars as pl
from _common import emit, log

from abm.experiments import replicate_kpis, what_if
from abm.replicates import all_cores
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
    parser.add_argument("--throughput-n", type=int, default=8)
    parser.add_argument("--part", choices=("all", "crn", "throughput"), default="all")
    args = parser.parse_args()
    if args.part in ("all", "crn"):
        crn(args)
    if args.part in ("all", "throughput"):
        throughput(args)


def throughput(args: argparse.Namespace) -> None:
    """Replicates per second in 1 and 2 processes, and the speed-up."""
    base = [f"days={args.days}"]
    seconds, frames, cpu = {}, {}, {}
    for processes in (1, 2):
        t, c = time.perf_counter(), _cpu()
        frames[processes] = replicate_kpis(
            SCENARIO, base, seed=args.seed, n=args.throughput_n, processes=processes
        )
        seconds[processes] = time.perf_counter() - t
        cpu[processes] = (_cpu() - c) / seconds[processes]
        log(f"throughput, {processes} process(es): {seconds[processes]:.1f} s")
    emit({
        "bench": "experiments_throughput", "scenario": "outbreak", "days": args.days,
        "replicates": args.throughput_n, "cores": all_cores(),
        "seconds_1": round(seconds[1], 2), "seconds_2": round(seconds[2], 2),
        "runs_per_s_1": args.throughput_n / seconds[1],
        "runs_per_s_2": args.throughput_n / seconds[2],
        "speedup_2_vs_1": seconds[1] / seconds[2],
        "cores_busy_1": round(cpu[1], 2), "cores_busy_2": round(cpu[2], 2),
        "load_average_1min": os.getloadavg()[0],
        "identical_results": frames[1].equals(frames[2]),
    })  # fmt: skip


def _cpu() -> float:
    """CPU seconds used by this process and its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def crn(args: argparse.Namespace) -> None:
    """Variance of paired differences with and without common random numbers."""
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
