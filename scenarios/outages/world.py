"""The city a season runs on: zones, customers, the rated network and what depends on what.

`build_world` puts together, from a population (by default a sample of the demo city drawn from
the stream ``"population"`` of ``city_seed``): the zones' layout and roads
(`scenarios.outages.geography`), the customers (`scenarios.outages.customers`), the network
(`scenarios.outages.grid`, generated or given) with its ratings sized on the design day
(`scenarios.outages.demand`), the power flow (`scenarios.outages.flows`), and for every
component the load nodes it alone supplies (its N-1 dependants: what the dispatch rules count).

The world is the same for every run of one city (the weather is what varies), so the demo
city's world is built once per process and shared by the runs that use it (read-only: a model
copies what it changes). A rare-event estimate of thousands of seasons pays for the city once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import polars as pl
import scipy.sparse as sp

from abm.rng import Streams
from populations.demo import demo_persons
from populations.errors import ConfigError
from scenarios.outages.customers import CUSTOMER_KINDS, build_customers
from scenarios.outages.demand import design_day
from scenarios.outages.flows import PowerFlow
from scenarios.outages.geography import road_graph, zone_layout
from scenarios.outages.grid import PRIMARY, SUBTRANSMISSION, TIE, Grid, city_network, rate
from scenarios.outages.params import Network

__all__ = ["World", "build_world"]

_ZONES_PER_DISTRICT = 6  # districts made up when a population has none


@dataclass
class World:
    """A city's network and customers, compiled for a season's runs (treated as read-only).

    Build one with `build_world` and pass it to several models (``OutageModel(world=...)``)
    to pay for the city once, as the demo city's world is shared automatically.
    """

    network: Network  # what it was built with (a model checks its parameters agree)
    city_seed: int
    diurnal_range: float
    zones: tuple[str, ...]
    zone_xy: np.ndarray
    roads: nx.Graph
    customers: pl.DataFrame
    grid: Grid
    flow: PowerFlow
    customer_node: np.ndarray  # load node of each customer
    node_kind_kw: np.ndarray  # nodes x kinds: summed mean demand
    node_customers: np.ndarray  # customers per node
    node_critical: np.ndarray  # critical customers per node
    node_order: np.ndarray  # customer rows sorted by node (with node_start: CSR)
    node_start: np.ndarray
    design_flow: np.ndarray  # the flow each rating was sized on (N-1 for the meshed part)
    dependants: sp.csr_matrix  # edges x nodes: nodes cut off by losing the edge alone
    meshed: np.ndarray  # edges whose loss alone cuts off nobody (N-1 secure)
    normal: np.ndarray  # usable edges in the normal state (ties open)
    normal_flows: np.ndarray  # edges x kinds: normal-state flows per unit of each kind's factor

    def customers_at(self, nodes: np.ndarray) -> np.ndarray:
        """Customer rows hanging on `nodes` (concatenated in node order)."""
        if nodes.size == 0:
            return np.empty(0, dtype=np.int64)
        starts, ends = self.node_start[nodes], self.node_start[nodes + 1]
        if nodes.size == 1:
            return self.node_order[starts[0] : ends[0]]
        return np.concatenate([self.node_order[a:b] for a, b in zip(starts, ends, strict=True)])


def _districts(persons: pl.DataFrame, zones: list[str]) -> list[str]:
    if "district" in persons.columns:
        pairs = (
            persons.select(pl.col("zone").cast(pl.String), pl.col("district").cast(pl.String))
            .unique(maintain_order=True)
            .group_by("zone", maintain_order=True)
            .first()
        )
        lookup = dict(pairs.iter_rows())
        return [lookup[z] for z in zones]
    return [f"D{i // _ZONES_PER_DISTRICT + 1}" for i in range(len(zones))]


def build_world(
    network: Network,
    *,
    city_seed: int,
    diurnal_range: float,
    persons: pl.DataFrame | None = None,
    graph: Any = None,
    zone_xy: np.ndarray | None = None,
) -> World:
    """The world of a population and network (the demo city's is cached; see the module doc).

    Parameters
    ----------
    network : Network
        How to generate and rate the network.
    city_seed : int
        Seeds the population sample (when `persons` is None), the customers' demands and the
        network's ages.
    diurnal_range : float
        Of the design day.
    persons : polars.DataFrame, optional
        The population (``household_id``, ``zone``; ``district``, ``age``, ``employment``,
        ``income`` when present). Default: the demo city.
    graph : networkx graph, optional
        The network (see `scenarios.outages.grid`), instead of the generated one.
    zone_xy : array, optional
        Zone coordinates (km), in the order of the zones with customers (sorted by the zone
        column's categories); default: `scenarios.outages.geography.zone_layout`.
    """
    if persons is None and graph is None and zone_xy is None:
        return _demo_world(network, city_seed, diurnal_range)
    return _build(network, city_seed, diurnal_range, persons, graph, zone_xy)


@functools.lru_cache(maxsize=4)
def _demo_world(network: Network, city_seed: int, diurnal_range: float) -> World:
    return _build(network, city_seed, diurnal_range, None, None, None)


def _build(
    network: Network,
    city_seed: int,
    diurnal_range: float,
    persons: pl.DataFrame | None,
    graph: Any,
    zone_xy: np.ndarray | None,
) -> World:
    streams = Streams(city_seed)
    if persons is None:
        persons = demo_persons(streams["population"])
    customers = build_customers(persons, rng=streams["customers"])
    present = set(customers["zone"].cast(pl.String).unique().to_list())
    zones = [z for z in customers["zone"].dtype.categories.to_list() if z in present]
    customers = customers.with_columns(pl.col("zone").cast(pl.String).cast(pl.Enum(zones)))
    if "zone" in persons.columns:
        persons = persons.filter(pl.col("zone").cast(pl.String).is_in(zones))
    districts = _districts(persons, zones)
    if zone_xy is None:
        zone_xy = zone_layout(zones, districts)
    else:
        zone_xy = np.asarray(zone_xy, dtype=np.float64)
        if zone_xy.shape != (len(zones), 2):
            msg = (
                f"`zone_xy` must have one (x, y) row per zone with customers ({len(zones)}), "
                f"got shape {zone_xy.shape}."
            )
            raise ConfigError(msg)
    if graph is None:
        graph, nodes = city_network(
            zone_xy,
            zones,
            districts,
            customers,
            customers_per_transformer=network.customers_per_transformer,
            transformers_per_feeder=network.transformers_per_feeder,
            underground_share=network.underground_share,
            age_mean=network.age_mean,
            rng=streams["network"],
        )
        customers = customers.with_columns(pl.Series("node", nodes))
    grid = Grid.from_graph(graph, zones=zones, zone_xy=zone_xy)
    customer_node = grid.attach(customers)
    flow = PowerFlow(
        grid.n_nodes, u=grid.u, v=grid.v, reactance=grid.reactance, sources=grid.sources
    )
    kinds = customers["kind"].to_physical().to_numpy().astype(np.int64)
    base = customers["base_kw"].to_numpy()
    node_kind_kw = np.zeros((grid.n_nodes, len(CUSTOMER_KINDS)))
    np.add.at(node_kind_kw, (customer_node, kinds), base)
    normal = ~grid.normally_open
    day = design_day(
        node_kind_kw, design_temperature=network.design_temperature, diurnal_range=diurnal_range
    )
    design = np.zeros(grid.n_edges)
    for load in day:
        flows, _ = flow.solve(normal, load)
        design = np.maximum(design, np.abs(flows))
    if network.n_minus_1:
        # the meshed part is sized on its worst single outage, as planners do (N-1)
        mesh = np.isin(grid.kind, (SUBTRANSMISSION, PRIMARY))
        worst = design.copy()
        for e in np.flatnonzero(mesh & normal):
            trial = normal.copy()
            trial[e] = False
            for load in day:
                flows, _ = flow.solve(trial, load)
                worst = np.maximum(worst, np.abs(flows))
        design = np.where(mesh, worst, design)
    capacity = rate(
        grid,
        design,
        margin_lines=network.margin_lines,
        margin_subtransmission=network.margin_subtransmission,
        margin_transformers=network.margin_transformers,
        margin_primary=network.margin_primary,
    )
    grid.capacity = capacity
    for e, (_, _, data) in enumerate(graph.edges(data=True)):
        data.setdefault("capacity_kw", float(capacity[e]))
    energised = flow.energised(normal)
    if not energised[grid.load_nodes].all():
        dead = grid.node_names[int(grid.load_nodes[~energised[grid.load_nodes]][0])]
        msg = (
            f"load node {dead!r} has no path to a source with the ties open. Hint: connect it, "
            "or mark a source node kind='source'."
        )
        raise ConfigError(msg)
    dependants = _dependants(grid, flow, normal, energised)
    order = np.argsort(customer_node, kind="stable")
    counts = np.bincount(customer_node, minlength=grid.n_nodes)
    critical = customers["critical"].to_numpy()
    return World(
        network=network,
        city_seed=city_seed,
        diurnal_range=diurnal_range,
        zones=tuple(zones),
        zone_xy=zone_xy,
        roads=road_graph(zone_xy),
        customers=customers,
        grid=grid,
        flow=flow,
        customer_node=customer_node,
        node_kind_kw=node_kind_kw,
        node_customers=counts,
        node_critical=np.bincount(customer_node[critical], minlength=grid.n_nodes),
        node_order=order,
        node_start=np.concatenate([[0], np.cumsum(counts)]),
        design_flow=design,
        dependants=dependants,
        meshed=np.asarray(dependants.sum(axis=1)).ravel() == 0,
        normal=normal,
        normal_flows=np.asarray(
            flow.linear(normal, grid.load_nodes) @ node_kind_kw[grid.load_nodes]
        ),
    )


def _dependants(
    grid: Grid, flow: PowerFlow, normal: np.ndarray, energised: np.ndarray
) -> sp.csr_matrix:
    """Edges x nodes: the load nodes that lose power when the edge alone is lost.

    Computed edge by edge on the normal network (ties open). For the radial feeders this is the
    part downstream of the edge; in the meshed 33 kV network it is usually empty.
    """
    loads = np.zeros(grid.n_nodes, dtype=bool)
    loads[grid.load_nodes] = True
    rows, cols = [], []
    for e in np.flatnonzero(normal & (grid.kind != TIE)):
        trial = normal.copy()
        trial[e] = False
        lost = np.flatnonzero(energised & ~flow.energised(trial) & loads)
        rows.append(np.full(lost.size, e))
        cols.append(lost)
    r = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(r.size), (r, c)), shape=(grid.n_edges, grid.n_nodes))
