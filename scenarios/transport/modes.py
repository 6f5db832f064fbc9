"""Mode choice: a tour-level multinomial logit over car, transit, bike and walk.

A person uses one mode for the whole day's chain (who drives to work drives home). The
utility of mode m for person i sums over the chain's legs:

    U[i, m] = asc_m + sum_legs (time_m * minutes + cost * scale_i * EUR) + Gumbel[i, m]

* car: in-vehicle minutes from the slice the leg departs in (congested), cost =
  ``car_cost_km`` x km + tolls on the route + ``parking_centre`` once if an activity is in the
  centre (the cordon area); available to persons of driving age in a household with a car,
  shared when the household has fewer cars than drivers (a keyed draw with probability
  cars / drivers);
* transit: ``time_transit`` x (riding minutes) + ``time_walk`` x (walking minutes) +
  ``wait_transit`` x (waiting minutes) + the fare; a leg with no bus service is walked;
* bike, walk: minutes at the mode's speed over the shortest street distance; bike from
  ``bike_age``.

``scale_i = (income_reference / income_i) ** income_elasticity``, with the household's income
(at least 10% of the reference): money weighs less for richer households.

The choice is ``argmax(U + Gumbel)`` with the Gumbel draws keyed by (seed, person, mode): the
same person keeps the same tastes every day and in every arm of a what-if, so day-to-day
changes come from the travel conditions alone.

Travel times of a chain depend on the mode (a slower trip home starts the evening later), so
each mode's chain is simulated leg by leg, vectorised over persons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.transport.demand import HOME, Chains
from scenarios.transport.params import MODES, ModeChoice
from scenarios.transport.skims import CarSkims
from scenarios.transport.transit import TransitSkims

__all__ = ["CAR", "BIKE", "TRANSIT", "WALK", "Legs", "ModeInputs", "choose_modes", "simulate"]

CAR, TRANSIT, BIKE, WALK = range(len(MODES))
MAX_LEGS = 4


@dataclass
class ModeInputs:
    """What mode choice reads besides the chains: skims and who may use what."""

    car: CarSkims
    transit: TransitSkims | None
    transit_wait: np.ndarray | None  # seconds, per zone pair
    street: np.ndarray  # walking/cycling distances (m), zones x zones
    has_car: np.ndarray  # per person
    age: np.ndarray
    cost_scale: np.ndarray  # per person
    parking: np.ndarray  # per zone: parking charge for an activity there (EUR)
    slice_seconds: float
    n_slices: int


@dataclass
class Legs:
    """Each leg of each person's chain by one mode (shape ``(persons, MAX_LEGS)``).

    ``depart``, ``travel`` (s), ``distance`` (m), ``toll`` and ``cost`` (EUR), ``slice`` (of
    the departure), ``mode`` (the leg's own mode: a transit leg without service is walked);
    ``utility`` per person.
    """

    depart: np.ndarray
    travel: np.ndarray
    distance: np.ndarray
    toll: np.ndarray
    cost: np.ndarray
    slice: np.ndarray
    mode: np.ndarray
    wait: np.ndarray
    utility: np.ndarray


def simulate(chains: Chains, mode: int, rows: np.ndarray, x: ModeInputs, p: ModeChoice) -> Legs:
    """The chains of persons `rows` travelled by `mode`, leg by leg, and their utility."""
    n = rows.size
    legs = Legs(
        depart=np.zeros((n, MAX_LEGS)),
        travel=np.zeros((n, MAX_LEGS)),
        distance=np.zeros((n, MAX_LEGS)),
        toll=np.zeros((n, MAX_LEGS)),
        cost=np.zeros((n, MAX_LEGS)),
        slice=np.zeros((n, MAX_LEGS), np.int64),
        mode=np.full((n, MAX_LEGS), -1, np.int8),
        wait=np.zeros((n, MAX_LEGS)),
        utility=np.full(n, (p.asc_car, p.asc_transit, p.asc_bike, p.asc_walk)[mode], float),
    )
    n_trips = chains.n_trips[rows]
    zone = chains.zone[rows]
    duration = chains.duration[rows]
    scale = x.cost_scale[rows]
    t = chains.start[rows].copy()
    if mode == CAR:
        act = chains.act[rows]
        visits = (act != HOME) & (act >= 0)
        charge = np.where(visits, x.parking[np.maximum(zone, 0)], 0.0).max(axis=1)
        legs.utility += p.cost * scale * charge
    for j in range(MAX_LEGS):
        on = np.flatnonzero(j < n_trips)
        if on.size == 0:
            break
        o, d = zone[on, j], zone[on, j + 1]
        s = np.minimum((t[on] // x.slice_seconds).astype(np.int64), x.n_slices - 1)
        s = np.maximum(s, 0)
        leg_mode = np.full(on.size, mode, np.int8)
        wait = np.zeros(on.size)
        toll = np.zeros(on.size)
        cost = np.zeros(on.size)
        if mode == CAR:
            travel = x.car.time[o, d, s]
            dist = x.car.distance[o, d, s]
            toll = x.car.toll[o, d, s]
            cost = dist / 1000.0 * p.car_cost_km + toll
            u = p.time_car * travel / 60.0
        elif mode == TRANSIT:
            dist = x.street[o, d]
            walked = dist / (p.walk_speed / 3.6)
            travel, u = walked, p.time_walk * walked / 60.0
            if x.transit is not None and x.transit_wait is not None:
                ride = x.transit.line[o, d] >= 0
                wait_od = x.transit_wait[o, d]
                ride &= np.isfinite(wait_od)
                tr = x.transit
                wait = np.where(ride, wait_od, 0.0)
                ride_time = tr.in_vehicle[o, d] + tr.walk[o, d] + wait
                ride_u = (
                    p.time_transit * tr.in_vehicle[o, d]
                    + p.time_walk * tr.walk[o, d]
                    + p.wait_transit * wait
                ) / 60.0
                travel = np.where(ride, ride_time, walked)
                u = np.where(ride, ride_u, u)
                dist = np.where(ride, tr.distance[o, d], dist)
                cost = np.where(ride, p.transit_fare, 0.0)
                leg_mode = np.where(ride, TRANSIT, WALK).astype(np.int8)
            else:
                leg_mode[:] = WALK
        else:
            dist = x.street[o, d]
            speed = p.bike_speed if mode == BIKE else p.walk_speed
            travel = dist / (speed / 3.6)
            u = (p.time_bike if mode == BIKE else p.time_walk) * travel / 60.0
        legs.utility[on] += u + p.cost * scale[on] * cost
        legs.depart[on, j] = t[on]
        legs.travel[on, j] = travel
        legs.distance[on, j] = dist
        legs.toll[on, j] = toll
        legs.cost[on, j] = cost
        legs.slice[on, j] = s
        legs.mode[on, j] = leg_mode
        legs.wait[on, j] = wait
        t[on] = t[on] + travel + duration[on, j + 1]
    legs.utility[~np.isfinite(legs.utility)] = -np.inf
    return legs


def choose_modes(
    chains: Chains, x: ModeInputs, p: ModeChoice, gumbel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's mode (codes of `MODES`; -1 for persons without trips) and utilities.

    `gumbel` is ``(persons, 4)`` standard Gumbel draws. Returns ``(mode, utility)`` with
    ``utility`` of shape ``(persons, 4)`` (-inf where a mode is not available).
    """
    n = chains.n_persons
    util = np.full((n, len(MODES)), -np.inf)
    moving = np.flatnonzero(chains.n_trips > 0)
    available = {
        CAR: x.has_car[moving],
        TRANSIT: np.full(moving.size, x.transit is not None),
        BIKE: x.age[moving] >= p.bike_age,
        WALK: np.ones(moving.size, bool),
    }
    for m in range(len(MODES)):
        rows = moving[available[m]]
        if rows.size:
            util[rows, m] = simulate(chains, m, rows, x, p).utility
    mode = np.full(n, -1, np.int8)
    if moving.size:
        mode[moving] = np.argmax(util[moving] + gumbel[moving], axis=1).astype(np.int8)
    return mode, util
