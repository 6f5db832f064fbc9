"""Scenarios are found through Python entry points, group ``synthworld.scenarios``.

A package registers a scenario in its own ``pyproject.toml``::

    [project.entry-points."synthworld.scenarios"]
    outbreak = "scenarios.outbreak:SCENARIO"

where ``SCENARIO`` is a `Scenario`. The built-in scenarios are registered the same way, so a
user's package plugs in exactly like them (DESIGN.md section 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from populations.errors import ConfigError, closest_hint

__all__ = ["GROUP", "Scenario", "available_scenarios", "load_scenario"]

GROUP = "synthworld.scenarios"


@dataclass(frozen=True)
class Scenario:
    """What a scenario package exports.

    Attributes
    ----------
    name : the name users type (``synthworld run NAME``).
    summary : one line for ``synthworld scenarios``.
    parameters : the parameter dataclass (fields made with `abm.params.param`).
    build : ``build(params, *, seed, out=None, fmt="parquet", overwrite=False, shard=None)``
        returning the scenario's model (an `abm.model.SynthModel`): with `out`, the model writes
        its event log, KPIs and manifest there when it is closed. With ``shard=k`` (replicate
        k of a run, see `abm.replicates`), it seeds the model with
        ``abm.replicates.replicate_seed(seed, k)`` and writes shard k of the log.
    steps : name of the parameter that holds the run's length in steps (``--steps`` sets it).
    presets : mapping of name to TOML file
        Named sets of parameter values (``synthworld run NAME --preset P``), applied before
        ``--config`` and ``--set``.
    exports : mapping of name to callable
        Layouts other than the native log (``--format NAME``): ``export(run_dir)`` reads the
        finished run in `run_dir`, writes its files there and returns ``{file: rows}``.
    """

    name: str
    summary: str
    parameters: type
    build: Callable[..., Any]
    steps: str = "steps"
    presets: Mapping[str, Path] = field(default_factory=dict)
    exports: Mapping[str, Callable[[Path], Mapping[str, int]]] = field(default_factory=dict)

    def preset(self, name: str) -> Path:
        """The TOML file of preset `name` (a `ConfigError` naming the presets otherwise)."""
        if name not in self.presets:
            hint = (
                closest_hint(name, self.presets)
                if self.presets
                else f"Hint: scenario `{self.name}` has no presets."
            )
            msg = f"unknown preset `{name}` of scenario `{self.name}`. {hint}"
            raise ConfigError(msg)
        return Path(self.presets[name])

    def steps_in(self, params: Any) -> int:
        """The run length `params` gives, read from the (dotted) parameter `steps` names."""
        value = params
        for part in self.steps.split("."):
            if not hasattr(value, part):
                msg = (
                    f"the scenario's steps parameter `{self.steps}` is not one of its parameters. "
                    "Hint: the scenario's `steps` must name an integer parameter."
                )
                raise ConfigError(msg)
            value = getattr(value, part)
        return value


def available_scenarios() -> dict[str, EntryPoint]:
    """Every registered scenario's entry point, by name (not imported until loaded)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load_scenario(name: str) -> Scenario:
    """Import and return the scenario registered as `name`.

    Raises `ConfigError` for a name nobody registered (with the closest one) or an entry point
    that does not lead to a `Scenario`.
    """
    found = available_scenarios()
    if name not in found:
        hint = closest_hint(name, found) if found else "Hint: no scenario is installed."
        msg = f"unknown scenario `{name}`. {hint}"
        raise ConfigError(msg)
    target = found[name].load()
    if not isinstance(target, Scenario):
        msg = (
            f"the entry point `{name}` ({found[name].value}) is a {type(target).__name__}, not a "
            "Scenario. Hint: point it at a `abm.registry.Scenario` instance."
        )
        raise ConfigError(msg)
    return target
