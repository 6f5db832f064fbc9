"""Benchmark: keyed draws (`abm.rng.KeyedDraws`) against numpy's sequential `Generator.random`.

What is measured
----------------
For each n (default 1e6 and 1e7), ids ``0 .. n-1`` as int64 and one decision site:

* ``KeyedDraws(root, site).uniform(step, ids)``: the keyed uniforms (a new output array per call,
  as ``Generator.random`` makes), and the same writing into a preallocated ``out=`` array;
* ``numpy.random.default_rng(seed).random(n)``: the yardstick, sequential PCG64 draws;
* ``KeyedDraws.bernoulli(step, ids, 0.3)`` against ``rng.random(n) < 0.3``, the form rules use.

Timings are medians of ``--repeat`` samples (default 5) taken round robin across the functions
(``bench/_common.Interleaved``; calls under 20 ms are looped inside a sample), so a burst of load
hits all of them alike. ``ratio`` = keyed seconds / Generator seconds; the goal is ``ratio <= 1.3``.

How to run
----------
From the project root::

    python bench/keyed_draws.py
    python bench/keyed_draws.py --sizes 1000000 --repeat 9

One JSON object per line on stdout.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
from _common import Interleaved, emit

from abm import rng as abm_rng
from abm.rng import KeyedDraws

GOAL = 1.3


def run(n: int, repeat: int, budget: float) -> dict:
    ids = np.arange(n, dtype=np.int64)
    draws = KeyedDraws(2026, "recovers")
    generator = np.random.default_rng(2026)
    out = np.empty(n)
    step = 40
    bench = Interleaved(budget)
    bench.add("keyed_uniform", lambda: draws.uniform(step, ids))
    bench.add("keyed_uniform_out", lambda: draws.uniform(step, ids, out=out))
    bench.add("generator_random", lambda: generator.random(n))
    bench.add("keyed_bernoulli", lambda: draws.bernoulli(step, ids, 0.3))
    bench.add("generator_bernoulli", lambda: generator.random(n) < 0.3)
    bench.run(repeat)
    s = {key: bench.seconds(key) for key in bench.fns}
    ratio = s["keyed_uniform"] / s["generator_random"]
    return {
        "bench": "keyed_draws",
        "n": n,
        "keyed_uniform_s": round(s["keyed_uniform"], 5),
        "keyed_uniform_out_s": round(s["keyed_uniform_out"], 5),
        "generator_random_s": round(s["generator_random"], 5),
        "ratio": round(ratio, 3),
        "ratio_out": round(s["keyed_uniform_out"] / s["generator_random"], 3),
        "keyed_bernoulli_s": round(s["keyed_bernoulli"], 5),
        "generator_bernoulli_s": round(s["generator_bernoulli"], 5),
        "bernoulli_ratio": round(s["keyed_bernoulli"] / s["generator_bernoulli"], 3),
        "ns_per_draw": round(s["keyed_uniform"] / n * 1e9, 2),
        "goal": f"ratio <= {GOAL}",
        "meets_goal": ratio <= GOAL,
        "samples": bench.runs(),
        "chunk": abm_rng._CHUNK,
        "numpy": np.__version__,
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated n")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per function")
    args = parser.parse_args()
    for size in args.sizes.split(","):
        emit(run(int(float(size)), args.repeat, args.budget))


if __name__ == "__main__":
    main()
