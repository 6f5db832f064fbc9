"""Randomness for simulations: named streams from one root seed, and keyed draws.

Two kinds of randomness, both derived from one root seed (DESIGN.md §4):

* **Named streams** (`Streams`): ``streams["population"]``, ``streams["behaviour.person"]`` are
  independent ``numpy.random.Generator`` objects. Each one's ``SeedSequence`` is the root's with
  the SHA-256 of the name appended to its ``spawn_key``, so a stream depends on the root and its
  name only: not on which other streams exist or the order they were asked for. Replicates
  (`Streams.spawn`) are numpy's own spawned children ``spawn_key + (i,)``, computed without
  state, so replicate 7 is the same whichever worker builds it.
* **Keyed draws** (`keyed_uniform`, `KeyedDraws`): a uniform that is a pure function of (root
  seed, decision site, step, agent id), for common random numbers. Agent 17's draw at step 40
  for ``"recovers"`` is the same in a baseline and a policy run, whatever else the policy
  changed: which agents exist, who draws, in what order. It is the SplitMix64 generator used as a
  counter-based hash (Steele, Lea & Flood 2014): a 64-bit key is made from the root, site and
  step by chaining the SplitMix64 finaliser (scalar, once per call), then each id is mixed as
  ``mix64(id * 0x9E3779B97F4A7C15 + key)``, i.e. the id-th output of SplitMix64 seeded with the
  key. The top 53 bits give a double in [0, 1). Within one (root, site, step) distinct ids never
  share a 64-bit hash (the map from id is a bijection); across sites and steps the keys are
  unrelated 64-bit values. The arrays are processed in cache-sized chunks with in-place uint64
  ufuncs (numpy wraps uint64 arithmetic silently, no warnings), at 1.1-1.3 times the time of
  ``Generator.random`` for the same n; `KeyedDraws.bernoulli` with a scalar ``p`` compares the
  53-bit integers directly and is faster than ``rng.random(n) < p`` (``bench/keyed_draws.py``).

Nothing here reads or changes the global ``random`` or ``np.random.*`` state; numpy's
``SeedSequence`` and ``Generator`` do the seeding and the sequential draws.

References
----------
G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014, https://doi.org/10.1145/2660193.2660195.
J. K. Salmon, M. A. Moraes, R. O. Dror and D. E. Shaw, "Parallel random numbers: as easy as
1, 2, 3", SC 2011, https://doi.org/10.1145/2063384.2063405.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import operator
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias, TypeVar

import numpy as np

from populations.errors import ConfigError

__all__ = [
    "KeyedDraws",
    "SeedLike",
    "Streams",
    "as_generator",
    "as_seed_sequence",
    "keyed_uniform",
    "rng_arg",
]

SeedLike: TypeAlias = int | np.random.SeedSequence | np.random.Generator | None
"""What ``rng=`` accepts: an int, a SeedSequence, a Generator, or None (fresh entropy)."""

RootLike: TypeAlias = "int | np.random.SeedSequence | Streams"

_F = TypeVar("_F", bound=Callable[..., Any])

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (odd; 2**64 / golden ratio)
_M1 = 0xBF58476D1CE4E5B9  # SplitMix64 finaliser (Stafford's Mix13) multipliers
_M2 = 0x94D049BB133111EB
_SITE_SALT = 0xD1B54A32D192ED03  # odd constants separating the site and step words
_STEP_SALT = 0x8CB92BA72F3D8DD7
_TAG_STREAM = 0x73747265  # "stre": named streams' spawn_key marker
_TAG_KEYED = 0x6B657965  # "keye": the keyed-draw root's spawn_key marker
_CHUNK = 1 << 15  # elements per pass: two uint64 buffers of 256 KiB stay in L2

_U_GAMMA = np.uint64(_GAMMA)
_U_M1 = np.uint64(_M1)
_U_M2 = np.uint64(_M2)
_U30, _U27, _U31, _U11 = (np.uint64(s) for s in (30, 27, 31, 11))
_TWO_M53 = 2.0**-53


# --------------------------------------------------------------------------- seeds


def _as_nonnegative_int(value: Any, what: str) -> int:
    if isinstance(value, bool | np.bool_):
        msg = f"`{what}` must be a non-negative integer, got the boolean {value!r}."
        raise ConfigError(msg)
    try:
        number = operator.index(value)
    except TypeError:
        msg = f"`{what}` must be a non-negative integer, got {type(value).__name__} {value!r}."
        raise ConfigError(msg) from None
    if number < 0:
        msg = f"`{what}` must be a non-negative integer, got {number}."
        raise ConfigError(msg)
    return number


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Return a ``numpy.random.SeedSequence`` for `seed`.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        A non-negative int is the entropy of a new SeedSequence; a SeedSequence is returned as
        is; a Generator gives 128 bits of entropy drawn from it (so it advances, and the result
        is reproducible from the Generator's state); None takes fresh entropy from the operating
        system, so the result is not reproducible.

    Raises
    ------
    ConfigError
        If `seed` is a negative int, a bool or another type.

    Examples
    --------
    >>> as_seed_sequence(42).entropy
    42
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        words = seed.integers(0, 1 << 32, size=4, dtype=np.uint64)
        return np.random.SeedSequence([int(w) for w in words])
    return np.random.SeedSequence(_as_nonnegative_int(seed, "seed"))


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for `seed` (a Generator is returned as is).

    None gives a generator seeded from fresh operating-system entropy (not reproducible); an int
    or a SeedSequence gives ``numpy.random.default_rng(seed)``.

    Examples
    --------
    >>> g = as_generator(7)
    >>> bool(g.random() == as_generator(7).random())
    True
    >>> as_generator(g) is g
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed))


def rng_arg(name: str = "rng") -> Callable[[_F], _F]:
    """Decorator: turn the argument `name` of the decorated function into a Generator.

    The argument may then be given as anything `as_generator` accepts (int, SeedSequence,
    Generator or None); the function body always sees a ``numpy.random.Generator``. Like
    networkx's ``py_random_state``.

    Examples
    --------
    >>> @rng_arg("rng")
    ... def noise(n, *, rng=None):
    ...     return rng.random(n)
    >>> bool((noise(3, rng=5) == noise(3, rng=5)).all())
    True
    """

    def decorate(func: _F) -> _F:
        signature = inspect.signature(func)
        if name not in signature.parameters:
            msg = f"`{func.__qualname__}` has no argument `{name}` for `rng_arg` to normalise."
            raise TypeError(msg)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            bound.arguments[name] = as_generator(bound.arguments[name])
            return func(*bound.args, **bound.kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# --------------------------------------------------------------------------- named streams


def _name_words(name: str) -> tuple[int, ...]:
    """The SHA-256 of `name` (UTF-8) as eight 32-bit words: stable across runs and platforms."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4))


