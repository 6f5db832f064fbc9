"""The network's customers, from a synthetic population: households, businesses, critical sites.

* **Households**: one customer per ``household_id``, in its zone; mean demand grows with its
  size (0.25 kW plus 0.12 kW a person, the order of European household consumption, 3-5 MWh
  a year) and with income when the population has one, with a lognormal spread.
* **Businesses**: per zone, one for every ten employed residents (the demo city records where
  people live, not where they work, so resident employment stands in for jobs), lognormal
  around 6 kW.
* **Critical customers**: hospitals (one per 50,000 persons, at least one, in the most
  populous zone of the most populous districts; 600 kW each) and care homes (one per 200
  persons aged 80 or more, spread over zones by their elderly; 40 kW each). They are flagged
  ``critical``: the ``critical_first`` dispatch rule restores them first, and indices can be
  computed for them apart.

Each customer's hourly demand is its mean demand times the profile of its kind
(`scenarios.outages.demand`). Customer ids are rows: ``0 .. n-1``, households first (in
``household_id`` order), then businesses, hospitals and care homes, so the same population
gives the same ids.

Libraries: polars (grouping the persons).

Examples
--------
>>> persons = pl.DataFrame({"household_id": [1, 1, 2], "zone": ["a", "a", "b"],
...                         "age": [40, 85, 30], "employment": ["employed"] * 3})
>>> c = build_customers(persons, rng=np.random.default_rng(0))
>>> c.select("kind", "zone", "critical").rows()  # doctest: +NORMALIZE_WHITESPACE
[('household', 'a', False), ('household', 'b', False), ('business', 'a', False),
 ('business', 'b', False), ('hospital', 'a', True), ('care_home', 'a', True)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from populations.errors import ConfigError

__all__ = ["CUSTOMER_KINDS", "KIND_CODE", "build_customers"]

CUSTOMER_KINDS = ("household", "business", "hospital", "care_home")
"""The kinds of customer (`pl.Enum` categories of the ``kind`` column)."""
KIND_CODE = {k: i for i, k in enumerate(CUSTOMER_KINDS)}
CRITICAL = ("hospital", "care_home")

_BUSINESS_PER_EMPLOYED = 0.1
_PERSONS_PER_HOSPITAL = 50_000
_ELDERLY_PER_CARE_HOME = 200
_ELDERLY_AGE = 80
_KW = {"business": 6.0, "hospital": 600.0, "care_home": 40.0}


def _zone_labels(zone: pl.Series) -> list[str]:
    if isinstance(zone.dtype, pl.Enum):
        return zone.dtype.categories.to_list()
    return sorted(zone.cast(pl.String).unique().to_list())


def _check(persons: Any) -> pl.DataFrame:
    if not isinstance(persons, pl.DataFrame):
        msg = (
            f"`persons` must be a polars DataFrame, got {type(persons).__name__}. "
            "Hint: `polars.from_pandas(df)` converts a pandas frame."
        )
        raise ConfigError(msg)
    for name in ("household_id", "zone"):
        if name not in persons.columns:
            msg = (
                f"`persons` has no column `{name}`. Hint: customers are households (grouped by "
                "household_id) in their zone."
            )
            raise ConfigError(msg)
        nulls = persons[name].null_count()
        if nulls:
            msg = f"`persons` column `{name}` has {nulls} missing value(s). Hint: fill them first."
            raise ConfigError(msg)
    if persons.height == 0:
        msg = "`persons` has no rows: a network needs customers."
        raise ConfigError(msg)
    return persons


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers summing to `total` in proportion to `weights` (Hamilton's method)."""
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(weights.size, dtype=np.int64)
    quota = weights / weights.sum() * total
    counts = np.floor(quota).astype(np.int64)
    rest = total - counts.sum()
    counts[np.argsort(-(quota - counts), kind="stable")[:rest]] += 1
    return counts


