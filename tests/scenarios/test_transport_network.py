"""Transport networks: the built-in city, TNTP and osmnx GraphML files, compiling to CSR, and
the static user-equilibrium assignment against known answers."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy import optimize
from scipy.sparse import csgraph

from populations.errors import ConfigError
from scenarios.transport.assignment import (
    bpr,
    frank_wolfe,
    load_trips,
    path_sums,
    shortest_trees,
)
from scenarios.transport.city import city_network, zone_layout
from scenarios.transport.data import data_file
from scenarios.transport.network import compile_network
from scenarios.transport.osm import place_zones, read_osm_graphml
from scenarios.transport.skims import walk_distances
from scenarios.transport.tntp import read_tntp_network, read_tntp_nodes, read_tntp_trips
from scenarios.transport.transit import build_transit

ZONES = [f"Z{i:02d}" for i in range(1, 49)]
DISTRICTS = [f"D{1 + i // 6}" for i in range(48)]


# ------------------------------------------------------------------------ Frank-Wolfe


def two_route_equilibrium() -> float:
    """Flow on route A at which both routes take the same time (the TNTP file's numbers)."""

    def diff(x: float) -> float:
        return bpr(np.array(600.0), x, np.array(2000.0), 0.15, 4.0) - bpr(
            np.array(900.0), 4000.0 - x, np.array(3000.0), 0.15, 4.0
        )

    return optimize.brentq(lambda x: float(diff(x)), 0.0, 4000.0, xtol=1e-9)


def two_route_net():
    g = read_tntp_network(data_file("two_route_net.tntp"), nodes=data_file("two_route_node.tntp"))
    return compile_network(g), read_tntp_trips(data_file("two_route_trips.tntp"))


def test_frank_wolfe_reproduces_the_two_route_equilibrium():
    net, trips = two_route_net()
    result = frank_wolfe(net, trips, tol=1e-10, max_iter=100)
    expected = two_route_equilibrium()
    route_a = net.find_links(["1-3"])[0]
    route_b = net.find_links(["1-4"])[0]
    assert result.converged
    assert result.flow[route_a] == pytest.approx(expected, abs=1e-3)
    assert result.flow[route_b] == pytest.approx(4000.0 - expected, abs=1e-3)
    # Wardrop: both used routes take the same time; the total is flow x time.
    assert result.time[route_a] == pytest.approx(result.time[route_b], rel=1e-9)
    assert result.total_travel_time == pytest.approx(4000.0 * result.time[route_a], rel=1e-9)
    assert result.relative_gap < 1e-10


def test_linear_two_route_network_has_the_closed_form_answer():
    # t1 = 10 + 0.01 x1, t2 = 15 + 0.005 x2 (BPR with power 1), 1000 vehicles:
    # equal times at x1 = (15 - 10 + 0.005 * 1000) / (0.01 + 0.005) = 666.67.
    g = nx.DiGraph()
    g.add_node("o", zone="o")
    g.add_node("d", zone="d")
    g.add_edge("o", "a", length=1.0, capacity=1000.0, free_time=10.0, alpha=1.0, beta=1.0)
    g.add_edge("o", "b", length=1.0, capacity=3000.0, free_time=15.0, alpha=1.0, beta=1.0)
    for mid in ("a", "b"):
        g.add_edge(mid, "d", length=0.0, capacity=1.0, free_time=0.0, alpha=0.0, beta=1.0)
    net = compile_network(g, zones={"o": "o", "d": "d"})  # the trip table's order
    trips = np.array([[0.0, 1000.0], [0.0, 0.0]])
    for method in ("fw", "msa"):
        result = frank_wolfe(net, trips, tol=1e-7, max_iter=5000, method=method)
        assert result.converged, method
        assert result.flow[net.find_links(["o-a"])[0]] == pytest.approx(2000 / 3, abs=0.1)


def test_the_relative_gap_falls_and_meets_the_tolerance():
    net, trips = two_route_net()
    result = frank_wolfe(net, trips * 1.5, tol=1e-4, max_iter=2000, method="msa")
    gaps = np.array(result.gaps)
    assert result.converged and gaps[-1] < 1e-4
    assert gaps[-1] < gaps[0] / 100
    # MSA shrinks its steps: over every ten iterations the gap falls.
    assert (gaps[10::10] < gaps[:-10:10][: gaps[10::10].size]).all()


def test_shortest_trees_agree_with_networkx_and_loading_follows_the_paths():
    g = city_network(ZONES[:12], DISTRICTS[:12], streets_per_zone=2)
    net = compile_network(g)
    rng = np.random.default_rng(3)
    cost = net.free_time * rng.uniform(0.5, 2.0, net.n_links)
    dist, pred = shortest_trees(net, cost, net.origin)
    ends = zip(net.tail, net.head, cost, strict=True)
    weights = {(net.nodes[u], net.nodes[v]): c for u, v, c in ends}
    nx.set_edge_attributes(g, weights, "w")
    for z in (0, 5, 11):
        lengths = nx.single_source_dijkstra_path_length(g, net.nodes[net.origin[z]], weight="w")
        for k, zone in enumerate(net.zones):
            assert dist[z, net.dest[k]] == pytest.approx(lengths[zone])
    # Loading one vehicle per pair puts on each link as many vehicles as paths use it,
    # and the paths' costs add up to the trees' distances.
    rows = np.repeat(np.arange(net.n_zones), net.n_zones)
    dests = np.tile(net.dest, net.n_zones)
    volume = load_trips(net, pred, rows, dests, np.ones(rows.size))
    sums = path_sums(net, pred, rows, dests, cost)[0]
    assert sums == pytest.approx(dist[rows, dests])
    assert volume @ cost == pytest.approx(dist[rows, dests].sum())


def test_closed_links_are_never_used():
    net = compile_network(city_network(ZONES, DISTRICTS))
    bridges = net.find_links(["bridge 1", "bridge 2"])
    cost = net.free_time.copy()
    cost[bridges] = np.inf
    dist, pred = shortest_trees(net, cost, net.origin)
    assert np.isfinite(dist[:, net.dest]).all()  # the ring still crosses the river
    assert not np.isin(pred, bridges).any()


# ------------------------------------------------------------------------ the built-in city


def test_demo_city_layout_and_river():
    cells, size = zone_layout(ZONES, DISTRICTS)
    assert size == (9, 6) and len(set(cells.values())) == 48
    assert cells["Z01"] == (3, 2)  # D1, the first district, is in the middle
    g = city_network(ZONES, DISTRICTS)
    names = {d["name"] for _, _, d in g.edges(data=True)}
    assert {"bridge 1", "bridge 2", "ring"} <= names
    # Only the bridges and the ring cross the river.
    crossing = [
        (u, v, d)
        for u, v, d in g.edges(data=True)
        if (g.nodes[u]["y"] - 3250) * (g.nodes[v]["y"] - 3250) < 0  # between rows 6 and 7
        and d["kind"] not in ("connector",)
    ]
    assert {d["kind"] for _, _, d in crossing} == {"bridge", "ring"}
    cut = g.copy()
    cut.remove_edges_from([(u, v) for u, v, _ in crossing])
    assert not nx.is_weakly_connected(cut)
    net = compile_network(g)
    assert net.n_zones == 48 and (net.kind[net.zone_link] == 5).all()  # connectors
    lines = build_transit(net)
    assert lines is not None and lines.frequency.size == len(g.graph["transit_lines"])


def test_walking_distances_are_symmetric_and_avoid_the_ring():
    net = compile_network(city_network(ZONES, DISTRICTS))
    dist = walk_distances(net)
    assert np.allclose(dist, dist.T)
    assert np.isfinite(dist).all() and (np.diag(dist) > 0).all()


# ------------------------------------------------------------------------ TNTP


def test_tntp_import_reads_the_metadata_and_comments():
    g = read_tntp_network(data_file("two_route_net.tntp"), nodes=data_file("two_route_node.tntp"))
    meta = g.graph["metadata"]
    assert meta["NUMBER OF ZONES"] == "2" and meta["FIRST THRU NODE"] == "3"
    assert meta["NUMBER OF LINKS"] == "4"
    assert any("Route A goes by node 3" in c for c in g.graph["comments"])
    assert g.graph["no_through"] == [1, 2]  # zones below the first thru node
    assert g.nodes[1]["zone"] == "1" and g.nodes[4]["x"] == 5.0
    (edge,) = g.get_edge_data(1, 3).values()
    assert edge["free_time"] == 600.0 and edge["capacity"] == 2000.0 and edge["beta"] == 4.0
    assert read_tntp_nodes(data_file("two_route_node.tntp"))[4] == (5.0, -4.0)
    assert read_tntp_trips(data_file("two_route_trips.tntp")).sum() == 4000.0


def test_zones_below_the_first_thru_node_are_not_passed_through(tmp_path: Path):
    # 1 - 2 - 3 in a line, with a long detour 1 - 4 - 3; zone 2 may not be crossed.
    net_file = tmp_path / "line_net.tntp"
    net_file.write_text(
        "<NUMBER OF ZONES> 3\n<FIRST THRU NODE> 4\n<END OF METADATA>\n"
        "~ init term capacity length fft b power speed toll type ;\n"
        "1 2 100 1 1 0.15 4 0 0 1 ;\n2 3 100 1 1 0.15 4 0 0 1 ;\n"
        "1 4 100 1 5 0.15 4 0 0 1 ;\n4 3 100 1 5 0.15 4 0 0 1 ;\n"
    )
    net = compile_network(read_tntp_network(net_file))
    trips = np.zeros((3, 3))
    trips[0, 2] = 10.0
    result = frank_wolfe(net, trips)
    assert result.flow[net.find_links(["1-2"])[0]] == 0.0
    assert result.flow[net.find_links(["1-4"])[0]] == pytest.approx(10.0)


def test_tntp_columns_in_another_order_and_trailing_comments(tmp_path: Path):
    f = tmp_path / "x_net.tntp"
    f.write_text(
        "<NUMBER OF ZONES> 2\n<NUMBER OF LINKS> 1\n<END OF METADATA>\n\n"
        "~\tTerm node\tInit node\tLength\tCapacity\tFree Flow Time\t;\n"
        "\t2\t1\t3\t500\t7\t; ~ the only link\n"
    )
    g = read_tntp_network(f, length_unit=1000.0)
    (edge,) = g.get_edge_data(1, 2).values()
    assert edge["capacity"] == 500.0 and edge["length"] == 3000.0 and edge["free_time"] == 420.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "~ Init node Term node Length Free Flow Time ;\n1 2 1 1 ;\n",
            "the links have no column `capacity`",
        ),
        (
            "~ Init node Term node Capacity Length Free Flow Time ;\n1 2 -5 1 1 ;\n",
            "negative capacity",
        ),
        (
            "~ Init node Term node Capacity Length Free Flow Time ;\n1 2 x 1 1 ;\n",
            "is not a number",
        ),
        (
            "~ Init node Term node Capacity Length Free Flow Time ;\n1 2 5 1 ;\n",
            "expected 5 values",
        ),
    ],
)
def test_bad_network_files_name_the_file_and_line(tmp_path: Path, body: str, message: str):
    f = tmp_path / "bad_net.tntp"
    f.write_text("<NUMBER OF ZONES> 2\n<END OF METADATA>\n" + body)
    with pytest.raises(ConfigError, match=message) as err:
        read_tntp_network(f)
    assert f"{f}:4:" in str(err.value)


