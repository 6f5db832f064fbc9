"""Importance sampling on shock rates: run the model with more shocks, weight by likelihood.

A model whose rare event is driven by random shocks (outages, storms, importations, large
orders) draws their counts from rates. `PoissonShocks` draws ``Poisson(tilt * rate)`` instead of
``Poisson(rate)`` and keeps the log likelihood ratio of the counts drawn, so that

    P(event) = E_tilted[ 1{event} * W ],   W = prod_t (1/tilt)^c_t * exp((tilt - 1) * rate_t)

over the shock draws ``c_t`` of a run (the classical exponential change of measure of a Poisson
law; a run that stops when the event happens uses the ratio up to then, by optional stopping).
`importance_sampling` averages ``1{event} W`` over independent runs, in batches, with the
standard error from the sample variance, a normal confidence interval and Kish's effective sample
size ``(sum W)^2 / sum W^2``.

The tilt is given (one number for every shock type, or one per name), or found with
``tilt="auto"`` by the cross-entropy method (Rubinstein 1999; de Boer et al. 2005): pilot runs
at the current tilt, an intermediate level at the ``1 - rho`` quantile of the runs' best scores
(capped at the threshold), and the tilt that maximises the weighted likelihood of the runs that
reached it, which for Poisson counts is ``sum W C / sum W R`` per shock name (C the counts, R
the summed base rates of each run); repeated until the level is the threshold. Pilot runs count
in the cost.

The model protocol is that of `abm.rare.RareEvent`, plus: ``make_model(seed, shocks=...)``
accepts the sampler and draws every shock count through ``shocks.poisson(rng, rate,
name=...)``. Without ``shocks`` the model should use ``PoissonShocks()`` (no tilt), so the same
model also runs under Monte Carlo and splitting.

References
----------
R. Y. Rubinstein, "The cross-entropy method for combinatorial and continuous optimization",
Methodol. Comput. Appl. Probab. 1 (1999) 127-190, https://doi.org/10.1023/A:1010091220143.
P.-T. de Boer, D. P. Kroese, S. Mannor and R. Y. Rubinstein, "A tutorial on the cross-entropy
method", Ann. Oper. Res. 134 (2005) 19-67, https://doi.org/10.1007/s10479-005-5724-z.
L. Kish, Survey Sampling, Wiley, 1965 (the effective sample size).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from abm.rare.event import RareEvent, check_seed, release, seed_for
from abm.rare.intervals import check_confidence, normal_interval
from abm.rare.result import (
    BatchCallback,
    RareEventResult,
    check_count,
    check_finished,
    check_target,
    run_batches,
)
from populations.errors import ConfigError

__all__ = ["PoissonShocks", "cross_entropy_tilt", "importance_sampling"]

_PILOT = 2**32 - 1  # first spawn-key word of pilot runs (main runs use (k,))


def _check_tilt(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        msg = f"{what} must be a positive number, got {value!r}."
        raise ConfigError(msg)
    value = float(value)
    if not 0.0 < value < math.inf:
        msg = f"{what} must be a positive number (1: no tilt), got {value!r}."
        raise ConfigError(msg)
    return value


class PoissonShocks:
    """Shock counts drawn at tilted Poisson rates, with the run's log likelihood ratio.

    Parameters
    ----------
    tilt : float or mapping of str to float
        The rate multiplier: one for every shock name, or one per name (names not listed are
        not tilted). 1 draws at the model's own rates (weight 1).

    Attributes
    ----------
    log_weight : float
        The log likelihood ratio (model's law / tilted law) of the counts drawn so far.
    counts, exposure : dict of str to float
        Per shock name, the counts drawn and the sum of the model's (untilted) rates.

    Examples
    --------
    >>> shocks = PoissonShocks(tilt=2.0)
    >>> rng = np.random.default_rng(0)
    >>> n = shocks.poisson(rng, 0.5, name="storm", size=4)
    >>> c = int(n.sum())
    >>> bool(np.isclose(shocks.log_weight, -c * np.log(2.0) + (2.0 - 1.0) * 0.5 * 4))
    True
    """

    def __init__(self, tilt: float | Mapping[str, float] = 1.0) -> None:
        if isinstance(tilt, Mapping):
            self.tilt: float | dict[str, float] = {
                str(k): _check_tilt(v, f"the tilt of `{k}`") for k, v in tilt.items()
            }
        else:
            self.tilt = _check_tilt(tilt, "`tilt`")
        self.log_weight = 0.0
        self.counts: dict[str, float] = {}
        self.exposure: dict[str, float] = {}

    def tilt_for(self, name: str) -> float:
        if isinstance(self.tilt, dict):
            return self.tilt.get(name, 1.0)
        return self.tilt

    @property
    def weight(self) -> float:
        """``exp(log_weight)``: the likelihood ratio of the run so far."""
        return math.exp(self.log_weight)

    def poisson(
        self,
        rng: np.random.Generator,
        rate: float | np.ndarray,
        *,
        name: str = "shocks",
        size: int | tuple[int, ...] | None = None,
    ) -> Any:
        """Counts ``Poisson(tilt * rate)`` from `rng` (shape as ``rng.poisson``), recorded.

        `rate` is the model's own mean count per draw (a number or an array, non-negative).
        """
        lam = np.asarray(rate, dtype=np.float64)
        if lam.size and not (np.all(lam >= 0.0) and np.all(np.isfinite(lam))):
            msg = f"shock `{name}`: rates must be finite and >= 0, got {rate!r}."
            raise ConfigError(msg)
        theta = self.tilt_for(name)
        counts = rng.poisson(theta * lam, size=size)
        total = float(np.sum(counts))
        exposure = float(np.broadcast_to(lam, np.shape(counts)).sum())
        if theta != 1.0:
            self.log_weight += -total * math.log(theta) + (theta - 1.0) * exposure
        self.counts[name] = self.counts.get(name, 0.0) + total
        self.exposure[name] = self.exposure.get(name, 0.0) + exposure
        return counts

    def copy(self) -> PoissonShocks:
        """An independent copy (same tilt, counts and weight so far)."""
        new = PoissonShocks.__new__(PoissonShocks)
        new.tilt = dict(self.tilt) if isinstance(self.tilt, dict) else self.tilt
        new.log_weight = self.log_weight
        new.counts = dict(self.counts)
        new.exposure = dict(self.exposure)
        return new


def _run(
    event: RareEvent, seed: np.random.SeedSequence, tilt: float | Mapping[str, float]
) -> tuple[float, bool, int, PoissonShocks]:
    """One run under `tilt`: (best score, hit, steps, the run's sampler)."""
    shocks = PoissonShocks(tilt)
    try:
        model = event.build(seed, shocks=shocks)
    except TypeError as exc:
        if "shocks" not in str(exc):
            raise
        msg = (
            f"importance sampling passes shocks= to make_model, which does not take it ({exc}). "
            "Hint: accept `shocks=None` and draw every shock count with "
            "shocks.poisson(rng, rate, name=...)."
        )
        raise ConfigError(msg) from None
    try:
        best, steps = event.advance(model, 0, event.score_of(model))
    finally:
        release(model)
    return best, best >= event.threshold, steps, shocks


def cross_entropy_tilt(
    event: RareEvent,
    *,
    seed: int,
    runs: int = 1000,
    rho: float = 0.1,
    max_iterations: int = 20,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Shock tilts for `event` by the multilevel cross-entropy method (see the module doc).

    Returns a dict: ``tilt`` (per shock name), ``levels`` (the intermediate levels),
    ``reached`` (whether the last level was the threshold), ``runs`` and ``model_steps``
    (the pilot's cost).

    Examples
    --------
    >>> from abm.rare.analytic import ShockCount
    >>> event = RareEvent(lambda seed, shocks=None: ShockCount(seed, rate=0.1, shocks=shocks),
    ...                   threshold=8, horizon=20)
    >>> found = cross_entropy_tilt(event, seed=1, runs=500)
    >>> found["reached"], bool(3.0 < found["tilt"]["shocks"] < 5.0)  # ideal: 8 / (0.1 * 20) = 4
    (True, True)
    """
    seed = check_seed(seed)
    runs = check_count(runs, "runs", low=10)
    max_iterations = check_count(max_iterations, "max_iterations")
    if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0.0 < rho < 1.0:
        msg = f"`rho` must be a share between 0 and 1 (e.g. 0.1), got {rho!r}."
        raise ConfigError(msg)
    tilt: dict[str, float] = {}
    levels: list[float] = []
    total_runs = total_steps = 0
    reached = False
    for it in range(max_iterations):
        best = np.empty(runs)
        logw = np.empty(runs)
        counts: list[dict[str, float]] = []
        exposure: list[dict[str, float]] = []
        for i in range(runs):
            b, _, steps, shocks = _run(event, seed_for(seed, _PILOT, it, i), tilt)
            best[i], logw[i] = b, shocks.log_weight
            counts.append(shocks.counts)
            exposure.append(shocks.exposure)
            total_runs += 1
            total_steps += steps
            if progress is not None:
                progress(total_runs)
        names = sorted({n for e in exposure for n in e})
        if not names:
            msg = (
                "the model drew no shocks through `shocks`, so there is nothing to tilt. Hint: "
                "draw every shock count with shocks.poisson(rng, rate, name=...)."
            )
            raise ConfigError(msg)
        level = min(event.threshold, float(np.quantile(best, 1.0 - rho, method="higher")))
        levels.append(level)
        elite = np.flatnonzero(best >= level)
        w = np.exp(logw[elite] - logw[elite].max())
        new = {}
        for name in names:
            num = sum(wi * counts[i].get(name, 0.0) for wi, i in zip(w, elite, strict=True))
            den = sum(wi * exposure[i].get(name, 0.0) for wi, i in zip(w, elite, strict=True))
            new[name] = num / den if den > 0 and num > 0 else tilt.get(name, 1.0)
        tilt = new
        if level >= event.threshold:
            reached = True
            break
    return {
        "tilt": tilt,
        "levels": levels,
        "reached": reached,
        "runs": total_runs,
        "model_steps": total_steps,
    }


def importance_sampling(
    event: RareEvent,
    *,
    seed: int,
    tilt: float | Mapping[str, float] | str = "auto",
    target_rel_error: float | None = 0.1,
    confidence: float = 0.95,
    batch_size: int = 1000,
    max_runs: int = 1_000_000,
    min_hits: int = 10,
    pilot_runs: int = 1000,
    rho: float = 0.1,
    finished: Sequence[Mapping[str, Any]] = (),
    on_batch: BatchCallback | None = None,
    progress: Callable[[int], Any] | None = None,
) -> RareEventResult:
    """Estimate P(event) by importance sampling on the model's shock rates.

    Parameters
    ----------
    event : RareEvent
        Its ``make_model(seed, shocks=...)`` must draw shocks through the sampler (module doc).
    seed : int
        Root seed: run ``k`` is seeded with ``SeedSequence(seed, spawn_key=(k,))``.
    tilt : float, mapping or "auto"
        The shock rate multiplier (one for all, or per shock name), or ``"auto"`` to find it
        by the cross-entropy method with `pilot_runs` runs per iteration and quantile `rho`.
    target_rel_error : float or None
        Stop when stderr / estimate is at most this (after at least `min_hits` hits); None
        runs `max_runs` runs.
    confidence : float
        Of the normal confidence interval.
    batch_size, max_runs : int
        Runs per batch (the stopping rule is checked after each) and the budget.
    finished : list of dict
        Batch records of an earlier call with the same arguments (from `on_batch`), to resume.
    on_batch : callable, optional
        ``on_batch(record, rows, result)`` after each batch; `rows` has per run ``run``,
        ``max_score``, ``hit``, ``steps`` and ``log_weight``.
    progress : callable, optional
        ``progress(runs)`` after each run, with the runs done by this call.

    Returns
    -------
    RareEventResult
        ``details``: ``tilt``, ``hits``, ``ess`` (Kish's effective sample size of all runs'
        weights), ``pilot`` (the cross-entropy search, for ``tilt="auto"``).
    """
    seed = check_seed(seed)
    target = check_target(target_rel_error)
    confidence = check_confidence(confidence)
    batch_size = check_count(batch_size, "batch_size")
    max_runs = check_count(max_runs, "max_runs")
    min_hits = check_count(min_hits, "min_hits")

    def expected(b: int, record: Mapping[str, Any]) -> str | None:
        runs = min(batch_size, max_runs - b * batch_size)
        if record.get("first_run") != b * batch_size or record.get("runs") != runs:
            return "size"
        return None

    records = check_finished(finished, expected)
    done = {"runs": 0}
    pilot: dict[str, Any] | None = None
    if isinstance(tilt, str):
        if tilt != "auto":
            msg = f'`tilt` must be a number, a mapping of shock names or "auto", got {tilt!r}.'
            raise ConfigError(msg)
        if records:
            pilot = dict(records[0]["pilot"])
        else:
            pilot = cross_entropy_tilt(
                event, seed=seed, runs=pilot_runs, rho=rho, progress=progress
            )
            done["runs"] = pilot["runs"]
        chosen: float | dict[str, float] = dict(pilot["tilt"])
    elif isinstance(tilt, Mapping):
        chosen = {str(k): _check_tilt(v, f"the tilt of `{k}`") for k, v in tilt.items()}
    else:
        chosen = _check_tilt(tilt, "`tilt`")

    def next_batch(b: int) -> tuple[dict[str, Any], pl.DataFrame]:
        first = b * batch_size
        n = min(batch_size, max_runs - first)
        best = np.empty(n)
        hit = np.zeros(n, dtype=bool)
        steps = np.empty(n, dtype=np.int64)
        logw = np.empty(n)
        exposure = 0.0
        for i in range(n):
            best[i], hit[i], steps[i], shocks = _run(event, seed_for(seed, first + i), chosen)
            logw[i] = shocks.log_weight
            exposure += sum(shocks.exposure.values())
            done["runs"] += 1
            if progress is not None:
                progress(done["runs"])
        if b == 0 and exposure == 0.0 and chosen != 1.0:
            msg = (
                "the model drew no shocks through `shocks`, so the tilt changes nothing. Hint: "
                "draw every shock count with shocks.poisson(rng, rate, name=...)."
            )
            raise ConfigError(msg)
        w = np.exp(logw)
        y = np.where(hit, w, 0.0)
        record = {
            "batch": b,
            "first_run": first,
            "runs": n,
            "hits": int(hit.sum()),
            "model_steps": int(steps.sum()),
            "sum_y": float(y.sum()),
            "sum_y2": float((y * y).sum()),
            "sum_w": float(w.sum()),
            "sum_w2": float((w * w).sum()),
            "tilt": chosen,
        }
        if b == 0 and pilot is not None:
            record["pilot"] = pilot
        rows = pl.DataFrame(
            {
                "run": np.arange(first, first + n, dtype=np.int64),
                "max_score": best,
                "hit": hit,
                "steps": steps,
                "log_weight": logw,
            }
        )
        return record, rows

    def summarize(recs: list[dict[str, Any]]) -> RareEventResult:
        n = sum(r["runs"] for r in recs)
        hits = sum(r["hits"] for r in recs)
        steps = sum(r["model_steps"] for r in recs)
        extra_runs = pilot["runs"] if pilot is not None else 0
        extra_steps = pilot["model_steps"] if pilot is not None else 0
        details: dict[str, Any] = {"tilt": chosen, "hits": hits}
        if pilot is not None:
            details["pilot"] = pilot
        if n == 0:
            return RareEventResult(
                "importance", math.nan, math.nan, math.nan, math.nan, confidence,
                extra_runs, extra_steps, 0, event.threshold, target, details=details,
            )  # fmt: skip
        sum_y = sum(r["sum_y"] for r in recs)
        sum_y2 = sum(r["sum_y2"] for r in recs)
        sum_w = sum(r["sum_w"] for r in recs)
        sum_w2 = sum(r["sum_w2"] for r in recs)
        estimate = sum_y / n
        var = max(0.0, (sum_y2 - n * estimate * estimate) / (n - 1)) if n > 1 else math.nan
        stderr = math.sqrt(var / n)
        low, high = normal_interval(estimate, stderr, confidence)
        if hits == 0:
            low, high = 0.0, math.nan
        details["ess"] = sum_w * sum_w / sum_w2 if sum_w2 > 0 else 0.0
        return RareEventResult(
            "importance", estimate, stderr, low, high, confidence, n + extra_runs,
            steps + extra_steps, len(recs), event.threshold, target, details=details,
        )  # fmt: skip

    def stop(recs: list[dict[str, Any]], result: RareEventResult) -> tuple[bool, str] | None:
        hits = result.details["hits"]
        if recs and target is not None and hits >= min_hits and result.rel_error <= target:
            return True, f"target relative error {target:g} reached"
        n = sum(r["runs"] for r in recs)
        if n >= max_runs:
            if hits == 0:
                return False, f"no run reached the threshold in {n:,} runs (max_runs)"
            if target is None:
                return True, f"{n:,} runs done (no target)"
            return False, f"max_runs ({max_runs:,}) reached before the target relative error"
        return None

    return run_batches(
        records, next_batch=next_batch, summarize=summarize, stop=stop, on_batch=on_batch
    )
