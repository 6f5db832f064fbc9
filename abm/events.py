"""Typed event logs, streamed to disk in chunks, and KPIs per step.

A scenario declares an `EventSchema` (integer ids, ``pl.Enum`` event types and categories,
``pl.Datetime`` or an integer step for time, floats). An `EventLog` takes whole columns per call
(``append(step=t, event="infect", agent=ids)``: numpy arrays, polars Series, or scalars repeated
to the arrays' length), checks them against the schema, buffers them in columns and writes every
`chunk_rows` rows as one chunk, so memory stays bounded however long the run. A `KpiCollector`
keeps ``{step, name, value}`` rows (plus optional group columns such as a zone) and is saved
beside the log. `scan_events` (lazy) and `read_events` (eager) read a log back with its dtypes.

Layout of the folder an `EventLog` writes::

    run/events.parquet    the log (or events.csv, events.jsonl)
    run/kpis.parquet      KPIs, always Parquet
    run/manifest.json     version, seed, parameters and their sha256, schema, rows per file

or, with ``shard=k`` (independent writers, one per shard, sharing `run`)::

    run/events/shard=00003/part-00000.parquet
    run/kpis/shard=00003/part-00000.parquet
    run/manifests/shard=00003.json

With ``partition_by="day"`` (a column of the schema whose values only grow, such as a day),
each value gets its own file, ``run/events/day=12/part-00000.parquet`` (with shards,
``run/events/shard=00003/day=12/part-00000.parquet``), so a query of a few days reads only their
files; the manifest lists every partition's file and rows.

``run/events`` is then a hive-partitioned dataset: ``pl.scan_parquet("run/events/**/*.parquet",
hive_partitioning=True)`` or DuckDB's ``read_parquet(..., hive_partitioning=true)`` read every
shard as one table with a ``shard`` column. Manifests sit outside ``events/`` so a glob over it
finds only data.

Why one Parquet file with a row group per chunk: `pyarrow.parquet.ParquetWriter` appends row
groups to one open file, so memory holds one chunk, the file count does not grow with the run,
and readers skip row groups by their statistics. Every row group holds exactly `chunk_rows` rows
(the last one fewer) whatever the sizes of the appends, so the same rows give the same bytes; no
timestamps go into files or manifests. polars' own writer cannot append to a file; numbered
part files written by polars would be about twice as fast (polars encodes columns in parallel,
pyarrow in one thread) at the cost of one file per chunk. Measured by ``bench/eventlog.py`` (2
cores, 50 million rows of 6 columns): 6.7 M rows/s with a peak RSS of 340 MB, against 12.4 M
rows/s for polars writing the same table from memory (2 GB peak) in one call.
Enum columns keep their categories in Parquet (polars stores them in the Arrow field metadata),
so ``pl.read_parquet`` restores them unaided; CSV and JSON Lines are cast back using the schema
recorded in the manifest. JSON has no NaN or infinity: they come back from JSON Lines as null.

Nothing that looks finished exists before `EventLog.close`: files are written inside a hidden
``.<name>.partial-*`` folder and moved into place by `populations.output.StagedOutput` (the
mechanism that also writes populations) only when the run ends without an exception; an
exception inside the ``with`` block deletes them, and a killed process leaves only the
``.partial-`` folder. Libraries: polars and pyarrow for frames and Parquet.
"""

from __future__ import annotations

import dataclasses
import json
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from populations.errors import ConfigError, OutputExistsError, closest_hint
from populations.output import StagedOutput, package_version, parameters_sha256, write_frame

__all__ = [
    "EVENT_FORMATS",
    "EventLog",
    "EventSchema",
    "KpiCollector",
    "read_events",
    "scan_events",
]

EVENT_FORMATS = ("parquet", "csv", "jsonl")
_SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
_SIMPLE = {
    str(t()): t
    for t in (
        pl.Int8,
        pl.Int16,
        pl.Int32,
        pl.Int64,
        pl.UInt8,
        pl.UInt16,
        pl.UInt32,
        pl.UInt64,
        pl.Float32,
        pl.Float64,
        pl.Boolean,
        pl.String,
        pl.Date,
    )
}
_RESERVED = ("shard",)  # the partition column added when shards are read as one table
_SCHEMA_KEY = b"synthworld.event_schema"


# ---------------------------------------------------------------------------------------------
# schema


def _dtype(where: str, dtype: Any) -> pl.DataType:
    """A supported polars dtype instance for `dtype` (a class or an instance)."""
    if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
        if dtype is pl.Datetime:
            return pl.Datetime("us")
        if dtype is pl.Enum:
            msg = f"{where} is `pl.Enum` without categories. Hint: write pl.Enum(['a', 'b'])."
            raise ConfigError(msg)
        try:
            dtype = dtype()  # an instance is needed to tell types apart
        except TypeError:  # a nested type given without its inner type
            pass
    if isinstance(dtype, pl.Enum | pl.Datetime) or (
        isinstance(dtype, pl.DataType) and str(dtype) in _SIMPLE
    ):
        return dtype
    hint = (
        "Hint: use pl.Enum([...]) with the categories listed, so every file has the same ones."
        if isinstance(dtype, pl.Categorical)
        else "Hint: use an integer, float, Boolean, String, Enum, Datetime or Date type."
    )
    msg = f"{where} has unsupported dtype `{dtype}`. {hint}"
    raise ConfigError(msg)


