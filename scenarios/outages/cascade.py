"""Cascades: overloaded components trip, their flow moves to others, which may trip in turn.

The load-redistribution model of Motter and Lai (2002) on the DC power flow of the network
(`scenarios.outages.flows`): every component has a capacity, ``(1 + margin)`` times its flow at
the design peak (`scenarios.outages.grid.rate`). When components fail, the flows are solved again
on what is left; every usable component whose flow now exceeds its capacity trips at once (its
protection opens it: the network is not damaged, but the component is out until re-closed), and
so on, round by round, until no component is above its capacity. Each round removes at least one
component, so a cascade ends; when it does, **no component in service carries more than its
capacity** (the invariant `cascade` guarantees and the tests check).

Protection and islanding limit the spread: a tripped feeder section or transformer cuts off
the load downstream of it, and any part of the network left without a path to a source is an
island, de-energised, rather than a place where overloads propagate, so every trip sheds load
and a cascade dies out. In the meshed 33 kV network a lost line's flow moves to its neighbours
(the Motter-Lai redistribution), which is where cascades travel.

Labels: each trip records its **parent**, the failure of the previous round that pushed it over
its capacity (the one whose loss raised its flow the most: found by solving the flows with that
failure put back), and its **generation** (the parent's plus one). A trip with no parent (the
component was overloaded with or without the previous round's failures, e.g. by a heat wave's
demand) is a root cause, cause ``overload``, generation 0.

References
----------
A. E. Motter and Y.-C. Lai, "Cascade-based attacks on complex networks", Phys. Rev. E 66
(2002) 065102, https://doi.org/10.1103/PhysRevE.66.065102.

Examples
--------
Two parallel lines feed a load of 150 kW; each is rated 100 kW. One fails: the other trips.

>>> pf = PowerFlow(2, u=np.array([0, 0]), v=np.array([1, 1]), reactance=np.ones(2),
...                sources=np.array([0]))
>>> usable = np.array([False, True])  # line 0 failed
>>> result = cascade(pf, usable, np.array([0.0, 150.0]), np.array([100.0, 100.0]), triggers=[0])
>>> [(t.edge, t.parent, t.generation) for t in result.trips], result.energised.tolist()
([(1, 0, 1)], [True, False])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scenarios.outages.flows import PowerFlow

__all__ = ["CascadeResult", "Trip", "cascade", "overloaded"]

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Trip:
    """A component opened by its protection: `parent` is the edge whose loss overloaded it
    (-1: none, a root overload), `generation` its depth in the cascade, `loading` its flow over
    its capacity when it tripped."""

    edge: int
    parent: int
    generation: int
    loading: float


@dataclass(frozen=True)
class CascadeResult:
    trips: list[Trip]
    usable: np.ndarray
    flows: np.ndarray
    energised: np.ndarray


def overloaded(flows: np.ndarray, capacity: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Usable edges whose flow exceeds their capacity (by more than rounding)."""
    return usable & (np.abs(flows) > capacity * (1.0 + _TOLERANCE))


def cascade(
    flow: PowerFlow,
    usable: np.ndarray,
    load: np.ndarray,
    capacity: np.ndarray,
    *,
    triggers: Sequence[int] = (),
    generations: Mapping[int, int] | None = None,
) -> CascadeResult:
    """Trip overloaded components round by round until none is left (see the module docstring).

    Parameters
    ----------
    flow : PowerFlow
    usable : bool array
        The edges usable after the triggering failures (not modified).
    load : float array
        Demand per node (kW).
    capacity : float array
    triggers : sequence of int
        The edges that just failed (the parents of the first round's trips).
    generations : mapping, optional
        The generation of each trigger (0 by default).

    Returns
    -------
    CascadeResult
        The trips in order (round by round, by edge within a round), the usable edges, flows
        and energised nodes at the end.
    """
    usable = usable.copy()
    depth = dict(generations or {})
    prev = [int(e) for e in triggers]
    trips: list[Trip] = []
    while True:
        flows, energised = flow.solve(usable, load)
        over = np.flatnonzero(overloaded(flows, capacity, usable))
        if over.size == 0:
            return CascadeResult(trips, usable, flows, energised)
        parents = _parents(flow, usable, load, flows, over, prev)
        for e, p in zip(over.tolist(), parents, strict=True):
            gen = depth.get(p, 0) + 1 if p >= 0 else 0
            depth[e] = gen
            trips.append(Trip(e, p, gen, float(abs(flows[e]) / capacity[e])))
        usable[over] = False
        prev = over.tolist()


def _parents(
    flow: PowerFlow,
    usable: np.ndarray,
    load: np.ndarray,
    flows: np.ndarray,
    over: np.ndarray,
    prev: list[int],
) -> list[int]:
    """For each overloaded edge, the edge of `prev` whose loss raised its flow the most."""
    if not prev:
        return [-1] * over.size
    rise = np.empty((len(prev), over.size))
    now = np.abs(flows[over])
    for k, e in enumerate(prev):
        with_e = flow.with_edge(usable, load, e)  # an update of the factors, not a new one
        rise[k] = 0.0 if with_e is None else now - np.abs(with_e[over])
    best = rise.argmax(axis=0)
    top = rise[best, np.arange(over.size)]
    return [
        prev[b] if r > _TOLERANCE * max(1.0, n) else -1
        for b, r, n in zip(best, top, now, strict=True)
    ]
