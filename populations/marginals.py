"""Target marginals: tidy count tables read from files or frames, checked before any fitting.

A marginal is a tidy table with one column per dimension (``zone``, ``age_band``, ``sex`` ...) and
one count column. It counts either persons or households (its `level`). Its geography column may be
the zone or a coarser level (``district``) that a `Geography` maps zones onto.

Checks made here, each raising `MarginalsError` with the file, row and column concerned:
negative, missing or non-numeric counts; a category combination listed twice; a zone or category
present in one marginal and missing from another; marginals of the same level whose totals
disagree on the dimensions they share (unless ``rescale=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from populations.errors import MarginalsError, closest_hint

__all__ = [
    "LEVELS",
    "Geography",
    "Marginal",
    "check_marginals",
    "encode",
    "read_table",
    "to_polars",
]

LEVELS = ("person", "household")


def to_polars(frame: Any, *, what: str) -> pl.DataFrame:
    """A polars frame from a polars or pandas frame (`what` names it in the error)."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if type(frame).__module__.startswith("pandas"):
        return pl.from_pandas(frame)
    msg = f"{what}: expected a polars or pandas DataFrame, found {type(frame).__name__}"
    raise MarginalsError(msg)


def encode(series: pl.Series, categories: Sequence[str]) -> np.ndarray:
    """Position of each value of `series` (as text) among `categories`; -1 where it is none.

    >>> encode(pl.Series(["b", "x", "a"]), ["a", "b"]).tolist()
    [1, -1, 0]
    """
    lookup = {c: i for i, c in enumerate(categories)}
    return np.array([lookup.get(v, -1) for v in series.cast(pl.String).to_list()], dtype=np.intp)


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV (every column as text; counts are parsed later) or a Parquet file."""
    path = Path(path)
    if not path.is_file():
        msg = f"file `{path}` does not exist"
        raise MarginalsError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix in {".csv", ".txt"}:
            return pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        msg = f"file `{path}` could not be read: {exc}"
        raise MarginalsError(msg) from exc
    msg = f"file `{path}`: expected a .csv or .parquet file, found `{suffix or 'no suffix'}`"
    raise MarginalsError(msg)


@dataclass(frozen=True, eq=False)
class Marginal:
    """Target counts over a product of categories.

    Attributes
    ----------
    name : how reports and messages call it.
    dims : dimension (column) names.
    categories : the labels of each dimension, in order of first appearance.
    counts : dense array, one axis per dimension; combinations not listed count zero.
    level : ``"person"`` or ``"household"``: what it counts.
    source : the file it came from, for messages.

    Examples
    --------
    >>> m = Marginal.from_frame(pl.DataFrame({"sex": ["f", "m"], "count": [3, 4]}), name="sex")
    >>> m.dims, m.categories, m.total
    (('sex',), (('f', 'm'),), 7.0)
    """

    name: str
    dims: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    counts: np.ndarray
    level: str = "person"
    source: str = "<frame>"

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        name: str,
        count: str = "count",
        level: str = "person",
        source: str | None = None,
    ) -> Marginal:
        """Build a marginal from a tidy polars or pandas frame, checking every row."""
        where = f"file `{source}`" if source else f"marginal `{name}`"
        df = to_polars(frame, what=where)
        if level not in LEVELS:
            msg = f"{where}: level must be `person` or `household`, found `{level}`"
            raise MarginalsError(msg)
        if count not in df.columns:
            msg = f"{where}: no count column `{count}`. {closest_hint(count, df.columns)}"
            raise MarginalsError(msg)
        dims = tuple(c for c in df.columns if c != count)
        if not dims:
            msg = f"{where}: expected at least one dimension column beside `{count}`"
            raise MarginalsError(msg)
        if df.height == 0:
            msg = f"{where}: the table has no rows"
            raise MarginalsError(msg)
        values = _parse_counts(df[count], where, count)
        labels = []
        codes = []
        for d in dims:
            col = df[d].cast(pl.String)
            missing = col.is_null()
            if missing.any():
                row = int(missing.arg_true()[0]) + 1
                msg = f"{where}, row {row}, column `{d}`: expected a category, found an empty value"
                raise MarginalsError(msg)
            cats = tuple(col.unique(maintain_order=True).to_list())
            labels.append(cats)
            codes.append(encode(col, cats))
        shape = tuple(len(c) for c in labels)
        flat = np.ravel_multi_index(codes, shape)
        seen, first = np.unique(flat, return_index=True)
        if seen.size < flat.size:
            dup_rows = np.setdiff1d(np.arange(flat.size), first)
            row = int(dup_rows[0])
            combo = ", ".join(f"{d}={df[d][row]}" for d in dims)
            msg = f"{where}, row {row + 1}: the combination ({combo}) is listed twice"
            raise MarginalsError(msg)
        counts = np.zeros(int(np.prod(shape)))
        counts[flat] = values
        return cls(name, dims, tuple(labels), counts.reshape(shape), level, source or "<frame>")

    @classmethod
    def read(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        count: str = "count",
        level: str = "person",
    ) -> Marginal:
        """Read a marginal from a tidy CSV or Parquet file."""
        path = Path(path)
        return cls.from_frame(
            read_table(path), name=name or path.stem, count=count, level=level, source=str(path)
        )

    @property
    def total(self) -> float:
        return float(self.counts.sum())

    def where(self) -> str:
        return f"`{self.name}` ({self.source})" if self.source != "<frame>" else f"`{self.name}`"

    def to_frame(self, *, count: str = "count") -> pl.DataFrame:
        """The marginal as a tidy frame, one row per category combination."""
        grids = np.indices(self.counts.shape).reshape(len(self.dims), -1)
        data: dict[str, Any] = {
            d: pl.Series(d, np.array(c, dtype=object)[g], dtype=pl.Enum(c))
            for d, c, g in zip(self.dims, self.categories, grids, strict=True)
        }
        data[count] = self.counts.ravel()
        return pl.DataFrame(data)

    def sums(self, dims: Sequence[str]) -> pl.DataFrame:
        """Counts summed onto `dims`, as a frame with a ``count`` column."""
        return self.to_frame().group_by(list(dims), maintain_order=True).agg(pl.col("count").sum())


def _parse_counts(series: pl.Series, where: str, column: str) -> np.ndarray:
    as_float = series.cast(pl.Float64, strict=False)
    bad_parse = as_float.is_null() & series.is_not_null()
    if bad_parse.any():
        row = int(bad_parse.arg_true()[0])
        msg = f"{where}, row {row + 1}, column `{column}`: expected a number, found `{series[row]}`"
        raise MarginalsError(msg)
    values = as_float.to_numpy()
    nan = np.flatnonzero(np.isnan(values))
    if nan.size:
        msg = (
            f"{where}, row {int(nan[0]) + 1}, column `{column}`: expected a non-negative count, "
            f"found a missing value (NaN)"
        )
        raise MarginalsError(msg)
    neg = np.flatnonzero(values < 0)
    if neg.size:
        msg = (
            f"{where}, row {int(neg[0]) + 1}, column `{column}`: expected a non-negative count, "
            f"found {values[neg[0]]:g}"
        )
        raise MarginalsError(msg)
    if np.any(np.isinf(values)):
        row = int(np.flatnonzero(np.isinf(values))[0])
        msg = f"{where}, row {row + 1}, column `{column}`: expected a finite count, found inf"
        raise MarginalsError(msg)
    return values


@dataclass(frozen=True)
class Geography:
    """Zones and the coarser levels they nest in (zone -> district ...).

    Parameters
    ----------
    zone : name of the zone column.
    zones : zone labels.
    levels : for each coarser level's column name, the label of each zone's unit.
    """

    zone: str
    zones: tuple[str, ...]
    levels: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_frame(cls, frame: Any, *, zone: str = "zone", source: str | None = None) -> Geography:
        where = f"file `{source}`" if source else "geography"
        df = to_polars(frame, what=where)
        if zone not in df.columns:
            msg = f"{where}: no zone column `{zone}`. {closest_hint(zone, df.columns)}"
            raise MarginalsError(msg)
        df = df.select(pl.all().cast(pl.String))
        dup = df[zone].is_duplicated()
        if dup.any():
            row = int(dup.arg_true()[0])
            msg = f"{where}, row {row + 1}: zone `{df[zone][row]}` is listed twice"
            raise MarginalsError(msg)
        levels = {c: tuple(df[c].to_list()) for c in df.columns if c != zone}
        return cls(zone, tuple(df[zone].to_list()), levels)

    def index(self, level: str, units: Sequence[str]) -> np.ndarray:
        """For each zone, the position of its unit of `level` within `units`."""
        lookup = {u: i for i, u in enumerate(units)}
        return np.array([lookup[u] for u in self.levels[level]], dtype=np.intp)


def check_marginals(
    marginals: Sequence[Marginal], *, geography: Geography | None = None, rescale: bool = False
) -> list[Marginal]:
    """Check marginals against each other; return them (rescaled if asked).

    Raises `MarginalsError` naming the marginals, the category and the totals when two marginals
    of the same level disagree. With ``rescale=True`` each marginal is instead scaled, within
    each cell of the dimensions it shares with the first marginal of its level, to that
    marginal's totals.
    """
    if not marginals:
        msg = "no marginals given. Hint: give at least one table of target counts."
        raise MarginalsError(msg)
    names = [m.name for m in marginals]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        msg = f"two marginals are named `{dup}`. Hint: give each marginal its own name."
        raise MarginalsError(msg)
    _check_categories(marginals, geography)
    out = list(marginals)
    for level in LEVELS:
        group = [i for i, m in enumerate(out) if m.level == level]
        if not group:
            continue
        ref = out[group[0]]
        for i in group[1:]:
            if rescale:
                out[i] = _rescale_to(out[i], ref, geography)
            else:
                _check_totals(ref, out[i], geography)
    return out


def _check_categories(marginals: Sequence[Marginal], geography: Geography | None) -> None:
    first: dict[str, Marginal] = {}
    for m in marginals:
        for d, cats in zip(m.dims, m.categories, strict=True):
            if geography is not None and (d == geography.zone or d in geography.levels):
                known = geography.zones if d == geography.zone else set(geography.levels[d])
                extra = [c for c in cats if c not in set(known)]
                if extra:
                    msg = (
                        f"marginal {m.where()}: {d} `{extra[0]}` is not in the geography "
                        f"({len(extra)} unknown). Hint: add it to the zones table or fix the label."
                    )
                    raise MarginalsError(msg)
            ref = first.setdefault(d, m)
            if ref is m:
                continue
            ref_cats = ref.categories[ref.dims.index(d)]
            for a, b, ca, cb in ((ref, m, ref_cats, cats), (m, ref, cats, ref_cats)):
                missing = [c for c in ca if c not in set(cb)]
                if missing:
                    msg = (
                        f"{d} `{missing[0]}` is in marginal {a.where()} but missing from marginal "
                        f"{b.where()} ({len(missing)} missing). Hint: every marginal that has "
                        f"`{d}` must list the same {d} values."
                    )
                    raise MarginalsError(msg)


def _common_frames(
    a: Marginal, b: Marginal, geography: Geography | None
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Both marginals summed onto what they share, zones mapped up to a shared coarser level."""
    fa, fb = (
        a.to_frame().cast({d: pl.String for d in a.dims}),
        b.to_frame().cast({d: pl.String for d in b.dims}),
    )
    if geography is not None:
        geo = {geography.zone, *geography.levels}
        ga = next((d for d in a.dims if d in geo), None)
        gb = next((d for d in b.dims if d in geo), None)
        if ga and gb and ga != gb:
            coarse = gb if ga == geography.zone else ga
            mapping = dict(zip(geography.zones, geography.levels[coarse], strict=True))
            if ga == geography.zone:
                fa = fa.with_columns(pl.col(ga).replace_strict(mapping).alias(coarse)).drop(ga)
            elif gb == geography.zone:
                fb = fb.with_columns(pl.col(gb).replace_strict(mapping).alias(coarse)).drop(gb)
    shared = [d for d in fa.columns if d in fb.columns and d != "count"]
    if shared:
        sa = fa.group_by(shared).agg(pl.col("count").sum())
        sb = fb.group_by(shared).agg(pl.col("count").sum())
    else:
        sa = fa.select(pl.col("count").sum())
        sb = fb.select(pl.col("count").sum())
    return shared, sa, sb


