"""Experimental designs over scenario parameters: full grid, random and Latin hypercube.

A `Factor` is one varied parameter (its dotted name, as after ``--set``): a range
``LOW:HIGH`` of a number parameter, or a list of values ``V1,V2,...`` of any parameter. A
`Design` is a table of points, one row each: ``point`` and one column per factor.

* `grid_design`: every combination of the factors' levels (a list's values; ``levels`` evenly
  spaced values for a range, whole numbers for an integer parameter).
* `random_design`: `points` independent uniform draws.
* `lhs_design`: a Latin hypercube of `points` (``scipy.stats.qmc.LatinHypercube``): each
  range is cut into `points` equal strata and each stratum holds exactly one point, so every
  factor is covered evenly with few points.

Random and Latin hypercube points map a uniform ``u`` in [0, 1) to a value: ``low + u (high -
low)`` for a number, ``low + floor(u (high - low + 1))`` for a whole number (each integer equally
likely), the ``floor(u k)``-th of a list of ``k`` values. Draws come from the stream
``"design"`` of the root seed (`abm.rng.Streams`), so a seed fixes the design.

`factors` reads factors from text (``vaccination.coverage=0:0.8``, ``vaccination.priority=
oldest,random``) or a mapping (a tuple ``(low, high)`` is a range, a list is values) and, given
a scenario's parameters, checks each one: an unknown name gets the closest known one, a range
needs a number parameter and ``LOW < HIGH`` inside the parameter's allowed range, and every
value is checked as ``--set`` would.

Examples
--------
>>> grid = grid_design(factors(["x=0:1", "y=a,b"]), levels=3)
>>> grid.frame.rows()
[(0, 0.0, 'a'), (1, 0.0, 'b'), (2, 0.5, 'a'), (3, 0.5, 'b'), (4, 1.0, 'a'), (5, 1.0, 'b')]
>>> lhs = lhs_design(factors(["x=0:1"]), points=4, seed=1)
>>> sorted((lhs.frame["x"] * 4).floor().cast(int).to_list())  # one point per stratum
[0, 1, 2, 3]
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import qmc

from abm.experiments.changes import apply_changes, get_dotted
from abm.experiments.jobs import check_int
from abm.params import params_to_dict
from abm.rng import Streams
from populations.errors import ConfigError, closest_hint
from populations.output import parameters_sha256

__all__ = [
    "DESIGNS",
    "Design",
    "Factor",
    "factors",
    "grid_design",
    "lhs_design",
    "make_design",
    "random_design",
    "split_items",
]

DESIGNS = ("grid", "random", "lhs")


@dataclasses.dataclass(frozen=True)
class Factor:
    """One varied parameter: a range (`low`, `high`) or a tuple of `values`.

    Attributes
    ----------
    name : str
        The dotted parameter name (``vaccination.coverage``).
    low, high : number, optional
        The range's bounds (``low < high``), for a range.
    values : tuple, optional
        The values, for a list.
    integer : bool
        The range is of a whole-number parameter (its values are integers).
    """

    name: str
    low: float | None = None
    high: float | None = None
    values: tuple[Any, ...] | None = None
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.values is None

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Values for uniforms `u` in [0, 1] (see the module docstring; ``u = 1`` gives `high`
        or the last value)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.values is not None:
            k = len(self.values)
            return [self.values[i] for i in np.minimum(np.floor(u * k).astype(int), k - 1)]
        low, high = self.low, self.high
        if self.integer:
            picks = np.floor(low + u * (high - low + 1)).astype(np.int64)
            return [int(v) for v in np.minimum(picks, int(high))]
        return [float(v) for v in low + u * (high - low)]

    def levels(self, n: int) -> list[Any]:
        """`n` evenly spaced values of a range (whole numbers, without repeats, for an integer
        parameter), or a list's values."""
        if self.values is not None:
            return list(self.values)
        if self.integer:
            spaced = np.round(np.linspace(self.low, self.high, n)).astype(np.int64)
            return [int(v) for v in dict.fromkeys(spaced.tolist())]
        return [float(v) for v in np.linspace(self.low, self.high, n)]

    def to_manifest(self) -> dict[str, Any]:
        if self.values is not None:
            return {"values": list(self.values)}
        kind = "integer" if self.integer else "number"
        return {"low": self.low, "high": self.high, "type": kind}


