"""Repair crews: which job a free crew takes (the dispatch rule) and how long a repair takes.

A damaged component waits for a crew; a free crew takes the first of the waiting jobs in the
order of the dispatch rule, drives there on the road graph (`scenarios.outages.geography`),
spends ``access_minutes`` finding the damage and then repairs it. Jobs in zones where the gust
is at or above the crews' safe wind wait until it drops. The rules (`rank_jobs`):

``critical_first``
    the job that would give power back to the most critical customers (hospitals, care homes),
    then to the most customers, then the nearest;
``most_customers``
    the most customers, then the nearest;
``nearest``
    the shortest drive, then the most customers;
``oldest``
    the job waiting longest, then the most customers.

Remaining ties go to the lower component number, so the choice is deterministic.

Repair times are lognormal around a median that depends on what broke (`REPAIR_MEDIAN_MINUTES`:
hours for an overhead line, about half a day for a cable, which must be located and dug up,
or a transformer) with log-sd ``repair_sigma``, and at least 20 minutes.

Examples
--------
>>> order = rank_jobs("critical_first", travel=np.array([30.0, 5.0, 10.0]),
...                   customers=np.array([100, 400, 400]), critical=np.array([1, 0, 0]),
...                   waiting=np.array([60, 10, 20]))
>>> order.tolist()
[0, 1, 2]
>>> rank_jobs("nearest", travel=np.array([30.0, 5.0, 10.0]), customers=np.array([100, 400, 400]),
...           critical=np.array([1, 0, 0]), waiting=np.array([60, 10, 20])).tolist()
[1, 2, 0]
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from populations.errors import ConfigError, closest_hint
from scenarios.outages.params import DISPATCH_RULES

__all__ = ["MIN_REPAIR_MINUTES", "REPAIR_MEDIAN_MINUTES", "rank_jobs", "repair_minutes"]

REPAIR_MEDIAN_MINUTES = {
    ("subtransmission", True): 480.0,
    ("subtransmission", False): 900.0,
    ("primary_transformer", False): 720.0,
    ("primary_transformer", True): 720.0,
    ("feeder", True): 240.0,
    ("feeder", False): 600.0,
    ("transformer", True): 300.0,
    ("transformer", False): 420.0,
    ("tie", True): 120.0,
    ("tie", False): 120.0,
}
"""Median repair minutes by (component kind, overhead)."""
MIN_REPAIR_MINUTES = 20.0


def rank_jobs(
    rule: str,
    *,
    travel: np.ndarray,
    customers: np.ndarray,
    critical: np.ndarray,
    waiting: np.ndarray,
) -> np.ndarray:
    """The waiting jobs in the order `rule` takes them (indices into the arrays).

    Parameters
    ----------
    rule : one of `scenarios.outages.params.DISPATCH_RULES`
    travel : minutes from the crew to each job
    customers, critical : customers (and critical customers) the job would give power back to
    waiting : minutes each job has waited
    """
    idx = np.arange(np.asarray(travel).size)
    if rule == "critical_first":
        keys = (idx, travel, -customers, -critical)
    elif rule == "most_customers":
        keys = (idx, travel, -customers)
    elif rule == "nearest":
        keys = (idx, -customers, travel)
    elif rule == "oldest":
        keys = (idx, -customers, -waiting)
    else:
        msg = f"unknown dispatch rule `{rule}`. " + closest_hint(str(rule), DISPATCH_RULES)
        raise ConfigError(msg)
    return np.lexsort(keys)


def repair_minutes(u: np.ndarray, median: np.ndarray, *, sigma: float) -> np.ndarray:
    """Repair times from uniforms `u`: ``median * exp(sigma * Phi^-1(u))``, at least 20 minutes."""
    z = ndtri(np.clip(np.asarray(u, dtype=np.float64), 1e-12, 1.0 - 1e-12))
    return np.maximum(np.asarray(median) * np.exp(sigma * z), MIN_REPAIR_MINUTES)
