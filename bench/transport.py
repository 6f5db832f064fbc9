"""Transport: routing per origin with scipy.sparse.csgraph against per pair with networkx, and
the scenario at scale.

**Routing** (always): the demo city's network with ``--streets`` streets per zone side, and
one time slice's demand: the car trips of the morning peak hour of a 10% sample of the demo
city at free flow (every zone pair with trips). Both methods find every pair's shortest path on
the same link times and load the pair's vehicles on it:

* ``csgraph``: one ``scipy.sparse.csgraph.dijkstra(..., indices=origins,
  return_predecessors=True)`` call for all origins, then all paths walked back at once
  (`scenarios.transport.assignment.shortest_trees` and `load_trips`), as the scenario does;
* ``networkx``: ``nx.dijkstra_path`` per origin-destination pair on the networkx graph, then
  the path's links loaded one by one (the straightforward way with networkx alone).

Both give the same total travel time (checked); ``ratio_networkx_to_csgraph`` is their time
ratio, measured in the same run (median of ``--repeats``).

**Scale** (``--scale``; a minute or two): 1,000,000 persons (ten samples of the demo city,
about 2 million trips: the demo's chains average two trips a person, not three) over a day on
the demo city's network with 7 streets per zone side (about 11,000 links), its roads widened
to carry ten times the demo's population (``network.capacity_factor = 10 * 2 / 7``: as
congested as the demo city), 10 learning days with no early stop, no event log. Reports the
time to build the model, to run the 10 days and per day, peak memory (``ru_maxrss``), the final
relative gap, trips and the car share. The population's sampling is timed separately (not in
``total_s``).

Prints one JSON line per benchmark::

    python bench/transport.py [--streets 4] [--repeats 3] [--scale]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from abm.params import read_params  # noqa: E402
from scenarios.transport import TransportModel, TransportParams  # noqa: E402
from scenarios.transport.assignment import load_trips, shortest_trees  # noqa: E402
from scenarios.transport.model import _demo_population  # noqa: E402
from scenarios.transport.modes import CAR  # noqa: E402


def peak_demand(streets: int) -> tuple[TransportModel, np.ndarray]:
    """A 10% sample of the demo city on its network; the 8:00-9:00 car trips by zone pair."""
    params = read_params(
        TransportParams,
        overrides=["sample=0.1", f"network.streets_per_zone={streets}", "assignment.days=1"],
    )
    model = TransportModel(params, seed=1)
    model.step()
    trips = model._trips_of(model.last_mode, model.mode_inputs())
    z = model.network.n_zones
    car = (trips["mode"] == CAR) & (trips["origin"] != trips["dest"]) & (trips["slice"] == 8)
    od = np.zeros((z, z))
    np.add.at(od, (trips["origin"][car], trips["dest"][car]), 1.0)
    return model, od


def route_csgraph(model: TransportModel, od: np.ndarray, cost: np.ndarray) -> np.ndarray:
    net = model.network
    origins = np.flatnonzero(od.sum(axis=1))
    _, pred = shortest_trees(net, cost, net.origin[origins])
    row_of = np.full(net.n_zones, -1)
    row_of[origins] = np.arange(origins.size)
    o, d = np.nonzero(od)
    return load_trips(net, pred, row_of[o], net.dest[d], od[o, d])


def route_networkx(model: TransportModel, od: np.ndarray, cost: np.ndarray) -> np.ndarray:
    net = model.network
    g = nx.DiGraph()
    for k, (u, v) in enumerate(zip(net.tail.tolist(), net.head.tolist(), strict=True)):
        g.add_edge(u, v, weight=float(cost[k]), link=k)
    volume = np.zeros(net.n_links)
    for o, d in zip(*np.nonzero(od), strict=True):
        path = nx.dijkstra_path(g, int(net.origin[o]), int(net.dest[d]), weight="weight")
        for u, v in zip(path[:-1], path[1:], strict=True):
            volume[g.edges[u, v]["link"]] += od[o, d]
    return volume


def bench_routing(streets: int, repeats: int) -> dict:
    model, od = peak_demand(streets)
    cost = model.link_time[:, 8].copy()
    timings: dict[str, list[float]] = {"csgraph": [], "networkx": []}
    volumes = {}
    for _ in range(repeats):
        for name, fn in (("csgraph", route_csgraph), ("networkx", route_networkx)):
            t = time.perf_counter()
            volumes[name] = fn(model, od, cost)
            timings[name].append(time.perf_counter() - t)
    tt = {k: float(v @ cost) for k, v in volumes.items()}
    assert abs(tt["csgraph"] - tt["networkx"]) <= 1e-6 * tt["csgraph"], tt
    med = {k: statistics.median(v) for k, v in timings.items()}
    return {
        "benchmark": "transport.routing",
        "links": int(model.network.n_links),
        "nodes": int(model.network.n_nodes),
        "origins": int((od.sum(axis=1) > 0).sum()),
        "pairs": int((od > 0).sum()),
        "vehicles": float(od.sum()),
        "csgraph_s": round(med["csgraph"], 4),
        "networkx_s": round(med["networkx"], 4),
        "ratio_networkx_to_csgraph": round(med["networkx"] / med["csgraph"], 1),
        "total_travel_time_equal": True,
    }


def million_persons(copies: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`copies` samples of the demo city, ids offset so persons and households stay unique."""
    persons, households = [], []
    for k in range(copies):
        pop = _demo_population(np.random.default_rng(1000 + k))
        offset_p, offset_h = k * 10**7, k * 10**7
        persons.append(
            pop.persons.with_columns(
                pl.col("person_id") + offset_p, pl.col("household_id") + offset_h
            )
        )
        households.append(pop.households.with_columns(pl.col("household_id") + offset_h))
    return pl.concat(persons), pl.concat(households)


