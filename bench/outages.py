"""Benchmark: a season of the outages scenario on the demo city, against a per-agent Mesa yardstick.

What is measured
----------------
* ``season_s``: one season (2,208 hours, default parameters) of `OutageModel` on the demo city,
  with every hourly KPI and the Mesa ``DataCollector`` (what ``synthworld run outages`` does,
  without writing the log), median over ``--seasons`` seeds; the city is built once before
  (``build_s``: population sample, network, ratings, N-1 analysis);
* ``lean_season_s``: the same seasons with ``hourly_kpis=False, create_views=False``, what the
  rare-event runners build (`scenarios.outages.rare.SeasonModel`);
* ``quiet_hour_us``: microseconds per hour of a season without storms or heat waves (the floor);
* ``mesa_hour_us``: the yardstick, a plain Mesa model of the same city with one ``mesa.Agent``
  per customer and per component and the hourly rules that scale with them written per agent:
  each customer computes its demand (profile x temperature response) and adds it to its load
  node; each component draws its wear failure and sums the load of the nodes it supplies (its
  N-1 dependants, for a radial feeder exactly its flow) against its rating. It does no weather,
  cascades, crews or logging, so it flatters Mesa. It runs ``--mesa-hours`` hours; the season's
  figure is scaled from them (``mesa_season_s``);
* ``speedup``: ``mesa_season_s / season_s``.

How to run
----------
From the project root::

    python bench/outages.py
    python bench/outages.py --seasons 5 --mesa-hours 48

One JSON line on stdout.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import mesa
import numpy as np
from _common import emit, log

from abm.params import read_params
from scenarios.outages import OutageModel, OutageParams
from scenarios.outages.customers import CUSTOMER_KINDS
from scenarios.outages.demand import COOLING, HEATING, PROFILES
from scenarios.outages.grid import TIE
from scenarios.outages.world import build_world


class CustomerAgent(mesa.Agent):
    def __init__(self, model, kind: int, node: int, base_kw: float) -> None:
        super().__init__(model)
        self.kind, self.node, self.base_kw = kind, node, base_kw

    def step(self) -> None:
        m = self.model
        t = m.temperature
        response = (
            1.0 + COOLING[self.kind] * max(0.0, t - 22.0) + HEATING[self.kind] * max(0.0, 15.0 - t)
        )
        m.load[self.node] += self.base_kw * PROFILES[self.kind, m.weekend, m.hour] * response


class ComponentAgent(mesa.Agent):
    def __init__(self, model, nodes: list[int], capacity: float, rate: float) -> None:
        super().__init__(model)
        self.nodes, self.capacity, self.rate = nodes, capacity, rate
        self.in_service = True

    def step(self) -> None:
        m = self.model
        if self.in_service and m.random.random() < self.rate:
            self.in_service = False
        flow = sum(m.load[n] for n in self.nodes)
        if flow > self.capacity:
            self.in_service = False


class MesaOutages(mesa.Model):
    """The per-agent yardstick (see the module docstring)."""

    def __init__(self, world, *, seed: int) -> None:
        super().__init__(rng=np.random.default_rng(seed))
        c = world.customers
        kinds = c["kind"].to_physical().to_numpy()
        for kind, node, kw in zip(kinds, world.customer_node, c["base_kw"].to_numpy(), strict=True):
            CustomerAgent(self, int(kind), int(node), float(kw))
        dep = world.dependants.tocsr()
        grid = world.grid
        for e in range(grid.n_edges):
            if grid.kind[e] == TIE:
                continue
            nodes = dep.indices[dep.indptr[e] : dep.indptr[e + 1]].tolist()
            ComponentAgent(self, nodes, float(grid.capacity[e]), 1e-6)
        self.load = [0.0] * grid.n_nodes
        self.hour, self.weekend, self.temperature, self.t = 0, 0, 21.0, 0

    def step(self) -> None:
        self.hour = self.t % 24
        self.weekend = int((self.t // 24) % 7 >= 5)
        self.temperature = 21.0 + 4.5 * np.cos(2 * np.pi * (self.hour - 15) / 24)
        self.load = [0.0] * len(self.load)
        self.agents_by_type[CustomerAgent].shuffle_do("step")
        self.agents_by_type[ComponentAgent].shuffle_do("step")
        self.t += 1


def season(params: OutageParams, seed: int, **kwargs) -> tuple[float, OutageModel]:
    model = OutageModel(params, seed=seed, **kwargs)
    t0 = time.perf_counter()
    model.run(params.hours)
    model.close()
    return time.perf_counter() - t0, model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seasons", type=int, default=5)
    parser.add_argument("--mesa-hours", type=int, default=24)
    args = parser.parse_args()
    params = OutageParams()
    t0 = time.perf_counter()
    build_world(params.network, city_seed=params.city_seed, diurnal_range=params.diurnal_range)
    build_s = time.perf_counter() - t0
    log(f"city built in {build_s:.1f} s")
    full, lean, saidi = [], [], []
    for seed in range(args.seasons):
        s, model = season(params, seed)
        full.append(s)
        saidi.append(model.reliability().row(0, named=True)["SAIDI"])
        lean.append(season(params, seed, hourly_kpis=False, create_views=False)[0])
        log(f"season {seed}: {full[-1]:.2f} s, lean {lean[-1]:.2f} s, SAIDI {saidi[-1]:.0f} min")
    quiet = read_params(OutageParams, overrides=["storms.rate=0", "heat_waves.rate=0"])
    q, _ = season(quiet, 0, hourly_kpis=False, create_views=False)
    world = build_world(
        params.network, city_seed=params.city_seed, diurnal_range=params.diurnal_range
    )
    t0 = time.perf_counter()
    yardstick = MesaOutages(world, seed=1)
    mesa_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.mesa_hours):
        yardstick.step()
    mesa_hour = (time.perf_counter() - t0) / args.mesa_hours
    season_s = statistics.median(full)
    emit(
        {
            "bench": "outages",
            "customers": world.customers.height,
            "components": world.grid.n_edges,
            "hours": params.hours,
            "seasons": args.seasons,
            "build_s": build_s,
            "season_s": season_s,
            "lean_season_s": statistics.median(lean),
            "quiet_hour_us": q / params.hours * 1e6,
            "median_saidi_min": statistics.median(saidi),
            "mesa_build_s": mesa_build,
            "mesa_hour_us": mesa_hour * 1e6,
            "mesa_season_s": mesa_hour * params.hours,
            "speedup": mesa_hour * params.hours / season_s,
            "kinds": list(CUSTOMER_KINDS),
            "python": platform.python_version(),
            "mesa": mesa.__version__,
        }
    )


if __name__ == "__main__":
    main()
