"""`TransportModel`: a synthetic city's day of trips, learnt day after day until traffic settles.

The model reads like its description: parameters -> population (the demo city by default)
-> road network (built for the city's zones, or given) -> activity chains and destinations
(`demand`) -> transit lines and street distances (`transit`, `skims`) -> each day (one step):
everyone chooses a mode for the day's chain with yesterday's travel times (`modes`), the cars
are routed on shortest paths of each time slice and the roads' times follow from their loads
(`assignment`, BPR) -> the day's experience is averaged into the city's memory by the method of
successive averages (MSA) -> the relative gap says how far the city is from an equilibrium
where nobody could do better alone; the run stops once it is below the tolerance.

The averaged state after day k is the mean of the days' choices since the city last changed
(a policy starting or ending restarts the averaging), so it is a mixture of days; the logged
day (events, trips) draws each person's day from that mixture (keyed by person), the MATSim
habit of reporting one representative day from the last iteration.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import mesa
import networkx as nx
import numpy as np
import polars as pl

from abm.agents import ColumnAgent, column
from abm.events import EventLog, EventSchema, KpiCollector
from abm.model import SynthModel
from abm.params import params_to_dict
from abm.rng import Streams
from populations.errors import ConfigError
from populations.output import file_sha256
from scenarios.transport import daylog
from scenarios.transport.assignment import bpr, load_trips, relative_gap, shortest_trees
from scenarios.transport.city import centre_of, city_network
from scenarios.transport.demand import Chains, build_chains
from scenarios.transport.modes import CAR, ModeInputs, choose_modes, simulate
from scenarios.transport.network import Network, compile_network
from scenarios.transport.params import MODES, TransportParams
from scenarios.transport.policies import (
    cordon_entries,
    cordon_zones,
    link_conditions,
    policy_days,
)
from scenarios.transport.skims import car_skims, walk_distances
from scenarios.transport.transit import build_transit

__all__ = ["Traveller", "TransportModel"]


class Traveller(ColumnAgent):
    """A person of the city: a thin Mesa view over the model's columns."""

    zone = column(np.int32, default=0, doc="home zone (index into model.network.zones)")
    age = column(np.int16, default=0, doc="years")
    has_car = column(np.bool_, default=False, doc="may drive today")
    mode = column(np.int8, default=-1, doc="today's mode (MODES code; -1: no trip)")
    trips = column(np.int8, default=0, doc="trips in today's chain")


