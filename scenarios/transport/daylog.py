"""The logged day: one representative day of every person, as trips and as MATSim events.

After the learning, the city's state is the average of the days since it last changed
(`scenarios.transport.model`). The logged day draws, for each person, one of those days
(a keyed draw, so a what-if's arms draw alike) and replays that day's mode and routes on the
final link times: a car enters each link of its route at the time it gets there and takes
the link's time of that hour (time-dependent travel), so congestion met in the morning delays
the rest of the day.

Events use MATSim's vocabulary and attribute names (MATSim's ``events.xml``): for a car leg
``actend``, ``departure``, ``PersonEntersVehicle``, ``vehicle enters traffic``, ``left link``
and ``entered link`` along the route, ``vehicle leaves traffic``, ``PersonLeavesVehicle``,
``arrival``, ``actstart``; for transit ``departure``, ``PersonEntersVehicle`` (the bus of the
line boarded, vehicle ``pt_<line>``), ``PersonLeavesVehicle``, ``arrival``; walking and cycling
are teleported legs (``departure``, ``travelled`` with ``distance`` and ``mode``, ``arrival``).
Attribute columns: ``time`` (seconds after midnight), ``type``, ``person``, ``link``,
``vehicle``, ``actType``, ``legMode``, ``networkMode``, ``relativePosition``, ``distance``,
``mode``; a column is null where MATSim's event has no such attribute. Rows are in time order
(then by person, then in the order of the person's day). A car's vehicle id is its driver's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from abm.events import EventSchema
from scenarios.transport.assignment import walk_back
from scenarios.transport.modes import CAR, MAX_LEGS, TRANSIT, choose_modes, simulate
from scenarios.transport.network import KINDS, Network
from scenarios.transport.params import ACTIVITIES, MODES

if TYPE_CHECKING:
    from scenarios.transport.model import TransportModel

__all__ = [
    "EVENT_TYPES",
    "LEG_MODES",
    "LoggedDay",
    "event_schema",
    "link_volumes",
    "log_day",
    "network_links",
    "network_nodes",
]

EVENT_TYPES = (
    "actend",
    "departure",
    "PersonEntersVehicle",
    "vehicle enters traffic",
    "left link",
    "entered link",
    "vehicle leaves traffic",
    "PersonLeavesVehicle",
    "arrival",
    "actstart",
    "travelled",
)
"""MATSim's event types, as its events files spell them."""
LEG_MODES = ("car", "pt", "bike", "walk")
"""MATSim's names of the modes (`MODES` in order: transit is ``pt``)."""


def event_schema(n_links: int = 0) -> EventSchema:
    """The columns of the transport event log (MATSim's attribute names)."""
    return EventSchema(
        "transport",
        {
            "time": pl.Float64,
            "type": pl.Enum(EVENT_TYPES),
            "person": pl.Int64,
            "link": pl.Int32,
            "vehicle": pl.String,
            "actType": pl.Enum(ACTIVITIES),
            "legMode": pl.Enum(LEG_MODES),
            "networkMode": pl.Enum(["car"]),
            "relativePosition": pl.Float64,
            "distance": pl.Float64,
            "mode": pl.Enum(LEG_MODES),
        },
    )


@dataclass
class LoggedDay:
    """The trips of the logged day and the pieces its events are made of."""

    trips: pl.DataFrame
    events: list[pl.DataFrame] = field(default_factory=list)

    def event_frame(self) -> pl.DataFrame:
        """All events in time order, with the log's columns."""
        schema = event_schema().polars_schema
        if not self.events:
            return pl.DataFrame(schema=schema)
        frame = pl.concat(self.events, how="diagonal_relaxed")
        frame = frame.sort(["time", "_person", "_order"], maintain_order=True)
        return frame.select(
            [
                pl.col(c).cast(d) if c in frame.columns else pl.lit(None, d).alias(c)
                for c, d in schema.items()
            ]
        )

    def emit(self, model: TransportModel) -> None:
        """Append the events to the model's event log, a chunk at a time."""
        log = model.event_log
        if log is None:
            return
        frame = self.event_frame()
        step = 1_000_000
        for start in range(0, frame.height, step):
            log.append_frame(frame.slice(start, step))


