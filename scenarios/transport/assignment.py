"""Traffic assignment: BPR link times, shortest-path trees by origin, loading, equilibrium.

* `bpr`: the Bureau of Public Roads link time ``t = t0 (1 + alpha (v / c) ** beta)``.
* `shortest_trees`: one shortest-path tree per origin from
  ``scipy.sparse.csgraph.dijkstra(graph, indices=origins, return_predecessors=True)`` (all
  origins in one call, in C), turned into the link that reaches each node.
* `load_trips` (all-or-nothing: each origin-destination flow on its tree's path) and `path_sums`
  (a path's length, time or toll) walk the trees back from the destinations, all pairs at once,
  one link a pass (vectorised numpy; as many passes as the longest path has links).
* `relative_gap`: ``(total cost - shortest-path cost) / total cost``, the distance from the
  user equilibrium (Wardrop: no traveller can do better alone), 0 at equilibrium.
* `frank_wolfe`: the static user-equilibrium assignment of a trip table (Frank-Wolfe with an
  exact line search on Beckmann's objective; ``method="msa"`` takes the step 1/(k+1)
  instead), reporting the relative gap per iteration and the total system travel time, to
  compare with published equilibria of TNTP networks.

References
----------
Bureau of Public Roads, *Traffic Assignment Manual*, 1964. M. Beckmann, C. B. McGuire and
C. B. Winsten, *Studies in the Economics of Transportation*, 1956. M. Frank and P. Wolfe, "An
algorithm for quadratic programming", Naval Research Logistics Quarterly 3, 1956,
https://doi.org/10.1002/nav.3800030109. Y. Sheffi, *Urban Transportation Networks*, 1985 (MSA).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csgraph

from populations.errors import ConfigError
from scenarios.transport.network import Network

__all__ = [
    "AssignmentResult",
    "bpr",
    "frank_wolfe",
    "load_trips",
    "path_sums",
    "relative_gap",
    "shortest_trees",
    "walk_back",
]


def bpr(
    free_time: np.ndarray,
    volume: np.ndarray,
    capacity: np.ndarray,
    alpha: float | np.ndarray = 0.15,
    beta: float | np.ndarray = 4.0,
) -> np.ndarray:
    """Link travel times ``free_time * (1 + alpha * (volume / capacity) ** beta)``.

    A capacity of 0 (a closed link) gives an infinite time.

    Examples
    --------
    >>> float(bpr(np.array([60.0]), np.array([1000.0]), np.array([1000.0]))[0])
    69.0
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(capacity > 0, volume / np.where(capacity > 0, capacity, 1.0), np.inf)
        time = free_time * (1.0 + alpha * np.power(ratio, beta))
    time = np.where(capacity > 0, time, np.inf)
    return np.where(np.isnan(time), free_time, time)


