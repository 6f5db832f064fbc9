"""Reliability indices of IEEE Std 1366, from outage records.

An outage record is one customer interruption: which customer, when it started and ended
(minutes since the run's start), and what caused it. `outage_records` reads them from an event
log (its ``outage_end`` rows, and the ``outage_open`` rows of interruptions still going on at the
end of the run, counted up to then). From them, as IEEE Std 1366 defines them (``N_i`` customers
interrupted by interruption event i for ``r_i`` minutes, ``N_T`` customers served):

* **SAIFI** = sum N_i / N_T, the interruptions an average customer has;
* **SAIDI** = sum r_i N_i / N_T, the minutes an average customer is without power;
* **CAIDI** = sum r_i N_i / sum N_i = SAIDI / SAIFI, the mean duration of an interruption;
* **customer minutes lost** (CML) = sum r_i N_i.

Only sustained interruptions count: those lasting **more than five minutes** (the standard's
dividing line; shorter ones are momentary and reported apart, as ``momentary``). A record is one
customer, so ``N_i`` is 1 per record and the sums run over records. Broken down by day, an
interruption counts on the day it began (as the standard assigns daily SAIDI); by zone, ``N_T``
is the zone's customers.

Also here: `long_interruption_share`, the share of customers with an interruption longer than
t hours (in the spirit of the standard's CELID-s, customers experiencing lengthy interruption
durations); `outage_sizes`, the customers and customer-minutes of each outage (all the
interruptions that trace back to one root failure, cascades included); and
`major_event_days`, the standard's "2.5 beta" method that separates the rare days that matter
from the others.

Libraries: polars.

References
----------
IEEE Std 1366-2022, IEEE Guide for Electric Power Distribution Reliability Indices,
https://doi.org/10.1109/IEEESTD.2022.9955492.

Examples
--------
Ten customers; a storm cuts four of them off for 90 minutes, a fault two for 30 minutes, and a
recloser one for 3 minutes (momentary):

>>> records = pl.DataFrame({"customer": [0, 1, 2, 3, 4, 5, 6],
...                         "start": [0, 0, 0, 0, 600, 600, 900],
...                         "duration_min": [90, 90, 90, 90, 30, 30, 3]})
>>> row = reliability_indices(records, customers_served=10).row(0, named=True)
>>> row["SAIFI"], row["SAIDI"], row["CAIDI"], row["CML"], row["momentary"]
(0.6, 42.0, 70.0, 420.0, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from populations.errors import ConfigError, closest_hint

__all__ = [
    "MINUTES_PER_DAY",
    "SUSTAINED_MINUTES",
    "long_interruption_share",
    "major_event_days",
    "outage_records",
    "outage_sizes",
    "reliability_indices",
]

SUSTAINED_MINUTES = 5.0
"""IEEE 1366: an interruption lasting more than this many minutes is sustained."""
MINUTES_PER_DAY = 1440


def outage_records(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per customer interruption, from an outages event log.

    Rows ``outage_end`` (finished) and ``outage_open`` (still going at the end of the run,
    counted up to then: ``open`` is True). Columns: the log's customer and cause columns, with
    ``start`` and ``end`` (minutes since the run's start), ``duration_min`` and ``day`` (of the
    start).
    """
    lf = events.lazy() if isinstance(events, pl.DataFrame) else events
    return (
        lf.filter(pl.col("event").cast(pl.String).is_in(["outage_end", "outage_open"]))
        .with_columns(
            (pl.col("minute") - pl.col("duration_min")).alias("start"),
            pl.col("minute").alias("end"),
            (pl.col("event").cast(pl.String) == "outage_open").alias("open"),
        )
        .with_columns((pl.col("start") // MINUTES_PER_DAY).cast(pl.Int32).alias("day"))
        .collect()
    )


def _check_records(records: Any, need: Sequence[str]) -> pl.DataFrame:
    if not isinstance(records, pl.DataFrame):
        msg = (
            f"`records` must be a polars DataFrame of outage records, got {type(records).__name__}."
        )
        raise ConfigError(msg)
    for col in need:
        if col not in records.columns:
            msg = f"outage records have no column `{col}`. " + closest_hint(col, records.columns)
            raise ConfigError(msg)
    return records


def reliability_indices(
    records: pl.DataFrame,
    *,
    customers_served: int | Mapping[str, int],
    by: str | Sequence[str] = (),
    days: int | None = None,
) -> pl.DataFrame:
    """SAIFI, SAIDI, CAIDI and customer minutes lost of `records`, overall or by group.

    Parameters
    ----------
    records : polars.DataFrame
        Outage records (`outage_records`): ``duration_min``, and ``start`` (or ``day``) and
        the group columns used.
    customers_served : int or mapping of zone to int
        ``N_T``: the customers served; a mapping by zone when `by` includes ``zone`` (every
        zone in it gets a row, those without interruptions too), else its total is used.
    by : str or sequence of str
        Group columns: ``day`` (of the start), ``zone`` and any other column of the records.
    days : int, optional
        With ``by`` including ``day``: give every day ``0 .. days-1`` a row.

    Returns
    -------
    polars.DataFrame
        The group columns, ``customers_served``, ``interruptions`` (sustained, sum N_i),
        ``CML`` (sum r_i N_i, minutes), ``SAIFI``, ``SAIDI`` (minutes), ``CAIDI`` (minutes;
        null without interruptions) and ``momentary`` (interruptions of 5 minutes or less).
    """
    by = [by] if isinstance(by, str) else list(by)
    records = _check_records(records, ["duration_min", *[c for c in by if c != "day"]])
    if "day" in by and "day" not in records.columns:
        records = _check_records(records, ["start"]).with_columns(
            (pl.col("start") // MINUTES_PER_DAY).cast(pl.Int32).alias("day")
        )
    if isinstance(customers_served, Mapping):
        served = {str(k): int(v) for k, v in customers_served.items()}
        total = sum(served.values())
    else:
        if "zone" in by:
            msg = "`customers_served` must map each zone to its customers when `by` has `zone`."
            raise ConfigError(msg)
        served, total = {}, int(customers_served)
    if total <= 0:
        msg = f"`customers_served` must be positive, got {total}."
        raise ConfigError(msg)
    sustained = pl.col("duration_min") > SUSTAINED_MINUTES
    frame = records.with_columns(pl.col(c).cast(pl.String) for c in by if c == "zone")
    agg = [
        sustained.sum().cast(pl.Int64).alias("interruptions"),
        pl.col("duration_min").filter(sustained).sum().cast(pl.Float64).alias("CML"),
        (~sustained).sum().cast(pl.Int64).alias("momentary"),
    ]
    if by:
        table = frame.group_by(by).agg(agg)
        keys = _all_groups(frame, by, served, days)
        table = keys.join(table, on=by, how="left").with_columns(
            pl.col("interruptions", "momentary").fill_null(0), pl.col("CML").fill_null(0.0)
        )
    else:
        table = frame.select(agg)
    if "zone" in by:
        table = table.with_columns(
            pl.col("zone")
            .replace_strict(served, default=None, return_dtype=pl.Int64)
            .alias("customers_served")
        )
        unknown = table.filter(pl.col("customers_served").is_null())
        if unknown.height:
            zone = unknown["zone"][0]
            msg = f"zone `{zone}` has interruptions but no entry in `customers_served`. " + (
                closest_hint(str(zone), served)
            )
            raise ConfigError(msg)
    else:
        table = table.with_columns(pl.lit(total, pl.Int64).alias("customers_served"))
    n_t = pl.col("customers_served").cast(pl.Float64)
    table = table.with_columns(
        (pl.col("interruptions") / n_t).alias("SAIFI"),
        (pl.col("CML") / n_t).alias("SAIDI"),
        pl.when(pl.col("interruptions") > 0)
        .then(pl.col("CML") / pl.col("interruptions"))
        .otherwise(None)
        .alias("CAIDI"),
    )
    columns = [
        *by,
        "customers_served",
        "interruptions",
        "CML",
        "SAIFI",
        "SAIDI",
        "CAIDI",
        "momentary",
    ]
    return table.select(columns).sort(by) if by else table.select(columns)


def _all_groups(
    frame: pl.DataFrame, by: list[str], served: Mapping[str, int], days: int | None
) -> pl.DataFrame:
    """Every combination of the group values that should get a row."""
    keys: pl.DataFrame | None = None
    for col in by:
        if col == "zone" and served:
            values = pl.DataFrame(
                {"zone": sorted(set(served) | set(frame["zone"].unique().to_list()))}
            )
        elif col == "day" and days is not None:
            top = max(days, int(frame["day"].max()) + 1 if frame.height else 0)
            values = pl.DataFrame({"day": pl.int_range(0, top, dtype=pl.Int32, eager=True)})
        else:
            values = frame.select(pl.col(col).unique())
        values = values.with_columns(
            pl.col(col).cast(frame.schema[col]) if col in frame.columns else pl.col(col)
        )
        keys = values if keys is None else keys.join(values, how="cross")
    assert keys is not None
    return keys


def long_interruption_share(
    records: pl.DataFrame, *, customers_served: int, hours: float = 24.0
) -> float:
    """The share of customers with at least one interruption longer than `hours`.

    Open interruptions count with their duration up to the end of the run.
    """
    records = _check_records(records, ["customer", "duration_min"])
    long = records.filter(pl.col("duration_min") > hours * 60.0)["customer"].n_unique()
    return long / int(customers_served)


def outage_sizes(records: pl.DataFrame) -> pl.DataFrame:
    """Each outage's size: the interruptions that trace back to one root failure.

    Returns one row per ``root`` (failure id) with its ``root_cause`` (when the records have
    it), ``start`` (the first interruption), ``customers`` (interruptions, sustained or not),
    ``CML`` (their minutes) and ``critical`` (critical customers among them), largest first.
    """
    records = _check_records(records, ["root", "duration_min", "start"])
    agg = [
        pl.col("start").min(),
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("duration_min").sum().cast(pl.Float64).alias("CML"),
    ]
    if "root_cause" in records.columns:
        agg.insert(0, pl.col("root_cause").first())
    if "critical" in records.columns:
        agg.append(pl.col("critical").sum().cast(pl.Int64).alias("critical"))
    return (
        records.filter(pl.col("root") >= 0)
        .group_by("root")
        .agg(agg)
        .sort(["customers", "root"], descending=[True, False])
    )


def major_event_days(
    daily_saidi: Sequence[float] | np.ndarray | pl.Series,
    *,
    history: Sequence[float] | np.ndarray | pl.Series | None = None,
) -> tuple[float, np.ndarray]:
    """IEEE 1366's major event days: days whose SAIDI exceeds ``T_MED = exp(alpha + 2.5 beta)``.

    ``alpha`` and ``beta`` are the mean and standard deviation of the natural log of the daily
    SAIDI values of `history` (the standard takes five years of them; by default
    `daily_saidi` itself), days with a SAIDI of zero left out, as the standard leaves them.

    Returns
    -------
    (T_MED, is_major) : the threshold (minutes; NaN with fewer than two non-zero days) and a
    boolean per day of `daily_saidi`.

    Examples
    --------
    >>> t, major = major_event_days([1.0, np.e, np.e**2, 0.0, 400.0],
    ...                             history=[1.0, np.e, np.e**2])
    >>> round(t, 3), major.tolist()  # alpha = 1, beta = 1: T_MED = e^3.5
    (33.115, [False, False, False, False, True])
    """
    values = np.asarray(daily_saidi, dtype=np.float64)
    base = values if history is None else np.asarray(history, dtype=np.float64)
    logs = np.log(base[base > 0])
    if logs.size < 2:
        return math.nan, np.zeros(values.size, dtype=bool)
    alpha, beta = float(logs.mean()), float(logs.std(ddof=1))
    threshold = math.exp(alpha + 2.5 * beta)
    return threshold, values > threshold
