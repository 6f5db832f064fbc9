"""Transit: bus lines as a graph of walking and riding, and its zone-to-zone skims.

The transit graph has the road network's nodes, a walking link each way along every street
open to pedestrians (time at walking speed), and a riding link each way between consecutive
stops of every line (the shortest road distance at the line's commercial speed, stops
included). A transit trip is the quickest path by walking and riding from zone to zone
(`scipy.sparse.csgraph`, like the roads); it waits at its first stop half the headway of the
lines that serve that stop, ``0.5 * 60 / sum(frequency)`` minutes, capped at ``max_wait``.
Transfers are free and without waiting (a simplification: the in-vehicle time and the walks
between lines count).

A zone pair whose quickest path rides no bus has no transit service; a transit traveller
walks that leg (the leg's mode is then ``walk``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csgraph

from populations.errors import ConfigError
from scenarios.transport.assignment import shortest_trees, walk_back
from scenarios.transport.network import WALK_EXCLUDED, Network

__all__ = ["TransitSkims", "TransitSystem", "build_transit"]


@dataclass
class TransitSkims:
    """Per zone pair: riding and walking seconds, walking before the first bus (s), the first
    line (-1: no bus) and its boarding node, and the distance ridden (m)."""

    in_vehicle: np.ndarray
    walk: np.ndarray
    access: np.ndarray
    line: np.ndarray
    board: np.ndarray
    distance: np.ndarray

    def wait(self, stop_frequency: np.ndarray, max_wait_s: float) -> np.ndarray:
        """Seconds waited at the first stop, from the buses per hour at each node."""
        freq = stop_frequency[np.maximum(self.board, 0)]
        with np.errstate(divide="ignore"):
            wait = np.where(freq > 0, 0.5 * 3600.0 / freq, np.inf)
        wait = np.minimum(wait, max_wait_s) if np.isfinite(max_wait_s) else wait
        return np.where((self.line >= 0) & (freq > 0), wait, np.inf)


@dataclass
class TransitSystem:
    """The transit graph and its lines (see the module docstring)."""

    graph: Network
    line: np.ndarray  # per transit link: the line ridden, -1 for walking
    names: list[str]
    frequency: np.ndarray  # buses per hour and direction, per line (before any policy)
    stops: list[np.ndarray]  # node indices of each line's stops

    def stop_frequency(self, factor: float = 1.0) -> np.ndarray:
        """Buses per hour at each node (all lines that stop there, both directions count
        once: a traveller waits for the next bus their way)."""
        freq = np.zeros(self.graph.n_nodes)
        for stops, f in zip(self.stops, self.frequency, strict=True):
            freq[np.unique(stops)] += f * factor
        return freq

    def skims(self) -> TransitSkims:
        """Every zone pair's quickest walk-and-ride path, summarised."""
        g = self.graph
        _, pred = shortest_trees(g, g.free_time, g.origin)
        z = g.n_zones
        rows = np.repeat(np.arange(z), z)
        dests = np.tile(g.dest, z)
        n = rows.size
        in_vehicle, walk, access, dist = (np.zeros(n) for _ in range(4))
        first = np.full(n, -1, np.int64)
        riding = self.line >= 0
        for idx, link in walk_back(g, pred, rows, dests):
            bus = riding[link]
            t = g.free_time[link]
            in_vehicle[idx[bus]] += t[bus]
            dist[idx[bus]] += g.length[link[bus]]
            walk[idx[~bus]] += t[~bus]
            access[idx[~bus]] += t[~bus]
            access[idx[bus]] = 0.0  # walking after a later bus was not access
            first[idx[bus]] = link[bus]
        line = np.where(first >= 0, self.line[np.maximum(first, 0)], -1)
        board = np.where(first >= 0, g.tail[np.maximum(first, 0)], -1)
        shape = (z, z)
        return TransitSkims(
            in_vehicle=in_vehicle.reshape(shape),
            walk=walk.reshape(shape),
            access=access.reshape(shape),
            line=line.reshape(shape),
            board=board.reshape(shape),
            distance=dist.reshape(shape),
        )


