"""The electricity distribution network: generated for a city, or any networkx graph, as arrays.

**The generated network** (`city_network`) has the proportions of an urban distribution system:

* bulk supply points (sources: the transmission grid; one per four districts, at the city's
  edges), and a meshed 33 kV subtransmission network linking them to one primary substation per
  district (each primary to its two nearest neighbours, plus a spanning tree so nothing is left
  out): a meshed network, where a lost line's flow moves to the others;
* a primary substation is a 33 kV bus and an 11 kV bus joined by two transformers in parallel
  (each can carry the design load alone: N-1);
* from the 11 kV bus, radial feeders run to the zones of the district: a feeder is a chain of up
  to ``transformers_per_feeder`` secondary substations (11 kV/LV transformers, about
  ``customers_per_transformer`` customers each; a hospital has one of its own), and each
  feeder's far end is tied to the nearest end of another feeder by a normally-open tie switch;
* customers hang on the low-voltage side of their transformer.

Feeder sections in the zones nearest the centre are underground (up to ``underground_share`` of
the sections), the rest overhead on poles; ages are drawn around ``age_mean``.

**Ratings** (`rate`) follow Motter and Lai's rule: a component's capacity is its flow at the
design peak (ties open, on a weekday whose maximum is the design temperature) times
``1 + margin``. The 33 kV lines and primary transformers are sized on their worst single
outage (N-1, as planners do; `scenarios.outages.world`), the sections of a feeder share its
trunk's rating (one conductor end to end), and transformers are rounded up to the next standard
size, so their real margins vary as they do in the field.

**Any networkx graph** (``graph=``) with these attributes can be used instead:

* nodes: ``kind`` (``"source"``: a bulk supply point, ``"load"``: customers attach here, or
  anything else), ``zone`` (for load nodes: a zone of the customers; elsewhere optional) and
  ``pos`` = (x, y) in km (optional: the zone's position is used);
* edges: ``kind`` (one of `EDGE_KINDS`; ``"feeder"`` by default), ``capacity_kw`` (optional:
  rated as above when missing), ``reactance`` (optional: 0.35 per km), ``length_km``
  (optional: from the positions), ``overhead`` (default: True for lines), ``age`` (years,
  default 30), ``normally_open`` (a tie switch; default False) and ``zone`` (where a crew goes;
  default: an end's zone).

Customers are attached to the load nodes of their zone in turn (``customers["node"]`` names
the node when given). `Grid.from_graph` compiles the graph to arrays once.

Libraries: networkx (the graph), numpy, scipy.spatial (distances).

Examples
--------
>>> import networkx as nx
>>> g = nx.Graph()
>>> g.add_node("grid", kind="source")
>>> g.add_node("a", kind="load", zone="z1")
>>> g.add_node("b", kind="load", zone="z1")
>>> g.add_edge("grid", "a", capacity_kw=100.0)
>>> g.add_edge("a", "b", capacity_kw=50.0)
>>> grid = Grid.from_graph(g, zones=["z1"])
>>> grid.n_nodes, grid.n_edges, grid.load_nodes.tolist()
(3, 2, [1, 2])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import polars as pl
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from populations.errors import ConfigError, closest_hint

__all__ = [
    "EDGE_KINDS",
    "PRIMARY_RATINGS_KVA",
    "SECONDARY_RATINGS_KVA",
    "Grid",
    "city_network",
    "rate",
]

EDGE_KINDS = ("subtransmission", "primary_transformer", "feeder", "transformer", "tie")
"""Kinds of component (every component is an edge of the graph)."""
EDGE_CODE = {k: i for i, k in enumerate(EDGE_KINDS)}
SUBTRANSMISSION, PRIMARY, FEEDER, TRANSFORMER, TIE = range(len(EDGE_KINDS))
SECONDARY_RATINGS_KVA = (50, 100, 200, 315, 500, 800, 1000, 1250, 1600, 2000, 2500)
"""Standard sizes of 11 kV/LV transformers (a rating above the largest is rounded up to 500s)."""
PRIMARY_RATINGS_KVA = (7500, 10000, 12000, 15000, 20000, 24000, 30000, 40000, 60000)
"""Standard sizes of 33/11 kV primary transformers."""
X_PER_KM = 0.35
_ROUTE = 1.2  # line length over straight-line distance
_MIN_LINE_KW = {SUBTRANSMISSION: 1000.0, FEEDER: 100.0, TIE: 100.0}


@dataclass
class Grid:
    """A network compiled to arrays: nodes, edges (the components) and their attributes.

    Node ``i`` is ``node_names[i]``; edge ``e`` joins ``u[e]`` and ``v[e]``. Zones are indices
    into the ``zones`` passed to `from_graph` (-1: none). `capacity` holds NaN where the graph
    gave no rating (see `rate`).
    """

    graph: Any
    zones: tuple[str, ...]
    node_names: list[Any]
    node_kind: np.ndarray  # 0 source, 1 bus, 2 load
    node_zone: np.ndarray
    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    kind: np.ndarray
    capacity: np.ndarray
    reactance: np.ndarray
    length_km: np.ndarray
    overhead: np.ndarray
    age: np.ndarray
    normally_open: np.ndarray
    zone: np.ndarray
    feeder: np.ndarray  # feeder number of a feeder section (-1: none or unknown)
    tie_feeders: np.ndarray  # (edges x 2) the feeders a tie joins (-1: unknown)
    xy: np.ndarray = field(init=False)

    SOURCE, BUS, LOAD = 0, 1, 2

    def __post_init__(self) -> None:
        self.xy = 0.5 * (self.node_xy[self.u] + self.node_xy[self.v])

    @property
    def n_nodes(self) -> int:
        return len(self.node_names)

    @property
    def n_edges(self) -> int:
        return int(self.u.size)

    @property
    def sources(self) -> np.ndarray:
        return np.flatnonzero(self.node_kind == self.SOURCE)

    @property
    def load_nodes(self) -> np.ndarray:
        return np.flatnonzero(self.node_kind == self.LOAD)

    @classmethod
    def from_graph(
        cls, graph: Any, *, zones: Sequence[str], zone_xy: np.ndarray | None = None
    ) -> Grid:
        """Compile `graph` (see the module docstring for its attributes).

        Raises
        ------
        ConfigError
            If the graph is not a networkx graph, has no source or no load node, or an
            attribute has the wrong kind of value (naming the node or edge).
        """
        if not isinstance(graph, nx.Graph):
            msg = f"`graph` must be a networkx graph, got {type(graph).__name__}."
            raise ConfigError(msg)
        if graph.is_directed():
            msg = "`graph` must be undirected (flows run either way). Hint: graph.to_undirected()."
            raise ConfigError(msg)
        zones = tuple(str(z) for z in zones)
        zone_index = {z: i for i, z in enumerate(zones)}
        names = list(graph.nodes)
        index = {name: i for i, name in enumerate(names)}
        n = len(names)
        node_kind = np.full(n, cls.BUS, dtype=np.int8)
        node_zone = np.full(n, -1, dtype=np.int16)
        node_xy = np.full((n, 2), np.nan)
        for i, (name, data) in enumerate(graph.nodes(data=True)):
            kind = data.get("kind", "bus")
            node_kind[i] = {"source": cls.SOURCE, "load": cls.LOAD}.get(kind, cls.BUS)
            zone = data.get("zone")
            if zone is not None:
                if str(zone) not in zone_index:
                    msg = (
                        f"node {name!r} of `graph` has zone {zone!r}, which has no customers. "
                        + (closest_hint(str(zone), zones))
                    )
                    raise ConfigError(msg)
                node_zone[i] = zone_index[str(zone)]
            if "pos" in data:
                try:
                    node_xy[i] = [float(data["pos"][0]), float(data["pos"][1])]
                except (TypeError, ValueError, IndexError):
                    msg = (
                        f"node {name!r} of `graph`: `pos` must be (x, y) in km, "
                        f"got {data['pos']!r}."
                    )
                    raise ConfigError(msg) from None
            elif zone is not None and zone_xy is not None:
                node_xy[i] = zone_xy[node_zone[i]]
            if node_kind[i] == cls.LOAD and node_zone[i] < 0:
                msg = f"load node {name!r} of `graph` has no `zone`: customers attach by zone."
                raise ConfigError(msg)
        if not (node_kind == cls.SOURCE).any():
            msg = (
                "`graph` has no source node. Hint: mark the bulk supply points with kind='source'."
            )
            raise ConfigError(msg)
        if not (node_kind == cls.LOAD).any():
            msg = (
                "`graph` has no load node. Hint: mark the nodes customers hang on with kind='load'."
            )
            raise ConfigError(msg)
        # Nodes without a position sit at the mean of their placed neighbours (or the city's).
        missing = np.isnan(node_xy[:, 0])
        if missing.all():
            node_xy[:] = 0.0
        elif missing.any():
            centre = np.nanmean(node_xy, axis=0)
            for i in np.flatnonzero(missing):
                near = [index[m] for m in graph.neighbors(names[i])]
                placed = [j for j in near if not missing[j]]
                node_xy[i] = node_xy[placed].mean(axis=0) if placed else centre

        edges = list(graph.edges(data=True))
        m = len(edges)
        u = np.empty(m, dtype=np.int32)
        v = np.empty(m, dtype=np.int32)
        kind = np.empty(m, dtype=np.int8)
        capacity = np.full(m, np.nan)
        reactance = np.empty(m)
        length = np.empty(m)
        overhead = np.empty(m, dtype=bool)
        age = np.empty(m, dtype=np.float32)
        normally_open = np.empty(m, dtype=bool)
        zone = np.empty(m, dtype=np.int16)
        feeder = np.full(m, -1, dtype=np.int32)
        tie_feeders = np.full((m, 2), -1, dtype=np.int32)
        for e, (a, b, data) in enumerate(edges):
            u[e], v[e] = index[a], index[b]
            where = f"edge ({a!r}, {b!r}) of `graph`"
            k = data.get("kind", "feeder")
            if k not in EDGE_CODE:
                msg = f"{where} has kind {k!r}. " + closest_hint(str(k), EDGE_KINDS)
                raise ConfigError(msg)
            kind[e] = EDGE_CODE[k]
            normally_open[e] = bool(data.get("normally_open", k == "tie"))
            dist = float(np.hypot(*(node_xy[u[e]] - node_xy[v[e]])))
            length[e] = _number(where, "length_km", data.get("length_km", max(dist, 0.05)))
            reactance[e] = _number(where, "reactance", data.get("reactance", X_PER_KM * length[e]))
            if reactance[e] <= 0:
                msg = f"{where} has reactance {reactance[e]!r}; it must be positive."
                raise ConfigError(msg)
            cap = data.get("capacity_kw")
            if cap is not None:
                capacity[e] = _number(where, "capacity_kw", cap)
                if capacity[e] <= 0:
                    msg = f"{where} has capacity_kw {cap!r}; it must be positive."
                    raise ConfigError(msg)
            overhead[e] = bool(data.get("overhead", kind[e] in (SUBTRANSMISSION, FEEDER)))
            age[e] = _number(where, "age", data.get("age", 30.0))
            if isinstance(data.get("feeder"), int | np.integer):
                feeder[e] = int(data["feeder"])
            pair = data.get("feeders")
            if isinstance(pair, tuple | list) and len(pair) == 2:
                tie_feeders[e] = [int(pair[0]), int(pair[1])]
            if "zone" in data:
                if str(data["zone"]) not in zone_index:
                    msg = f"{where} has zone {data['zone']!r}. " + closest_hint(
                        str(data["zone"]), zones
                    )
                    raise ConfigError(msg)
                zone[e] = zone_index[str(data["zone"])]
            else:
                zone[e] = node_zone[v[e]] if node_zone[v[e]] >= 0 else node_zone[u[e]]
        # Edges with no zone on either end go to the zone nearest their midpoint.
        if (zone < 0).any() and zone_xy is not None and len(zone_xy):
            mid = 0.5 * (node_xy[u] + node_xy[v])
            nearest = cdist(mid, zone_xy).argmin(axis=1)
            zone = np.where(zone < 0, nearest, zone).astype(np.int16)
        zone = np.maximum(zone, 0).astype(np.int16)
        return cls(
            graph=graph,
            zones=zones,
            node_names=names,
            node_kind=node_kind,
            node_zone=node_zone,
            node_xy=node_xy,
            u=u,
            v=v,
            kind=kind,
            capacity=capacity,
            reactance=reactance,
            length_km=length,
            overhead=overhead,
            age=age,
            normally_open=normally_open,
            zone=zone,
            feeder=feeder,
            tie_feeders=tie_feeders,
        )

    def attach(self, customers: pl.DataFrame) -> np.ndarray:
        """The load node (index) of each customer: ``customers["node"]`` if given, else the
        load nodes of the customer's zone in turn (customer order)."""
        if "node" in customers.columns:
            index = {name: i for i, name in enumerate(self.node_names)}
            names = customers["node"].to_list()
            bad = next((x for x in names if x not in index), None)
            if bad is not None:
                msg = f"customer node {bad!r} is not a node of the network."
                raise ConfigError(msg)
            nodes = np.array([index[x] for x in names], dtype=np.int32)
            if (self.node_kind[nodes] != self.LOAD).any():
                bad = names[int(np.flatnonzero(self.node_kind[nodes] != self.LOAD)[0])]
                msg = f"customers hang on node {bad!r}, which is not a load node (kind='load')."
                raise ConfigError(msg)
            return nodes
        zone = customers["zone"].cast(pl.String).to_list()
        codes = np.array([self.zones.index(z) for z in zone], dtype=np.int64)
        nodes = np.empty(codes.size, dtype=np.int32)
        loads = self.load_nodes
        for z in np.unique(codes):
            here = loads[self.node_zone[loads] == z]
            if here.size == 0:
                msg = (
                    f"zone `{self.zones[z]}` has customers but the network has no load node in "
                    "it. Hint: give a node kind='load' and zone='"
                    f"{self.zones[z]}'."
                )
                raise ConfigError(msg)
            rows = np.flatnonzero(codes == z)
            nodes[rows] = here[np.arange(rows.size) % here.size]
        return nodes


