"""Policies as link and service changes: tolls, closures, speed limits, transit, remote work.

Each policy is a table of `scenarios.transport.params` with a ``start_day`` (the closure also
an ``end_day``); `policy_days` lists the days on which something changes, which the model
schedules as events, and `link_conditions` gives the links' state on a day:

* **cordon toll**: ``price`` EUR each time a car enters the cordon (a link from a node outside
  to a node inside the listed districts and zones) in the charged hours; trips within the
  cordon pay nothing (as in Stockholm's and Gothenburg's schemes). Activities in the cordon
  also pay ``modes.parking_centre``, toll or not.
* **distance toll**: ``price`` EUR per km on every link but connectors, in the charged hours.
* **closure**: the named links keep ``capacity`` times their capacity (0: closed) on days
  ``start_day <= day < end_day`` (an incident, roadworks, a bridge out).
* **speed limit**: links of the listed kinds are driven at no more than ``kmh``.
* **transit**: every line runs ``frequency_factor`` times as often from ``start_day``.
* **remote work**: a share of workers (a keyed draw, the same persons every day) stays home.

Tolls are charged in the slices that start inside the charged hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from populations.errors import ConfigError, closest_hint
from scenarios.transport.network import KINDS, Network
from scenarios.transport.params import TransportParams

__all__ = ["LinkConditions", "cordon_entries", "cordon_zones", "link_conditions", "policy_days"]


@dataclass
class LinkConditions:
    """The links on one day: ``free_time`` (s) and ``capacity`` (veh/h) per link, ``toll``
    (EUR) per link and slice, and the transit frequency factor and remote-work share."""

    free_time: np.ndarray
    capacity: np.ndarray
    toll: np.ndarray
    transit_factor: float
    remote_share: float


def policy_days(params: TransportParams) -> list[int]:
    """The days (steps) on which a policy starts or ends, after day 0."""
    days = set()
    if params.cordon_toll.price > 0:
        days.add(params.cordon_toll.start_day)
    if params.distance_toll.price > 0:
        days.add(params.distance_toll.start_day)
    if params.closure.links:
        days |= {params.closure.start_day, params.closure.end_day}
    if params.speed_limit.kmh > 0:
        days.add(params.speed_limit.start_day)
    if params.transit.frequency_factor != 1.0:
        days.add(params.transit.start_day)
    if params.remote_work.share > 0:
        days.add(params.remote_work.start_day)
    horizon = params.assignment.days
    return sorted(d for d in days if 0 < d < horizon)


def cordon_zones(
    params: TransportParams, zones: tuple[str, ...], district_of: dict[str, str]
) -> np.ndarray:
    """Mask of the zones inside the cordon (its districts' zones and its listed zones)."""
    c = params.cordon_toll
    districts = sorted(set(district_of.values()))
    for d in c.districts:
        if d not in districts:
            hint = closest_hint(d, districts) if districts else "Hint: the zones have no districts."
            msg = f"parameter `cordon_toll.districts`: unknown district `{d}`. {hint}"
            raise ConfigError(msg)
    for z in c.zones:
        if z not in zones:
            msg = f"parameter `cordon_toll.zones`: unknown zone `{z}`. " + closest_hint(z, zones)
            raise ConfigError(msg)
    inside = {z for z in zones if district_of.get(z) in set(c.districts)} | set(c.zones)
    return np.array([z in inside for z in zones])


def cordon_entries(net: Network, inside_zones: np.ndarray) -> np.ndarray:
    """Links that enter the cordon: from a node outside it to a node inside it."""
    known = net.area >= 0
    node_in = np.zeros(net.n_nodes, bool)
    node_in[known] = inside_zones[net.area[known]]
    return ~node_in[net.tail] & node_in[net.head]


def _charged(start: float, end: float, slice_hours: float, n_slices: int) -> np.ndarray:
    begins = np.arange(n_slices) * slice_hours
    return (begins >= start - 1e-9) & (begins < end - 1e-9)


def link_conditions(
    net: Network,
    params: TransportParams,
    day: int,
    *,
    n_slices: int,
    entries: np.ndarray,
    closed: np.ndarray | None = None,
) -> LinkConditions:
    """The state of the links and services on `day` (see the module docstring).

    `entries` marks the cordon's entry links (`cordon_entries`); `closed` the links the
    closure names (`Network.find_links`).
    """
    slice_hours = params.assignment.slice_minutes / 60.0
    free_time = net.free_time.copy()
    capacity = net.capacity * (params.network.capacity_factor * params.sample)
    toll = np.repeat(net.toll[:, None], n_slices, axis=1)

    c = params.cordon_toll
    if c.price > 0 and day >= c.start_day:
        hours = _charged(c.start_hour, c.end_hour, slice_hours, n_slices)
        toll[np.ix_(entries, hours)] += c.price
    dt = params.distance_toll
    if dt.price > 0 and day >= dt.start_day:
        hours = _charged(dt.start_hour, dt.end_hour, slice_hours, n_slices)
        charged = ~net.kind_mask(("connector", "virtual"))
        toll[np.ix_(charged, hours)] += (dt.price * net.length[charged] / 1000.0)[:, None]
    cl = params.closure
    if closed is not None and closed.size and cl.start_day <= day < cl.end_day:
        capacity[closed] *= cl.capacity
    sl = params.speed_limit
    if sl.kmh > 0 and day >= sl.start_day:
        kinds = [k for k in sl.kinds if k in KINDS] if sl.kinds else list(KINDS)
        if len(kinds) != len(sl.kinds):
            bad = next(k for k in sl.kinds if k not in KINDS)
            msg = f"parameter `speed_limit.kinds`: unknown kind `{bad}`. " + closest_hint(
                bad, KINDS
            )
            raise ConfigError(msg)
        limited = net.kind_mask(kinds)
        slowest = net.length[limited] / (sl.kmh / 3.6)
        free_time[limited] = np.maximum(free_time[limited], slowest)
    t = params.transit
    factor = t.frequency_factor if day >= t.start_day else 1.0
    rw = params.remote_work
    remote = rw.share if day >= rw.start_day else 0.0
    return LinkConditions(
        free_time=free_time,
        capacity=capacity,
        toll=toll,
        transit_factor=factor,
        remote_share=remote,
    )
