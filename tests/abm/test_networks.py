"""Contact layers and the multilayer network: structure, distributions, caching, round trips."""

from math import comb

import networkx as nx
import numpy as np
import polars as pl
import pytest

from abm.networks import (
    LAYERS,
    MultiLayerNetwork,
    assign_classes,
    assign_firms,
    community_edges,
    community_layer,
    contact_layers,
    firm_sizes,
    group_edges,
    household_edges,
    household_layer,
    school_edges,
    workplace_edges,
)
from populations.errors import ConfigError


@pytest.fixture(scope="module")
def persons(demo_population):
    return demo_population[1].persons


@pytest.fixture(scope="module")
def zone_codes(persons):
    return persons["zone"].to_physical().to_numpy().astype(np.int64)


def pairs(edges):
    return set(zip(edges[0].tolist(), edges[1].tolist(), strict=True))


def degrees(edges, n):
    return np.bincount(np.r_[edges[0], edges[1]], minlength=n)


def assert_canonical(edges):
    u, v = edges
    assert u.dtype == v.dtype == np.int64
    assert (u < v).all()
    key = u * (int(v.max(initial=0)) + 1) + v
    assert (np.diff(key) > 0).all()  # sorted by (u, v), each pair once


# --------------------------------------------------------------------------- households


def test_households_are_exact_cliques(persons):
    edges = household_edges(persons)
    assert_canonical(edges)
    hh = persons["household_id"].to_numpy()
    u, v = edges
    assert (hh[u] == hh[v]).all()  # no edge crosses households
    sizes = np.unique(hh, return_counts=True)[1]
    assert u.size == sum(comb(int(s), 2) for s in sizes)  # so every within-household pair is there
    rows = np.flatnonzero(hh == hh[np.argmax(np.bincount(hh))])  # a largest household
    found = pairs(edges)
    assert all((a, b) in found for i, a in enumerate(rows) for b in rows[i + 1 :])


def test_household_layer_is_a_graph_with_layer_attribute():
    graph = household_layer(pl.DataFrame({"household_id": ["b", "a", "b", "b"]}))
    assert graph.number_of_nodes() == 4
    assert sorted(graph.edges(data="layer")) == [
        (0, 2, "household"),
        (0, 3, "household"),
        (2, 3, "household"),
    ]


# --------------------------------------------------------------------------- schools


def test_schools_connect_pupils_of_one_zone_and_age_band_in_cliques(persons, zone_codes):
    classes = assign_classes(persons, rng=3)
    age = persons["age"].to_numpy()
    student = (persons["employment"] == "student").to_numpy()
    pupil = classes >= 0
    assert (pupil == ((age >= 5) & (age <= 18) & student)).all()
    sizes = np.bincount(classes[pupil])
    assert sizes.min() >= 1 and sizes.max() <= 25
    edges = school_edges(persons, rng=3)  # same seed, same classes
    assert_canonical(edges)
    u, v = edges
    band = persons["age_band"].to_physical().to_numpy()
    assert (zone_codes[u] == zone_codes[v]).all()
    assert (band[u] == band[v]).all()
    assert (classes[u] == classes[v]).all() and (classes[u] >= 0).all()
    assert u.size == sum(comb(int(s), 2) for s in sizes)  # each class a clique


def test_school_classes_can_be_sparse_and_selected_by_age_only(persons):
    cliques = school_edges(persons, rng=3)
    sparse_ = school_edges(persons, mean_degree=5, rng=3)
    assert sparse_.u.size < 0.3 * cliques.u.size
    by_age = assign_classes(persons, student_status=None, ages=(6, 11), rng=0)
    age = persons["age"].to_numpy()
    assert ((by_age >= 0) == ((age >= 6) & (age <= 11))).all()


# --------------------------------------------------------------------------- workplaces


