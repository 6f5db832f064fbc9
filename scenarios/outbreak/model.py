"""`OutbreakModel`: an SEIR epidemic with hospitalisation and death on a synthetic city.

The model reads like its description: parameters -> population (the demo city by default) ->
contact layers (household, school, workplace, community) -> a `Person` column per attribute ->
scheduled events (initial infections, importations, school closure, distancing) -> event log
and KPIs (city-wide, and by zone and age band) -> a Mesa ``DataCollector`` of the state counts.

Every draw that decides a person's fate is keyed (`abm.rng.KeyedDraws`): whether they are
infected and by whom, whether they are tested, by (seed, decision, day, person id); their periods,
whether they are hospitalised and die, by (seed, decision, person id) alone (`TRAIT`), so an
illness runs the same course whichever day it starts; their place in the vaccination queue. So
two runs with one seed that differ by a policy share their randomness (common random numbers,
DESIGN.md section 4): a person whose contacts were infectious on the same days meets the same
fate in both, and a person infected on another day still has the same illness.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import polars as pl

from abm.agents import ColumnAgent, column
from abm.events import EventLog, EventSchema, KpiCollector
from abm.model import SynthModel
from abm.params import params_to_dict
from abm.rng import Streams
from populations.demo import demo_persons
from populations.errors import ConfigError
from scenarios.outbreak import disease
from scenarios.outbreak.contacts import LAYERS, ContactState, build_contacts
from scenarios.outbreak.disease import D, E, H, I, R, S
from scenarios.outbreak.interventions import (
    close_schools,
    infectiousness,
    order_of_tests,
    reduce_contacts,
    vaccination_order,
)
from scenarios.outbreak.params import AGE_GROUPS, OutbreakParams

__all__ = ["EVENTS", "LOG_LAYERS", "OutbreakModel", "Person", "demo_persons"]

EVENTS = (
    "infection",
    "onset",
    "hospitalisation",
    "recovery",
    "death",
    "vaccination",
    "test",
    "isolation",
)
"""The event types of the log (``test``: a positive result arrives)."""
LOG_LAYERS = (*LAYERS, "initial", "import", "none")
"""Where an infection happened: a contact layer, seeded on day 0, imported; ``none`` otherwise."""
_LAYER_CODE = {name: code for code, name in enumerate(LOG_LAYERS)}
TRAIT = 0
"""The step of the keyed draws that are a person's own (periods, severity, death): the same
whichever day they are needed, so a person infected on another day in a policy arm meets the
same course of illness: paired differences of hospital days and deaths do not pick up noise
from the day a person happened to be infected."""


class Person(ColumnAgent):
    """A person: a thin Mesa view over the outbreak's columns."""

    state = column(np.int8, default=S, doc="disease state code (disease.STATES)")
    age = column(np.int16, default=0, doc="years")
    age_group = column(np.int8, default=0, doc="ten-year severity group, 0 (0-9) .. 8 (80+)")
    zone = column(np.int16, default=0, doc="index into model.zones")
    t_next = column(np.int32, default=-1, doc="day of the next transition (-1: none)")
    t_infected = column(np.int32, default=-1, doc="day infected (-1: never)")
    infector = column(np.int64, default=-1, doc="person id of the infector (-1: none/outside)")
    severe = column(np.bool_, default=False, doc="will be hospitalised at the end of I")
    dies = column(np.bool_, default=False, doc="will die at the end of the hospital stay")
    vaccinated = column(np.bool_, default=False)
    t_tested = column(np.int32, default=-1, doc="day tested (-1: never)")
    t_result = column(np.int32, default=-1, doc="day the test result arrives (-1: none pending)")
    isolated_until = column(np.int32, default=-1, doc="isolated on days < this (-1: never)")


