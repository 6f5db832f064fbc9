"""The outages event log: its schema, and a buffer that collects a step's rows column by column.

One table, one row per event (see docs/scenarios/outages.md for every column):

* ``shock_start`` / ``shock_end``: a storm, heat wave or cyber incident begins or ends;
* ``failure``: a component goes out of service, with its ``cause`` (``storm``, ``equipment``,
  ``cyber``: damage a crew must repair; ``overload``: its protection opened it under too much
  load; ``cascade``: overloaded because a failure moved flow onto it, ``parent`` naming that
  failure), its ``root`` (the failure the cascade started from; its own id for a root cause),
  ``root_cause``, ``generation`` (0 for a root cause) and ``customers`` (cut off by it);
* ``reclose``: a tripped component put back in service by remote control;
* ``tie_close`` / ``tie_open``: a normally-open tie switch closed to transfer cut-off load to a
  neighbouring feeder, and opened again once the normal supply is back;
* ``dispatch``, ``arrival``, ``repair``: a crew sent to a damaged component (``duration_min``:
  the drive), arriving, and finishing (``duration_min``: the time on site);
* ``outage_start`` / ``outage_end``: a customer loses / regains power (``duration_min`` on the
  end: the interruption's length), labelled with the failure that cut it off and that
  failure's cause, root, root cause and generation; ``outage_open``: an interruption still going
  on when the run ends, with its length so far.

Times are ``minute`` (since the start of the run), with the ``step`` (hour) and ``day`` it falls
in and a ``timestamp``. Ids that do not apply are -1, categories ``none``, ``zone`` null.

`EventRows` buffers rows as numpy arrays and category codes and hands them to the
`abm.events.EventLog` once a step, as polars Series of the schema's dtypes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from abm.events import EventSchema
from scenarios.outages.customers import CUSTOMER_KINDS
from scenarios.outages.grid import EDGE_KINDS

__all__ = ["CAUSES", "COMPONENT_KINDS", "EVENTS", "SHOCKS", "EventRows", "event_schema"]

EVENTS = (
    "shock_start",
    "shock_end",
    "failure",
    "reclose",
    "tie_close",
    "tie_open",
    "dispatch",
    "arrival",
    "repair",
    "outage_start",
    "outage_end",
    "outage_open",
)
"""Event types of the log."""
CAUSES = ("none", "storm", "equipment", "cyber", "overload", "cascade")
"""Why a component failed: the first three damage it (a crew must repair it), the last two
are trips by protection (it is re-closed remotely)."""
SHOCKS = ("none", "storm", "heat_wave", "cyber")
"""The shock a failure or an interruption belongs to."""
COMPONENT_KINDS = ("none", *EDGE_KINDS)
CUSTOMER_LABELS = ("none", *CUSTOMER_KINDS)

EVENT = {name: i for i, name in enumerate(EVENTS)}
CAUSE = {name: i for i, name in enumerate(CAUSES)}
SHOCK = {name: i for i, name in enumerate(SHOCKS)}
DAMAGE = (CAUSE["storm"], CAUSE["equipment"], CAUSE["cyber"])

_INT = {
    "failure": (np.int32, -1),
    "component": (np.int32, -1),
    "parent": (np.int32, -1),
    "root": (np.int32, -1),
    "generation": (np.int16, -1),
    "shock_id": (np.int32, -1),
    "customers": (np.int32, 0),
    "customer": (np.int64, -1),
    "crew": (np.int16, -1),
    "duration_min": (np.int32, -1),
}
_CODES = {  # category columns given as codes; -1 is null (zone only)
    "component_kind": 0,
    "cause": 0,
    "root_cause": 0,
    "shock": 0,
    "customer_kind": 0,
    "zone": -1,
}


def event_schema(zones: Sequence[str]) -> EventSchema:
    """The columns of the outages log (`zones`: the categories of ``zone``)."""
    return EventSchema(
        "outages",
        {
            "step": pl.Int32,
            "day": pl.Int32,
            "minute": pl.Int32,
            "timestamp": pl.Datetime("ms"),
            "event": pl.Enum(EVENTS),
            "failure": pl.Int32,
            "component": pl.Int32,
            "component_kind": pl.Enum(COMPONENT_KINDS),
            "cause": pl.Enum(CAUSES),
            "root_cause": pl.Enum(CAUSES),
            "parent": pl.Int32,
            "root": pl.Int32,
            "generation": pl.Int16,
            "shock": pl.Enum(SHOCKS),
            "shock_id": pl.Int32,
            "intensity": pl.Float64,
            "customers": pl.Int32,
            "customer": pl.Int64,
            "customer_kind": pl.Enum(CUSTOMER_LABELS),
            "critical": pl.Boolean,
            "crew": pl.Int16,
            "zone": pl.Enum(list(zones)),
            "duration_min": pl.Int32,
        },
    )


class EventRows:
    """Rows of one step, column by column, flushed to the log as one append.

    `add` takes a number of rows and, per column, a scalar (repeated) or an array; columns
    not given take their default (-1, ``none``, null, False).
    """

    def __init__(self, schema: EventSchema, start: datetime) -> None:
        self.schema = schema
        self.start_ms = int(np.datetime64(start, "ms").astype(np.int64))
        self._parts: dict[str, list[np.ndarray]] = {c: [] for c in schema.names}
        self.n = 0

    def add(self, event: str, minute: Any, n: int = 1, **columns: Any) -> None:
        if n <= 0:
            return
        parts = self._parts
        minute = np.broadcast_to(np.asarray(minute, dtype=np.int64), (n,))
        parts["minute"].append(minute)
        parts["event"].append(np.full(n, EVENT[event], dtype=np.int64))
        for col in self.schema.names:
            if col in ("minute", "event", "step", "day", "timestamp"):
                continue
            value = columns.pop(col, None)
            if value is None:
                parts[col].append(_default(col, n))
            else:
                parts[col].append(np.broadcast_to(np.asarray(value), (n,)))
        if columns:  # a programming error: a column the schema does not have
            msg = f"unknown event column(s): {', '.join(columns)}"
            raise KeyError(msg)
        self.n += n

    def clear(self) -> None:
        """Drop the buffered rows (a model without an event log)."""
        self._parts = {c: [] for c in self.schema.names}
        self.n = 0

    def take(self) -> dict[str, Any]:
        """The buffered rows as the log's columns (and an empty buffer)."""
        cols = {c: np.concatenate(v) for c, v in self._parts.items() if v}
        self._parts = {c: [] for c in self.schema.names}
        self.n = 0
        minute = cols.pop("minute")
        out: dict[str, Any] = {
            "step": (minute // 60).astype(np.int32),
            "day": (minute // 1440).astype(np.int32),
            "minute": minute.astype(np.int32),
            "timestamp": pl.Series(
                "timestamp", (self.start_ms + minute * 60_000).astype("datetime64[ms]")
            ),
        }
        dtypes = self.schema.columns
        for col, values in cols.items():
            dtype = dtypes[col]
            if isinstance(dtype, pl.Enum):
                cats = pl.Series(col, dtype.categories, dtype=dtype)
                codes = pl.Series(values.astype(np.int64))
                if (values < 0).any():
                    codes = codes.set(pl.Series(values < 0), None)
                out[col] = cats.gather(codes)
            elif col in _INT:
                out[col] = values.astype(_INT[col][0])
            elif col == "critical":
                out[col] = values.astype(bool)
            else:  # intensity: null where it does not apply
                out[col] = pl.Series(col, values.astype(np.float64), nan_to_null=True)
        return out


def _default(col: str, n: int) -> np.ndarray:
    if col in _INT:
        return np.full(n, _INT[col][1], dtype=np.int64)
    if col in _CODES:
        return np.full(n, _CODES[col], dtype=np.int64)
    if col == "critical":
        return np.zeros(n, dtype=bool)
    return np.full(n, np.nan)