def test_a_link_to_a_node_the_node_file_does_not_list(tmp_path: Path):
    f = tmp_path / "bad_net.tntp"
    f.write_text("<NUMBER OF ZONES> 2\n<END OF METADATA>\n1 2 10 1 1 ;\n2 9 10 1 1 ;\n")
    nodes = tmp_path / "bad_node.tntp"
    nodes.write_text("Node X Y ;\n1 0 0 ;\n2 1 0 ;\n")
    with pytest.raises(ConfigError, match=r"bad_net.tntp:4: link \(2, 9\) leads to node 9"):
        read_tntp_network(f, nodes=nodes)


def test_bad_trips_and_metadata(tmp_path: Path):
    f = tmp_path / "bad_trips.tntp"
    f.write_text("<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 50\n<END OF METADATA>\nOrigin 1\n2 : 10;\n")
    with pytest.raises(ConfigError, match="add up to 10, but <TOTAL OD FLOW> says 50"):
        read_tntp_trips(f)
    f.write_text("<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n3 : 10;\n")
    with pytest.raises(ConfigError, match=r":4: destination 3 is not a zone \(1 .. 2\)"):
        read_tntp_trips(f)
    g = tmp_path / "bad_net.tntp"
    g.write_text("<NUMBER OF LINKS> 3\n<END OF METADATA>\n1 2 10 1 1 ;\n")
    with pytest.raises(ConfigError, match="the metadata says 3 links, the file has 1"):
        read_tntp_network(g)
    g.write_text("<NUMBER OF ZONES> 2\n1 2 10 1 1 ;\n")
    with pytest.raises(ConfigError, match="no `<END OF METADATA>`"):
        read_tntp_network(g)
    with pytest.raises(ConfigError, match="does not exist"):
        read_tntp_network(tmp_path / "missing_net.tntp")


