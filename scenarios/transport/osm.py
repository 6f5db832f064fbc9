"""Road networks from OpenStreetMap, as GraphML files saved by osmnx (read with networkx; no
download at run time: fetch and save once with ``osmnx.save_graphml``).

osmnx stores every attribute as text: ``length`` (m), ``highway`` (``"primary"``, or a list
such as ``"['residential', 'tertiary']"``), ``lanes``, ``maxspeed`` (``"50"``, ``"30 mph"``,
lists), ``speed_kph`` when `osmnx.add_edge_speeds` ran, and nodes' ``x``, ``y`` (longitude,
latitude). `read_osm_graphml` turns them into the attributes `scenarios.transport.network`
reads: the speed from ``speed_kph``, else ``maxspeed``, else a default by road class; the
lanes from ``lanes``, else a default; the capacity from the class's per-lane capacity (urban
values, signals included) times the lanes; ``kind`` ``motorway`` (closed to pedestrians and
cyclists), ``arterial`` or ``local``. Coordinates are projected to metres (equirectangular
about the network's centre, precise enough for a city).

OpenStreetMap has no zones: give ``zones={zone: node}`` to the model, or `place_zones` lays
the population's zones over the map by `scenarios.transport.city.zone_layout` (districts as
blocks, the first in the middle) and takes the nearest node of the largest strongly connected
part of the network for each.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from populations.errors import ConfigError
from scenarios.transport.city import zone_layout

__all__ = ["HIGHWAY_DEFAULTS", "place_zones", "read_osm_graphml"]

HIGHWAY_DEFAULTS: dict[str, tuple[str, float, int, float]] = {
    # class: (kind, speed km/h, lanes, capacity per lane veh/h)
    "motorway": ("motorway", 100.0, 2, 1900.0),
    "motorway_link": ("motorway", 60.0, 1, 1500.0),
    "trunk": ("arterial", 80.0, 2, 1600.0),
    "trunk_link": ("arterial", 50.0, 1, 1200.0),
    "primary": ("arterial", 50.0, 2, 900.0),
    "primary_link": ("arterial", 40.0, 1, 800.0),
    "secondary": ("arterial", 50.0, 1, 800.0),
    "secondary_link": ("arterial", 40.0, 1, 700.0),
    "tertiary": ("local", 40.0, 1, 600.0),
    "tertiary_link": ("local", 30.0, 1, 500.0),
    "residential": ("local", 30.0, 1, 400.0),
    "living_street": ("local", 10.0, 1, 200.0),
    "unclassified": ("local", 30.0, 1, 400.0),
    "service": ("local", 20.0, 1, 300.0),
}
"""Defaults by OpenStreetMap ``highway`` class (others: ``unclassified``'s)."""
_MPH = 1.609344


def _listed(value: Any) -> list[str]:
    """osmnx writes lists as ``"['a', 'b']"``; one value as itself."""
    if value is None:
        return []
    text = str(value).strip()
    if text.startswith("["):
        try:
            items = ast.literal_eval(text)
        except (SyntaxError, ValueError):
            items = [t.strip(" '\"") for t in text.strip("[]").split(",")]
        return [str(i) for i in items]
    return [text]


def _speed(value: Any) -> float | None:
    speeds = []
    for item in _listed(value):
        m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?", item)
        if m:
            speed = float(m.group(1)) * (_MPH if m.group(2) == "mph" else 1.0)
            if speed > 0:
                speeds.append(speed)
    return min(speeds) if speeds else None


def _lanes(value: Any) -> int | None:
    found = []
    for item in _listed(value):
        m = re.match(r"^\s*(\d+)", item)
        if m and int(m.group(1)) > 0:
            found.append(int(m.group(1)))
    return min(found) if found else None


def read_osm_graphml(path: str | Path) -> nx.MultiDiGraph:
    """A road network from an osmnx GraphML file (see the module docstring).

    Raises
    ------
    ConfigError
        If the file is missing or not GraphML, or an edge has no usable ``length`` (the file
        and the edge named), or a node has no ``x``/``y``.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"GraphML file `{path}` does not exist."
        raise ConfigError(msg)
    try:
        raw = nx.read_graphml(path, force_multigraph=True)
    except Exception as exc:
        msg = f"`{path}` cannot be read as GraphML: {exc}"
        raise ConfigError(msg) from None
    if not raw.is_directed():
        raw = raw.to_directed()
    xs, ys = [], []
    for node, data in raw.nodes(data=True):
        try:
            xs.append(float(data["x"]))
            ys.append(float(data["y"]))
        except (KeyError, TypeError, ValueError):
            msg = f"{path}: node {node} has no numeric `x` and `y` (longitude, latitude)."
            raise ConfigError(msg) from None
    lon0, lat0 = float(np.mean(xs)), float(np.mean(ys))
    kx = 111_320.0 * math.cos(math.radians(lat0))
    ky = 110_540.0
    g = nx.MultiDiGraph(name=raw.graph.get("name", path.stem))
    for node, data in raw.nodes(data=True):
        g.add_node(node, x=(float(data["x"]) - lon0) * kx, y=(float(data["y"]) - lat0) * ky)
    for u, v, _key, data in raw.edges(keys=True, data=True):
        try:
            length = float(data["length"])
        except (KeyError, TypeError, ValueError):
            msg = (
                f"{path}: edge ({u}, {v}) has no numeric `length`. Hint: save the graph with "
                "osmnx, which adds edge lengths in metres."
            )
            raise ConfigError(msg) from None
        if length < 0:
            msg = f"{path}: edge ({u}, {v}) has a negative length ({length:g})."
            raise ConfigError(msg)
        classes = _listed(data.get("highway")) or ["unclassified"]
        cls = next((c for c in classes if c in HIGHWAY_DEFAULTS), "unclassified")
        kind, speed_default, lanes_default, per_lane = HIGHWAY_DEFAULTS[cls]
        speed = _speed(data.get("speed_kph")) or _speed(data.get("maxspeed")) or speed_default
        lanes = _lanes(data.get("lanes")) or lanes_default
        oneway = str(data.get("oneway", "False")).lower() in ("true", "1", "yes")
        if not oneway and _lanes(data.get("lanes")):  # osm counts both directions' lanes
            lanes = max(1, lanes // 2)
        names = _listed(data.get("name"))
        g.add_edge(
            u,
            v,
            length=max(length, 0.1),
            speed=speed,
            lanes=lanes,
            capacity=per_lane * lanes,
            kind=kind,
            name=names[0] if names else "",
            highway=cls,
        )
    return g


def place_zones(
    graph: nx.DiGraph, zones: Sequence[str], districts: Sequence[str] | None = None
) -> dict[str, Any]:
    """Each zone's node: the zones laid out by `zone_layout` over the map's extent, each at the
    node nearest its cell's centre (within the largest strongly connected part).

    Examples
    --------
    >>> g = nx.grid_2d_graph(5, 5).to_directed()
    >>> for n in g: g.nodes[n]["x"], g.nodes[n]["y"] = float(n[0]), float(n[1])
    >>> place_zones(g, ["A", "B"])
    {'A': (1, 2), 'B': (3, 2)}
    """
    from scipy.spatial import cKDTree

    cells, (cols, rows) = zone_layout(zones, districts)
    part = max(nx.strongly_connected_components(graph), key=len)
    nodes = [n for n in graph.nodes if n in part]
    xy = np.array([[float(graph.nodes[n]["x"]), float(graph.nodes[n]["y"])] for n in nodes])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    tree = cKDTree(xy)
    placed: dict[str, Any] = {}
    taken: set[int] = set()
    for zone in zones:
        c, r = cells[str(zone)]
        target = lo + span * np.array([(c + 0.5) / cols, (r + 0.5) / rows])
        k = min(len(nodes), 8)
        _, near = tree.query(target, k=k)
        near = np.atleast_1d(near)
        pick = next((int(i) for i in near if int(i) not in taken), int(near[0]))
        taken.add(pick)
        placed[str(zone)] = nodes[pick]
    return placed