def _child(root: np.random.SeedSequence, words: tuple[int, ...]) -> np.random.SeedSequence:
    """`root` with `words` appended to its spawn_key (each word must be below 2**32)."""
    return np.random.SeedSequence(
        entropy=root.entropy,
        spawn_key=(*root.spawn_key, *words),
        pool_size=root.pool_size,
    )


class Streams:
    """Named, independent random streams derived from one root seed.

    ``streams[name]`` is a ``numpy.random.Generator`` whose seed depends only on the root and
    `name`: the root's ``SeedSequence`` with the name's SHA-256 appended to its ``spawn_key``.
    Asking for names in another order, or adding a stream, never changes another stream. The
    same name returns the same Generator object, which advances as it is used.

    Parameters
    ----------
    root : int, SeedSequence, Generator or None
        The root seed, as for `as_seed_sequence`: a Generator gives entropy drawn from it, None
        takes fresh entropy (not reproducible; the entropy drawn is then in
        ``streams.seed_sequence.entropy`` and can be logged to rerun).

    See Also
    --------
    KeyedDraws : draws keyed by (site, step, agent id), for common random numbers.

    Examples
    --------
    >>> streams = Streams(2026)
    >>> a = streams["population"].random(3)
    >>> b = Streams(2026)["population"].random(3)
    >>> bool((a == b).all())
    True
    >>> [s.seed_sequence.spawn_key for s in streams.spawn(2)]
    [(0,), (1,)]
    """

    def __init__(self, root: SeedLike = None) -> None:
        self._root = as_seed_sequence(root)
        self._generators: dict[str, np.random.Generator] = {}

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The root ``SeedSequence``."""
        return self._root

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the streams requested so far, in the order they were first requested."""
        return tuple(self._generators)

    def seed_sequence_for(self, name: str) -> np.random.SeedSequence:
        """The ``SeedSequence`` of the stream `name` (to seed a Generator elsewhere)."""
        if not isinstance(name, str) or not name:
            msg = f"a stream name must be a non-empty string, got {name!r}."
            raise ConfigError(msg)
        return _child(self._root, (_TAG_STREAM, *_name_words(name)))

    def __getitem__(self, name: str) -> np.random.Generator:
        generator = self._generators.get(name)
        if generator is None:
            generator = np.random.default_rng(self.seed_sequence_for(name))
            self._generators[name] = generator
        return generator

    def __contains__(self, name: object) -> bool:
        return name in self._generators

    def replicate(self, index: int) -> Streams:
        """The `index`-th replicate: a child `Streams`, the same however many are made.

        Its root is ``SeedSequence(entropy, spawn_key=root.spawn_key + (index,))``, which is
        what ``root.spawn(n)[index]`` gives on a root that has spawned nothing yet.
        """
        index = _as_nonnegative_int(index, "index")
        if index >= 1 << 32:
            msg = f"a replicate index must be below 2**32, got {index}."
            raise ConfigError(msg)
        return Streams(_child(self._root, (index,)))

    def spawn(self, n: int) -> list[Streams]:
        """Replicates ``0 .. n-1`` (see `replicate`).

        Unlike ``SeedSequence.spawn`` this keeps no count: ``spawn(3)`` twice gives the same
        three children, and ``spawn(3)[:2] == spawn(2)``, so replicates can be handed to any
        number of worker processes.
        """
        n = _as_nonnegative_int(n, "n")
        return [self.replicate(i) for i in range(n)]

    def keyed(self, site: str | int) -> KeyedDraws:
        """Keyed draws for the decision `site` under this root (see `KeyedDraws`)."""
        return KeyedDraws(self, site)

    def __repr__(self) -> str:
        ss = self._root
        return f"Streams(entropy={ss.entropy!r}, spawn_key={ss.spawn_key!r})"


