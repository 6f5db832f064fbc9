"""`OutageModel`: a season of shocks to a city's electricity network, and the repairs that follow.

The model reads like its description: parameters -> the city (population, customers, the rated
network, roads: `scenarios.outages.world`, shared by the runs of one city) -> the policies
(undergrounding, reinforcement) applied to this run's copy of the components -> components,
customers and crews as column-backed Mesa agents -> scheduled shocks -> event log and KPIs.

One step is one hour. Within it, times are minutes: shocks strike at the top of the hour
(weather is hourly), protection acts at once, and re-closing, switching, crew travel and repairs
finish at the minute they finish, so interruptions have lengths in minutes.

Every draw that decides a component's fate is keyed (`abm.rng.KeyedDraws`): whether it fails in
a storm or by wear, by (seed, hour, component); how long its k-th repair takes, by (seed, k,
component). Weather comes from streams of its own (``temperature``, ``storms``, ``heat``,
``cyber``) that nothing else draws from. So two runs with one seed that differ by a policy see
the same weather and the same draws for every component (common random numbers): an
undergrounded line meets the storm the other arm's overhead line met, and fails only if its
lower hazard still says so.

Arrivals of storms (ordinary and severe), heat waves and cyber incidents are Poisson counts drawn
a day at a time through an `abm.rare.PoissonShocks` (``shocks=``), the interface importance
sampling uses to raise their rates and weight the run (`scenarios.outages.rare`).
"""

from __future__ import annotations

import copy
import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import polars as pl

from abm.agents import ColumnAgent, column
from abm.events import EventLog, KpiCollector
from abm.model import SynthModel
from abm.params import params_to_dict
from abm.rare import PoissonShocks
from abm.rng import Streams
from populations.errors import ConfigError
from scenarios.outages import crews as crew_rules
from scenarios.outages.cascade import cascade, overloaded
from scenarios.outages.customers import CUSTOMER_KINDS
from scenarios.outages.demand import kind_factors
from scenarios.outages.geography import travel_minutes
from scenarios.outages.grid import EDGE_KINDS, FEEDER, PRIMARY, SUBTRANSMISSION, TIE, TRANSFORMER
from scenarios.outages.log import CAUSE, CAUSES, DAMAGE, SHOCK, SHOCKS, EventRows, event_schema
from scenarios.outages.params import OutageParams
from scenarios.outages.reliability import (
    MINUTES_PER_DAY,
    long_interruption_share,
    major_event_days,
    outage_sizes,
    reliability_indices,
)
from scenarios.outages.weather import (
    HeatWave,
    Storm,
    age_multiplier,
    draw_heat_wave,
    draw_storm,
    fragility,
    next_anomaly,
    severe_share,
)
from scenarios.outages.world import World, build_world

__all__ = ["SIZE_BANDS", "Component", "Crew", "Customer", "OutageModel"]

IDLE, TRAVELLING, REPAIRING = 0, 1, 2
HOURS_PER_YEAR = 8760.0
HOURS_PER_30_DAYS = 720.0
POLE_KM = 0.1  # storm exposure of a pole-mounted transformer, as km of overhead line
SIZE_BANDS = ("1-9", "10-99", "100-999", "1000-9999", "10000+")
"""Outage sizes (customers interrupted by one root failure and its cascade), by decade."""


class Component(ColumnAgent):
    """A line, cable, transformer or tie switch of the network: a view over the columns."""

    kind = column(np.int8, default=0, doc="code of grid.EDGE_KINDS")
    zone = column(np.int16, default=0, doc="where a crew goes: index into model.zones")
    overhead = column(np.bool_, default=True, doc="exposed to wind (poles) or underground")
    age = column(np.float32, default=30.0, doc="years")
    capacity_kw = column(np.float64, default=0.0, doc="rating (after reinforcement)")
    flow_kw = column(np.float64, default=0.0, doc="last flow solved, kW (sign: u to v)")
    in_service = column(np.bool_, default=True, doc="not failed, tripped or awaiting repair")
    damaged = column(np.bool_, default=False, doc="needs a crew")
    tripped = column(np.bool_, default=False, doc="opened by protection; re-closed remotely")
    closed = column(np.bool_, default=True, doc="a switch's state (ties are normally open)")
    failure = column(np.int32, default=-1, doc="id of the failure that took it out (-1: none)")
    failures = column(np.int32, default=0, doc="failures so far")
    out_since = column(np.int32, default=-1, doc="minute it went out (-1: in service)")
    reclose_at = column(np.int32, default=-1, doc="minute of the next re-close attempt")
    crew = column(np.int16, default=-1, doc="crew assigned (-1: none)")


class Customer(ColumnAgent):
    """A household, business, hospital or care home: a view over the columns."""

    kind = column(np.int8, default=0, doc="code of customers.CUSTOMER_KINDS")
    zone = column(np.int16, default=0, doc="index into model.zones")
    node = column(np.int32, default=0, doc="the load node it hangs on")
    critical = column(np.bool_, default=False)
    base_kw = column(np.float64, default=0.0, doc="mean demand")
    out_since = column(np.int32, default=-1, doc="minute the current interruption began (-1)")
    interruptions = column(np.int32, default=0, doc="interruptions ended so far")
    minutes_out = column(np.int64, default=0, doc="minutes without power (ended interruptions)")
    long_outage = column(np.bool_, default=False, doc="had an interruption > long_outage_hours")


class Crew(ColumnAgent):
    """A repair crew: a view over the columns."""

    zone = column(np.int16, default=0, doc="where it is (or was last)")
    state = column(np.int8, default=IDLE, doc="0 idle, 1 travelling, 2 repairing")
    job = column(np.int32, default=-1, doc="component it is sent to (-1: none)")
    arrive_at = column(np.int32, default=-1, doc="minute it arrives")
    done_at = column(np.int32, default=-1, doc="minute the repair is done")
    jobs = column(np.int32, default=0, doc="repairs done")