def build_transit(
    net: Network, *, walk_speed: float = 5.0, speed: float = 20.0, frequency: float | None = None
) -> TransitSystem | None:
    """The transit graph of `net`'s lines (None when it has none).

    Parameters
    ----------
    walk_speed, speed : km/h walking and riding (stops included).
    frequency : buses per hour per line; default: each line's own ``frequency``.

    Raises
    ------
    ConfigError
        A line with fewer than two stops, a stop that is not a node of the network, or two
        consecutive stops with no road between them.
    """
    if not net.transit_lines:
        return None
    index = {node: i for i, node in enumerate(net.nodes) if node is not None}
    names, freqs, stops = [], [], []
    for k, line in enumerate(net.transit_lines):
        name = str(line.get("name", f"line {k + 1}"))
        nodes = list(line.get("nodes", []))
        if len(nodes) < 2:
            msg = f"transit line `{name}` has {len(nodes)} stop(s); a line needs two or more."
            raise ConfigError(msg)
        missing = [s for s in nodes if s not in index]
        if missing:
            msg = f"transit line `{name}` stops at {missing[0]!r}, which is not a road node."
            raise ConfigError(msg)
        names.append(name)
        freqs.append(float(line.get("frequency", 6.0)) if frequency is None else frequency)
        stops.append(np.array([index[s] for s in nodes], np.int64))

    # Walking: both directions of every street open to pedestrians.
    open_ = ~net.kind_mask(WALK_EXCLUDED)
    same = np.arange(net.n_nodes)
    same[net.origin] = net.dest  # walking starts at the zone itself
    wt, wh = same[net.tail[open_]], same[net.head[open_]]
    wlen = net.length[open_]
    tails = [wt, wh]
    heads = [wh, wt]
    lengths = [wlen, wlen]
    lines = [np.full(wt.size, -1), np.full(wt.size, -1)]

    # Riding: consecutive stops, at the road distance between them.
    all_stops = np.unique(np.concatenate(stops))
    road = net.matrix(np.maximum(net.length, 1e-3))
    between = csgraph.dijkstra(road, directed=True, indices=all_stops)
    where = {s: i for i, s in enumerate(all_stops.tolist())}
    for k, st in enumerate(stops):
        a, b = st[:-1], st[1:]
        d_ab = between[[where[x] for x in a.tolist()], b]
        d_ba = between[[where[x] for x in b.tolist()], a]
        if not (np.isfinite(d_ab).all() and np.isfinite(d_ba).all()):
            msg = f"transit line `{names[k]}` has two consecutive stops with no road between them."
            raise ConfigError(msg)
        tails += [a, b]
        heads += [b, a]
        lengths += [d_ab, d_ba]
        lines += [np.full(a.size, k), np.full(b.size, k)]

    tail = np.concatenate(tails)
    head = np.concatenate(heads)
    length = np.concatenate(lengths)
    line = np.concatenate(lines)
    time = np.where(line >= 0, length / (speed / 3.6), length / (walk_speed / 3.6))
    keep = tail != head
    tail, head, length, line, time = tail[keep], head[keep], length[keep], line[keep], time[keep]
    # One link per pair of nodes (the quickest), as csgraph needs.
    order = np.lexsort((time, head, tail))
    tail, head, length, line, time = (a[order] for a in (tail, head, length, line, time))
    first = np.ones(tail.size, bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, length, line, time = (a[first] for a in (tail, head, length, line, time))
    n = tail.size
    graph = Network(
        graph=net.graph,
        nodes=net.nodes,
        x=net.x,
        y=net.y,
        tail=tail,
        head=head,
        length=length,
        free_time=time,
        capacity=np.ones(n),
        lanes=np.ones(n),
        alpha=np.zeros(n),
        beta=np.ones(n),
        kind=np.zeros(n, np.int8),
        toll=np.zeros(n),
        name=[""] * n,
        label=[""] * n,
        zones=net.zones,
        origin=net.dest.copy(),
        dest=net.dest.copy(),
        zone_link=net.zone_link,
    )
    return TransitSystem(
        graph=graph, line=line, names=names, frequency=np.array(freqs), stops=stops
    )