def test_firm_sizes_follow_the_power_law():
    sizes = firm_sizes(2_000_000, rng=11)
    assert sizes.sum() == 2_000_000 and sizes.min() >= 1
    assert sizes.max() > 1000 * np.median(sizes)
    # Discrete power-law MLE above s_min (Clauset, Shalizi & Newman 2009, eq. 3.7,
    # https://doi.org/10.1137/070710111): alpha = 1 + n / sum(log(s / (s_min - 1/2))).
    for exponent in (2.0, 2.5):
        s = firm_sizes(2_000_000, exponent=exponent, rng=12)
        tail = s[s >= 10]
        alpha = 1 + tail.size / np.log(tail / 9.5).sum()
        assert abs(alpha - exponent) < 0.05, (exponent, alpha)


def test_every_worker_is_in_exactly_one_firm(persons, zone_codes):
    firms = assign_firms(persons, rng=5)
    worker = (persons["employment"] == "employed").to_numpy()
    assert ((firms.person_firm >= 0) == worker).all()
    assert (np.bincount(firms.person_firm[worker], minlength=firms.size.size) == firms.size).all()
    assert firms.size.min() >= 1 and firms.size.sum() == worker.sum()
    assert firms.size.max() > 100 * np.median(firms.size)  # heavy-tailed
    assert firms.zones == tuple(persons["zone"].dtype.categories.to_list())
    local = firms.zone[firms.person_firm[worker]] == zone_codes[worker]
    assert local.mean() <= 0.31  # p_within = 0.3; a firm bigger than its zone recruits outside


@pytest.mark.parametrize("p_within", [0.0, 0.3, 0.8])
def test_share_working_in_home_zone_is_p_within(persons, zone_codes, p_within):
    firms = assign_firms(persons, p_within=p_within, max_firm_size=200, rng=6)  # all fit a zone
    worker = firms.person_firm >= 0
    local = firms.zone[firms.person_firm[worker]] == zone_codes[worker]
    assert abs(local.mean() - p_within) < 0.015
    jobs = np.bincount(firms.zone, weights=firms.size, minlength=48)
    assert np.abs(jobs - np.bincount(zone_codes[worker], minlength=48)).max() <= 200


def test_workplace_contacts_are_colleagues_with_capped_mean_degree(persons):
    g1, g2 = np.random.default_rng(8), np.random.default_rng(8)
    edges = workplace_edges(persons, rng=g1)
    firm = assign_firms(persons, rng=g2).person_firm
    assert pairs(edges) == pairs(group_edges(firm, mean_degree=8, rng=g2))
    assert_canonical(edges)
    u, v = edges
    assert (firm[u] == firm[v]).all() and (firm[u] >= 0).all()
    size = np.bincount(firm[firm >= 0])
    deg = degrees(edges, persons.height)
    big = (firm >= 0) & (size[np.maximum(firm, 0)] >= 200)
    assert abs(deg[big].mean() - 8) < 0.3
    assert (deg[firm >= 0] <= np.maximum(size[firm[firm >= 0]] - 1, 0)).all()


def test_group_edges_are_cliques_or_exact_random_graphs():
    small = np.repeat(np.arange(500), 9)  # 9 members: 8 others, a clique at mean degree 8
    assert group_edges(small, mean_degree=8, rng=0).u.size == 500 * comb(9, 2)
    mid = np.repeat(np.arange(3000), 12)  # G(12, 8/11): exact edge probability
    share = group_edges(mid, mean_degree=8, rng=0).u.size / (3000 * comb(12, 2))
    assert abs(share - 8 / 11) < 0.006
    large = np.zeros(20_000, np.int64)
    deg = degrees(group_edges(large, mean_degree=8, rng=1), large.size)
    assert abs(deg.mean() - 8) < 0.1 and abs(deg.var() / deg.mean() - 1) < 0.1  # binomial


# --------------------------------------------------------------------------- community


def test_community_degree_and_within_zone_share(persons, zone_codes):
    edges = community_edges(persons, mean_degree=6, p_within=0.7, rng=4)
    assert_canonical(edges)
    u, v = edges
    deg = degrees(edges, persons.height)
    assert abs(deg.mean() - 6) < 0.05
    assert abs(deg.var() / deg.mean() - 1) < 0.05  # close to Poisson
    assert abs((zone_codes[u] == zone_codes[v]).mean() - 0.7) < 0.01
    inside = community_edges(persons, p_within=1.0, rng=4)
    assert (zone_codes[inside.u] == zone_codes[inside.v]).all()
    outside = community_edges(persons, p_within=0.0, rng=4)
    assert (zone_codes[outside.u] != zone_codes[outside.v]).all()