def test_bad_graphs_give_clear_messages():
    g = nx.DiGraph()
    g.add_node("a", zone="A")
    g.add_edge("a", "b", length=100.0, speed=50.0)
    with pytest.raises(ConfigError, match=r"link \(a, b\) has no `capacity`"):
        compile_network(g)
    g.add_edge("a", "b", length=100.0, speed=50.0, capacity=-1.0)
    with pytest.raises(
        ConfigError, match=r"link \(a, b\): `capacity` = -1; it must not be negative"
    ):
        compile_network(g)
    bare = nx.DiGraph()
    bare.add_node("a", zone="A")
    bare.add_edge("a", "b", length=100.0, capacity=10.0)
    with pytest.raises(ConfigError, match="neither `free_time`"):
        compile_network(bare)
    g.add_edge("a", "b", length=100.0, capacity=10.0, speed=30.0)
    with pytest.raises(ConfigError, match="zone `B` is at node 'c', which is not in the road"):
        compile_network(g, zones={"A": "a", "B": "c"})
    with pytest.raises(ConfigError, match="must be a directed networkx graph"):
        compile_network(nx.Graph())


def test_parallel_links_are_split_and_share_the_flow():
    g = nx.MultiDiGraph()
    g.add_node("o", zone="o")
    g.add_node("d", zone="d")
    for _ in range(2):
        g.add_edge("o", "d", length=100.0, capacity=500.0, free_time=60.0)
    net = compile_network(g, zones={"o": "o", "d": "d"})
    assert net.n_links == 3 and net.virtual.sum() == 1
    result = frank_wolfe(net, np.array([[0.0, 800.0], [0.0, 0.0]]), tol=1e-9)
    real = np.flatnonzero(~net.virtual)
    assert result.flow[real] == pytest.approx([400.0, 400.0], abs=1e-3)


