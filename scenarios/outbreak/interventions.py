"""Interventions: each is eligibility x delivery schedule x effect (STYLE.md habit 7).

* vaccination: eligible are the living who are neither vaccinated, infectious nor in hospital;
  delivery is ``daily_capacity`` doses a day from ``start_day`` until ``coverage`` of the
  population is vaccinated, oldest first (ties in random order) or in random order; the effect
  multiplies the daily infection probability by ``1 - efficacy`` (`vaccination_order`).
* school closure: the school layer is closed on ``start_day <= day < end_day``.
* contact reduction: workplace and community contacts are scaled from ``start_day`` on.

The orders use keyed uniforms by person id, so two arms with the same seed vaccinate the same
people in the same order as long as they are eligible in both.
"""

from __future__ import annotations

import numpy as np

from scenarios.outbreak.contacts import ContactState
from scenarios.outbreak.params import ContactReduction, SchoolClosure

__all__ = ["close_schools", "reduce_contacts", "vaccination_order"]


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
