"""Interventions: each is eligibility x delivery schedule x effect (STYLE.md habit 7).

* vaccination: eligible are the living who are neither vaccinated, infectious nor in hospital;
  delivery is ``daily_capacity`` doses a day from ``start_day`` until ``coverage`` of the
  population is vaccinated, oldest first (ties in random order) or in random order; the effect
  multiplies the daily infection probability by ``1 - efficacy`` (`vaccination_order`).
* school closure: the school layer is closed on ``start_day <= day < end_day``.
* contact reduction: workplace and community contacts are scaled from ``start_day`` on.
* testing and isolation: eligible are the infectious not yet tested; delivery is, from
  ``start_day`` on, a test with probability ``probability`` a day each, at most
  ``daily_capacity`` tests a day (in keyed random order); the result arrives ``delay`` days after
  the test and the person isolates for ``duration`` days; the effect multiplies an isolated
  person's infectiousness outside the household by ``isolation`` (`infectiousness`).

The orders use keyed uniforms by person id, so two arms with the same seed vaccinate the same
people in the same order as long as they are eligible in both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scenarios.outbreak.contacts import ContactState
from scenarios.outbreak.params import ContactReduction, SchoolClosure

__all__ = [
    "close_schools",
    "infectiousness",
    "reduce_contacts",
    "order_of_tests",
    "vaccination_order",
]


def vaccination_order(age: np.ndarray, u: np.ndarray, *, priority: str) -> np.ndarray:
    """Positions of the eligible in order of vaccination: oldest first (ties by `u`) or by `u`.

    Examples
    --------
    >>> vaccination_order(np.array([30, 80, 30]), np.array([0.9, 0.5, 0.1]), priority="oldest")
    array([1, 2, 0])
    """
    if priority == "oldest":
        return np.lexsort((u, -np.asarray(age, np.int64)))
    return np.argsort(u, kind="stable")


def close_schools(contacts: ContactState, closure: SchoolClosure, day: int) -> None:
    """Open or close the school layer for `day`."""
    contacts.open["school"] = not (closure.start_day <= day < closure.end_day)


def reduce_contacts(contacts: ContactState, reduction: ContactReduction, day: int) -> None:
    """Set the workplace and community multipliers for `day`."""
    on = day >= reduction.start_day
    contacts.multiplier["workplace"] = reduction.workplace if on else 1.0
    contacts.multiplier["community"] = reduction.community if on else 1.0


def order_of_tests(u: np.ndarray) -> np.ndarray:
    """Positions of today's candidates in order of testing (by keyed uniform `u`), for capacity.

    Examples
    --------
    >>> order_of_tests(np.array([0.9, 0.5, 0.1]))
    array([2, 1, 0])
    """
    return np.argsort(u, kind="stable")


def infectiousness(
    infectious: np.ndarray, isolated: np.ndarray, multiplier: float, layers: Sequence[str]
) -> np.ndarray:
    """Each person's infectiousness per layer: 1 if infectious, `multiplier` if also isolated
    (outside the ``household`` layer), else 0. Shape (layers, persons).

    Examples
    --------
    >>> infectious, isolated = np.array([True, True, False]), np.array([False, True, False])
    >>> infectiousness(infectious, isolated, 0.2, ["household", "school"]).tolist()
    [[1.0, 1.0, 0.0], [1.0, 0.2, 0.0]]
    """
    base = np.asarray(infectious, dtype=np.float64)
    reduced = np.where(np.asarray(isolated, bool), multiplier * base, base)
    return np.stack([base if name == "household" else reduced for name in layers])
