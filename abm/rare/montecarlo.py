"""Crude Monte Carlo: independent runs, the share that reach the threshold, a binomial interval.

Run ``k`` is seeded with ``SeedSequence(seed, spawn_key=(k,))`` (the seed of replicate ``k`` of
`abm.replicates`), runs go in batches of `batch_size`, and after each batch the estimate
``p = hits / n`` is checked: the runner stops when its relative error ``sqrt((1 - p) / (n p))``
(the binomial standard error over p) is at most the target, or at `max_runs`. A run stops at its
first step with the score at the threshold, so a hit costs fewer steps than a miss.

For a probability p the runs needed for relative error r are about ``(1 - p) / (p r^2)``: 10^7
for p = 10^-5 and r = 10%. That is what splitting (`abm.rare.multilevel_splitting`) and
importance sampling (`abm.rare.importance_sampling`) cut down. With no hit at all, the result is
an upper bound only: estimate 0 and ``ci_high`` the interval's upper end (about 3.7 / n).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from abm.rare.event import RareEvent, check_seed, seed_for
from abm.rare.intervals import BINOMIAL_INTERVALS, binomial_interval, check_confidence
from abm.rare.result import (
    BatchCallback,
    RareEventResult,
    check_count,
    check_finished,
    check_target,
    run_batches,
)
from populations.errors import ConfigError, closest_hint

__all__ = ["crude_monte_carlo", "runs_needed"]


def runs_needed(p: float, rel_error: float) -> float:
    """Runs crude Monte Carlo needs for relative error `rel_error` at probability `p`.

    >>> f"{runs_needed(1e-5, 0.1):.4g}"
    '1e+07'
    """
    return (1.0 - p) / (p * rel_error * rel_error)


def crude_monte_carlo(
    event: RareEvent,
    *,
    seed: int,
    target_rel_error: float | None = 0.1,
    confidence: float = 0.95,
    interval: str = "wilson",
    batch_size: int = 1000,
    max_runs: int = 1_000_000,
    finished: Sequence[Mapping[str, Any]] = (),
    on_batch: BatchCallback | None = None,
    progress: Callable[[int], Any] | None = None,
) -> RareEventResult:
    """Estimate P(event) from independent runs, with a Wilson or Clopper-Pearson interval.

    Parameters
    ----------
    event : RareEvent
    seed : int
        Root seed; run ``k`` is seeded with ``SeedSequence(seed, spawn_key=(k,))``.
    target_rel_error : float or None
        Stop when the relative error (standard error / estimate) is at most this; None runs
        exactly `max_runs` runs.
    confidence : float
        The interval's nominal coverage.
    interval : {"wilson", "clopper-pearson"}
    batch_size, max_runs : int
        Runs per batch (the stopping rule is checked after each) and the budget.
    finished : list of dict
        Batch records of an earlier call with the same seed and batch size (from `on_batch`,
        e.g. kept in a manifest): they are not run again.
    on_batch : callable, optional
        ``on_batch(record, rows, result)`` after each new batch; `rows` has per run ``run``,
        ``max_score``, ``hit`` and ``steps``.
    progress : callable, optional
        ``progress(runs)`` after each run, with the runs done by this call.

    Returns
    -------
    RareEventResult
        ``details``: ``hits`` and ``interval``.

    Examples
    --------
    >>> from abm.rare.analytic import ExponentialSum, exponential_sum_probability
    >>> event = RareEvent(lambda seed: ExponentialSum(seed), threshold=8.0, horizon=3)
    >>> result = crude_monte_carlo(event, seed=1, target_rel_error=0.2, batch_size=500)
    >>> result.converged, result.ci_low < exponential_sum_probability(8.0, 3) < result.ci_high
    (True, True)
    """
    seed = check_seed(seed)
    target = check_target(target_rel_error)
    confidence = check_confidence(confidence)
    if interval not in BINOMIAL_INTERVALS:
        msg = f"unknown interval `{interval}`. " + closest_hint(str(interval), BINOMIAL_INTERVALS)
        raise ConfigError(msg)
    batch_size = check_count(batch_size, "batch_size")
    max_runs = check_count(max_runs, "max_runs")

    def expected(b: int, record: Mapping[str, Any]) -> str | None:
        runs = min(batch_size, max_runs - b * batch_size)
        if runs <= 0 or record.get("first_run") != b * batch_size or record.get("runs") != runs:
            return "size"
        return None

    records = check_finished(finished, expected)
    done = {"runs": 0}

    def next_batch(b: int) -> tuple[dict[str, Any], pl.DataFrame]:
        first = b * batch_size
        n = min(batch_size, max_runs - first)
        best = np.empty(n)
        hit = np.zeros(n, dtype=bool)
        steps = np.empty(n, dtype=np.int64)
        for i in range(n):
            best[i], hit[i], steps[i] = event.simulate(seed_for(seed, first + i))
            done["runs"] += 1
            if progress is not None:
                progress(done["runs"])
        record = {
            "batch": b,
            "first_run": first,
            "runs": n,
            "hits": int(hit.sum()),
            "model_steps": int(steps.sum()),
        }
        rows = pl.DataFrame(
            {
                "run": np.arange(first, first + n, dtype=np.int64),
                "max_score": best,
                "hit": hit,
                "steps": steps,
            }
        )
        return record, rows

    def summarize(recs: list[dict[str, Any]]) -> RareEventResult:
        n = sum(r["runs"] for r in recs)
        hits = sum(r["hits"] for r in recs)
        steps = sum(r["model_steps"] for r in recs)
        details = {"hits": hits, "interval": interval}
        if n == 0:
            return RareEventResult(
                "monte-carlo", math.nan, math.nan, math.nan, math.nan, confidence, 0, 0, 0,
                event.threshold, target, details=details,
            )  # fmt: skip
        p = hits / n
        low, high = binomial_interval(hits, n, confidence, method=interval)
        return RareEventResult(
            "monte-carlo", p, math.sqrt(p * (1.0 - p) / n), low, high, confidence, n, steps,
            len(recs), event.threshold, target, details=details,
        )  # fmt: skip

    def stop(recs: list[dict[str, Any]], result: RareEventResult) -> tuple[bool, str] | None:
        n = result.runs
        hits = result.details["hits"]
        if target is not None and hits > 0 and result.rel_error <= target:
            return True, f"target relative error {target:g} reached"
        if n >= max_runs:
            if hits == 0:
                return False, (
                    f"no run reached the threshold in {n:,} runs (max_runs): the probability "
                    f"is below {result.ci_high:.3g} ({confidence:.0%} upper bound)"
                )
            if target is None:
                return True, f"{n:,} runs done (no target)"
            return False, f"max_runs ({max_runs:,}) reached before the target relative error"
        return None

    return run_batches(
        records, next_batch=next_batch, summarize=summarize, stop=stop, on_batch=on_batch
    )
