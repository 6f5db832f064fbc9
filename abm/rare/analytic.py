"""Small models with known rare-event probabilities, for tests, benchmarks and the docs.

Each model follows the protocol of `abm.rare.RareEvent` (``step()``, ``score()``, a
``numpy.random.Generator`` in ``rng``, a cheap ``clone()``), and each has a function giving the
exact (or numerically exact) probability that its score reaches a level within a number of
steps:

=====================  =====================================  ===============================
model                  one step                               probability
=====================  =====================================  ===============================
`GaussianWalk`         ``x += Normal(drift, sd)``             `gaussian_walk_probability`
                                                              (first passage, on a grid)
`LatticeWalk`          ``x += 1`` w.p. `up`, else ``x -= 1``  `lattice_walk_probability`
                                                              (exact recursion)
`ExponentialSum`       ``x += Exponential(rate)``             `exponential_sum_probability`
                                                              (Erlang tail, scipy.stats.gamma)
`ShockCount`           ``count += Poisson(rate)`` (shocks)    `shock_count_probability`
                                                              (scipy.stats.poisson)
=====================  =====================================  ===============================

The walks are not monotone, so the event is a first passage (the path's maximum), which is what
splitting must get right; the lattice walk's integer scores tie, which splitting must handle;
`ShockCount` draws through `abm.rare.PoissonShocks`, so importance sampling can tilt it.

Examples
--------
>>> f"{exponential_sum_probability(30.0, 10):.3e}"
'7.122e-06'
>>> # reflection principle: P(S_5 >= 3) + P(S_5 > 3) = 6/32 + 1/32
>>> lattice_walk_probability(3, 5, up=0.5) == 7 / 32
True
"""

from __future__ import annotations

import copy
import math

import numpy as np
from scipy import signal, stats

from abm.rare.importance import PoissonShocks
from populations.errors import ConfigError

__all__ = [
    "ExponentialSum",
    "GaussianWalk",
    "LatticeWalk",
    "ShockCount",
    "exponential_sum_probability",
    "gaussian_walk_probability",
    "lattice_walk_probability",
    "shock_count_probability",
]


def _steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        msg = f"`steps` must be an integer >= 1, got {steps!r}."
        raise ConfigError(msg)
    return int(steps)


class _Walk:
    """A position ``x`` after ``t`` steps, moved by draws from ``rng``."""

    def __init__(self, seed: np.random.SeedSequence | int | None, start: float = 0.0) -> None:
        self.rng = np.random.default_rng(seed)
        self.x = float(start)
        self.t = 0
        self.running = True

    def score(self) -> float:
        return self.x

    def clone(self) -> _Walk:
        """A shallow copy: the state is immutable numbers, and the copy is reseeded anyway."""
        return copy.copy(self)


class GaussianWalk(_Walk):
    """``x_{t+1} = x_t + Normal(drift, sd)``, from ``x_0 = start``; score ``x``."""

    def __init__(
        self,
        seed: np.random.SeedSequence | int | None = None,
        *,
        drift: float = 0.0,
        sd: float = 1.0,
        start: float = 0.0,
    ) -> None:
        super().__init__(seed, start)
        self.drift, self.sd = float(drift), float(sd)

    def step(self) -> None:
        self.x += self.drift + self.sd * self.rng.standard_normal()
        self.t += 1


class LatticeWalk(_Walk):
    """``x`` moves up by 1 with probability `up`, else down by 1; score ``x``."""

    def __init__(self, seed: np.random.SeedSequence | int | None = None, *, up: float = 0.5):
        super().__init__(seed)
        self.up = float(up)

    def step(self) -> None:
        self.x += 1.0 if self.rng.random() < self.up else -1.0
        self.t += 1


class ExponentialSum(_Walk):
    """``x`` grows by an exponential draw of mean ``1 / rate`` each step; score ``x``."""

    def __init__(self, seed: np.random.SeedSequence | int | None = None, *, rate: float = 1.0):
        super().__init__(seed)
        self.rate = float(rate)

    def step(self) -> None:
        self.x += self.rng.exponential(1.0 / self.rate)
        self.t += 1


