"""Scenario parameters: dataclasses read from TOML files and ``--set key=value``.

A scenario declares its parameters as a dataclass whose fields are made with `param`, one line
each (default, unit, allowed range, help), in the habit of Starsim's ``define_pars``. The TOML
keys match the field names one to one; a nested dataclass is a TOML table and a dotted key on
the command line (``--set vaccination.coverage=0.6``). Values are checked when read: an unknown
key names the closest known one, a wrong type or out-of-range value names the key, the value and
what is allowed. Files are data (`tomllib`): nothing in them is evaluated.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Params:
...     beta: float = param(0.05, low=0, high=1, unit="per contact-day", help="transmission")
...     days: int = param(100, low=1, help="days to simulate")
>>> read_params(Params, overrides=["beta=0.1"]).beta
0.1
>>> read_params(Params, overrides=["bta=0.1"])
Traceback (most recent call last):
...
populations.errors.ConfigError: unknown parameter `bta`. Hint: did you mean `beta`?
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from populations.config import read_toml
from populations.errors import ConfigError, closest_hint

__all__ = ["describe_params", "param", "params_to_dict", "parse_date", "read_params"]


def param(
    default: Any,
    *,
    help: str,
    unit: str | None = None,
    low: float | None = None,
    high: float | None = None,
    choices: Sequence[Any] | None = None,
) -> Any:
    """A parameter field: its default, what it means, its unit and the values allowed.

    Mutable defaults (lists, nested parameter dataclasses) are copied for each instance.
    """
    meta = {"help": help, "unit": unit, "low": low, "high": high, "choices": choices}
    if dataclasses.is_dataclass(default) or isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: _copy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(value)
    return type(value)(value)


def _nested(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def read_params(
    cls: type,
    *,
    toml: str | Path | Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
) -> Any:
    """Parameters of `cls`: defaults, then a TOML file (or mapping), then ``key=value`` strings.

    Raises `ConfigError` for an unknown key (with the closest name), a value of the wrong type,
    out of range or not among the choices, and for an override without ``=``.
    """
    data: dict[str, Any] = {}
    if isinstance(toml, str | Path):
        data = read_toml(toml, what="parameter file")
    elif toml is not None:
        data = dict(toml)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            msg = f"`--set {item}`: expected key=value. Hint: --set beta=0.1"
            raise ConfigError(msg)
        _set_dotted(data, key.strip(), _parse_value(text.strip()))
    return _build(cls, data, prefix="")


def _parse_value(text: str) -> Any:
    """A command-line value as TOML would read it (numbers, booleans, lists), else as text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        data = data.setdefault(part, {})
        if not isinstance(data, dict):
            msg = f"`{key}`: `{part}` is a value, not a table of parameters"
            raise ConfigError(msg)
    data[last] = value


def _build(cls: type, data: Mapping[str, Any], *, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        name = prefix + key
        if key not in fields:
            hint = closest_hint(name, [prefix + f for f in fields])  # the full dotted name
            msg = f"unknown parameter `{name}`. {hint}"
            raise ConfigError(msg)
        tp = hints[key]
        if _nested(tp):
            if not isinstance(value, Mapping):
                msg = f"parameter `{name}` is a table of parameters, found {value!r}"
                raise ConfigError(msg)
            kwargs[key] = _build(tp, value, prefix=name + ".")
        else:
            kwargs[key] = _check(name, value, tp, fields[key].metadata)
    return cls(**kwargs)


def _check(name: str, value: Any, tp: Any, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list | tuple):
            msg = f"parameter `{name}` expects a list, found {value!r}"
            raise ConfigError(msg)
        items = [_check(f"{name}[{i}]", v, item_tp, {}) for i, v in enumerate(value)]
        value = tuple(items) if origin is tuple else items
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"parameter `{name}` expects a number, found {value!r}"
            raise ConfigError(msg)
        value = float(value)
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"parameter `{name}` expects a whole number, found {value!r}"
            raise ConfigError(msg)
    elif tp is bool:
        if not isinstance(value, bool):
            msg = f"parameter `{name}` expects true or false, found {value!r}"
            raise ConfigError(msg)
    elif tp is str and not isinstance(value, str):
        msg = f"parameter `{name}` expects text, found {value!r}"
        raise ConfigError(msg)
    low, high, choices = meta.get("low"), meta.get("high"), meta.get("choices")
    if choices is not None and value not in choices:
        allowed = ", ".join(f"`{c}`" for c in choices)
        msg = f"parameter `{name}` = {value!r} is not allowed: expected one of {allowed}"
        raise ConfigError(msg)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        msg = f"parameter `{name}` = {value!r} is out of range: expected a value in {bounds}"
        raise ConfigError(msg)
    return value


def params_to_dict(params: Any) -> dict[str, Any]:
    """The parameters as plain data (nested tables for nested dataclasses), for manifests."""
    return dataclasses.asdict(params)


def _allowed(meta: Mapping[str, Any]) -> str:
    """The values a parameter allows, for people: ``oldest, random``, ``[0, 1]``, ``>= 1``."""
    low, high, choices = meta.get("low"), meta.get("high"), meta.get("choices")
    if choices:
        return ", ".join(map(str, choices))
    if low is not None and high is not None:
        return f"[{low}, {high}]"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


def describe_params(cls: type, *, prefix: str = "") -> list[dict[str, Any]]:
    """One row per parameter (dotted name, default, unit, allowed values, help), for docs."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        if _nested(hints[f.name]):
            rows += describe_params(hints[f.name], prefix=name + ".")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        meta = f.metadata
        rows.append(
            {
                "name": name,
                "default": default,
                "unit": meta.get("unit") or "",
                "allowed": _allowed(meta),
                "help": meta.get("help", ""),
            }
        )
    return rows


def parse_date(name: str, value: str) -> date:
    """The date a ``YYYY-MM-DD`` parameter holds, or a `ConfigError` naming the parameter.

    >>> parse_date("start_date", "2025-06-01")
    datetime.date(2025, 6, 1)
    """
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        msg = (
            f"parameter `{name}` = {value!r} is not a date. "
            "Hint: write it as YYYY-MM-DD, e.g. 2025-01-01."
        )
        raise ConfigError(msg) from None
