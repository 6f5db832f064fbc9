"""Adaptive multilevel splitting (AMS): small probabilities from particles cloned up the score.

One batch is one run of the algorithm of Cérou & Guyader (2007), in the generalised form of
Bréhier, Gazeau, Goudenège, Lelièvre & Rousset (2016) that stays unbiased with discrete time
and ties in the score:

1. Run `particles` independent models from step 0 until the score reaches the threshold or the
   horizon; each particle's value is the best score of its path (or of its importance, if the
   event has one: see `abm.rare.event`), infinite once it reached the threshold.
2. Repeat: the level ``z`` is the `k`-th smallest value. If ``z`` is infinite, stop.
   Kill every particle whose value is at most ``z`` (``K >= k`` of them, more with ties; if all
   ``N`` would die, the batch estimates 0). Each is replaced by a copy of a survivor chosen
   uniformly, taken at the first step where the survivor's score exceeded ``z``, and continued
   with fresh randomness to the threshold or the horizon. Multiply the estimate by
   ``1 - K / N``.
3. The batch's estimate is the product of the factors times the share of particles at the
   threshold.

Each batch's estimate is unbiased whatever the score (a good score, one that rises as the event
nears, only lowers the variance), so batches are averaged: the standard error is their standard
deviation over sqrt(batches) and the interval Student's t corrected for the skewness of the
batch estimates (`abm.rare.intervals.hall_interval`). The runner stops when stderr / estimate is
at most the target, after at least `min_batches` batches (20 by default: the spread of a few
skewed estimates is too uncertain for the stopping rule and the interval), or when the budget is
spent. The relative variance of one batch is about ``-log(p) / N`` in the ideal case of
continuous paths (Guyader, Hengartner & Matzner-Løber 2011) and larger with discrete steps: on
the Gaussian walk of ``bench/rare.py`` (p = 1.4e-5) a batch of 100 particles has a relative
error of about 0.45 (0.34 ideally), and 10% takes some 40,000 trajectory segments against crude
Monte Carlo's 7 million runs.

Copies and replay. Storing a model at every step where its score rose would take a snapshot
per step for a monotone score. Instead each particle keeps one untouched model, the *origin*,
where its own path began (a copy of its parent at the branch point, or the model as built),
and the seed its path was drawn from: reaching a branch point means copying the origin,
reseeding it with that seed and replaying the steps to it (counted in the cost). So the model
must repeat its path from a copy and a seed (see `abm.rare.event`); the replay checks that it
does and stops with an error naming the step if not. Origins are never stepped, so a branch
that starts at its parent's origin shares it.

Seeds: in batch ``b``, particle ``i`` is built from ``SeedSequence(seed, spawn_key=(b, 0, i))``,
the ``c``-th path of the batch is drawn from ``(b, 1, c)`` and the survivors are chosen from
``(b, 2)``, so a batch is a pure function of the seed and ``b``.

References
----------
F. Cérou and A. Guyader, "Adaptive multilevel splitting for rare event analysis", Stoch. Anal.
Appl. 25 (2007) 417-443, https://doi.org/10.1080/07362990601139628.
C.-E. Bréhier, M. Gazeau, L. Goudenège, T. Lelièvre and M. Rousset, "Unbiasedness of some
generalized adaptive multilevel splitting algorithms", Ann. Appl. Probab. 26 (2016) 3559-3601,
https://doi.org/10.1214/16-AAP1185.
A. Guyader, N. Hengartner and E. Matzner-Løber, "Simulation and estimation of extreme
quantiles and extreme probabilities", Appl. Math. Optim. 64 (2011) 171-196,
https://doi.org/10.1007/s00245-011-9135-z.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.rare.event import RareEvent, check_seed, release, seed_for
from abm.rare.intervals import check_confidence, hall_interval
from abm.rare.result import (
    BatchCallback,
    RareEventResult,
    check_count,
    check_finished,
    check_target,
    run_batches,
)
from populations.errors import ConfigError

__all__ = ["multilevel_splitting", "splitting_batch"]


@dataclass
class _Particle:
    origin: Any  # the model where this path began; never stepped
    seed: np.random.SeedSequence  # the path's randomness (the origin is reseeded with it)
    start: int  # the step the origin is at
    trace: list[float]  # importance at steps start, start + 1, ... (inf: reached)
    best: float


class _Batch:
    """The state of one AMS run: the particles, counters and the seeds of batch `b`."""

    def __init__(self, event: RareEvent, root: int, b: int, progress: Callable[[], Any] | None):
        self.event = event
        self.root = root
        self.b = b
        self.paths = 0
        self.steps = 0
        self.replayed = 0
        self.progress = progress

    def path(self, origin: Any, start: int) -> _Particle:
        """Draw a new path from `origin` (at step `start`) with the batch's next seed."""
        event = self.event
        seed = seed_for(self.root, self.b, 1, self.paths)
        self.paths += 1
        model = event.copy_of(origin)
        horizon = event.horizon
        try:
            event.reseed_model(model, seed)
            best = event.importance_of(model)
            trace = [best]
            step = start
            while best < math.inf and step < horizon and getattr(model, "running", True):
                model.step()
                step += 1
                value = event.importance_of(model)
                trace.append(value)
                if value > best:
                    best = value
        finally:
            release(model)
        self.steps += step - start
        if self.progress is not None:
            self.progress()
        return _Particle(origin, seed, start, trace, best)

    def branch_point(self, parent: _Particle, level: float) -> tuple[Any, int]:
        """The model where `parent`'s score first exceeded `level`, and its step."""
        event = self.event
        i = next(j for j, s in enumerate(parent.trace) if s > level)
        if i == 0:
            return parent.origin, parent.start
        model = event.copy_of(parent.origin)
        event.reseed_model(model, parent.seed)
        for j in range(1, i + 1):
            model.step()
            value = event.importance_of(model)
            if value != parent.trace[j]:
                release(model)
                msg = (
                    f"the model did not repeat its path when replayed from a copy and the same "
                    f"seed: at step {parent.start + j} its score is {value!r}, not "
                    f"{parent.trace[j]!r}. Hint: draw every random number from model.rng or "
                    "model.random (or keyed draws of a SynthModel), or define reseed(seed) to "
                    "reseed every generator the model uses."
                )
                raise ConfigError(msg)
        self.replayed += i
        self.steps += i
        return model, parent.start + i


