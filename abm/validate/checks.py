"""The four kinds of fidelity check, each read from one ``[[check]]`` table of a reference file.

=============== ===================================================== ===========================
kind            compares                                              statistics (default first)
=============== ===================================================== ===========================
frequencies     counts or shares of the categories of one or more     ``srmse``, ``tvd``
                columns with a reference table
distribution    a numeric column with reference quantiles, or with    ``ks``
                a reference sample
correlation     the correlation of two numeric columns with a         ``abs_diff``
                reference coefficient
rate            the share of rows where a column is true (or takes    ``abs_diff``, ``z``
                given values) with a reference rate
=============== ===================================================== ===========================

Every statistic is a distance (0 is a perfect match); a check passes when it is at most the
check's ``threshold``. The statistics are in `abm.validate.statistics`. The reference format is
documented in ``docs/reports.md`` and by `abm.validate.reference.read_reference`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from abm.validate import statistics
from abm.validate.tables import DATA_SUFFIXES, Tables
from populations.errors import ConfigError, closest_hint

__all__ = [
    "KINDS",
    "Check",
    "CheckResult",
    "CorrelationCheck",
    "DistributionCheck",
    "FrequencyCheck",
    "RateCheck",
]

COMMON_KEYS = ("kind", "name", "table", "where", "statistic", "threshold")
NULL = "(null)"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its statistic, the threshold and whether it passed.

    `value` is None when the statistic cannot be computed on the data (no rows, a constant
    column); the check then fails and `note` says why.
    """

    name: str
    kind: str
    table: str
    columns: tuple[str, ...]
    statistic: str
    value: float | None
    threshold: float
    passed: bool
    rows: int
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    described: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no NaN or infinity: they become null and "inf")."""
        return _json_safe(
            {
                "name": self.name,
                "kind": self.kind,
                "table": self.table,
                "columns": list(self.columns),
                "statistic": self.statistic,
                "value": self.value,
                "threshold": self.threshold,
                "passed": self.passed,
                "rows": self.rows,
                "data": self.described,
                "details": self.details,
                "note": self.note,
            }
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# --------------------------------------------------------------------------- reading the spec


class Spec:
    """One ``[[check]]`` table being read: typed access to its keys, with messages that name the
    reference file and the check."""

    def __init__(self, data: Mapping[str, Any], where: str, base: Path) -> None:
        self.data = data
        self.where = where
        self.base = base

    def fail(self, text: str) -> ConfigError:
        return ConfigError(f"{self.where}: {text}")

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                msg = f"missing key `{key}`."
                raise self.fail(msg)
            return default
        return self.data[key]

    def text(self, key: str, default: Any = ...) -> Any:
        value = self.get(key, default)
        if value is not default and (not isinstance(value, str) or not value):
            msg = f"`{key}` must be a non-empty string, got {value!r}."
            raise self.fail(msg)
        return value

    def number(self, key: str, *, low: float | None = None, high: float | None = None) -> float:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            msg = f"`{key}` must be a number, got {value!r}."
            raise self.fail(msg)
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"in [{low}, {high}]" if high is not None else f">= {low}"
            msg = f"`{key}` must be {span}, got {value!r}."
            raise self.fail(msg)
        return float(value)

    def choice(self, key: str, choices: Sequence[str]) -> str:
        value = self.get(key, choices[0])
        if value not in choices:
            msg = f"unknown {key} `{value}`. " + closest_hint(str(value), choices)
            raise self.fail(msg)
        return value

    def columns(self, key: str, *, count: int | None = None) -> tuple[str, ...]:
        value = self.get(key)
        names = [value] if isinstance(value, str) else value
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n for n in names)
        ):
            msg = f"`{key}` must be a column name or a list of them, got {value!r}."
            raise self.fail(msg)
        if count is not None and len(names) != count:
            msg = f"`{key}` must name {count} columns, got {len(names)}: {names!r}."
            raise self.fail(msg)
        if len(set(names)) != len(names):
            msg = f"`{key}` names a column twice: {names!r}."
            raise self.fail(msg)
        return tuple(names)

    def path(self, value: str, key: str) -> Path:
        path = Path(value)
        path = path if path.is_absolute() else self.base / path
        if not path.is_file():
            msg = (
                f"`{key}` file `{value}` not found (looked for `{path}`; a relative path is "
                "relative to the reference file's folder)."
            )
            raise self.fail(msg)
        return path

    def read_frame(self, value: str, key: str) -> pl.DataFrame:
        """A data file the reference names, every column read as it is stored (CSV: text)."""
        path = self.path(value, key)
        fmt = DATA_SUFFIXES.get(path.suffix.lower())
        try:
            if fmt == "parquet":
                return pl.read_parquet(path)
            if fmt == "csv":
                return pl.read_csv(path, infer_schema=False)
            if fmt == "jsonl":
                return pl.read_ndjson(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            msg = f"cannot read `{key}` file `{value}`: {exc}"
            raise self.fail(msg) from None
        msg = f"`{key}` file `{value}` is not a .parquet, .csv or .jsonl file."
        raise self.fail(msg) from None


def _text(value: Any) -> str:
    """A category as text, the way a column cast to String writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _where(spec: Spec) -> tuple[tuple[str, Any], ...]:
    data = spec.get("where", {})
    if not isinstance(data, Mapping):
        msg = (
            "`where` must be a table of column = value, [values] or {min = .., max = ..}, got "
            f'{data!r}. Hint: where = {{ age = {{ min = 18 }}, sex = "female" }}.'
        )
        raise spec.fail(msg)
    out: list[tuple[str, Any]] = []
    for col, cond in data.items():
        if isinstance(cond, Mapping):
            bad = [k for k in cond if k not in ("min", "max")]
            if bad or not cond:
                msg = f"`where.{col}`: a range takes `min` and/or `max`, got {dict(cond)!r}."
                raise spec.fail(msg)
            for k, v in cond.items():
                if isinstance(v, bool) or not isinstance(v, int | float):
                    msg = f"`where.{col}.{k}` must be a number, got {v!r}."
                    raise spec.fail(msg)
            out.append((col, {k: float(v) for k, v in cond.items()}))
        elif isinstance(cond, list):
            if not cond or any(isinstance(v, list | Mapping) for v in cond):
                msg = f"`where.{col}` must list one or more values, got {cond!r}."
                raise spec.fail(msg)
            out.append((col, tuple(cond)))
        else:
            out.append((col, (cond,)))
    return tuple(out)


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Boolean


