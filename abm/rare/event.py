"""`RareEvent`: "the score of a model reaches a threshold within a horizon", and the model protocol.

A rare event is defined on any stochastic model that follows a small protocol, so the
estimators work on a user's own Mesa model as on the built-in scenarios:

``make_model(seed)``
    builds a fresh model from a ``numpy.random.SeedSequence`` (``SynthModel(seed=seed)`` and
    ``mesa.Model(rng=seed)`` both accept one). Importance sampling also passes
    ``shocks=`` (`abm.rare.PoissonShocks`), the sampler the model draws its shock counts from.
``model.step()``
    advances one step. A model that sets Mesa's ``model.running = False`` ends its run early.
score
    a number computed from the model's state: the method ``model.score()`` by default, another
    method named by ``score="name"``, or a callable ``score(model)``. The event happens when the
    score is at least `threshold` at some step ``0 .. horizon`` (the score of the new model
    counts too): ``max_t score_t >= threshold``. For "more than X" with integer scores, use
    ``threshold = X + 1``.
importance (splitting only, optional)
    what splitting ranks runs by, a number computed from the state (by default the score); a
    state whose score is at the threshold counts as reached whatever its importance, so it
    needs no particular scale (any increasing transform gives the same estimate). Splitting
    is unbiased whatever it is; it is efficient when the importance rises step by step along
    the paths that lead to the event. A score that is high at the last step of the horizon
    ranks a dead end first, so with a short horizon a function of the state and the time
    left can do better. Events made of a few large jumps (a handful of huge shocks) suit
    importance sampling better than splitting.

Splitting also copies a running model and lets the copy continue on its own random path:

clone
    ``model.clone()`` if the model defines it, else ``copy.deepcopy(model)``; or a callable
    ``clone(model)``. A copy need not carry the random generators' state: every copy is reseeded
    before it steps.
reseed
    ``model.reseed(seed)`` if the model defines it (every `abm.model.SynthModel` does: it
    re-keys its streams and keyed draws); else, for a ``mesa.Model``, ``model.rng`` becomes
    ``numpy.random.default_rng(seed)`` and ``model.random`` is reseeded in place; else a model
    attribute ``rng`` that is a numpy Generator is replaced. A model that draws from anything
    else (another generator it keeps, global ``random``) must define ``reseed``: splitting
    replays a copy's path from its seed and stops with an error if the replay differs.

Examples
--------
>>> from abm.rare.analytic import GaussianWalk
>>> event = RareEvent(lambda seed: GaussianWalk(seed), threshold=3.0, horizon=10)
>>> best, hit, steps = event.simulate(np.random.SeedSequence(1))
>>> hit == (best >= 3.0), steps <= 10
(True, True)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np

from populations.errors import ConfigError

__all__ = ["RareEvent", "seed_for"]


def check_seed(seed: Any) -> int:
    """The root seed: a non-negative integer (runs are reproducible from it)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"`seed` must be a non-negative integer, got {seed!r}."
        raise ConfigError(msg)
    return int(seed)


def seed_for(root: int, *key: int) -> np.random.SeedSequence:
    """``SeedSequence(root, spawn_key=key)``: the seed of the run (or particle) named by `key`.

    Run ``k`` of a Monte Carlo estimate gets ``seed_for(root, k)``, the seed of replicate ``k``
    in `abm.replicates` (``Streams(root).replicate(k)``).

    >>> seed_for(7, 2).spawn_key
    (2,)
    """
    return np.random.SeedSequence(root, spawn_key=tuple(int(k) for k in key))


