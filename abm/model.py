"""`SynthModel`: the base ``mesa.Model`` of every scenario.

A scenario subclasses `SynthModel`; its ``__init__`` reads like the scenario's description
(parameters, population, networks, columns, data collection) and its class attribute ``rules``
lists the rules of a step in order. One model owns:

* the randomness: ``seed`` -> `abm.rng.Streams` (``model.streams["network"]``...), Mesa's own
  ``model.rng`` is the stream ``"model"`` (passed as ``rng=``, never ``seed=``), and
  ``model.keyed(site)`` gives keyed draws for common random numbers (DESIGN.md §4);
* the time: ``model.clock`` (`abm.clock.Clock`) and ``model.events`` (`abm.clock.EventQueue`) for
  scheduled shocks and interventions (`SynthModel.schedule`);
* the agents' state: one `abm.agents.Columns` table per agent type (`SynthModel.add_agent_type`),
  viewed by `abm.agents.ColumnAgent` Mesa agents;
* optionally an `abm.events.EventLog` (`SynthModel.emit`) and KPIs (`SynthModel.kpi`).

The step loop, in order (`SynthModel.step`):

1. events due at ``clock.step`` run, by (priority, insertion order);
2. each rule in ``rules`` runs, in order. A rule is a model method over whole columns; but if a
   registered column-backed agent type defines a method of the same name, that rule runs per
   agent instead, as ``agents_by_type[T].shuffle_do(name)`` (``do`` if ``T.shuffle_rules`` is
   False), and the vectorised method is skipped (a rule is replaced as a whole: it should act
   on one agent type);
3. agent types that define ``step()`` (plain Mesa style; column-backed or plain ``mesa.Agent``
   types alike) run ``shuffle_do("step")``, column-backed types first, in the order they were
   registered;
4. the clock advances;
5. ``model.datacollector`` (a ``mesa.DataCollector``, if set) collects, so Mesa's ``Step`` label
   of the row equals ``clock.step``: the number of steps done.

A researcher overrides one rule per agent by subclassing the agent type and passing the subclass
in ``agent_classes={Person: MyPerson}``; the scenario's code stays as it is, and the per-agent
rule reads and writes the same columns (``self.state`` is ``columns["state"][self.row]``). Per-agent
rules that should give the same results as the vectorised ones draw from ``model.keyed(site)`` by
agent id and read the state the vectorised rule reads (see ``tests/abm/test_model.py``).

Mesa differences handled here (DESIGN.md §3): ``close()`` drops the model from
``mesa.Agent._ids``, where Mesa 3.3 keeps every model alive; `agent_vars` gives the
``DataCollector``'s agent table with an integer ``Step`` (Mesa 3.5 labels steps with floats).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import mesa
import numpy as np

from abm.agents import ColumnAgent, Columns
from abm.clock import Clock, EventHandle, EventQueue
from abm.events import EventLog, KpiCollector
from abm.rng import KeyedDraws, Streams
from populations.errors import ConfigError, closest_hint

__all__ = ["SynthModel", "agent_vars"]


def _defines(cls: type, name: str) -> bool:
    """Whether agent class `cls` defines a per-agent method `name` (not one of Mesa's own)."""
    base = ColumnAgent if issubclass(cls, ColumnAgent) else mesa.Agent
    return not hasattr(base, name) and callable(getattr(cls, name, None))


def _steps(cls: type) -> bool:
    return getattr(cls, "step", None) is not mesa.Agent.step


class SynthModel(mesa.Model):
    """Base class of scenarios: seeded streams, a clock, scheduled events, column-backed agents.

    Parameters
    ----------
    seed : int, SeedSequence or Streams, optional
        The root seed (a `Streams` for a replicate). None takes fresh entropy, recorded in
        ``model.streams.seed_sequence.entropy``.
    start, step_length
        The clock's start and step length (see `abm.clock.Clock`).
    event_log : EventLog, optional
        Where `emit` writes; `close` finalises it.
    kpis : KpiCollector, optional
        Where `kpi` records; by default the event log's, or a new collector.
    agent_classes : mapping of agent class to subclass, optional
        Use a subclass wherever the scenario registers a class (``{Person: MyPerson}``): the way
        to override rules per agent without touching the scenario.

    Attributes
    ----------
    rules : tuple of str
        The rules of a step, in order (class attribute).
    streams : Streams
    clock : Clock
    events : EventQueue
    tables : dict of agent class to Columns
    datacollector : mesa.DataCollector or None

    Examples
    --------
    >>> from abm.agents import column
    >>> class Cell(ColumnAgent):
    ...     energy = column(np.float64, default=1.0)
    >>> class Decay(SynthModel):
    ...     rules = ("decay",)
    ...     def __init__(self, n=5, *, seed=None):
    ...         super().__init__(seed=seed)
    ...         self.add_agent_type(Cell, n)
    ...     def decay(self):
    ...         cells = self.table(Cell)
    ...         cells["energy"][cells.where()] *= 0.5
    >>> with Decay(seed=1) as model:
    ...     _ = model.run(3)
    >>> model.clock.step, model.agents.agg("energy", sum)
    (3, 0.625)
    """

    rules: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        rules = cls.rules
        if isinstance(rules, str) or not isinstance(rules, tuple | list):
            msg = (
                f"`{cls.__name__}.rules` must be a tuple of rule names, got {rules!r}. "
                'Hint: rules = ("transmit", "recover").'
            )
            raise ConfigError(msg)
        for name in rules:
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                msg = f"`{cls.__name__}.rules`: {name!r} is not a rule name (a method name)."
                raise ConfigError(msg)
            if name == "step" or hasattr(SynthModel, name):
                msg = (
                    f"`{cls.__name__}.rules`: `{name}` is a method of SynthModel itself. "
                    "Hint: give the rule its own name."
                )
                raise ConfigError(msg)
        if len(set(rules)) != len(rules):
            dup = next(r for r in rules if list(rules).count(r) > 1)
            msg = f"`{cls.__name__}.rules` lists `{dup}` twice."
            raise ConfigError(msg)
        cls.rules = tuple(rules)

    def __init__(
        self,
        *,
        seed: int | np.random.SeedSequence | Streams | None = None,
        start: datetime | date | str = datetime(2000, 1, 1),
        step_length: timedelta | float = timedelta(days=1),
        event_log: EventLog | None = None,
        kpis: KpiCollector | None = None,
        agent_classes: Mapping[type, type] | None = None,
    ) -> None:
        streams = _as_streams(seed)
        super().__init__(rng=streams["model"])
        # The root seed a run can be repeated from: also for a replicate's streams, whose
        # entropy is the root seed's (the replicate is in the spawn key).
        entropy = streams.seed_sequence.entropy
        self.seed = int(entropy) if isinstance(entropy, int | np.integer) else None
        self.streams = streams
        self.clock = Clock(start=start, step_length=step_length)
        self.events = EventQueue()
        self.tables: dict[type, Columns] = {}
        self.agent_classes = _check_agent_classes(agent_classes)
        if event_log is not None and not isinstance(event_log, EventLog):
            msg = f"`event_log` must be an EventLog, got {type(event_log).__name__}."
            raise ConfigError(msg)
        if kpis is not None and not isinstance(kpis, KpiCollector):
            msg = f"`kpis` must be a KpiCollector, got {type(kpis).__name__}."
            raise ConfigError(msg)
        self.event_log = event_log
        self.kpis = kpis if kpis is not None else (event_log.kpis if event_log else KpiCollector())
        self.datacollector: Any = None
        self.manifest: dict[str, Any] | None = None
        self._keyed: dict[str | int, KeyedDraws] = {}
        self._lazy: set[type] = set()
        self._events_done: int | None = None
        self._closed = False
        # The last value and the running total of each whole-run scalar KPI (see `kpi`).
        self.kpi_last: dict[str, float] = {}
        self.kpi_sum: dict[str, float] = {}

    # ------------------------------------------------------------------------- agent types

    def add_agent_type(
        self,
        agent_class: type[ColumnAgent],
        data: Any = 0,
        *,
        ids: Any = None,
        create_views: bool = True,
    ) -> Columns:
        """Register a column-backed agent type and create its agents; return its table.

        Parameters
        ----------
        agent_class : ColumnAgent subclass
            Replaced by ``agent_classes[agent_class]`` if the model was given one.
        data : int, polars or pandas DataFrame, or mapping of column to array
            The number of agents (with default values), or their initial values (copied).
        ids : str or array_like of int, optional
            Stable agent ids, or the name of the column of `data` holding them; by default
            ``0 .. n-1``, so ``row == id``.
        create_views : bool
            Create a Mesa agent per row now (True), or only on demand through
            ``table.agent(row)`` (False; for 10**6 agents and up, see `abm.agents`).

        Raises
        ------
        ConfigError
            If the type is registered already, is not a ColumnAgent, the data do not fit its
            columns, or a type without views defines per-agent rules.
        """
        cls = self.agent_classes.get(agent_class, agent_class)
        table = self._register(cls, create_views=create_views)
        self.add_agents(cls, data, ids=ids)
        return table

    def _register(self, cls: type, *, create_views: bool) -> Columns:
        if not (isinstance(cls, type) and issubclass(cls, ColumnAgent)) or cls is ColumnAgent:
            msg = (
                f"an agent type must be a subclass of ColumnAgent, got {cls!r}. Hint: "
                "declare `class Person(ColumnAgent): state = column(np.int8)`."
            )
            raise ConfigError(msg)
        if cls in self.tables:
            msg = (
                f"agent type `{cls.__name__}` is already registered with this model. Hint: "
                f"add agents to it with model.add_agents({cls.__name__}, ...)."
            )
            raise ConfigError(msg)
        if not isinstance(create_views, bool):
            msg = f"`create_views` must be True or False, got {create_views!r}."
            raise ConfigError(msg)
        clash = [r for r in self.rules if r in cls.column_specs()]
        if clash:
            msg = (
                f"`{cls.__name__}.{clash[0]}` is a column and also a rule of "
                f"{type(self).__name__}. Hint: rename one of them."
            )
            raise ConfigError(msg)
        if not create_views:
            per_agent = [r for r in self.rules if _defines(cls, r)]
            if per_agent or _steps(cls):
                what = f"rule `{per_agent[0]}`" if per_agent else "`step()`"
                msg = (
                    f"agent type `{cls.__name__}` defines {what} per agent, which runs over "
                    "its Mesa agents, but create_views=False makes none. Hint: pass "
                    "create_views=True, or keep the rule vectorised."
                )
                raise ConfigError(msg)
            self._lazy.add(cls)
        table = Columns(cls.column_specs(), name=cls.__name__)
        table.agent_class = cls
        table.model = self
        self.tables[cls] = table
        return table

    def table(self, agent_class: type) -> Columns:
        """The columns of `agent_class`, or of the one registered subclass of it."""
        table = self.tables.get(agent_class)
        if table is not None:
            return table
        found = [t for c, t in self.tables.items() if issubclass(c, agent_class)]
        if len(found) == 1:
            return found[0]
        name = getattr(agent_class, "__name__", repr(agent_class))
        if found:
            msg = (
                f"several registered agent types are subclasses of `{name}`: "
                + ", ".join(t.name for t in found)
                + ". Hint: ask for one of them."
            )
            raise ConfigError(msg)
        msg = f"agent type `{name}` is not registered with this model. " + (
            closest_hint(name, [c.__name__ for c in self.tables])
            if self.tables
            else "Hint: call model.add_agent_type(...) first."
        )
        raise ConfigError(msg)

    def add_agents(self, agent_class: type, data: Any = 1, *, ids: Any = None) -> np.ndarray:
        """Add agents to a registered type (births, arrivals); return their rows.

        `data` is a number of agents or their initial values, as in `add_agent_type`. Views
        are created unless the type was registered with ``create_views=False``.
        """
        table = self.table(agent_class)
        if isinstance(data, int | np.integer) and not isinstance(data, bool):
            rows = table.add(int(data), ids=ids)
        else:
            rows = table.add(data=data, ids=ids)
        cls = table.agent_class
        if cls not in self._lazy:
            for row in rows.tolist():
                cls(self, _row=row)
        return rows

    def remove_agents(self, agent_class: type, rows: Any) -> None:
        """Remove the agents at `rows` of a type (their Mesa views too)."""
        self.table(agent_class).remove(rows)

    def keyed(self, site: str | int) -> KeyedDraws:
        """Keyed draws for decision `site` under this model's root seed (cached)."""
        draws = self._keyed.get(site)
        if draws is None:
            draws = self._keyed[site] = self.streams.keyed(site)
        return draws

    def reseed(self, seed: int | np.random.SeedSequence | Streams) -> None:
        """Draw everything from now on from the root `seed`; the model's state is kept.

        For rare-event splitting (`abm.rare`): a copy of a running model must continue on a
        random path of its own, and with keyed draws a copy would otherwise repeat its
        original's path exactly. After ``reseed``, every named stream, every keyed draw
        (`keyed`), Mesa's ``model.rng`` (the stream ``"model"``) and ``model.random``
        (reseeded in place, since Mesa's agent sets hold it) follow the new root; agents,
        columns, scheduled events, the clock and KPIs are unchanged, and ``seed`` still names
        the root the model was built from. A generator a scenario keeps in an attribute of its
        own is not reached: draw from ``model.streams[name]`` when needed instead.

        Examples
        --------
        >>> a, b = SynthModel(seed=1), SynthModel(seed=1)
        >>> b.reseed(2)
        >>> draw = lambda model: model.keyed("x").uniform(0, [7])[0]
        >>> bool(draw(a) == draw(b)), bool(draw(b) == draw(SynthModel(seed=2)))
        (False, True)
        """
        streams = _as_streams(seed)
        self.streams = streams
        self._keyed = {}
        self.rng = streams["model"]
        words = streams.seed_sequence_for("model.random").generate_state(2, np.uint32)
        self.random.seed(int(words[0]) << 32 | int(words[1]))

    # ------------------------------------------------------------------------- events

    def schedule(
        self, step: int, event: Callable[[SynthModel], Any] | str, *, priority: float = 0
    ) -> EventHandle:
        """Run `event` at the start of `step`, before the rules; return a handle to `cancel`.

        `event` is a callable taking the model, or the name of a model method (called without
        arguments). Events due at the same step run by `priority` (lower first), then in the
        order they were scheduled. An event may schedule another at the current step; it runs
        in the same step.

        Raises
        ------
        ConfigError
            If `step` has already started (its events ran), or `event` is neither callable nor
            a method name.
        """
        try:
            step = operator.index(step)
        except TypeError:
            msg = f"`step` must be an integer step, got {type(step).__name__} {step!r}."
            raise ConfigError(msg) from None
        now = self.clock.step
        if step < now or (step == now and self._events_done == now):
            msg = (
                f"cannot schedule an event at step {step}: the model is at step {now} and its "
                f"events have run. Hint: schedule at step {now + 1} or later."
            )
            raise ConfigError(msg)
        if isinstance(event, str):
            if not callable(getattr(self, event, None)):
                msg = f"{type(self).__name__} has no method `{event}` to schedule. " + (
                    closest_hint(event, [a for a in dir(self) if not a.startswith("_")])
                )
                raise ConfigError(msg)
        elif not callable(event):
            msg = f"an event must be callable or a method name, got {event!r}."
            raise ConfigError(msg)
        return self.events.schedule(step, event, priority=priority)

    def cancel(self, handle: EventHandle) -> bool:
        """Cancel a scheduled event; False if it already ran or was cancelled."""
        return self.events.cancel(handle)

    def fire_events(self) -> None:
        """Run the events due at the current step (step 1 of the loop)."""
        now = self.clock.step
        while due := self.events.pop_due(now):
            for event in due:
                if isinstance(event, str):
                    getattr(self, event)()
                else:
                    event(self)
        self._events_done = now

    # ------------------------------------------------------------------------- the step

    def _agent_types(self) -> list[type]:
        types = list(self.tables)
        types += [t for t in self.agents_by_type if t not in self.tables]
        return types

    def apply_rules(self) -> None:
        """Run ``rules`` in order, each vectorised or per agent (step 2 of the loop)."""
        by_type = self.agents_by_type
        for name in self.rules:
            per_agent = [t for t in self.tables if _defines(t, name)]
            if per_agent:
                for t in per_agent:
                    agents = by_type.get(t)
                    if agents is None:
                        continue
                    if getattr(t, "shuffle_rules", True):
                        agents.shuffle_do(name)
                    else:
                        agents.do(name)
                continue
            method = getattr(self, name, None)
            if not callable(method):
                msg = (
                    f"rule `{name}` of {type(self).__name__}.rules is neither a method of the "
                    "model nor of a registered agent type. Hint: define "
                    f"`def {name}(self):` on the model."
                )
                raise ConfigError(msg)
            method()

    def step_agents(self) -> None:
        """``shuffle_do("step")`` for agent types that define ``step()`` (step 3 of the loop)."""
        by_type = self.agents_by_type
        for t in self._agent_types():
            if _steps(t) and t in by_type:
                by_type[t].shuffle_do("step")

    def collect(self) -> None:
        """Let ``self.datacollector`` (if any) collect (step 5 of the loop)."""
        if self.datacollector is not None:
            self.datacollector.collect(self)

    def step(self) -> None:
        """One step: events, rules, agents' own ``step()``, clock, data collection."""
        if self._closed:
            msg = f"{type(self).__name__} is closed. Hint: make a new model to run again."
            raise ConfigError(msg)
        self.fire_events()
        self.apply_rules()
        self.step_agents()
        self.clock.advance()
        self.collect()

    def run(self, steps: int, *, progress: Callable[[int, int], Any] | None = None) -> SynthModel:
        """Run `steps` steps (fewer if a rule sets ``running = False``); return the model.

        `progress(done, steps)` is called after each step (e.g. to advance a progress bar).
        """
        try:
            steps = operator.index(steps)
        except TypeError:
            msg = f"`steps` must be an integer, got {type(steps).__name__} {steps!r}."
            raise ConfigError(msg) from None
        if steps < 0:
            msg = f"`steps` must be >= 0, got {steps}."
            raise ConfigError(msg)
        for done in range(1, steps + 1):
            if not self.running:
                break
            self.step()
            if progress is not None:
                progress(done, steps)
        return self

    # ------------------------------------------------------------------------- outputs

    def emit(self, **columns: Any) -> None:
        """Append rows to the event log (no-op without one); ``step`` defaults to the clock's."""
        log = self.event_log
        if log is None:
            return
        if "step" in log.schema.columns and "step" not in columns:
            columns["step"] = self.clock.step
        log.append(**columns)

    def kpi(self, name: str, value: Any, **groups: Any) -> None:
        """Record KPI `name` (a number, or an array with group arrays) at the current step.

        A number recorded without groups is also kept as ``kpi_last[name]`` and added to
        ``kpi_sum[name]``, so code that watches a run (a rare-event score, `abm.rare`) reads a
        KPI's latest value or total so far without tabulating the whole KPI log.
        """
        self.kpis.record(self.clock.step, name, value, **groups)
        if not groups and np.ndim(value) == 0:
            number = float(value)
            self.kpi_last[name] = number
            self.kpi_sum[name] = self.kpi_sum.get(name, 0.0) + number

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> dict[str, Any] | None:
        """Finish the run: close the event log (returning its manifest) and release the model.

        Mesa 3.3 keeps a reference to every model in ``mesa.Agent._ids``; closing drops it, so
        a finished model can be garbage-collected. Idempotent.
        """
        if self._closed:
            return self.manifest
        self._closed = True
        self.running = False
        try:
            if self.event_log is not None and not self.event_log.closed:
                self.event_log.extra["steps"] = self.clock.step
                self.manifest = self.event_log.close()
        finally:
            _forget(self)
        return self.manifest

    def __enter__(self) -> SynthModel:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
            return
        self._closed = True
        self.running = False
        try:
            if self.event_log is not None:
                self.event_log.abort()
        finally:
            _forget(self)


def _forget(model: mesa.Model) -> None:
    """Drop `model` from Mesa 3.3's per-model id counters (absent on later versions)."""
    counters = getattr(mesa.Agent, "_ids", None)
    if isinstance(counters, dict):
        counters.pop(model, None)


def _as_streams(seed: Any) -> Streams:
    if isinstance(seed, Streams):
        return seed
    if isinstance(seed, bool) or not (
        seed is None or isinstance(seed, int | np.integer | np.random.SeedSequence)
    ):
        msg = (
            f"`seed` must be a non-negative integer, a SeedSequence or Streams, got "
            f"{type(seed).__name__} {seed!r}. Hint: seed=2026."
        )
        raise ConfigError(msg)
    return Streams(seed)


def _check_agent_classes(agent_classes: Mapping[type, type] | None) -> dict[type, type]:
    if agent_classes is None:
        return {}
    if not isinstance(agent_classes, Mapping):
        msg = f"`agent_classes` must map agent classes to subclasses, got {agent_classes!r}."
        raise ConfigError(msg)
    for base, sub in agent_classes.items():
        if not (isinstance(sub, type) and isinstance(base, type) and issubclass(sub, base)):
            msg = (
                f"`agent_classes` maps {base!r} to {sub!r}, which is not a subclass of it. "
                "Hint: {Person: MyPerson} with `class MyPerson(Person)`."
            )
            raise ConfigError(msg)
    return dict(agent_classes)


def agent_vars(datacollector: Any, agent_type: type | None = None) -> Any:
    """The ``DataCollector``'s agent (or agent-type) table with an int64 ``Step`` index level.

    Mesa 3.3 labels rows with ``model.steps`` (int), 3.5 with ``model.time`` (float); this
    gives the same frame on both. With a `SynthModel`, ``Step`` equals ``clock.step`` after the
    step collected (0 for a collection in ``__init__``).
    """
    if agent_type is None:
        frame = datacollector.get_agent_vars_dataframe()
    else:
        frame = datacollector.get_agenttype_vars_dataframe(agent_type)
    index = frame.index
    if "Step" not in index.names:  # nothing collected (Mesa returns a bare empty frame)
        return frame
    steps = np.asarray(index.get_level_values("Step"), dtype=np.float64)
    if steps.size and not np.array_equal(steps, np.round(steps)):
        msg = "the DataCollector's `Step` labels are not whole numbers."
        raise ConfigError(msg)
    level = index.names.index("Step")
    frame.index = index.set_levels(index.levels[level].astype(np.int64), level=level)
    return frame