def _check_totals(a: Marginal, b: Marginal, geography: Geography | None) -> None:
    shared, sa, sb = _common_frames(a, b, geography)
    if shared:
        joined = sa.join(sb, on=shared, how="full", coalesce=True, suffix="_b").fill_null(0.0)
    else:
        joined = pl.concat([sa, sb.rename({"count": "count_b"})], how="horizontal")
    joined = joined.with_columns((pl.col("count") - pl.col("count_b")).abs().alias("diff"))
    scale = max(a.total, b.total, 1.0)
    bad = joined.filter(pl.col("diff") > 1e-9 * scale).sort("diff", descending=True)
    if bad.height == 0:
        return
    row = bad.row(0, named=True)
    cell = ", ".join(f"{d} `{row[d]}`" for d in shared)
    more = f" (and {bad.height - 1} more)" if bad.height > 1 else ""
    msg = (
        f"marginals {a.where()} and {b.where()} disagree"
        f"{' in ' + cell if cell else ''}: total {row['count']:g} in `{a.name}` against "
        f"{row['count_b']:g} in `{b.name}`{more}. Hint: fix the inputs, or ask to rescale "
        f"(--rescale, or rescale = true) to scale each marginal to the totals of `{a.name}`."
    )
    raise MarginalsError(msg)