@dataclasses.dataclass(frozen=True)
class Design:
    """Points over factors: ``frame`` has ``point`` (0, 1, ...) and one column per factor.

    Attributes
    ----------
    kind : str
        ``grid``, ``random``, ``lhs`` or ``custom``.
    factors : tuple of Factor
    frame : polars.DataFrame
    settings : dict
        How it was made (``levels``; ``points`` and ``seed``), for the manifest.
    """

    kind: str
    factors: tuple[Factor, ...]
    frame: pl.DataFrame
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def points(self) -> int:
        return self.frame.height

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.factors]

    def point(self, i: int) -> dict[str, Any]:
        """Point `i` as ``{dotted name: value}``."""
        row = self.frame.row(i, named=True)
        return {name: row[name] for name in self.names}

    def to_manifest(self) -> dict[str, Any]:
        """``design``, ``vary``, ``points`` and the settings, as recorded in a manifest."""
        return {
            "design": self.kind,
            "vary": {f.name: f.to_manifest() for f in self.factors},
            "points": self.points,
            "design_settings": dict(self.settings),
            "design_sha256": parameters_sha256(self.frame.to_dict(as_series=False)),
        }

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Design:
        """A custom design: one row per point, one column per parameter (``point`` optional)."""
        if not isinstance(frame, pl.DataFrame) or frame.height == 0:
            msg = "a design must be a non-empty polars DataFrame (one row per point)."
            raise ConfigError(msg)
        frame = frame.drop("point", strict=False)
        if not frame.columns:
            msg = "a design needs one column per varied parameter."
            raise ConfigError(msg)
        found = tuple(
            Factor(c, values=tuple(dict.fromkeys(frame[c].to_list()))) for c in frame.columns
        )
        return cls("custom", found, _numbered(frame), {})


def _numbered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.int_range(frame.height, dtype=pl.Int64).alias("point"), pl.all())


def _frame(found: Sequence[Factor], rows: Sequence[Sequence[Any]]) -> pl.DataFrame:
    columns = {}
    for j, f in enumerate(found):
        values = [row[j] for row in rows]
        if f.is_range:
            columns[f.name] = pl.Series(values, dtype=pl.Int64 if f.integer else pl.Float64)
        else:
            columns[f.name] = pl.Series(values, strict=False)
    return _numbered(pl.DataFrame(columns))


def _check_factors(found: Any) -> tuple[Factor, ...]:
    found = tuple(found)
    if not found or not all(isinstance(f, Factor) for f in found):
        msg = "a design needs at least one factor (abm.experiments.designs.Factor)."
        raise ConfigError(msg)
    names = [f.name for f in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        msg = f"parameter `{twice[0]}` is varied twice. Hint: give each parameter once."
        raise ConfigError(msg)
    return found


def grid_design(found: Sequence[Factor], *, levels: int = 3) -> Design:
    """Every combination of the factors' levels (the first factor varies slowest)."""
    found = _check_factors(found)
    levels = check_int(levels, "levels", low=2)
    rows = list(itertools.product(*(f.levels(levels) for f in found)))
    return Design("grid", found, _frame(found, rows), {"levels": levels})


def _design_rng(seed: int) -> np.random.Generator:
    return Streams(check_int(seed, "seed", low=0))["design"]


def random_design(found: Sequence[Factor], *, points: int, seed: int) -> Design:
    """`points` independent uniform points (stream ``"design"`` of `seed`)."""
    found = _check_factors(found)
    points = check_int(points, "points", low=1)
    u = _design_rng(seed).random((points, len(found)))
    return _from_unit("random", found, u, {"points": points, "seed": seed})


def lhs_design(found: Sequence[Factor], *, points: int, seed: int) -> Design:
    """A Latin hypercube of `points` (one point per stratum of each factor)."""
    found = _check_factors(found)
    points = check_int(points, "points", low=1)
    rng = _design_rng(seed)
    try:
        sampler = qmc.LatinHypercube(len(found), rng=rng)
    except TypeError:  # scipy < 1.15 names it `seed`
        sampler = qmc.LatinHypercube(len(found), seed=rng)
    return _from_unit("lhs", found, sampler.random(points), {"points": points, "seed": seed})


def _from_unit(kind: str, found: tuple[Factor, ...], u: np.ndarray, settings: dict) -> Design:
    columns = [f.from_unit(u[:, j]) for j, f in enumerate(found)]
    rows = list(zip(*columns, strict=True))
    return Design(kind, found, _frame(found, rows), settings)


def make_design(
    kind: str, found: Sequence[Factor], *, points: int | None = None, levels: int = 3, seed: int
) -> Design:
    """The design `kind` (``grid``, ``random`` or ``lhs``) over `found`."""
    if kind == "grid":
        return grid_design(found, levels=levels)
    if kind not in DESIGNS:
        msg = f"unknown design `{kind}`. {closest_hint(str(kind), DESIGNS)}"
        raise ConfigError(msg)
    if points is None:
        msg = f"a {kind} design needs a number of points. Hint: --points 20"
        raise ConfigError(msg)
    make = random_design if kind == "random" else lhs_design
    return make(found, points=points, seed=seed)


# --------------------------------------------------------------------------- reading factors


def split_items(text: str, sep: str = ",") -> list[str]:
    """`text` split at `sep` outside brackets and quotes (``a=[1,2],b=3`` has two items)."""
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == sep and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items]


