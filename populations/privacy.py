"""Disclosure risk: what a synthetic population reveals about the seed microdata behind it.

A population built by reweighting seed households copies seed records: every synthetic person
carries the categories of a real (seed) person. A rare combination of quasi-identifiers (QIs:
attributes an outsider could know, such as age, sex, area, household size) can then point at
one real person. `disclosure_risk` measures that risk on the QIs, comparing the synthetic
records with the seed records they came from:

* **identical share**: synthetic records whose QI values equal those of some seed record (the
  complement of SDMetrics' *NewRowSynthesis*).
* **replicated sample uniques**: seed records unique in the seed on the QIs whose combination
  reappears in the synthetic population (the R package synthpop's ``replicated.uniques``); count,
  share of the seed uniques and share of all seed records.
* **distance to closest record** (DCR, as in SDMetrics): for each synthetic record, the Gower
  distance to the nearest seed record, against the seed's own leave-one-out nearest-neighbour
  distances. If synthetic records sit much closer to seed records than seed records sit to each
  other, the synthesis copies rather than generalises.
* **k-anonymity** (Sweeney 2002) of the synthetic population on the QIs: the smallest class of
  records sharing one QI combination, and the share of records in classes smaller than `k`.

None of these is a guarantee: this is not differential privacy (see ``docs/privacy.md``).

Records are persons, each with its household's columns (`records`). Two QIs may be derived when
a table lacks them: ``household_size`` (persons per household id) and ``X_band`` for a numeric
column ``X`` (bands from the seed's quintiles, zero its own band; see `Derived`).

Distance: Gower's distance (Gower 1971), the mean over QIs of a per-QI distance in [0, 1]:
``|a - b| / range`` for a numeric QI (range over both tables), 0 or 1 for a categorical one. It
is computed exactly as an L1 distance with `scipy.spatial.cKDTree` (``p=1``) on encoded
features: each categorical QI one-hot with entries 1/2 (a mismatch differs in two coordinates by
1/2 each, so adds 1), each numeric QI divided by its range; the sum divided by the number of QIs.
Counting uses polars group-bys and joins, and each distinct synthetic combination is queried
once, so a million synthetic persons cost about as much as their distinct combinations.

References
----------
Sweeney L. (2002). k-anonymity: a model for protecting privacy. doi:10.1142/S0218488502001648.
Nowok B., Raab G. M., Dibben C. (2016). synthpop: bespoke creation of synthetic data in R.
doi:10.18637/jss.v074.i11.
Gower J. C. (1971). A general coefficient of similarity. doi:10.2307/2528823.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.spatial import cKDTree

from populations.errors import ConfigError, SeedSampleError, closest_hint

__all__ = [
    "DEFAULT_QUASI_IDENTIFIERS",
    "Check",
    "Derived",
    "DisclosureReport",
    "QITables",
    "Thresholds",
    "disclosure_risk",
    "prepare",
    "qi_tables",
    "records",
    "resolve_quasi_identifiers",
]

# One entry per kind of quasi-identifier: the first name available in both tables is used.
DEFAULT_QUASI_IDENTIFIERS: tuple[tuple[str, ...], ...] = (
    ("age_band", "age"),
    ("sex", "gender"),
    ("zone", "district"),
    ("hh_size", "household_size"),
    ("employment",),
    ("income_band",),
)

MISSING_LABEL = "(missing)"
_QUANTILES = {"p05": 0.05, "p25": 0.25, "median": 0.5}


@dataclass(frozen=True)
class Derived:
    """A quasi-identifier computed from other columns, the same way in both tables.

    ``kind="household_size"``: persons per value of `source` (the household id).
    ``kind="band"``: the numeric column `source` cut at `edges` (from the seed: its quintiles,
    rounded to three significant figures; exact zeros form a band of their own when at least 5%
    of the seed's values are zero).
    """

    name: str
    kind: str
    source: str
    edges: tuple[float, ...] = ()
    zero_band: bool = False

    def labels(self) -> list[str]:
        if self.kind != "band":
            return []
        e = [_fmt(x) for x in self.edges]
        out = ["0"] if self.zero_band else []
        if not e:
            return [*out, "all"]
        out.append(f"below {e[0]}")
        out += [f"{a} to {b}" for a, b in zip(e[:-1], e[1:], strict=True)]
        out.append(f"{e[-1]} and over")
        return out

    def describe(self) -> str:
        if self.kind == "household_size":
            return f"persons per `{self.source}`"
        return f"`{self.source}` in bands: " + ", ".join(self.labels())

    def compute(self, frame: pl.DataFrame) -> pl.Series:
        if self.kind == "household_size":
            return frame.select(pl.len().over(self.source).cast(pl.Float64)).to_series()
        x = _numeric(frame[self.source])
        if x is None:
            msg = f"`{self.source}` is not numeric, so `{self.name}` cannot be derived from it"
            raise ConfigError(msg)
        values = x.to_numpy()
        labels = np.array(self.labels(), dtype=object)
        offset = 1 if self.zero_band else 0
        idx = offset + np.searchsorted(np.asarray(self.edges), values, side="right")
        if self.zero_band:
            idx = np.where(values == 0, 0, idx)
        idx = np.clip(idx, 0, labels.size - 1)
        out = labels[idx]
        out[np.isnan(values)] = MISSING_LABEL
        return pl.Series(self.name, out, dtype=pl.String)


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}"


def _round_sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _band(name: str, source: str, seed_values: np.ndarray) -> Derived:
    v = seed_values[np.isfinite(seed_values)]
    zero_band = v.size > 0 and float(np.mean(v == 0)) >= 0.05
    rest = v[v != 0] if zero_band else v
    edges: list[float] = []
    if rest.size:
        for q in np.quantile(rest, [0.2, 0.4, 0.6, 0.8]):
            e = _round_sig(float(q))
            if (not edges or e > edges[-1]) and e > rest.min():
                edges.append(e)
    return Derived(name, "band", source, tuple(edges), zero_band)


def _numeric(series: pl.Series) -> pl.Series | None:
    """`series` as Float64 if every value present is a number, else None."""
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    if series.dtype in (pl.String, pl.Categorical) or isinstance(series.dtype, pl.Enum):
        text = series.cast(pl.String)
        number = text.str.strip_chars().cast(pl.Float64, strict=False)
        if number.null_count() == text.null_count() and text.len() > text.null_count():
            return number
    return None


def records(
    persons: pl.DataFrame,
    households: pl.DataFrame | None = None,
    *,
    household_id: str = "household_id",
) -> pl.DataFrame:
    """Persons with their household's columns (those the persons table lacks), in person order.

    >>> p = pl.DataFrame({"household_id": [1, 1, 2], "sex": ["f", "m", "f"]})
    >>> h = pl.DataFrame({"household_id": [1, 2], "cars": ["0", "2"]})
    >>> records(p, h)["cars"].to_list()
    ['0', '0', '2']
    """
    if households is None or household_id not in persons.columns:
        return persons
    extra = [c for c in households.columns if c not in persons.columns]
    if not extra or household_id not in households.columns:
        return persons
    right = households.select(household_id, *extra)
    if persons.schema[household_id] != right.schema[household_id]:
        right = right.with_columns(pl.col(household_id).cast(persons.schema[household_id]))
    return persons.join(right, on=household_id, how="left", maintain_order="left")


def _available(frame: pl.DataFrame, name: str) -> bool:
    if name in frame.columns:
        return True
    if name == "household_size":
        return "household_id" in frame.columns
    if name.endswith("_band"):
        source = name.removesuffix("_band")
        return source in frame.columns and _numeric(frame[source]) is not None
    return False


def resolve_quasi_identifiers(
    synthetic: pl.DataFrame,
    seed: pl.DataFrame,
    requested: Sequence[str] | None = None,
) -> tuple[list[str], dict[str, Derived]]:
    """The quasi-identifiers to use and how the derived ones are computed.

    Without `requested`, the defaults (`DEFAULT_QUASI_IDENTIFIERS`): per kind, the first name
    both tables have or can derive. A requested name that either table lacks is an error that
    names it, the table, and the closest column.

    >>> syn = pl.DataFrame({"sex": ["f"], "district": ["a"], "income": [5.0]})
    >>> seed = pl.DataFrame({"sex": ["m"], "district": ["a"], "income": ["0"]})
    >>> resolve_quasi_identifiers(syn, seed)[0]
    ['sex', 'district', 'income_band']
    """
    if requested is None:
        qis = []
        for kind in DEFAULT_QUASI_IDENTIFIERS:
            name = next((n for n in kind if _available(synthetic, n) and _available(seed, n)), None)
            if name is not None:
                qis.append(name)
        if not qis:
            wanted = ", ".join(f"`{k[0]}`" for k in DEFAULT_QUASI_IDENTIFIERS)
            msg = (
                f"none of the default quasi-identifiers ({wanted}) is in both the synthetic "
                "population and the seed sample. Hint: name the columns an outsider could know "
                "with --qi (or quasi_identifiers = [...] in [privacy])."
            )
            raise ConfigError(msg)
    else:
        qis = list(dict.fromkeys(requested))
        if not qis:
            msg = "expected at least one quasi-identifier, found none"
            raise ConfigError(msg)
        problems = []
        for name in qis:
            lacking = [
                what
                for what, frame in (("synthetic population", synthetic), ("seed sample", seed))
                if not _available(frame, name)
            ]
            if lacking:
                table = synthetic if lacking[0] == "synthetic population" else seed
                choices = set(table.columns) | {"household_size"}
                problems.append(
                    f"`{name}` is not in the {' nor the '.join(lacking)} "
                    f"({closest_hint(name, choices)})"
                )
        if problems:
            msg = "quasi-identifier(s) not found: " + "; ".join(problems)
            raise ConfigError(msg)
    derived = {}
    for name in qis:
        if name in synthetic.columns and name in seed.columns:
            continue
        if name == "household_size":
            derived[name] = Derived(name, "household_size", "household_id")
        else:
            source = name.removesuffix("_band")
            base = seed if source in seed.columns else synthetic  # edges from the seed if it can
            derived[name] = _band(name, source, _numeric(base[source]).to_numpy())
    return qis, derived


def prepare(
    frame: pl.DataFrame,
    quasi_identifiers: Sequence[str],
    derived: Mapping[str, Derived],
    numeric: Sequence[str],
) -> pl.DataFrame:
    """The QI columns of `frame`: Float64 for the `numeric` ones, text for the others."""
    cols = []
    for name in quasi_identifiers:
        series = frame[name] if name in frame.columns else derived[name].compute(frame)
        if name in numeric:
            cols.append(_numeric(series).alias(name))
        else:
            if series.dtype.is_float():
                # 3.0 and "3" are the same label; integral floats print without decimals.
                series = pl.Series(name, [_label(x) for x in series.to_list()], dtype=pl.String)
            cols.append(series.cast(pl.String).fill_null(MISSING_LABEL).alias(name))
    return pl.DataFrame(cols)


def _label(x: float | None) -> str | None:
    if x is None:
        return None
    return str(int(x)) if float(x).is_integer() else str(x)


def _classify(
    synthetic: pl.DataFrame, seed: pl.DataFrame, qis: Sequence[str], derived: Mapping[str, Derived]
) -> list[str]:
    """QIs numeric in both tables (derived household sizes are numbers, bands are labels)."""
    numeric = []
    for name in qis:
        if name in derived:
            if derived[name].kind == "household_size":
                numeric.append(name)
            continue
        a, b = _numeric(synthetic[name]), _numeric(seed[name])
        if a is not None and b is not None:
            for what, values in (("synthetic population", a), ("seed sample", b)):
                if values.null_count():
                    msg = (
                        f"quasi-identifier `{name}`: the {what} has {values.null_count():,} "
                        "missing values, so distances cannot be computed. Hint: use a banded "
                        f"quasi-identifier instead (`{name}_band`), or fill the gaps."
                    )
                    raise SeedSampleError(msg)
            numeric.append(name)
    return numeric


def _check_labels(syn: pl.DataFrame, seed: pl.DataFrame, categorical: Sequence[str]) -> None:
    """Refuse a categorical QI whose labels differ both ways (a recoding, not a subset)."""
    for name in categorical:
        a = set(syn[name].unique().to_list())
        b = set(seed[name].unique().to_list())
        only_syn, only_seed = sorted(a - b), sorted(b - a)
        if only_syn and only_seed:
            hint = closest_hint(only_syn[0], b)
            msg = (
                f"quasi-identifier `{name}`: the synthetic population and the seed sample use "
                f"different labels (synthetic only: {_show(only_syn)}; seed only: "
                f"{_show(only_seed)}), so no record could be matched. {hint} Recode one table "
                "to the other's labels."
            )
            raise SeedSampleError(msg)


def _show(labels: Sequence[str], n: int = 4) -> str:
    shown = ", ".join(f"`{x}`" for x in labels[:n])
    return shown + (f" and {len(labels) - n} more" if len(labels) > n else "")


@dataclass(frozen=True)
class Thresholds:
    """Limits for `DisclosureReport.checks`; None leaves a measure unchecked.

    Parameters
    ----------
    max_replicated_uniques : most seed uniques allowed to reappear in the synthetic records.
    min_k : smallest class size allowed in the synthetic population (k-anonymity).
    max_identical_share : largest share of synthetic records allowed to equal a seed record.
    """

    max_replicated_uniques: int | None = None
    min_k: int | None = None
    max_identical_share: float | None = None


@dataclass(frozen=True)
class Check:
    """One threshold against its measure."""

    name: str
    value: float
    limit: float
    passed: bool
    message: str


@dataclass
class DisclosureReport:
    """The disclosure-risk measures of one synthetic population against its seed sample.

    `replicated_seed_rows` (row positions in the seed records of the replicated uniques) is for
    the data holder only and is left out of `to_dict` and `write_json`: a report shared with the
    synthetic data must not point at real records.
    """

    quasi_identifiers: list[str]
    derived: dict[str, str]
    synthetic_records: int
    seed_records: int
    identical_records: int
    seed_uniques: int
    replicated_uniques: int
    k: int
    classes: int
    min_class_size: int
    records_below_k: int
    synthetic_uniques: int
    dcr_synthetic: dict[str, float]
    dcr_seed: dict[str, float | None]
    seconds: float = 0.0
    replicated_seed_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def identical_share(self) -> float:
        return self.identical_records / self.synthetic_records

    @property
    def replicated_share(self) -> float:
        """Share of the seed's sample uniques that reappear (0 when there are none)."""
        return self.replicated_uniques / self.seed_uniques if self.seed_uniques else 0.0

    @property
    def share_below_k(self) -> float:
        return self.records_below_k / self.synthetic_records

    def to_dict(self) -> dict[str, Any]:
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "derived": dict(self.derived),
            "records": {"synthetic": self.synthetic_records, "seed": self.seed_records},
            "identical": {"records": self.identical_records, "share": self.identical_share},
            "sample_uniques": {
                "seed_uniques": self.seed_uniques,
                "replicated": self.replicated_uniques,
                "replicated_share": self.replicated_share,
                "share_of_seed_records": self.replicated_uniques / self.seed_records,
            },
            "k_anonymity": {
                "k": self.k,
                "classes": self.classes,
                "min_class_size": self.min_class_size,
                "records_below_k": self.records_below_k,
                "share_below_k": self.share_below_k,
                "synthetic_uniques": self.synthetic_uniques,
            },
            "distance_to_closest_record": {
                "metric": "gower",
                "synthetic_to_seed": dict(self.dcr_synthetic),
                "seed_to_seed": dict(self.dcr_seed),
            },
            "seconds": round(self.seconds, 4),
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def to_frame(self) -> pl.DataFrame:
        """One row per figure: ``measure``, ``value``, ``meaning``."""
        d, s = self.dcr_synthetic, self.dcr_seed
        rows = [
            ("synthetic records", self.synthetic_records, "persons in the synthetic population"),
            ("seed records", self.seed_records, "persons in the seed sample"),
            (
                "identical share",
                self.identical_share,
                "synthetic records equal to some seed record on the QIs",
            ),
            ("seed uniques", self.seed_uniques, "seed records alone in the seed on the QIs"),
            (
                "replicated uniques",
                self.replicated_uniques,
                "seed uniques whose QI values reappear in the synthetic records",
            ),
            ("replicated share", self.replicated_share, "replicated uniques / seed uniques"),
            ("min class size", self.min_class_size, "smallest synthetic class (k-anonymity)"),
            (
                f"share in classes < {self.k}",
                self.share_below_k,
                f"synthetic records sharing their QI values with fewer than {self.k - 1} others",
            ),
            ("DCR share at 0", d["share_zero"], "synthetic records at distance 0 from the seed"),
            ("DCR median", d["median"], "median Gower distance, synthetic to closest seed"),
            ("seed NN median", s["median"], "median Gower distance, seed to closest other seed"),
        ]
        return pl.DataFrame(
            {
                "measure": [r[0] for r in rows],
                "value": [float(r[1]) if r[1] is not None else None for r in rows],
                "meaning": [r[2] for r in rows],
            }
        )

    def checks(self, thresholds: Thresholds) -> list[Check]:
        """Each threshold set in `thresholds`, against its measure."""
        out = []
        t = thresholds
        if t.max_replicated_uniques is not None:
            v, lim = self.replicated_uniques, t.max_replicated_uniques
            out.append(
                Check(
                    "replicated_uniques",
                    v,
                    lim,
                    v <= lim,
                    f"{v:,} replicated sample uniques ({self.replicated_share:.1%} of the "
                    f"{self.seed_uniques:,} seed uniques), at most {lim:,} allowed",
                )
            )
        if t.min_k is not None:
            v, lim = self.min_class_size, t.min_k
            out.append(
                Check(
                    "min_k",
                    v,
                    lim,
                    v >= lim,
                    f"smallest class of the synthetic population has {v:,} record(s), "
                    f"at least {lim:,} required",
                )
            )
        if t.max_identical_share is not None:
            v, lim = self.identical_share, t.max_identical_share
            out.append(
                Check(
                    "identical_share",
                    v,
                    lim,
                    v <= lim,
                    f"{v:.1%} of synthetic records equal a seed record, at most {lim:.1%} allowed",
                )
            )
        return out


def _not_empty(frame: pl.DataFrame, what: str) -> None:
    if frame.height == 0:
        msg = f"the {what} has no rows. Hint: give a table with at least one record."
        raise SeedSampleError(msg) if what == "seed sample" else ConfigError(msg)


@dataclass
class QITables:
    """Both tables reduced to their quasi-identifiers, ready to compare.

    `synthetic` and `seed` hold one column per QI: Float64 for the `numeric` ones, text for the
    others (missing values as ``(missing)``); `derived` says how derived QIs were computed.
    """

    quasi_identifiers: list[str]
    derived: dict[str, Derived]
    numeric: list[str]
    synthetic: pl.DataFrame
    seed: pl.DataFrame


def qi_tables(
    synthetic: pl.DataFrame,
    seed: pl.DataFrame,
    quasi_identifiers: Sequence[str] | None = None,
    *,
    merged: Mapping[str, Mapping[str, str]] | None = None,
) -> QITables:
    """Check both tables and reduce them to their quasi-identifiers (see `disclosure_risk`)."""
    _not_empty(synthetic, "synthetic population")
    _not_empty(seed, "seed sample")
    if merged:
        seed = seed.with_columns(
            pl.col(c).cast(pl.String).replace(dict(m))
            for c, m in merged.items()
            if c in seed.columns
        )
    qis, derived = resolve_quasi_identifiers(synthetic, seed, quasi_identifiers)
    numeric = _classify(synthetic, seed, qis, derived)
    syn = prepare(synthetic, qis, derived, numeric)
    sd = prepare(seed, qis, derived, numeric)
    _check_labels(syn, sd, [q for q in qis if q not in numeric])
    return QITables(qis, derived, numeric, syn, sd)


def disclosure_risk(
    synthetic: pl.DataFrame,
    seed: pl.DataFrame,
    quasi_identifiers: Sequence[str] | None = None,
    *,
    k: int = 5,
    merged: Mapping[str, Mapping[str, str]] | None = None,
    workers: int = -1,
) -> DisclosureReport:
    """Measure what `synthetic` reveals about `seed` on the quasi-identifiers.

    Parameters
    ----------
    synthetic, seed : one row per record (persons with their household's columns: `records`).
    quasi_identifiers : column names; None takes the defaults (`resolve_quasi_identifiers`).
    k : class size below which a synthetic record counts as poorly hidden.
    merged : per column, seed label -> synthetic label, for a population whose small categories
        were merged (`populations.protection`); applied to the seed before comparing.
    workers : processes for the nearest-neighbour queries (`cKDTree.query`; -1: all cores).

    Raises
    ------
    ConfigError : an empty synthetic table, or a quasi-identifier missing from a table.
    SeedSampleError : an empty seed, labels that differ between the tables, missing numbers.

    Examples
    --------
    >>> seed = pl.DataFrame({"sex": ["f", "f", "m"], "age_band": ["0-4", "0-4", "85+"]})
    >>> syn = pl.DataFrame({"sex": ["f", "m", "m"], "age_band": ["0-4", "85+", "0-4"]})
    >>> r = disclosure_risk(syn, seed)
    >>> r.seed_uniques, r.replicated_uniques, r.identical_records
    (1, 1, 2)
    """
    start = time.perf_counter()
    if k < 1:
        msg = f"k must be at least 1, found {k}"
        raise ConfigError(msg)
    tables = qi_tables(synthetic, seed, quasi_identifiers, merged=merged)
    qis, derived, numeric = tables.quasi_identifiers, tables.derived, tables.numeric
    syn, sd = tables.synthetic, tables.seed

    # In order of first appearance, so that sums over classes (and the report) are repeatable.
    syn_classes = syn.group_by(qis, maintain_order=True).agg(pl.len().alias("_n"))
    seed_classes = (
        sd.with_row_index("_row")
        .group_by(qis, maintain_order=True)
        .agg(pl.len().alias("_n"), pl.col("_row").first())
    )
    identical = syn_classes.join(seed_classes.select(qis), on=qis, how="semi")["_n"].sum()
    uniques = seed_classes.filter(pl.col("_n") == 1)
    replicated = uniques.join(syn_classes.select(qis), on=qis, how="semi")
    sizes = syn_classes["_n"].to_numpy()

    dcr_syn, dcr_seed = _distances(syn_classes, seed_classes, qis, numeric, workers)
    return DisclosureReport(
        quasi_identifiers=qis,
        derived={name: d.describe() for name, d in derived.items()},
        synthetic_records=syn.height,
        seed_records=sd.height,
        identical_records=int(identical),
        seed_uniques=uniques.height,
        replicated_uniques=replicated.height,
        k=k,
        classes=int(sizes.size),
        min_class_size=int(sizes.min()),
        records_below_k=int(sizes[sizes < k].sum()),
        synthetic_uniques=int(np.sum(sizes == 1)),
        dcr_synthetic=dcr_syn,
        dcr_seed=dcr_seed,
        seconds=time.perf_counter() - start,
        replicated_seed_rows=np.sort(replicated["_row"].to_numpy().astype(np.int64)),
    )


def _features(
    frames: Sequence[pl.DataFrame], qis: Sequence[str], numeric: Sequence[str]
) -> list[np.ndarray]:
    """Encoded features of each frame: one-hot x 1/2 per categorical QI, value / range per
    numeric QI, so the L1 distance between two rows is the sum of the per-QI Gower terms."""
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for name in qis:
        if name in numeric:
            values = [f[name].to_numpy().astype(float) for f in frames]
            lo = min(float(v.min()) for v in values)
            hi = max(float(v.max()) for v in values)
            span = hi - lo if hi > lo else 1.0
            for out, v in zip(blocks, values, strict=True):
                out.append(((v - lo) / span)[:, None])
        else:
            labels = sorted(set().union(*(set(f[name].unique().to_list()) for f in frames)))
            for out, f in zip(blocks, frames, strict=True):
                codes = f[name].cast(pl.Enum(labels)).to_physical().to_numpy().astype(np.intp)
                onehot = np.zeros((codes.size, len(labels)))
                onehot[np.arange(codes.size), codes] = 0.5
                out.append(onehot)
    return [np.hstack(b) for b in blocks]


def _weighted_summary(d: np.ndarray, w: np.ndarray) -> dict[str, float]:
    order = np.argsort(d, kind="stable")
    d, w = d[order], w[order]
    cum = np.cumsum(w)
    total = cum[-1]
    out = {"share_zero": float(w[d <= 1e-12].sum() / total)}
    for key, q in _QUANTILES.items():
        out[key] = float(d[min(np.searchsorted(cum, q * total, side="left"), d.size - 1)])
    out["mean"] = math.fsum(d * w) / total
    return out


def _distances(
    syn_classes: pl.DataFrame,
    seed_classes: pl.DataFrame,
    qis: Sequence[str],
    numeric: Sequence[str],
    workers: int,
) -> tuple[dict[str, float], dict[str, float | None]]:
    """Gower DCR of the synthetic records and leave-one-out NN distances of the seed records.

    Both work on distinct combinations: a seed record whose combination another seed record
    shares is at distance 0 from it; otherwise its nearest other record is the nearest other
    distinct combination (the second neighbour of its own combination in the tree).
    """
    syn_x, seed_x = _features([syn_classes, seed_classes], qis, numeric)
    m = len(qis)
    tree = cKDTree(seed_x)
    d_syn, _ = tree.query(syn_x, k=1, p=1, workers=workers)
    dcr = _weighted_summary(d_syn / m, syn_classes["_n"].to_numpy().astype(float))
    n_seed = seed_classes["_n"].to_numpy()
    if n_seed.sum() < 2:
        return dcr, dict.fromkeys(dcr)
    if seed_x.shape[0] > 1:
        d2, _ = tree.query(seed_x, k=2, p=1, workers=workers)
        loo = np.where(n_seed >= 2, 0.0, d2[:, 1] / m)
    else:
        loo = np.zeros(1)
    return dcr, _weighted_summary(loo, n_seed.astype(float))