def splitting_batch(
    event: RareEvent,
    *,
    seed: int,
    batch: int = 0,
    particles: int = 100,
    k: int = 1,
    progress: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """One run of adaptive multilevel splitting (batch `batch` of `seed`): its record.

    The record holds ``estimate`` (unbiased), ``iterations``, ``killed``, ``hits`` (particles
    at the threshold at the end), ``extinct``, ``last_level``, ``paths`` (trajectory segments
    drawn), ``model_steps`` (with ``replayed_steps``, the steps replayed to branch points).
    """
    seed = check_seed(seed)
    n = check_count(particles, "particles", low=2)
    k = check_count(k, "k")
    if k >= n:
        msg = f"`k` (particles killed per iteration) must be below `particles` ({n}), got {k}."
        raise ConfigError(msg)
    b = check_count(batch, "batch", low=0)
    state = _Batch(event, seed, b, progress)
    swarm = []
    for i in range(n):
        model = event.build(seed_for(seed, b, 0, i))
        if getattr(model, "event_log", None) is not None:
            release(model)
            msg = (
                "splitting copies running models, and this one writes an event log. Hint: "
                "build the model without output (out=None)."
            )
            raise ConfigError(msg)
        swarm.append(state.path(model, 0))
    chooser = np.random.default_rng(seed_for(seed, b, 2))
    log_factor = 0.0
    iterations = killed_total = 0
    extinct = False
    level = -math.inf
    while True:
        values = np.array([p.best for p in swarm])
        level = float(np.partition(values, k - 1)[k - 1])
        if level == math.inf:
            break
        killed = np.flatnonzero(values <= level)
        survivors = np.flatnonzero(values > level)
        if survivors.size == 0:
            extinct = True
            break
        iterations += 1
        killed_total += killed.size
        log_factor += math.log1p(-killed.size / n)
        parents = survivors[chooser.integers(survivors.size, size=killed.size)]
        dropped = {id(swarm[i].origin): swarm[i].origin for i in killed.tolist()}
        for i, j in zip(killed.tolist(), parents.tolist(), strict=True):
            origin, start = state.branch_point(swarm[j], level)
            swarm[i] = state.path(origin, start)
        in_use = {id(p.origin) for p in swarm}
        for key, origin in dropped.items():
            if key not in in_use:
                release(origin)
    hits = sum(p.best == math.inf for p in swarm)
    for origin in {id(p.origin): p.origin for p in swarm}.values():
        release(origin)
    estimate = 0.0 if extinct else math.exp(log_factor) * hits / n
    return {
        "batch": b,
        "particles": n,
        "k": k,
        "estimate": estimate,
        "iterations": iterations,
        "killed": killed_total,
        "hits": int(hits),
        "extinct": extinct,
        "last_level": level if math.isfinite(level) else None,
        "paths": state.paths,
        "model_steps": state.steps,
        "replayed_steps": state.replayed,
    }


def multilevel_splitting(
    event: RareEvent,
    *,
    seed: int,
    particles: int = 100,
    k: int = 1,
    target_rel_error: float | None = 0.1,
    confidence: float = 0.95,
    min_batches: int = 20,
    max_batches: int = 1000,
    finished: Sequence[Mapping[str, Any]] = (),
    on_batch: BatchCallback | None = None,
    progress: Callable[[int], Any] | None = None,
) -> RareEventResult:
    """Estimate P(event) by adaptive multilevel splitting, in batches (see the module doc).

    Parameters
    ----------
    event : RareEvent
        Its models must be copyable and reseedable (`abm.rare.event`) and write no event log.
    seed : int
        Root seed: batch ``b`` is a pure function of ``(seed, b)``.
    particles : int
        Particles per batch (N). More particles lower each batch's variance (about
        ``-log(p) / N`` relative) at a cost of about ``N (1 - log p)`` paths.
    k : int
        Particles killed per iteration at least (1 is the most efficient).
    target_rel_error : float or None
        Stop when stderr / estimate is at most this, after `min_batches` batches; None runs
        `max_batches` batches.
    confidence : float
        Of the skewness-corrected Student-t interval over the batches' estimates.
    min_batches, max_batches : int
        The fewest batches before the target is checked (the standard error is estimated from
        the spread of the batches), and the budget.
    finished : list of dict
        Batch records of an earlier call with the same seed, particles and k, to resume.
    on_batch : callable, optional
        ``on_batch(record, rows, result)`` after each batch; `rows` is the batch's one-row
        summary.
    progress : callable, optional
        ``progress(paths)`` after each trajectory segment, with the segments drawn by this call.

    Returns
    -------
    RareEventResult
        ``runs`` counts trajectory segments; ``details``: ``particles``, ``k``,
        ``batch_estimates``, ``iterations``, ``extinct_batches``, ``replayed_steps``.

    Examples
    --------
    >>> from abm.rare.analytic import GaussianWalk, gaussian_walk_probability
    >>> event = RareEvent(lambda seed: GaussianWalk(seed, drift=-0.5), threshold=8, horizon=20)
    >>> result = multilevel_splitting(event, seed=3, particles=50, target_rel_error=0.2)
    >>> p = gaussian_walk_probability(8, 20, drift=-0.5)
    >>> f"{p:.3e}", result.converged, bool(result.ci_low < p < result.ci_high)
    ('1.358e-04', True, True)
    """
    seed = check_seed(seed)
    particles = check_count(particles, "particles", low=2)
    k = check_count(k, "k")
    target = check_target(target_rel_error)
    confidence = check_confidence(confidence)
    min_batches = check_count(min_batches, "min_batches", low=2)
    max_batches = check_count(max_batches, "max_batches")

    def expected(b: int, record: Mapping[str, Any]) -> str | None:
        if record.get("particles") != particles or record.get("k") != k:
            return "particles"
        return None

    records = check_finished(finished, expected)[:max_batches]
    done = {"paths": 0}

    def tick() -> None:
        done["paths"] += 1
        if progress is not None:
            progress(done["paths"])

    def next_batch(b: int) -> tuple[dict[str, Any], pl.DataFrame]:
        record = splitting_batch(event, seed=seed, batch=b, particles=particles, k=k, progress=tick)
        row = {c: [record[c]] for c in ("batch", "estimate", "iterations", "hits", "paths")}
        row["extinct"] = [record["extinct"]]
        row["model_steps"] = [record["model_steps"]]
        return record, pl.DataFrame(row)

    def summarize(recs: list[dict[str, Any]]) -> RareEventResult:
        details: dict[str, Any] = {
            "particles": particles,
            "k": k,
            "batch_estimates": [r["estimate"] for r in recs],
            "iterations": sum(r["iterations"] for r in recs),
            "extinct_batches": sum(bool(r["extinct"]) for r in recs),
            "replayed_steps": sum(r["replayed_steps"] for r in recs),
        }
        paths = sum(r["paths"] for r in recs)
        steps = sum(r["model_steps"] for r in recs)
        if not recs:
            mean = se = low = high = math.nan
        else:
            mean, se, low, high = hall_interval([r["estimate"] for r in recs], confidence)
            if mean == 0.0:
                high = math.nan  # every batch died out: no bound from splitting
        return RareEventResult(
            "splitting", mean, se, low, high, confidence, paths, steps, len(recs),
            event.threshold, target, details=details,
        )  # fmt: skip

    def stop(recs: list[dict[str, Any]], result: RareEventResult) -> tuple[bool, str] | None:
        b = len(recs)
        if target is not None and b >= min_batches and result.rel_error <= target:
            return True, f"target relative error {target:g} reached"
        if b >= max_batches:
            if result.estimate == 0.0:
                return False, (
                    f"every one of {b} batches died out before the threshold: no estimate. "
                    "Hint: more particles, or a score that rises more gradually"
                )
            if target is None:
                return True, f"{b} batches done (no target)"
            return False, f"max_batches ({max_batches}) reached before the target relative error"
        return None

    return run_batches(
        records, next_batch=next_batch, summarize=summarize, stop=stop, on_batch=on_batch
    )