def test_community_other_zones_are_chosen_by_population():
    persons = pl.DataFrame({"zone": ["a"] * 1000 + ["b"] * 3000 + ["c"] * 1000})
    u, v = community_edges(persons, mean_degree=20, p_within=0.0, rng=0)
    zone = np.repeat([0, 1, 2], [1000, 3000, 1000])
    # Contacts a person starts go to b or c in proportion to population (a: 3/4 to b), and
    # contacts started in b or c reach a with shares 1000/2000 and 1000/4000; mean 10 started.
    a_b = 10 * (1000 * 3000 / 4000 + 3000 * 1000 / 2000)
    a_c = 10 * (1000 * 1000 / 4000 + 1000 * 1000 / 4000)
    from_a = zone[u] == 0  # u < v, so the other end is in b or c
    assert abs((zone[v][from_a] == 1).mean() - a_b / (a_b + a_c)) < 0.01


def test_community_gravity_kernel_on_distances():
    persons = pl.DataFrame({"zone": ["a"] * 2000 + ["b"] * 2000 + ["c"] * 2000})
    zone = np.repeat([0, 1, 2], 2000)
    distance = np.array([[0, 1, 50], [1, 0, 50], [50, 50, 0]])
    u, v = community_edges(persons, p_within=None, distance=distance, distance_scale=1, rng=0)
    ab = ((zone[u] == 0) & (zone[v] == 1)).sum()
    to_c = ((zone[u] != 2) & (zone[v] == 2)).sum()
    # a -> b has weight exp(-1) against exp(0) for a -> a; c is exp(-50): never
    assert to_c == 0 and abs(ab / u.size - 2 * np.exp(-1) / (1 + np.exp(-1)) / 3) < 0.02
    u, v = community_edges(persons, p_within=0.5, distance=distance, distance_scale=1, rng=0)
    assert abs((zone[u] == zone[v]).mean() - 0.5) < 0.02


def test_community_layer_wrapper(persons):
    small = persons.head(3000)
    graph = community_layer(small, rng=2)
    assert graph.number_of_nodes() == 3000
    assert pairs(community_edges(small, rng=2)) == {tuple(sorted(e)) for e in graph.edges}
    assert {layer for *_, layer in graph.edges(data="layer")} == {"community"}


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("build", [school_edges, workplace_edges, community_edges])
def test_same_seed_same_edges_different_seed_different(persons, build):
    a, b, c = build(persons, rng=21), build(persons, rng=21), build(persons, rng=22)
    assert np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)
    assert a.u.size != c.u.size or not np.array_equal(a.v, c.v)


def test_contact_layers_streams_are_per_layer(persons):
    small = persons.head(20_000)
    net = contact_layers(small, rng=1)
    assert net.layers == LAYERS and net.n_nodes == 20_000
    other = contact_layers(small, rng=1, params={"community": {"mean_degree": 9}})
    for name in ("household", "school", "workplace"):
        assert np.array_equal(net.edges(name).u, other.edges(name).u)
        assert np.array_equal(net.edges(name).v, other.edges(name).v)
    assert other.n_edges("community") > 2 * net.n_edges("community")
    third = contact_layers(small, rng=2)
    assert not np.array_equal(net.edges("community").v, third.edges("community").v)


# --------------------------------------------------------------------------- the network


def test_adjacency_is_symmetric_weighted_and_loop_free(persons):
    net = contact_layers(persons.head(20_000), rng=3, weights={"community": 0.25})
    a = net.adjacency()
    assert (a != a.T).nnz == 0
    assert not a.diagonal().any()
    assert a.has_canonical_format
    u, v = net.edges("community")
    only_c = net.adjacency("community")
    assert np.allclose(only_c[u, v], 0.25)
    pattern = net.adjacency(weighted=False)
    assert set(np.unique(pattern.data)) == {1.0}
    graph = nx.Graph()
    graph.add_nodes_from(range(net.n_nodes))
    for name in net.layers:
        graph.add_edges_from(zip(*(x.tolist() for x in net.edges(name)), strict=True))
    assert (nx.to_scipy_sparse_array(graph, nodelist=range(net.n_nodes)) != pattern).nnz == 0


