"""Where the zones are, and how long a crew takes to drive between them.

The demo city has zones and districts but no coordinates, so `zone_layout` lays them out
deterministically: districts as blocks on a near-square grid, each district's zones on a small
grid inside its block, ``zone_km`` apart. The layout gives the network its geometry (line
lengths), the storms their footprint and the crews their travel.

`road_graph` is a simple road network of our own: a networkx graph with an edge between zones
whose centres are neighbours on the layout (diagonals included), of length the straight line
times a detour factor; `travel_minutes` gives the minutes between every pair of zones by
Dijkstra (``scipy.sparse.csgraph.shortest_path``, one pass per origin). The transport scenario's
road network can replace it later: anything that yields a zones x zones matrix of minutes will
do (`OutageModel` takes ``travel=``).

Libraries: networkx (the road graph), scipy.sparse.csgraph (shortest paths).

Examples
--------
>>> xy = zone_layout(["a", "b", "c", "d"], ["n", "n", "s", "s"], zone_km=2.0)
>>> xy.tolist()
[[0.0, 0.0], [2.0, 0.0], [5.0, 0.0], [7.0, 0.0]]
>>> minutes = travel_minutes(road_graph(xy), speed_kmh=30.0)
>>> float(minutes[0, 1])  # 2 km x 1.3 detour at 30 km/h
5.2
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree, shortest_path
from scipy.spatial.distance import cdist

from populations.errors import ConfigError

__all__ = ["DETOUR", "road_graph", "travel_minutes", "zone_layout"]

DETOUR = 1.3
"""Road distance over straight-line distance (a common figure for urban grids)."""


def zone_layout(
    zones: Sequence[str], districts: Sequence[str], *, zone_km: float = 2.0
) -> np.ndarray:
    """Coordinates (km, one row per zone) of a city laid out district by district.

    Districts, in order of first appearance, are blocks on a grid of ``ceil(sqrt(D))`` columns;
    a district's zones, in the order given, fill a grid of ``ceil(sqrt(k))`` columns inside
    its block, ``zone_km`` apart; blocks are separated by half a spacing more (a main road).
    """
    if len(zones) != len(districts):
        msg = f"{len(zones)} zones but {len(districts)} districts given: one district per zone."
        raise ConfigError(msg)
    order = list(dict.fromkeys(districts))
    members = {d: [i for i, z in enumerate(districts) if z == d] for d in order}
    biggest = max((len(m) for m in members.values()), default=1)
    inner_cols = math.ceil(math.sqrt(biggest))
    inner_rows = math.ceil(biggest / inner_cols)
    cols = math.ceil(math.sqrt(len(order)))
    block_w = (inner_cols - 1 + 1.5) * zone_km
    block_h = (inner_rows - 1 + 1.5) * zone_km
    xy = np.zeros((len(zones), 2))
    for b, d in enumerate(order):
        bx, by = (b % cols) * block_w, (b // cols) * block_h
        for k, i in enumerate(members[d]):
            xy[i] = (bx + (k % inner_cols) * zone_km, by + (k // inner_cols) * zone_km)
    return xy


def road_graph(xy: np.ndarray, *, detour: float = DETOUR) -> nx.Graph:
    """Roads between neighbouring zones: an edge where centres are at most 1.5 spacings apart.

    The spacing is the smallest distance between two zones. Edges carry ``km`` (straight line
    times `detour`). If the neighbours leave the graph in pieces, the shortest links of a
    minimum spanning tree join them.
    """
    n = len(xy)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    if n < 2:
        return graph
    dist = cdist(xy, xy)
    spacing = dist[dist > 0].min() if (dist > 0).any() else 1.0
    near = (dist > 0) & (dist <= 1.5 * spacing + 1e-9)
    for i, j in zip(*np.nonzero(np.triu(near)), strict=True):
        graph.add_edge(int(i), int(j), km=float(dist[i, j] * detour))
    if not nx.is_connected(graph):
        tree = minimum_spanning_tree(dist).tocoo()
        for i, j, d in zip(tree.row, tree.col, tree.data, strict=True):
            if not nx.has_path(graph, int(i), int(j)):
                graph.add_edge(int(i), int(j), km=float(d * detour))
    return graph


def travel_minutes(roads: nx.Graph, *, speed_kmh: float) -> np.ndarray:
    """Minutes between every pair of zones on `roads` (Dijkstra on the ``km`` edge weights)."""
    if speed_kmh <= 0:
        msg = f"`speed_kmh` must be positive, got {speed_kmh!r}."
        raise ConfigError(msg)
    nodes = sorted(roads.nodes)
    adjacency = nx.to_scipy_sparse_array(roads, nodelist=nodes, weight="km", format="csr")
    km = shortest_path(adjacency, method="D", directed=False)
    if not np.isfinite(km).all():
        msg = "the road graph is not connected: some zones cannot be reached."
        raise ConfigError(msg)
    return km / speed_kmh * 60.0