def _rescale_to(m: Marginal, ref: Marginal, geography: Geography | None) -> Marginal:
    shared, s_ref, s_m = _common_frames(ref, m, geography)
    frame = m.to_frame().cast({d: pl.String for d in m.dims}).with_row_index("_row")
    if geography is not None:
        for d in shared:
            if d in geography.levels and d not in m.dims and geography.zone in m.dims:
                mapping = dict(zip(geography.zones, geography.levels[d], strict=True))
                frame = frame.with_columns(pl.col(geography.zone).replace_strict(mapping).alias(d))
    ratio = (
        s_ref.join(s_m, on=shared, how="inner", suffix="_m")
        if shared
        else pl.concat([s_ref, s_m.rename({"count": "count_m"})], how="horizontal")
    )
    ratio = ratio.select(
        *shared,
        (pl.col("count") / pl.col("count_m")).fill_nan(0.0).alias("factor"),
    )
    if shared:
        frame = frame.join(ratio, on=shared, how="left").fill_null(0.0)
    else:
        frame = frame.with_columns(pl.lit(ratio["factor"][0]).alias("factor"))
    frame = frame.sort("_row").with_columns(pl.col("count") * pl.col("factor"))
    counts = frame["count"].to_numpy().reshape(m.counts.shape)
    return replace(m, counts=np.where(np.isfinite(counts), counts, 0.0))