class OutageModel(SynthModel):
    """Shocks, cascades and restoration on a city's distribution network, hour by hour.

    An hour runs, in order: scheduled events (storms, heat waves, cyber incidents set for this
    hour), then the rules ``weather`` (the day's temperature anomaly, new random shocks, the
    hour's temperature and gusts), ``demand`` (the load of every node), ``fail`` (storm and
    equipment failures and cyber openings at the top of the hour, then the cascade: overloaded
    components trip until none is left), ``restore`` (through the hour, minute by minute:
    re-closing tripped components, transferring cut-off load over ties, crews arriving and
    finishing repairs, free crews dispatched to the next job) and ``account`` (the hour's
    customer minutes, unserved energy and KPIs); then the clock advances and the
    ``DataCollector`` collects. Closing the model reports the interruptions still open and
    records the season's reliability indices.

    Parameters
    ----------
    params : OutageParams, optional
    seed : int or abm.rng.Streams, optional
        The root seed of the weather and every failure and repair draw.
    persons : polars.DataFrame, optional
        The population (``household_id``, ``zone``...; see `scenarios.outages.customers`).
        Default: a sample of the demo city drawn with ``params.city_seed``.
    graph : networkx graph, optional
        The network (see `scenarios.outages.grid` for its attributes), instead of the generated
        one.
    zone_xy : array, optional
        Zone coordinates in km (one row per zone with customers, in the zone column's order).
    world : World, optional
        A city built already (`scenarios.outages.world.build_world`), shared by several runs;
        instead of `persons`, `graph` and `zone_xy`. Its network parameters and city seed must be
        those of `params`.
    travel : array, optional
        Minutes between zones (zones x zones), e.g. from a transport model's road network,
        instead of the simple road graph's.
    shocks : abm.rare.PoissonShocks, optional
        Draws the counts of storms, heat waves and cyber incidents (importance sampling passes
        one with raised rates); default: the model's own rates.
    out : path, optional
        Write the event log, KPIs and manifest there on `close`.
    fmt, overwrite, shard
        Passed to `abm.events.EventLog` (``shard=k``: shard k of a partitioned log).
    create_views : bool
        Create a Mesa agent per customer (True) or only on demand (False, cheaper for many runs).
    hourly_kpis : bool
        Record every hourly KPI and collect the ``DataCollector`` each hour (True), or only
        ``long_outage_customers``, what rare-event scores read (False: for seasons by the
        thousand; the season's reliability KPIs are recorded on `close` either way).
    chunk_rows : int
        Rows of the log held in memory before a chunk is written.
    """

    rules = ("weather", "demand", "fail", "restore", "account")

    def __init__(
        self,
        params: OutageParams | None = None,
        *,
        seed: int | Streams | None = None,
        persons: pl.DataFrame | None = None,
        graph: Any = None,
        zone_xy: np.ndarray | None = None,
        world: World | None = None,
        travel: np.ndarray | None = None,
        shocks: PoissonShocks | None = None,
        out: str | Path | None = None,
        fmt: str = "parquet",
        overwrite: bool = False,
        shard: int | None = None,
        create_views: bool = True,
        hourly_kpis: bool = True,
        chunk_rows: int = 500_000,
    ) -> None:
        self.params = params = params if params is not None else OutageParams()
        if not isinstance(params, OutageParams):
            msg = f"`params` must be OutageParams, got {type(params).__name__}."
            raise ConfigError(msg)
        if shocks is not None and not isinstance(shocks, PoissonShocks):
            msg = f"`shocks` must be an abm.rare.PoissonShocks, got {type(shocks).__name__}."
            raise ConfigError(msg)
        first = date.fromisoformat(params.start_date)
        self.start = datetime(first.year, first.month, first.day)
        self.first_weekday = first.weekday()
        super().__init__(seed=seed, start=self.start, step_length=timedelta(hours=1))
        self.shocks = shocks if shocks is not None else PoissonShocks()

        # the city
        if world is None:
            world = build_world(
                params.network,
                city_seed=params.city_seed,
                diurnal_range=params.diurnal_range,
                persons=persons,
                graph=graph,
                zone_xy=zone_xy,
            )
        else:
            _check_world(world, params, persons=persons, graph=graph, zone_xy=zone_xy)
        self.world = world
        self.zones = world.zones
        grid = world.grid
        self.centre = world.zone_xy.mean(axis=0)
        span = world.zone_xy.max(axis=0) - world.zone_xy.min(axis=0)
        self.extent_km = float(max(span.max(), 1.0))

        # policies, on this run's copy of the components
        overhead = grid.overhead.copy()
        capacity = grid.capacity.copy()
        self.undergrounded = self._underground(overhead)
        self.reinforced = self._reinforce(capacity)

        # agents
        self.components = self.add_agent_type(
            Component,
            {
                "kind": grid.kind,
                "zone": grid.zone,
                "overhead": overhead,
                "age": grid.age,
                "capacity_kw": capacity,
                "closed": ~grid.normally_open,
            },
        )
        customers = world.customers
        self.customers = self.add_agent_type(
            Customer,
            {
                "kind": customers["kind"].to_physical().to_numpy().astype(np.int8),
                "zone": customers["zone"].to_physical().to_numpy().astype(np.int16),
                "node": world.customer_node,
                "critical": customers["critical"].to_numpy(),
                "base_kw": customers["base_kw"].to_numpy(),
            },
            create_views=create_views,
        )
        self.n_customers = customers.height
        c = params.crews
        if travel is None:
            travel = travel_minutes(world.roads, speed_kmh=c.speed_kmh)
        travel = np.asarray(travel, dtype=np.float64)
        if travel.shape != (len(self.zones), len(self.zones)):
            msg = (
                f"`travel` must be a {len(self.zones)} x {len(self.zones)} matrix of minutes "
                f"between zones, got shape {travel.shape}."
            )
            raise ConfigError(msg)
        self.travel = travel
        self.depot = int(np.argmin(np.hypot(*(world.zone_xy - self.centre).T)))
        self.crews = self.add_agent_type(Crew, {"zone": np.full(c.count, self.depot, np.int16)})

        # the network's state between steps
        self.node_on = world.flow.energised(self.usable())
        self.node_out_since = np.full(grid.n_nodes, -1, dtype=np.int64)
        self.node_failure = np.full(grid.n_nodes, -1, dtype=np.int64)
        self.node_long = np.zeros(grid.n_nodes, dtype=bool)
        self.is_load = np.zeros(grid.n_nodes, dtype=bool)
        self.is_load[grid.load_nodes] = True
        self.load = np.zeros(grid.n_nodes)
        self.factors = np.zeros(len(CUSTOMER_KINDS))
        self.failable = grid.kind != TIE
        self.flows = np.zeros(grid.n_edges)
        self.transfer_at: list[int] = []  # minutes of the next transfer attempts (sorted)
        self.tie_tried = np.full(grid.n_edges, np.inf)  # demand at a tie's last failed trial
        self.tie_failure = np.full(grid.n_edges, -1)  # failure whose customers a tie picked up
        self.storm_exposure = self._storm_exposure()
        self.equipment_rate = self._equipment_rates()
        self.equipment_prob = -np.expm1(-self.equipment_rate)
        self.heat_sensitive = np.isin(grid.kind, (TRANSFORMER, PRIMARY))

        # weather
        self.anomaly = 0.0
        self.temperature = params.temperature_mean
        self.storms: list[Storm] = []
        self.heat_waves: list[HeatWave] = []
        self.shock_count = {"storm": 0, "heat_wave": 0, "cyber": 0}
        self.wind = np.zeros(grid.n_edges)
        self.zone_wind = np.zeros(len(self.zones))
        self.pending_cyber: list[tuple[int, int]] = []
        self.arrivals: dict[str, list[int]] = {
            "storm": [],
            "severe_storm": [],
            "heat_wave": [],
            "cyber": [],
        }
        self.window_end = 0  # arrivals are drawn for the hours before this step
        self.equipment_u = np.empty((0, grid.n_edges))  # the day's keyed uniforms, by hour
        self.hourly_kpis = bool(hourly_kpis)

        # failures (one entry per failure id) and interruption records
        self.failures: dict[str, list[Any]] = {
            k: []
            for k in (
                "component",
                "minute",
                "cause",
                "parent",
                "root",
                "root_cause",
                "generation",
                "shock",
                "shock_id",
                "customers",
            )
        }
        self._records: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.long_customers = 0
        self.hour = {"interrupted": 0, "customer_minutes": 0.0, "unserved_kwh": 0.0}
        self.totals = {"interruptions": 0, "customer_minutes": 0.0, "unserved_kwh": 0.0}
        self._finished = False

        # scheduled shocks
        for h in params.storms.scheduled_hours:
            if h < params.hours:
                self.schedule(h, "start_storm")
        for d in params.heat_waves.scheduled_days:
            if 24 * d < params.hours:
                self.schedule(24 * d, "start_heat_wave")
        for h in params.cyber.scheduled_hours:
            if h < params.hours:
                self.schedule(h, "cyber_attack")

        # outputs
        self.kpis = KpiCollector(
            groups={"zone": pl.Enum(self.zones), "day": pl.Int32, "size_band": pl.Enum(SIZE_BANDS)}
        )
        schema = event_schema(self.zones)
        self.rows = EventRows(schema, self.start)
        if out is not None:
            self.event_log = EventLog(
                out,
                schema=schema,
                fmt=fmt,
                seed=self.seed,
                parameters=params_to_dict(params),
                overwrite=overwrite,
                shard=shard,
                kpis=self.kpis,
                chunk_rows=chunk_rows,
            )
        if not self.hourly_kpis:
            return
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "customers_out": lambda m: m.customers_out,
                "components_out": lambda m: int((~m.components["in_service"]).sum()),
                "crews_busy": lambda m: int((m.crews["state"] != IDLE).sum()),
            }
        )
        self.datacollector.collect(self)

    # ----------------------------------------------------------------------------- policies

    def _underground(self, overhead: np.ndarray) -> np.ndarray:
        """Put ``undergrounding.share`` of the overhead feeder sections underground."""
        policy, grid, world = self.params.undergrounding, self.world.grid, self.world
        candidates = np.flatnonzero((grid.kind == FEEDER) & overhead)
        n = round(policy.share * candidates.size)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        if policy.order == "most_customers":
            served = world.dependants[candidates] @ world.node_customers
            order = np.lexsort((candidates, -served))
        elif policy.order == "oldest":
            order = np.lexsort((candidates, -grid.age[candidates]))
        else:  # windiest: farthest from the centre first
            far = np.hypot(*(grid.xy[candidates] - self.centre).T)
            order = np.lexsort((candidates, -far))
        chosen = np.sort(candidates[order[:n]])
        overhead[chosen] = False
        return chosen

    def _reinforce(self, capacity: np.ndarray) -> np.ndarray:
        """Raise the ratings of the ``reinforcement.share`` of components that carry the most at
        the design peak (the backbone: 33 kV lines, primaries, feeder trunks)."""
        policy, grid = self.params.reinforcement, self.world.grid
        candidates = np.flatnonzero(grid.kind != TIE)
        n = round(policy.share * candidates.size)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        carried = self.world.design_flow[candidates]
        order = np.lexsort((candidates, -carried))
        chosen = np.sort(candidates[order[:n]])
        capacity[chosen] *= policy.factor
        return chosen

    def _storm_exposure(self) -> np.ndarray:
        """km of overhead-equivalent line per component (before the age and cable factors)."""
        grid = self.world.grid
        s = self.params.storms
        km = np.where(grid.kind == FEEDER, grid.length_km, 0.0)
        km = np.where(grid.kind == SUBTRANSMISSION, s.subtransmission_factor * grid.length_km, km)
        return np.where(grid.kind == TRANSFORMER, POLE_KM, km)

    def _equipment_rates(self) -> np.ndarray:
        """Failures per hour of each component by wear (before the heat factor)."""
        e, grid = self.params.equipment, self.world.grid
        overhead = self.components["overhead"]
        per_km = np.where(overhead, e.overhead_per_km, e.underground_per_km) * grid.length_km
        rate = np.select(
            [
                np.isin(grid.kind, (FEEDER, SUBTRANSMISSION)),
                grid.kind == TRANSFORMER,
                grid.kind == PRIMARY,
            ],
            [per_km, e.transformer, e.primary],
            default=0.0,
        )
        return (
            rate
            * age_multiplier(grid.age, doubling=self.params.storms.age_doubling)
            / HOURS_PER_YEAR
        )

    # ----------------------------------------------------------------------------- state

    def usable(self) -> np.ndarray:
        """Components that carry power now: in service, and closed if a switch."""
        comps = self.components
        return comps["in_service"] & comps["closed"]

    @property
    def customers_out(self) -> int:
        """Customers without power now."""
        out = self.is_load & ~self.node_on
        return int(self.world.node_customers[out].sum())

    def clone(self) -> OutageModel:
        """A copy of the model in its current state (for rare-event splitting), sharing the
        read-only world (network, customers, power-flow factors) with the original.

        Raises
        ------
        ConfigError
            If the model writes an event log (build it with ``out=None``).
        """
        if self.event_log is not None:
            msg = "an OutageModel that writes an event log cannot be copied. Hint: out=None."
            raise ConfigError(msg)
        return copy.deepcopy(self, {id(self.world): self.world})

    # ----------------------------------------------------------------------------- shocks

    def start_storm(
        self, storm: Storm | None = None, *, peak: float | None = None, severe: bool | None = None
    ) -> Storm:
        """Start a storm now: `storm` as given, or drawn (of the `severe` class or not, see
        `scenarios.outages.weather.draw_storm`; with its `peak` gust if given)."""
        step = self.clock.step
        sid = self.shock_count["storm"]
        if storm is None:
            storm = draw_storm(
                self.streams["storms"],
                self.params.storms,
                id=sid,
                start=step,
                centre=self.centre,
                extent_km=self.extent_km,
                severe=severe,
            )
            if peak is not None:
                storm = Storm(
                    sid,
                    step,
                    storm.hours,
                    float(peak),
                    storm.radius,
                    storm.x0,
                    storm.y0,
                    storm.vx,
                    storm.vy,
                )
        self.shock_count["storm"] += 1
        self.storms.append(storm)
        self.rows.add(
            "shock_start",
            step * 60,
            shock=SHOCK["storm"],
            shock_id=storm.id,
            intensity=storm.peak,
            duration_min=storm.hours * 60,
        )
        return storm

    def start_heat_wave(self, wave: HeatWave | None = None) -> HeatWave:
        """Start a heat wave now: `wave` as given, or drawn."""
        step = self.clock.step
        if wave is None:
            wave = draw_heat_wave(
                self.streams["heat"],
                self.params.heat_waves,
                id=self.shock_count["heat_wave"],
                start=step,
            )
        self.shock_count["heat_wave"] += 1
        self.heat_waves.append(wave)
        self.rows.add(
            "shock_start",
            step * 60,
            shock=SHOCK["heat_wave"],
            shock_id=wave.id,
            intensity=wave.amplitude,
            duration_min=wave.hours * 60,
        )
        return wave

    def cyber_attack(self, substations: int | None = None) -> list[int]:
        """Open the breakers of `substations` primaries (chosen at random) at the top of the hour;
        each needs a crew on site. Returns the primary transformers opened."""
        step, grid = self.clock.step, self.world.grid
        k = self.params.cyber.substations if substations is None else int(substations)
        primaries = np.flatnonzero(grid.kind == PRIMARY)
        if primaries.size == 0:  # a network without primary substations: nothing to hit
            return []
        buses = np.unique(grid.u[primaries])
        chosen = self.streams["cyber"].choice(buses, size=min(k, buses.size), replace=False)
        hit = np.sort(primaries[np.isin(grid.u[primaries], chosen)])
        cid = self.shock_count["cyber"]
        self.shock_count["cyber"] += 1
        self.pending_cyber += [(int(e), cid) for e in hit]
        self.rows.add(
            "shock_start",
            step * 60,
            shock=SHOCK["cyber"],
            shock_id=cid,
            intensity=float(chosen.size),
            duration_min=0,
        )
        return hit.tolist()

    # ----------------------------------------------------------------------------- rules

    def weather(self) -> None:
        """The day's temperature anomaly, new shocks, this hour's temperature and gusts."""
        p, step = self.params, self.clock.step
        hour = step % 24
        if hour == 0 or step == 0:
            self.anomaly = next_anomaly(
                self.streams["temperature"], self.anomaly, sd=p.temperature_sd
            )
        if step >= self.window_end:
            self._draw_arrivals(step)
        for name, start in (
            ("storm", lambda: self.start_storm(severe=False)),
            ("severe_storm", lambda: self.start_storm(severe=True)),
            ("heat_wave", self.start_heat_wave),
            ("cyber", self.cyber_attack),
        ):
            due = self.arrivals[name]
            while due and due[0] <= step:
                due.pop(0)
                start()
        for kind, items in (("storm", self.storms), ("heat_wave", self.heat_waves)):
            for shock in [s for s in items if not s.active(step)]:
                items.remove(shock)
                self.rows.add("shock_end", step * 60, shock=SHOCK[kind], shock_id=shock.id)
        heat = sum(w.extra(step) for w in self.heat_waves)
        self.temperature = (
            p.temperature_mean
            + self.anomaly
            + 0.5 * p.diurnal_range * math.cos(2.0 * math.pi * (hour - 15) / 24.0)
            + heat
        )
        if self.storms:
            grid = self.world.grid
            self.wind = np.max([s.wind(step, grid.xy) for s in self.storms], axis=0)
            self.zone_wind = np.max([s.wind(step, self.world.zone_xy) for s in self.storms], axis=0)
        elif self.zone_wind.any() or self.wind.any():
            self.wind[:] = 0.0
            self.zone_wind[:] = 0.0

    def _draw_arrivals(self, step: int) -> None:
        """The random shocks of the next day (fewer hours at the end of the run).

        Counts are Poisson with mean rate x hours, drawn through `shocks` (so importance
        sampling can tilt them: ``storm``, ``severe_storm``, ``heat_wave``, ``cyber``), and the
        hours of the arrivals uniform within the window: the same law as a Poisson count every
        hour, for four draws a day instead of 96.
        """
        p = self.params
        span = 24 if step >= p.hours else min(24, p.hours - step)
        self.window_end = step + span
        q = severe_share(p.storms)
        for name, stream, rate in (
            ("storm", "storms", p.storms.rate * (1.0 - q)),
            ("severe_storm", "storms", p.storms.rate * q),
            ("heat_wave", "heat", p.heat_waves.rate),
            ("cyber", "cyber", p.cyber.rate),
        ):
            rng = self.streams[stream]
            n = int(self.shocks.poisson(rng, rate / HOURS_PER_30_DAYS * span, name=name))
            if n:
                self.arrivals[name] += sorted((step + rng.integers(0, span, n)).tolist())

    def demand(self) -> None:
        """Every node's demand this hour: its customers' mean demand x profile x temperature."""
        step = self.clock.step
        weekend = (self.first_weekday + step // 24) % 7 >= 5
        self.factors = kind_factors(hour=step % 24, weekend=weekend, temperature=self.temperature)
        self.load = self.world.node_kind_kw @ self.factors

    def fail(self) -> None:
        """Storm, equipment and cyber failures at the top of the hour; then the cascade."""
        step, p, grid = self.clock.step, self.params, self.world.grid
        minute = step * 60
        comps = self.components
        ids = comps.ids
        live = comps["in_service"] & self.failable
        struck: dict[int, tuple[int, int, int, float]] = {}  # edge -> cause, shock, id, intensity
        if self.storms:
            s = p.storms
            exposure = self.storm_exposure * np.where(comps["overhead"], 1.0, s.underground_factor)
            hazard = s.hazard_max * fragility(
                self.wind, median=s.fragility_median, beta=s.fragility_beta
            )
            prob = -np.expm1(-hazard * exposure * age_multiplier(grid.age, doubling=s.age_doubling))
            cand = np.flatnonzero(live & (prob > 0))
            hit = cand[self.keyed("storm").bernoulli(step, ids[cand], prob[cand])]
            if hit.size:
                which = np.argmax([st.wind(step, grid.xy[hit]) for st in self.storms], axis=0)
                for e, w in zip(hit.tolist(), np.atleast_1d(which).tolist(), strict=True):
                    struck[e] = (
                        CAUSE["storm"],
                        SHOCK["storm"],
                        self.storms[w].id,
                        float(self.wind[e]),
                    )
        if step % 24 == 0 or self.equipment_u.shape[0] != 24:
            # one keyed uniform per (day, hour, component), drawn a day at a time
            hours = np.arange(24, dtype=np.int64)[:, None]
            self.equipment_u = self.keyed("equipment").uniform(
                step // 24, ids[None, :] * 24 + hours
            )
        heat = p.equipment.heat_factor * max(0.0, self.temperature - 30.0)
        if heat > 0:  # transformers wear faster in the heat
            prob = -np.expm1(-self.equipment_rate * (1.0 + heat * self.heat_sensitive))
        else:
            prob = self.equipment_prob
        worn = np.flatnonzero(live & (self.equipment_u[step % 24] < prob))
        for e in worn.tolist():
            struck.setdefault(e, (CAUSE["equipment"], SHOCK["none"], -1, self.temperature))
        for e, cid in self.pending_cyber:
            if comps["in_service"][e]:
                struck.setdefault(e, (CAUSE["cyber"], SHOCK["cyber"], cid, 0.0))
        self.pending_cyber = []
        triggers = []
        for e in sorted(struck):
            cause, shock, sid, intensity = struck[e]
            self._fail(minute, e, cause=cause, shock=shock, shock_id=sid, intensity=intensity)
            triggers.append(e)
        self._settle(minute, triggers)
        self._dispatch(minute)

    def restore(self) -> None:
        """The hour's re-closing, transfers, crew arrivals and repairs, in order of their minute."""
        t0 = self.clock.step * 60
        t1 = t0 + 60
        comps, crews = self.components, self.crews
        self._dispatch(t0)  # jobs whose wind dropped, crews freed at the hour
        if not self.transfer_at and not comps["tripped"].any() and not crews["state"].any():
            return  # a quiet hour
        while True:
            times = []
            travelling = crews["state"] == TRAVELLING
            if travelling.any():
                times.append(crews["arrive_at"][travelling].min())
            repairing = crews["state"] == REPAIRING
            if repairing.any():
                times.append(crews["done_at"][repairing].min())
            tripped = comps["tripped"]
            if tripped.any():
                times.append(comps["reclose_at"][tripped].min())
            if self.transfer_at:
                times.append(self.transfer_at[0])
            t = int(min(times)) if times else t1
            if t >= t1:
                break
            t = max(t, t0)
            changed = False
            for k in np.flatnonzero(travelling & (crews["arrive_at"] <= t)).tolist():
                crews["state"][k] = REPAIRING
                j = int(crews["job"][k])
                self.rows.add(
                    "arrival",
                    t,
                    crew=k,
                    component=j,
                    failure=int(comps["failure"][j]),
                    component_kind=1 + int(comps["kind"][j]),
                    zone=int(comps["zone"][j]),
                )
            for k in np.flatnonzero(repairing & (crews["done_at"] <= t)).tolist():
                changed |= self._repair(t, k)
            for e in np.flatnonzero(tripped & (comps["reclose_at"] <= t)).tolist():
                changed |= self._reclose(t, e)
            if self.transfer_at and self.transfer_at[0] <= t:
                self.transfer_at = [x for x in self.transfer_at if x > t]
                changed |= self._transfer(t)
            if changed:
                self._return_ties(t)
                self._settle(t, [])
            self._dispatch(t)

    def account(self) -> None:
        """Close the hour: customer minutes and unserved energy of those still out, long
        interruptions, the hour's KPIs, the hour's rows to the log."""
        step = self.clock.step
        t0, t1 = step * 60, step * 60 + 60
        world = self.world
        out = np.flatnonzero(self.is_load & ~self.node_on)
        if out.size:
            minutes = t1 - np.maximum(t0, self.node_out_since[out])
            self.hour["customer_minutes"] += float((world.node_customers[out] * minutes).sum())
            self.hour["unserved_kwh"] += float((self.load[out] * minutes).sum() / 60.0)
            long = out[(t1 - self.node_out_since[out] > self._long_minutes) & ~self.node_long[out]]
            if long.size:
                self.node_long[long] = True
                self._flag_long(world.customers_at(long))
        comps = self.components
        out_customers = int(world.node_customers[out].sum())
        h = self.hour
        self.totals["customer_minutes"] += h["customer_minutes"]
        self.totals["unserved_kwh"] += h["unserved_kwh"]
        values = {
            "customers_out": out_customers,
            "customers_interrupted": h["interrupted"],
            "customer_minutes": h["customer_minutes"],
            "unserved_energy_kwh": h["unserved_kwh"],
            "demand_kw": float(self.load.sum()),
            "temperature": self.temperature,
            "wind_max": float(self.zone_wind.max()) if self.zone_wind.size else 0.0,
            "components_out": int((~comps["in_service"]).sum()),
            "crews_busy": int((self.crews["state"] != IDLE).sum()),
            "long_outage_customers": self.long_customers,
            "long_outage_share": self.long_customers / self.n_customers,
        }
        if self.hourly_kpis:
            for name, value in values.items():
                self.kpi(name, value)
        else:
            self.kpi("long_outage_customers", self.long_customers)
        self.hour = {"interrupted": 0, "customer_minutes": 0.0, "unserved_kwh": 0.0}
        self._flush()

    # ----------------------------------------------------------------------------- failures

    @property
    def _long_minutes(self) -> float:
        return self.params.long_outage_hours * 60.0

    def _fail(
        self,
        minute: int,
        e: int,
        *,
        cause: int,
        shock: int,
        shock_id: int,
        intensity: float,
        parent: int = -1,
    ) -> int:
        """Take component `e` out of service at `minute`; return the failure id."""
        comps, f = self.components, self.failures
        fid = len(f["component"])
        if parent >= 0:
            root, generation = f["root"][parent], f["generation"][parent] + 1
            root_cause = f["root_cause"][parent]
        else:
            root, generation, root_cause = fid, 0, cause
        for key, value in (
            ("component", e),
            ("minute", minute),
            ("cause", cause),
            ("parent", parent),
            ("root", root),
            ("root_cause", root_cause),
            ("generation", generation),
            ("shock", shock),
            ("shock_id", shock_id),
            ("customers", 0),
        ):
            f[key].append(value)
        comps["in_service"][e] = False
        comps["failure"][e] = fid
        comps["failures"][e] += 1
        comps["out_since"][e] = minute
        if cause in DAMAGE:
            comps["damaged"][e] = True
        else:
            comps["tripped"][e] = True
            comps["reclose_at"][e] = minute + math.ceil(self.params.switching.reclose_minutes)
        cut = self._energise(minute, fid)
        f["customers"][fid] = cut
        self.rows.add(
            "failure",
            minute,
            failure=fid,
            component=e,
            component_kind=1 + int(comps["kind"][e]),
            cause=cause,
            root_cause=root_cause,
            parent=parent,
            root=root,
            generation=generation,
            shock=shock,
            shock_id=shock_id,
            intensity=intensity,
            customers=cut,
            zone=int(comps["zone"][e]),
        )
        return fid

    def _settle(self, minute: int, triggers: list[int]) -> None:
        """Solve the flows; trip what is overloaded, round by round (the cascade)."""
        comps, world = self.components, self.world
        capacity = comps["capacity_kw"]
        usable = self.usable()
        if not triggers and np.array_equal(usable, world.normal):
            # demand is node_kind_kw @ factors, so the normal state's flows are linear in them
            flows = world.normal_flows @ self.factors
        else:
            flows, _ = world.flow.solve(usable, self.load)
        if overloaded(flows, capacity, usable).any() and self._shed(minute, flows):
            usable = self.usable()
            flows, _ = world.flow.solve(usable, self.load)
        if triggers or overloaded(flows, capacity, usable).any():
            result = cascade(self.world.flow, usable, self.load, capacity, triggers=triggers)
            heat = self.heat_waves[0] if self.heat_waves else None
            for trip in result.trips:
                if trip.parent >= 0:
                    parent = int(comps["failure"][trip.parent])
                    shock, sid = self.failures["shock"][parent], self.failures["shock_id"][parent]
                    cause = CAUSE["cascade"]
                else:
                    parent = -1
                    shock = SHOCK["heat_wave"] if heat is not None else SHOCK["none"]
                    sid = heat.id if heat is not None else -1
                    cause = CAUSE["overload"]
                self._fail(
                    minute,
                    trip.edge,
                    cause=cause,
                    shock=shock,
                    shock_id=sid,
                    intensity=trip.loading,
                    parent=parent,
                )
            flows = result.flows
        self.flows = flows
        comps["flow_kw"][:] = flows

    def _shed(self, minute: int, flows: np.ndarray) -> bool:
        """Before anything trips, open closed ties whose transferred load causes the overload,
        the most loaded first, until nothing is overloaded: the transferred customers lose power
        again (put down to the failure that first cut them off) rather than a whole feeder
        tripping. A tie is opened only if that lowers the excess over the capacities. Returns
        whether any tie was opened."""
        comps, grid = self.components, self.world.grid
        closed = np.flatnonzero(grid.normally_open & comps["closed"])
        capacity = comps["capacity_kw"]
        usable = self.usable()
        excess = np.maximum(np.abs(flows) - capacity, 0.0)[usable].sum()
        opened = False
        demand = float(self.load.sum())
        for e in closed[np.argsort(-np.abs(flows[closed]), kind="stable")].tolist():
            trial = usable.copy()
            trial[e] = False
            after, _ = self.world.flow.solve(trial, self.load)
            left = np.maximum(np.abs(after) - capacity, 0.0)[trial].sum()
            if left >= excess:
                continue
            comps["closed"][e] = False
            self.tie_tried[e] = demand
            cut = self._energise(minute, int(self.tie_failure[e]))
            self.rows.add(
                "tie_open",
                minute,
                component=e,
                component_kind=1 + TIE,
                customers=cut,
                zone=int(comps["zone"][e]),
            )
            opened = True
            usable, excess = trial, left
            if not overloaded(after, capacity, usable).any():
                break
        return opened

    def _energise(self, minute: int, fid: int = -1) -> int:
        """Update who has power after a change at `minute`; return the customers cut off (whose
        interruption is put down to failure `fid`)."""
        now = self.world.flow.energised(self.usable())
        lost = np.flatnonzero(self.node_on & ~now & self.is_load)
        gained = np.flatnonzero(~self.node_on & now & self.is_load)
        self.node_on = now
        if lost.size and fid < 0:
            msg = "internal error: customers lost power without a failure to put it down to"
            raise RuntimeError(msg)
        if gained.size:
            self._end(minute, gained)
        if lost.size:
            return self._start(minute, lost, fid)
        return 0

    def _start(self, minute: int, nodes: np.ndarray, fid: int) -> int:
        world = self.world
        self.node_out_since[nodes] = minute
        self.node_failure[nodes] = fid
        self.node_long[nodes] = False
        rows = world.customers_at(nodes)
        self.customers["out_since"][rows] = minute
        self.hour["interrupted"] += rows.size
        if self.params.switching.transfer:
            self._plan_transfer(minute + math.ceil(self.params.switching.transfer_minutes))
        if self.event_log is not None and rows.size:
            self.rows.add("outage_start", minute, rows.size, **self._outage_columns(rows, fid))
        return int(rows.size)

    def _end(self, minute: int, nodes: np.ndarray) -> None:
        world, people = self.world, self.customers
        t0 = self.clock.step * 60
        since = self.node_out_since[nodes]
        counts = world.node_customers[nodes]
        served = minute - np.maximum(since, t0)
        self.hour["customer_minutes"] += float((counts * served).sum())
        self.hour["unserved_kwh"] += float((self.load[nodes] * served).sum() / 60.0)
        rows = world.customers_at(nodes)
        start = np.repeat(since, counts)
        fid = np.repeat(self.node_failure[nodes], counts)
        duration = minute - start
        people["out_since"][rows] = -1
        people["interruptions"][rows] += 1
        people["minutes_out"][rows] += duration
        long = rows[(duration > self._long_minutes) & ~self.node_long[np.repeat(nodes, counts)]]
        self._flag_long(long)
        self.node_out_since[nodes] = -1
        self.node_failure[nodes] = -1
        self.node_long[nodes] = False
        self._records.append((rows, start, np.full(rows.size, minute, np.int64), fid))
        self.totals["interruptions"] += rows.size
        if self.event_log is not None and rows.size:
            self.rows.add(
                "outage_end",
                minute,
                rows.size,
                duration_min=duration,
                **self._outage_columns(rows, fid),
            )

    def _flag_long(self, rows: np.ndarray) -> None:
        if rows.size == 0:
            return
        flags = self.customers["long_outage"]
        new = rows[~flags[rows]]
        flags[new] = True
        self.long_customers += int(new.size)

    def _outage_columns(self, rows: np.ndarray, fid: Any) -> dict[str, Any]:
        """The customer and cause columns of outage rows of customers `rows`."""
        people, f = self.customers, self.failures
        fid = np.broadcast_to(np.asarray(fid, dtype=np.int64), rows.shape)
        comp = np.asarray(f["component"], dtype=np.int64)[fid]
        return {
            "customer": self.customers.ids[rows],
            "customer_kind": 1 + people["kind"][rows].astype(np.int64),
            "critical": people["critical"][rows],
            "zone": people["zone"][rows].astype(np.int64),
            "failure": fid,
            "component": comp,
            "component_kind": 1 + self.world.grid.kind[comp].astype(np.int64),
            "cause": np.asarray(f["cause"])[fid],
            "root_cause": np.asarray(f["root_cause"])[fid],
            "parent": np.asarray(f["parent"])[fid],
            "root": np.asarray(f["root"])[fid],
            "generation": np.asarray(f["generation"])[fid],
            "shock": np.asarray(f["shock"])[fid],
            "shock_id": np.asarray(f["shock_id"])[fid],
        }

    # ----------------------------------------------------------------------------- restoration

    def _repair(self, minute: int, k: int) -> bool:
        """Crew `k` finishes its repair at `minute`: the component is back in service."""
        comps, crews = self.components, self.crews
        e = int(crews["job"][k])
        fid = int(comps["failure"][e])
        self.rows.add(
            "repair",
            minute,
            crew=k,
            component=e,
            failure=fid,
            component_kind=1 + int(comps["kind"][e]),
            zone=int(comps["zone"][e]),
            duration_min=int(crews["done_at"][k] - crews["arrive_at"][k]),
        )
        crews["state"][k] = IDLE
        crews["job"][k] = -1
        crews["zone"][k] = comps["zone"][e]
        crews["jobs"][k] += 1
        comps["damaged"][e] = False
        comps["crew"][e] = -1
        comps["in_service"][e] = True
        comps["failure"][e] = -1
        comps["out_since"][e] = -1
        self._energise(minute)
        return True

    def _reclose(self, minute: int, e: int) -> bool:
        """Try to put tripped component `e` back: only if nothing would then be overloaded.

        If `e` alone would be overloaded, every tripped component is tried together (lines of a
        mesh that tripped together may need one another); if that fails too, `e` waits an hour.
        """
        comps = self.components
        if not comps["tripped"][e]:
            return False  # put back already, with others
        capacity = comps["capacity_kw"]
        usable = self.usable()
        trial = usable.copy()
        trial[e] = True
        grid = self.world.grid
        if self.node_on[grid.u[e]] and self.node_on[grid.v[e]]:
            flows = self.world.flow.with_edge(usable, self.load, e)  # no new factorisation
        else:
            flows, _ = self.world.flow.solve(trial, self.load)
        group = [e]
        if overloaded(flows, capacity, trial).any():
            tripped = comps["tripped"]
            if tripped.sum() < 2:
                comps["reclose_at"][e] = minute + 60  # try again in an hour
                return False
            trial |= tripped
            flows, _ = self.world.flow.solve(trial, self.load)
            if overloaded(flows, capacity, trial).any():
                comps["reclose_at"][e] = minute + 60
                return False
            group = np.flatnonzero(tripped).tolist()
        for k in group:
            fid = int(comps["failure"][k])
            comps["tripped"][k] = False
            comps["reclose_at"][k] = -1
            comps["in_service"][k] = True
            comps["failure"][k] = -1
            comps["out_since"][k] = -1
            self.rows.add(
                "reclose",
                minute,
                component=k,
                failure=fid,
                component_kind=1 + int(comps["kind"][k]),
                zone=int(comps["zone"][k]),
            )
        self._energise(minute)
        return True

    def _plan_transfer(self, minute: int) -> None:
        if minute not in self.transfer_at:
            self.transfer_at = sorted([*self.transfer_at, minute])

    def _transfer(self, minute: int) -> bool:
        """Close normally-open ties that give power back to cut-off feeders, if nothing would be
        overloaded; ties that fail the check are tried again when demand has fallen 5%."""
        comps, grid = self.components, self.world.grid
        changed = False
        demand = float(self.load.sum())
        while True:
            open_ties = np.flatnonzero(
                grid.normally_open
                & ~comps["closed"]
                & comps["in_service"]
                & (self.node_on[grid.u] != self.node_on[grid.v])
            )
            closed_one = False
            for e in open_ties.tolist():
                if demand > 0.95 * self.tie_tried[e]:
                    continue
                trial = self.usable()
                trial[e] = True
                gained = self.world.flow.energised(trial) & ~self.node_on & self.is_load
                if not gained.any():  # nobody behind it: nothing to transfer
                    self.tie_tried[e] = demand
                    continue
                waited = minute - self.node_out_since[gained].max()
                if waited < self.params.switching.transfer_minutes:
                    continue  # a fault just found: its own attempt comes later
                flows, _ = self.world.flow.solve(trial, self.load)
                if overloaded(flows, comps["capacity_kw"], trial).any():
                    self.tie_tried[e] = demand
                    continue
                self.tie_failure[e] = int(self.node_failure[gained].max())
                comps["closed"][e] = True
                before = self.customers_out
                self._energise(minute)
                self.rows.add(
                    "tie_close",
                    minute,
                    component=e,
                    component_kind=1 + TIE,
                    customers=before - self.customers_out,
                    zone=int(comps["zone"][e]),
                )
                self.tie_tried[e] = np.inf
                changed = closed_one = True
                break
            if not closed_one:
                break
        cut_off = (
            grid.normally_open
            & ~comps["closed"]
            & comps["in_service"]
            & (self.node_on[grid.u] != self.node_on[grid.v])
        )
        if cut_off.any() and self.params.switching.transfer:
            self._plan_transfer((minute // 60 + 1) * 60)  # try again next hour
        return changed

    def _return_ties(self, minute: int) -> None:
        """Open the closed ties no longer needed: those whose two ends have power without any
        tie (so opening them all cuts nobody off), if nothing then overloads; else they are
        tried again once demand has fallen 5%."""
        comps, grid = self.components, self.world.grid
        closed = np.flatnonzero(grid.normally_open & comps["closed"])
        if closed.size == 0:
            return
        demand = float(self.load.sum())
        untied = self.usable()
        untied[closed] = False
        fed = self.world.flow.energised(untied)
        ties = closed[fed[grid.u[closed]] & fed[grid.v[closed]]]
        ties = ties[demand <= 0.95 * self.tie_tried[ties]]
        if ties.size == 0:
            return
        trial = self.usable()
        trial[ties] = False
        flows, _ = self.world.flow.solve(trial, self.load)
        if overloaded(flows, comps["capacity_kw"], trial).any():
            self.tie_tried[ties] = demand
            return
        for e in ties.tolist():
            comps["closed"][e] = False
            self.tie_tried[e] = np.inf
            self.rows.add(
                "tie_open", minute, component=e, component_kind=1 + TIE, zone=int(comps["zone"][e])
            )

    def _dispatch(self, minute: int) -> None:
        """Send every idle crew to its next job by the dispatch rule (see `crews`)."""
        crews, comps = self.crews, self.components
        damaged = comps["damaged"]
        if not damaged.any():
            return
        idle = np.flatnonzero(crews["state"] == IDLE)
        if idle.size == 0:
            return
        c = self.params.crews
        jobs = np.flatnonzero(damaged & (comps["crew"] < 0))
        jobs = jobs[self.zone_wind[comps["zone"][jobs]] < c.safe_wind]
        if jobs.size == 0:
            return
        customers, critical = self._impact(jobs)
        waiting = minute - comps["out_since"][jobs]
        for k in idle.tolist():
            if jobs.size == 0:
                break
            travel = self.travel[crews["zone"][k], comps["zone"][jobs]] + c.access_minutes
            first = crew_rules.rank_jobs(
                c.dispatch, travel=travel, customers=customers, critical=critical, waiting=waiting
            )[0]
            e = int(jobs[first])
            fid = int(comps["failure"][e])
            drive = math.ceil(travel[first])
            crews["state"][k] = TRAVELLING
            crews["job"][k] = e
            crews["arrive_at"][k] = minute + drive
            crews["done_at"][k] = minute + drive + self._repair_time(e, fid)
            comps["crew"][e] = k
            self.rows.add(
                "dispatch",
                minute,
                crew=k,
                component=e,
                failure=fid,
                component_kind=1 + int(comps["kind"][e]),
                zone=int(comps["zone"][e]),
                duration_min=drive,
                customers=int(customers[first]),
            )
            keep = np.arange(jobs.size) != first
            jobs, customers, critical, waiting = (
                jobs[keep],
                customers[keep],
                critical[keep],
                waiting[keep],
            )

    def _impact(self, jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Customers (and critical ones) each job would give power back to.

        The customers downstream of the component that are out now; for components of the
        meshed network, whose loss alone cuts off nobody, the customers their repair alone
        would re-energise (found by trying it)."""
        world = self.world
        out = self.is_load & ~self.node_on
        if not out.any():
            zero = np.zeros(jobs.size, dtype=np.int64)
            return zero, zero
        sub = world.dependants[jobs]
        customers = np.rint(sub @ (world.node_customers * out)).astype(np.int64)
        critical = np.rint(sub @ (world.node_critical * out)).astype(np.int64)
        meshed = np.flatnonzero(world.meshed[jobs])
        for i in meshed.tolist():
            trial = self.usable()
            trial[jobs[i]] = True
            back = out & world.flow.energised(trial)
            customers[i] = int(world.node_customers[back].sum())
            critical[i] = int(world.node_critical[back].sum())
        return customers, critical

    def _repair_time(self, e: int, fid: int) -> int:
        """Minutes on site for the k-th repair of component `e` (keyed by k and e)."""
        comps, c = self.components, self.params.crews
        if self.failures["cause"][fid] == CAUSE["cyber"]:
            median = self.params.cyber.restore_minutes
        else:
            key = (EDGE_KINDS[int(comps["kind"][e])], bool(comps["overhead"][e]))
            median = crew_rules.REPAIR_MEDIAN_MINUTES[key]
        u = self.keyed("repair").uniform(int(comps["failures"][e]), [e])
        return math.ceil(float(crew_rules.repair_minutes(u, median, sigma=c.repair_sigma)[0]))

    # ----------------------------------------------------------------------------- outputs

    def _flush(self) -> None:
        if self.rows.n == 0:
            return
        if self.event_log is None:
            self.rows.clear()
            return
        self.emit(**self.rows.take())

    def outage_records(self) -> pl.DataFrame:
        """One row per customer interruption so far (ended, and open ones up to now), with the
        columns of `scenarios.outages.reliability.outage_records`."""
        now = self.clock.step * 60
        parts = list(self._records)
        out = np.flatnonzero(self.is_load & ~self.node_on)
        if out.size:
            counts = self.world.node_customers[out]
            rows = self.world.customers_at(out)
            parts.append(
                (
                    rows,
                    np.repeat(self.node_out_since[out], counts),
                    np.full(rows.size, now, np.int64),
                    np.repeat(self.node_failure[out], counts),
                )
            )
        n_closed = sum(p[0].size for p in self._records)
        if parts:
            rows, start, end, fid = (np.concatenate(x) for x in zip(*parts, strict=True))
        else:
            rows = start = end = fid = np.empty(0, dtype=np.int64)
        cols = self._outage_columns(rows.astype(np.int64), fid.astype(np.int64))
        people = self.customers
        frame = pl.DataFrame(
            {
                "customer": cols["customer"].astype(np.int64),
                "customer_kind": pl.Series(CUSTOMER_KINDS, dtype=pl.Enum(CUSTOMER_KINDS)).gather(
                    people["kind"][rows].astype(np.int64)
                ),
                "critical": cols["critical"],
                "zone": pl.Series(self.zones, dtype=pl.Enum(self.zones)).gather(cols["zone"]),
                "start": start.astype(np.int32),
                "end": end.astype(np.int32),
                "duration_min": (end - start).astype(np.int32),
                "open": np.arange(rows.size) >= n_closed,
                "day": (start // MINUTES_PER_DAY).astype(np.int32),
                "failure": fid.astype(np.int32),
                "component": cols["component"].astype(np.int32),
                "cause": _labels(CAUSES, cols["cause"]),
                "root_cause": _labels(CAUSES, cols["root_cause"]),
                "root": cols["root"].astype(np.int32),
                "generation": cols["generation"].astype(np.int16),
                "shock": _labels(SHOCKS, cols["shock"]),
                "shock_id": cols["shock_id"].astype(np.int32),
            }
        )
        return frame

    def failure_table(self) -> pl.DataFrame:
        """One row per component failure: id, component, minute, cause, parent, root, root
        cause, generation, shock and the customers it cut off."""
        f = self.failures
        return pl.DataFrame(
            {
                "failure": np.arange(len(f["component"]), dtype=np.int32),
                "component": np.asarray(f["component"], dtype=np.int32),
                "component_kind": _labels(
                    EDGE_KINDS, self.world.grid.kind[np.asarray(f["component"], dtype=np.int64)]
                ),
                "minute": np.asarray(f["minute"], dtype=np.int32),
                "cause": _labels(CAUSES, f["cause"]),
                "parent": np.asarray(f["parent"], dtype=np.int32),
                "root": np.asarray(f["root"], dtype=np.int32),
                "root_cause": _labels(CAUSES, f["root_cause"]),
                "generation": np.asarray(f["generation"], dtype=np.int16),
                "shock": _labels(SHOCKS, f["shock"]),
                "shock_id": np.asarray(f["shock_id"], dtype=np.int32),
                "customers": np.asarray(f["customers"], dtype=np.int32),
            }
        )

    def customers_served(self) -> dict[str, int]:
        """Customers per zone (IEEE 1366's N_T of each zone)."""
        counts = np.bincount(self.customers["zone"], minlength=len(self.zones))
        return dict(zip(self.zones, counts.tolist(), strict=True))

    def reliability(self, by: str | tuple[str, ...] = ()) -> pl.DataFrame:
        """SAIFI, SAIDI, CAIDI and customer minutes lost so far (see `reliability_indices`)."""
        by = (by,) if isinstance(by, str) else tuple(by)
        served: Any = self.customers_served() if "zone" in by else self.n_customers
        days = math.ceil(self.clock.step / 24) if "day" in by else None
        return reliability_indices(self.outage_records(), customers_served=served, by=by, days=days)

    def close(self) -> dict[str, Any] | None:
        """Report open interruptions, record the season's indices, then close (see SynthModel)."""
        if not self.closed and not self._finished:
            self._finished = True
            self._finish()
        return super().close()

    def _finish(self) -> None:
        """At the horizon: ``outage_open`` rows, and the season's reliability KPIs."""
        now = self.clock.step * 60
        out = np.flatnonzero(self.is_load & ~self.node_on)
        if out.size and self.event_log is not None:
            counts = self.world.node_customers[out]
            rows = self.world.customers_at(out)
            fid = np.repeat(self.node_failure[out], counts)
            duration = now - np.repeat(self.node_out_since[out], counts)
            self.rows.add(
                "outage_open",
                now,
                rows.size,
                duration_min=duration,
                **self._outage_columns(rows, fid),
            )
        self._flush()
        last = self.clock.step - 1
        if last < 0:
            return
        records = self.outage_records()
        season = self.reliability().row(0, named=True)
        for name in ("SAIFI", "SAIDI", "CAIDI", "CML", "interruptions"):
            if season[name] is not None:
                self.kpis.record(last, name, season[name])
        self.kpis.record(last, "unserved_energy_mwh", self.totals["unserved_kwh"] / 1000.0)
        self.kpis.record(
            last,
            "long_interruption_share",
            long_interruption_share(
                records, customers_served=self.n_customers, hours=self.params.long_outage_hours
            ),
        )
        by_day = self.reliability("day")
        threshold, major = major_event_days(by_day["SAIDI"].to_numpy())
        self.kpis.record(last, "major_event_days", int(major.sum()))
        if math.isfinite(threshold):
            self.kpis.record(last, "T_MED", threshold)
        for by in ("zone", "day", ("day", "zone")):
            table = self.reliability(by)
            groups = {}
            if "zone" in table.columns:
                groups["zone"] = table["zone"].to_list()
            step = last
            if "day" in table.columns:
                groups["day"] = table["day"].to_list()
                step = np.minimum(table["day"].to_numpy() * 24 + 23, last)
            for name in ("SAIFI", "SAIDI", "CML"):
                self._record_grouped(step, name, table[name].to_numpy(), groups)
            keep = table["CAIDI"].is_not_null().to_numpy()
            if keep.any():
                sub = {
                    g: [v for v, k in zip(vals, keep, strict=True) if k]
                    for g, vals in groups.items()
                }
                steps = step[keep] if isinstance(step, np.ndarray) else step
                self._record_grouped(steps, "CAIDI", table["CAIDI"].to_numpy()[keep], sub)
        sizes = outage_sizes(records)["customers"].to_numpy()
        bands = np.bincount(
            np.minimum(
                np.floor(np.log10(np.maximum(sizes, 1))).astype(np.int64), len(SIZE_BANDS) - 1
            ),
            minlength=len(SIZE_BANDS),
        )
        self.kpis.record(last, "outages", bands, size_band=list(SIZE_BANDS))

    def _record_grouped(
        self, step: Any, name: str, values: np.ndarray, groups: dict[str, list]
    ) -> None:
        """Record grouped KPI values, each at its own step (one record per distinct step)."""
        if not isinstance(step, np.ndarray):
            self.kpis.record(step, name, values, **groups)
            return
        for s in np.unique(step).tolist():
            sel = np.flatnonzero(step == s)
            sub = {g: [vals[i] for i in sel] for g, vals in groups.items()}
            self.kpis.record(s, name, values[sel], **sub)


def _check_world(world: Any, params: OutageParams, **others: Any) -> None:
    if not isinstance(world, World):
        msg = f"`world` must be a scenarios.outages.world.World, got {type(world).__name__}."
        raise ConfigError(msg)
    given = [k for k, v in others.items() if v is not None]
    if given:
        msg = (
            f"give either `world` or `{given[0]}`, not both: the world holds its population "
            "and network."
        )
        raise ConfigError(msg)
    built = (world.network, world.city_seed, world.diurnal_range)
    if built != (params.network, params.city_seed, params.diurnal_range):
        msg = (
            "`world` was built with other network parameters, city seed or diurnal range than "
            "`params` give. Hint: build it with build_world(params.network, "
            "city_seed=params.city_seed, diurnal_range=params.diurnal_range, ...)."
        )
        raise ConfigError(msg)


def _labels(categories: tuple[str, ...], codes: Any) -> pl.Series:
    return pl.Series(categories, dtype=pl.Enum(categories)).gather(
        np.asarray(codes, dtype=np.int64)
    )
