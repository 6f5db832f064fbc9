"""`RareEventResult`: what every rare-event estimator returns, and the batch loop they share.

Every estimator works in batches: batch ``b`` is a pure function of the root seed and ``b``
(its runs, or its splitting particles, are seeded from ``SeedSequence(seed, spawn_key=(b, ...))``
or run numbers in ``b``'s range), so a stopped run resumed from its finished batches
(``finished=``) gives the same result as one that never stopped. After each batch the
estimator summarises all batches so far and stops when the relative error (standard error /
estimate) is at most the target, or when its budget is spent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import polars as pl

from populations.errors import ConfigError

__all__ = ["RareEventResult"]

BatchCallback = Callable[[dict[str, Any], "pl.DataFrame | None", "RareEventResult"], Any]
"""``on_batch(record, rows, result)``: after each new batch, its JSON record (what a resumed run
needs), its per-run rows (or None) and the result of every batch so far."""


@dataclass(frozen=True)
class RareEventResult:
    """A probability estimate with its standard error and confidence interval.

    Attributes
    ----------
    method : ``"monte-carlo"``, ``"splitting"`` or ``"importance"``.
    estimate : the estimated probability.
    stderr : its standard error (NaN if it cannot be estimated yet, e.g. one splitting batch).
    ci_low, ci_high : the confidence interval (``ci_high`` NaN when there is no bound).
    confidence : the interval's nominal coverage, e.g. 0.95.
    runs : model runs simulated: whole runs for Monte Carlo and importance sampling (with
        any pilot runs), trajectory segments for splitting (the first runs and every branch).
    model_steps : ``step()`` calls in all, the cost (for splitting, with the steps replayed to
        reach branch points).
    batches : batches finished.
    threshold : the level the score had to reach.
    target_rel_error : the relative error asked for (None: run to the budget).
    converged : whether the target was met.
    stop_reason : why the estimator stopped, in words.
    details : method-specific figures (hits, particles, levels, tilt, effective sample size...).
    """

    method: str
    estimate: float
    stderr: float
    ci_low: float
    ci_high: float
    confidence: float
    runs: int
    model_steps: int
    batches: int
    threshold: float
    target_rel_error: float | None
    converged: bool = False
    stop_reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rel_error(self) -> float:
        """stderr / estimate: the relative error the stopping rule compares with the target
        (infinite for a zero estimate, NaN while the standard error is unknown)."""
        if math.isnan(self.stderr):
            return math.nan
        if self.estimate <= 0.0:
            return math.inf
        return self.stderr / self.estimate

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (NaN and infinity become None)."""
        data = asdict(self)
        data["details"] = dict(self.details)
        data["rel_error"] = self.rel_error
        return _json_ready(data)

    def __str__(self) -> str:
        return (
            f"{self.method}: p = {_num(self.estimate)} (stderr {_num(self.stderr)}, relative "
            f"error {_num(self.rel_error)}; {self.confidence:.0%} CI {_num(self.ci_low)} .. "
            f"{_num(self.ci_high)}) from {self.runs:,} runs, {self.model_steps:,} steps, "
            f"{self.batches} batches; {self.stop_reason}"
        )


def _num(value: float) -> str:
    """A figure for people: 4 significant digits, ``n/a`` for NaN or infinity."""
    return f"{value:.4g}" if math.isfinite(value) else "n/a"


def _json_ready(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_ready(value.item())
    return value


def check_target(target_rel_error: Any) -> float | None:
    """A positive number or None (run to the budget)."""
    if target_rel_error is None:
        return None
    if isinstance(target_rel_error, bool) or not isinstance(target_rel_error, int | float):
        msg = f"`target_rel_error` must be a positive number or None, got {target_rel_error!r}."
        raise ConfigError(msg)
    if not 0.0 < float(target_rel_error) < math.inf:
        msg = (
            f"`target_rel_error` must be a positive number (e.g. 0.1 for 10%), got "
            f"{target_rel_error!r}."
        )
        raise ConfigError(msg)
    return float(target_rel_error)


def check_count(value: Any, what: str, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        msg = f"`{what}` must be an integer >= {low}, got {value!r}."
        raise ConfigError(msg)
    return int(value)


def run_batches(
    finished: Sequence[Mapping[str, Any]],
    *,
    next_batch: Callable[[int], tuple[dict[str, Any], pl.DataFrame | None]],
    summarize: Callable[[list[dict[str, Any]]], RareEventResult],
    stop: Callable[[list[dict[str, Any]], RareEventResult], tuple[bool, str] | None],
    on_batch: BatchCallback | None,
) -> RareEventResult:
    """Run batches ``len(finished), ...`` until `stop` gives ``(converged, reason)``."""
    records = [dict(r) for r in finished]
    result = summarize(records)
    while True:
        verdict = stop(records, result)
        if verdict is not None:
            converged, reason = verdict
            return replace(result, converged=converged, stop_reason=reason)
        record, rows = next_batch(len(records))
        records.append(record)
        result = summarize(records)
        if on_batch is not None:
            on_batch(record, rows, result)


def check_finished(
    finished: Any, expected: Callable[[int, Mapping[str, Any]], str | None]
) -> list[dict[str, Any]]:
    """The leading batch records of `finished` that this run would have made itself.

    ``expected(b, record)`` returns None if `record` is batch ``b`` as this run makes it, else
    what differs; records from the first mismatch on are dropped (recomputed), so a rerun with a
    larger budget redoes a last batch that was cut short.
    """
    if finished is None:
        return []
    if isinstance(finished, Mapping) or not isinstance(finished, Sequence):
        msg = "`finished` must be a list of batch records (from on_batch or a manifest)."
        raise ConfigError(msg)
    kept: list[dict[str, Any]] = []
    for b, record in enumerate(finished):
        if not isinstance(record, Mapping) or record.get("batch") != b:
            msg = (
                f"`finished[{b}]` is not the record of batch {b}. Hint: pass the records in "
                "the order on_batch gave them."
            )
            raise ConfigError(msg)
        if expected(b, record) is not None:
            break
        kept.append(dict(record))
    return kept