@dataclass(frozen=True)
class RareEvent:
    """The event "the model's score reaches `threshold` within `horizon` steps".

    Parameters
    ----------
    make_model : callable
        ``make_model(seed)`` returns a new model (see the module docstring for the protocol).
    threshold : float
        The level the score must reach (``>=``).
    horizon : int
        The number of steps of a run.
    score : str or callable
        The name of a model method (default ``"score"``) or a callable ``score(model)``.
    importance : str or callable, optional
        For splitting: what runs are ranked by (a method name or ``importance(model)``);
        by default the score. See the module docstring.
    clone, reseed : callable, optional
        ``clone(model)`` and ``reseed(model, seed)``, for splitting, when the model's own (or
        the defaults) will not do.
    label : str
        A description for reports, e.g. ``"peak H >= 500"``.
    """

    make_model: Callable[..., Any]
    threshold: float
    horizon: int
    score: Callable[[Any], Any] | str = "score"
    importance: Callable[[Any], Any] | str | None = None
    clone: Callable[[Any], Any] | None = None
    reseed: Callable[[Any, np.random.SeedSequence], Any] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not callable(self.make_model):
            msg = f"`make_model` must be callable (seed -> model), got {self.make_model!r}."
            raise ConfigError(msg)
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
            msg = f"`threshold` must be a number, got {threshold!r}."
            raise ConfigError(msg)
        if not math.isfinite(float(threshold)):
            msg = f"`threshold` must be finite, got {threshold!r}."
            raise ConfigError(msg)
        object.__setattr__(self, "threshold", float(threshold))
        horizon = self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            msg = f"`horizon` must be an integer number of steps >= 1, got {horizon!r}."
            raise ConfigError(msg)
        object.__setattr__(self, "horizon", int(horizon))
        for name in ("score", "importance"):
            value = getattr(self, name)
            if value is None and name == "importance":
                continue
            if not (callable(value) or (isinstance(value, str) and value)):
                msg = f"`{name}` must be a method name or a callable, got {value!r}."
                raise ConfigError(msg)
        for name in ("clone", "reseed"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                msg = f"`{name}` must be callable or None, got {value!r}."
                raise ConfigError(msg)

    # ----------------------------------------------------------------------------- the model

    def build(self, seed: np.random.SeedSequence, **kwargs: Any) -> Any:
        """A new model from `seed` (checked to have a ``step()`` method)."""
        model = self.make_model(seed, **kwargs)
        if not callable(getattr(model, "step", None)):
            msg = (
                f"make_model returned a {type(model).__name__} without a step() method. Hint: "
                "return the model, e.g. `lambda seed: MyModel(rng=seed)`."
            )
            raise ConfigError(msg)
        return model

    def score_of(self, model: Any) -> float:
        """The score of `model`'s current state, as a float (NaN is refused)."""
        return _evaluate(self.score, model, "score")

    def importance_of(self, model: Any) -> float:
        """What splitting ranks `model` by: ``inf`` once the score reaches the threshold, else
        the importance (by default the score)."""
        score = self.score_of(model)
        if score >= self.threshold:
            return math.inf
        if self.importance is None:
            return score
        value = _evaluate(self.importance, model, "importance")
        if value == math.inf:
            msg = (
                "the importance is +inf below the threshold. Hint: +inf means 'reached'; give "
                "finite values to states below the threshold."
            )
            raise ConfigError(msg)
        return value

    def copy_of(self, model: Any) -> Any:
        """A copy of `model` to continue independently (see the module docstring)."""
        if getattr(model, "event_log", None) is not None:
            msg = (
                "splitting copies running models, and this one writes an event log. Hint: "
                "build the model without output (out=None)."
            )
            raise ConfigError(msg)
        if self.clone is not None:
            return self.clone(model)
        own = getattr(model, "clone", None)
        if callable(own):
            return own()
        return copy.deepcopy(model)

    def reseed_model(self, model: Any, seed: np.random.SeedSequence) -> None:
        """Give `model` fresh randomness from `seed` (see the module docstring)."""
        if self.reseed is not None:
            self.reseed(model, seed)
            return
        own = getattr(model, "reseed", None)
        if callable(own):
            own(seed)
            return
        if isinstance(model, mesa.Model):
            model.rng = np.random.default_rng(seed)
            words = seed.generate_state(2, np.uint32)
            model.random.seed(int(words[0]) << 32 | int(words[1]))
            return
        if isinstance(getattr(model, "rng", None), np.random.Generator):
            model.rng = np.random.default_rng(seed)
            return
        msg = (
            f"cannot give a copy of {type(model).__name__} fresh randomness: it is not a Mesa "
            "model and has no `rng` Generator. Hint: define reseed(seed), or pass "
            "reseed=callable (model, seed) to RareEvent."
        )
        raise ConfigError(msg)

    # ----------------------------------------------------------------------------- a run

    def advance(
        self, model: Any, step: int, best: float, trace: list[float] | None = None
    ) -> tuple[float, int]:
        """Step `model` (now at `step`, best score so far `best`) until the score reaches the
        threshold, the horizon is reached or ``model.running`` is False.

        Appends each new score to `trace` (if given); returns the best score and the step
        reached.
        """
        threshold, horizon = self.threshold, self.horizon
        while best < threshold and step < horizon and getattr(model, "running", True):
            model.step()
            step += 1
            score = self.score_of(model)
            if trace is not None:
                trace.append(score)
            if score > best:
                best = score
        return best, step

    def simulate(self, seed: np.random.SeedSequence, **kwargs: Any) -> tuple[float, bool, int]:
        """One run from a new model: ``(best score, hit, steps)``; stops at the first hit."""
        model = self.build(seed, **kwargs)
        try:
            best, steps = self.advance(model, 0, self.score_of(model))
        finally:
            release(model)
        return best, best >= self.threshold, steps


def _evaluate(func: Callable[[Any], Any] | str, model: Any, what: str) -> float:
    """``func(model)`` or ``model.func()`` as a float (NaN refused)."""
    if callable(func):
        value = func(model)
    else:
        method = getattr(model, func, None)
        if not callable(method):
            msg = (
                f"{type(model).__name__} has no method `{func}()` for the {what}. Hint: define "
                f"it, or pass {what}=callable (model -> number)."
            )
            raise ConfigError(msg)
        value = method()
    try:
        number = float(value)
    except (TypeError, ValueError):
        msg = f"the {what} must be a number, got {type(value).__name__} {value!r}."
        raise ConfigError(msg) from None
    if math.isnan(number):
        msg = f"the {what} is NaN. Hint: the {what} must be a number at every step."
        raise ConfigError(msg)
    return number


def release(model: Any) -> None:
    """Let go of a model this package built or copied and no longer needs.

    A `abm.model.SynthModel` is closed; any other Mesa model is dropped from Mesa 3.3's
    per-model id counters (``mesa.Agent._ids``, absent on later versions), which would otherwise
    keep every model that ever made an agent alive.
    """
    from abm.model import SynthModel

    if isinstance(model, SynthModel):
        model.close()
    elif isinstance(model, mesa.Model):
        counters = getattr(mesa.Agent, "_ids", None)
        if isinstance(counters, dict):
            counters.pop(model, None)
