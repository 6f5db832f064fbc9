"""Contact networks built from a synthetic population: households, schools, workplaces, community.

Each layer comes in two forms: a fast core, ``*_edges(persons, ...)``, that returns an `Edges`
pair ``(u, v)`` of int64 arrays of person *row indices* (row ``i`` of the persons table is node
``i``), and a thin networkx wrapper, ``*_layer(persons, ...)``, that returns the same edges as an
``nx.Graph`` whose edges carry ``layer=<name>``. Edge arrays are canonical: ``u < v``, each pair
once, sorted by ``(u, v)``; so equal inputs and seeds give equal arrays. No layer loops over
persons in Python; loops run over zones or distinct group sizes only.

* **households** (`household_edges`): a clique within each household.
* **schools** (`assign_classes`, `school_edges`): pupils (by age and, by default, employment
  ``"student"``) are split at random into classes of about ``class_size`` within each zone x
  age band; a class is a clique (every pupil meets every classmate), or a random graph of a given
  mean degree.
* **workplaces** (`firm_sizes`, `assign_firms`, `workplace_edges`): firm sizes follow a
  discrete power law :math:`p(s) \\propto s^{-a}`, ``a = 2`` by default (Zipf's law for firms:
  :math:`P(S > s) \\propto 1/s`, Axtell 2001); firms are placed in zones in proportion to the
  workers living there, and fill their jobs from their own zone with probability ``p_within``,
  otherwise from other zones by a gravity kernel (or in proportion to workers). Within a firm,
  contacts form an Erdős–Rényi graph of mean degree ``mean_degree`` (a clique when the firm has
  at most ``mean_degree + 1`` workers), so a firm of 5,000 does not give 12.5 million edges.
* **community** (`community_edges`): every person starts a Poisson number of contacts, the
  partner's zone is drawn by a gravity kernel on a zone distance matrix (or own zone with
  probability ``p_within``, else another zone in proportion to its population), and the partner
  uniformly within that zone.
* `group_edges` is the shared workhorse of the first three: cliques or random graphs within
  arbitrary groups (care homes, clubs, ...).

`MultiLayerNetwork` holds named layers with optional weights and compiles them to symmetric
``scipy.sparse.csr_array`` adjacency matrices, once per change: the compiled matrices are cached
against per-layer version counters, so a rule that calls ``net.adjacency()`` every step pays for
a compilation only after a layer was added, removed or edited. networkx stays the modelling and
I/O format (DESIGN.md §2): `MultiLayerNetwork.to_networkx` / `MultiLayerNetwork.from_networkx`
convert to and from a graph whose edges carry a ``layer`` attribute, so any networkx graph can be
a contact network. The CSR is built directly from the edge arrays (what
``nx.to_scipy_sparse_array`` would give for the same graph, without building a networkx graph
of a million nodes first). `contact_layers` builds all four layers with one named random stream
each (`abm.rng.Streams`), so changing one layer's parameters leaves the others unchanged.

Libraries: numpy for the vectorised sampling, scipy.sparse for the CSR matrices, networkx for
graphs, polars for the persons table.

References
----------
R. L. Axtell, "Zipf distribution of U.S. firm sizes", Science 293(5536):1818-1820, 2001,
https://doi.org/10.1126/science.1062081.
J. Mossong et al., "Social contacts and mixing patterns relevant to the spread of infectious
diseases", PLoS Medicine 5(3):e74, 2008, https://doi.org/10.1371/journal.pmed.0050074.
A. G. Wilson, "A statistical theory of spatial distribution models", Transportation Research
1(3):253-269, 1967 (the gravity model with exponential deterrence).
P. Erdős and A. Rényi, "On random graphs I", Publicationes Mathematicae 6:290-297, 1959.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import networkx as nx
import numpy as np
import polars as pl
from scipy import sparse

from abm.rng import SeedLike, Streams, rng_arg
from populations.errors import ConfigError, closest_hint

__all__ = [
    "LAYERS",
    "Edges",
    "Firms",
    "MultiLayerNetwork",
    "assign_classes",
    "assign_firms",
    "community_edges",
    "community_layer",
    "contact_layers",
    "firm_sizes",
    "group_edges",
    "household_edges",
    "household_layer",
    "school_edges",
    "school_layer",
    "workplace_edges",
    "workplace_layer",
]


class Edges(NamedTuple):
    """An undirected edge list: ``u[k] -- v[k]`` for each ``k``, as int64 row indices.

    Returned canonical by the builders of this module: ``u < v``, each pair once, sorted by
    ``(u, v)``. Unpacks as ``u, v = edges``.
    """

    u: np.ndarray
    v: np.ndarray


@dataclass(frozen=True)
class Firms:
    """Workers assigned to firms (see `assign_firms`).

    Attributes
    ----------
    person_firm : ndarray of int64
        For each person row, the firm index, or -1 for a person who is not a worker.
    size : ndarray of int64
        The number of workers of each firm (all >= 1; ``size.sum()`` is the number of workers).
    zone : ndarray of int64
        Each firm's zone, as an index into `zones`.
    zones : tuple
        The zone labels (the categories of an Enum zone column, else its sorted distinct values).
    """

    person_firm: np.ndarray
    size: np.ndarray
    zone: np.ndarray
    zones: tuple


LAYERS = ("household", "school", "workplace", "community")
"""The layers `contact_layers` builds by default, in order."""

_EMPTY = np.empty(0, np.int64)
_EMPTY.flags.writeable = False
_MATCH_ROUNDS = 8  # rounds of gravity matching of jobs to workers before a random remainder


# --------------------------------------------------------------------------- checks


def _check_persons(persons: Any, where: str) -> pl.DataFrame:
    if not isinstance(persons, pl.DataFrame):
        msg = (
            f"`{where}` needs the persons table as a polars DataFrame, got "
            f"{type(persons).__name__}. Hint: `polars.from_pandas(df)` converts a pandas frame."
        )
        raise ConfigError(msg)
    return persons


def _column(persons: pl.DataFrame, name: str, where: str) -> pl.Series:
    if name not in persons.columns:
        msg = (
            f"`{where}`: the persons table has no column `{name}`. "
            f"{closest_hint(name, persons.columns)}"
        )
        raise ConfigError(msg)
    series = persons.get_column(name)
    if series.null_count():
        row = int(np.flatnonzero(series.is_null().to_numpy())[0])
        msg = (
            f"`{where}`: column `{name}` has {series.null_count()} missing value(s), the first "
            f"in row {row}. Hint: fill or drop them before building contacts."
        )
        raise ConfigError(msg)
    return series


def _number(
    key: str,
    value: Any,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    integer: bool = False,
) -> Any:
    """`value` checked to be a real (or integer) in the interval; else a ConfigError."""
    kind = "an integer" if integer else "a number"
    left = "(" if low_open else "["
    right = "]" if math.isfinite(high) else ")"
    interval = f"{left}{low:g}, {high:g}{right}"
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(
        value, bool | np.bool_
    )
    if ok_type:
        x = float(value)
        inside = (x > low if low_open else x >= low) and x <= high and math.isfinite(x)
        if inside:
            return int(value) if integer else x
    msg = f"`{key}` must be {kind} in {interval}, got {value!r}."
    raise ConfigError(msg)


def _codes(series: pl.Series) -> tuple[np.ndarray, tuple]:
    """Integer codes of a column and its labels (Enum categories in order, else sorted values)."""
    if isinstance(series.dtype, pl.Enum):
        codes = series.to_physical().to_numpy().astype(np.int64)
        return codes, tuple(series.dtype.categories.to_list())
    if isinstance(series.dtype, pl.Categorical):
        series = series.cast(pl.String)
    labels = series.unique().sort()
    if series.dtype == pl.String:  # polars' Enum cast is much faster than numpy on objects
        codes = series.cast(pl.Enum(labels.to_list())).to_physical().to_numpy()
    else:
        codes = np.searchsorted(labels.to_numpy(), series.to_numpy())
    return codes.astype(np.int64), tuple(labels.to_list())


def _deterrence(
    distance: Any,
    zones: tuple,
    *,
    p_within: float | None,
    distance_scale: float | None,
    where: str,
) -> np.ndarray | None:
    """``exp(-distance / scale)`` for a checked distance matrix, or None without one."""
    if distance is None:
        if p_within is None:
            msg = (
                f"`{where}`: `p_within` is None and no `distance` matrix is given, so there is "
                "no way to choose a partner's zone. Hint: give `p_within` (e.g. 0.8) or "
                "`distance`."
            )
            raise ConfigError(msg)
        return None
    n_zones = len(zones)
    try:
        dist = np.asarray(distance, dtype=np.float64)
    except (TypeError, ValueError):
        msg = f"`{where}`: `distance` must be a numeric matrix, got {type(distance).__name__}."
        raise ConfigError(msg) from None
    if dist.shape != (n_zones, n_zones):
        shown = ", ".join(map(str, zones[:3])) + (", ..." if n_zones > 3 else "")
        msg = (
            f"`{where}`: `distance` must be a {n_zones} x {n_zones} matrix (a row and a column "
            f"per zone, in the order {shown}), got shape {dist.shape}."
        )
        raise ConfigError(msg)
    if not np.isfinite(dist).all() or (dist < 0).any():
        msg = (
            f"`{where}`: `distance` must hold finite non-negative numbers, got min "
            f"{np.nanmin(dist):g} and {int((~np.isfinite(dist)).sum())} non-finite value(s)."
        )
        raise ConfigError(msg)
    if distance_scale is None:
        positive = dist[dist > 0]
        distance_scale = float(np.median(positive)) if positive.size else 1.0
    return np.exp(-dist / distance_scale)


def _kernel(deterrence: np.ndarray, mass: np.ndarray, p_within: float | None) -> np.ndarray:
    """Row-stochastic destination probabilities ``P[o, d]`` from zone `o`.

    ``P[o, d] ∝ mass[d] * deterrence[o, d]``: a production-constrained gravity model with
    exponential deterrence (Wilson 1967). With `p_within`, ``P[o, o] = p_within`` (0 if zone
    ``o`` has no mass) and the other zones share the rest by the same kernel. A row with
    nowhere to go keeps all its probability on ``o``.
    """
    n_zones = mass.size
    diag = np.arange(n_zones)
    weights = mass[None, :] * deterrence
    if p_within is not None:
        weights[diag, diag] = 0.0
        off = weights.sum(axis=1)
        stay = np.where(mass > 0, p_within, 0.0)
        stay[off <= 0] = 1.0  # no other zone to go to
        with np.errstate(invalid="ignore", divide="ignore"):
            weights *= np.where(off > 0, (1.0 - stay) / off, 0.0)[:, None]
        weights[diag, diag] = stay
    total = weights.sum(axis=1)
    nowhere = total <= 0
    weights[nowhere, diag[nowhere]] = 1.0
    total[nowhere] = 1.0
    return weights / total[:, None]


def _distance_args(
    p_within: Any, distance: Any, distance_scale: Any
) -> tuple[float | None, Any, Any]:
    if p_within is not None:
        p_within = _number("p_within", p_within, low=0.0, high=1.0)
    if distance_scale is not None:
        distance_scale = _number("distance_scale", distance_scale, low=0.0, low_open=True)
    return p_within, distance, distance_scale


# --------------------------------------------------------------------------- sampling helpers


def _canonical(u: np.ndarray, v: np.ndarray, n: int) -> Edges:
    """Edges with ``u < v``, self loops dropped, duplicates merged, sorted by ``(u, v)``."""
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    keep = u != v
    lo = np.minimum(u[keep], v[keep])
    hi = np.maximum(u[keep], v[keep])
    key = np.sort(lo * np.int64(max(n, 1)) + hi)
    key = key[np.r_[True, key[1:] != key[:-1]]] if key.size else key
    return Edges(key // max(n, 1), key % max(n, 1))


def _runs(sorted_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of the runs of equal values in a sorted array."""
    if sorted_labels.size == 0:
        return _EMPTY, _EMPTY
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sizes = np.diff(np.r_[starts, sorted_labels.size])
    return starts.astype(np.int64), sizes.astype(np.int64)