class ShockCount(_Walk):
    """``x`` counts shocks, ``Poisson(rate)`` a step, drawn through `shocks`; score ``x``.

    `shocks` is the `abm.rare.PoissonShocks` importance sampling passes; without it the counts
    are drawn at the model's own rate.
    """

    def __init__(
        self,
        seed: np.random.SeedSequence | int | None = None,
        *,
        rate: float = 0.1,
        shocks: PoissonShocks | None = None,
    ) -> None:
        super().__init__(seed)
        self.rate = float(rate)
        self.shocks = shocks if shocks is not None else PoissonShocks()

    def step(self) -> None:
        self.x += float(self.shocks.poisson(self.rng, self.rate, name="shocks"))
        self.t += 1

    def clone(self) -> ShockCount:
        new = copy.copy(self)
        new.shocks = self.shocks.copy()
        return new


# ------------------------------------------------------------------------------- probabilities


def exponential_sum_probability(level: float, steps: int, *, rate: float = 1.0) -> float:
    """P(sum of `steps` exponentials of rate `rate` >= `level`): the Erlang tail.

    The sum only grows, so this is also the probability that `ExponentialSum` reaches `level`
    within `steps` steps.
    """
    return float(stats.gamma.sf(level, a=_steps(steps), scale=1.0 / rate))


def shock_count_probability(level: float, steps: int, *, rate: float) -> float:
    """P(Poisson(rate * steps) >= level): `ShockCount` reaches `level` within `steps` steps."""
    return float(stats.poisson.sf(math.ceil(level) - 1, rate * _steps(steps)))


def lattice_walk_probability(level: float, steps: int, *, up: float = 0.5) -> float:
    """P(a +-1 walk from 0 reaches `level` within `steps` steps), by exact recursion.

    The distribution over positions not yet absorbed is pushed forward one step at a time; the
    mass that reaches ``ceil(level)`` is the answer (exact up to float rounding).
    """
    steps = _steps(steps)
    top = math.ceil(level)
    if top <= 0:
        return 1.0
    # positions -steps .. top - 1, index i <-> position i - steps
    mass = np.zeros(steps + top)
    mass[steps] = 1.0
    hit = 0.0
    for _ in range(steps):
        hit += mass[-1] * up
        new = np.zeros_like(mass)
        new[1:] += mass[:-1] * up
        new[:-1] += mass[1:] * (1.0 - up)
        mass = new
    return float(hit)


def gaussian_walk_probability(
    level: float,
    steps: int,
    *,
    drift: float = 0.0,
    sd: float = 1.0,
    start: float = 0.0,
    h: float | None = None,
) -> float:
    """P(a Gaussian walk from `start` reaches `level` within `steps` steps), on a fine grid.

    The density of the walk not yet absorbed is carried on a grid of spacing `h` (default
    ``sd / 400``) below `level` (trapezoid rule, FFT convolution with the step's normal
    density, ``scipy.signal.fftconvolve``); the probability is the sum over steps of the chance
    to cross from there, ``sum_k int f_{k-1}(x) P(x + step >= level) dx``, each term computed
    directly rather than as one minus a mass near 1. The relative error is about 1e-5 at the
    default spacing (halving it changes the result by less than that in the tests).
    """
    steps = _steps(steps)
    if start >= level:
        return 1.0
    h = sd / 400.0 if h is None else float(h)
    tail = 12.0 * sd * math.sqrt(steps)
    low = min(start, start + steps * drift) - tail
    m = int(math.ceil((level - low) / h))
    y = level - h * np.arange(m, -1, -1)  # ascending, y[-1] == level
    weights = np.full(m + 1, h)
    weights[0] = weights[-1] = h / 2.0
    kernel = stats.norm.pdf(h * np.arange(-m, m + 1), loc=drift, scale=sd)
    cross = stats.norm.sf(level - y, loc=drift, scale=sd)  # P(x + step >= level) on the grid
    prob = float(stats.norm.sf(level - start, loc=drift, scale=sd))  # the first step
    density = stats.norm.pdf(y, loc=start + drift, scale=sd)
    for _ in range(steps - 1):
        wf = weights * density
        prob += float(wf @ cross)
        density = signal.fftconvolve(wf, kernel)[m : 2 * m + 1]
    return prob