def test_duplicates_add_up_and_self_loops_are_dropped():
    net = MultiLayerNetwork(3)
    net.add_layer("x", ([0, 1, 2, 2], [1, 0, 2, 1]), weight=[1.0, 2.0, 5.0, 1.0])
    assert net.n_edges("x") == 3  # the loop 2-2 is gone
    net.add_layer("y", ([0], [1]), weight=0.5)
    assert net.adjacency().toarray().tolist() == [[0, 3.5, 0], [3.5, 0, 1], [0, 1, 0]]
    assert net.adjacency(weighted=False).toarray().tolist() == [[0, 1, 0], [1, 0, 1], [0, 1, 0]]


def test_compiles_only_after_a_change():
    net = MultiLayerNetwork(5, {"home": ([0, 1], [1, 2]), "work": ([3], [4])})
    a = net.adjacency()
    assert net.adjacency() is a and net.compile_count == 1
    home = net.adjacency("home")
    assert net.compile_count == 2
    net.add_edges("work", ([0], [4]))
    assert net.adjacency("home") is home and net.compile_count == 2  # home did not change
    assert net.adjacency()[0, 4] == 1 and net.compile_count == 3
    net.remove_edges("work", np.array([True, False]))
    assert net.refresh() == 1 and net.compile_count == 4  # only the combined one was stale
    assert net.refresh() == 0 and net.compile_count == 4
    version = net.version
    net.remove_layer("work")
    assert net.version > version
    assert net.adjacency().nnz == 4 and net.compile_count == 4  # = adjacency("home"), cached
    net.add_layer("home", ([0], [1]), replace=True)
    assert net.adjacency().nnz == 2 and net.compile_count == 5
    with pytest.raises(ValueError, match="read-only"):
        net.edges("home").u[0] = 3


def test_networkx_round_trip_keeps_edges_and_layers(persons):
    net = contact_layers(persons.head(5000), rng=4, weights={"community": 0.5})
    graph = net.to_networkx()
    assert isinstance(graph, nx.MultiGraph) and graph.number_of_nodes() == 5000
    assert graph.number_of_edges() == net.n_edges()
    back = MultiLayerNetwork.from_networkx(graph)
    assert set(back.layers) == set(net.layers) and back.nodes is None
    for name in net.layers:
        assert pairs(back.edges(name)) == pairs(net.edges(name))
        assert np.array_equal(np.sort(back.weights(name)), np.sort(net.weights(name)))
    assert (back.adjacency() != net.adjacency()).nnz == 0