def _number(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        msg = f"{where}: `{name}` must be a number, got {value!r}."
        raise ConfigError(msg)
    if not math.isfinite(float(value)):
        msg = f"{where}: `{name}` must be finite, got {value!r}."
        raise ConfigError(msg)
    return float(value)


# ------------------------------------------------------------------------------- generation


def city_network(
    zone_xy: np.ndarray,
    zones: Sequence[str],
    districts: Sequence[str],
    customers: pl.DataFrame,
    *,
    customers_per_transformer: int = 120,
    transformers_per_feeder: int = 8,
    underground_share: float = 0.35,
    age_mean: float = 30.0,
    rng: np.random.Generator,
) -> tuple[nx.MultiGraph, list[str]]:
    """A distribution network for the city, and the node each customer hangs on.

    See the module docstring for its layout. The graph has no ratings yet (`rate` adds them
    from the design loads). Deterministic given `rng` (which draws the ages).
    """
    zones = [str(z) for z in zones]
    districts = [str(d) for d in districts]
    centre = zone_xy.mean(axis=0)
    lo, hi = zone_xy.min(axis=0), zone_xy.max(axis=0)
    g = nx.MultiGraph()
    # bulk supply points: along the long side of the city, 3 km outside it
    order = list(dict.fromkeys(districts))
    n_bsp = max(1, round(len(order) / 4))
    axis = 0 if hi[0] - lo[0] >= hi[1] - lo[1] else 1
    bsp_xy = np.tile(centre, (n_bsp, 1))
    for k in range(n_bsp):
        t = 0.5 if n_bsp == 1 else k / (n_bsp - 1)
        bsp_xy[k, axis] = lo[axis] - 3.0 + (hi[axis] - lo[axis] + 6.0) * t
        g.add_node(f"BSP{k + 1}", kind="source", pos=tuple(bsp_xy[k]), voltage_kv=132)
    # primary substations, one per district at its zones' centroid
    prim_xy = np.array(
        [zone_xy[[i for i, d in enumerate(districts) if d == dd]].mean(axis=0) for dd in order]
    )
    for d, name in enumerate(order):
        g.add_node(f"{name}/33kV", kind="bus", pos=tuple(prim_xy[d]), voltage_kv=33)
        g.add_node(f"{name}/11kV", kind="bus", pos=tuple(prim_xy[d]), voltage_kv=11)
        for _ in range(2):
            g.add_edge(
                f"{name}/33kV",
                f"{name}/11kV",
                kind="primary_transformer",
                reactance=0.1,
                overhead=False,
                length_km=0.0,
                zone=_nearest_zone(prim_xy[d], zone_xy, zones),
            )
    # meshed subtransmission: each primary to its two nearest points, each BSP to its two
    # nearest primaries, and a spanning tree over everything
    points = np.vstack([bsp_xy, prim_xy])
    names = [f"BSP{k + 1}" for k in range(n_bsp)] + [f"{d}/33kV" for d in order]
    dist = cdist(points, points)
    pairs: set[tuple[int, int]] = set()
    for i in range(len(points)):
        others = [j for j in np.argsort(dist[i], kind="stable") if j != i]
        if i < n_bsp:
            others = [j for j in others if j >= n_bsp]
        for j in others[:2]:
            pairs.add((min(i, j), max(i, j)))
    tree = minimum_spanning_tree(dist).tocoo()
    pairs |= {(min(i, j), max(i, j)) for i, j in zip(tree.row, tree.col, strict=True)}
    pairs = {(i, j) for i, j in pairs if not (i < n_bsp and j < n_bsp)}
    for i, j in sorted(pairs):
        mid = 0.5 * (points[i] + points[j])
        g.add_edge(
            names[i],
            names[j],
            kind="subtransmission",
            length_km=float(dist[i, j] * _ROUTE),
            overhead=True,
            zone=_nearest_zone(mid, zone_xy, zones),
        )

    # feeders zone by zone
    zone_codes = customers["zone"].cast(pl.String).to_list()
    zone_of = {z: i for i, z in enumerate(zones)}
    codes = np.array([zone_of[z] for z in zone_codes], dtype=np.int64)
    hospital = (customers["kind"].cast(pl.String) == "hospital").to_numpy()
    node_of = np.empty(customers.height, dtype=object)
    feeder_sections: list[tuple[int, str, str, float, int]] = []  # (zone, a, b, km, feeder)
    feeder_ends: list[tuple[str, np.ndarray, int]] = []  # (node, xy, feeder id)
    transformers: list[tuple[int, str, str]] = []
    feeder_id = 0
    for z in range(len(zones)):
        rows = np.flatnonzero(codes == z)
        if rows.size == 0:
            continue
        d = order.index(districts[z])
        source = f"{order[d]}/11kV"
        ordinary = rows[~hospital[rows]]
        n_tx = max(1, math.ceil(ordinary.size / customers_per_transformer)) if ordinary.size else 0
        names_z = [f"{zones[z]}/S{j + 1}" for j in range(n_tx)]
        names_z += [f"{zones[z]}/H{k + 1}" for k in range(int(hospital[rows].sum()))]
        for j, r in enumerate(ordinary):
            node_of[r] = names_z[j % n_tx] + "/lv"
        for k, r in enumerate(rows[hospital[rows]]):
            node_of[r] = names_z[n_tx + k] + "/lv"
        m = len(names_z)
        angles = 2 * np.pi * (np.arange(m) + 0.5) / m
        xy = zone_xy[z] + 0.6 * np.column_stack([np.cos(angles), np.sin(angles)])
        for j, name in enumerate(names_z):
            g.add_node(name, kind="bus", zone=zones[z], pos=tuple(xy[j]), voltage_kv=11)
            g.add_node(name + "/lv", kind="load", zone=zones[z], pos=tuple(xy[j]), voltage_kv=0.4)
            transformers.append((z, name, name + "/lv"))
        n_feeders = math.ceil(m / transformers_per_feeder)
        for chunk in np.array_split(np.arange(m), n_feeders):
            prev, prev_xy = source, prim_xy[d]
            for j in chunk:
                km = float(np.hypot(*(xy[j] - prev_xy))) * _ROUTE
                feeder_sections.append((z, prev, names_z[j], max(km, 0.15), feeder_id))
                prev, prev_xy = names_z[j], xy[j]
            feeder_ends.append((prev, prev_xy, feeder_id))
            feeder_id += 1
    # overhead or underground, by zone: the zones nearest the centre first
    sections_per_zone = np.bincount([s[0] for s in feeder_sections], minlength=len(zones))
    by_distance = np.argsort(np.hypot(*(zone_xy - centre).T), kind="stable")
    underground = np.zeros(len(zones), dtype=bool)
    covered, target = 0, underground_share * len(feeder_sections)
    for z in by_distance:
        if covered + sections_per_zone[z] / 2 > target:
            break
        underground[z] = True
        covered += sections_per_zone[z]
    for z, a, b, km, fid in feeder_sections:
        g.add_edge(
            a,
            b,
            kind="feeder",
            length_km=km,
            overhead=not underground[z],
            zone=zones[z],
            feeder=fid,
        )
    for z, a, b in transformers:
        g.add_edge(
            a,
            b,
            kind="transformer",
            length_km=0.0,
            reactance=0.5,
            overhead=not underground[z],
            zone=zones[z],
        )
    # normally-open ties: each feeder end to the nearest end of another feeder
    if len(feeder_ends) > 1:
        end_xy = np.array([e[1] for e in feeder_ends])
        gap = cdist(end_xy, end_xy)
        np.fill_diagonal(gap, np.inf)
        tied: set[tuple[int, int]] = set()
        for i in range(len(feeder_ends)):
            j = int(np.argmin(gap[i]))
            key = (min(i, j), max(i, j))
            if key in tied or feeder_ends[i][0] == feeder_ends[j][0]:
                continue
            tied.add(key)
            a, b = feeder_ends[i][0], feeder_ends[j][0]
            zone = g.nodes[a]["zone"]
            g.add_edge(
                a,
                b,
                kind="tie",
                normally_open=True,
                overhead=False,
                length_km=float(max(gap[i, j] * _ROUTE, 0.1)),
                zone=zone,
                feeders=(feeder_ends[i][2], feeder_ends[j][2]),
            )
    # ages: gamma around the mean (shape 4: most between half and twice the mean)
    for _, _, data in g.edges(data=True):
        shape = 4.0
        data["age"] = (
            float(np.clip(rng.gamma(shape, age_mean / shape), 1.0, 90.0)) if age_mean > 0 else 0.0
        )
    return g, [str(x) for x in node_of]


def _nearest_zone(point: np.ndarray, zone_xy: np.ndarray, zones: Sequence[str]) -> str:
    return zones[int(np.argmin(np.hypot(*(zone_xy - point).T)))]


# ------------------------------------------------------------------------------- ratings


def _round_up(kw: np.ndarray, ladder: Sequence[float]) -> np.ndarray:
    steps = np.asarray(ladder, dtype=np.float64)
    idx = np.searchsorted(steps, kw, side="left")
    top = np.ceil(kw / 500.0) * 500.0
    return np.where(idx < steps.size, steps[np.minimum(idx, steps.size - 1)], top)


def rate(
    grid: Grid,
    design_flow: np.ndarray,
    *,
    margin_lines: float,
    margin_subtransmission: float,
    margin_transformers: float,
    margin_primary: float,
) -> np.ndarray:
    """Capacities (kW) for the edges that have none: ``(1 + margin) x |design flow|``.

    Transformers are rounded up to the next standard size (`SECONDARY_RATINGS_KVA`,
    `PRIMARY_RATINGS_KVA`; kVA taken as kW), lines get at least 100 kW (1 MW at 33 kV), and the
    sections of one feeder (``grid.feeder``) share its trunk's rating (one conductor). A tie
    carries nothing at the design point: it gets the smaller trunk rating of the two feeders it
    joins (``grid.tie_feeders``, ``grid.feeder``), or else the median feeder rating.
    Given capacities are kept.
    """
    flow = np.abs(design_flow)
    cap = grid.capacity.copy()
    todo = np.isnan(cap)
    kind = grid.kind
    margin = np.select(
        [kind == SUBTRANSMISSION, kind == PRIMARY, kind == TRANSFORMER],
        [margin_subtransmission, margin_primary, margin_transformers],
        default=margin_lines,
    )
    want = (1.0 + margin) * flow
    new = np.where(kind == TRANSFORMER, _round_up(want, SECONDARY_RATINGS_KVA), want)
    new = np.where(kind == PRIMARY, _round_up(want, PRIMARY_RATINGS_KVA), new)
    floor = np.array([_MIN_LINE_KW.get(int(k), 0.0) for k in range(len(EDGE_KINDS))])[kind]
    new = np.maximum(new, np.where(kind == TRANSFORMER, SECONDARY_RATINGS_KVA[0], floor))
    # a feeder is one conductor from end to end: every section gets its trunk's rating
    feeders = (kind == FEEDER) & (grid.feeder >= 0)
    if feeders.any():
        trunk_cap = np.zeros(int(grid.feeder.max()) + 1)
        np.maximum.at(trunk_cap, grid.feeder[feeders], new[feeders])
        new = np.where(feeders, trunk_cap[np.maximum(grid.feeder, 0)], new)
    cap[todo] = new[todo]
    ties = np.flatnonzero(todo & (kind == TIE))
    if ties.size:
        feeders = np.flatnonzero(kind == FEEDER)
        fallback = float(np.median(cap[feeders])) if feeders.size else 1000.0
        trunk: dict[int, float] = {}
        for e in feeders:  # the first section of a feeder carries all of it: the largest
            f = int(grid.feeder[e])
            if f >= 0:
                trunk[f] = max(trunk.get(f, 0.0), float(cap[e]))
        for e in ties:
            ratings = [trunk[int(f)] for f in grid.tie_feeders[e] if int(f) in trunk]
            cap[e] = min(ratings) if ratings else fallback
    return cap
