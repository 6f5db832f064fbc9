"""Rare events of a registered scenario: "a KPI reaches a threshold" as a `RareEvent`.

`KpiScore` scores an `abm.model.SynthModel` by a KPI it records every step (the value a rule
passed to ``model.kpi(name, value)`` without groups): its latest value, so that the event is
"the KPI's peak reaches the threshold" (``stat="max"``: e.g. 500 people in hospital at once), or
its running total, "the KPI summed over the run reaches the threshold" (``stat="sum"``: e.g.
100,000 infections in all). It reads ``model.kpi_last`` / ``model.kpi_sum``, which every
`SynthModel` keeps, so the score costs nothing per step and is part of the model's state (a copy
carries it).

`scenario_event` builds the `RareEvent` that ``synthworld rare`` estimates: models from the
scenario's ``build(params, seed=..., out=None)``, with ``create_views=False`` when the build
accepts it (no Mesa agent per row: cheaper to build and to copy), the horizon from the
scenario's steps parameter. Every `SynthModel` can be reseeded; copies use the model's
``clone()`` if it has one (the outbreak shares its read-only persons table and contact network
between copies) or ``copy.deepcopy``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from abm.rare.event import RareEvent
from abm.registry import Scenario, load_scenario
from abm.rng import Streams
from populations.errors import ConfigError, closest_hint

__all__ = ["KPI_STATS", "KpiScore", "scenario_event"]

KPI_STATS = ("max", "sum")
"""``max``: the KPI's value at some step reaches the threshold; ``sum``: its total does."""


class KpiScore:
    """Score a `SynthModel` by KPI `name`: its latest value (``max``) or its total (``sum``).

    Before the model has recorded any KPI (a model just built) the score is ``-inf`` (``max``)
    or 0 (``sum``); after that the KPI must be recorded, without groups, at every step.

    Examples
    --------
    >>> from abm.model import SynthModel
    >>> class Rain(SynthModel):
    ...     rules = ("fall",)
    ...     def fall(self):
    ...         self.kpi("mm", 3.0)
    >>> model = Rain(seed=1)
    >>> peak, total = KpiScore("mm"), KpiScore("mm", stat="sum")
    >>> _ = model.run(4)
    >>> peak(model), total(model)
    (3.0, 12.0)
    """

    def __init__(self, name: str, stat: str = "max") -> None:
        if not isinstance(name, str) or not name:
            msg = f"the KPI name must be a non-empty string, got {name!r}."
            raise ConfigError(msg)
        if stat not in KPI_STATS:
            msg = f"unknown KPI statistic `{stat}`. " + closest_hint(str(stat), KPI_STATS)
            raise ConfigError(msg)
        self.name = name
        self.stat = stat

    def __call__(self, model: Any) -> float:
        last = getattr(model, "kpi_last", None)
        if not isinstance(last, dict):
            msg = (
                f"a KPI score needs an abm.model.SynthModel (which keeps kpi_last), got a "
                f"{type(model).__name__}. Hint: pass score=callable for other models."
            )
            raise ConfigError(msg)
        values = last if self.stat == "max" else model.kpi_sum
        value = values.get(self.name)
        if value is not None:
            return value
        if not last:
            return -math.inf if self.stat == "max" else 0.0
        msg = f"the model records no KPI `{self.name}` (without groups) at every step. " + (
            closest_hint(self.name, sorted(last))
        )
        raise ConfigError(msg)

    def __repr__(self) -> str:
        return f"KpiScore({self.name!r}, stat={self.stat!r})"


class _ScenarioModel:
    """``make_model(seed)`` for a scenario: its build with no output (picklable)."""

    def __init__(self, scenario: Scenario, params: Any, build_kwargs: Mapping[str, Any]):
        self.scenario = scenario
        self.params = params
        self.kwargs = dict(build_kwargs)
        self.views = "create_views" not in self.kwargs  # try create_views=False first

    def __call__(self, seed: np.random.SeedSequence) -> Any:
        from abm.model import SynthModel

        root = Streams(seed)
        if self.views:
            try:
                model = self.scenario.build(
                    self.params, seed=root, out=None, create_views=False, **self.kwargs
                )
            except TypeError as exc:
                if "create_views" not in str(exc):
                    raise
                self.views = False
            else:
                return _checked(model, self.scenario.name, SynthModel)
        model = self.scenario.build(self.params, seed=root, out=None, **self.kwargs)
        return _checked(model, self.scenario.name, SynthModel)


def _checked(model: Any, name: str, base: type) -> Any:
    if not isinstance(model, base):
        msg = (
            f"scenario `{name}`: build() returned a {type(model).__name__}, not a SynthModel. "
            "Hint: return the model (an abm.model.SynthModel subclass)."
        )
        raise ConfigError(msg)
    return model


def scenario_event(
    scenario: Scenario | str,
    params: Any = None,
    *,
    kpi: str,
    threshold: float,
    stat: str = "max",
    build_kwargs: Mapping[str, Any] | None = None,
) -> RareEvent:
    """The event "KPI `kpi` of `scenario` reaches `threshold`" (peak or total, by `stat`).

    Parameters
    ----------
    scenario : Scenario or str
        The scenario or its registered name.
    params : instance, mapping, list of ``key=value`` overrides, or None
        The scenario's parameters (None: its defaults); the horizon is its steps parameter.
    kpi : str
        A KPI the scenario records every step without groups (for the outbreak: ``S``,
        ``E``, ``I``, ``R``, ``H``, ``D``, ``new_infections``, ``isolated``).
    threshold : float
        The level (``>=``; "more than 500" is ``501`` for counts).
    stat : {"max", "sum"}
        Whether the KPI's value at some step (``max``) or its total (``sum``) must reach it.
    build_kwargs : mapping, optional
        More keyword arguments for the scenario's ``build`` (e.g. ``persons=`` for the
        outbreak); ``seed`` and ``out`` are set here.
    """
    from abm.params import read_params

    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if not isinstance(scenario, Scenario):
        msg = f"`scenario` must be a Scenario or a scenario name, got {type(scenario).__name__}."
        raise ConfigError(msg)
    if params is None or isinstance(params, Mapping):
        params = read_params(scenario.parameters, toml=params)
    elif isinstance(params, Sequence) and not isinstance(params, str):
        params = read_params(scenario.parameters, overrides=list(params))
    elif not isinstance(params, scenario.parameters):
        msg = (
            f"`params` must be a {scenario.parameters.__name__} (scenario `{scenario.name}`), a "
            f"mapping, a list of overrides or None, got {type(params).__name__}."
        )
        raise ConfigError(msg)
    build_kwargs = dict(build_kwargs or {})
    clash = sorted({"seed", "out", "shard"} & set(build_kwargs))
    if clash:
        msg = f"`build_kwargs` must not set `{clash[0]}` (the rare-event runner sets it)."
        raise ConfigError(msg)
    score = KpiScore(kpi, stat)
    return RareEvent(
        _ScenarioModel(scenario, params, build_kwargs),
        threshold=threshold,
        horizon=scenario.steps_in(params),
        score=score,
        label=f"{'peak' if stat == 'max' else 'total'} {kpi} >= {threshold:g}",
    )