# --------------------------------------------------------------------------- keyed draws


def _mix64(z: int) -> int:
    """SplitMix64's finaliser on a Python int (a bijection of 64-bit words)."""
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _absorb(key: int, word: int, salt: int) -> int:
    """Fold `word` into `key`; for a fixed key, distinct words give distinct results."""
    return _mix64(key ^ _mix64((word + salt) & _MASK))


def _root_key(root: RootLike) -> int:
    """The 64-bit key of a root seed, drawn from a dedicated child of its SeedSequence."""
    if isinstance(root, Streams):
        seq = root.seed_sequence
    elif isinstance(root, np.random.SeedSequence):
        seq = root
    elif root is None or isinstance(root, np.random.Generator):
        msg = (
            f"keyed draws need a fixed root seed, got {type(root).__name__}. "
            "Hint: pass an int, a SeedSequence or a `Streams`."
        )
        raise ConfigError(msg)
    else:
        seq = np.random.SeedSequence(_as_nonnegative_int(root, "root"))
    child = _child(seq, (_TAG_KEYED, 0))
    return int(child.generate_state(1, np.uint64)[0])


def _site_word(site: str | int) -> int:
    if isinstance(site, str):
        if not site:
            msg = "a decision site must be a non-empty string or an integer, got ''."
            raise ConfigError(msg)
        return int.from_bytes(hashlib.sha256(site.encode("utf-8")).digest()[:8], "little")
    word = _as_nonnegative_int(site, "site")
    if word > _MASK:
        msg = f"an integer decision site must be below 2**64, got {word}."
        raise ConfigError(msg)
    return word


def _step_word(step: int) -> int:
    word = _as_nonnegative_int(step, "step")
    if word > _MASK:
        msg = f"`step` must be below 2**64, got {word}."
        raise ConfigError(msg)
    return word


def _as_ids(ids: Any) -> tuple[np.ndarray, bool]:
    """`ids` as an integer array, and whether its dtype is signed (negatives to be checked)."""
    arr = np.asarray(ids)
    if arr.dtype == np.bool_:
        msg = (
            "`ids` must be integer agent ids, got a boolean array. "
            "Hint: pass `np.flatnonzero(mask)` to draw for the agents where `mask` is True."
        )
        raise ConfigError(msg)
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":  # e.g. np.asarray([])
            return np.empty(arr.shape, np.uint64), False
        msg = f"`ids` must be integer agent ids, got an array of dtype {arr.dtype}."
        raise ConfigError(msg)
    if arr.dtype.kind == "u":
        return arr.astype(np.uint64, copy=False), False
    return arr.astype(np.int64, copy=False), True


