"""Protections against disclosure, each optional, each with its cost in fit stated.

A population built from seed households copies seed records (`households.py`). These
protections limit what the copies reveal; `populations.privacy` measures what is left. All are
off unless asked for (a ``[privacy]`` table in the population configuration, or
``synthworld populate --protect ...``), and the fit report shows the fit before and after.

**Continuous attributes are always drawn, never copied.** Nothing to switch on: `attributes.py`
already draws each synthetic person's age in years within the band (the seed's ages smoothed
towards uniform) and income from a zero share plus a log-normal fitted per group. A seed
person's exact age and income never reach the output. Cost in fit: none on the marginals.

**Merging small categories** (`category_merges`, ``merge_small``): a category with fewer than
``min_category_size`` seed records (persons, or households for a household column) is merged
with the smaller of its neighbours in the marginals' order, again until none is small. Ordered
labels merge into ranges (``80-84`` and ``85+`` become ``80+``: top-coding an ordered category),
others join with ``/``. The output carries the merged labels; the marginals are measured on the
merged cells. Cost in fit: detail inside a merged category is no longer shown or checked.

**Top-coding** (`top_code_caps`, ``top_code``): values of a numeric column above a cap are set to
the cap (a number, or ``"p99"`` for the seed's 99th percentile). Cost in fit: none on
categorical marginals; the tail of the column's distribution is cut.

**Resampling sample uniques** (`resample_uniques`, ``resample_uniques = true``): a synthetic
person whose quasi-identifiers equal those of a seed record that is unique in the seed is a
*replicated sample unique*. Such a person gets a new value of one attribute (a person-level
categorical QI copied from the seed), drawn from the conditional distribution of that attribute
among the persons of the same zone with the same other attributes, as fitted in the synthetic
population: a random such person is picked and the two exchange their values, with the drawn
values that depend on them (income on employment, age in years on its band). An exchange is
kept only if neither person then matches a seed unique; ordered attributes (age bands) move to
a neighbouring category only. Because the two persons share the zone and every other attribute a
person-level marginal counts, every marginal count stays exactly as it was; only the joint
distribution with household-level attributes changes (the cost). Cheapest first: drawn values
(a QI such as ``income_band``) are exchanged between persons of the same group anywhere, which
costs nothing since the draws are exchangeable; then single attributes within the zone, then
two or three at once; persons still unresolved exchange with a partner elsewhere in the district,
then anywhere, and each such exchange costs a unit in two zones' (or districts') cells; the
summary counts them. The result is checked: `unresolved` counts the persons still matching a
seed unique (0 means no seed unique is replicated on the QIs).

This is statistical disclosure control in the sense of sdcMicro (record swapping, global
recoding, top-coding), not differential privacy.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from populations.errors import ConfigError, SeedSampleError, closest_hint
from populations.marginals import Marginal
from populations.privacy import qi_tables, records

__all__ = [
    "ProtectionRecord",
    "Protector",
    "apply_merges",
    "apply_top_code",
    "category_merges",
    "merge_marginal",
    "merged_label",
    "natural_order",
    "resample_uniques",
    "top_code_caps",
]

_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_OPEN = re.compile(r"^\s*(\d+)\s*\+\s*$")
_SINGLE = re.compile(r"^\s*(\d+)\s*$")
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def _bounds(label: str) -> tuple[int, float] | None:
    """(low, high) of an ordered label (``20-24``, ``85+``, ``3``), or None."""
    if m := _RANGE.match(label):
        return int(m.group(1)), int(m.group(2))
    if m := _OPEN.match(label):
        return int(m.group(1)), float("inf")
    if m := _SINGLE.match(label):
        return int(m.group(1)), int(m.group(1))
    return None


def natural_order(labels: Sequence[str]) -> list[str]:
    """Labels in numeric order when all are ordered (``0-4 < 5-9 < 10-14``), else sorted."""
    bounds = [_bounds(x) for x in labels]
    if labels and all(b is not None for b in bounds):
        return [x for _, x in sorted(zip(bounds, labels, strict=True))]
    return sorted(labels)


def merged_label(labels: Sequence[str]) -> str:
    """The label of merged categories: a range for ordered labels, else joined with ``/``.

    >>> merged_label(["80-84", "85+"]), merged_label(["5", "6+"]), merged_label(["1", "2"])
    ('80+', '5+', '1-2')
    >>> merged_label(["retired", "inactive"])
    'retired/inactive'
    """
    bounds = [_bounds(x) for x in labels]
    if all(b is not None for b in bounds):
        lo = min(b[0] for b in bounds)
        hi = max(b[1] for b in bounds)
        if hi == float("inf"):
            return f"{lo}+"
        return f"{lo}-{int(hi)}" if hi > lo else str(lo)
    return "/".join(labels)


def category_merges(
    counts: Mapping[str, int], order: Sequence[str], min_size: int
) -> dict[str, str]:
    """Old label -> new label for every category merged (the others are left out).

    The smallest category with fewer than `min_size` records joins the smaller of its
    neighbours in `order`; repeated until every category has `min_size` or one is left.

    >>> category_merges({"75-79": 80, "80-84": 25, "85+": 9}, ["75-79", "80-84", "85+"], 30)
    {'80-84': '80+', '85+': '80+'}
    """
    groups = [[label] for label in order]
    sizes = [int(counts.get(label, 0)) for label in order]
    while len(groups) > 1:
        i = int(np.argmin(sizes))
        if sizes[i] >= min_size:
            break
        left = sizes[i - 1] if i > 0 else None
        right = sizes[i + 1] if i + 1 < len(sizes) else None
        j = i - 1 if right is None or (left is not None and left <= right) else i + 1
        a, b = min(i, j), max(i, j)
        groups[a : b + 1] = [groups[a] + groups[b]]
        sizes[a : b + 1] = [sizes[a] + sizes[b]]
    out = {}
    for g in groups:
        if len(g) > 1:
            new = merged_label(g)
            out.update(dict.fromkeys(g, new))
    return out


def _merged_order(order: Sequence[str], mapping: Mapping[str, str]) -> list[str]:
    return list(dict.fromkeys(mapping.get(x, x) for x in order))


def apply_merges(
    frame: pl.DataFrame,
    merges: Mapping[str, Mapping[str, str]],
    orders: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """Relabel merged categories; Enum columns stay Enums over the merged labels."""
    exprs = []
    for column, mapping in merges.items():
        if column not in frame.columns or not mapping:
            continue
        dtype = frame.schema[column]
        col = pl.col(column).cast(pl.String).replace(dict(mapping))
        if isinstance(dtype, pl.Enum):
            order = _merged_order(list(dtype.categories), mapping)
            col = col.cast(pl.Enum(order))
        elif orders and column in orders:
            col = col.cast(pl.Enum(_merged_order(orders[column], mapping)))
        exprs.append(col.alias(column))
    return frame.with_columns(exprs) if exprs else frame


def merge_marginal(marginal: Marginal, merges: Mapping[str, Mapping[str, str]]) -> Marginal:
    """`marginal` with its merged categories summed into one cell each."""
    counts = marginal.counts
    categories = list(marginal.categories)
    for axis, dim in enumerate(marginal.dims):
        mapping = merges.get(dim)
        if not mapping:
            continue
        old = categories[axis]
        new = _merged_order(old, mapping)
        index = np.array([new.index(mapping.get(x, x)) for x in old])
        shape = list(counts.shape)
        shape[axis] = len(new)
        summed = np.zeros(shape)
        moved = np.moveaxis(counts, axis, 0)
        target = np.moveaxis(summed, axis, 0)
        np.add.at(target, index, moved)
        counts = summed
        categories[axis] = tuple(new)
    return Marginal(
        marginal.name,
        marginal.dims,
        tuple(categories),
        counts,
        marginal.level,
        marginal.source,
    )


def top_code_caps(seed: pl.DataFrame, spec: Mapping[str, float | str]) -> dict[str, float]:
    """Caps per column: a number as given, ``"pNN"`` as the seed's NN-th percentile.

    >>> top_code_caps(pl.DataFrame({"x": [float(v) for v in range(101)]}), {"x": "p90", "y": 5})
    {'x': 90.0, 'y': 5.0}
    """
    caps = {}
    for column, value in spec.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            msg = f"top_code `{column}`: expected a number or `pNN`, found {value!r}"
            raise ConfigError(msg)
        if isinstance(value, str):
            m = _PERCENTILE.match(value.strip())
            if not m or not 0 < float(m.group(1)) <= 100:
                msg = (
                    f"top_code `{column}`: expected a number or a percentile such as `p99`, "
                    f"found `{value}`"
                )
                raise ConfigError(msg)
            if column not in seed.columns:
                msg = f"top_code: the seed sample has no column `{column}`. " + closest_hint(
                    column, seed.columns
                )
                raise SeedSampleError(msg)
            x = seed[column].cast(pl.Float64, strict=False).drop_nulls().to_numpy()
            if x.size == 0:
                msg = f"top_code `{column}`: the seed sample has no numbers in it"
                raise SeedSampleError(msg)
            caps[column] = float(np.quantile(x, float(m.group(1)) / 100))
        else:
            caps[column] = float(value)
    return caps


def apply_top_code(
    frame: pl.DataFrame, caps: Mapping[str, float]
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Values above each cap set to the cap (integer columns: the cap rounded down)."""
    exprs = []
    counted = {}
    for column, cap in caps.items():
        if column not in frame.columns:
            msg = f"top_code: the population has no column `{column}`. " + closest_hint(
                column, frame.columns
            )
            raise ConfigError(msg)
        dtype = frame.schema[column]
        if not dtype.is_numeric():
            msg = f"top_code `{column}`: expected a numeric column, found {dtype}"
            raise ConfigError(msg)
        value = float(np.floor(cap)) if dtype.is_integer() else cap
        counted[column] = int((frame[column] > value).sum())
        exprs.append(
            pl.when(pl.col(column) > value)
            .then(pl.lit(value))
            .otherwise(pl.col(column))
            .cast(dtype)
            .alias(column)
        )
    return (frame.with_columns(exprs) if exprs else frame), counted