def _member(column: str, dtype: pl.DataType, values: Sequence[Any]) -> pl.Expr:
    """Rows whose `column` is one of `values` (compared as numbers if both are numeric)."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if dtype.is_numeric() and numbers:
        return (
            pl.col(column).is_in([float(v) for v in values])
            if dtype.is_float()
            else (pl.col(column).cast(pl.Float64).is_in([float(v) for v in values]))
        )
    return pl.col(column).cast(pl.String).is_in([_text(v) for v in values])


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check(abc.ABC):
    """What every check has: a name, the table it reads, a row filter, a statistic and a
    threshold. Subclasses add what they compare and `_measure`."""

    name: str
    table: str | None
    where: tuple[tuple[str, Any], ...]
    statistic: str
    threshold: float

    kind: ClassVar[str] = ""
    KEYS: ClassVar[tuple[str, ...]] = ()
    STATISTICS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abc.abstractmethod
    def from_spec(cls, spec: Spec, name: str) -> Check:
        """The check a ``[[check]]`` table describes."""

    @classmethod
    def _common(cls, spec: Spec, name: str) -> dict[str, Any]:
        table = spec.text("table", None)
        return {
            "name": name,
            "table": table,
            "where": _where(spec),
            "statistic": spec.choice("statistic", cls.STATISTICS),
            "threshold": spec.number("threshold", low=0),
        }

    @property
    @abc.abstractmethod
    def columns(self) -> tuple[str, ...]:
        """The columns the check reads."""

    def describe(self) -> str:
        """What the check reads, for tables: ``persons: zone x sex (age 18 to 64)``."""
        text = " \u00d7 ".join(self.columns)
        if self.where:
            conds = []
            for col, cond in self.where:
                if isinstance(cond, dict):
                    lo, hi = cond.get("min"), cond.get("max")
                    rng = (
                        f"{lo:g} to {hi:g}"
                        if lo is not None and hi is not None
                        else (f">= {lo:g}" if lo is not None else f"<= {hi:g}")
                    )
                    conds.append(f"{col} {rng}")
                else:
                    conds.append(f"{col} in {', '.join(_text(v) for v in cond)}")
            text += " where " + "; ".join(conds)
        return text

    def evaluate(self, tables: Tables, default_table: str | None = None) -> CheckResult:
        """Run the check on `tables`.

        Raises
        ------
        ConfigError
            If the table or a column does not exist (with the closest name), or a column has
            the wrong type for the check.
        """
        what = f"check `{self.name}`"
        table = tables.resolve(self.table or default_table, what=what)
        names = tables.columns(table)
        for col in (*self.columns, *(c for c, _ in self.where)):
            if col not in names:
                msg = (
                    f"{what}: table `{table}` ({tables.sources[table]}) has no column `{col}`. "
                    + closest_hint(col, names)
                )
                raise ConfigError(msg)
        frame = tables.frames[table]
        schema = frame.collect_schema()
        for col, cond in self.where:
            if isinstance(cond, dict):
                if not schema[col].is_numeric():
                    msg = (
                        f"{what}: `where.{col}` gives a range, but `{col}` is a "
                        f"{schema[col]} column, not a number. Hint: list its values instead."
                    )
                    raise ConfigError(msg)
                if "min" in cond:
                    frame = frame.filter(pl.col(col) >= cond["min"])
                if "max" in cond:
                    frame = frame.filter(pl.col(col) <= cond["max"])
            else:
                frame = frame.filter(_member(col, schema[col], cond))
        value, rows, details, note = self._measure(tables, table, frame, schema)
        passed = value is not None and math.isfinite(value) and value <= self.threshold
        if value is not None and math.isnan(value):
            value = None
        return CheckResult(
            name=self.name,
            kind=self.kind,
            table=table,
            columns=self.columns,
            statistic=self.statistic,
            value=value,
            threshold=self.threshold,
            passed=passed,
            rows=rows,
            details=details,
            note=note,
            described=self.describe(),
        )

    @abc.abstractmethod
    def _measure(
        self, tables: Tables, table: str, frame: pl.LazyFrame, schema: pl.Schema
    ) -> tuple[float | None, int, dict[str, Any], str]:
        """(statistic, rows, details, note) of the check on `frame`."""

    def _numeric(self, table: str, schema: pl.Schema, col: str) -> None:
        if not _is_numeric(schema[col]):
            msg = (
                f"check `{self.name}`: column `{col}` of table `{table}` is {schema[col]}, "
                f"not numeric; a {self.kind} check needs numbers. Hint: use a frequencies "
                "check for categories."
            )
            raise ConfigError(msg)


@dataclass(frozen=True)
class FrequencyCheck(Check):
    """Counts (or shares) of the categories of `columns` against a reference table.

    Cells are matched by their categories as text; a cell missing on one side counts as 0
    there. ``compare = "counts"`` compares counts as they are (a population must also have the
    reference's size); ``"shares"`` compares each side divided by its total.
    """

    group: tuple[str, ...] = ()
    expected: pl.DataFrame = field(default_factory=pl.DataFrame)
    compare: str = "counts"

    kind: ClassVar[str] = "frequencies"
    KEYS: ClassVar[tuple[str, ...]] = ("columns", "expected", "compare")
    STATISTICS: ClassVar[tuple[str, ...]] = ("srmse", "tvd")

    @property
    def columns(self) -> tuple[str, ...]:
        return self.group

    @classmethod
    def from_spec(cls, spec: Spec, name: str) -> FrequencyCheck:
        group = spec.columns("columns")
        raw = spec.get("expected")
        if isinstance(raw, str):
            frame = spec.read_frame(raw, "expected")
            where = f"`expected` file `{raw}`"
        elif isinstance(raw, Mapping):
            try:
                frame = pl.DataFrame({k: list(v) for k, v in raw.items()}, strict=False)
            except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
                msg = (
                    f"`expected` must be a table of equally long arrays (one per column, plus "
                    f"`count` or `share`): {exc}"
                )
                raise spec.fail(msg) from None
            where = "`expected`"
        else:
            msg = (
                "`expected` must be a file name (CSV, Parquet or JSON Lines) or a table of "
                f'arrays, got {raw!r}. Hint: expected = {{ sex = ["female", "male"], '
                "share = [0.52, 0.48] }."
            )
            raise spec.fail(msg)
        amounts = [c for c in ("count", "share") if c in frame.columns]
        if len(amounts) != 1:
            raise spec.fail(
                f"{where} must have a `count` or a `share` column (one of them), found columns "
                + ", ".join(f"`{c}`" for c in frame.columns)
                + "."
            )
        missing = [c for c in group if c not in frame.columns]
        if missing:
            raise spec.fail(
                f"{where} lacks the column(s) "
                + ", ".join(f"`{c}`" for c in missing)
                + " named in `columns`. "
                + closest_hint(missing[0], [c for c in frame.columns if c not in amounts])
            )
        amount = amounts[0]
        try:
            values = frame[amount].cast(pl.Float64, strict=True)
        except pl.exceptions.PolarsError:
            msg = f"{where}: `{amount}` must hold numbers."
            raise spec.fail(msg) from None
        if values.null_count() or (values < 0).any():
            msg = f"{where}: `{amount}` must hold numbers >= 0, without gaps."
            raise spec.fail(msg)
        expected = frame.select(
            *(pl.col(c).cast(pl.String).fill_null(NULL) for c in group),
            values.alias("expected"),
        )
        dup = expected.select(group).is_duplicated()
        if dup.any():
            cell = expected.filter(dup).row(0)[: len(group)]
            msg = f"{where} lists the cell {cell!r} twice."
            raise spec.fail(msg)
        compare = spec.choice(
            "compare", ("counts", "shares") if amount == "count" else ("shares", "counts")
        )
        if compare == "counts" and amount == "share":
            msg = '`compare = "counts"` needs counts, but `expected` gives shares.'
            raise spec.fail(msg)
        return cls(**cls._common(spec, name), group=group, expected=expected, compare=compare)

    def _measure(
        self, tables: Tables, table: str, frame: pl.LazyFrame, schema: pl.Schema
    ) -> tuple[float | None, int, dict[str, Any], str]:
        group = list(self.group)
        observed = tables.collect(
            table,
            frame.select(pl.col(c).cast(pl.String).fill_null(NULL) for c in group)
            .group_by(group)
            .agg(pl.len().cast(pl.Float64).alias("observed")),
        )
        cells = observed.join(self.expected, on=group, how="full", coalesce=True).with_columns(
            pl.col("observed").fill_null(0.0), pl.col("expected").fill_null(0.0)
        )
        rows = int(observed["observed"].sum())
        o, e = cells["observed"].to_numpy(), cells["expected"].to_numpy()
        if self.compare == "shares":
            o = o / o.sum() if o.sum() > 0 else o
            e = e / e.sum() if e.sum() > 0 else e
        value = (
            statistics.srmse(o, e)
            if self.statistic == "srmse"
            else (statistics.total_variation(o, e))
        )
        gap = np.abs(o - e)
        worst = np.argsort(-gap, kind="stable")[:3]
        details = {
            "cells": cells.height,
            "compare": self.compare,
            "observed_total": rows,
            "expected_total": float(self.expected["expected"].sum()),
            "cells_expected_zero": int(cells.filter(pl.col("expected") == 0).height),
            "cells_observed_zero": int(cells.filter(pl.col("observed") == 0).height),
            "largest_gaps": [
                {
                    "cell": dict(zip(group, cells.row(int(i))[: len(group)], strict=True)),
                    "observed": float(o[i]),
                    "expected": float(e[i]),
                }
                for i in worst
                if gap[i] > 0
            ],
        }
        note = "no rows" if rows == 0 else ""
        return value, rows, details, note


@dataclass(frozen=True)
class DistributionCheck(Check):
    """A numeric column against reference quantiles or a reference sample (Kolmogorov-Smirnov
    distance: at the quantiles, or two-sample through `scipy.stats.ks_2samp`)."""

    column: str = ""
    probabilities: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    sample: np.ndarray | None = None
    sample_source: str = ""

    kind: ClassVar[str] = "distribution"
    KEYS: ClassVar[tuple[str, ...]] = ("column", "quantiles", "sample", "sample_column")
    STATISTICS: ClassVar[tuple[str, ...]] = ("ks",)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @classmethod
    def from_spec(cls, spec: Spec, name: str) -> DistributionCheck:
        (column,) = spec.columns("column", count=1)
        common = cls._common(spec, name)
        if spec.has("quantiles") == spec.has("sample"):
            msg = (
                "give either `quantiles` or `sample` (one of them). Hint: quantiles = "
                '{ p = [0.1, 0.5, 0.9], value = [5, 39, 74] }, or sample = "reference.csv".'
            )
            raise spec.fail(msg)
        if spec.has("sample_column") and not spec.has("sample"):
            msg = "`sample_column` goes with `sample`."
            raise spec.fail(msg)
        if spec.has("quantiles"):
            q = spec.get("quantiles")
            if not isinstance(q, Mapping) or sorted(q) != ["p", "value"]:
                msg = f"`quantiles` must be a table {{ p = [...], value = [...] }}, got {q!r}."
                raise spec.fail(msg)
            p, v = q["p"], q["value"]
            ok = (
                isinstance(p, list)
                and isinstance(v, list)
                and p
                and len(p) == len(v)
                and all(isinstance(x, int | float) and not isinstance(x, bool) for x in p + v)
            )
            if not ok:
                msg = (
                    "`quantiles.p` and `quantiles.value` must be equally long, non-empty lists "
                    "of numbers."
                )
                raise spec.fail(msg)
            if any(not 0 <= x <= 1 for x in p) or any(
                b < a for a, b in zip(p, p[1:], strict=False)
            ):
                msg = "`quantiles.p` must be probabilities in [0, 1], in order."
                raise spec.fail(msg)
            if any(b < a for a, b in zip(v, v[1:], strict=False)):
                msg = "`quantiles.value` must not decrease (quantiles are ordered)."
                raise spec.fail(msg)
            return cls(
                **common,
                column=column,
                probabilities=tuple(float(x) for x in p),
                values=tuple(float(x) for x in v),
            )
        source = spec.text("sample")
        frame = spec.read_frame(source, "sample")
        col = spec.text("sample_column", column)
        if col not in frame.columns:
            raise spec.fail(
                f"`sample` file `{source}` has no column `{col}`. "
                + closest_hint(col, frame.columns)
                + " (or set `sample_column`)"
            )
        try:
            sample = frame[col].cast(pl.Float64, strict=True).drop_nulls().to_numpy()
        except pl.exceptions.PolarsError:
            msg = f"`sample` file `{source}`: column `{col}` must hold numbers."
            raise spec.fail(msg) from None
        if sample.size == 0:
            msg = f"`sample` file `{source}`: column `{col}` has no values."
            raise spec.fail(msg)
        return cls(**common, column=column, sample=sample, sample_source=f"{source}:{col}")

    def _measure(
        self, tables: Tables, table: str, frame: pl.LazyFrame, schema: pl.Schema
    ) -> tuple[float | None, int, dict[str, Any], str]:
        self._numeric(table, schema, self.column)
        data = tables.collect(
            table, frame.select(pl.col(self.column).cast(pl.Float64)).drop_nulls()
        )[self.column].to_numpy()
        if data.size == 0:
            return None, 0, {}, "no rows"
        if self.sample is None:
            value, at = statistics.ks_at_quantiles(
                data, np.array(self.probabilities), np.array(self.values)
            )
            observed = float((data <= at).mean())
            expected = self.probabilities[self.values.index(at)]
            details = {
                "worst_at": at,
                "observed_share_at_or_below": observed,
                "expected_share_at_or_below": expected,
                "quantiles": len(self.values),
            }
        else:
            value, pvalue = statistics.ks_two_sample(data, self.sample)
            details = {
                "reference": self.sample_source,
                "reference_size": int(self.sample.size),
                "pvalue": pvalue,
            }
        return value, int(data.size), details, ""


@dataclass(frozen=True)
class CorrelationCheck(Check):
    """The correlation of two numeric columns against a reference coefficient."""

    pair: tuple[str, ...] = ()
    value: float = 0.0
    method: str = "pearson"

    kind: ClassVar[str] = "correlation"
    KEYS: ClassVar[tuple[str, ...]] = ("columns", "value", "method")
    STATISTICS: ClassVar[tuple[str, ...]] = ("abs_diff",)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.pair

    @classmethod
    def from_spec(cls, spec: Spec, name: str) -> CorrelationCheck:
        return cls(
            **cls._common(spec, name),
            pair=spec.columns("columns", count=2),
            value=spec.number("value", low=-1, high=1),
            method=spec.choice("method", statistics.CORRELATION_METHODS),
        )

    def _measure(
        self, tables: Tables, table: str, frame: pl.LazyFrame, schema: pl.Schema
    ) -> tuple[float | None, int, dict[str, Any], str]:
        for col in self.pair:
            self._numeric(table, schema, col)
        data = tables.collect(
            table, frame.select(pl.col(c).cast(pl.Float64) for c in self.pair).drop_nulls()
        )
        if data.height < 2:
            return None, data.height, {}, "fewer than 2 rows"
        x, y = (data[c].to_numpy() for c in self.pair)
        observed = statistics.correlation(x, y, self.method)
        details = {"method": self.method, "observed": observed, "expected": self.value}
        if math.isnan(observed):
            return None, data.height, details, "undefined: a column is constant"
        return abs(observed - self.value), data.height, details, ""


@dataclass(frozen=True)
class RateCheck(Check):
    """The share of rows where a column is true, or takes one of the values `equals` lists."""

    column: str = ""
    equals: tuple[Any, ...] | None = None
    value: float = 0.0

    kind: ClassVar[str] = "rate"
    KEYS: ClassVar[tuple[str, ...]] = ("column", "equals", "value")
    STATISTICS: ClassVar[tuple[str, ...]] = ("abs_diff", "z")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @classmethod
    def from_spec(cls, spec: Spec, name: str) -> RateCheck:
        (column,) = spec.columns("column", count=1)
        equals = spec.get("equals", None)
        if equals is not None:
            equals = tuple(equals) if isinstance(equals, list) else (equals,)
            if not equals or any(isinstance(v, list | Mapping) for v in equals):
                msg = f"`equals` must be a value or a list of values, got {equals!r}."
                raise spec.fail(msg)
        return cls(
            **cls._common(spec, name),
            column=column,
            equals=equals,
            value=spec.number("value", low=0, high=1),
        )

    def describe(self) -> str:
        text = super().describe()
        if self.equals is not None:
            head, _, rest = text.partition(" where ")
            text = f"{head} = {', '.join(_text(v) for v in self.equals)}"
            text += f" where {rest}" if rest else ""
        return text

    def _measure(
        self, tables: Tables, table: str, frame: pl.LazyFrame, schema: pl.Schema
    ) -> tuple[float | None, int, dict[str, Any], str]:
        col, dtype = self.column, schema[self.column]
        if self.equals is None:
            if dtype != pl.Boolean:
                sample = tables.collect(
                    table, frame.select(pl.col(col).drop_nulls().unique().sort().head(5))
                )[col].to_list()
                msg = (
                    f"check `{self.name}`: column `{col}` of table `{table}` is {dtype}, not "
                    "true/false, so say which values count: `equals = VALUE` or a list. "
                    f"Hint: its values include {', '.join(map(_text, sample))}."
                )
                raise ConfigError(msg)
            hit = pl.col(col)
        else:
            hit = _member(col, dtype, self.equals)
        counts = tables.collect(
            table,
            frame.filter(pl.col(col).is_not_null()).select(
                pl.len().alias("n"), hit.cast(pl.Int64).sum().alias("k")
            ),
        )
        n, k = int(counts["n"][0]), int(counts["k"][0] or 0)
        if n == 0:
            return None, 0, {"expected": self.value}, "no rows"
        observed = k / n
        z = statistics.rate_z(k, n, self.value)
        value = abs(z) if self.statistic == "z" else abs(observed - self.value)
        details = {"observed": observed, "expected": self.value, "matches": k, "z": z}
        return value, n, details, ""


KINDS: dict[str, type[Check]] = {
    c.kind: c for c in (FrequencyCheck, DistributionCheck, CorrelationCheck, RateCheck)
}
