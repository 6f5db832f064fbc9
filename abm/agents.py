"""Column-backed Mesa agents: the state of each agent type lives in numpy columns.

Mesa on the outside, columns on the inside (DESIGN.md §2). An agent type declares its attributes
as `column` descriptors; a `Columns` table owned by the model holds one numpy array per attribute;
a `ColumnAgent` is a real ``mesa.Agent`` whose declared attributes read and write its row of those
arrays. So ``model.agents``, ``agents_by_type``, ``AgentSet.select/agg/get/set/groupby/do`` and
``mesa.DataCollector`` see ordinary Mesa agents, while hot rules work on whole columns (mask ->
``np.flatnonzero`` -> column writes) at numpy speed, and both paths read and write the same
numbers.

>>> import numpy as np
>>> class Person(ColumnAgent):
...     state = column(np.int8, default=0)
...     wealth = column(np.int64, default=1)
>>> people = Columns(Person.column_specs())
>>> people.add(3)
array([0, 1, 2])
>>> people["wealth"][people.where(people["state"] == 0)] += 5
>>> people["wealth"].tolist()
[6, 6, 6]

Design choices
--------------
**Removal is a tombstone, rows never move.** Removing an agent clears its bit in the `alive`
column; its row keeps its last values and is never reused, and ``row == id`` for agents created
without explicit ids. So a CSR adjacency compiled once from node ids indexes the columns directly,
a keyed draw for agent ``k`` uses the same id in every run, and a view's row never changes under
it. Vectorised rules skip removed rows by asking for rows through `Columns.where` (``mask &
alive``; when nothing was ever removed the ``&`` is skipped). The cost: removed rows keep their
memory (one row per agent ever created). Swap-remove would reclaim it but moves rows, which breaks
the row = node-id correspondence every network layer relies on.

**Growth is amortised doubling.** Arrays are allocated with spare capacity and copied into arrays
twice as large when full, so adding agents one at a time costs O(1) amortised. ``columns[name]``
is a view of the first `n` rows of the current array: take it afresh in each rule, since a view
taken before agents were added still points to the old, shorter array.

**Views may be lazy.** With ``create_views=False`` (see `abm.model.SynthModel.add_agent_type`) a
type has columns only; `Columns.agent` materialises (and caches) the view of one row on demand,
and only materialised agents are in ``model.agents``, ``agents_by_type`` and what a
``DataCollector`` sees. A Mesa agent costs about 1 KB and a few microseconds to create, so
10**6 eager views take about a gigabyte and seconds before the first step; lazy types avoid that
at the price of Mesa's collection API (and the per-agent rule path, which iterates agents) seeing
only the agents a rule or a user asked for.

**Reads return Python scalars.** A numeric column read through a view gives ``int``, ``float`` or
``bool`` (``ndarray.item``), so per-agent code does Python arithmetic (no int8 wrap-around) and
``DataCollector`` stores immutable values without deep copies. Writes go through numpy's casting
into the column's dtype.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import mesa
import numpy as np

from populations.errors import ConfigError, closest_hint

__all__ = ["ColumnAgent", "Columns", "column"]

_INTERNAL = ("alive", "ids")
_ALLOWED_KINDS = "biufcmMO"
_NUMERIC_KINDS = "biuf"
_MIN_CAPACITY = 16


def _as_dtype(where: str, dtype: Any) -> np.dtype:
    if dtype is str:
        return np.dtype(object)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        msg = (
            f"{where}: {dtype!r} is not a numpy dtype. "
            "Hint: use e.g. np.int8, np.int64, np.float64, bool, or object for strings."
        )
        raise ConfigError(msg) from None
    if dt.kind not in _ALLOWED_KINDS or dt.shape != ():
        msg = (
            f"{where}: dtype `{dt}` cannot be a column. Hint: use a numeric, boolean or "
            "datetime dtype, or object for strings and other Python values."
        )
        raise ConfigError(msg)
    return dt


def _check_fits(where: str, values: np.ndarray, dtype: np.dtype) -> None:
    """Refuse values whose kind does not fit `dtype` (floats into ints) or ints out of range."""
    src = values.dtype
    if dtype.kind == "O" or values.size == 0:
        return
    if src.kind == "O":
        msg = (
            f"{where} expects {dtype} values, got Python objects (strings or missing values?). "
            f"Hint: convert the data to {dtype} first, or declare the column with dtype object."
        )
        raise ConfigError(msg)
    if not np.can_cast(src, dtype, casting="same_kind"):
        msg = f"{where} expects {dtype} values, got {src}."
        if dtype.kind in "iu" and src.kind == "f":
            msg += " Hint: round and convert with .astype(int), or declare a float column."
        else:
            msg += f" Hint: convert the data to {dtype}, or declare the column as {src}."
        raise ConfigError(msg)
    if dtype.kind in "iu" and src.kind in "iu" and not np.can_cast(src, dtype):
        info = np.iinfo(dtype)
        lo, hi = values.min(), values.max()
        if lo < info.min or hi > info.max:
            msg = (
                f"{where} has values from {lo} to {hi}, outside the range of {dtype} "
                f"({info.min} to {info.max}). Hint: declare a wider integer dtype."
            )
            raise ConfigError(msg)


class column:
    """An agent attribute stored in its type's `Columns`: declare it on a `ColumnAgent` subclass.

    Parameters
    ----------
    dtype : numpy dtype, default float64
        The column's dtype (numeric, boolean, datetime, or object; ``str`` means object).
    default : scalar
        The value of agents created without one.
    doc : str, optional
        What the attribute means (and its unit).

    Examples
    --------
    >>> class Cow(ColumnAgent):
    ...     milk = column(np.float32, default=0.0, doc="litres per day")
    >>> Cow.milk
    column(float32, default=0.0)
    """

    def __init__(self, dtype: Any = np.float64, default: Any = 0, *, doc: str | None = None):
        self.dtype = _as_dtype("column", dtype)
        self.numeric = self.dtype.kind in _NUMERIC_KINDS
        self.default = default
        self.name: str | None = None
        self.doc = doc
        self._check_default("column")

    def _check_default(self, where: str) -> None:
        if self.dtype.kind == "O":
            return
        value = np.asarray(self.default)
        if value.shape != ():
            msg = f"{where}: the default must be a scalar, got {self.default!r}."
            raise ConfigError(msg)
        _check_fits(f"{where}: default {self.default!r}", value, self.dtype)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, agent: Any, owner: type | None = None) -> Any:
        if agent is None:
            return self
        data = agent._columns._data[self.name]
        return data.item(agent._row) if self.numeric else data[agent._row]

    def __set__(self, agent: Any, value: Any) -> None:
        agent._columns._data[self.name][agent._row] = value

    def __repr__(self) -> str:
        return f"column({self.dtype}, default={self.default!r})"


class Columns:
    """The state of one agent type: one numpy array per attribute, one row per agent.

    Rows are never reused or moved: a removed agent's row stays, with ``alive`` False (see the
    module docstring). Arrays grow by doubling as agents are added; ``columns[name]`` is a view of
    the first `n` rows.

    Parameters
    ----------
    specs : mapping of str to column, or iterable of named columns
        The declared attributes (``ColumnAgent.column_specs()`` gives an agent class's).
    name : str
        Names the table in messages (the agent class's name when a model makes it).
    capacity : int
        Rows to allocate up front.

    Attributes
    ----------
    agent_class, model
        Set when a model registers the table, so `agent` can make views; None otherwise.

    Examples
    --------
    >>> cols = Columns({"state": column(np.int8), "age": column(np.float64, default=30.0)})
    >>> cols.add(data={"age": [10.0, 70.0]})
    array([0, 1])
    >>> cols.remove([0])
    >>> cols.n, cols.n_alive, cols.where().tolist(), cols.add(1).tolist()
    (2, 1, [1], [2])
    """

    def __init__(
        self,
        specs: Mapping[str, column] | Iterable[column],
        *,
        name: str = "agents",
        capacity: int = 0,
    ) -> None:
        self.name = name
        if isinstance(specs, Mapping):
            items = list(specs.items())
        else:
            items = [(spec.name, spec) for spec in specs]
        self.specs: dict[str, column] = {}
        for key, spec in items:
            if not isinstance(spec, column):
                msg = (
                    f"`{name}`: column `{key}` must be declared with column(dtype, default), "
                    f"got {type(spec).__name__}."
                )
                raise ConfigError(msg)
            if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
                msg = f"`{name}`: {key!r} cannot name a column. Hint: use a Python identifier."
                raise ConfigError(msg)
            if key in _INTERNAL:
                msg = f"`{name}`: `{key}` is kept by the table itself. Hint: choose another name."
                raise ConfigError(msg)
            if spec.name is None:
                spec.name = key
            self.specs[key] = spec
        capacity = operator.index(capacity)
        self._n = 0
        self._n_alive = 0
        self._next_id = 0
        self._identity = True  # ids[row] == row for every row
        self._id_rows: dict[int, int] | None = None  # id -> row, built when ids are not rows
        self._data: dict[str, np.ndarray] = {
            k: np.empty(capacity, s.dtype) for k, s in self.specs.items()
        }
        self._alive = np.zeros(capacity, np.bool_)
        self._ids = np.empty(capacity, np.int64)
        self._views: dict[int, Any] = {}
        self.agent_class: type | None = None
        self.model: Any = None

    # ----------------------------------------------------------------------------- reading

    @property
    def n(self) -> int:
        """Rows so far: agents alive plus removed (the length of every column view)."""
        return self._n

    def __len__(self) -> int:
        return self._n

    @property
    def n_alive(self) -> int:
        """Agents not removed."""
        return self._n_alive

    @property
    def capacity(self) -> int:
        """Rows allocated (at least `n`)."""
        return self._alive.size

    @property
    def names(self) -> list[str]:
        """The declared columns, in declaration order."""
        return list(self.specs)

    @property
    def ids(self) -> np.ndarray:
        """Stable agent ids by row (int64; read-only view). Never reused after a removal."""
        view = self._ids[: self._n]
        view.flags.writeable = False
        return view

    @property
    def alive(self) -> np.ndarray:
        """True for rows whose agent was not removed (read-only view)."""
        view = self._alive[: self._n]
        view.flags.writeable = False
        return view

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def __iter__(self) -> Iterator[str]:
        return iter(self.specs)

    def _spec(self, name: str) -> column:
        try:
            return self.specs[name]
        except (KeyError, TypeError):
            msg = f"`{self.name}` has no column `{name}`. " + closest_hint(str(name), self.specs)
            raise ConfigError(msg) from None

    def __getitem__(self, name: str) -> np.ndarray:
        """The column `name` as a writeable view of length `n`."""
        self._spec(name)
        return self._data[name][: self._n]

    def __setitem__(self, name: str, values: Any) -> None:
        """Overwrite the whole column `name` (a scalar, or an array of length `n`)."""
        spec = self._spec(name)
        arr = np.asarray(values)
        if arr.ndim and arr.shape != (self._n,):
            msg = (
                f"`{self.name}`: column `{name}` has {self._n} rows, got values of shape "
                f"{arr.shape}. Hint: pass one value per row, or a scalar."
            )
            raise ConfigError(msg)
        _check_fits(f"`{self.name}`: column `{name}`", arr, spec.dtype)
        self._data[name][: self._n] = arr

    def where(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Rows of live agents where `mask` (a boolean array of length `n`) is True.

        The idiom of a vectorised rule: ``rows = cols.where(cols["state"] == I)``.
        Without a mask, every live row.
        """
        n = self._n
        if mask is None:
            if self._n_alive == n:
                return np.arange(n)
            return np.flatnonzero(self._alive[:n])
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (n,):
            msg = (
                f"`{self.name}`.where needs a boolean mask of length {n}, got "
                f"{mask.dtype} of shape {mask.shape}. Hint: compare a column, e.g. "
                "cols['state'] == 1."
            )
            raise ConfigError(msg)
        if self._n_alive == n:
            return np.flatnonzero(mask)
        return np.flatnonzero(mask & self._alive[:n])

    def rows_of(self, ids: Any) -> np.ndarray:
        """The rows of agent `ids` (an int or array of ints)."""
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            msg = f"agent ids must be integers, got {arr.dtype}."
            raise ConfigError(msg)
        if self._identity:
            rows = arr.astype(np.int64, copy=False)
            bad = (rows < 0) | (rows >= self._n)
        else:
            if self._id_rows is None:
                self._id_rows = {int(k): r for r, k in enumerate(self._ids[: self._n])}
            lookup = self._id_rows
            flat = [lookup.get(int(k), -1) for k in arr.reshape(-1)]
            rows = np.asarray(flat, np.int64).reshape(arr.shape)
            bad = rows < 0
        if np.any(bad):
            missing = arr[bad].reshape(-1)[0]
            msg = f"`{self.name}` has no agent with id {int(missing)}."
            raise ConfigError(msg)
        return rows

    def to_polars(self, *, include_removed: bool = False) -> Any:
        """The table as a polars frame with an ``id`` column first (live agents only, unless
        `include_removed`, which adds ``alive``)."""
        import polars as pl

        rows = slice(0, self._n) if include_removed else self.where()
        data: dict[str, Any] = {"id": self._ids[: self._n][rows]}
        if include_removed:
            data["alive"] = self._alive[: self._n]
        for name in self.specs:
            data[name] = self._data[name][: self._n][rows]
        return pl.DataFrame(data)

    # ----------------------------------------------------------------------------- writing

    def _reserve(self, n_new: int) -> None:
        need = self._n + n_new
        cap = self._alive.size
        if need <= cap:
            return
        cap = max(need, 2 * cap, _MIN_CAPACITY)
        n = self._n
        for key, old in self._data.items():
            new = np.empty(cap, old.dtype)
            new[:n] = old[:n]
            self._data[key] = new
        alive = np.zeros(cap, np.bool_)
        alive[:n] = self._alive[:n]
        self._alive = alive
        ids = np.empty(cap, np.int64)
        ids[:n] = self._ids[:n]
        self._ids = ids

    def add(self, n: int | None = None, *, data: Any = None, ids: Any = None) -> np.ndarray:
        """Append agents; return their rows.

        Parameters
        ----------
        n : int, optional
            How many; may be left out when `data` gives it.
        data : polars or pandas DataFrame, or mapping of column name to array or scalar
            Initial values (copied; missing columns take their default). Every column must be
            declared.
        ids : str or array_like of int, optional
            The agents' ids: an array, or the name of a column of `data` holding them (not
            stored as a column). By default the next free ids, ``max id + 1`` onwards.

        Raises
        ------
        ConfigError
            For an undeclared column, values of the wrong dtype or length, missing values, or
            duplicate or negative ids.
        """
        columns = self._columns_from(data, ids)
        id_values = None
        if isinstance(ids, str):
            id_values = columns.pop(ids)
        elif ids is not None:
            id_values = np.asarray(ids)
        lengths = {k: v.shape[0] for k, v in columns.items() if v.ndim}
        if id_values is not None:
            lengths["ids"] = id_values.shape[0] if id_values.ndim else 1
        if n is not None:
            n = operator.index(n)
            if n < 0:
                msg = f"`{self.name}`: cannot add {n} agents. Hint: pass n >= 0."
                raise ConfigError(msg)
            lengths = {"n": n, **lengths}
        if len(set(lengths.values())) > 1:
            msg = (
                f"`{self.name}`: the data have different lengths: "
                + ", ".join(f"`{k}` {v:,}" for k, v in lengths.items())
                + ". Hint: give one value per agent, or a scalar."
            )
            raise ConfigError(msg)
        count = next(iter(lengths.values()), 0 if n is None else n)
        for key, values in columns.items():
            _check_fits(f"`{self.name}`: column `{key}`", values, self.specs[key].dtype)
        new_ids = self._new_ids(count, id_values)
        self._reserve(count)
        start, stop = self._n, self._n + count
        for key, spec in self.specs.items():
            target = self._data[key]
            target[start:stop] = columns[key] if key in columns else spec.default
        self._alive[start:stop] = True
        self._ids[start:stop] = new_ids
        self._n = stop
        self._n_alive += count
        return np.arange(start, stop)

    def _new_ids(self, count: int, id_values: np.ndarray | None) -> np.ndarray:
        start = self._n
        if id_values is None:
            new = np.arange(self._next_id, self._next_id + count, dtype=np.int64)
            if self._next_id != start:
                self._identity = False
        else:
            if id_values.dtype.kind not in "iu":
                msg = f"`{self.name}`: agent ids must be integers, got {id_values.dtype}."
                raise ConfigError(msg)
            new = id_values.astype(np.int64).reshape(-1)
            if new.size and new.min() < 0:
                msg = f"`{self.name}`: agent ids must be non-negative, got {int(new.min())}."
                raise ConfigError(msg)
            seen = np.concatenate([self._ids[:start], new])
            uniq, counts = np.unique(seen, return_counts=True)
            if uniq.size != seen.size:
                dup = int(uniq[counts > 1][0])
                msg = (
                    f"`{self.name}`: agent id {dup} is given more than once. "
                    "Hint: ids are unique and never reused, even after a removal."
                )
                raise ConfigError(msg)
            if not np.array_equal(new, np.arange(start, start + new.size)):
                self._identity = False
        if new.size:
            self._next_id = max(self._next_id, int(new.max()) + 1)
        if not self._identity:
            self._id_rows = None
        return new

    def _columns_from(self, data: Any, ids: Any) -> dict[str, np.ndarray]:
        if data is None:
            if isinstance(ids, str):
                msg = f"`{self.name}`: `ids={ids!r}` names a data column, but no data was given."
                raise ConfigError(msg)
            return {}
        raw = _frame_columns(self.name, data)
        if isinstance(ids, str) and ids not in raw:
            msg = f"`{self.name}`: the data have no id column `{ids}`. " + closest_hint(ids, raw)
            raise ConfigError(msg)
        out: dict[str, np.ndarray] = {}
        for key, values in raw.items():
            if not (isinstance(ids, str) and key == ids) and key not in self.specs:
                msg = (
                    f"`{self.name}`: unknown column `{key}` in the data. "
                    + closest_hint(key, self.specs)
                    + " Declare it on the agent class with `column(...)`, or drop it first."
                )
                raise ConfigError(msg)
            out[key] = values
        return out

    def remove(self, rows: Any) -> None:
        """Remove the agents in `rows` (their views leave the model too). Idempotent."""
        rows = np.asarray(rows)
        if rows.dtype == np.bool_:
            msg = "`remove` takes rows, not a mask. Hint: pass cols.where(mask)."
            raise ConfigError(msg)
        rows = rows.astype(np.int64, copy=False).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self._n):
            msg = f"`{self.name}`: rows to remove must be in [0, {self._n}), got {rows!r}."
            raise ConfigError(msg)
        if self._views:
            for row in rows.tolist():
                view = self._views.get(row)
                if view is not None:
                    view.remove()  # deregisters from Mesa, then comes back to _kill
        rows = rows[self._alive[rows]]
        rows = np.unique(rows)
        self._alive[rows] = False
        self._n_alive -= rows.size

    def _kill(self, row: int) -> None:
        self._views.pop(row, None)
        if self._alive[row]:
            self._alive[row] = False
            self._n_alive -= 1

    # ----------------------------------------------------------------------------- views

    def agent(self, row: int) -> Any:
        """The Mesa agent viewing `row`, created (and registered with the model) on demand."""
        view = self._views.get(row)
        if view is not None:
            return view
        if self.agent_class is None or self.model is None:
            msg = f"`{self.name}` belongs to no model, so it has no agents to view."
            raise ConfigError(msg)
        row = operator.index(row)
        if not 0 <= row < self._n or not self._alive[row]:
            msg = f"`{self.name}` has no live agent at row {row}."
            raise ConfigError(msg)
        return self.agent_class(self.model, _row=row)

    def agents(self, rows: Any = None) -> list[Any]:
        """Views of `rows` (default: every live row), created on demand."""
        rows = self.where() if rows is None else np.asarray(rows).reshape(-1)
        return [self.agent(r) for r in rows.tolist()]

    @property
    def n_views(self) -> int:
        """Agents materialised as Mesa views."""
        return len(self._views)

    def __repr__(self) -> str:
        cols = ", ".join(f"{k}: {s.dtype}" for k, s in self.specs.items())
        return f"Columns({self.name!r}, n={self._n}, alive={self._n_alive}, {{{cols}}})"


def _frame_columns(name: str, data: Any) -> dict[str, np.ndarray]:
    """Columns of a polars/pandas frame or a mapping as numpy arrays (nulls refused)."""
    module = type(data).__module__.split(".")[0]
    out: dict[str, np.ndarray] = {}
    if module == "polars" and hasattr(data, "get_columns"):
        for s in data.get_columns():
            if s.null_count():
                _raise_nulls(name, s.name, s.null_count())
            out[s.name] = s.to_numpy()
        return out
    if module == "pandas" and hasattr(data, "columns"):
        for key in data.columns:
            s = data[key]
            nulls = int(s.isna().sum())
            if nulls:
                _raise_nulls(name, key, nulls)
            out[str(key)] = s.to_numpy()  # may be read-only (pandas 3): `add` copies it
        return out
    if isinstance(data, Mapping):
        for key, values in data.items():
            arr = np.asarray(values)
            if arr.ndim > 1:
                msg = f"`{name}`: column `{key}` got a {arr.ndim}-D array. Hint: pass 1-D data."
                raise ConfigError(msg)
            out[str(key)] = arr
        return out
    msg = (
        f"`{name}`: cannot read agent data from {type(data).__name__}. "
        "Hint: pass a polars or pandas DataFrame, or a dict of column name to array."
    )
    raise ConfigError(msg)


def _raise_nulls(name: str, key: str, count: int) -> None:
    msg = (
        f"`{name}`: column `{key}` has {count:,} missing value(s). "
        "Hint: fill them (e.g. fill_null) before making agents."
    )
    raise ConfigError(msg)


_RESERVED_NAMES = frozenset({"model", "unique_id", "pos", "row", "id", "alive", "ids"})


class ColumnAgent(mesa.Agent):
    """A Mesa agent whose declared attributes live in its type's `Columns`, at row ``self.row``.

    Declare attributes with `column`; everything else about the agent is plain Mesa. Creating
    one directly (``Person(model, state=1)``, or ``Person.create_agents(model, n)``) appends a row
    to the type's table (registering the type with the model on first use); a model creates the
    views of a whole table at once with `abm.model.SynthModel.add_agent_type`.

    A subclass may define, per agent, a method named like one of the model's rules; the model
    then runs that rule as ``agents_by_type[cls].shuffle_do(name)`` instead of the vectorised
    version (see `abm.model.SynthModel`). A subclass ``__init__`` must accept ``**kwargs`` and
    pass them on to ``super().__init__``.

    Examples
    --------
    >>> from abm.model import SynthModel
    >>> class Person(ColumnAgent):
    ...     wealth = column(np.int64, default=1)
    >>> model = SynthModel(seed=1)
    >>> people = model.add_agent_type(Person, 3)
    >>> model.agents.agg("wealth", sum)
    3
    >>> agent = people.agent(2)
    >>> agent.wealth += 4
    >>> people["wealth"].tolist()
    [1, 1, 5]
    """

    _column_specs: dict[str, column] = {}
    shuffle_rules: bool = True
    """Run per-agent rule overrides in random order (``shuffle_do``) or in row order (``do``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs: dict[str, column] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, column):
                    specs[key] = value
        for key in specs:
            if key.startswith("_") or key in _RESERVED_NAMES or hasattr(ColumnAgent, key):
                msg = (
                    f"`{cls.__name__}.{key}` cannot be a column: the name is taken by Mesa or "
                    "by ColumnAgent. Hint: choose another attribute name."
                )
                raise ConfigError(msg)
        cls._column_specs = specs

    @classmethod
    def column_specs(cls) -> dict[str, column]:
        """The declared columns of this class (including inherited ones), in order."""
        return dict(cls._column_specs)

    def __init__(self, model: Any, *args: Any, _row: int | None = None, **values: Any) -> None:
        table = _table_for(model, type(self))
        if _row is None:
            for key in values:
                table._spec(key)  # unknown names fail with a hint
            _row = int(table.add(1, data={k: [v] for k, v in values.items()})[0])
        elif values:
            msg = f"unexpected keyword argument(s) {', '.join(values)} for an existing row."
            raise ConfigError(msg)
        self._columns = table
        self._row = _row
        super().__init__(model, *args)
        table._views[_row] = self

    @property
    def row(self) -> int:
        """This agent's row in its type's columns."""
        return self._row

    @property
    def id(self) -> int:
        """This agent's stable id (``columns.ids[row]``), the key of its keyed draws."""
        return int(self._columns._ids[self._row])

    @property
    def columns(self) -> Columns:
        """The table of this agent's type."""
        return self._columns

    def remove(self) -> None:
        """Remove the agent from the model; its row stays in the columns, marked not alive."""
        super().remove()
        self._columns._kill(self._row)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} row={self._row}>"


def _table_for(model: Any, cls: type) -> Columns:
    tables = getattr(model, "tables", None)
    if not isinstance(tables, dict) or not hasattr(model, "add_agent_type"):
        msg = (
            f"{cls.__name__} is a ColumnAgent and needs a SynthModel (abm.model), got "
            f"{type(model).__name__}. Hint: subclass abm.model.SynthModel for the model."
        )
        raise ConfigError(msg)
    table = tables.get(cls)
    if table is None:
        table = model.add_agent_type(cls, 0)
    return table