class TransportModel(SynthModel):
    """Day-to-day traffic of a synthetic city, with policies.

    A day (one step) runs the rule ``learn``: choose modes with the current travel times,
    load the cars on the shortest paths of each time slice, average into the city's memory
    (MSA), update link times (BPR), shortest paths and skims, record the KPIs and the
    relative gap. Scheduled events switch policies on or off at their ``start_day`` /
    ``end_day`` (and restart the averaging).

    Parameters
    ----------
    params : TransportParams, optional
    seed : int or abm.rng.Streams, optional
    persons : polars.DataFrame, optional
        ``person_id``, ``household_id``, ``zone``, ``age``, ``employment``, ``income``
        (``district`` if present). Default: a sample of the demo city.
    households : polars.DataFrame, optional
        ``household_id`` and ``cars`` (``0``, ``1``, ``2``, ``3+`` or numbers). Default: the
        demo city's, or car ownership derived from income when `persons` come alone.
    network : networkx graph or Network, optional
        The roads (see `scenarios.transport.network`). Default: `city_network` for the
        population's zones and districts.
    zones : mapping of zone to node, optional
        Where each zone's trips start and end on `network` (default: nodes' ``zone``).
    out, fmt, overwrite, shard
        Where and how to write the event log (see `abm.events.EventLog`); the trips table,
        hourly link volumes and the network are written beside it on `close`.
    chunk_rows : int
        Events held in memory before a chunk is written.
    """

    rules = ("learn",)

    def __init__(
        self,
        params: TransportParams | None = None,
        *,
        seed: int | Streams | None = None,
        persons: pl.DataFrame | None = None,
        households: pl.DataFrame | None = None,
        network: nx.DiGraph | Network | None = None,
        zones: dict[str, Any] | None = None,
        out: str | Path | None = None,
        fmt: str = "parquet",
        overwrite: bool = False,
        shard: int | None = None,
        chunk_rows: int = 1_000_000,
    ) -> None:
        super().__init__(seed=seed)
        self.params = params = params if params is not None else TransportParams()
        if not isinstance(params, TransportParams):
            msg = f"`params` must be TransportParams, got {type(params).__name__}."
            raise ConfigError(msg)
        a = params.assignment

        # population
        if persons is None:
            population = _demo_population(self.streams["population"])
            persons, households = population.persons, population.households
        persons = _check_persons(persons)
        if params.sample < 1.0:
            u = self.keyed("population.sample").uniform(0, persons["household_id"].to_numpy())
            persons = persons.filter(pl.Series(u < params.sample))
            if persons.height == 0:
                msg = f"parameter `sample` = {params.sample} keeps no household."
                raise ConfigError(msg)
        self.persons = persons
        zone_names = _labels(persons["zone"])
        self.district_of = _districts(persons)

        # road network
        if network is None:
            districts = [self.district_of.get(z, "all") for z in zone_names]
            spec = params.network
            network = city_network(
                zone_names,
                districts,
                zone_size=spec.zone_size,
                streets_per_zone=spec.streets_per_zone,
                bridges=spec.bridges,
                ring=spec.ring,
                frequency=params.transit.frequency,
            )
        self.network = net = (
            network if isinstance(network, Network) else compile_network(network, zones=zones)
        )
        zone_index = {z: i for i, z in enumerate(net.zones)}
        missing = [z for z in zone_names if z not in zone_index]
        if missing:
            msg = (
                f"the population lives in zone `{missing[0]}`, which the road network does not "
                f"have (its zones: {', '.join(net.zones[:8])}{', ...' if net.n_zones > 8 else ''})."
                " Hint: give zones={zone: node} for every zone of the population."
            )
            raise ConfigError(msg)
        self.slice_seconds = a.slice_minutes * 60.0
        self.n_slices = math.ceil(24 * 3600 / self.slice_seconds)
        self.kpis = KpiCollector(
            groups={
                "mode": pl.Enum(MODES),
                "zone": pl.Enum(list(net.zones)),
                "hour": pl.Int32,
            }
        )

        # persons' columns
        home = (
            persons["zone"].cast(pl.String).replace_strict(zone_index, return_dtype=pl.Int32)
        ).to_numpy()
        age = persons["age"].to_numpy().astype(np.int16)
        self.person_ids = ids = persons["person_id"].to_numpy().astype(np.int64)
        has_car, income = _cars_and_income(
            persons, households, params, self.keyed("modes.car_shared")
        )
        self.travellers = self.add_agent_type(
            Traveller,
            {"person_id": ids, "zone": home, "age": age, "has_car": has_car},
            ids="person_id",
            create_views=False,
        )
        m = params.modes
        self.cost_scale = (m.income_reference / np.maximum(income, 0.1 * m.income_reference)) ** (
            m.income_elasticity
        )
        u = np.stack([self.keyed("modes.taste").uniform(k, ids) for k in range(len(MODES))], 1)
        self.gumbel = -np.log(-np.log(np.clip(u, 1e-300, 1 - 1e-16)))

        # demand: chains and destinations
        self.street = walk_distances(net)
        self.employment = persons["employment"].cast(pl.String).to_numpy()
        self.remote = self.keyed("demand.remote").uniform(0, ids)
        self.attractions = self._attractions(home)
        self.home = home
        self.remote_share = -1.0
        self.chains: Chains = self._chains(0.0)

        # transit and the cordon
        self.transit = build_transit(net, walk_speed=m.walk_speed, speed=params.transit.speed)
        self.transit_skims = self.transit.skims() if self.transit is not None else None
        self.inside = cordon_zones(params, net.zones, self.district_of)
        self.entries = cordon_entries(net, self.inside)
        self.parking = np.where(self.inside, m.parking_centre, 0.0)
        self.closed_links = (
            net.find_links(params.closure.links) if params.closure.links else np.arange(0)
        )

        # the city's memory (MSA) and today's conditions
        z, s = net.n_zones, self.n_slices
        self.flow = np.zeros((net.n_links, s))  # vehicles per slice
        self.car_demand = np.zeros((z, z, s))
        self.memory: dict[str, np.ndarray] = {}
        self.learning_day = 0  # days averaged since the city last changed
        self.gaps: list[float] = []
        self.history_modes: list[np.ndarray] = []
        self.history_trees: list[np.ndarray] = []
        self.last_mode = np.full(ids.size, -1, np.int8)
        self.conditions = link_conditions(
            net, params, 0, n_slices=s, entries=self.entries, closed=self.closed_links
        )
        if self.conditions.remote_share != self.remote_share:
            self.chains = self._chains(self.conditions.remote_share)
        self._update_times()
        self.change_days = policy_days(params)
        for day in self.change_days:
            self.schedule(day, "change_policies")
        self._logged: daylog.LoggedDay | None = None

        # event log and KPIs
        self.out = None if out is None else Path(out)
        self.shard = shard
        if out is not None:
            self.event_log = EventLog(
                out,
                schema=self.event_schema(),
                fmt=fmt,
                seed=self.seed,
                parameters=params_to_dict(params),
                overwrite=overwrite,
                shard=shard,
                kpis=self.kpis,
                chunk_rows=chunk_rows,
            )
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "relative_gap": lambda mdl: mdl.gaps[-1] if mdl.gaps else float("nan"),
                "car_share": _share_of(CAR),
            }
        )

    # ----------------------------------------------------------------------------- set-up

    def event_schema(self) -> EventSchema:
        """MATSim's event vocabulary and attribute names (see docs/scenarios/transport.md)."""
        return daylog.event_schema(len(self.network.label))

    def _attractions(self, home: np.ndarray) -> dict[str, np.ndarray]:
        net, d = self.network, self.params.demand
        residents = np.bincount(home, minlength=net.n_zones).astype(float)
        age = self.persons["age"].to_numpy()
        lo, hi = d.school_age
        pupils = np.bincount(home[(age >= lo) & (age <= hi)], minlength=net.n_zones).astype(float)
        centre = centre_of(net.graph) if net.graph is not None else None
        if d.jobs_centrality > 0 and centre is not None:  # the built-in city: metres
            zx, zy = net.x[net.dest], net.y[net.dest]
            km = np.hypot(zx - centre[0], zy - centre[1]) / 1000.0
            jobs = (residents + 1) * np.exp(-km / d.jobs_centrality)
        else:
            jobs = residents + 1
        return {"work": jobs, "school": pupils + 1, "shop": residents + 1, "leisure": residents + 1}

    def _chains(self, remote_share: float) -> Chains:
        self.remote_share = remote_share
        employed = self.employment == "employed"
        return build_chains(
            person_ids=self.person_ids,
            home=self.home,
            age=self.persons["age"].to_numpy(),
            employed=employed,
            student=self.employment == "student",
            remote=employed & (self.remote < remote_share),
            distance_km=self.street / 1000.0,
            attractions=self.attractions,
            demand=self.params.demand,
            keyed=self.keyed,
        )

    # ----------------------------------------------------------------------------- events

    def change_policies(self) -> None:
        """A policy starts or ends today: new link conditions; the averaging restarts."""
        day = self.clock.step
        self.conditions = link_conditions(
            self.network,
            self.params,
            day,
            n_slices=self.n_slices,
            entries=self.entries,
            closed=self.closed_links,
        )
        if self.conditions.remote_share != self.remote_share:
            self.chains = self._chains(self.conditions.remote_share)
        self.learning_day = 0
        self.history_modes.clear()
        self.history_trees.clear()
        self._update_times()

    # ----------------------------------------------------------------------------- the day

    def learn(self) -> None:
        """One day: choose, route, load, average, update times and skims, record KPIs."""
        p, net, s_count = self.params, self.network, self.n_slices
        inputs = self.mode_inputs()
        mode, _ = choose_modes(self.chains, inputs, p.modes, self.gumbel)
        switched = float(np.mean(mode[mode >= 0] != self.last_mode[mode >= 0]))
        self.last_mode = mode
        self.travellers["mode"][:] = mode
        self.travellers["trips"][:] = self.chains.n_trips
        trips = self._trips_of(mode, inputs)

        # today's cars on today's shortest paths
        z = net.n_zones
        car = (trips["mode"] == CAR) & (trips["origin"] != trips["dest"])
        cell = (trips["origin"][car] * z + trips["dest"][car]) * s_count + trips["slice"][car]
        demand = np.bincount(cell, minlength=z * z * s_count).reshape(z, z, s_count)
        loaded = np.zeros_like(self.flow)
        for s in range(s_count):
            o, d = np.nonzero(demand[:, :, s])
            if o.size:
                loaded[:, s] = load_trips(net, self.trees[s], o, net.dest[d], demand[o, d, s])

        # the city's memory: successive averages since the last change
        step = 1.0 / (self.learning_day + 1)
        self.flow += step * (loaded - self.flow)
        self.car_demand += step * (demand - self.car_demand)
        for key, value in self._aggregates(trips).items():
            old = self.memory.get(key)
            self.memory[key] = value if old is None or step == 1.0 else old + step * (value - old)
        self.history_modes.append(mode.copy())
        self.history_trees.append(np.stack(self.trees).astype(np.int32))
        self.learning_day += 1

        self._update_times()
        gap = self._gap()
        self.gaps.append(gap)
        self._record(gap, switched)
        day = self.clock.step
        pending = any(d > day for d in self.change_days)
        tol = p.assignment.tolerance
        if tol > 0 and gap < tol and switched < tol and not pending:
            self.running = False

    def mode_inputs(self) -> ModeInputs:
        """Today's skims and who may use what, for `modes.choose_modes`."""
        c, t = self.conditions, self.params.transit
        wait = None
        if self.transit is not None and self.transit_skims is not None:
            freq = self.transit.stop_frequency(c.transit_factor)
            wait = self.transit_skims.wait(freq, t.max_wait * 60.0)
        return ModeInputs(
            car=self.car,
            transit=self.transit_skims if wait is not None else None,
            transit_wait=wait,
            street=self.street,
            has_car=self.travellers["has_car"],
            age=self.travellers["age"],
            cost_scale=self.cost_scale,
            parking=self.parking,
            slice_seconds=self.slice_seconds,
            n_slices=self.n_slices,
        )

    def _trips_of(self, mode: np.ndarray, inputs: ModeInputs) -> dict[str, np.ndarray]:
        """Today's legs of everyone, by their chosen mode, flattened (one entry a trip)."""
        parts: dict[str, list[np.ndarray]] = {}
        for m in range(len(MODES)):
            rows = np.flatnonzero(mode == m)
            if rows.size == 0:
                continue
            legs = simulate(self.chains, m, rows, inputs, self.params.modes)
            valid = np.arange(legs.depart.shape[1])[None, :] < self.chains.n_trips[rows, None]
            r, j = np.nonzero(valid)
            person = rows[r]
            values = {
                "person": person,
                "leg": j,
                "origin": self.chains.zone[person, j],
                "dest": self.chains.zone[person, j + 1],
                "mode": legs.mode[r, j].astype(np.int64),
                "slice": legs.slice[r, j],
                "depart": legs.depart[r, j],
                "travel": legs.travel[r, j],
                "distance": legs.distance[r, j],
                "toll": legs.toll[r, j],
            }
            for k, v in values.items():
                parts.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in parts.items()} if parts else _no_trips()

    def _aggregates(self, trips: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Today's trip tables to average: by zone and mode, by hour and mode."""
        z, nm = self.network.n_zones, len(MODES)
        zm = trips["origin"] * nm + trips["mode"]
        hour = np.clip((trips["depart"] // 3600).astype(np.int64), 0, 23)
        hm = hour * nm + trips["mode"]
        finite = np.isfinite(trips["travel"])
        hours = np.where(finite, trips["travel"], 0.0) / 3600.0
        km = np.where(np.isfinite(trips["distance"]), trips["distance"], 0.0) / 1000.0
        return {
            "trips_zm": np.bincount(zm, minlength=z * nm).reshape(z, nm).astype(float),
            "hours_zm": np.bincount(zm, weights=hours, minlength=z * nm).reshape(z, nm),
            "km_zm": np.bincount(zm, weights=km, minlength=z * nm).reshape(z, nm),
            "toll_z": np.bincount(trips["origin"], weights=trips["toll"], minlength=z),
            "trips_hm": np.bincount(hm, minlength=24 * nm).reshape(24, nm).astype(float),
        }

    def _update_times(self) -> None:
        """Link times from the averaged flows (BPR), then trees and car skims of each slice.

        ``link_time`` (s) and ``link_cost`` (s, tolls at the value of time) are per link and
        slice (not ``time``: Mesa 3.5 keeps the model's clock there)."""
        p, net, c = self.params, self.network, self.conditions
        a = p.assignment
        alpha = np.where(np.isnan(net.alpha), a.bpr_alpha, net.alpha)
        beta = np.where(np.isnan(net.beta), a.bpr_beta, net.beta)
        hours = self.slice_seconds / 3600.0
        self.link_time = bpr(
            c.free_time[:, None],
            self.flow / hours,
            c.capacity[:, None],
            alpha[:, None],
            beta[:, None],
        )
        self.link_cost = self.link_time + c.toll * (3600.0 / p.modes.value_of_time)
        self.trees, dists = [], []
        for s in range(self.n_slices):
            dist, pred = shortest_trees(net, self.link_cost[:, s], net.origin)
            self.trees.append(pred)
            dists.append(dist)
        self.dists = dists
        self.car = car_skims(
            net,
            self.trees,
            dists,
            self.link_time,
            c.toll,
            intrazonal_m=np.diag(self.street).copy(),
        )

    def _gap(self) -> float:
        """Relative gap of the averaged flows against today's shortest paths."""
        used = self.flow > 0
        total = float((self.flow[used] * self.link_cost[used]).sum())
        z = self.network.n_zones
        demand = self.car_demand.copy()
        demand[np.arange(z), np.arange(z), :] = 0.0
        sp = self.car.cost
        ok = demand > 0
        shortest = float((demand[ok] * sp[ok]).sum())
        return relative_gap(total, shortest)

    # ----------------------------------------------------------------------------- KPIs

    def _record(self, gap: float, switched: float) -> None:
        net, e = self.network, self.params.emissions
        mem = self.memory
        real = ~net.virtual
        flow, time = self.flow[real], self.link_time[real]
        length = net.length[real][:, None]
        free = self.conditions.free_time[real][:, None]
        vkm_h = (flow * length).sum(axis=0) / 1000.0
        time = np.where(flow > 0, time, free)  # a closed link carries nothing (inf x 0)
        vh = float((flow * time).sum()) / 3600.0
        delay_h = (flow * (time - free)).sum(axis=0) / 3600.0
        toll = float((self.flow * self.conditions.toll).sum())
        vkm = float(vkm_h.sum())
        trips_zm, hours_zm, km_zm = mem["trips_zm"], mem["hours_zm"], mem["km_zm"]
        trips_m = trips_zm.sum(axis=0)
        km_m = km_zm.sum(axis=0)
        hours_m = hours_zm.sum(axis=0)
        factors = np.array([e.car, e.transit, e.bike, e.walk])
        co2_m = km_m * factors / 1000.0
        co2_m[0] = vkm * e.car / 1000.0
        person_hours = vh + float(hours_m[1:].sum())
        total_trips = float(trips_m.sum())
        self.kpi("relative_gap", gap)
        self.kpi("mode_switches", switched)
        self.kpi("trips", total_trips)
        self.kpi("vehicle_km", vkm)
        self.kpi("vehicle_hours", vh)
        self.kpi("delay_hours", float(delay_h.sum()))
        self.kpi("person_hours", person_hours)
        self.kpi("toll_revenue", toll)
        self.kpi("co2_kg", float(co2_m.sum()))
        for m, name in enumerate(MODES):
            self.kpi(f"share_{name}", trips_m[m] / total_trips if total_trips else 0.0)
        modes = list(MODES)
        self.kpi("trips", trips_m, mode=modes)
        self.kpi("mode_share", trips_m / total_trips if total_trips else trips_m, mode=modes)
        self.kpi("person_km", km_m, mode=modes)
        self.kpi("person_hours", hours_m, mode=modes)
        self.kpi("co2_kg", co2_m, mode=modes)
        hours = np.arange(self.n_slices) * self.slice_seconds / 3600.0
        hour_labels = np.floor(hours).astype(np.int64)
        self.kpi("vehicle_km", vkm_h, hour=hour_labels)
        self.kpi("delay_hours", delay_h, hour=hour_labels)
        th = mem["trips_hm"]
        self.kpi("departures", th.sum(axis=1), hour=np.arange(24))
        z = net.n_zones
        zones = list(net.zones)
        for m, name in enumerate(MODES):
            self.kpi("trips", trips_zm[:, m], zone=zones, mode=[name] * z)
        self.kpi("person_hours", hours_zm.sum(axis=1), zone=zones)
        co2_z = km_zm @ factors / 1000.0
        self.kpi("co2_kg", co2_z, zone=zones)
        self.kpi("toll_paid", mem["toll_z"], zone=zones)

    # ----------------------------------------------------------------------------- outputs

    def logged_day(self) -> daylog.LoggedDay:
        """The representative day: each person's day drawn from the learnt mixture, driven
        on the final link times (trips table, events, link volumes)."""
        if self._logged is None:
            self._logged = daylog.log_day(self)
        return self._logged

    def trips(self) -> pl.DataFrame:
        """The trips table of the logged day (one row per trip)."""
        return self.logged_day().trips

    def link_volumes(self) -> pl.DataFrame:
        """Hourly volumes, speeds and times of every link (the averaged state)."""
        return daylog.link_volumes(self)

    def close(self) -> dict[str, Any] | None:
        """Log the day's events (if a log is written), close the log, write the extras."""
        log = self.event_log
        write = log is not None and not log.closed and not self.closed
        if write:
            try:
                self.logged_day().emit(self)
            except BaseException:
                log.abort()
                raise
        manifest = super().close()
        if write and manifest is not None and self.out is not None:
            self._write_extras()
        return self.manifest

    def _write_extras(self) -> None:
        """trips, link_volumes, network_links and network_nodes (Parquet) beside the log."""
        assert self.out is not None
        frames = {
            "trips": self.trips(),
            "link_volumes": self.link_volumes(),
            "network_links": daylog.network_links(self.network),
            "network_nodes": daylog.network_nodes(self.network),
        }
        if self.shard is None:
            manifest_file = self.out / "manifest.json"
            rels = {name: f"{name}.parquet" for name in frames}
        else:
            part = f"shard={self.shard:05d}"
            manifest_file = self.out / "manifests" / f"{part}.json"
            rels = {name: f"{name}/{part}/part-00000.parquet" for name in frames}
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        outputs = manifest.setdefault("outputs", {})
        for name, frame in frames.items():
            target = self.out / rels[name]
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            frame.write_parquet(tmp, compression="zstd")
            os.replace(tmp, target)
            outputs[rels[name]] = {"sha256": file_sha256(target), "rows": frame.height}
        manifest["extras"] = rels
        tmp = manifest_file.with_name(f".{manifest_file.name}.tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, manifest_file)
        self.manifest = manifest


# --------------------------------------------------------------------------------- helpers


def _share_of(mode: int) -> Any:
    def share(model: TransportModel) -> float:
        m = model.travellers["mode"]
        moving = m >= 0
        return float(np.mean(m[moving] == mode)) if moving.any() else float("nan")

    return share


def _no_trips() -> dict[str, np.ndarray]:
    ints = ("person", "leg", "origin", "dest", "mode", "slice")
    floats = ("depart", "travel", "distance", "toll")
    return {**{k: np.zeros(0, np.int64) for k in ints}, **{k: np.zeros(0) for k in floats}}


def _demo_population(rng: np.random.Generator) -> Any:
    """A sample of the demo city with its households (for their cars).

    Uses the demo's fitted synthesizer, cached per process by `populations.demo` (the same one
    `populations.demo.demo_persons` samples, so the persons are those it would give)."""
    from populations import demo

    return demo.demo_population(rng)


def _labels(zone: pl.Series) -> list[str]:
    if isinstance(zone.dtype, pl.Enum):
        return list(zone.dtype.categories.to_list())
    return sorted(zone.cast(pl.String).unique().to_list())


def _districts(persons: pl.DataFrame) -> dict[str, str]:
    if "district" not in persons.columns:
        return {}
    pairs = persons.select(
        pl.col("zone").cast(pl.String), pl.col("district").cast(pl.String)
    ).unique()
    return dict(pairs.iter_rows())


_REQUIRED = ("person_id", "household_id", "zone", "age", "employment")


def _check_persons(persons: Any) -> pl.DataFrame:
    if not isinstance(persons, pl.DataFrame):
        msg = (
            f"`persons` must be a polars DataFrame, got {type(persons).__name__}. "
            "Hint: `polars.from_pandas(df)` converts a pandas frame."
        )
        raise ConfigError(msg)
    missing = [c for c in _REQUIRED if c not in persons.columns]
    if missing:
        msg = (
            "`persons` has no column "
            + ", ".join(f"`{c}`" for c in missing)
            + ". Hint: the transport scenario needs "
            + ", ".join(_REQUIRED)
            + " (and `income`)."
        )
        raise ConfigError(msg)
    if "income" not in persons.columns:
        persons = persons.with_columns(income=pl.lit(0.0))
    for name in (*_REQUIRED, "income"):
        nulls = persons[name].null_count()
        if nulls:
            msg = f"`persons` column `{name}` has {nulls} missing value(s). Hint: fill them first."
            raise ConfigError(msg)
    return persons


def _cars_and_income(
    persons: pl.DataFrame,
    households: pl.DataFrame | None,
    params: TransportParams,
    draws: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Who may drive (a household's cars shared among its drivers) and household income."""
    m = params.modes
    hh = persons["household_id"].to_numpy()
    codes, hh_row = np.unique(hh, return_inverse=True)
    income = persons["income"].to_numpy().astype(float)
    hh_income = np.bincount(hh_row, weights=income)
    age = persons["age"].to_numpy()
    driver = age >= m.driving_age
    drivers = np.bincount(hh_row, weights=driver.astype(float))
    if households is not None and "cars" in households.columns:
        cars_col = households["cars"].cast(pl.String).str.replace(r"\+$", "")
        try:
            values = cars_col.cast(pl.Float64).to_numpy()
        except pl.exceptions.PolarsError:
            msg = "`households` column `cars` must hold numbers of cars (or `3+`)."
            raise ConfigError(msg) from None
        lookup = dict(zip(households["household_id"].to_list(), values.tolist(), strict=True))
        cars = np.array([lookup.get(int(h), 0.0) for h in codes.tolist()])
    else:
        # Derived: one car per household below the reference income, two above twice it.
        per_income = hh_income / m.income_reference
        cars = np.clip(np.floor(0.4 + per_income), 0, 3)
    share = np.where(drivers > 0, np.minimum(1.0, cars / np.maximum(drivers, 1)), 0.0)
    u = draws.uniform(0, persons["person_id"].to_numpy().astype(np.int64))
    has_car = driver & (u < share[hh_row])
    return has_car, hh_income[hh_row]