def _check_out(out: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if out is None:
        return np.empty(shape, np.float64)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape:
        got = f"{out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray) else out
        msg = f"`out` must be a float64 array of shape {shape}, got {got}."
        raise ConfigError(msg)
    if not out.flags.c_contiguous or not out.flags.writeable:
        msg = "`out` must be a writeable C-contiguous float64 array."
        raise ConfigError(msg)
    return out


def _hashed(
    key: int, flat_ids: np.ndarray, *, signed: bool
) -> Iterator[tuple[int, int, np.ndarray]]:
    """The kernel: for each chunk ``[start, stop)`` of `flat_ids`, the top 53 bits of the hash.

    Yields ``(start, stop, v)`` with `v` an int64 array of integers in [0, 2**53) (the uniform
    is ``v * 2**-53``); `v` is a buffer reused by the next chunk.
    """
    n = flat_ids.size
    if n == 0:
        return
    u_ids = flat_ids.view(np.uint64)
    u_key = np.uint64(key)
    buf = np.empty(min(n, _CHUNK), np.uint64)
    tmp = np.empty_like(buf)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        if signed and flat_ids[start:stop].min() < 0:
            _raise_negative(flat_ids)
        x = buf[: stop - start]
        t = tmp[: stop - start]
        np.multiply(u_ids[start:stop], _U_GAMMA, out=x)
        np.add(x, u_key, out=x)
        np.right_shift(x, _U30, out=t)
        np.bitwise_xor(x, t, out=x)
        np.multiply(x, _U_M1, out=x)
        np.right_shift(x, _U27, out=t)
        np.bitwise_xor(x, t, out=x)
        np.multiply(x, _U_M2, out=x)
        np.right_shift(x, _U31, out=t)
        np.bitwise_xor(x, t, out=x)
        np.right_shift(x, _U11, out=x)
        yield start, stop, x.view(np.int64)


def _uniform(key: int, ids: Any, out: np.ndarray | None) -> np.ndarray:
    """Uniforms in [0, 1) for `ids` under the 64-bit `key`."""
    arr, signed = _as_ids(ids)
    result = _check_out(out, arr.shape)
    flat_out = result.reshape(-1)
    for start, stop, v in _hashed(key, arr.reshape(-1), signed=signed):
        np.multiply(v, _TWO_M53, out=flat_out[start:stop])  # exact: v < 2**53
    return result


def _bernoulli(key: int, ids: Any, prob: np.ndarray) -> np.ndarray:
    """``uniform < prob`` for `ids` under `key`, without a full array of uniforms."""
    arr, signed = _as_ids(ids)
    result = np.empty(arr.shape, np.bool_)
    flat_result = result.reshape(-1)
    chunks = _hashed(key, arr.reshape(-1), signed=signed)
    if prob.ndim == 0:
        # v * 2**-53 < p  <=>  v < p * 2**53 (exact)  <=>  v < ceil(p * 2**53), v an integer
        threshold = np.int64(math.ceil(float(prob) * 2.0**53))
        for start, stop, v in chunks:
            np.less(v, threshold, out=flat_result[start:stop])
        return result
    try:
        flat_p = np.broadcast_to(prob, arr.shape).reshape(-1)
    except ValueError:
        msg = f"`p` of shape {prob.shape} does not match `ids` of shape {arr.shape}."
        raise ConfigError(msg) from None
    buf = np.empty(min(arr.size, _CHUNK), np.float64)
    for start, stop, v in chunks:
        u = np.multiply(v, _TWO_M53, out=buf[: stop - start])
        np.less(u, flat_p[start:stop], out=flat_result[start:stop])
    return result


def _raise_negative(ids: np.ndarray) -> None:
    where = np.flatnonzero(ids < 0)
    shown = ", ".join(f"ids[{i}] = {ids[i]}" for i in where[:3])
    more = f" and {where.size - 3} more" if where.size > 3 else ""
    msg = f"agent ids must be non-negative, got {shown}{more}."
    raise ConfigError(msg)


def keyed_uniform(
    root: RootLike,
    site: str | int,
    step: int,
    ids: Any,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Uniform draws in [0, 1) keyed by (root seed, decision site, step, agent id).

    Each value is a pure function of its key: agent ``k``'s draw at ``step`` for ``site`` is
    the same whichever other ids are in `ids`, in whatever order, in any process. Use it for the
    draws that decide an agent's fate, so that two arms of a what-if share them (common random
    numbers, DESIGN.md §4).

    Parameters
    ----------
    root : int, SeedSequence or Streams
        The root seed (a `Streams` stands for its root).
    site : str or int
        The decision site, e.g. ``"recovers"``. Use distinct sites for distinct decisions, and
        for several draws per agent and step (``"move.0"``, ``"move.1"``).
    step : int
        The step (non-negative).
    ids : array_like of int
        Non-negative agent ids, any shape; duplicates get equal draws.
    out : ndarray, optional
        A C-contiguous float64 array of the shape of `ids` to write into.

    Returns
    -------
    ndarray of float64
        Same shape as `ids`; multiples of 2**-53 in [0, 1).

    Raises
    ------
    ConfigError
        If an id is negative or `ids` is not integer (a boolean mask names the fix), or if the
        root, site or step is not a usable integer or name.

    See Also
    --------
    KeyedDraws : the same, bound to a root and a site, with `bernoulli` and `integers`.

    Examples
    --------
    >>> u = keyed_uniform(42, "recovers", 40, [3, 17, 5])
    >>> bool(u[1] == keyed_uniform(42, "recovers", 40, [17])[0])
    True
    """
    return KeyedDraws(root, site).uniform(step, ids, out=out)


class KeyedDraws:
    """Draws for one decision site, keyed by (root seed, site, step, agent id).

    Parameters
    ----------
    root : int, SeedSequence or Streams
        The root seed. The same root gives the same draws as ``Streams(root).keyed(site)``.
    site : str or int
        The decision site, e.g. ``"recovers"``.

    See Also
    --------
    keyed_uniform : the function form.
    Streams : sequential named streams from the same root.

    Examples
    --------
    >>> draws = KeyedDraws(42, "recovers")
    >>> u = draws.uniform(40, np.arange(5))
    >>> bool((draws.uniform(40, [3, 1]) == u[[3, 1]]).all())
    True
    >>> bool(draws.bernoulli(40, np.arange(5), 0.0).any())
    False
    """

    def __init__(self, root: RootLike, site: str | int) -> None:
        self._site_word = _site_word(site)
        self.site = site
        self._root_key = _root_key(root)
        self._site_key = _absorb(self._root_key, self._site_word, _SITE_SALT)

    def key(self, step: int) -> int:
        """The 64-bit key of `step` at this site (the SplitMix64 state the ids are mixed with)."""
        return _absorb(self._site_key, _step_word(step), _STEP_SALT)

    def uniform(self, step: int, ids: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Uniforms in [0, 1) for `ids` at `step`; see `keyed_uniform`."""
        return _uniform(self.key(step), ids, out)

    def bernoulli(self, step: int, ids: Any, p: float | np.ndarray) -> np.ndarray:
        """Booleans, True with probability `p` (a scalar, or one per id), as ``uniform < p``.

        For a fixed id and step, a larger `p` can only turn False into True, so a policy that
        raises an agent's probability never undoes an event the baseline had.

        Raises
        ------
        ConfigError
            If `p` is outside [0, 1] or NaN, or does not broadcast to the shape of `ids`.
        """
        prob = np.asarray(p, dtype=np.float64)
        if prob.size and not (prob.min() >= 0.0 and prob.max() <= 1.0):
            bad = prob if prob.ndim == 0 else prob[~((prob >= 0.0) & (prob <= 1.0))][0]
            msg = f"`p` must be a probability in [0, 1], got {float(bad)!r}."
            raise ConfigError(msg)
        return _bernoulli(self.key(step), ids, prob)

    def integers(self, step: int, ids: Any, high: int | np.ndarray) -> np.ndarray:
        """Integers in ``[0, high)`` (scalar or one `high` per id) as ``floor(uniform * high)``.

        The bias is at most ``high / 2**53`` per value.

        Raises
        ------
        ConfigError
            If a `high` is below 1 or above 2**53, or its shape does not broadcast to `ids`.
        """
        highs = np.asarray(high)
        if highs.dtype.kind not in "iu" or highs.dtype == np.bool_:
            msg = f"`high` must be an integer >= 1, got dtype {highs.dtype}."
            raise ConfigError(msg)
        if highs.size and not (highs.min() >= 1 and highs.max() <= 1 << 53):
            bad = highs if highs.ndim == 0 else highs[(highs < 1) | (highs > 1 << 53)][0]
            msg = f"`high` must be an integer in [1, 2**53], got {int(bad)}."
            raise ConfigError(msg)
        u = self.uniform(step, ids)
        try:
            scaled = np.multiply(u, highs, out=u) if highs.ndim == 0 else u * highs
        except ValueError:
            msg = f"`high` of shape {highs.shape} does not match `ids` of shape {u.shape}."
            raise ConfigError(msg) from None
        values = np.floor(scaled).astype(np.int64)
        # u * high can round up to high itself (u = 1 - 2**-53, high = 3): keep it below.
        return np.minimum(values, highs.astype(np.int64) - 1, out=values)

    def __repr__(self) -> str:
        return f"KeyedDraws(site={self.site!r}, root_key=0x{self._root_key:016x})"
