"""Parameter changes on a baseline: how policies, design points and samples become parameters.

An experiment varies a scenario's parameters around a baseline: a what-if policy sets a few
(``vaccination.coverage=0.6``), a sweep's design point or a sensitivity sample sets the varied
ones. Changes are ``key=value`` strings (as after ``--set``, values read as TOML) or a mapping,
nested (``{"vaccination": {"coverage": 0.6}}``) or with dotted keys
(``{"vaccination.coverage": 0.6}``). They are applied to the baseline's plain data and read back
with `abm.params.read_params`, so every value is checked as a parameter file's would be (an
unknown key names the closest one, a value out of range says what is allowed).

Examples
--------
>>> from dataclasses import dataclass
>>> from abm.params import param
>>> @dataclass(frozen=True)
... class Params:
...     beta: float = param(0.05, low=0, high=1, help="transmission")
...     days: int = param(100, low=1, help="days to simulate")
>>> base = params_to_dict(Params())
>>> apply_changes(Params, base, ["beta=0.2"], "policy `more`").beta
0.2
>>> changed(base, apply_changes(Params, base, {"days": 30}, "point 0"))
{'days': 30}
>>> apply_changes(Params, base, ["bta=0.2"], "policy `more`")
Traceback (most recent call last):
...
populations.errors.ConfigError: policy `more`: unknown parameter `bta`. Hint: did you mean `beta`?
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from abm.params import params_to_dict, read_params
from abm.registry import Scenario
from populations.errors import ConfigError

__all__ = ["apply_changes", "as_params", "changed", "flatten", "get_dotted"]


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}, "c.d": 2}`` as ``[("a.b", 1), ("c.d", 2)]``."""
    items: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(flatten(value, name + "."))
        else:
            items.append((name, value))
    return items


def get_dotted(params: Any, name: str) -> Any:
    """The value of the dotted parameter `name` of a parameter instance."""
    value = params
    for part in name.split("."):
        value = getattr(value, part)
    return value


def apply_changes(cls: type, base: Mapping[str, Any], changes: Any, what: str) -> Any:
    """`base` (plain data) with `changes` (``key=value`` strings or a mapping) as `cls`.

    `what` names the changes in error messages (``policy `vaccinate```, ``baseline``).
    """
    data = copy.deepcopy(dict(base))
    if changes is None:
        changes = ()
    if isinstance(changes, str):
        changes = [changes]
    try:
        if isinstance(changes, Mapping):
            for key, value in flatten(changes):
                node = data
                *parents, last = key.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                    if not isinstance(node, dict):
                        msg = f"`{key}`: `{part}` is a value, not a table of parameters"
                        raise ConfigError(msg)
                node[last] = copy.deepcopy(value)
            return read_params(cls, toml=data)
        if isinstance(changes, Sequence):
            return read_params(cls, toml=data, overrides=list(changes))
    except ConfigError as exc:
        msg = f"{what}: {exc}"
        raise ConfigError(msg) from None
    msg = (
        f"{what}: expected overrides (a list of 'key=value' strings) or a mapping of "
        f"parameters, got {type(changes).__name__}."
    )
    raise ConfigError(msg)


def as_params(scenario: Scenario, params: Any, what: str = "`params`") -> Any:
    """Parameters given as an instance, a mapping, overrides or None, as an instance."""
    cls = scenario.parameters
    if isinstance(params, cls):
        return params
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        msg = (
            f"{what} must be a {cls.__name__} (scenario `{scenario.name}`), a mapping, "
            f"overrides or None, got {type(params).__name__}."
        )
        raise ConfigError(msg)
    return apply_changes(cls, {}, params, what)


def changed(base: Mapping[str, Any], params: Any) -> dict[str, Any]:
    """The dotted parameters whose values in `params` differ from `base` (plain data)."""
    before = dict(flatten(base))
    return {k: v for k, v in flatten(params_to_dict(params)) if before.get(k) != v}