class OutbreakModel(SynthModel):
    """SEIR(+H, D) on the contact layers of a synthetic population.

    A day runs, in order: scheduled events (day 0: initial infections; importations; school
    closure and distancing switching on or off), then the rules ``transmit`` (susceptible
    persons are infected by their infectious contacts), ``progress`` (hospital stays end,
    infectious periods end, latent periods end), ``test`` (today's tests; results that arrive
    today start isolations), ``vaccinate`` (today's doses) and ``count_states`` (daily KPIs,
    city-wide and by zone and age band), then the clock advances and the ``DataCollector``
    collects.

    Parameters
    ----------
    params : OutbreakParams, optional
    seed : int or abm.rng.Streams, optional
        The root seed of every stream and keyed draw (a `Streams`: a replicate's root).
    persons : polars.DataFrame, optional
        The population (one row per person; needs ``age``; ``person_id`` and ``zone`` are
        used if present, and `abm.networks.contact_layers` needs ``household_id``,
        ``employment`` and ``zone``). Default: a sample of the demo city drawn from the stream
        ``"population"``.
    graph : networkx.Graph or MultiLayerNetwork, optional
        The contacts (edge attribute ``layer``), instead of building them from `persons`.
    zone_distance : array, optional
        Distances between zones (square, in the order of the zone column's categories): community
        contacts and commutes then fall off with distance (gravity kernel) instead of following a
        fixed within-zone share.
    out : path, optional
        Write the event log, KPIs and manifest there on `close`.
    fmt, overwrite, shard
        Passed to `abm.events.EventLog` (``shard=k``: write shard `k` of a partitioned log,
        ``events/shard=0000k/...``; ignored without `out`).
    create_views : bool
        Create a Mesa agent per person (True) or only on demand.
    """

    rules = ("transmit", "progress", "test", "vaccinate", "count_states")

    def __init__(
        self,
        params: OutbreakParams | None = None,
        *,
        seed: int | Streams | None = None,
        persons: pl.DataFrame | None = None,
        graph: Any = None,
        zone_distance: np.ndarray | None = None,
        out: str | Path | None = None,
        fmt: str = "parquet",
        overwrite: bool = False,
        shard: int | None = None,
        create_views: bool = True,
    ) -> None:
        super().__init__(seed=seed)
        self.params = params = params if params is not None else OutbreakParams()
        if not isinstance(params, OutbreakParams):
            msg = f"`params` must be OutbreakParams, got {type(params).__name__}."
            raise ConfigError(msg)
        self.betas = np.array(
            [
                params.beta_household,
                params.beta_school,
                params.beta_workplace,
                params.beta_community,
            ]
        )

        # population
        if persons is None:
            persons = demo_persons(self.streams["population"])
        self.persons = persons = _check_persons(persons)
        self.zones = _zone_labels(persons["zone"])
        self.kpis = KpiCollector(
            groups={"zone": pl.Enum(self.zones), "age_band": pl.Enum(AGE_GROUPS)}
        )

        # contact layers
        network = build_contacts(
            persons,
            graph=graph,
            zone_distance=zone_distance,
            rng=self.streams.seed_sequence_for("network"),
        )
        self.contacts = ContactState(network)

        # columns
        age = persons["age"].to_numpy().astype(np.int16)
        self.people = self.add_agent_type(
            Person,
            {
                "person_id": persons["person_id"].to_numpy(),
                "age": age,
                "age_group": np.minimum(age // 10, 8).astype(np.int8),
                "zone": persons["zone"]
                .cast(pl.String)
                .cast(pl.Enum(self.zones))
                .to_physical()
                .to_numpy(),
            },
            ids="person_id",
            create_views=create_views,
        )
        self.ids = self.people.ids
        self.n_new_infections = 0

        # scheduled events
        self.schedule(0, "seed_infections")
        imports = self.streams["importations"].poisson(params.importations, params.days)
        for day in np.flatnonzero(imports).tolist():
            self.schedule(day, functools.partial(_import, count=int(imports[day])))
        closure = params.school_closure
        if closure.start_day < closure.end_day:
            for day in (closure.start_day, closure.end_day):
                self.schedule(day, lambda m: close_schools(m.contacts, closure, m.clock.step))
        reduction = params.contact_reduction
        self.schedule(
            reduction.start_day, lambda m: reduce_contacts(m.contacts, reduction, m.clock.step)
        )

        # event log and KPIs
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
            )
        self.datacollector = mesa.DataCollector(
            model_reporters={
                name: functools.partial(_count, code=code)
                for code, name in enumerate(disease.STATES)
            }
        )
        self.datacollector.collect(self)

    def clone(self) -> OutbreakModel:
        """A copy of the model in its current state, to run on independently.

        For rare-event splitting (`abm.rare`), which copies a run where it first crosses a level
        and continues each copy after `reseed`. The persons table and the contact network do
        not change during a run and are shared with the copy (on the demo city, 36 of a
        model's 42 MB); everything else is copied.

        Raises
        ------
        ConfigError
            If the model writes an event log (build it with ``out=None``).
        """
        if self.event_log is not None:
            msg = (
                "an OutbreakModel that writes an event log cannot be copied. Hint: build it "
                "with out=None."
            )
            raise ConfigError(msg)
        shared = {id(self.persons): self.persons, id(self.contacts.network): self.contacts.network}
        return copy.deepcopy(self, shared)

    def event_schema(self) -> EventSchema:
        """day, event, person, other (the infector's id or -1), layer, zone."""
        return EventSchema(
            "outbreak",
            {
                "day": pl.Int32,
                "event": pl.Enum(EVENTS),
                "person": pl.Int64,
                "other": pl.Int64,
                "layer": pl.Enum(LOG_LAYERS),
                "zone": pl.Enum(self.zones),
            },
        )

    # ----------------------------------------------------------------------------- events

    def seed_infections(self) -> None:
        """Day 0: expose `initial_infections` persons chosen by keyed draw."""
        self.expose_random(self.params.initial_infections, site="initial", layer="initial")

    def expose_random(self, count: int, *, site: str, layer: str) -> np.ndarray:
        """Expose `count` susceptible persons, those with the lowest keyed uniforms at `site`."""
        day = self.clock.step
        sus = np.flatnonzero(self.people["state"] == S)
        u = self.keyed(site).uniform(day, self.ids[sus])
        if count < u.size:  # the `count` lowest without sorting everyone (importations: ~1 a day)
            lowest = np.argpartition(u, count - 1)[:count] if count > 0 else np.arange(0)
        else:
            lowest = np.arange(u.size)
        rows = np.sort(sus[lowest])
        self.expose(rows, np.full(rows.size, _LAYER_CODE[layer]), np.full(rows.size, -1))
        return rows

    def expose(self, rows: np.ndarray, layer: np.ndarray, infector_rows: np.ndarray) -> None:
        """S -> E for `rows`, infected in `layer` (codes of LOG_LAYERS) by `infector_rows`."""
        if rows.size == 0:
            return
        p, day, people = self.params, self.clock.step, self.people
        ids = self.ids[rows]
        infector = np.where(infector_rows >= 0, self.ids[np.maximum(infector_rows, 0)], -1)
        people["state"][rows] = E
        people["t_infected"][rows] = day
        people["infector"][rows] = infector
        latent = disease.gamma_days(
            self.keyed("latent").uniform(TRAIT, ids), p.latent_mean, p.latent_shape
        )
        people["t_next"][rows] = day + latent
        self.n_new_infections += rows.size
        self.log("infection", rows, other=infector, layer=layer)

    def log(self, event: str, rows: np.ndarray, *, other: Any = -1, layer: Any = None) -> None:
        if self.event_log is None or rows.size == 0:
            return
        self.emit(
            day=self.clock.step,
            event=event,
            person=self.ids[rows],
            other=other,
            layer=_LAYER_CODE["none"] if layer is None else layer,
            zone=self.people["zone"][rows].astype(np.int64),
        )

    # ----------------------------------------------------------------------------- rules

    def transmit(self) -> None:
        """S -> E: each susceptible is infected with 1 - prod (1 - beta_l)^(m_l n_l)."""
        day, people = self.clock.step, self.people
        infectious = people["state"] == I
        if not infectious.any():
            return
        adjacencies = self.contacts.adjacencies()
        m = self.contacts.multipliers()
        isolated = infectious & (people["isolated_until"] > day)
        weight = infectiousness(infectious, isolated, self.params.testing.isolation, LAYERS)
        counts = disease.infectious_contacts(adjacencies, weight)
        sus = np.flatnonzero((people["state"] == S) & (counts.sum(axis=0) > 0))
        prob = disease.infection_probability(counts[:, sus], self.betas, m)
        prob[people["vaccinated"][sus]] *= 1.0 - self.params.vaccination.efficacy
        rows = sus[self.keyed("infection").bernoulli(day, self.ids[sus], prob)]
        u_layer = self.keyed("infection.layer").uniform(day, self.ids[rows])
        layer = disease.choose_layer(counts[:, rows], self.betas, u_layer, m)
        infector = np.full(rows.size, -1, np.int64)
        u_contact = self.keyed("infection.contact").uniform(day, self.ids[rows])
        for code, adjacency in enumerate(adjacencies):
            sel = np.flatnonzero(layer == code)
            infector[sel] = disease.choose_contact(
                adjacency, rows[sel], weight[code], u_contact[sel]
            )
        self.expose(rows, layer, infector)

    def progress(self) -> None:
        """H -> R or D, then I -> R or H, then E -> I, for those whose period ends today."""
        p, day, people = self.params, self.clock.step, self.people
        state, t_next = people["state"], people["t_next"]
        due = (t_next >= 0) & (t_next <= day)

        rows = np.flatnonzero(due & (state == H))
        dies = people["dies"][rows]
        state[rows] = np.where(dies, D, R)
        t_next[rows] = -1
        self.log("death", rows[dies])
        self.log("recovery", rows[~dies])

        rows = np.flatnonzero(due & (state == I))
        severe = people["severe"][rows]
        well, sick = rows[~severe], rows[severe]
        state[well] = R
        t_next[well] = -1
        self.log("recovery", well)
        state[sick] = H
        people["isolated_until"][sick] = -1  # isolation ends in hospital
        ids = self.ids[sick]
        stay = self.keyed("hospital_stay").uniform(TRAIT, ids)
        t_next[sick] = day + disease.gamma_days(stay, p.hospital_mean, p.hospital_shape)
        p_death = np.asarray(p.death)[people["age_group"][sick]]
        people["dies"][sick] = self.keyed("death").bernoulli(TRAIT, ids, p_death)
        self.log("hospitalisation", sick)

        rows = np.flatnonzero(due & (state == E))
        ids = self.ids[rows]
        state[rows] = I
        period = self.keyed("infectious").uniform(TRAIT, ids)
        t_next[rows] = day + disease.gamma_days(period, p.infectious_mean, p.infectious_shape)
        p_hosp = np.asarray(p.hospitalisation)[people["age_group"][rows]]
        people["severe"][rows] = self.keyed("severe").bernoulli(TRAIT, ids, p_hosp)
        self.log("onset", rows)

    def test(self) -> None:
        """Test today's share of the untested infectious (up to capacity); act on results due.

        A result that arrives today is logged as ``test``; its person, unless in hospital or
        dead, isolates on days ``today <= day < today + duration`` (``isolation``).
        """
        t, day, people = self.params.testing, self.clock.step, self.people
        if t.probability > 0 and t.daily_capacity > 0 and day >= t.start_day:
            eligible = np.flatnonzero((people["state"] == I) & (people["t_tested"] < 0))
            ids = self.ids[eligible]
            chosen = self.keyed("testing").bernoulli(day, ids, t.probability)
            rows, ids = eligible[chosen], ids[chosen]
            if rows.size > t.daily_capacity:
                u = self.keyed("testing.order").uniform(day, ids)
                rows = np.sort(rows[order_of_tests(u)[: t.daily_capacity]])
            people["t_tested"][rows] = day
            people["t_result"][rows] = day + t.delay
        rows = np.flatnonzero(people["t_result"] == day)
        if rows.size == 0:
            return
        people["t_result"][rows] = -1
        self.log("test", rows)
        state = people["state"][rows]
        rows = rows[(state != H) & (state != D)]
        people["isolated_until"][rows] = day + t.duration
        self.log("isolation", rows)

    def vaccinate(self) -> None:
        """Today's doses to the eligible, in priority order, up to the coverage target."""
        v, day, people = self.params.vaccination, self.clock.step, self.people
        if v.coverage <= 0 or v.daily_capacity <= 0 or day < v.start_day:
            return
        vaccinated = people["vaccinated"]
        doses = min(v.daily_capacity, round(v.coverage * vaccinated.size) - vaccinated.sum())
        if doses <= 0:
            return
        state = people["state"]
        eligible = np.flatnonzero(~vaccinated & ((state == S) | (state == E) | (state == R)))
        u = self.keyed("vaccination.order").uniform(0, self.ids[eligible])
        order = vaccination_order(people["age"][eligible], u, priority=v.priority)
        rows = np.sort(eligible[order[:doses]])
        vaccinated[rows] = True
        self.log("vaccination", rows)

    def count_states(self) -> None:
        """KPIs of the day: persons in each state, new infections and the isolated; then persons
        in each state and new infections by zone (group ``zone``) and by age band
        (``age_band``), so hospitalisations and deaths can be mapped and broken down by age."""
        day, people = self.clock.step, self.people
        counts = np.bincount(people["state"], minlength=len(disease.STATES))
        for name, count in zip(disease.STATES, counts.tolist(), strict=True):
            self.kpi(name, count)
        self.kpi("new_infections", self.n_new_infections)
        self.n_new_infections = 0
        self.kpi("isolated", int(np.count_nonzero(people["isolated_until"] > day)))
        new = people["t_infected"] == day
        n_states = len(disease.STATES)
        for group, codes, labels in (
            ("zone", people["zone"], self.zones),
            ("age_band", people["age_group"], AGE_GROUPS),
        ):
            # One pass: (group, state) cells counted together.
            cells = np.bincount(
                codes * n_states + people["state"], minlength=len(labels) * n_states
            ).reshape(len(labels), n_states)
            for j, name in enumerate(disease.STATES):
                self.kpi(name, cells[:, j], **{group: list(labels)})
            by = np.bincount(codes[new], minlength=len(labels))
            self.kpi("new_infections", by, **{group: list(labels)})