def bench_scale(persons_target: int, days: int, streets: int) -> dict:
    t0 = time.perf_counter()
    copies = max(1, round(persons_target / 100_000))
    persons, households = million_persons(copies)
    population_s = time.perf_counter() - t0
    # Roads sized for the city: the demo's network carries 100,000 persons with 2 streets per
    # zone side; ten times the persons on 7 streets a side need 10 * 2 / 7 times the capacity
    # per street to meet the same congestion (the street count across the city grows as 7/2).
    capacity = copies * 2 / streets
    params = read_params(
        TransportParams,
        overrides=[
            f"assignment.days={days}",
            "assignment.tolerance=0",
            f"network.streets_per_zone={streets}",
            f"network.capacity_factor={capacity:.6g}",
            "assignment.log_links=false",
        ],
    )
    t = time.perf_counter()
    model = TransportModel(params, seed=1, persons=persons, households=households)
    build_s = time.perf_counter() - t
    per_day = []
    t = time.perf_counter()
    for _ in range(days):
        d = time.perf_counter()
        model.step()
        per_day.append(time.perf_counter() - d)
    run_s = time.perf_counter() - t
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {
        "benchmark": "transport.scale",
        "persons": int(persons.height),
        "trips": int(model.chains.total_trips),
        "links": int(model.network.n_links),
        "days": days,
        "population_s": round(population_s, 1),
        "build_s": round(build_s, 1),
        "run_s": round(run_s, 1),
        "day_s_median": round(statistics.median(per_day), 2),
        "total_s": round(build_s + run_s, 1),
        "peak_rss_gb": round(peak_gb, 2),
        "final_relative_gap": model.gaps[-1],
        "gaps": [round(g, 5) for g in model.gaps],
        "car_share": round(model.kpi_last["share_car"], 4),
        "capacity_factor": round(capacity, 4),
        "limits": {"total_s": 600, "peak_rss_gb": 6},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streets", type=int, default=4, help="streets per zone (routing)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", action="store_true", help="also run the 1M-person day")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--scale-streets", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(bench_routing(args.streets, args.repeats)), flush=True)
    if args.scale:
        print(json.dumps(bench_scale(args.persons, args.days, args.scale_streets)), flush=True)


if __name__ == "__main__":
    main()