def shortest_trees(
    net: Network, cost: np.ndarray, origins: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path trees from `origins` (node indices) over links weighted by `cost`.

    Returns ``(dist, pred_link)``: ``dist[i, v]`` the least cost from origin i to node v
    (inf where unreachable), ``pred_link[i, v]`` the last link of that path (-1 at the origin
    and where unreachable). Links of infinite cost are never used.
    """
    cost = np.asarray(cost, dtype=np.float64)
    finite = np.isfinite(cost)
    if finite.all():
        matrix = net.matrix(cost)
    else:  # csgraph would treat inf as an edge; drop closed links from the graph
        matrix = net.matrix(np.where(finite, cost, 0.0))
        matrix.data[~finite[net._order]] = 0.0
        matrix.eliminate_zeros()
    origins = np.asarray(origins, dtype=np.int64)
    dist, pred = csgraph.dijkstra(matrix, directed=True, indices=origins, return_predecessors=True)
    nodes = np.broadcast_to(np.arange(net.n_nodes), pred.shape)
    has = pred >= 0
    pred_link = np.full(pred.shape, -1, np.int64)
    pred_link[has] = net.link_between(pred[has], nodes[has])
    return dist, pred_link


def walk_back(
    net: Network, pred_link: np.ndarray, rows: np.ndarray, dests: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Walk from each destination back to its tree's origin, one link a pass.

    Yields ``(pairs, links)``: the indices of the pairs still walking and the link each one
    goes back over (the last link of the path first). Pair ``i`` walks from node ``dests[i]``
    in tree ``rows[i]`` of `pred_link` (as `shortest_trees` returns it).
    """
    cur = np.asarray(dests, dtype=np.int64).copy()
    rows = np.asarray(rows, dtype=np.int64)
    idx = np.arange(cur.size)
    link = pred_link[rows, cur]
    alive = link >= 0
    idx, cur, link, rows = idx[alive], cur[alive], link[alive], rows[alive]
    guard = 0
    while idx.size:
        yield idx, link
        cur = net.tail[link]
        link = pred_link[rows, cur]
        alive = link >= 0
        idx, link, rows = idx[alive], link[alive], rows[alive]
        guard += 1
        if guard > net.n_nodes:
            msg = "a shortest-path tree has a cycle (negative costs?)."
            raise ConfigError(msg)


def load_trips(
    net: Network,
    pred_link: np.ndarray,
    rows: np.ndarray,
    dests: np.ndarray,
    flow: np.ndarray,
) -> np.ndarray:
    """All-or-nothing loading: link volumes of `flow` from tree `rows` to node `dests`.

    Pairs whose destination is unreachable (or is the origin) load nothing.
    """
    volume = np.zeros(net.n_links)
    flow = np.asarray(flow, dtype=np.float64)
    for idx, link in walk_back(net, pred_link, rows, dests):
        volume += np.bincount(link, weights=flow[idx], minlength=net.n_links)
    return volume


def path_sums(
    net: Network,
    pred_link: np.ndarray,
    rows: np.ndarray,
    dests: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """Sums of per-link `values` (shape ``(k, links)``) along each pair's path: ``(k, pairs)``."""
    values = np.atleast_2d(values)
    out = np.zeros((values.shape[0], np.asarray(dests).size))
    for idx, link in walk_back(net, pred_link, rows, dests):
        out[:, idx] += values[:, link]
    return out


def relative_gap(total_cost: float, shortest_cost: float) -> float:
    """``(total_cost - shortest_cost) / total_cost`` (0 when nothing moves).

    Examples
    --------
    >>> relative_gap(105.0, 100.0)
    0.047619047619047616
    """
    if total_cost <= 0:
        return 0.0
    return (total_cost - shortest_cost) / total_cost


@dataclass
class AssignmentResult:
    """The outcome of `frank_wolfe`: link flows and times, and how close to equilibrium.

    Attributes
    ----------
    flow, time : per link (vehicles per hour, seconds).
    gaps : the relative gap after each iteration.
    total_travel_time : sum of flow x time over links (vehicle-seconds per hour; divide by 60
        for the vehicle-minutes TNTP publications report).
    iterations, converged : how many iterations ran, and whether the gap met the tolerance.
    """

    flow: np.ndarray
    time: np.ndarray
    gaps: list[float] = field(default_factory=list)
    total_travel_time: float = 0.0
    iterations: int = 0
    converged: bool = False

    @property
    def relative_gap(self) -> float:
        return self.gaps[-1] if self.gaps else float("nan")


def _link_bpr(net: Network, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    a = np.where(np.isnan(net.alpha), alpha, net.alpha)
    b = np.where(np.isnan(net.beta), beta, net.beta)
    return a, b


def frank_wolfe(
    net: Network,
    trips: np.ndarray,
    *,
    max_iter: int = 200,
    tol: float = 1e-4,
    alpha: float = 0.15,
    beta: float = 4.0,
    method: str = "fw",
) -> AssignmentResult:
    """Static user-equilibrium assignment of the trip table `trips` (zones x zones).

    Parameters
    ----------
    net : the network (`trips` is in the order of ``net.zones``).
    trips : vehicles per hour from zone i to zone j.
    max_iter, tol : stop after `max_iter` iterations or once the relative gap is below `tol`.
    alpha, beta : BPR parameters for links that carry none of their own.
    method : ``"fw"`` (Frank-Wolfe, exact line search) or ``"msa"`` (step 1/(k+1)).

    Examples
    --------
    >>> from scenarios.transport.data import data_file
    >>> from scenarios.transport.network import compile_network
    >>> from scenarios.transport.tntp import read_tntp_network, read_tntp_trips
    >>> net = compile_network(read_tntp_network(data_file("two_route_net.tntp")))
    >>> result = frank_wolfe(net, read_tntp_trips(data_file("two_route_trips.tntp")))
    >>> result.converged, round(float(result.flow[0]))
    (True, 2713)
    """
    trips = np.asarray(trips, dtype=np.float64)
    z = net.n_zones
    if trips.shape != (z, z):
        msg = f"the trip table is {trips.shape}, the network has {z} zones: expected ({z}, {z})."
        raise ConfigError(msg)
    if (trips < 0).any() or not np.isfinite(trips).all():
        msg = "the trip table has negative or non-finite flows."
        raise ConfigError(msg)
    if method not in ("fw", "msa"):
        msg = f"unknown assignment method `{method}`: expected `fw` or `msa`."
        raise ConfigError(msg)
    a, b = _link_bpr(net, alpha, beta)
    o_idx, d_idx = np.nonzero(trips)
    demand = trips[o_idx, d_idx]
    origins = np.unique(o_idx)
    row_of = np.full(z, -1)
    row_of[origins] = np.arange(origins.size)
    rows, dests = row_of[o_idx], net.dest[d_idx]

    def cost(flow: np.ndarray) -> np.ndarray:
        return bpr(net.free_time, flow, net.capacity, a, b)

    def aon(time: np.ndarray) -> tuple[np.ndarray, float]:
        dist, pred = shortest_trees(net, time, net.origin[origins])
        sp = dist[rows, dests]
        if not np.isfinite(sp).all():
            bad = np.flatnonzero(~np.isfinite(sp))[0]
            msg = (
                f"zone {net.zones[d_idx[bad]]} cannot be reached from zone "
                f"{net.zones[o_idx[bad]]}, which sends it trips."
            )
            raise ConfigError(msg)
        return load_trips(net, pred, rows, dests, demand), float(demand @ sp)

    flow, _ = aon(net.free_time)
    result = AssignmentResult(flow=flow, time=cost(flow))
    for k in range(1, max_iter + 1):
        time = cost(flow)
        target, shortest = aon(time)
        gap = relative_gap(float(flow @ time), shortest)
        result.gaps.append(gap)
        result.iterations = k
        if gap < tol:
            result.converged = True
            break
        direction = target - flow
        if method == "msa":
            step = 1.0 / (k + 1)
        else:
            step = _line_search(net, flow, direction, a, b)
        flow = flow + step * direction
    result.flow = flow
    result.time = cost(flow)
    result.total_travel_time = float(flow @ result.time)
    return result


def _line_search(
    net: Network, flow: np.ndarray, direction: np.ndarray, a: np.ndarray, b: np.ndarray
) -> float:
    """The step in [0, 1] minimising Beckmann's objective along `direction` (bisection)."""

    def slope(step: float) -> float:
        return float(direction @ bpr(net.free_time, flow + step * direction, net.capacity, a, b))

    if slope(1.0) <= 0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if slope(mid) > 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2