def _toml_value(text: str) -> Any:
    """A value as ``--set`` reads it: TOML (numbers, booleans, lists), else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


_EXAMPLE = "Hint: --vary beta=0.01:0.05 (a range) or --vary beta=0.01,0.02,0.05 (values)"


def _parse(text: str) -> tuple[str, str]:
    if not isinstance(text, str):
        msg = f"vary: expected KEY=LOW:HIGH or KEY=V1,V2,..., got {text!r}. {_EXAMPLE}"
        raise ConfigError(msg)
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name or not spec:
        msg = f"vary `{text}`: expected KEY=LOW:HIGH or KEY=V1,V2,... {_EXAMPLE}"
        raise ConfigError(msg)
    return name, spec


def _bound(name: str, which: str, text: str, *, integer: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = (
            f"vary `{name}`: {which} `{text}` is not a number. Hint: a range is LOW:HIGH with "
            "two numbers, e.g. 0.01:0.05"
        )
        raise ConfigError(msg) from None
    if not math.isfinite(value):
        msg = f"vary `{name}`: {which} must be a finite number, got `{text}`."
        raise ConfigError(msg)
    if integer and not value.is_integer():
        msg = f"vary `{name}`: the parameter is a whole number, but {which} is `{text}`."
        raise ConfigError(msg)
    return int(value) if integer else value


def _range(name: str, low: Any, high: Any, *, integer: bool) -> Factor:
    low = _bound(name, "LOW", str(low), integer=integer)
    high = _bound(name, "HIGH", str(high), integer=integer)
    if not low < high:
        msg = (
            f"vary `{name}`: LOW must be below HIGH, got {low}:{high}. Hint: "
            f"{name}={min(low, high)}:{max(low, high)}, or a single value with --set."
        )
        raise ConfigError(msg)
    return Factor(name, low=low, high=high, integer=integer)


def _field(cls: type, name: str) -> tuple[Any, dict]:
    """The type and metadata of the dotted parameter `name` of `cls`."""
    node: Any = cls
    parts = name.split(".")
    for depth, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(node)}
        hints = typing.get_type_hints(node)
        if part not in fields:
            prefix = "".join(p + "." for p in parts[:depth])
            hint = closest_hint(name, [prefix + f for f in fields])  # the full dotted name
            msg = f"vary: unknown parameter `{name}`. {hint}"
            raise ConfigError(msg)
        tp = hints[part]
        last = depth == len(parts) - 1
        nested = isinstance(tp, type) and dataclasses.is_dataclass(tp)
        if last and nested:
            first = dataclasses.fields(tp)[0].name
            msg = (
                f"vary: `{name}` is a table of parameters, not one parameter. Hint: vary one "
                f"of its parameters, e.g. `{name}.{first}`."
            )
            raise ConfigError(msg)
        if not last and not nested:
            msg = f"vary: `{'.'.join(parts[: depth + 1])}` is a value, not a table of parameters."
            raise ConfigError(msg)
        if last:
            return tp, dict(fields[part].metadata)
        node = tp
    raise AssertionError(name)  # pragma: no cover - the loop returns


def _kind(tp: Any) -> str:
    if tp is bool:
        return "true or false"
    if tp is int:
        return "integer"
    if tp is float:
        return "number"
    if tp is str:
        return "text"
    return "list" if typing.get_origin(tp) in (list, tuple) else "value"


def _canonical(cls: type, base: Mapping[str, Any], name: str, value: Any) -> Any:
    """`value` of parameter `name` as the parameters hold it (checked as ``--set`` would)."""
    params = apply_changes(cls, base, {name: value}, f"vary `{name}`")
    return get_dotted(params, name)


def _raw(item: Any) -> tuple[str, Any]:
    if isinstance(item, Factor):
        return item.name, item
    name, spec = _parse(item)
    return name, spec


def factors(
    vary: Sequence[str | Factor] | Mapping[str, Any],
    parameters: type | None = None,
    baseline: Any = None,
) -> tuple[Factor, ...]:
    """The factors `vary` describes, checked against a scenario's `parameters` if given.

    Parameters
    ----------
    vary : sequence or mapping
        ``KEY=LOW:HIGH`` / ``KEY=V1,V2,...`` strings or `Factor` objects; or a mapping of
        dotted name to ``(low, high)`` (a range) or a list of values.
    parameters : type, optional
        The scenario's parameter dataclass: names, types and allowed values are checked and
        values converted as the parameters hold them. Without it, every factor is a range of
        numbers (for a plain function).
    baseline : dataclass instance, optional
        The parameters the others keep (checks of cross-field rules use it; default: the
        defaults).

    Raises
    ------
    ConfigError
        Naming the factor: an unknown parameter (with the closest name), bad syntax, a range
        that is not two numbers with ``LOW < HIGH``, a range of a non-number parameter, or a
        value the parameter does not allow.
    """
    if isinstance(vary, Mapping):
        items: list[tuple[str, Any]] = []
        for name, spec in vary.items():
            if isinstance(spec, tuple):
                if len(spec) != 2:
                    msg = f"vary `{name}`: a range is a pair (low, high), got {spec!r}."
                    raise ConfigError(msg)
                items.append((str(name), ("range", spec)))
            elif isinstance(spec, list):
                items.append((str(name), ("values", spec)))
            else:
                msg = (
                    f"vary `{name}`: expected a pair (low, high) or a list of values, got {spec!r}."
                )
                raise ConfigError(msg)
    elif isinstance(vary, str) or not isinstance(vary, Sequence):
        msg = "`vary` must be a list of KEY=LOW:HIGH or KEY=V1,V2,... strings, or a mapping."
        raise ConfigError(msg)
    else:
        items = [_raw(item) for item in vary]
    base = params_to_dict(baseline) if baseline is not None else {}
    if parameters is not None and baseline is None:
        base = params_to_dict(parameters())
    found = [_factor(name, spec, parameters, base) for name, spec in items]
    return _check_factors(found) if found else ()


def _factor(name: str, spec: Any, parameters: type | None, base: Mapping[str, Any]) -> Factor:
    if isinstance(spec, Factor):
        if parameters is None:
            return spec
        spec = ("range", (spec.low, spec.high)) if spec.is_range else ("values", spec.values)
    tp, meta = (float, {}) if parameters is None else _field(parameters, name)
    numeric = tp in (int, float)
    if isinstance(spec, str):
        if ":" in spec and tp is not str:
            parts = spec.split(":")
            if len(parts) != 2 or not all(p.strip() for p in parts):
                msg = (
                    f"vary `{name}`: expected LOW:HIGH (two numbers), got `{spec}`. "
                    f"Hint: {name}=0.01:0.05"
                )
                raise ConfigError(msg)
            spec = ("range", tuple(p.strip() for p in parts))
        else:
            spec = ("values", [_toml_value(v) for v in split_items(spec)])
    how, value = spec
    if how == "range":
        if not numeric:
            allowed = meta.get("choices") or ([True, False] if tp is bool else None)
            hint = (
                f"list its values: {name}={','.join(_show(v) for v in allowed)}"
                if allowed
                else f"list its values: {name}=V1,V2"
            )
            msg = (
                f"vary `{name}`: a range LOW:HIGH needs a number parameter, but `{name}` is "
                f"{_kind(tp)}. Hint: {hint}"
            )
            raise ConfigError(msg)
        factor = _range(name, *value, integer=tp is int)
        if parameters is not None:
            for bound in (factor.low, factor.high):
                _canonical(parameters, base, name, bound)
        return factor
    values = list(value)
    if not values or any(v == "" for v in values):
        msg = f"vary `{name}`: expected values V1,V2,..., got an empty value."
        raise ConfigError(msg)
    if parameters is not None:
        values = [_canonical(parameters, base, name, v) for v in values]
    unique = tuple(dict.fromkeys(_hashable(v) for v in values))
    return Factor(name, values=tuple(_unhashable(v) for v in unique))


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _unhashable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