def build_customers(persons: pl.DataFrame, *, rng: np.random.Generator) -> pl.DataFrame:
    """Customers of the population `persons` (see the module docstring).

    Parameters
    ----------
    persons : polars.DataFrame
        One row per person with ``household_id`` and ``zone``; ``age``, ``employment``
        (``employed`` counts), ``income`` and ``district`` are used when present.
    rng : numpy Generator
        Draws the spread of mean demands.

    Returns
    -------
    polars.DataFrame
        ``customer_id``, ``kind`` (Enum), ``zone`` (Enum of the population's zones),
        ``household_id`` (-1 for others), ``persons``, ``critical``, ``base_kw`` (mean demand).
    """
    persons = _check(persons)
    zones = _zone_labels(persons["zone"])
    zone_enum = pl.Enum(zones)
    persons = persons.with_columns(pl.col("zone").cast(pl.String).cast(zone_enum))
    income = "income" in persons.columns
    households = (
        persons.group_by("household_id")
        .agg(
            pl.col("zone").first(),
            pl.len().alias("persons"),
            (pl.col("income").fill_null(0).sum() if income else pl.lit(0.0)).alias("income"),
        )
        .sort("household_id")
    )
    size = households["persons"].to_numpy().astype(np.float64)
    kw = 0.25 + 0.12 * size
    if income:
        money = households["income"].to_numpy().astype(np.float64)
        median = np.median(money[money > 0]) if (money > 0).any() else 1.0
        kw *= np.clip(np.maximum(money, 0.1 * median) / median, 0.3, 5.0) ** 0.15
    kw *= rng.lognormal(0.0, 0.25, size.size)

    zone_codes = persons["zone"].to_physical().to_numpy()
    n_zones = len(zones)
    residents = np.bincount(zone_codes, minlength=n_zones)
    if "employment" in persons.columns:
        employed = persons["employment"].cast(pl.String) == "employed"
        workers = np.bincount(zone_codes[employed.to_numpy()], minlength=n_zones)
    else:
        workers = residents // 2
    n_business = np.where(
        residents > 0, np.maximum(1, np.rint(workers * _BUSINESS_PER_EMPLOYED)), 0
    )
    business_zone = np.repeat(np.arange(n_zones), n_business.astype(np.int64))

    n_hospitals = max(1, round(persons.height / _PERSONS_PER_HOSPITAL))
    if "district" in persons.columns:
        by_district = (
            persons.group_by(pl.col("district").cast(pl.String), "zone")
            .len()
            .sort(["len", "district", "zone"], descending=[True, False, False])
        )
        best = by_district.unique("district", keep="first", maintain_order=True)
        hospital_zone = best["zone"].to_physical().to_numpy()[:n_hospitals]
    else:
        hospital_zone = np.argsort(-residents, kind="stable")[:n_hospitals]
    if "age" in persons.columns:
        elderly = np.bincount(
            zone_codes[(persons["age"] >= _ELDERLY_AGE).to_numpy()], minlength=n_zones
        )
    else:
        elderly = np.zeros(n_zones, dtype=np.int64)
    n_care = _largest_remainder(
        elderly.astype(np.float64), round(elderly.sum() / _ELDERLY_PER_CARE_HOME)
    )
    if elderly.sum() > 0 and n_care.sum() == 0:
        n_care[np.argmax(elderly)] = 1
    care_zone = np.repeat(np.arange(n_zones), n_care)

    n_b, n_h, n_c = business_zone.size, hospital_zone.size, care_zone.size
    kinds = np.concatenate(
        [
            np.full(households.height, KIND_CODE["household"]),
            np.full(n_b, KIND_CODE["business"]),
            np.full(n_h, KIND_CODE["hospital"]),
            np.full(n_c, KIND_CODE["care_home"]),
        ]
    ).astype(np.int8)
    zone = np.concatenate(
        [households["zone"].to_physical().to_numpy(), business_zone, hospital_zone, care_zone]
    ).astype(np.int64)
    base = np.concatenate(
        [
            kw,
            _KW["business"] * rng.lognormal(0.0, 0.8, n_b),
            np.full(n_h, _KW["hospital"]),
            np.full(n_c, _KW["care_home"]),
        ]
    )
    household_id = np.concatenate(
        [households["household_id"].to_numpy().astype(np.int64), np.full(n_b + n_h + n_c, -1)]
    )
    n_persons = np.concatenate([size.astype(np.int32), np.zeros(n_b + n_h + n_c, np.int32)])
    n = kinds.size
    return pl.DataFrame(
        {
            "customer_id": np.arange(n, dtype=np.int64),
            "kind": pl.Series(CUSTOMER_KINDS, dtype=pl.Enum(CUSTOMER_KINDS)).gather(kinds),
            "zone": pl.Series(zones, dtype=zone_enum).gather(zone),
            "household_id": household_id,
            "persons": n_persons,
            "critical": np.isin(kinds, [KIND_CODE[k] for k in CRITICAL]),
            "base_kw": base,
        }
    )