@dataclass
class ProtectionRecord:
    """What the protections did to one population (written to the fit report)."""

    merged_categories: dict[str, dict[str, str]] = field(default_factory=dict)
    top_coded: dict[str, dict[str, float]] = field(default_factory=dict)
    resampled: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "merged_categories": self.merged_categories,
            "top_coded": self.top_coded,
            "resampled_uniques": self.resampled,
        }


def _member(keys: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if sorted_set.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    idx = np.searchsorted(sorted_set, keys).clip(max=sorted_set.size - 1)
    return sorted_set[idx] == keys


def _codes(syn: pl.Series, seed: pl.Series, *, ordered: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes over the union of both columns' values (numeric order if `ordered`)."""
    if syn.dtype == pl.Float64:
        values = np.unique(np.concatenate([syn.to_numpy(), seed.to_numpy()]))
        return (
            np.searchsorted(values, syn.to_numpy()),
            np.searchsorted(values, seed.to_numpy()),
            values.size,
        )
    labels = sorted(set(syn.unique().to_list()) | set(seed.unique().to_list()))
    if ordered:
        labels = natural_order(labels)
    enum = pl.Enum(labels)
    return (
        syn.cast(enum).to_physical().to_numpy().astype(np.int64),
        seed.cast(enum).to_physical().to_numpy().astype(np.int64),
        len(labels),
    )


def _ranks(series: pl.Series) -> np.ndarray:
    """Dense codes 0, 1, ... of a column's values."""
    text = series.cast(pl.String).fill_null("\x00")
    return text.rank("dense").to_numpy().astype(np.int64) - 1


def _combine(columns: Sequence[np.ndarray], n: int) -> np.ndarray:
    """One int64 code per row for the combination of non-negative integer `columns`."""
    out = np.zeros(n, dtype=np.int64)
    for col in columns:
        out = out * (int(col.max(initial=0)) + 1) + col
    return out


def _disjoint(r: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Proposals (r[i], p[i]) that share no person with an earlier one."""
    both = np.concatenate([r, p])
    _, first = np.unique(both, return_index=True)
    ok = np.zeros(both.size, dtype=bool)
    ok[first] = True
    return ok[: r.size] & ok[r.size :]


class _SwapState:
    """QI codes, keys and source rows of the persons, changed by exchanges between pairs."""

    def __init__(self, codes, key, mult, src, unique_keys):
        self.codes, self.key, self.mult = codes, key, mult
        self.src, self.unique_keys = src, unique_keys
        self.turn = 0

    def stratum(self, fixed: np.ndarray, current: list[int], bucketed: list[int]) -> np.ndarray:
        """Who may exchange with whom: the same fixed columns and current QI values, and for
        ordered attributes the same pair of neighbouring categories (pairs shift each turn)."""
        parts = [fixed, *(self.codes[:, j] for j in current)]
        shift = self.turn % 2
        self.turn += 1
        parts += [(self.codes[:, j] + shift) // 2 for j in bucketed]
        return _combine(parts, fixed.size)

    def exchange(self, r, p, affected: list[int], moved: list[str]) -> np.ndarray:
        """Make the proposed exchanges (r[i] with p[i]) that change a QI, leave both persons
        off every seed unique, and share no person; return the persons exchanged."""
        codes, key = self.codes, self.key
        delta = np.zeros(r.size, dtype=np.int64)
        for j in affected:
            delta += (codes[p, j] - codes[r, j]) * self.mult[j]
        new_r, new_p = key[r] + delta, key[p] - delta
        ok = (delta != 0) & ~_member(new_r, self.unique_keys) & ~_member(new_p, self.unique_keys)
        r, p, new_r, new_p = r[ok], p[ok], new_r[ok], new_p[ok]
        keep = _disjoint(r, p)
        r, p, new_r, new_p = r[keep], p[keep], new_r[keep], new_p[keep]
        for j in affected:
            codes[r, j], codes[p, j] = codes[p, j], codes[r, j].copy()
        for c in moved:
            s = self.src[c]
            s[r], s[p] = s[p], s[r].copy()
        key[r], key[p] = new_r, new_p
        return np.concatenate([r, p])

    def search(self, r, stratum, affected, moved, risky, rng) -> int:
        """For each of `r` in turn, exchange with a person of its stratum for whom the exchange
        is allowed (risky partners first); return the number of exchanges made.

        The persons of a stratum are grouped by the values they would hand over (their codes
        of the affected QIs, combined as in the key): for person i, the values that leave i
        safe are found at once, and partners are sought among the holders of those values
        only. A person exchanged once is left alone for the rest of the pass, so every exchange
        is between persons who still share the stratum they were sorted into.
        """
        codes, key, unique = self.codes, self.key, self.unique_keys
        value = np.zeros(stratum.size, dtype=np.int64)
        for j in affected:
            value += codes[:, j] * self.mult[j]
        order = np.lexsort((value, stratum))
        s_sorted, v_sorted = stratum[order], value[order]
        starts = np.flatnonzero(
            np.r_[True, (s_sorted[1:] != s_sorted[:-1]) | (v_sorted[1:] != v_sorted[:-1])]
        )
        ends = np.r_[starts[1:], order.size]
        g_stratum, g_value = s_sorted[starts], v_sorted[starts]
        touched = np.zeros(stratum.size, dtype=bool)
        made = 0
        for i in rng.permutation(r):
            if touched[i] or not risky[i]:
                continue
            lo = np.searchsorted(g_stratum, stratum[i], side="left")
            hi = np.searchsorted(g_stratum, stratum[i], side="right")
            values = g_value[lo:hi]
            new_i = key[i] - value[i] + values
            safe = (values != value[i]) & ~_member(new_i, unique)
            for g in lo + rng.permutation(np.flatnonzero(safe)):
                cand = order[starts[g] : ends[g]]
                if cand.size > 256:
                    cand = cand[rng.integers(0, cand.size, 256)]
                cand = cand[~touched[cand]]
                ok = ~_member(key[cand] - g_value[g] + value[i], unique)
                if not ok.any():
                    continue
                best = ok & risky[cand]
                p = cand[rng.choice(np.flatnonzero(best if best.any() else ok))]
                done = self.exchange(np.array([i]), np.array([p]), affected, moved)
                touched[done] = True
                risky[done] = False
                made += 1
                break
        return made


def _partners(
    stratum: np.ndarray, r: np.ndarray, pool: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """A random person of the same stratum for each of `r`, from `pool` (None: everyone)."""
    members = np.arange(stratum.size) if pool is None else pool
    if members.size == 0:
        return r
    sort = np.argsort(stratum[members], kind="stable")
    s_sorted = stratum[members][sort]
    lo = np.searchsorted(s_sorted, stratum[r], side="left")
    hi = np.searchsorted(s_sorted, stratum[r], side="right")
    pick = lo + (rng.random(r.size) * (hi - lo)).astype(np.int64)
    # A stratum with no pool member gives hi == lo: the person is its own (rejected) partner.
    return np.where(hi > lo, members[sort][pick.clip(max=sort.size - 1)], r)


def resample_uniques(
    persons: pl.DataFrame,
    seed: pl.DataFrame,
    quasi_identifiers: Sequence[str] | None = None,
    *,
    households: pl.DataFrame | None = None,
    zone: str = "zone",
    levels: Sequence[str] = (),
    keep_with: Sequence[str] = (),
    drawn: Mapping[str, Sequence[str]] | None = None,
    rounds: int = 8,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Give every synthetic person who replicates a seed sample unique new attribute values.

    See the module docstring for the method. Returns the new persons table (households are not
    changed) and a summary: how many persons matched a seed unique before, how many exchanges
    were made (of drawn values, within a zone, within a coarser level, anywhere), how many
    persons changed, and how many are left unresolved (0: no seed unique is replicated on the
    quasi-identifiers).

    Parameters
    ----------
    persons : synthetic persons (with `zone`, and `household_id` if `households` is given).
    seed : seed records (persons with their household's columns; `privacy.records`).
    quasi_identifiers : as for `privacy.disclosure_risk` (None: the defaults).
    households : synthetic households, for household-level QIs such as ``hh_size``.
    zone, levels : the zone column and coarser geography columns, finest first; exchanges of
        copied attributes are tried within a zone, then within each level, then anywhere.
    keep_with : further columns two persons must share to exchange copied attributes (the
        dimensions of the person-level marginals), so that marginal counts are kept.
    drawn : per column drawn rather than copied (``income``), the columns it is drawn given
        (``["employment"]``). Its values are exchanged first, between persons of the same group
        anywhere (free: the draws are exchangeable), and move along when a column it depends on
        is exchanged.
    rounds : passes over the persons still unresolved, per kind of exchange.
    rng : the random generator.

    Examples
    --------
    >>> seed = pl.DataFrame(
    ...     {"zone": list("abbaa"), "sex": list("mmmff"), "job": list("yyyxx")}
    ... )  # (a, m, y) is unique in the seed
    >>> persons = pl.DataFrame({"zone": ["a", "b"], "sex": ["m", "m"], "job": ["y", "x"]})
    >>> out, summary = resample_uniques(
    ...     persons, seed, ["zone", "sex", "job"], rng=np.random.default_rng(0)
    ... )
    >>> out["job"].to_list(), summary["exchanges"], summary["unresolved"]
    (['x', 'y'], {'population': 1}, 0)
    """
    drawn = {c: list(by) for c, by in (drawn or {}).items() if c in persons.columns}
    recs = records(persons, households)
    tables = qi_tables(recs, seed, quasi_identifiers)
    qis, derived, numeric = tables.quasi_identifiers, tables.derived, tables.numeric
    geography = {zone, *levels}
    copied = [
        q
        for q in qis
        if q not in numeric
        and q not in derived
        and q in persons.columns
        and q not in geography
        and q not in drawn
    ]

    def source(q: str) -> str:
        return derived[q].source if q in derived else q

    free = [c for c in drawn if any(source(q) == c for q in qis)]
    if not copied and not free:
        msg = (
            "resample_uniques: none of the quasi-identifiers "
            f"({', '.join(f'`{q}`' for q in qis)}) is a person-level category copied from the "
            "seed or a drawn value, so there is nothing to resample. Hint: include a person "
            "attribute such as `employment` or `age_band` in quasi_identifiers."
        )
        raise ConfigError(msg)
    n = persons.height
    codes = np.zeros((n, len(qis)), dtype=np.int64)
    seed_codes = np.zeros((tables.seed.height, len(qis)), dtype=np.int64)
    cards = []
    ordered = {}
    for j, q in enumerate(qis):
        labels = [] if q in numeric else tables.seed[q].unique().to_list()
        # Ordered attributes (age bands, sizes) only move to a neighbouring category.
        ordered[q] = len(labels) > 2 and all(_bounds(x) is not None for x in labels)
        codes[:, j], seed_codes[:, j], card = _codes(
            tables.synthetic[q], tables.seed[q], ordered=ordered[q]
        )
        cards.append(card)
    if np.prod([float(c) for c in cards]) >= 2.0**62:
        msg = (
            "resample_uniques: the quasi-identifiers have too many distinct combinations to "
            "index. Hint: use banded versions of numeric ones (`income_band`, not `income`)."
        )
        raise ConfigError(msg)
    mult = np.cumprod([1, *cards[:0:-1]])[::-1].astype(np.int64)
    seed_keys, seed_counts = np.unique(seed_codes @ mult, return_counts=True)
    unique_keys = seed_keys[seed_counts == 1]

    def columns_moved(attributes: Sequence[str]) -> list[str]:
        """An attribute with the drawn columns that depend on it."""
        out = list(attributes)
        for c, by in drawn.items():
            if any(a in by for a in attributes):
                out.append(c)
        return list(dict.fromkeys(out))

    def ranks(columns: Sequence[str]) -> np.ndarray:
        return _combine([_ranks(recs[c]) for c in columns if c in recs.columns], n)

    # Moves, cheapest first: drawn values between persons of the same group anywhere; then
    # copied attributes (unordered, ordered, binary), alone, in pairs and so on, within a zone,
    # then within each coarser level, then anywhere.
    moves: list[tuple[str, list[str], np.ndarray, list[int], list[int]]] = []
    for c in free:
        current = [qis.index(b) for b in drawn[c] if b in copied]
        fixed = ranks([b for b in drawn[c] if b not in copied])
        moves.append(("drawn", [c], fixed, current, []))
    order = sorted(copied, key=lambda q: (cards[qis.index(q)] <= 2, ordered[q]))
    extra = [c for c in keep_with if c not in copied and c not in geography and c not in drawn]
    for level in [zone, *levels, None]:
        for size in range(1, len(order) + 1):
            for move in itertools.combinations(order, size):
                cols = columns_moved(move)
                # A drawn value that moves along stays in the group it was drawn for.
                groups = [b for c in cols if c in drawn for b in drawn[c]]
                groups = [b for b in groups if b not in move and b not in copied]
                fixed = ranks(([level] if level is not None else []) + extra + groups)
                current = [qis.index(b) for b in copied if b not in move]
                bucketed = [qis.index(a) for a in move if ordered[a]]
                kind = "population" if level is None else level
                moves.append((kind, cols, fixed, current, bucketed))
    src = {c: np.arange(n) for _, cols, *_ in moves for c in cols}
    state = _SwapState(codes, codes @ mult, mult, src, unique_keys)
    risky = _member(state.key, unique_keys)
    matched = int(risky.sum())
    exchanges: dict[str, int] = {}
    by_columns: dict[str, int] = {}
    # Group the moves into phases (same kind and size) that get `rounds` passes each.
    phases: dict[tuple[str, int], list[int]] = {}
    for i, (kind, cols, *_) in enumerate(moves):
        phases.setdefault((kind, len(cols)), []).append(i)

    def count(kind: str, cols: Sequence[str], made: int) -> None:
        if not made:
            return
        exchanges[kind] = exchanges.get(kind, 0) + made
        name = "+".join(cols)
        by_columns[name] = by_columns.get(name, 0) + made

    for phase in phases.values():
        stalled = 0
        for _ in range(rounds):  # random partners, in bulk
            made = 0
            for i in phase:
                kind, cols, fixed, current, bucketed = moves[i]
                affected = [j for j, q in enumerate(qis) if source(q) in cols]
                for pool in ("risky", "everyone"):
                    r = np.flatnonzero(risky)
                    if r.size == 0:
                        break
                    stratum = state.stratum(fixed, current, bucketed)
                    p = _partners(stratum, r, r if pool == "risky" else None, rng)
                    done = state.exchange(r, p, affected, cols)
                    risky[done] = False
                    made += done.size // 2
                    count(kind, cols, done.size // 2)
            stalled = stalled + 1 if made == 0 else 0
            if stalled >= 2 or not risky.any():
                break
        for i in phase:  # then every partner, for the persons left
            kind, cols, fixed, current, bucketed = moves[i]
            affected = [j for j, q in enumerate(qis) if source(q) in cols]
            for _ in range(2 if bucketed else 1):  # both neighbours of an ordered category
                if not risky.any():
                    break
                stratum = state.stratum(fixed, current, bucketed)
                count(
                    kind,
                    cols,
                    state.search(np.flatnonzero(risky), stratum, affected, cols, risky, rng),
                )
        if not risky.any():
            break
    copied_columns = {c for _, cols, *_ in moves[len(free) :] for c in cols} - set(drawn)
    changed = np.zeros(n, dtype=bool)
    changed_copied = np.zeros(n, dtype=bool)
    for c, s in src.items():
        moved_here = s != np.arange(n)
        changed |= moved_here
        if c in copied_columns:
            changed_copied |= moved_here
    out = persons.with_columns(persons[c].gather(s).alias(c) for c, s in src.items())
    summary = {
        "quasi_identifiers": qis,
        "persons_matching_seed_uniques": matched,
        "exchanges": exchanges,
        "exchanges_by_columns": by_columns,
        "persons_changed": int(changed.sum()),
        "persons_with_copied_attributes_changed": int(changed_copied.sum()),
        "share_changed": float(changed.mean()) if n else 0.0,
        "unresolved": int(risky.sum()),
    }
    return out, summary


class Protector:
    """The protections of a ``[privacy]`` table, fitted on a seed sample (scikit-learn style).

    Parameters
    ----------
    quasi_identifiers : QIs for `resample_uniques` (None: the defaults of `populations.privacy`).
    resample_uniques : exchange attributes of persons that replicate seed sample uniques.
    merge_small : columns whose small categories are merged; True: every categorical QI except
        geography.
    min_category_size : categories with fewer seed records than this are merged.
    top_code : caps per numeric column (number, or ``"pNN"``: the seed's percentile).
    zone, levels, keep_with, drawn, rounds : see `resample_uniques`.

    Attributes
    ----------
    merges_ : per column, old label -> merged label.
    caps_ : per column, the top-coding cap.
    seed_records_ : the seed's records with merged labels.
    """

    def __init__(
        self,
        *,
        quasi_identifiers: Sequence[str] | None = None,
        resample_uniques: bool = False,
        merge_small: Sequence[str] | bool = (),
        min_category_size: int = 30,
        top_code: Mapping[str, float | str] | None = None,
        zone: str = "zone",
        levels: Sequence[str] = (),
        keep_with: Sequence[str] = (),
        drawn: Mapping[str, Sequence[str]] | None = None,
        rounds: int = 8,
    ):
        self.quasi_identifiers = quasi_identifiers
        self.resample_uniques = resample_uniques
        self.merge_small = merge_small
        self.min_category_size = min_category_size
        self.top_code = top_code
        self.zone = zone
        self.levels = levels
        self.keep_with = keep_with
        self.drawn = drawn
        self.rounds = rounds

    def fit(
        self,
        seed_persons: pl.DataFrame,
        seed_households: pl.DataFrame | None = None,
        *,
        orders: Mapping[str, Sequence[str]] | None = None,
    ) -> Protector:
        """Find the merges and caps from the seed sample; `orders` gives category orders."""
        if self.min_category_size < 1:
            msg = f"[privacy] min_category_size must be at least 1, found {self.min_category_size}"
            raise ConfigError(msg)
        seed = records(seed_persons, seed_households)
        orders = dict(orders or {})
        self.merges_: dict[str, dict[str, str]] = {}
        for column in self._merge_columns(seed):
            in_households = (
                seed_households is not None
                and column in seed_households.columns
                and column not in seed_persons.columns
            )
            table = seed_households if in_households else seed_persons
            counts = dict(
                table[column].cast(pl.String).fill_null("(missing)").value_counts().iter_rows()
            )
            order = orders.get(column) or natural_order(list(counts))
            merges = category_merges(counts, order, self.min_category_size)
            if merges:
                self.merges_[column] = merges
        self.orders_ = orders
        self.caps_ = top_code_caps(seed_persons, self.top_code or {})
        self.seed_records_ = apply_merges(seed, self.merges_)
        return self

    def _merge_columns(self, seed: pl.DataFrame) -> list[str]:
        if self.merge_small is True:
            tables = qi_tables(seed, seed, self.quasi_identifiers)
            geography = {self.zone, *self.levels}
            return [
                q
                for q in tables.quasi_identifiers
                if q not in tables.numeric and q not in tables.derived and q not in geography
            ]
        columns = [] if self.merge_small is False else list(self.merge_small)
        for column in columns:
            if column not in seed.columns:
                msg = (
                    f"[privacy] merge_small: the seed sample has no column `{column}`. "
                    f"{closest_hint(column, seed.columns)}"
                )
                raise ConfigError(msg)
        return columns

    def transform(
        self,
        persons: pl.DataFrame,
        households: pl.DataFrame | None = None,
        *,
        rng: np.random.Generator,
    ) -> tuple[pl.DataFrame, pl.DataFrame | None, ProtectionRecord]:
        """Protected persons and households, and what was done."""
        if not hasattr(self, "merges_"):
            from populations.errors import NotFittedError

            msg = "this Protector is not fitted yet. Hint: call `fit` first."
            raise NotFittedError(msg)
        record = ProtectionRecord()
        if self.merges_:
            persons = apply_merges(persons, self.merges_, self.orders_)
            if households is not None:
                households = apply_merges(households, self.merges_, self.orders_)
            record.merged_categories = {c: dict(m) for c, m in self.merges_.items()}
        if self.caps_:
            persons, counted = apply_top_code(persons, self.caps_)
            record.top_coded = {c: {"cap": self.caps_[c], "values": counted[c]} for c in self.caps_}
        if self.resample_uniques:
            persons, record.resampled = resample_uniques(
                persons,
                self.seed_records_,
                self.quasi_identifiers,
                households=households,
                zone=self.zone,
                levels=self.levels,
                keep_with=self.keep_with,
                drawn=self.drawn,
                rounds=self.rounds,
                rng=rng,
            )
        return persons, households, record
