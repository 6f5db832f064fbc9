"""Road networks: networkx graphs to model and exchange, compiled to CSR arrays to compute on.

A road network is a ``networkx.DiGraph`` (or ``MultiDiGraph``, as osmnx saves) whose edges are
links with these attributes:

* ``length`` (m) and ``capacity`` (vehicles per hour), both required;
* ``free_time`` (s), or ``speed`` (km/h) from which it follows;
* optional: ``lanes`` (1), ``alpha`` and ``beta`` (the link's own BPR parameters; the run's
  by default), ``kind`` (``road``; the built-in city uses ``local``, ``arterial``, ``ring``,
  ``bridge`` and ``connector``; OpenStreetMap adds ``motorway``), ``name``, ``toll`` (EUR
  per traversal, fixed).

Nodes may carry ``x``, ``y`` (metres, or degrees for OpenStreetMap) and ``zone`` (the zone
whose trips start and end there). The graph attribute ``transit_lines`` lists bus lines
(``{"name", "nodes", "frequency"}``) and ``no_through`` the nodes trips may start or end at but
not pass through (TNTP's zones below ``<FIRST THRU NODE>``).

`compile_network` checks the graph (a message naming the link for a missing or negative
attribute) and returns a `Network`: one row per link in arrays (``tail``, ``head``,
``length``...), and a CSR layout for `scipy.sparse.csgraph`, whose shortest-path routines
want at most one edge per pair of nodes. A second or third link between the same two nodes
(common in OpenStreetMap) is therefore split by a virtual node: the link keeps its attributes up
to the virtual node, and a virtual link of zero length and time leads on (``virtual`` marks it;
it carries the same flow and is left out of outputs). A ``no_through`` node gets a twin that
holds its outgoing links, so shortest paths may leave it but never pass through it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from populations.errors import ConfigError, closest_hint

__all__ = ["KINDS", "WALK_EXCLUDED", "Network", "compile_network"]

KINDS = ("road", "local", "arterial", "ring", "bridge", "connector", "motorway", "virtual")
"""Link kinds known to the policies and outputs (others read from files become ``road``)."""
WALK_EXCLUDED = ("ring", "motorway")
"""Kinds of link closed to pedestrians and cyclists."""
MIN_COST = 1e-6
"""Seconds: csgraph drops zero-weight entries, so every link costs at least this."""


def _where(source: str | None, u: Any, v: Any) -> str:
    return f"{source}: link ({u}, {v})" if source else f"link ({u}, {v})"


def _number(where: str, data: Mapping[str, Any], key: str, *, required: bool) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            msg = (
                f"{where} has no `{key}`. Hint: every link needs `length` (m), `capacity` "
                "(veh/h) and `free_time` (s) or `speed` (km/h)."
            )
            raise ConfigError(msg)
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        msg = f"{where}: `{key}` = {value!r} is not a number."
        raise ConfigError(msg) from None
    if math.isnan(number):
        msg = f"{where}: `{key}` is not a number (NaN)."
        raise ConfigError(msg)
    return number


@dataclass
class Network:
    """A compiled road network: links as arrays, a CSR layout, zones and transit lines.

    Link arrays (one row per link, `virtual` links last): ``tail``, ``head`` (node indices),
    ``length`` (m), ``free_time`` (s), ``capacity`` (veh/h), ``lanes``, ``alpha``, ``beta``,
    ``kind`` (codes of `KINDS`), ``toll`` (EUR), ``name`` and ``label`` (the link's id in the
    source graph: ``"u-v"`` or ``"u-v-key"``). Nodes: ``nodes`` (the graph's node ids, then
    virtual nodes as None), ``x``, ``y``. Zones: ``zones`` (names), ``origin`` and ``dest`` (the
    node each zone's trips start from and end at) and ``zone_link`` (the link its activities
    take place on, for MATSim events); ``area`` (the zone each node lies in, -1 unknown).
    """

    graph: nx.DiGraph
    nodes: list[Any]
    x: np.ndarray
    y: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    length: np.ndarray
    free_time: np.ndarray
    capacity: np.ndarray
    lanes: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    kind: np.ndarray
    toll: np.ndarray
    name: list[str]
    label: list[str]
    zones: tuple[str, ...]
    origin: np.ndarray
    dest: np.ndarray
    zone_link: np.ndarray
    transit_lines: list[dict[str, Any]] = field(default_factory=list)
    area: np.ndarray = field(default=None)  # type: ignore[assignment]
    _order: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _indptr: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _indices: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _keys: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _key_link: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = self.n_nodes
        keys = self.tail.astype(np.int64) * n + self.head
        order = np.argsort(keys, kind="stable")
        self._keys, self._key_link = keys[order], order
        self._order = order  # CSR entries in (tail, head) order
        self._indices = self.head[order].astype(np.int32)
        self._indptr = np.searchsorted(self.tail[order], np.arange(n + 1)).astype(np.int32)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_links(self) -> int:
        return int(self.tail.size)

    @property
    def n_zones(self) -> int:
        return len(self.zones)

    @property
    def virtual(self) -> np.ndarray:
        return self.kind == KINDS.index("virtual")

    def kind_mask(self, kinds: Sequence[str]) -> np.ndarray:
        """Links whose kind is one of `kinds` (a `ConfigError` names an unknown kind)."""
        codes = []
        for k in kinds:
            if k not in KINDS:
                msg = f"unknown link kind `{k}`. " + closest_hint(k, KINDS)
                raise ConfigError(msg)
            codes.append(KINDS.index(k))
        return np.isin(self.kind, codes)

    def matrix(self, cost: np.ndarray) -> sp.csr_array:
        """The graph weighted by `cost` (one value per link) as a CSR array for csgraph."""
        data = np.maximum(np.asarray(cost, dtype=np.float64)[self._order], MIN_COST)
        # Copies: scipy may change a matrix's index arrays in place (eliminate_zeros).
        return sp.csr_array(
            (data, self._indices.copy(), self._indptr.copy()),
            shape=(self.n_nodes, self.n_nodes),
        )

    def link_between(self, tail: np.ndarray, head: np.ndarray) -> np.ndarray:
        """The link from each `tail` to each `head` node (-1 where there is none)."""
        keys = np.asarray(tail, np.int64) * self.n_nodes + np.asarray(head, np.int64)
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, self._keys.size - 1)
        found = self._keys[pos] == keys
        return np.where(found, self._key_link[pos], -1)

    def find_links(self, wanted: Sequence[str]) -> np.ndarray:
        """Links whose name or label is in `wanted` (a `ConfigError` names one that is not)."""
        names = np.array(self.name, dtype=object)
        labels = np.array(self.label, dtype=object)
        found = np.zeros(self.n_links, bool)
        for w in wanted:
            hit = (names == w) | (labels == w)
            if not hit.any():
                known = sorted({n for n in self.name if n})[:200] or self.label[:50]
                msg = f"no link is named `{w}`. " + closest_hint(w, known)
                raise ConfigError(msg)
            found |= hit
        return np.flatnonzero(found)


def compile_network(
    graph: nx.DiGraph,
    *,
    zones: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> Network:
    """Check `graph` and compile it to a `Network`.

    Parameters
    ----------
    graph : networkx.DiGraph or MultiDiGraph
        Links with the attributes of the module docstring.
    zones : mapping of zone name to node, optional
        Where each zone's trips start and end. Default: the nodes' ``zone`` attributes.
    source : str, optional
        A file name for messages.

    Raises
    ------
    ConfigError
        A link without length, capacity or a speed, a negative or non-numeric value, a zone at
        a node not in the graph, no zones at all.

    Examples
    --------
    >>> g = nx.DiGraph()
    >>> g.add_node("a", zone="A"); g.add_node("b", zone="B")
    >>> g.add_edge("a", "b", length=1000.0, capacity=1800.0, speed=50.0)
    >>> net = compile_network(g)
    >>> net.n_links, round(float(net.free_time[0]), 1), net.zones
    (1, 72.0, ('A', 'B'))
    """
    if not isinstance(graph, nx.DiGraph):
        msg = (
            f"a road network must be a directed networkx graph, got {type(graph).__name__}. "
            "Hint: nx.DiGraph(...) or nx.MultiDiGraph(...) (read_tntp_network, read_osm_graphml)."
        )
        raise ConfigError(msg)
    where = f"{source}: " if source else ""
    if graph.number_of_edges() == 0:
        msg = f"{where}the road network has no links."
        raise ConfigError(msg)
    nodes = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    multi = graph.is_multigraph()
    edges = graph.edges(keys=True, data=True) if multi else graph.edges(data=True)

    rows: dict[str, list[Any]] = {
        k: [] for k in ("tail", "head", "length", "time", "cap", "lanes", "alpha", "beta", "kind")
    }
    names: list[str] = []
    labels: list[str] = []
    tolls: list[float] = []
    for edge in edges:
        if multi:
            u, v, key, data = edge
            label = f"{u}-{v}" if key == 0 else f"{u}-{v}-{key}"
        else:
            u, v, data = edge
            label = f"{u}-{v}"
        w = _where(source, u, v)
        length = _number(w, data, "length", required=True)
        capacity = _number(w, data, "capacity", required=True)
        free_time = _number(w, data, "free_time", required=False)
        speed = _number(w, data, "speed", required=False)
        if free_time is None:
            if speed is None:
                msg = (
                    f"{w} has neither `free_time` (s) nor `speed` (km/h). Hint: every link "
                    "needs one of them to give its free-flow travel time."
                )
                raise ConfigError(msg)
            if speed <= 0:
                msg = f"{w}: `speed` = {speed} km/h; a speed must be positive."
                raise ConfigError(msg)
            free_time = length / (speed / 3.6)
        for key_name, value in (
            ("length", length),
            ("capacity", capacity),
            ("free_time", free_time),
        ):
            if value < 0:
                msg = f"{w}: `{key_name}` = {value:g}; it must not be negative."
                raise ConfigError(msg)
        if capacity == 0:
            msg = (
                f"{w}: `capacity` is 0. Hint: remove a closed link, or close it for a time "
                "with the `closure` policy."
            )
            raise ConfigError(msg)
        lanes = _number(w, data, "lanes", required=False)
        alpha = _number(w, data, "alpha", required=False)
        beta = _number(w, data, "beta", required=False)
        toll = _number(w, data, "toll", required=False)
        for key_name, value in (("lanes", lanes), ("alpha", alpha), ("beta", beta), ("toll", toll)):
            if value is not None and value < 0:
                msg = f"{w}: `{key_name}` = {value:g}; it must not be negative."
                raise ConfigError(msg)
        kind = str(data.get("kind", "road"))
        rows["tail"].append(index[u])
        rows["head"].append(index[v])
        rows["length"].append(length)
        rows["time"].append(free_time)
        rows["cap"].append(capacity)
        rows["lanes"].append(1.0 if lanes is None else max(lanes, 1.0))
        rows["alpha"].append(np.nan if alpha is None else alpha)
        rows["beta"].append(np.nan if beta is None else beta)
        rows["kind"].append(KINDS.index(kind) if kind in KINDS[:-1] else 0)
        names.append(str(data.get("name", "") or ""))
        labels.append(label)
        tolls.append(0.0 if toll is None else toll)

    tail = np.array(rows["tail"], np.int64)
    head = np.array(rows["head"], np.int64)
    arrays = {
        "length": np.array(rows["length"]),
        "free_time": np.array(rows["time"]),
        "capacity": np.array(rows["cap"]),
        "lanes": np.array(rows["lanes"]),
        "alpha": np.array(rows["alpha"]),
        "beta": np.array(rows["beta"]),
        "kind": np.array(rows["kind"], np.int8),
        "toll": np.array(tolls),
    }
    xs = np.array([_coord(graph.nodes[n], "x") for n in nodes], dtype=np.float64)
    ys = np.array([_coord(graph.nodes[n], "y") for n in nodes], dtype=np.float64)
    nodes = list(nodes)

    # Nodes that may not be passed through: a twin takes their outgoing links.
    no_through = set(graph.graph.get("no_through", ()))
    start_node = {}
    for node in sorted(no_through, key=index.get):
        if node not in index:
            continue
        twin = len(nodes)
        nodes.append(None)
        xs, ys = np.append(xs, xs[index[node]]), np.append(ys, ys[index[node]])
        tail[tail == index[node]] = twin
        start_node[index[node]] = twin

    # Parallel links: every duplicate of a (tail, head) pair after the first is split.
    key = tail * (len(nodes) + 1) + head
    order = np.argsort(key, kind="stable")
    dup = np.zeros(tail.size, bool)
    dup[order[1:]] = key[order[1:]] == key[order[:-1]]
    extra = np.flatnonzero(dup)
    if extra.size:
        mids = np.arange(len(nodes), len(nodes) + extra.size)
        nodes.extend([None] * extra.size)
        xs = np.append(xs, (xs[tail[extra]] + xs[head[extra]]) / 2)
        ys = np.append(ys, (ys[tail[extra]] + ys[head[extra]]) / 2)
        old_head = head[extra].copy()
        head[extra] = mids
        tail = np.append(tail, mids)
        head = np.append(head, old_head)
        for k, arr in arrays.items():
            fill = {"kind": KINDS.index("virtual"), "capacity": arr[extra], "lanes": arr[extra]}
            arrays[k] = np.append(arr, fill.get(k, np.zeros(extra.size)))
        arrays["alpha"][-extra.size :] = 0.0
        arrays["beta"][-extra.size :] = 1.0
        names += [names[i] for i in extra]
        labels += [labels[i] + "-virtual" for i in extra]

    zone_map = _zones(graph, zones, index, where)
    zone_names = tuple(zone_map)
    dest = np.array([index[zone_map[z]] for z in zone_names], np.int64)
    origin = np.array([start_node.get(d, d) for d in dest], np.int64)
    net = Network(
        graph=graph,
        nodes=nodes,
        x=xs,
        y=ys,
        tail=tail,
        head=head,
        name=names,
        label=labels,
        zones=zone_names,
        origin=origin,
        dest=dest,
        zone_link=np.full(len(zone_names), -1, np.int64),
        transit_lines=list(graph.graph.get("transit_lines", [])),
        **arrays,
    )
    net.zone_link = _zone_links(net)
    net.area = _areas(graph, net, index, zone_names)
    return net


def _coord(data: Mapping[str, Any], key: str) -> float:
    try:
        return float(data.get(key, np.nan))
    except (TypeError, ValueError):
        return np.nan


def _zones(
    graph: nx.DiGraph, zones: Mapping[str, Any] | None, index: Mapping[Any, int], where: str
) -> dict[str, Any]:
    if zones is None:
        found = {str(d["zone"]): n for n, d in graph.nodes(data=True) if d.get("zone") is not None}
        if not found:
            msg = (
                f"{where}the road network has no zones: no node has a `zone` attribute. "
                "Hint: pass zones={zone: node} (compile_network(graph, zones=...))."
            )
            raise ConfigError(msg)
        return dict(sorted(found.items(), key=lambda item: _natural(item[0])))
    out = {}
    for zone, node in zones.items():
        if node not in index:
            msg = (
                f"{where}zone `{zone}` is at node {node!r}, which is not in the road network. "
                + closest_hint(str(node), [str(n) for n in list(index)[:5000]])
            )
            raise ConfigError(msg)
        out[str(zone)] = node
    return out


def _areas(
    graph: nx.DiGraph, net: Network, index: Mapping[Any, int], zone_names: tuple[str, ...]
) -> np.ndarray:
    """The zone each node lies in: its ``area`` attribute, else the nearest zone's node (by
    coordinates), else -1 (zone nodes are in their own zone)."""
    area = np.full(net.n_nodes, -1, np.int64)
    zone_index = {z: i for i, z in enumerate(zone_names)}
    for node, data in graph.nodes(data=True):
        z = data.get("area")
        if z is not None and str(z) in zone_index:
            area[index[node]] = zone_index[str(z)]
    known = np.isfinite(net.x) & np.isfinite(net.y)
    zx, zy = net.x[net.dest], net.y[net.dest]
    if (area < 0).any() and known[net.dest].all() and known.any():
        from scipy.spatial import cKDTree

        todo = np.flatnonzero((area < 0) & known)
        _, nearest = cKDTree(np.column_stack([zx, zy])).query(
            np.column_stack([net.x[todo], net.y[todo]])
        )
        area[todo] = nearest
    area[net.dest] = np.arange(net.n_zones)
    area[net.origin] = np.arange(net.n_zones)
    return area


def _natural(name: str) -> list[Any]:
    """Sort key putting ``2`` before ``10`` (TNTP zones are numbers)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name) if p]


def _zone_links(net: Network) -> np.ndarray:
    """Each zone's activity link: the connector into it, else any real link into its node."""
    real = ~net.virtual
    links = np.full(net.n_zones, -1, np.int64)
    connector = KINDS.index("connector")
    for z, node in enumerate(net.dest.tolist()):
        into = np.flatnonzero((net.head == node) & real)
        if into.size == 0:
            into = np.flatnonzero((net.tail == net.origin[z]) & real)
        if into.size:
            conn = into[net.kind[into] == connector]
            links[z] = conn[0] if conn.size else into[0]
    return links
