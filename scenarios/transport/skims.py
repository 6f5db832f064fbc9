"""Skims: zone-to-zone travel times, distances and costs by mode, what mode choice reads.

* Walking and cycling use the shortest road distance between zones in either direction of a
  street (pedestrians and cyclists ignore one-way rules; the ring is closed to them), computed
  once. A trip within a zone is half the distance to the nearest other zone.
* Driving is skimmed per time slice from the shortest-path trees of the slice's generalised
  cost (time plus tolls at the value of time): the path's time, length and toll.
* Transit is skimmed by `scenarios.transport.transit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from scenarios.transport.assignment import path_sums
from scenarios.transport.network import WALK_EXCLUDED, Network

__all__ = ["CarSkims", "car_skims", "intrazonal_distance", "walk_distances"]


def walk_distances(net: Network) -> np.ndarray:
    """Shortest street distances (m) between zones, both directions allowed; ``inf`` if none.

    The diagonal holds `intrazonal_distance`.
    """
    open_ = ~net.kind_mask(WALK_EXCLUDED)
    tail, head, length = net.tail[open_], net.head[open_], np.maximum(net.length[open_], 1e-3)
    # A twin node (a zone that may not be passed through) is the same place as its zone node.
    same = np.arange(net.n_nodes)
    same[net.origin] = net.dest
    tail, head = same[tail], same[head]
    keep = tail != head
    # csgraph would sum parallel entries: keep the shortest of each pair of nodes.
    lo = sp.coo_array((length[keep], (tail[keep], head[keep])), shape=(net.n_nodes, net.n_nodes))
    order = np.lexsort((lo.data, lo.row, lo.col))
    rows, cols, data = lo.row[order], lo.col[order], lo.data[order]
    first = np.ones(rows.size, bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    matrix = sp.csr_array(
        (data[first], (rows[first], cols[first])), shape=(net.n_nodes, net.n_nodes)
    )
    dist = csgraph.dijkstra(matrix, directed=False, indices=net.dest)[:, net.dest]
    np.fill_diagonal(dist, intrazonal_distance(dist))
    return dist


def intrazonal_distance(dist: np.ndarray) -> np.ndarray:
    """Half the distance from each zone to its nearest other zone (500 m if it has none)."""
    off = dist.copy()
    np.fill_diagonal(off, np.inf)
    nearest = off.min(axis=1)
    return np.where(np.isfinite(nearest), nearest / 2, 500.0)


@dataclass
class CarSkims:
    """Driving skims per slice, ``(zones, zones, slices)``: seconds, metres, EUR."""

    time: np.ndarray
    distance: np.ndarray
    toll: np.ndarray
    cost: np.ndarray  # generalised cost (s) the routes minimise


def car_skims(
    net: Network,
    trees: list[np.ndarray],
    dists: list[np.ndarray],
    time: np.ndarray,
    toll: np.ndarray,
    *,
    intrazonal_m: np.ndarray,
    intrazonal_speed: float = 25.0,
) -> CarSkims:
    """Time, length and toll of every zone pair's route in every slice.

    Parameters
    ----------
    trees, dists : per slice, the ``pred_link`` and ``dist`` of `shortest_trees` from every
        zone's origin node (rows in zone order).
    time, toll : per link and slice, ``(links, slices)``.
    intrazonal_m : per zone, the length of a trip within it, driven at `intrazonal_speed` km/h.
    """
    z, s_count = net.n_zones, len(trees)
    rows = np.repeat(np.arange(z), z)
    dests = np.tile(net.dest, z)
    out_time = np.empty((z, z, s_count))
    out_dist = np.empty((z, z, s_count))
    out_toll = np.empty((z, z, s_count))
    out_cost = np.empty((z, z, s_count))
    for s in range(s_count):
        sums = path_sums(
            net, trees[s], rows, dests, np.vstack([time[:, s], net.length, toll[:, s]])
        )
        reach = np.isfinite(dists[s][rows, dests])
        out_time[:, :, s] = np.where(reach, sums[0], np.inf).reshape(z, z)
        out_dist[:, :, s] = np.where(reach, sums[1], np.inf).reshape(z, z)
        out_toll[:, :, s] = np.where(reach, sums[2], 0.0).reshape(z, z)
        out_cost[:, :, s] = dists[s][rows, dests].reshape(z, z)
    diag = np.arange(z)
    out_dist[diag, diag, :] = intrazonal_m[:, None]
    out_time[diag, diag, :] = intrazonal_m[:, None] / (intrazonal_speed / 3.6)
    out_toll[diag, diag, :] = 0.0
    out_cost[diag, diag, :] = out_time[diag, diag, :]
    return CarSkims(time=out_time, distance=out_dist, toll=out_toll, cost=out_cost)