def _import(model: OutbreakModel, *, count: int) -> None:
    model.expose_random(count, site="import", layer="import")


def _count(model: OutbreakModel, *, code: int) -> int:
    return int(np.count_nonzero(model.people["state"] == code))


def _zone_labels(zone: pl.Series) -> tuple[str, ...]:
    if isinstance(zone.dtype, pl.Enum):
        return tuple(zone.dtype.categories.to_list())
    return tuple(zone.cast(pl.String).unique().sort().to_list())


def _check_persons(persons: Any) -> pl.DataFrame:
    if not isinstance(persons, pl.DataFrame):
        msg = (
            f"`persons` must be a polars DataFrame, got {type(persons).__name__}. "
            "Hint: `polars.from_pandas(df)` converts a pandas frame."
        )
        raise ConfigError(msg)
    if "age" not in persons.columns:
        msg = "`persons` has no column `age`. Hint: the severity of an infection depends on age."
        raise ConfigError(msg)
    if "person_id" not in persons.columns:
        persons = persons.with_row_index("person_id").with_columns(
            pl.col("person_id").cast(pl.Int64)
        )
    if "zone" not in persons.columns:
        persons = persons.with_columns(zone=pl.lit("all"))
    for name in ("age", "person_id", "zone"):
        nulls = persons[name].null_count()
        if nulls:
            msg = f"`persons` column `{name}` has {nulls} missing value(s). Hint: fill them first."
            raise ConfigError(msg)
    return persons
