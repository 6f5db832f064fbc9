"""A road network for a city known only by its zones and districts (the demo city has no map).

`zone_layout` lays the zones out deterministically: each district is a block of zones (the
zones in their given order, row by row, on a grid ``ceil(sqrt(k))`` zones wide), and the blocks
are placed on a square grid of blocks, the first district in the middle and the others by
distance from it (then clockwise from east), so the first-named districts form the centre.
For the demo city (48 zones, D1..D8) that is a city of 9 x 6 zones with D1 in the middle.

`city_network` then builds its streets on that layout (networkx ``DiGraph``, both directions
of every street; attributes as `scenarios.transport.network` reads them):

* a street grid, ``streets_per_zone`` streets per zone side: the street through each zone's
  centre is an **arterial** (2 lanes, 50 km/h, 1,000 veh/h in all: signals halve a lane's
  flow), the others are **local** streets (1 lane, 30 km/h, 300 veh/h);
* a **river** across the city's middle, between two rows of streets: only ``bridges``
  arterials cross it (old bridges: 1 lane each way, 600 veh/h, named ``bridge 1`` ..),
  besides the ring;
* a **ring** road one street spacing outside the grid (2 lanes, 80 km/h, 2,400 veh/h),
  joined to every arterial that reaches the edge, and crossing the river;
* street nodes carry ``area``: the zone whose square they are in (tolls use it);
* a **centroid** node per zone (``zone`` attribute), joined to the crossing of its two
  arterials by a **connector** each way (short, 2,000 veh/h per lane, 3 lanes): trips start
  and end there, and MATSim activities take place on the connector into it;
* **bus lines** (graph attribute ``transit_lines``) along every arterial, stopping at each
  zone centre on the way, `frequency` buses an hour each way.

Coordinates ``x``, ``y`` are metres from the south-west corner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import networkx as nx

from populations.errors import ConfigError

__all__ = ["city_network", "zone_layout"]

_STREET = {
    "local": {"lanes": 1, "speed": 30.0, "capacity": 300.0},
    "arterial": {"lanes": 2, "speed": 50.0, "capacity": 1000.0},
    "bridge": {"lanes": 1, "speed": 50.0, "capacity": 600.0},
    "ring": {"lanes": 2, "speed": 80.0, "capacity": 2400.0},
    "connector": {"lanes": 3, "speed": 30.0, "capacity": 6000.0},
}


def zone_layout(
    zones: Sequence[str], districts: Sequence[str] | None = None
) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """Each zone's cell ``(column, row)`` on a grid of zones, and the grid's size.

    Parameters
    ----------
    zones : sequence of str
        Zone names, in order.
    districts : sequence of str, optional
        The district of each zone (one district for all by default).

    Examples
    --------
    >>> cells, size = zone_layout([f"Z{i}" for i in range(1, 9)], ["A"] * 4 + ["B"] * 4)
    >>> size, cells["Z1"], cells["Z5"]
    ((4, 2), (2, 0), (0, 0))
    """
    zones = [str(z) for z in zones]
    if not zones:
        msg = "a city needs at least one zone."
        raise ConfigError(msg)
    if len(set(zones)) != len(zones):
        dup = next(z for z in zones if zones.count(z) > 1)
        msg = f"zone `{dup}` is listed twice."
        raise ConfigError(msg)
    if districts is None:
        districts = ["all"] * len(zones)
    if len(districts) != len(zones):
        msg = f"{len(zones)} zones but {len(districts)} district names; give one per zone."
        raise ConfigError(msg)
    members: dict[str, list[str]] = {}
    for zone, district in zip(zones, districts, strict=True):
        members.setdefault(str(district), []).append(zone)
    width = math.ceil(math.sqrt(max(len(m) for m in members.values())))
    height = max(math.ceil(len(m) / width) for m in members.values())
    side = math.ceil(math.sqrt(len(members)))
    middle = (side - 1) / 2
    slots = sorted(
        ((c, r) for c in range(side) for r in range(side)),
        key=lambda cr: (
            round(math.hypot(cr[0] - middle, cr[1] - middle), 9),
            round(-math.atan2(cr[1] - middle, cr[0] - middle) % (2 * math.pi), 9),
        ),
    )
    cells = {}
    for (bc, br), zs in zip(slots, members.values(), strict=False):
        for i, zone in enumerate(zs):
            cells[zone] = (bc * width + i % width, br * height + i // width)
    # Drop empty rows and columns of blocks (a city with fewer districts than slots).
    cols = sorted({c for c, _ in cells.values()})
    rows = sorted({r for _, r in cells.values()})
    used_c = sorted({c // width for c in cols})
    used_r = sorted({r // height for r in rows})
    shift_c = {b: i for i, b in enumerate(used_c)}
    shift_r = {b: i for i, b in enumerate(used_r)}
    cells = {
        z: (shift_c[c // width] * width + c % width, shift_r[r // height] * height + r % height)
        for z, (c, r) in cells.items()
    }
    return cells, (len(used_c) * width, len(used_r) * height)


def city_network(
    zones: Sequence[str],
    districts: Sequence[str] | None = None,
    *,
    zone_size: float = 1000.0,
    streets_per_zone: int = 2,
    bridges: int = 2,
    ring: bool = True,
    frequency: float = 6.0,
) -> nx.DiGraph:
    """The road network of a city laid out by `zone_layout` (see the module docstring).

    Examples
    --------
    >>> g = city_network([f"Z{i:02d}" for i in range(1, 49)], [f"D{1 + i // 6}" for i in range(48)])
    >>> g.number_of_edges(), len(g.graph["transit_lines"])
    (1114, 22)
    >>> sorted({d["name"] for _, _, d in g.edges(data=True) if d["kind"] == "bridge"})
    ['bridge 1', 'bridge 2']
    """
    if streets_per_zone < 1 or zone_size <= 0 or bridges < 1:
        msg = "city_network needs streets_per_zone >= 1, zone_size > 0 and bridges >= 1."
        raise ConfigError(msg)
    cells, (n_cols, n_rows) = zone_layout(zones, districts)
    k = streets_per_zone
    step = zone_size / k
    nx_, ny_ = n_cols * k + 1, n_rows * k + 1  # street lines: 0 .. n*k

    def centre_line(i: int) -> int:  # the street line through the middle of zone index i
        return i * k + k // 2

    arterial_x = {centre_line(c) for c in range(n_cols)}
    arterial_y = {centre_line(r) for r in range(n_rows)}
    # The river runs between street rows `river` and `river + 1`, across the middle.
    river = (ny_ - 1) // 2 if n_rows > 1 else -10
    crossings = sorted(arterial_x)
    n = len(crossings)
    chosen = [crossings[min(int((j + 0.5) * n / bridges), n - 1)] for j in range(bridges)]
    bridge_cols = sorted(set(chosen))

    g = nx.DiGraph(name="city")

    def node(c: int, r: int) -> str:
        return f"n{c}_{r}"

    zone_at = {cell: zone for zone, cell in cells.items()}
    for c in range(nx_):
        for r in range(ny_):
            cell = (min(c // k, n_cols - 1), min(r // k, n_rows - 1))
            area = zone_at.get(cell)
            attrs = {"x": c * step, "y": r * step}
            if area is not None:
                attrs["area"] = area
            g.add_node(node(c, r), **attrs)

    def street(u: str, v: str, kind: str, name: str) -> None:
        a, b = g.nodes[u], g.nodes[v]
        length = math.hypot(a["x"] - b["x"], a["y"] - b["y"])
        spec = _STREET[kind]
        for s, t in ((u, v), (v, u)):
            g.add_edge(s, t, length=length, kind=kind, name=name, **spec)

    for r in range(ny_):
        kind = "arterial" if r in arterial_y else "local"
        for c in range(nx_ - 1):
            street(node(c, r), node(c + 1, r), kind, f"{kind} row {r}")
    for c in range(nx_):
        kind = "arterial" if c in arterial_x else "local"
        for r in range(ny_ - 1):
            if r == river:
                if c not in bridge_cols:
                    continue
                street(node(c, r), node(c, r + 1), "bridge", f"bridge {bridge_cols.index(c) + 1}")
                continue
            street(node(c, r), node(c, r + 1), kind, f"{kind} column {c}")

    if ring:
        lo, hi_x, hi_y = -step, (nx_ - 1) * step + step, (ny_ - 1) * step + step
        ring_nodes: list[str] = []
        xs = [lo, *[c * step for c in sorted(arterial_x)], hi_x]
        ys = [lo, *[r * step for r in sorted(arterial_y)], hi_y]
        south = [(x, lo) for x in xs]
        east = [(hi_x, y) for y in ys[1:]]
        north = [(x, hi_y) for x in reversed(xs[:-1])]
        west = [(lo, y) for y in reversed(ys[1:-1])]
        for x, y in south + east + north + west:
            name = f"ring {x:.0f}_{y:.0f}"
            g.add_node(name, x=x, y=y)
            ring_nodes.append(name)
        for i, u in enumerate(ring_nodes):
            street(u, ring_nodes[(i + 1) % len(ring_nodes)], "ring", "ring")
        for c in sorted(arterial_x):
            street(node(c, 0), f"ring {c * step:.0f}_{lo:.0f}", "arterial", "ring access")
            street(node(c, ny_ - 1), f"ring {c * step:.0f}_{hi_y:.0f}", "arterial", "ring access")
        for r in sorted(arterial_y):
            street(node(0, r), f"ring {lo:.0f}_{r * step:.0f}", "arterial", "ring access")
            street(node(nx_ - 1, r), f"ring {hi_x:.0f}_{r * step:.0f}", "arterial", "ring access")

    for zone, (c, r) in cells.items():
        centre = node(centre_line(c), centre_line(r))
        cx, cy = g.nodes[centre]["x"], g.nodes[centre]["y"]
        offset = min(step, zone_size) / 4
        g.add_node(zone, x=cx + offset, y=cy + offset, zone=zone, area=zone)
        street(zone, centre, "connector", f"connector {zone}")

    lines = []
    stops_x = {centre_line(c) for c in range(n_cols)}
    stops_y = {centre_line(r) for r in range(n_rows)}
    for r in sorted(arterial_y):
        stops = [node(c, r) for c in range(nx_) if c in stops_x]
        lines.append({"name": f"bus row {r}", "nodes": stops, "frequency": frequency})
    for c in sorted(arterial_x):
        path = [node(c, r) for r in range(ny_) if r in stops_y]
        crosses = [r for r in sorted(stops_y)]
        if c not in bridge_cols and river >= 0:  # no bridge: the line stops at the river
            south = [node(c, r) for r in crosses if r <= river]
            north = [node(c, r) for r in crosses if r > river]
            for part, label in ((south, "south"), (north, "north")):
                if len(part) > 1:
                    lines.append(
                        {"name": f"bus column {c} {label}", "nodes": part, "frequency": frequency}
                    )
            continue
        lines.append({"name": f"bus column {c}", "nodes": path, "frequency": frequency})
    g.graph["transit_lines"] = lines
    g.graph["zone_size"] = zone_size
    g.graph["centre"] = (
        (n_cols * zone_size) / 2,
        (n_rows * zone_size) / 2,
    )
    return g


def centre_of(graph: nx.DiGraph) -> tuple[float, float] | None:
    """The city centre recorded by `city_network` (None for other networks)."""
    centre: Any = graph.graph.get("centre")
    return None if centre is None else (float(centre[0]), float(centre[1]))
