"""Travel demand from a synthetic population: daily activity chains and their destinations.

Each person gets one chain for the day (a tour from home and back), the kind of plan MATSim
and ActivitySim give their agents:

* workers (``employment == "employed"``, not working from home that day):
  home - work - [shop] - [leisure] - home, leaving home around ``work_departure``;
* pupils and students (``employment == "student"`` or of school age):
  home - school - [leisure] - home, leaving around ``school_departure``;
* everyone else, and remote workers: home - [shop] - [leisure] - home around
  ``errand_departure``, or no trip at all when neither happens; children younger than
  school age stay at home.

Optional activities happen with the shares of `Demand`; durations are the planned times at
each activity, so a congested morning delays the rest of the day.

Destinations follow a **gravity model**: from the previous activity's zone ``o``, zone ``d``
is chosen with probability proportional to ``A_d * exp(-beta * distance_od)``, per purpose.
Attractions ``A``: jobs (residents weighted by ``exp(-distance to centre / jobs_centrality)``:
jobs cluster in the centre), school places (school-age residents), shops and leisure
(residents). Distances are shortest road distances between zones (free flow). Destinations
are long-term choices: made once, with the free-flow distances, and kept while the
day-to-day learning settles the modes and routes.

Every draw is keyed by (seed, decision, person id) (`abm.rng.KeyedDraws`), so two runs that
differ by a policy give everyone the same chain and the same destinations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from abm.rng import KeyedDraws
from scenarios.transport.params import ACTIVITIES, Demand

__all__ = ["Chains", "build_chains", "gravity_probabilities"]

HOME, WORK, SCHOOL, SHOP, LEISURE = range(len(ACTIVITIES))
MAX_ACTS = 5  # home, primary, shop, leisure, home


@dataclass
class Chains:
    """Every person's plan for the day, as padded arrays (one row per person).

    Attributes
    ----------
    n_trips : trips of each person (0: stays at home all day).
    act : activity codes (`ACTIVITIES`) in order, ``n_trips + 1`` of them (-1 after).
    zone : the zone of each activity (index into the network's zones; -1 after).
    duration : planned seconds at each activity (the first: unused; last home: unused).
    start : planned departure from home (seconds after midnight).
    """

    n_trips: np.ndarray
    act: np.ndarray
    zone: np.ndarray
    duration: np.ndarray
    start: np.ndarray

    @property
    def n_persons(self) -> int:
        return int(self.n_trips.size)

    @property
    def total_trips(self) -> int:
        return int(self.n_trips.sum())

    def trip_mask(self) -> np.ndarray:
        """``mask[i, j]``: person i makes trip j (from activity j to j + 1)."""
        return np.arange(MAX_ACTS - 1)[None, :] < self.n_trips[:, None]


def gravity_probabilities(
    distance_km: np.ndarray, attraction: np.ndarray, beta: float
) -> np.ndarray:
    """``P[o, d]`` proportional to ``attraction[d] * exp(-beta * distance_km[o, d])``.

    Rows with no attraction anywhere fall back to staying in the zone.

    Examples
    --------
    >>> p = gravity_probabilities(np.array([[1.0, 3.0], [3.0, 1.0]]), np.array([1.0, 1.0]), 0.5)
    >>> np.round(p, 3)
    array([[0.731, 0.269],
           [0.269, 0.731]])
    """
    with np.errstate(divide="ignore"):
        logit = np.log(np.maximum(attraction, 0.0))[None, :] - beta * distance_km
    logit = np.where(np.isfinite(distance_km), logit, -np.inf)
    top = logit.max(axis=1, keepdims=True)
    empty = ~np.isfinite(top[:, 0])
    weights = np.exp(logit - np.where(np.isfinite(top), top, 0.0))
    weights[empty] = 0.0
    weights[empty, np.flatnonzero(empty)] = 1.0
    return weights / weights.sum(axis=1, keepdims=True)


def _choose(prob: np.ndarray, origin: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of a destination for each origin row, from uniforms `u`."""
    cum = np.cumsum(prob, axis=1)
    cum[:, -1] = 1.0
    out = np.empty(origin.size, np.int64)
    for o in np.unique(origin):  # one searchsorted per origin zone: zones << persons
        sel = np.flatnonzero(origin == o)
        out[sel] = np.searchsorted(cum[o], u[sel], side="right")
    return np.minimum(out, prob.shape[1] - 1)


def build_chains(
    *,
    person_ids: np.ndarray,
    home: np.ndarray,
    age: np.ndarray,
    employed: np.ndarray,
    student: np.ndarray,
    remote: np.ndarray,
    distance_km: np.ndarray,
    attractions: dict[str, np.ndarray],
    demand: Demand,
    keyed: Callable[[str], KeyedDraws],
) -> Chains:
    """Every person's activity chain and destinations (see the module docstring).

    Parameters
    ----------
    person_ids, home, age : per person (home: zone index).
    employed, student, remote : per person booleans (remote: works from home today).
    distance_km : zone-to-zone road distances (zones x zones).
    attractions : ``{"work", "school", "shop", "leisure"}`` -> per-zone attraction.
    demand : the `Demand` parameters.
    keyed : ``keyed(site)`` gives the run's keyed draws for a decision site.
    """
    n = person_ids.size
    ids = person_ids

    def u(site: str) -> np.ndarray:
        return keyed(f"demand.{site}").uniform(0, ids)

    lo, hi = demand.school_age
    pupil = (student | ((age >= lo) & (age <= hi))) & (age >= lo)
    worker = employed & ~pupil & ~remote
    other = ~worker & ~pupil & (age >= lo)

    shop_p = np.where(worker, demand.shop_after_work, np.where(other, demand.shop_others, 0.0))
    leis_p = np.where(
        worker | pupil, demand.leisure_after_work, np.where(other, demand.leisure_others, 0.0)
    )
    shops = u("shop") < shop_p
    leisure = u("leisure") < leis_p
    primary = np.where(worker, WORK, np.where(pupil, SCHOOL, -1))

    act = np.full((n, MAX_ACTS), -1, np.int64)
    act[:, 0] = HOME
    pos = np.ones(n, np.int64)
    rows = np.arange(n)
    for code, mask in ((primary, primary >= 0), (SHOP, shops), (LEISURE, leisure)):
        sel = rows[mask]
        act[sel, pos[sel]] = code if np.isscalar(code) else code[sel]
        pos[sel] += 1
    moving = pos > 1
    act[rows[moving], pos[moving]] = HOME
    n_trips = np.where(moving, pos, 0)
    act[~moving, 1:] = -1

    zone = np.full((n, MAX_ACTS), -1, np.int64)
    zone[:, 0] = home
    probs = {
        WORK: gravity_probabilities(distance_km, attractions["work"], demand.beta_work),
        SCHOOL: gravity_probabilities(distance_km, attractions["school"], demand.beta_school),
        SHOP: gravity_probabilities(distance_km, attractions["shop"], demand.beta_shop),
        LEISURE: gravity_probabilities(distance_km, attractions["leisure"], demand.beta_leisure),
    }
    for j in range(1, MAX_ACTS):
        here = act[:, j]
        prev = zone[:, j - 1]
        zone[here == HOME, j] = home[here == HOME]
        for code, prob in probs.items():
            sel = np.flatnonzero(here == code)
            if sel.size:
                draws = keyed(f"demand.destination.{j}").uniform(0, ids[sel])
                zone[sel, j] = _choose(prob, prev[sel], draws)

    hours = {
        WORK: demand.work_hours,
        SCHOOL: demand.school_hours,
        SHOP: demand.shop_hours,
        LEISURE: demand.leisure_hours,
    }
    duration = np.zeros((n, MAX_ACTS))
    spread = np.exp(0.15 * special.ndtri(np.clip(u("duration"), 1e-9, 1 - 1e-9)))
    for code, h in hours.items():
        duration[act == code] = 3600.0 * h
    duration *= spread[:, None]

    z = special.ndtri(np.clip(u("start"), 1e-9, 1 - 1e-9))
    start = np.where(
        worker,
        np.clip(demand.work_departure + demand.work_spread * z, 4.0, 13.0),
        np.where(
            pupil,
            np.clip(demand.school_departure + 0.25 * z, 6.0, 10.0),
            np.clip(demand.errand_departure + demand.errand_spread * z, 7.0, 20.0),
        ),
    )
    return Chains(n_trips=n_trips, act=act, zone=zone, duration=duration, start=start * 3600.0)