def _pieces(
    kind: str, time: np.ndarray, person: np.ndarray, order: np.ndarray, **cols: Any
) -> pl.DataFrame:
    n = np.asarray(time).size
    data: dict[str, Any] = {
        "time": np.asarray(time, np.float64),
        "type": pl.Series("type", [kind] * n, dtype=pl.Enum(EVENT_TYPES))
        if n
        else pl.Series("type", [], dtype=pl.Enum(EVENT_TYPES)),
        "_person": np.asarray(person, np.int64),
        "_order": np.broadcast_to(np.asarray(order, np.int64), (n,)).copy(),
    }
    for k, v in cols.items():
        data[k] = v if isinstance(v, pl.Series) else np.asarray(v)
    frame = pl.DataFrame(data)
    if "person" not in cols and kind not in ("left link", "entered link"):
        frame = frame.with_columns(person=pl.col("_person"))
    return frame


def _enum(name: str, codes: np.ndarray, labels: tuple[str, ...]) -> pl.Series:
    """Category codes as a polars Enum column."""
    return pl.Series(
        name, np.array(labels, dtype=object)[np.asarray(codes, np.int64)], dtype=pl.Enum(labels)
    )


def log_day(model: TransportModel) -> LoggedDay:
    """Draw each person's day from the learnt mixture and replay it (module docstring)."""
    net, chains, p = model.network, model.chains, model.params
    ids = model.person_ids
    inputs = model.mode_inputs()
    if model.history_modes:
        modes = np.stack(model.history_modes)
        trees = np.stack(model.history_trees)
    else:  # nothing learnt yet: today's choices on today's paths
        mode, _ = choose_modes(chains, inputs, p.modes, model.gumbel)
        modes = mode[None, :]
        trees = np.stack(model.trees).astype(np.int32)[None]
    n_days = modes.shape[0]
    day = np.minimum((model.keyed("log.day").uniform(0, ids) * n_days).astype(np.int64), n_days - 1)
    mode = modes[day, np.arange(ids.size)]
    s_count, z = model.n_slices, net.n_zones
    flat_trees = trees.reshape(n_days * s_count * z, net.n_nodes)

    act_link = net.zone_link[chains.zone[:, 0]].copy()
    columns: dict[str, list[np.ndarray]] = {}
    day_log = LoggedDay(trips=pl.DataFrame())
    log_links = p.assignment.log_links

    def add(**values: np.ndarray) -> None:
        for k, v in values.items():
            columns.setdefault(k, []).append(np.asarray(v))

    for m in range(len(MODES)):
        rows = np.flatnonzero(mode == m)
        if rows.size == 0:
            continue
        if m == CAR:
            _drive(model, rows, day[rows], flat_trees, act_link, add, day_log, log_links=log_links)
            continue
        legs = simulate(chains, m, rows, inputs, p.modes)
        for j in range(MAX_LEGS):
            on = np.flatnonzero(j < chains.n_trips[rows])
            if on.size == 0:
                break
            person = rows[on]
            o, d = chains.zone[person, j], chains.zone[person, j + 1]
            t0 = legs.depart[on, j]
            travel = legs.travel[on, j]
            leg_mode = legs.mode[on, j].astype(np.int64)
            start_link = act_link[person]
            end_link = net.zone_link[d]
            arrive = t0 + travel
            pid = ids[person]
            base = j * 1000
            _activity_ends(day_log, chains, person, pid, j, t0, start_link, base)
            day_log.events.append(
                _pieces(
                    "departure",
                    t0,
                    pid,
                    base + 1,
                    link=start_link,
                    legMode=_enum("legMode", leg_mode, LEG_MODES),
                )
            )
            ride = np.flatnonzero(leg_mode == TRANSIT)
            if ride.size:
                tr = model.transit_skims
                assert tr is not None and model.transit is not None
                oo, dd = o[ride], d[ride]
                board = t0[ride] + tr.access[oo, dd] + legs.wait[on[ride], j]
                egress = tr.walk[oo, dd] - tr.access[oo, dd]
                leave = arrive[ride] - egress
                names = np.array([f"pt_{n.replace(' ', '_')}" for n in model.transit.names])
                vehicle = pl.Series("vehicle", names[tr.line[oo, dd]], dtype=pl.String)
                day_log.events.append(
                    _pieces("PersonEntersVehicle", board, pid[ride], base + 2, vehicle=vehicle)
                )
                day_log.events.append(
                    _pieces("PersonLeavesVehicle", leave, pid[ride], base + 3, vehicle=vehicle)
                )
            tele = np.flatnonzero(leg_mode != TRANSIT)
            if tele.size:
                day_log.events.append(
                    _pieces(
                        "travelled",
                        arrive[tele],
                        pid[tele],
                        base + 4,
                        distance=legs.distance[on[tele], j],
                        mode=_enum("mode", leg_mode[tele], LEG_MODES),
                    )
                )
            day_log.events.append(
                _pieces(
                    "arrival",
                    arrive,
                    pid,
                    base + 5,
                    link=end_link,
                    legMode=_enum("legMode", leg_mode, LEG_MODES),
                )
            )
            _activity_starts(day_log, chains, person, pid, j, arrive, end_link, base + 6)
            act_link[person] = end_link
            add(
                person=pid,
                row=person,
                leg=np.full(person.size, j),
                origin=o,
                dest=d,
                mode=leg_mode,
                depart=t0,
                arrive=arrive,
                distance=legs.distance[on, j],
                toll=legs.toll[on, j],
                cost=legs.cost[on, j],
                wait=legs.wait[on, j],
                links=np.zeros(person.size, np.int64),
                day=day[person],
            )
    day_log.trips = _trips_table(model, columns)
    return day_log