def _rank_in_runs(sorted_labels: np.ndarray) -> np.ndarray:
    """For each element of a sorted array, its position within its run of equal values."""
    starts, sizes = _runs(sorted_labels)
    return np.arange(sorted_labels.size, dtype=np.int64) - np.repeat(starts, sizes)


def _clique_pairs(starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of positions within each block ``[start, start + size)``; a loop over sizes."""
    us, vs = [_EMPTY], [_EMPTY]
    for s in np.unique(sizes[sizes >= 2]).tolist():
        st = starts[sizes == s]
        iu, ju = np.triu_indices(s, k=1)
        us.append((st[:, None] + iu[None, :]).ravel())
        vs.append((st[:, None] + ju[None, :]).ravel())
    return np.concatenate(us), np.concatenate(vs)


def _random_pairs(
    starts: np.ndarray, sizes: np.ndarray, mean_degree: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An Erdős–Rényi graph G(s, p) with ``p = mean_degree / (s - 1)`` within each block.

    Every member starts ``Poisson(lam)`` contacts with members drawn uniformly from the rest of
    its block, ``lam = -(s - 1) / 2 * log(1 - p)``. The number of contacts started between two
    given members, either way, is then Poisson with mean ``-log(1 - p)``, independently across
    pairs, so after merging duplicates each pair is an edge with probability exactly ``p``,
    independently: G(s, p), at a cost of about ``-log(1 - p) / p`` draws per edge. Blocks
    needing ``p >= 1`` are handled as cliques by the caller.
    """
    if starts.size == 0:
        return _EMPTY, _EMPTY
    p = mean_degree / (sizes - 1)
    lam = -(sizes - 1) / 2.0 * np.log1p(-p)
    member_block = np.repeat(np.arange(starts.size), sizes)
    member_local = np.arange(member_block.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    stubs = rng.poisson(lam[member_block])
    src_member = np.repeat(np.arange(member_block.size), stubs)
    block = member_block[src_member]
    local = member_local[src_member]
    r = rng.integers(0, sizes[block] - 1)
    r += r >= local  # skip oneself: uniform over the other s - 1 members
    return starts[block] + local, starts[block] + r


def _group_edges(
    labels: np.ndarray, mean_degree: float | None, rng: np.random.Generator | None
) -> Edges:
    """The workhorse: cliques (mean_degree None) or G(s, p) graphs within groups of `labels`."""
    n = labels.size
    rows = np.flatnonzero(labels >= 0)
    order = np.argsort(labels[rows], kind="stable")
    rows = rows[order]
    starts, sizes = _runs(labels[rows])
    if mean_degree is None:
        dense = np.ones(sizes.size, bool)
    else:
        dense = sizes - 1 <= mean_degree
    u, v = _clique_pairs(starts[dense], sizes[dense])
    if not dense.all():
        ru, rv = _random_pairs(starts[~dense], sizes[~dense], float(mean_degree), rng)
        u, v = np.concatenate([u, ru]), np.concatenate([v, rv])
    return _canonical(rows[u], rows[v], n)


def _choose_zones(
    origin: np.ndarray,
    mass: np.ndarray,
    *,
    p_within: float | None,
    kernel: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """A destination zone for each origin zone in `origin`.

    With `kernel` (row-stochastic), by inverse CDF on its rows (a loop over origin zones).
    Without it: the origin with probability `p_within` (if it has any mass), else another zone
    in proportion to `mass` (integer counts); the origin again when no other zone has any mass.
    """
    m = origin.size
    if kernel is not None:
        cdf = np.cumsum(kernel, axis=1)
        last = kernel.shape[1] - 1 - np.argmax(kernel[:, ::-1] > 0, axis=1)
        u = rng.random(m)
        dest = np.empty(m, np.int64)
        order = np.argsort(origin, kind="stable")
        starts, sizes = _runs(origin[order])
        for st, sz in zip(starts.tolist(), sizes.tolist(), strict=True):
            idx = order[st : st + sz]
            o = origin[idx[0]]
            found = np.searchsorted(cdf[o], u[idx] * cdf[o, -1], side="right")
            dest[idx] = np.minimum(found, last[o])
        return dest
    dest = origin.copy()
    mass = mass.astype(np.int64)
    away = np.flatnonzero((rng.random(m) >= p_within) | (mass[origin] == 0))
    cum_end = np.cumsum(mass)
    cum_start = cum_end - mass
    o = origin[away]
    avail = cum_end[-1] - mass[o]
    ok = avail > 0
    away, o, avail = away[ok], o[ok], avail[ok]
    r = rng.integers(0, avail)
    r += (r >= cum_start[o]) * mass[o]  # skip the origin's own block
    dest[away] = np.searchsorted(cum_end, r, side="right")
    return dest


# --------------------------------------------------------------------------- groups, households


@rng_arg("rng")
def group_edges(labels: Any, *, mean_degree: float | None = None, rng: SeedLike = None) -> Edges:
    """Contacts within groups: a clique per group, or a random graph of a given mean degree.

    Parameters
    ----------
    labels : array_like of int
        The group of each node (row); a negative label means "in no group".
    mean_degree : float, optional
        None (default) makes each group a clique. A number ``k`` makes each group of size ``s``
        an Erdős–Rényi graph G(s, p) with ``p = min(1, k / (s - 1))``: mean degree ``k`` in
        groups larger than ``k + 1``, a clique in smaller ones.
    rng : int, Generator or None
        Seed or generator (only used when `mean_degree` is given).

    Returns
    -------
    Edges
        Canonical ``(u, v)`` row indices.

    Raises
    ------
    ConfigError
        If `labels` is not integer or `mean_degree` is negative or not finite.

    Examples
    --------
    >>> u, v = group_edges([0, 0, 0, -1, 1, 1])
    >>> list(zip(u.tolist(), v.tolist()))
    [(0, 1), (0, 2), (1, 2), (4, 5)]
    """
    arr = np.asarray(labels)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu") or arr.dtype == np.bool_:
        msg = f"`labels` must be a 1-d array of integer group labels, got dtype {arr.dtype}."
        raise ConfigError(msg)
    if mean_degree is not None:
        mean_degree = _number("mean_degree", mean_degree, low=0.0)
    return _group_edges(arr.astype(np.int64), mean_degree, rng)


def household_edges(persons: pl.DataFrame, *, column: str = "household_id") -> Edges:
    """Household contacts: every pair of persons sharing a household (a clique per household).

    There is no randomness, hence no `rng`. A household of ``s`` persons gives ``s (s - 1) / 2``
    edges.

    Parameters
    ----------
    persons : polars.DataFrame
        The persons table; row ``i`` is node ``i``.
    column : str, default "household_id"
        The household column (any dtype).

    Returns
    -------
    Edges
        Canonical ``(u, v)`` row indices.

    Raises
    ------
    ConfigError
        If the column is missing (naming the closest column) or has missing values.

    Examples
    --------
    >>> import polars as pl
    >>> persons = pl.DataFrame({"household_id": [7, 7, 9, 9, 9, 4]})
    >>> u, v = household_edges(persons)
    >>> list(zip(u.tolist(), v.tolist()))
    [(0, 1), (2, 3), (2, 4), (3, 4)]
    """
    persons = _check_persons(persons, "household_edges")
    codes, _ = _codes(_column(persons, column, "household_edges"))
    return _group_edges(codes, None, None)


# --------------------------------------------------------------------------- schools


def _school_mask(
    persons: pl.DataFrame, ages: Any, student_status: str | None, where: str
) -> np.ndarray:
    ok = (
        isinstance(ages, Sequence)
        and len(ages) == 2
        and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in ages)
        and 0 <= ages[0] <= ages[1]
    )
    if not ok:
        msg = (
            f"`ages` must be a pair (youngest, oldest) of integers with 0 <= youngest <= oldest, "
            f"got {ages!r}. Hint: `ages=(5, 18)`."
        )
        raise ConfigError(msg)
    age = _column(persons, "age", where).to_numpy()
    mask = (age >= ages[0]) & (age <= ages[1])
    if student_status is not None:
        emp = _column(persons, "employment", where).cast(pl.String)
        mask &= (emp == student_status).to_numpy()
    return mask


@rng_arg("rng")
def assign_classes(
    persons: pl.DataFrame,
    *,
    ages: tuple[int, int] = (5, 18),
    student_status: str | None = "student",
    class_size: int = 25,
    by: Sequence[str] = ("zone", "age_band"),
    rng: SeedLike = None,
) -> np.ndarray:
    """Put pupils into school classes: the class index of each person row (-1 for none).

    Pupils are persons aged within `ages` (inclusive) and, unless `student_status` is None,
    whose ``employment`` equals it. Within each group of the `by` columns (a school catchment:
    zone x age band by default), ``g`` pupils are shuffled and split into
    ``ceil(g / class_size)`` classes of near-equal size (sizes differ by at most one), so no
    class is larger than `class_size`, and classes are at least half of it unless the whole
    group is smaller.

    Parameters
    ----------
    persons : polars.DataFrame
        The persons table, with ``age``, the `by` columns and (unless `student_status` is None)
        ``employment``.
    ages : (int, int), default (5, 18)
        Youngest and oldest pupil age.
    student_status : str or None, default "student"
        The ``employment`` value pupils must have; None to select by age alone.
    class_size : int, default 25
        Target class size (>= 1).
    by : sequence of str, default ("zone", "age_band")
        Columns whose combinations are schools' year groups; classes never mix them.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    ndarray of int64
        Class index per person row, -1 for non-pupils.

    Raises
    ------
    ConfigError
        For a missing column (naming the closest) or a bad `ages` or `class_size`.

    Examples
    --------
    >>> import polars as pl
    >>> persons = pl.DataFrame({"age": [6, 7, 40, 6], "zone": ["A", "A", "A", "B"]})
    >>> assign_classes(persons, student_status=None, by=("zone",), rng=1).tolist()
    [0, 0, -1, 1]
    """
    persons = _check_persons(persons, "assign_classes")
    class_size = _number("class_size", class_size, low=1, integer=True)
    if isinstance(by, str) or not all(isinstance(c, str) for c in by):
        msg = f"`by` must be a sequence of column names, got {by!r}. Hint: `by=('zone',)`."
        raise ConfigError(msg)
    mask = _school_mask(persons, ages, student_status, "assign_classes")
    rows = np.flatnonzero(mask)
    keys = [_codes(_column(persons, c, "assign_classes"))[0][rows] for c in by]
    shuffle = rng.random(rows.size)
    order = np.lexsort((shuffle, *reversed(keys))) if keys else np.argsort(shuffle)
    rows = rows[order]
    group = np.zeros(rows.size, np.int64)
    if keys:
        sorted_keys = np.stack([k[order] for k in keys])
        change = np.r_[True, (sorted_keys[:, 1:] != sorted_keys[:, :-1]).any(axis=0)]
        group = np.cumsum(change) - 1
    starts, sizes = _runs(group)
    n_classes = -(-sizes // class_size)  # ceil: no class above class_size
    offset = np.cumsum(n_classes) - n_classes
    rank = _rank_in_runs(group)
    g_size = sizes[group]
    cls = offset[group] + rank * n_classes[group] // np.maximum(g_size, 1)
    out = np.full(persons.height, -1, np.int64)
    out[rows] = cls
    return out


@rng_arg("rng")
def school_edges(
    persons: pl.DataFrame,
    *,
    ages: tuple[int, int] = (5, 18),
    student_status: str | None = "student",
    class_size: int = 25,
    by: Sequence[str] = ("zone", "age_band"),
    mean_degree: float | None = None,
    rng: SeedLike = None,
) -> Edges:
    """School contacts: pupils grouped into classes (`assign_classes`), each class a clique.

    A class is a clique by default: pupils of a class share a room for hours a day, which is
    how contact surveys find school contacts (Mossong et al. 2008). Give `mean_degree` to make
    each class a random graph of that mean degree instead (`group_edges`). Classes never mix
    `by` groups, so with the default `by` only pupils of the same zone are connected.

    Parameters
    ----------
    persons : polars.DataFrame
        The persons table.
    ages, student_status, class_size, by
        As for `assign_classes`.
    mean_degree : float, optional
        None for cliques, else the mean degree within a class.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    Edges
        Canonical ``(u, v)`` row indices.

    Raises
    ------
    ConfigError
        As for `assign_classes`, or for a negative `mean_degree`.

    Examples
    --------
    >>> import polars as pl
    >>> persons = pl.DataFrame({"age": [6, 7, 40, 6], "zone": ["A", "A", "A", "B"]})
    >>> u, v = school_edges(persons, student_status=None, by=("zone",), rng=1)
    >>> list(zip(u.tolist(), v.tolist()))
    [(0, 1)]
    """
    if mean_degree is not None:
        mean_degree = _number("mean_degree", mean_degree, low=0.0)
    classes = assign_classes(
        persons, ages=ages, student_status=student_status, class_size=class_size, by=by, rng=rng
    )
    return _group_edges(classes, mean_degree, rng)


# --------------------------------------------------------------------------- workplaces


@rng_arg("rng")
def firm_sizes(
    n_workers: int,
    *,
    exponent: float = 2.0,
    max_size: int | None = None,
    rng: SeedLike = None,
) -> np.ndarray:
    """Firm sizes from a discrete power law that add up to exactly `n_workers`.

    Sizes are drawn independently with :math:`P(S = s) \\propto s^{-a}` for
    ``1 <= s <= max_size`` until they cover `n_workers`; the last firm is cut to fit. With
    ``a = 2`` the tail is Zipf's law, :math:`P(S > s) \\propto 1/s`, which Axtell (2001) found
    for all U.S. firms (fitted tail exponent 1.059 for the survival function, i.e. ``a`` about
    2.06 here). Most firms are tiny and a few are very large: with ``a = 2`` about 61% of firms
    have one worker, yet most workers are in firms of 10 or more.

    Parameters
    ----------
    n_workers : int
        Total number of workers (>= 0).
    exponent : float, default 2.0
        The exponent ``a`` of the size distribution, in (1, 10].
    max_size : int, optional
        The largest possible firm (>= 1); default `n_workers`.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    ndarray of int64
        Firm sizes, each >= 1, summing to `n_workers`.

    Raises
    ------
    ConfigError
        For a negative `n_workers`, an `exponent` outside (1, 10] or a `max_size` below 1.

    References
    ----------
    R. L. Axtell, "Zipf distribution of U.S. firm sizes", Science 293:1818-1820, 2001,
    https://doi.org/10.1126/science.1062081.

    Examples
    --------
    >>> sizes = firm_sizes(1000, rng=3)
    >>> int(sizes.sum()), bool(sizes.max() > 20 * np.median(sizes))
    (1000, True)
    """
    n_workers = _number("n_workers", n_workers, low=0, integer=True)
    exponent = _number("exponent", exponent, low=1.0, high=10.0, low_open=True)
    if max_size is None:
        max_size = max(n_workers, 1)
    max_size = _number("max_size", max_size, low=1, integer=True)
    return _firm_sizes(n_workers, exponent, max_size, rng)


def _firm_sizes(n: int, exponent: float, max_size: int, rng: np.random.Generator) -> np.ndarray:
    if n == 0:
        return _EMPTY.copy()
    s = np.arange(1, max_size + 1, dtype=np.float64)
    pmf = s**-exponent
    cdf = np.cumsum(pmf)
    mean = float((s * pmf).sum() / cdf[-1])
    cdf /= cdf[-1]
    chunks, filled = [], 0
    while filled < n:
        k = int((n - filled) / mean * 1.1) + 16
        draw = np.searchsorted(cdf, rng.random(k), side="right").astype(np.int64) + 1
        chunks.append(draw)
        filled += int(draw.sum())
    sizes = np.concatenate(chunks)
    cum = np.cumsum(sizes)
    last = int(np.searchsorted(cum, n))  # first firm reaching n
    sizes = sizes[: last + 1]
    sizes[-1] -= int(cum[last]) - n
    return sizes


@rng_arg("rng")
def assign_firms(
    persons: pl.DataFrame,
    *,
    exponent: float = 2.0,
    max_firm_size: int | None = None,
    p_within: float | None = 0.3,
    distance: Any = None,
    distance_scale: float | None = None,
    zone: str = "zone",
    worker_status: str = "employed",
    rng: SeedLike = None,
) -> Firms:
    """Assign every worker to exactly one firm; firms have power-law sizes and sit in zones.

    1. Firm sizes are drawn by `firm_sizes` (summing to the number of workers: persons whose
       ``employment`` is `worker_status`).
    2. Firms are placed in zones so that jobs follow workers: laid end to end in random order
       along the workers sorted by zone, each firm goes to the zone under its midpoint. A zone
       then has about as many jobs as resident workers, and each firm's zone is drawn with
       probability proportional to the zone's workers.
    3. Each job of a firm in zone ``o`` picks the zone its worker lives in: without `distance`,
       zone ``o`` with probability `p_within`, else another zone in proportion to its workers;
       with `distance`, by the gravity kernel ``workers[d] * exp(-distance[o, d] / scale)``
       (with the diagonal fixed to `p_within` unless it is None). The job takes a random worker
       of that zone not yet employed; jobs that found none choose again among the zones with
       workers left (up to 8 rounds), and the last few are matched at random.

    So every worker has one firm and every firm its drawn size. The share of workers employed
    in their home zone is `p_within` (0.79-0.80 for 0.8 on the demo city) as long as no firm is
    larger than its zone's workforce; a firm that is (with the default `max_firm_size`, the
    largest of the demo's 45,000 workers' firms has about 4,000) recruits mostly from
    elsewhere, which lowers the share (0.19-0.30 over seeds for 0.3 on the demo city).

    Parameters
    ----------
    persons : polars.DataFrame
        The persons table, with `zone` and ``employment``.
    exponent, max_firm_size
        The firm-size power law, as `exponent` and `max_size` of `firm_sizes`.
    p_within : float or None, default 0.3
        Share of a firm's jobs taken by residents of its zone, in [0, 1]; None (only with
        `distance`) to leave it to the kernel.
    distance : array_like, optional
        Zone-to-zone distances, square, one row and column per zone in the order of the zone
        labels (an Enum column's categories, else its sorted distinct values).
    distance_scale : float, optional
        The kernel's distance scale (> 0, units of `distance`); default the median of the
        positive distances.
    zone : str, default "zone"
        The zone column.
    worker_status : str, default "employed"
        The ``employment`` value of workers.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    Firms

    Raises
    ------
    ConfigError
        For a missing column, a parameter out of range or a malformed `distance`.

    Examples
    --------
    >>> import polars as pl
    >>> persons = pl.DataFrame({"zone": ["A"] * 4 + ["B"] * 4,
    ...                         "employment": ["employed"] * 6 + ["retired"] * 2})
    >>> firms = assign_firms(persons, rng=0)
    >>> int(firms.size.sum()), int((firms.person_firm >= 0).sum())
    (6, 6)
    """
    persons = _check_persons(persons, "assign_firms")
    exponent = _number("exponent", exponent, low=1.0, high=10.0, low_open=True)
    if max_firm_size is not None:
        max_firm_size = _number("max_firm_size", max_firm_size, low=1, integer=True)
    p_within, distance, distance_scale = _distance_args(p_within, distance, distance_scale)
    zc, zones = _codes(_column(persons, zone, "assign_firms"))
    emp = _column(persons, "employment", "assign_firms").cast(pl.String)
    workers = np.flatnonzero((emp == worker_status).to_numpy())
    n_zones = len(zones)
    home = zc[workers]
    supply = np.bincount(home, minlength=n_zones)
    deterrence = _deterrence(
        distance, zones, p_within=p_within, distance_scale=distance_scale, where="assign_firms"
    )
    n_w = workers.size
    sizes = _firm_sizes(n_w, exponent, max_firm_size or max(n_w, 1), rng)
    person_firm = np.full(persons.height, -1, np.int64)
    if n_w == 0:
        return Firms(person_firm, sizes, _EMPTY.copy(), zones)
    # Place firms: laid end to end in random order along the workers sorted by zone, each in
    # the zone under its midpoint, so a zone's jobs match its workers up to the firms that
    # straddle its edges.
    perm = rng.permutation(sizes.size)
    mid = np.cumsum(sizes[perm]) - sizes[perm] / 2.0
    firm_zone = np.empty(sizes.size, np.int64)
    firm_zone[perm] = np.searchsorted(np.cumsum(supply), mid, side="right")
    slot_firm = np.repeat(np.arange(sizes.size), sizes)
    slot_zone = firm_zone[slot_firm]
    # Workers in random order within their home zone; each round, every open job picks a home
    # zone among the workers still free and takes the next free worker there if any.
    w_order = np.lexsort((rng.random(n_w), home))
    w_start = np.cumsum(supply) - supply
    free = supply.copy()
    open_slots = rng.permutation(n_w)
    for _ in range(_MATCH_ROUNDS):
        if open_slots.size == 0:
            break
        kernel = None if deterrence is None else _kernel(deterrence, free.astype(float), p_within)
        choice = _choose_zones(
            slot_zone[open_slots], free, p_within=p_within, kernel=kernel, rng=rng
        )
        by_zone = np.argsort(choice, kind="stable")
        chosen = choice[by_zone]
        rank = _rank_in_runs(chosen)
        ok = rank < free[chosen]
        taken = w_order[w_start[chosen[ok]] + (supply - free)[chosen[ok]] + rank[ok]]
        person_firm[workers[taken]] = slot_firm[open_slots[by_zone[ok]]]
        free -= np.minimum(np.bincount(choice, minlength=n_zones), free)
        open_slots = open_slots[np.sort(by_zone[~ok])]
    # Whatever is left after the rounds: matched at random.
    left = w_order[np.flatnonzero(_rank_in_runs(home[w_order]) >= (supply - free)[home[w_order]])]
    person_firm[workers[left]] = slot_firm[open_slots[rng.permutation(open_slots.size)]]
    return Firms(person_firm, sizes, firm_zone.astype(np.int64), zones)


@rng_arg("rng")
def workplace_edges(
    persons: pl.DataFrame,
    *,
    mean_degree: float = 8.0,
    exponent: float = 2.0,
    max_firm_size: int | None = None,
    p_within: float | None = 0.3,
    distance: Any = None,
    distance_scale: float | None = None,
    zone: str = "zone",
    worker_status: str = "employed",
    rng: SeedLike = None,
) -> Edges:
    """Workplace contacts: workers in power-law sized firms, a sparse random graph per firm.

    Workers are assigned to firms by `assign_firms`; within a firm of ``s`` workers the contacts
    are an Erdős–Rényi graph G(s, p) with ``p = min(1, mean_degree / (s - 1))``, so a worker
    has on average `mean_degree` colleagues it meets (capped by the firm's size), whatever the
    size of the firm. The same as ``group_edges(assign_firms(persons, ..., rng=g).person_firm,
    mean_degree=mean_degree, rng=g)`` with ``g = numpy.random.default_rng(rng)``.

    Parameters
    ----------
    persons : polars.DataFrame
        The persons table.
    mean_degree : float, default 8.0
        Mean number of colleagues met (>= 0).
    exponent, max_firm_size, p_within, distance, distance_scale, zone, worker_status
        As for `assign_firms`.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    Edges
        Canonical ``(u, v)`` row indices.

    Raises
    ------
    ConfigError
        As for `assign_firms`, or for a negative `mean_degree`.

    Examples
    --------
    >>> import polars as pl
    >>> persons = pl.DataFrame({"zone": ["A"] * 50, "employment": ["employed"] * 50})
    >>> u, v = workplace_edges(persons, mean_degree=4, rng=0)
    >>> bool((u < v).all()), bool(u.size > 0)
    (True, True)
    """
    mean_degree = _number("mean_degree", mean_degree, low=0.0)
    firms = assign_firms(
        persons,
        exponent=exponent,
        max_firm_size=max_firm_size,
        p_within=p_within,
        distance=distance,
        distance_scale=distance_scale,
        zone=zone,
        worker_status=worker_status,
        rng=rng,
    )
    return _group_edges(firms.person_firm, mean_degree, rng)


# --------------------------------------------------------------------------- community


@rng_arg("rng")
def community_edges(
    persons: pl.DataFrame,
    *,
    mean_degree: float = 4.0,
    p_within: float | None = 0.8,
    distance: Any = None,
    distance_scale: float | None = None,
    zone: str = "zone",
    rng: SeedLike = None,
) -> Edges:
    """Community contacts: random mixing within and between zones.

    Every person starts ``Poisson(mean_degree / 2)`` contacts; each contact's zone is the
    person's own with probability `p_within`, else another zone in proportion to its population
    (a partner drawn uniformly from everyone living elsewhere); with `distance`, the zone is
    drawn from the gravity kernel ``population[d] * exp(-distance[o, d] / scale)`` (Wilson
    1967), with the diagonal fixed to `p_within` unless it is None. The partner is drawn
    uniformly within the chosen zone, never oneself. Since a person also receives contacts, the
    mean degree is `mean_degree` (minus the few contacts drawn twice, merged: about
    ``mean_degree / (2 * zone population)`` of them) and degrees are close to Poisson.

    Parameters
    ----------
    persons : polars.DataFrame
        The persons table, with the `zone` column.
    mean_degree : float, default 4.0
        Mean number of community contacts per person (>= 0).
    p_within : float or None, default 0.8
        Probability that a contact lives in the same zone, in [0, 1]; None (only with
        `distance`) to leave it to the kernel.
    distance : array_like, optional
        Zone-to-zone distances, square, one row and column per zone in the order of the zone
        labels (an Enum column's categories, else its sorted distinct values).
    distance_scale : float, optional
        The kernel's distance scale (> 0); default the median of the positive distances.
    zone : str, default "zone"
        The zone column.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    Edges
        Canonical ``(u, v)`` row indices.

    Raises
    ------
    ConfigError
        For a missing column, a parameter out of range or a malformed `distance`.

    Examples
    --------
    >>> import polars as pl
    >>> persons = pl.DataFrame({"zone": ["A"] * 500 + ["B"] * 500})
    >>> u, v = community_edges(persons, mean_degree=6, p_within=1.0, rng=0)
    >>> bool(((u < 500) == (v < 500)).all())  # no contact crosses zones
    True
    """
    persons = _check_persons(persons, "community_edges")
    mean_degree = _number("mean_degree", mean_degree, low=0.0)
    p_within, distance, distance_scale = _distance_args(p_within, distance, distance_scale)
    zc, zones = _codes(_column(persons, zone, "community_edges"))
    n = zc.size
    size = np.bincount(zc, minlength=len(zones))
    deterrence = _deterrence(
        distance, zones, p_within=p_within, distance_scale=distance_scale, where="community_edges"
    )
    kernel = None if deterrence is None else _kernel(deterrence, size.astype(float), p_within)
    order = np.argsort(zc, kind="stable")  # persons grouped by zone
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    z_start = np.cumsum(size) - size
    stubs = rng.poisson(mean_degree / 2.0, n)
    origin = np.repeat(np.arange(n, dtype=np.int64), stubs)
    o_zone = zc[origin]
    dest = _choose_zones(o_zone, size, p_within=p_within, kernel=kernel, rng=rng)
    same = dest == o_zone
    high = size[dest] - same
    ok = high > 0
    origin, dest, same, high = origin[ok], dest[ok], same[ok], high[ok]
    r = rng.integers(0, high)
    r += same & (r >= position[origin] - z_start[dest])  # skip oneself
    partner = order[z_start[dest] + r]
    return _canonical(origin, partner, n)


# --------------------------------------------------------------------------- networkx wrappers


def _as_graph(n: int, edges: Edges, layer: str) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(edges.u.tolist(), edges.v.tolist(), strict=True), layer=layer)
    return graph


def household_layer(persons: pl.DataFrame, **kwargs: Any) -> nx.Graph:
    """`household_edges` as an ``nx.Graph`` (nodes ``0 .. n-1``, edges ``layer="household"``).

    Examples
    --------
    >>> import polars as pl
    >>> g = household_layer(pl.DataFrame({"household_id": [1, 1, 2]}))
    >>> sorted(g.edges(data="layer"))
    [(0, 1, 'household')]
    """
    return _as_graph(persons.height, household_edges(persons, **kwargs), "household")


def school_layer(persons: pl.DataFrame, **kwargs: Any) -> nx.Graph:
    """`school_edges` as an ``nx.Graph`` (edges ``layer="school"``); keywords as there."""
    return _as_graph(persons.height, school_edges(persons, **kwargs), "school")


def workplace_layer(persons: pl.DataFrame, **kwargs: Any) -> nx.Graph:
    """`workplace_edges` as an ``nx.Graph`` (edges ``layer="workplace"``); keywords as there."""
    return _as_graph(persons.height, workplace_edges(persons, **kwargs), "workplace")


def community_layer(persons: pl.DataFrame, **kwargs: Any) -> nx.Graph:
    """`community_edges` as an ``nx.Graph`` (edges ``layer="community"``); keywords as there."""
    return _as_graph(persons.height, community_edges(persons, **kwargs), "community")


# --------------------------------------------------------------------------- multilayer network


@dataclass(frozen=True)
class _Layer:
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    version: int


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


class MultiLayerNetwork:
    """Named undirected contact layers over nodes ``0 .. n_nodes-1``, compiled to CSR on demand.

    A layer is an edge list with a weight per edge. `adjacency` returns a symmetric
    ``scipy.sparse.csr_array`` of one layer, several or all, summing their weights; it is
    compiled once and cached against the version of each layer it uses, so it is rebuilt only
    after one of them changed (`add_layer`, `add_edges`, `remove_edges`, `remove_layer`).
    `compile_count` counts the compilations.

    Conventions: edges are stored with ``u < v``; self loops are dropped (a person is not their
    own contact). A pair given twice within a layer is kept twice, so its weights add up in the
    weighted adjacency ("counted"); the same pair in two layers also adds up in a combined
    adjacency. ``adjacency(weighted=False)`` gives the 0/1 pattern (duplicates merged). Stored
    arrays are read-only: edit through the methods, so the versions stay right.

    Parameters
    ----------
    n_nodes : int
        The number of nodes (persons).
    layers : mapping of str to Edges, optional
        Initial layers, each an ``(u, v)`` pair with weight 1.
    nodes : sequence, optional
        A label for each node, used by `to_networkx` (default: the row indices).

    Examples
    --------
    >>> net = MultiLayerNetwork(4, {"household": ([0, 2], [1, 3])})
    >>> net.add_layer("community", ([1], [2]), weight=0.5)
    >>> net.adjacency().toarray().tolist()
    [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]
    >>> net.remove_layer("community")  # e.g. a lockdown
    >>> int(net.adjacency().nnz), net.compile_count
    (4, 2)
    """

    def __init__(
        self,
        n_nodes: int,
        layers: Mapping[str, Any] | None = None,
        *,
        nodes: Sequence[Any] | None = None,
    ) -> None:
        self._n = _number("n_nodes", n_nodes, low=0, integer=True)
        if nodes is not None:
            nodes = tuple(nodes)
            if len(nodes) != self._n:
                msg = f"`nodes` must hold {self._n} labels (one per node), got {len(nodes)}."
                raise ConfigError(msg)
            if len(set(nodes)) != len(nodes):
                msg = "`nodes` labels must be distinct."
                raise ConfigError(msg)
        self._nodes = nodes
        self._layers: dict[str, _Layer] = {}
        self._version = 0
        self._cache: dict[tuple, tuple[tuple, sparse.csr_array]] = {}
        self.compile_count = 0
        for name, edges in (layers or {}).items():
            self.add_layer(name, edges)

    # ---------------------------------------------------------------- reading

    @property
    def n_nodes(self) -> int:
        """The number of nodes."""
        return self._n

    @property
    def nodes(self) -> tuple | None:
        """The node labels, or None when nodes are the row indices."""
        return self._nodes

    @property
    def layers(self) -> tuple[str, ...]:
        """The layer names, in the order they were added."""
        return tuple(self._layers)

    @property
    def version(self) -> int:
        """A counter that increases with every change to any layer."""
        return self._version

    def __contains__(self, name: object) -> bool:
        return name in self._layers

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}: {layer.u.size}" for k, layer in self._layers.items())
        return f"MultiLayerNetwork(n_nodes={self._n}, edges={{{parts}}})"

    def _layer(self, name: str) -> _Layer:
        if name not in self._layers:
            have = list(self._layers) or ["(no layers)"]
            msg = f"the network has no layer `{name}`. {closest_hint(name, have)}"
            raise ConfigError(msg)
        return self._layers[name]

    def edges(self, name: str) -> Edges:
        """The edges of layer `name` (read-only arrays, ``u < v``)."""
        layer = self._layer(name)
        return Edges(layer.u, layer.v)

    def weights(self, name: str) -> np.ndarray:
        """The edge weights of layer `name` (read-only)."""
        return self._layer(name).w

    def n_edges(self, name: str | None = None) -> int:
        """The number of stored edges of layer `name`, or of all layers."""
        if name is None:
            return sum(layer.u.size for layer in self._layers.values())
        return int(self._layer(name).u.size)

    # ---------------------------------------------------------------- changing

    def _check_edges(self, edges: Any, weight: Any, name: str) -> tuple[np.ndarray, ...]:
        if not isinstance(name, str) or not name:
            msg = f"a layer name must be a non-empty string, got {name!r}."
            raise ConfigError(msg)
        try:
            u, v = (np.asarray(a) for a in edges)
        except (TypeError, ValueError):
            msg = f"layer `{name}`: edges must be a pair (u, v) of integer arrays."
            raise ConfigError(msg) from None
        if u.shape != v.shape or u.ndim != 1:
            msg = (
                f"layer `{name}`: `u` and `v` must be 1-d arrays of equal length, got shapes "
                f"{u.shape} and {v.shape}."
            )
            raise ConfigError(msg)
        for a in (u, v):
            if a.size and (a.dtype.kind not in "iu" or a.dtype == np.bool_):
                msg = f"layer `{name}`: node indices must be integers, got dtype {a.dtype}."
                raise ConfigError(msg)
        u, v = u.astype(np.int64), v.astype(np.int64)
        if u.size and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= self._n):
            bad = int(np.flatnonzero((u < 0) | (v < 0) | (u >= self._n) | (v >= self._n))[0])
            msg = (
                f"layer `{name}`: edge {bad} ({u[bad]}, {v[bad]}) has a node outside "
                f"[0, {self._n - 1}]. Hint: nodes are person row indices."
            )
            raise ConfigError(msg)
        w = np.asarray(weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(u.size, float(w))
        if w.shape != u.shape:
            msg = (
                f"layer `{name}`: `weight` must be a scalar or one value per edge ({u.size}), "
                f"got shape {w.shape}."
            )
            raise ConfigError(msg)
        if w.size and not (np.isfinite(w).all() and w.min() >= 0):
            msg = f"layer `{name}`: weights must be finite and >= 0, got min {np.nanmin(w):g}."
            raise ConfigError(msg)
        keep = u != v
        return np.minimum(u, v)[keep], np.maximum(u, v)[keep], w[keep]

    def _set(self, name: str, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> None:
        self._version += 1
        self._layers[name] = _Layer(_frozen(u), _frozen(v), _frozen(w), self._version)

    def add_layer(self, name: str, edges: Any, *, weight: Any = 1.0, replace: bool = False) -> None:
        """Add layer `name` from ``(u, v)`` with a scalar or per-edge `weight`.

        Raises
        ------
        ConfigError
            If the layer exists (unless `replace`), or the edges or weights are malformed.
        """
        if name in self._layers and not replace:
            msg = f"the network already has a layer `{name}`. Hint: pass `replace=True`."
            raise ConfigError(msg)
        self._set(name, *self._check_edges(edges, weight, name))

    def add_edges(self, name: str, edges: Any, *, weight: Any = 1.0) -> None:
        """Append edges to layer `name` (created if missing)."""
        u, v, w = self._check_edges(edges, weight, name)
        if name in self._layers:
            old = self._layers[name]
            u, v, w = np.r_[old.u, u], np.r_[old.v, v], np.r_[old.w, w]
        self._set(name, u, v, w)

    def remove_edges(self, name: str, mask: Any) -> None:
        """Drop the edges of layer `name` where the boolean `mask` (one per edge) is True.

        Examples
        --------
        >>> net = MultiLayerNetwork(3, {"work": ([0, 1], [1, 2])})
        >>> u, v = net.edges("work")
        >>> net.remove_edges("work", (u == 2) | (v == 2))  # node 2 stays home
        >>> net.n_edges("work")
        1
        """
        layer = self._layer(name)
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != layer.u.shape:
            msg = (
                f"layer `{name}`: `mask` must be a boolean array with one value per edge "
                f"({layer.u.size}), got {mask.dtype} of shape {mask.shape}."
            )
            raise ConfigError(msg)
        keep = ~mask
        self._set(name, layer.u[keep], layer.v[keep], layer.w[keep])

    def remove_layer(self, name: str) -> None:
        """Remove layer `name` (e.g. schools closed)."""
        self._layer(name)
        del self._layers[name]
        self._version += 1

    # ---------------------------------------------------------------- compiling

    def _selection(self, layers: str | Iterable[str] | None) -> tuple[str, ...]:
        if layers is None:
            return tuple(self._layers)
        names = (layers,) if isinstance(layers, str) else tuple(layers)
        for name in names:
            self._layer(name)
        return tuple(dict.fromkeys(names))

    def adjacency(
        self, layers: str | Iterable[str] | None = None, *, weighted: bool = True
    ) -> sparse.csr_array:
        """The symmetric adjacency of `layers` (a name, several, or None for all) as CSR.

        Weighted: entry ``(i, j)`` is the sum of the weights of the edges ``i -- j`` in those
        layers. Unweighted: 1 where there is any such edge. No self loops, explicit zeros
        removed, indices sorted. The result is cached; treat it as read-only.
        """
        names = self._selection(layers)
        key = (tuple(sorted(names)), bool(weighted))
        stamp = tuple(self._layers[k].version for k in key[0])
        cached = self._cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        matrix = self._compile(key[0], weighted=weighted)
        self._cache[key] = (stamp, matrix)
        return matrix

    def _compile(self, names: tuple[str, ...], *, weighted: bool) -> sparse.csr_array:
        self.compile_count += 1
        chosen = [self._layers[k] for k in names]
        u = np.concatenate([_EMPTY, *(layer.u for layer in chosen)])
        v = np.concatenate([_EMPTY, *(layer.v for layer in chosen)])
        w = np.concatenate([np.empty(0), *(layer.w for layer in chosen)])
        index = np.int32 if max(self._n, 2 * u.size) < np.iinfo(np.int32).max else np.int64
        rows = np.r_[u, v].astype(index)
        cols = np.r_[v, u].astype(index)
        data = np.r_[w, w]
        matrix = sparse.csr_array((data, (rows, cols)), shape=(self._n, self._n))
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        if not weighted:
            matrix.data[:] = 1.0
        matrix.sort_indices()
        return matrix

    def refresh(self) -> int:
        """Recompile now every cached adjacency whose layers changed; return how many.

        `adjacency` does this lazily; call `refresh` at a step boundary to pay for it there.
        Cached selections that name a removed layer are dropped.
        """
        rebuilt = 0
        for key, (stamp, _) in list(self._cache.items()):
            names, weighted = key
            if any(k not in self._layers for k in names):
                del self._cache[key]
                continue
            now = tuple(self._layers[k].version for k in names)
            if now != stamp:
                self._cache[key] = (now, self._compile(names, weighted=weighted))
                rebuilt += 1
        return rebuilt

    # ---------------------------------------------------------------- networkx

    def to_networkx(self) -> nx.MultiGraph:
        """The network as an ``nx.MultiGraph``: an edge per (pair, layer), keyed by the layer.

        Edges carry ``layer`` and ``weight``; a pair given twice in a layer becomes one edge
        with the summed weight. Nodes are ``0 .. n-1`` or the `nodes` labels.

        Examples
        --------
        >>> net = MultiLayerNetwork(3, {"household": ([0], [1]), "community": ([0], [1])})
        >>> sorted(net.to_networkx().edges(keys=True))
        [(0, 1, 'community'), (0, 1, 'household')]
        """
        graph = nx.MultiGraph()
        labels = self._nodes
        graph.add_nodes_from(range(self._n) if labels is None else labels)
        for name, layer in self._layers.items():
            if layer.u.size == 0:
                continue
            key = layer.u * np.int64(self._n) + layer.v
            uniq, inverse = np.unique(key, return_inverse=True)
            w = np.bincount(inverse.reshape(-1), weights=layer.w, minlength=uniq.size)
            us, vs = (uniq // self._n).tolist(), (uniq % self._n).tolist()
            if labels is not None:
                us, vs = [labels[i] for i in us], [labels[i] for i in vs]
            graph.add_edges_from(
                (a, b, name, {"layer": name, "weight": float(x)})
                for a, b, x in zip(us, vs, w.tolist(), strict=True)
            )
        return graph

    @classmethod
    def from_networkx(
        cls,
        graph: nx.Graph,
        *,
        layer_attr: str = "layer",
        weight: str = "weight",
        default_layer: str = "contacts",
        nodes: Sequence[Any] | None = None,
    ) -> MultiLayerNetwork:
        """A network from any undirected networkx graph (Graph or MultiGraph).

        An edge goes to the layer named by its `layer_attr` attribute, or to `default_layer`;
        its weight is its `weight` attribute, or 1. Node labels become row indices: through
        `nodes` if given (e.g. ``persons["person_id"]``, so rows line up with the persons
        table; every graph node must be in it, and nodes of `nodes` absent from the graph are
        isolated); else the identity if the nodes are exactly the integers ``0 .. n-1``; else
        the sorted labels (insertion order if they cannot be sorted).

        Raises
        ------
        ConfigError
            For a directed graph, or a graph node missing from `nodes`.

        Examples
        --------
        >>> g = nx.Graph([("ann", "bob", {"layer": "household"}), ("bob", "cy")])
        >>> net = MultiLayerNetwork.from_networkx(g)
        >>> net.layers, net.nodes
        (('household', 'contacts'), ('ann', 'bob', 'cy'))
        """
        if graph.is_directed():
            msg = (
                "contact networks are undirected, got a directed graph. "
                "Hint: pass `graph.to_undirected()`."
            )
            raise ConfigError(msg)
        if nodes is not None:
            labels: tuple | None = tuple(nodes)
            index = {label: i for i, label in enumerate(labels)}
            missing = [x for x in graph.nodes if x not in index]
            if missing:
                msg = (
                    f"{len(missing)} graph node(s) are not in `nodes`, e.g. {missing[0]!r}. "
                    "Hint: `nodes` must list every node of the graph."
                )
                raise ConfigError(msg)
        else:
            found = list(graph.nodes)
            n = len(found)
            if all(isinstance(x, numbers.Integral) for x in found) and set(found) == set(range(n)):
                labels, index = None, {x: int(x) for x in found}
            else:
                try:
                    found = sorted(found)
                except TypeError:
                    pass
                labels = tuple(found)
                index = {label: i for i, label in enumerate(labels)}
        n_nodes = len(index) if labels is None else len(labels)
        per_layer: dict[str, tuple[list, list, list]] = {}
        for a, b, data in graph.edges(data=True):
            name = data.get(layer_attr, default_layer)
            us, vs, ws = per_layer.setdefault(str(name), ([], [], []))
            us.append(index[a])
            vs.append(index[b])
            ws.append(data.get(weight, 1.0))
        net = cls(n_nodes, nodes=labels)
        for name, (us, vs, ws) in per_layer.items():
            edges = (np.array(us, np.int64), np.array(vs, np.int64))
            net.add_layer(name, edges, weight=np.array(ws, np.float64))
        return net


# --------------------------------------------------------------------------- all layers

_BUILDERS: dict[str, Callable[..., Edges]] = {
    "household": household_edges,
    "school": school_edges,
    "workplace": workplace_edges,
    "community": community_edges,
}


def contact_layers(
    persons: pl.DataFrame,
    *,
    layers: Sequence[str] = LAYERS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    weights: Mapping[str, float] | None = None,
    rng: SeedLike = None,
) -> MultiLayerNetwork:
    """Build contact layers of a population into a `MultiLayerNetwork`.

    Each layer draws from its own named stream, ``Streams(rng)["network.<layer>"]``
    (`abm.rng.Streams`), so a layer depends only on the seed, the population and its own
    parameters: changing the workplace parameters leaves the community layer as it was.

    Parameters
    ----------
    persons : polars.DataFrame
        The persons table; node ``i`` is row ``i``.
    layers : sequence of str, default LAYERS
        Which of ``household``, ``school``, ``workplace``, ``community`` to build.
    params : mapping, optional
        Keyword arguments per layer, e.g. ``{"community": {"mean_degree": 6}}``.
    weights : mapping, optional
        A weight per layer (default 1), e.g. relative transmissibility.
    rng : int, SeedSequence, Generator or None
        The root seed.

    Returns
    -------
    MultiLayerNetwork

    Raises
    ------
    ConfigError
        For an unknown layer or parameter (naming the closest), or any error of a builder.

    Examples
    --------
    >>> import polars as pl
    >>> persons = pl.DataFrame({"household_id": [1, 1, 2, 2], "zone": ["A", "A", "B", "B"]})
    >>> net = contact_layers(persons, layers=["household", "community"], rng=1)
    >>> net.layers, net.n_edges("household")
    (('household', 'community'), 2)
    """
    params = dict(params or {})
    weights = dict(weights or {})
    for name in [*layers, *params, *weights]:
        if name not in _BUILDERS:
            msg = f"unknown contact layer `{name}`. {closest_hint(name, _BUILDERS)}"
            raise ConfigError(msg)
    streams = Streams(rng)
    net = MultiLayerNetwork(_check_persons(persons, "contact_layers").height)
    for name in layers:
        builder = _BUILDERS[name]
        kwargs = dict(params.get(name, {}))
        allowed = [p for p in inspect.signature(builder).parameters if p not in ("persons", "rng")]
        for key in kwargs:
            if key not in allowed:
                msg = f"unknown parameter `{key}` of the {name} layer. {closest_hint(key, allowed)}"
                raise ConfigError(msg)
        if "rng" in inspect.signature(builder).parameters:
            kwargs["rng"] = streams[f"network.{name}"]
        weight = _number(f"weights.{name}", weights.get(name, 1.0), low=0.0)
        net.add_layer(name, builder(persons, **kwargs), weight=weight)
    return net