# ------------------------------------------------------------------------ osmnx GraphML


def write_osmnx_like(path: Path, *, without_length: bool = False) -> None:
    """A small GraphML the way osmnx saves one: every attribute as text, lists as reprs."""
    g = nx.MultiDiGraph(crs="epsg:4326")
    coords = {1: (4.890, 52.370), 2: (4.900, 52.370), 3: (4.900, 52.376), 4: (4.890, 52.376)}
    for n, (x, y) in coords.items():
        g.add_node(n, x=str(x), y=str(y), street_count="2")
    edges = [
        (1, 2, {"highway": "primary", "maxspeed": "30 mph", "lanes": "4", "oneway": "False"}),
        (2, 1, {"highway": "primary", "maxspeed": "30 mph", "lanes": "4", "oneway": "False"}),
        (2, 3, {"highway": "['residential', 'tertiary']", "oneway": "True", "name": "Kade"}),
        (3, 4, {"highway": "motorway", "speed_kph": "90.5", "oneway": "True"}),
        (4, 1, {"highway": "service", "maxspeed": "['20', '30']", "oneway": "True"}),
        (1, 2, {"highway": "residential", "oneway": "True"}),  # a parallel street
    ]
    for u, v, d in edges:
        length = 680.0 if {u, v} == {1, 2} else 668.0
        g.add_edge(u, v, length=str(length), osmid="123", **d)
    if without_length:
        del g.edges[4, 1, 0]["length"]
    nx.write_graphml(g, path)


def test_osmnx_graphml_is_read_with_speeds_lanes_and_capacities(tmp_path: Path):
    path = tmp_path / "city.graphml"
    write_osmnx_like(path)
    g = read_osm_graphml(path)
    first = g.get_edge_data("1", "2")[0]
    assert first["speed"] == pytest.approx(30 * 1.609344)
    assert first["lanes"] == 2  # four lanes in both directions
    assert first["capacity"] == 2 * 900.0 and first["kind"] == "arterial"
    assert g.get_edge_data("2", "3")[0]["kind"] == "local"
    assert g.get_edge_data("2", "3")[0]["name"] == "Kade"
    assert g.get_edge_data("3", "4")[0]["speed"] == 90.5
    assert g.get_edge_data("3", "4")[0]["kind"] == "motorway"
    assert g.get_edge_data("4", "1")[0]["speed"] == 20.0
    assert abs(g.nodes["2"]["x"] - g.nodes["1"]["x"]) == pytest.approx(680, rel=0.01)
    zones = place_zones(g, ["A", "B"])
    net = compile_network(g, zones=zones)
    assert net.n_links == 7 and net.virtual.sum() == 1  # the parallel street split
    dist, _ = shortest_trees(net, net.free_time, net.origin)
    assert np.isfinite(dist[:, net.dest]).all()
    walk = walk_distances(net)
    assert np.isfinite(walk).all()  # the motorway is closed to pedestrians, the rest is not


def test_bad_graphml_files(tmp_path: Path):
    broken = tmp_path / "broken.graphml"
    write_osmnx_like(broken, without_length=True)
    with pytest.raises(ConfigError, match=r"broken.graphml: edge \(4, 1\) has no numeric `length`"):
        read_osm_graphml(broken)
    (tmp_path / "junk.graphml").write_text("not xml")
    with pytest.raises(ConfigError, match="cannot be read as GraphML"):
        read_osm_graphml(tmp_path / "junk.graphml")


def test_csgraph_matrix_has_one_entry_per_link():
    net = compile_network(city_network(ZONES, DISTRICTS))
    m = net.matrix(net.free_time)
    assert m.nnz == net.n_links
    d1 = csgraph.dijkstra(m, indices=net.origin[:3])
    d2, _ = shortest_trees(net, net.free_time, net.origin[:3])
    assert np.allclose(d1, d2)