def _activity_ends(
    day_log: LoggedDay,
    chains: Any,
    person: np.ndarray,
    pid: np.ndarray,
    j: int,
    t: np.ndarray,
    link: np.ndarray,
    base: int,
) -> None:
    day_log.events.append(
        _pieces(
            "actend",
            t,
            pid,
            base,
            link=link,
            actType=_enum("actType", chains.act[person, j], ACTIVITIES),
        )
    )


def _activity_starts(
    day_log: LoggedDay,
    chains: Any,
    person: np.ndarray,
    pid: np.ndarray,
    j: int,
    t: np.ndarray,
    link: np.ndarray,
    order: int,
) -> None:
    day_log.events.append(
        _pieces(
            "actstart",
            t,
            pid,
            order,
            link=link,
            actType=_enum("actType", chains.act[person, j + 1], ACTIVITIES),
        )
    )


def _drive(
    model: TransportModel,
    rows: np.ndarray,
    day: np.ndarray,
    flat_trees: np.ndarray,
    act_link: np.ndarray,
    add: Any,
    day_log: LoggedDay,
    *,
    log_links: bool,
) -> None:
    """Replay the car days of persons `rows`, link by link, on the final link times."""
    net, chains = model.network, model.chains
    s_count, z = model.n_slices, net.n_zones
    time, toll = model.link_time, model.conditions.toll
    ids = model.person_ids
    t = chains.start[rows].copy()
    for j in range(MAX_LEGS):
        on = np.flatnonzero(j < chains.n_trips[rows])
        if on.size == 0:
            break
        person = rows[on]
        pid = ids[person]
        o, d = chains.zone[person, j], chains.zone[person, j + 1]
        t0 = t[on]
        s = np.clip((t0 // model.slice_seconds).astype(np.int64), 0, s_count - 1)
        tree_row = (day[on] * s_count + s) * z + o
        paths, lengths = _paths(net, flat_trees, tree_row, net.dest[d], o == d)
        base = j * 1000
        start_link = act_link[person]
        _activity_ends(day_log, chains, person, pid, j, t0, start_link, base)
        car = _enum("legMode", np.zeros(on.size, np.int64), LEG_MODES)
        vehicle = pl.Series("vehicle", pid.astype(str), dtype=pl.String)
        day_log.events.append(_pieces("departure", t0, pid, base + 1, link=start_link, legMode=car))
        day_log.events.append(_pieces("PersonEntersVehicle", t0, pid, base + 2, vehicle=vehicle))
        day_log.events.append(
            _pieces(
                "vehicle enters traffic",
                t0,
                pid,
                base + 3,
                link=start_link,
                vehicle=vehicle,
                networkMode=pl.Series("networkMode", ["car"] * on.size, dtype=pl.Enum(["car"])),
                relativePosition=np.ones(on.size),
            )
        )
        moving = lengths > 0
        if log_links and moving.any():
            mv = np.flatnonzero(moving)
            day_log.events.append(
                _pieces(
                    "left link",
                    t0[mv],
                    pid[mv],
                    base + 4,
                    link=start_link[mv],
                    vehicle=vehicle.gather(mv),
                )
            )
        clock = t0.copy()
        paid = np.zeros(on.size)
        last = start_link.copy()
        for h in range(paths.shape[1]):
            go = np.flatnonzero(h < lengths)
            if go.size == 0:
                break
            link = paths[go, h]
            slot = np.clip((clock[go] // model.slice_seconds).astype(np.int64), 0, s_count - 1)
            enter = clock[go]
            clock[go] = enter + time[link, slot]
            paid[go] += toll[link, slot]
            last[go] = link
            if log_links:
                day_log.events.append(
                    _pieces(
                        "entered link",
                        enter,
                        pid[go],
                        base + 5 + 2 * h,
                        link=link,
                        vehicle=vehicle.gather(go),
                    )
                )
                leave = np.flatnonzero(h < lengths[go] - 1)
                if leave.size:
                    g2 = go[leave]
                    day_log.events.append(
                        _pieces(
                            "left link",
                            clock[g2],
                            pid[g2],
                            base + 6 + 2 * h,
                            link=link[leave],
                            vehicle=vehicle.gather(g2),
                        )
                    )
        still = ~moving
        clock[still] = t0[still] + model.car.time[o[still], d[still], s[still]]
        end = 990 + base
        for kind, k in (("vehicle leaves traffic", 0), ("PersonLeavesVehicle", 1)):
            extra: dict[str, Any] = {"vehicle": vehicle}
            if k == 0:
                extra.update(
                    link=last,
                    networkMode=pl.Series("networkMode", ["car"] * on.size, dtype=pl.Enum(["car"])),
                    relativePosition=np.ones(on.size),
                )
            day_log.events.append(_pieces(kind, clock, pid, end + k, **extra))
        day_log.events.append(_pieces("arrival", clock, pid, end + 2, link=last, legMode=car))
        _activity_starts(day_log, chains, person, pid, j, clock, last, end + 3)
        act_link[person] = last
        dist = np.where(
            moving,
            (net.length[paths] * (np.arange(paths.shape[1])[None, :] < lengths[:, None])).sum(
                axis=1
            ),
            model.car.distance[o, d, s],
        )
        cost = dist / 1000.0 * model.params.modes.car_cost_km + paid
        add(
            person=pid,
            row=person,
            leg=np.full(on.size, j),
            origin=o,
            dest=d,
            mode=np.zeros(on.size, np.int64),
            depart=t0,
            arrive=clock,
            distance=dist,
            toll=paid,
            cost=cost,
            wait=np.zeros(on.size),
            links=lengths,
            day=day[on],
        )
        t[on] = clock + chains.duration[person, j + 1]


def _paths(
    net: Network, trees: np.ndarray, rows: np.ndarray, dests: np.ndarray, stay: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's route as links in driving order (padded with -1) and its length."""
    n = rows.size
    found_idx: list[np.ndarray] = []
    found_link: list[np.ndarray] = []
    found_pos: list[np.ndarray] = []
    walking = np.flatnonzero(~stay)
    for p, (idx, link) in enumerate(walk_back(net, trees, rows[walking], dests[walking])):
        found_idx.append(walking[idx])
        found_link.append(link)
        found_pos.append(np.full(idx.size, p))
    lengths = np.zeros(n, np.int64)
    if not found_idx:
        return np.zeros((n, 0), np.int64), lengths
    idx = np.concatenate(found_idx)
    link = np.concatenate(found_link)
    pos = np.concatenate(found_pos)
    lengths = np.bincount(idx, minlength=n)
    paths = np.full((n, int(lengths.max())), 0, np.int64)
    paths[idx, lengths[idx] - 1 - pos] = link
    return paths, lengths


def _trips_table(model: TransportModel, columns: dict[str, list[np.ndarray]]) -> pl.DataFrame:
    net, chains = model.network, model.chains
    if not columns:
        data = {
            k: np.zeros(0)
            for k in (
                "person",
                "row",
                "leg",
                "origin",
                "dest",
                "mode",
                "depart",
                "arrive",
                "distance",
                "toll",
                "cost",
                "wait",
                "links",
                "day",
            )
        }
    else:
        data = {k: np.concatenate(v) for k, v in columns.items()}
    order = np.lexsort((data["leg"], data["person"]))
    data = {k: v[order] for k, v in data.items()}
    row = data["row"].astype(np.int64)
    leg = data["leg"].astype(np.int64)
    hh = model.persons["household_id"].to_numpy()
    zones = pl.Enum(list(net.zones))
    frame = pl.DataFrame(
        {
            "trip_id": np.arange(row.size, dtype=np.int64),
            "person": data["person"].astype(np.int64),
            "household": hh[row].astype(np.int64) if row.size else np.zeros(0, np.int64),
            "leg": leg.astype(np.int32),
            "from_act": pl.Series(
                [ACTIVITIES[c] for c in chains.act[row, leg].tolist()], dtype=pl.Enum(ACTIVITIES)
            ),
            "to_act": pl.Series(
                [ACTIVITIES[c] for c in chains.act[row, leg + 1].tolist()],
                dtype=pl.Enum(ACTIVITIES),
            ),
            "origin": pl.Series(
                [net.zones[c] for c in data["origin"].astype(np.int64).tolist()], dtype=zones
            ),
            "dest": pl.Series(
                [net.zones[c] for c in data["dest"].astype(np.int64).tolist()], dtype=zones
            ),
            "mode": pl.Series(
                [MODES[c] for c in data["mode"].astype(np.int64).tolist()], dtype=pl.Enum(MODES)
            ),
            "depart_s": data["depart"].astype(np.float64),
            "arrive_s": data["arrive"].astype(np.float64),
            "travel_min": (data["arrive"] - data["depart"]).astype(np.float64) / 60.0,
            "distance_km": data["distance"].astype(np.float64) / 1000.0,
            "toll": data["toll"].astype(np.float64),
            "cost": data["cost"].astype(np.float64),
            "wait_min": data["wait"].astype(np.float64) / 60.0,
            "links": data["links"].astype(np.int32),
            "day": data["day"].astype(np.int32),
        }
    )
    return frame


def link_volumes(model: TransportModel) -> pl.DataFrame:
    """Per link and time slice: volume (veh/h), travel time (s), speed (km/h), volume/capacity."""
    net = model.network
    real = np.flatnonzero(~net.virtual)
    s_count = model.n_slices
    hours = model.slice_seconds / 3600.0
    flow = model.flow[real] / hours
    time = model.link_time[real]
    cap = model.conditions.capacity[real][:, None]
    length = net.length[real][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(np.isfinite(time) & (time > 0), length / time * 3.6, 0.0)
        vc = np.where(cap > 0, flow / np.where(cap > 0, cap, 1.0), np.inf)
    start = np.arange(s_count) * hours
    n = real.size
    return pl.DataFrame(
        {
            "link": np.repeat(real, s_count).astype(np.int32),
            "hour": np.tile(start, n),
            "volume_vph": flow.reshape(-1),
            "travel_time_s": time.reshape(-1),
            "speed_kmh": speed.reshape(-1),
            "volume_capacity": vc.reshape(-1),
        }
    )


def network_links(net: Network) -> pl.DataFrame:
    """The compiled links: ids, ends, attributes and coordinates (MATSim's network fields)."""
    kinds = pl.Enum(list(KINDS))
    return pl.DataFrame(
        {
            "link": np.arange(net.n_links, dtype=np.int32),
            "label": net.label,
            "name": net.name,
            "kind": pl.Series([KINDS[k] for k in net.kind.tolist()], dtype=kinds),
            "from_node": net.tail.astype(np.int32),
            "to_node": net.head.astype(np.int32),
            "length": net.length,
            "free_time": net.free_time,
            "freespeed": np.where(
                net.free_time > 0, net.length / np.maximum(net.free_time, 1e-9), 0.0
            ),
            "capacity": net.capacity,
            "lanes": net.lanes,
            "from_x": net.x[net.tail],
            "from_y": net.y[net.tail],
            "to_x": net.x[net.head],
            "to_y": net.y[net.head],
        }
    )


def network_nodes(net: Network) -> pl.DataFrame:
    """The compiled nodes: index, the source graph's id (empty for virtual nodes), x, y."""
    return pl.DataFrame(
        {
            "node": np.arange(net.n_nodes, dtype=np.int32),
            "id": ["" if n is None else str(n) for n in net.nodes],
            "x": net.x,
            "y": net.y,
            "zone": pl.Series(
                [net.zones[a] if a >= 0 else None for a in net.area.tolist()], dtype=pl.String
            ),
        }
    )