def test_from_networkx_maps_labels_to_rows():
    graph = nx.Graph()
    graph.add_edge("bo", "al", layer="home")
    graph.add_edge("cy", "al", weight=2.0)
    net = MultiLayerNetwork.from_networkx(graph)
    assert net.nodes == ("al", "bo", "cy")
    assert pairs(net.edges("home")) == {(0, 1)} and pairs(net.edges("contacts")) == {(0, 2)}
    assert net.weights("contacts").tolist() == [2.0]
    ids = [10, 11, 12, 13]  # e.g. persons["person_id"]: rows follow it, 13 is isolated
    on_ids = MultiLayerNetwork.from_networkx(nx.Graph([(12, 10)]), nodes=ids)
    assert on_ids.n_nodes == 4 and pairs(on_ids.edges("contacts")) == {(0, 2)}
    labelled = on_ids.to_networkx()
    assert sorted(labelled.nodes) == ids and list(labelled.edges(keys=True)) == [
        (10, 12, "contacts")
    ]
    karate = nx.karate_club_graph()  # integer nodes 0..n-1: the identity
    assert MultiLayerNetwork.from_networkx(karate).n_edges() == karate.number_of_edges()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda p: household_edges(p.rename({"household_id": "household"})),
            r"no column `household_id`\. Hint: did you mean `household`\?",
        ),
        (
            lambda p: community_edges(p.rename({"zone": "zones"})),
            r"no column `zone`\. Hint: did you mean `zones`\?",
        ),
        (
            lambda p: community_edges(p, p_within=1.5),
            r"`p_within` must be a number in \[0, 1\], got 1\.5\.",
        ),
        (
            lambda p: community_edges(p, mean_degree=-1),
            r"`mean_degree` must be a number in \[0, inf\), got -1\.",
        ),
        (
            lambda p: school_edges(p, class_size=0),
            r"`class_size` must be an integer in \[1, inf\), got 0\.",
        ),
        (lambda p: school_edges(p, ages=(18, 5)), r"`ages` must be a pair .* got \(18, 5\)"),
        (
            lambda p: workplace_edges(p, exponent=1.0),
            r"`exponent` must be a number in \(1, 10\], got 1\.0\.",
        ),
        (
            lambda p: workplace_edges(p, distance=np.ones((3, 3))),
            r"`distance` must be a 48 x 48 matrix .* order Z01, Z02, Z03, \.\.\.\), got shape",
        ),
        (
            lambda p: community_edges(p, p_within=None),
            r"`p_within` is None and no `distance` .* Hint: give `p_within`",
        ),
        (
            lambda p: contact_layers(p, layers=["househld"]),
            r"unknown contact layer `househld`\. Hint: did you mean `household`\?",
        ),
        (
            lambda p: contact_layers(p, params={"community": {"mean_degre": 3}}),
            r"unknown parameter `mean_degre` of the community layer\. Hint: did you mean "
            r"`mean_degree`\?",
        ),
        (lambda p: household_edges(p.to_pandas()), r"polars DataFrame, got DataFrame"),
    ],
)
def test_bad_input_messages(persons, call, message):
    with pytest.raises(ConfigError, match=message):
        call(persons.head(200))


def test_bad_network_edits():
    net = MultiLayerNetwork(3, {"home": ([0], [1])})
    with pytest.raises(ConfigError, match=r"edge 0 \(0, 3\) has a node outside \[0, 2\]"):
        net.add_edges("home", ([0], [3]))
    with pytest.raises(ConfigError, match=r"already has a layer `home`\. Hint: .*replace=True"):
        net.add_layer("home", ([1], [2]))
    with pytest.raises(ConfigError, match=r"no layer `hom`\. Hint: did you mean `home`\?"):
        net.adjacency("hom")
    with pytest.raises(ConfigError, match=r"`mask` must be a boolean array with one value"):
        net.remove_edges("home", [0])
    with pytest.raises(ConfigError, match=r"weights must be finite and >= 0"):
        net.add_layer("bad", ([0], [2]), weight=-1.0)
    with pytest.raises(ConfigError, match=r"directed graph\. Hint: pass `graph\.to_undirected"):
        MultiLayerNetwork.from_networkx(nx.DiGraph([(0, 1)]))
    with pytest.raises(ConfigError, match=r"1 graph node\(s\) are not in `nodes`, e\.g\. 'z'"):
        MultiLayerNetwork.from_networkx(nx.Graph([("a", "z")]), nodes=["a", "b"])


def test_workplaces_recruit_by_distance():
    persons = pl.DataFrame(
        {"zone": ["a"] * 3000 + ["b"] * 3000 + ["c"] * 3000, "employment": ["employed"] * 9000}
    )
    distance = np.array([[0, 1, 50], [1, 0, 50], [50, 50, 0]])
    firms = assign_firms(
        persons, p_within=None, distance=distance, distance_scale=1, max_firm_size=500, rng=2
    )
    home = np.repeat([0, 1, 2], 3000)
    work = firms.zone[firms.person_firm]
    assert ((home == 2) == (work == 2)).mean() > 0.97  # c is too far to commute to or from
    a_in_b = (work[home == 0] == 1).mean()  # b's jobs take e^-1 / (1 + e^-1) from a
    assert abs(a_in_b - np.exp(-1) / (1 + np.exp(-1))) < 0.02