def _dtype_to_json(dtype: pl.DataType) -> Any:
    if isinstance(dtype, pl.Enum):
        return {"Enum": dtype.categories.to_list()}
    if isinstance(dtype, pl.Datetime):
        return {"Datetime": {"time_unit": dtype.time_unit, "time_zone": dtype.time_zone}}
    return str(dtype)


def _dtype_from_json(where: str, spec: Any) -> pl.DataType:
    if isinstance(spec, str) and spec in _SIMPLE:
        return _SIMPLE[spec]()
    if isinstance(spec, dict) and list(spec) == ["Enum"]:
        return pl.Enum(spec["Enum"])
    if isinstance(spec, dict) and list(spec) == ["Datetime"]:
        return pl.Datetime(**spec["Datetime"])
    msg = f"{where}: unknown dtype `{spec}`."
    raise ConfigError(msg)


class EventSchema:
    """The columns of one scenario's event log, with their polars dtypes.

    Parameters
    ----------
    name : str
        Names the log in messages and manifests (say, the scenario's name).
    columns : mapping of str to polars dtype
        In file order. Integers (``pl.Int32``, ``pl.UInt64``...), floats, ``pl.Boolean``,
        ``pl.String``, ``pl.Enum([...])`` for event types and categories, ``pl.Datetime`` (or an
        integer step) for time, ``pl.Date``. ``shard`` is reserved for the partition column.

    Examples
    --------
    >>> schema = EventSchema("payments", {"step": pl.Int32, "kind": pl.Enum(["pay", "refund"])})
    >>> schema.coerce({"step": 3, "kind": np.array(["pay", "refund"])}).rows()
    [(3, 'pay'), (3, 'refund')]
    """

    def __init__(self, name: str, columns: Mapping[str, Any]) -> None:
        if not isinstance(name, str) or not name:
            msg = f"an event schema needs a non-empty name, got {name!r}."
            raise ConfigError(msg)
        if not isinstance(columns, Mapping) or not columns:
            msg = (
                f"event schema `{name}` needs a mapping of column names to dtypes, got "
                f"{columns!r}. Hint: {{'step': pl.Int32, 'agent': pl.Int64}}."
            )
            raise ConfigError(msg)
        self.name = name
        self.columns: dict[str, pl.DataType] = {}
        for col, dtype in columns.items():
            if not isinstance(col, str) or not col or col in _RESERVED:
                msg = (
                    f"event schema `{name}`: column name {col!r} is not allowed. Hint: use a "
                    f"non-empty string other than {', '.join(map(repr, _RESERVED))}."
                )
                raise ConfigError(msg)
            self.columns[col] = _dtype(f"column `{col}` of event schema `{name}`", dtype)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema(self.columns)

    def empty(self) -> pl.DataFrame:
        """A frame with no rows and these columns."""
        return pl.DataFrame(schema=self.polars_schema)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as recorded in manifests (`from_dict` reads it back)."""
        return {
            "name": self.name,
            "columns": {c: _dtype_to_json(d) for c, d in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventSchema:
        where = f"event schema `{data.get('name')}`"
        return cls(
            data["name"],
            {c: _dtype_from_json(f"{where}, column `{c}`", d) for c, d in data["columns"].items()},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventSchema):
            return NotImplemented
        return self.name == other.name and list(self.columns.items()) == list(other.columns.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        cols = ", ".join(f"{c!r}: {d!r}" for c, d in self.columns.items())
        return f"EventSchema({self.name!r}, {{{cols}}})"

    def coerce(self, columns: Mapping[str, Any]) -> pl.DataFrame:
        """Check `columns` against the schema and return them as a frame of the schema's dtypes.

        Arrays (numpy, polars, lists) must share one length; scalars are repeated to it (all
        scalars make one row). An Enum column takes strings or integer codes (indices into its
        categories).

        Raises
        ------
        ConfigError
            For an unknown or missing column, arrays of different lengths, a category not in
            an Enum, a value of the wrong kind (floats for an integer column) or out of range.
        """
        for col in columns:
            if col not in self.columns:
                msg = f"event log `{self.name}`: unknown column `{col}`. " + closest_hint(
                    col, self.columns
                )
                raise ConfigError(msg)
        missing = [c for c in self.columns if c not in columns]
        if missing:
            msg = (
                f"event log `{self.name}`: missing column(s) "
                + ", ".join(f"`{c}`" for c in missing)
                + ". Hint: every append gives all columns: "
                + ", ".join(self.columns)
                + " (a scalar is repeated for every row)."
            )
            raise ConfigError(msg)
        series: dict[str, pl.Series] = {}
        scalars: set[str] = set()
        for col, dtype in self.columns.items():
            s, scalar = self._as_series(col, columns[col])
            series[col] = self._cast(col, s, dtype)
            if scalar:
                scalars.add(col)
        lengths = {c: s.len() for c, s in series.items() if c not in scalars}
        if len(set(lengths.values())) > 1:
            msg = (
                f"event log `{self.name}`: columns have different lengths: "
                + ", ".join(f"`{c}` {n:,}" for c, n in lengths.items())
                + ". Hint: pass arrays of one length (a scalar is repeated for every row)."
            )
            raise ConfigError(msg)
        n = next(iter(lengths.values()), 1)
        return pl.DataFrame(
            [s.new_from_index(0, n) if c in scalars else s for c, s in series.items()]
        )

    def _as_series(self, col: str, value: Any) -> tuple[pl.Series, bool]:
        if isinstance(value, pl.Series):
            return value.alias(col), False
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, np.ndarray):
            if value.ndim != 1:
                msg = (
                    f"event log `{self.name}`: column `{col}` got a {value.ndim}-D array of "
                    f"shape {value.shape}. Hint: pass one 1-D array per column."
                )
                raise ConfigError(msg)
            if value.dtype.kind == "M" and np.datetime_data(value.dtype)[0] not in (
                "D",
                "ms",
                "us",
                "ns",
            ):
                value = value.astype("datetime64[us]")
            return pl.Series(col, value), False
        if isinstance(value, list | tuple | range):
            try:
                return pl.Series(col, value), False
            except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
                msg = f"event log `{self.name}`: column `{col}` cannot be read: {exc}"
                raise ConfigError(msg) from None
        if isinstance(value, np.generic):
            value = value.item()
        try:
            return pl.Series(col, [value]), True
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            msg = (
                f"event log `{self.name}`: column `{col}` got {type(value).__name__} "
                f"{value!r}. Hint: pass a number, string, datetime or a 1-D array."
            )
            raise ConfigError(msg) from None

    def _cast(self, col: str, s: pl.Series, dtype: pl.DataType) -> pl.Series:
        src = s.dtype
        where = f"event log `{self.name}`: column `{col}`"
        if src == dtype:
            return s
        if src == pl.Null:
            return s.cast(dtype)
        if dtype.is_integer() and src.is_integer():
            try:
                return s.cast(dtype, strict=True)
            except pl.exceptions.PolarsError:
                msg = (
                    f"{where} has values from {s.min()} to {s.max()}, outside the range of "
                    f"{dtype}. Hint: declare a wider integer type in the schema."
                )
                raise ConfigError(msg) from None
        if dtype.is_float() and (src.is_integer() or src.is_float()):
            return s.cast(dtype)
        if isinstance(dtype, pl.Enum):
            return self._to_enum(where, s, dtype)
        if dtype == pl.String and (src in (pl.String, pl.Categorical) or isinstance(src, pl.Enum)):
            return s.cast(pl.String)
        if isinstance(dtype, pl.Datetime):
            return self._to_datetime(where, s, dtype)
        msg = f"{where} expects {dtype} values, got {src}."
        if dtype.is_integer() and src.is_float():
            msg += " Hint: ids and counts are integers; convert with .astype(np.int64)."
        raise ConfigError(msg)

    def _to_enum(self, where: str, s: pl.Series, dtype: pl.Enum) -> pl.Series:
        cats = dtype.categories
        if s.dtype.is_integer():
            lo, hi = s.min(), s.max()
            if lo is not None and (lo < 0 or hi >= cats.len()):
                msg = (
                    f"{where} got integer codes from {lo} to {hi}, but it has {cats.len()} "
                    f"categories (codes 0 to {cats.len() - 1}: "
                    + ", ".join(cats.to_list()[:10])
                    + (", ..." if cats.len() > 10 else "")
                    + ")."
                )
                raise ConfigError(msg)
            return pl.Series(s.name, cats, dtype=dtype).gather(s)
        if not (s.dtype in (pl.String, pl.Categorical) or isinstance(s.dtype, pl.Enum)):
            msg = f"{where} expects category names (strings) or integer codes, got {s.dtype}."
            raise ConfigError(msg)
        text = s.cast(pl.String)
        try:
            return text.cast(dtype, strict=True)
        except pl.exceptions.PolarsError:
            bad = text.filter(~text.is_in(cats.implode()) & text.is_not_null())
            value = bad[0] if bad.len() else None
            msg = (
                f"{where} has `{value}`, which is not one of its categories ("
                + ", ".join(f"`{c}`" for c in cats.to_list()[:20])
                + (", ..." if cats.len() > 20 else "")
                + "). "
                + closest_hint(str(value), cats.to_list())
            )
            raise ConfigError(msg) from None

    def _to_datetime(self, where: str, s: pl.Series, dtype: pl.Datetime) -> pl.Series:
        if s.dtype == pl.Date:
            s = s.cast(pl.Datetime(dtype.time_unit))
        if not isinstance(s.dtype, pl.Datetime):
            msg = f"{where} expects {dtype} values, got {s.dtype}."
            raise ConfigError(msg)
        have, want = s.dtype.time_zone, dtype.time_zone
        if have != want:
            if want is None:
                msg = (
                    f"{where} expects times without a time zone, got time zone `{have}`. Hint: "
                    "declare pl.Datetime(time_zone=...) in the schema, or drop the zone with "
                    ".dt.replace_time_zone(None)."
                )
                raise ConfigError(msg)
            s = s.dt.replace_time_zone(want) if have is None else s.dt.convert_time_zone(want)
        return s.cast(dtype)


# ---------------------------------------------------------------------------------------------
# KPIs


class KpiCollector:
    """KPIs per step as a tidy table: ``step``, ``name``, ``value`` and optional group columns.

    Parameters
    ----------
    groups : mapping of str to polars dtype, or sequence of str
        Group columns (a zone, a mode...); names alone are String columns. A record that does
        not give a group leaves it null.

    Examples
    --------
    >>> kpis = KpiCollector(groups={"zone": pl.Enum(["north", "south"])})
    >>> kpis.record(0, "infected", 12)
    >>> kpis.record(0, "infected", [5, 7], zone=["north", "south"])
    >>> kpis.to_frame().rows()
    [(0, 'infected', 12.0, None), (0, 'infected', 5.0, 'north'), (0, 'infected', 7.0, 'south')]
    """

    _BASE = ("step", "name", "value")

    def __init__(self, *, groups: Mapping[str, Any] | Sequence[str] = ()) -> None:
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, Mapping):
            groups = dict.fromkeys(groups, pl.String)
        self.groups: dict[str, pl.DataType] = {}
        for g, dtype in groups.items():
            if g in self._BASE:
                msg = f"KPI group `{g}` clashes with a KPI column ({', '.join(self._BASE)})."
                raise ConfigError(msg)
            self.groups[g] = _dtype(f"KPI group `{g}`", dtype)
        self._data: dict[str, list[Any]] = {c: [] for c in (*self._BASE, *self.groups)}

    def __len__(self) -> int:
        return len(self._data["step"])

    def record(self, step: int, name: str, value: Any, **groups: Any) -> None:
        """Record `value` (a number or a 1-D array) of KPI `name` at `step`.

        Group values are scalars or arrays as long as `value`.
        """
        for g in groups:
            if g not in self.groups:
                hint = (
                    closest_hint(g, self.groups)
                    if self.groups
                    else "Hint: declare groups with KpiCollector(groups={...})."
                )
                msg = f"unknown KPI group `{g}`. {hint}"
                raise ConfigError(msg)
        values = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if values.ndim != 1:
            msg = f"KPI `{name}` got a {values.ndim}-D value. Hint: pass a number or a 1-D array."
            raise ConfigError(msg)
        n = values.size
        columns: dict[str, list[Any]] = {
            "step": [int(step)] * n,
            "name": [str(name)] * n,
            "value": values.tolist(),
        }
        for g, dtype in self.groups.items():
            v = groups.get(g)
            if isinstance(v, np.ndarray | pl.Series | list | tuple):
                v = list(v.to_list() if isinstance(v, pl.Series) else np.asarray(v).tolist())
                if len(v) != n:
                    msg = (
                        f"KPI `{name}`: group `{g}` has {len(v)} values for {n} value(s). "
                        "Hint: give one group value per KPI value, or a scalar."
                    )
                    raise ConfigError(msg)
            else:
                v = [v.item() if isinstance(v, np.generic) else v] * n
            if isinstance(dtype, pl.Enum):
                cats = set(dtype.categories.to_list())
                bad = next((x for x in v if x is not None and x not in cats), None)
                if bad is not None:
                    msg = (
                        f"KPI `{name}`: group `{g}` has `{bad}`, which is not one of its "
                        "categories. " + closest_hint(str(bad), dtype.categories.to_list())
                    )
                    raise ConfigError(msg)
            columns[g] = v
        for c, v in columns.items():
            self._data[c].extend(v)

    def to_frame(self) -> pl.DataFrame:
        """All records, in order, as a polars frame."""
        schema = {"step": pl.Int64, "name": pl.String, "value": pl.Float64, **self.groups}
        try:
            return pl.DataFrame(self._data, schema=schema)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            msg = f"KPIs cannot be tabulated: {exc}. Hint: check the group values' types."
            raise ConfigError(msg) from None


# ---------------------------------------------------------------------------------------------
# writing


class _ParquetSink:
    def __init__(self, file: Path, schema: EventSchema) -> None:
        arrow = schema.empty().to_arrow().schema
        meta = {_SCHEMA_KEY: json.dumps(schema.to_dict(), sort_keys=True).encode()}
        self._writer = pq.ParquetWriter(
            file, arrow.with_metadata(meta), compression="zstd", write_statistics=True
        )

    def write(self, chunk: pl.DataFrame) -> None:
        self._writer.write_table(chunk.to_arrow(), row_group_size=chunk.height)

    def close(self) -> None:
        self._writer.close()


class _TextSink:
    def __init__(self, file: Path, schema: EventSchema, fmt: str) -> None:
        self._file = file.open("wb")
        self._fmt = fmt
        if fmt == "csv":
            schema.empty().write_csv(self._file)  # the header, even for an empty log

    def write(self, chunk: pl.DataFrame) -> None:
        if self._fmt == "csv":
            chunk.write_csv(self._file, include_header=False)
        else:
            chunk.write_ndjson(self._file)

    def close(self) -> None:
        self._file.close()


class EventLog:
    """Stream events to disk in chunks of `chunk_rows` rows; everything appears on `close`.

    Use it as a context manager: leaving the block normally closes the log (writes the last
    chunk, the KPIs and the manifest, then moves them into place); an exception deletes
    everything written so far.

    Parameters
    ----------
    path : str or Path
        The output folder (see the module docstring for its layout). Refused if it already holds
        results (with `shard`, if that shard exists), unless `overwrite`.
    schema : EventSchema
        The columns every append must give.
    fmt : {"parquet", "csv", "jsonl"}
        Parquet (zstd) by default.
    chunk_rows : int
        Rows per chunk (a Parquet row group): the most rows held in memory between appends.
    shard : int, optional
        Write shard `shard` of a partitioned log into the shared folder `path`.
    seed : int, optional
        The run's root seed, recorded in the manifest.
    parameters : mapping or dataclass, optional
        The run's parameters (JSON values), recorded in the manifest with their sha256.
    overwrite : bool
        Replace existing results (only once the new ones are complete).
    kpis : KpiCollector, optional
        Where KPIs are recorded (``log.kpis``); a collector without groups by default.
    partition_by : str, optional
        A column (integer, date or string) whose values never decrease from one append to the
        next, such as a day: each value is written to a file of its own,
        ``events/<column>=<value>/part-00000.<format>``.

    Examples
    --------
    >>> import tempfile
    >>> schema = EventSchema("payments", {"step": pl.Int32, "kind": pl.Enum(["pay", "refund"]),
    ...                                   "agent": pl.Int64, "amount": pl.Float64})
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with EventLog(out, schema=schema, seed=7, parameters={"rate": 0.1}) as log:
    ...     for step in range(3):
    ...         log.append(step=step, kind="pay", agent=np.arange(4), amount=np.full(4, 9.5))
    ...         log.kpis.record(step, "paid", 4 * 9.5)
    >>> read_events(out).shape, log.manifest["rows"]
    ((12, 4), 12)
    """

    def __init__(
        self,
        path: str | Path,
        *,
        schema: EventSchema,
        fmt: str = "parquet",
        chunk_rows: int = 1_000_000,
        shard: int | None = None,
        seed: int | None = None,
        parameters: Any = None,
        overwrite: bool = False,
        kpis: KpiCollector | None = None,
        partition_by: str | None = None,
    ) -> None:
        if not isinstance(schema, EventSchema):
            msg = f"`schema` must be an EventSchema, got {type(schema).__name__}."
            raise ConfigError(msg)
        if fmt not in EVENT_FORMATS:
            msg = f"unknown event log format `{fmt}`. " + closest_hint(str(fmt), EVENT_FORMATS)
            raise ConfigError(msg)
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int | np.integer):
            msg = f"`chunk_rows` must be a positive integer, got {chunk_rows!r}."
            raise ConfigError(msg)
        if chunk_rows < 1:
            msg = f"`chunk_rows` must be a positive integer, got {chunk_rows}."
            raise ConfigError(msg)
        if shard is not None and (
            isinstance(shard, bool) or not isinstance(shard, int | np.integer) or shard < 0
        ):
            msg = f"`shard` must be a non-negative integer or None, got {shard!r}."
            raise ConfigError(msg)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            msg = f"`seed` must be an integer or None, got {seed!r}."
            raise ConfigError(msg)
        if kpis is not None and not isinstance(kpis, KpiCollector):
            msg = f"`kpis` must be a KpiCollector, got {type(kpis).__name__}."
            raise ConfigError(msg)
        self.path = Path(path)
        if self.path.suffix.lower() in (".parquet", ".csv", ".jsonl", ".json"):
            msg = (
                f"event log output `{self.path}` looks like a file name; a log is a folder "
                "(events, kpis and manifest inside). Hint: name the folder, e.g. `run`."
            )
            raise ConfigError(msg)
        self.schema = schema
        self.fmt = fmt
        self.chunk_rows = int(chunk_rows)
        self.shard = None if shard is None else int(shard)
        self.seed = None if seed is None else int(seed)
        if dataclasses.is_dataclass(parameters) and not isinstance(parameters, type):
            parameters = dataclasses.asdict(parameters)  # recorded as plain data
        self.parameters = parameters
        self._parameters_sha256 = parameters_sha256(parameters)
        self.kpis = kpis if kpis is not None else KpiCollector()
        if partition_by is not None:
            dtype = schema.columns.get(partition_by) if isinstance(partition_by, str) else None
            if dtype is None:
                msg = f"`partition_by` = {partition_by!r} is not a column of the log. " + (
                    closest_hint(str(partition_by), schema.columns)
                )
                raise ConfigError(msg)
            if not (dtype.is_integer() or dtype in (pl.Date, pl.String)):
                msg = (
                    f"`partition_by` column `{partition_by}` is {dtype}; a partition column must "
                    "be an integer, a date or a string (e.g. the day)."
                )
                raise ConfigError(msg)
        self.partition_by = partition_by
        suffix = self._suffix = _SUFFIX[fmt]
        if self.shard is None:
            self._events_rel, self._kpis_rel = f"events{suffix}", "kpis.parquet"
            if partition_by is not None:
                self._events_rel = "events"
            units, manifest_rel = None, "manifest.json"
        else:
            part = f"shard={self.shard:05d}"
            self._events_rel = f"events/{part}/part-00000{suffix}"
            if partition_by is not None:
                self._events_rel = f"events/{part}"
            self._kpis_rel = f"kpis/{part}/part-00000.parquet"
            units, manifest_rel = [f"kpis/{part}", f"events/{part}"], f"manifests/{part}.json"
            if (self.path / "manifest.json").exists():
                msg = (
                    f"output folder `{self.path}` holds an unsharded event log; shards need a "
                    "folder of their own. Hint: choose another folder."
                )
                raise OutputExistsError(msg)
        self._staged = StagedOutput(
            self.path, overwrite=overwrite, units=units, manifest=manifest_rel
        )
        # Removes the staging folder if the log is dropped or the interpreter exits unclosed.
        self._finalizer = weakref.finalize(self, self._staged.abort)
        self._sink: _ParquetSink | _TextSink | None = None
        self._partitions: list[dict[str, Any]] = []
        try:
            if partition_by is None:
                self._sink = self._open(self._events_rel)
        except BaseException:
            self._finalizer()
            raise
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0
        self._written = 0
        self._chunks = 0
        self._state = "open"
        self.manifest: dict[str, Any] | None = None
        self.extra: dict[str, Any] = {}
        """More entries for the manifest, set before `close` (a model adds the steps it ran)."""

    def _open(self, rel: str) -> _ParquetSink | _TextSink:
        file = self._staged.path / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "parquet":
            return _ParquetSink(file, self.schema)
        return _TextSink(file, self.schema, self.fmt)

    def _roll(self, value: Any) -> None:
        """Finish the current partition's file and start the one of `value`."""
        if self._buffer:
            self._write(pl.concat(self._buffer))
            self._buffer, self._buffered = [], 0
        if self._sink is not None:
            self._sink.close()
            self._partitions[-1]["rows"] = self._written - self._partitions[-1]["rows"]
        rel = f"{self._events_rel}/{self.partition_by}={value}/part-00000{self._suffix}"
        self._sink = self._open(rel)
        self._partitions.append({"value": value, "events": rel, "rows": self._written})

    @property
    def buffered_rows(self) -> int:
        """Rows appended but not yet written (always fewer than `chunk_rows` between calls)."""
        return self._buffered

    @property
    def rows_written(self) -> int:
        """Rows written to the (still temporary) file so far, in whole chunks."""
        return self._written

    @property
    def rows(self) -> int:
        """All rows appended so far."""
        return self._written + self._buffered

    @property
    def closed(self) -> bool:
        return self._state != "open"

    def append(self, **columns: Any) -> None:
        """Append rows given as whole columns: 1-D arrays of one length, or scalars.

        Raises
        ------
        ConfigError
            If the columns do not match the schema (see `EventSchema.coerce`).
        """
        self._check_open()
        self._push(self.schema.coerce(columns))

    def append_frame(self, frame: pl.DataFrame) -> None:
        """Append the rows of a polars frame with the schema's columns (in any order)."""
        self._check_open()
        if not isinstance(frame, pl.DataFrame):
            msg = f"`append_frame` takes a polars DataFrame, got {type(frame).__name__}."
            raise ConfigError(msg)
        self._push(self.schema.coerce({s.name: s for s in frame.get_columns()}))

    def _check_open(self) -> None:
        if self._state != "open":
            msg = f"event log `{self.path}` is {self._state}. Hint: append before `close()`."
            raise ConfigError(msg)

    def _push(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        if self.partition_by is None:
            self._buffered_push(frame)
            return
        column = frame[self.partition_by]
        if column.null_count():
            msg = f"event log `{self.path}`: partition column `{self.partition_by}` has nulls."
            raise ConfigError(msg)
        values = column.unique(maintain_order=True).to_list()
        current = self._partitions[-1]["value"] if self._partitions else None
        for value in values:
            if current is not None and value < current:
                msg = (
                    f"event log `{self.path}`: partition column `{self.partition_by}` went "
                    f"back from {current} to {value}. Hint: a partitioned log is appended in "
                    "order of that column."
                )
                raise ConfigError(msg)
            if value != current:
                self._roll(value)
                current = value
            self._buffered_push(frame if len(values) == 1 else frame.filter(column == value))

    def _buffered_push(self, frame: pl.DataFrame) -> None:
        self._buffer.append(frame)
        self._buffered += frame.height
        if self._buffered < self.chunk_rows:
            return
        data = pl.concat(self._buffer, rechunk=False) if len(self._buffer) > 1 else frame
        self._buffer, self._buffered = [], 0
        start = 0
        while data.height - start >= self.chunk_rows:
            self._write(data.slice(start, self.chunk_rows))
            start += self.chunk_rows
        if start < data.height:
            self._buffer = [data.slice(start)]
            self._buffered = data.height - start

    def _write(self, chunk: pl.DataFrame) -> None:
        try:
            # One contiguous chunk, so the bytes do not depend on how the rows were appended.
            self._sink.write(chunk.rechunk())
        except BaseException:
            self.abort()
            raise
        self._written += chunk.height
        self._chunks += 1

    def close(self) -> dict[str, Any]:
        """Write the last chunk, the KPIs and the manifest; move them into place.

        Returns the manifest (also kept as ``log.manifest``). Closing twice is harmless.
        """
        if self.manifest is not None:
            return self.manifest
        self._check_open()
        try:
            if self._buffer:
                self._write(pl.concat(self._buffer))
                self._buffer, self._buffered = [], 0
            if self._sink is not None:
                self._sink.close()
            if self._partitions:
                self._partitions[-1]["rows"] = self._written - self._partitions[-1]["rows"]
            kpi_frame = self.kpis.to_frame()
            kpi_file = self._staged.path / self._kpis_rel
            kpi_file.parent.mkdir(parents=True, exist_ok=True)
            write_frame(kpi_frame, kpi_file.with_suffix(""), "parquet")
            manifest = {
                "synthworld": package_version(),
                "kind": "event-log",
                "schema": self.schema.to_dict(),
                "format": self.fmt,
                "chunk_rows": self.chunk_rows,
                "chunks": self._chunks,
                "shard": self.shard,
                "seed": self.seed,
                "parameters": self.parameters,
                "parameters_sha256": self._parameters_sha256,
                "rows": self._written,
                "events": self._events_rel,
                "kpis": self._kpis_rel,
                **self.extra,
            }
            rows = {self._events_rel: self._written, self._kpis_rel: kpi_frame.height}
            if self.partition_by is not None:
                manifest["partition_by"] = self.partition_by
                manifest["partitions"] = self._partitions
                rows.update({p["events"]: p["rows"] for p in self._partitions})
            self.manifest = self._staged.commit(manifest, rows)
        except BaseException:
            self.abort()
            raise
        self._state = "closed"
        self._finalizer.detach()
        return self.manifest

    def abort(self) -> None:
        """Delete everything written; nothing is moved into place."""
        if self._state != "open":
            return
        self._state = "aborted"
        self._buffer, self._buffered = [], 0
        try:
            if self._sink is not None:
                self._sink.close()
        except Exception:  # the files are deleted next
            pass
        self._finalizer()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# ---------------------------------------------------------------------------------------------
# reading


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"manifest `{path}` cannot be read: {exc}."
        raise ConfigError(msg) from None
    if not isinstance(data, dict) or data.get("kind") != "event-log":
        msg = f"manifest `{path}` does not describe an event log (no `kind: event-log`)."
        raise ConfigError(msg)
    return data


def _find(source: Path) -> tuple[Path, list[dict[str, Any]]] | None:
    """(root, manifests) of the log `source` belongs to, or None if no manifest is found."""
    if source.is_dir():
        if (source / "manifest.json").is_file():
            return source, [_load_manifest(source / "manifest.json")]
        for root in (source, source.parent):
            if (root / "manifests").is_dir() and (root == source or source.name == "events"):
                files = sorted((root / "manifests").glob("shard=*.json"))
                if files:
                    return root, [_load_manifest(f) for f in files]
        return None
    parent = source.parent
    if (parent / "manifest.json").is_file():
        manifest = _load_manifest(parent / "manifest.json")
        if manifest.get("events") == source.name:
            return parent, [manifest]
    if parent.name.startswith("shard=") and len(source.parents) >= 3:
        root = source.parents[2]
        path = root / "manifests" / f"{parent.name}.json"
        if path.is_file():
            return root, [_load_manifest(path)]
    return None


def _read_dtype(dtype: pl.DataType) -> pl.DataType:
    """The dtype to parse a text column as, before casting to `dtype`."""
    if isinstance(dtype, pl.Enum):
        return pl.String()
    if dtype.is_integer() and dtype not in (pl.Int64, pl.UInt64):
        return pl.Int64()
    return dtype


def _scan_text(file: Path, fmt: str, schema: EventSchema, rows: int | None) -> pl.LazyFrame:
    if rows == 0:
        return schema.empty().lazy()
    read = {c: _read_dtype(d) for c, d in schema.columns.items()}
    if fmt == "csv":
        lf = pl.scan_csv(file, schema=read)
    else:
        lf = pl.scan_ndjson(file, schema=read)
    return lf.with_columns(pl.col(c).cast(d, strict=True) for c, d in schema.columns.items())


def scan_events(source: str | Path, *, columns: Sequence[str] | None = None) -> pl.LazyFrame:
    """Lazily read an event log written by `EventLog`, with its dtypes.

    Parameters
    ----------
    source : str or Path
        The log's folder, its ``events/`` folder (sharded logs), or one events file. A sharded
        log reads as one table with an Int64 ``shard`` column last. A folder of Parquet files
        without manifests is read as a hive-partitioned dataset.
    columns : sequence of str, optional
        Read only these columns.

    Examples
    --------
    >>> import tempfile
    >>> schema = EventSchema("moves", {"step": pl.Int32, "agent": pl.Int64})
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with EventLog(out, schema=schema, fmt="csv") as log:
    ...     log.append(step=0, agent=np.array([4, 2]))
    >>> scan_events(out, columns=["agent"]).collect()["agent"].to_list()
    [4, 2]
    """
    source = Path(source)
    if not source.exists():
        msg = f"event log `{source}` not found."
        raise ConfigError(msg)
    found = _find(source)
    if found is None:
        if source.is_file() and source.suffix == ".parquet":
            lf = pl.scan_parquet(source)
        elif source.is_dir():
            files = sorted(
                p
                for p in source.rglob("*.parquet")
                if not any(part.startswith(".") for part in p.relative_to(source).parts)
            )
            if not files:
                msg = f"`{source}` holds no event log (no manifest, no Parquet files)."
                raise ConfigError(msg)
            lf = pl.scan_parquet(files, hive_partitioning=True)
        else:
            msg = (
                f"`{source}` has no manifest beside it, so its column types are unknown. "
                "Hint: read the log's folder, which holds manifest.json."
            )
            raise ConfigError(msg)
    else:
        lf = _scan_manifests(source, *found)
    if columns is not None:
        names = lf.collect_schema().names()
        for c in columns:
            if c not in names:
                msg = f"event log `{source}` has no column `{c}`. " + closest_hint(c, names)
                raise ConfigError(msg)
        lf = lf.select(list(columns))
    return lf


def _scan_manifests(source: Path, root: Path, manifests: list[dict[str, Any]]) -> pl.LazyFrame:
    schemas = [EventSchema.from_dict(m["schema"]) for m in manifests]
    fmts = {m["format"] for m in manifests}
    if any(s != schemas[0] for s in schemas) or len(fmts) > 1:
        msg = f"the shards of event log `{source}` differ in schema or format."
        raise ConfigError(msg)
    schema, fmt = schemas[0], fmts.pop()
    sharded = manifests[0].get("shard") is not None
    # (file, rows, shard) of every events file, partition by partition, shard by shard
    parts = [
        (root / p["events"], p.get("rows"), m.get("shard"))
        for m in manifests
        for p in (m["partitions"] if "partitions" in m else [m])
    ]
    for f, _, _ in parts:
        if not f.is_file():
            msg = f"event log file `{f}` named by its manifest is missing."
            raise ConfigError(msg)
    if not parts:  # a partitioned log without a row
        empty = schema.empty()
        if sharded:
            empty = empty.with_columns(pl.lit(None, pl.Int64).alias("shard"))
        return empty.lazy()
    files = [f for f, _, _ in parts]
    if fmt == "parquet" and not any("partitions" in m for m in manifests):
        if sharded:
            return pl.scan_parquet(files, hive_partitioning=True, hive_schema={"shard": pl.Int64})
        return pl.scan_parquet(files[0])
    if fmt == "parquet":
        frames = [pl.scan_parquet(f, hive_partitioning=False) for f in files]
    else:
        frames = [_scan_text(f, fmt, schema, rows) for f, rows, _ in parts]
    if sharded:
        frames = [
            lf.with_columns(pl.lit(shard, pl.Int64).alias("shard"))
            for lf, (_, _, shard) in zip(frames, parts, strict=True)
        ]
    return pl.concat(frames, how="vertical")


def read_events(source: str | Path, *, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Eager twin of `scan_events`.

    >>> import tempfile
    >>> schema = EventSchema("moves", {"step": pl.Int32, "mode": pl.Enum(["walk", "bus"])})
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with EventLog(out, schema=schema) as log:
    ...     log.append(step=1, mode=np.array([1, 0, 1]))
    >>> read_events(out)["mode"].to_list()
    ['bus', 'walk', 'bus']
    """
    return scan_events(source, columns=columns).collect()
