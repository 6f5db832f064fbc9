"""Weather: the season's temperatures, heat waves, and storms with a moving footprint.

**Temperature.** Each day's mean is the season's mean plus an AR(1) anomaly (lag-one
correlation 0.7, standard deviation ``temperature_sd``); within a day the temperature follows a
cosine peaking at 3 pm with the given diurnal range. A heat wave adds its amplitude, reached
over a day and kept until a day before it ends.

**Storms.** A storm has a peak gust, a gaussian footprint of radius R whose centre moves in a
straight line at constant speed, passing the city's centre at mid-life at a random distance, and
a life of some hours over which its strength rises and falls (a half sine). The gust at a point
at distance d from the centre is ``peak * envelope(t) * exp(-d^2 / (2 R^2))``.

**Fragility.** An overhead line fails in an hour of gust w with hazard ``hazard_max *
Phi(ln(w / median) / beta)`` per km (a lognormal fragility curve, as for poles and towers in
Panteli et al. 2017), times ``2^((age - 25) / age_doubling)`` (older lines fail more),
``underground_factor`` for cables and ``subtransmission_factor`` for 33 kV lines (sturdier
structures); a pole-mounted transformer counts as 0.1 km of line. The probability of failing in
the hour is ``1 - exp(-hazard * km)``.

Arrivals of storms and heat waves are Poisson counts, drawn through `abm.rare.PoissonShocks` by
the model a day at a time (so importance sampling can raise their rates); a storm's or heat
wave's characteristics are then drawn from the same stream when it starts. Storms come in two
classes, ordinary and severe (a peak gust of at least ``severe_wind``), as two independent
Poisson streams: together they are storms of the same law (`draw_storm`), and importance
sampling can raise the rate of the rare severe ones alone.

Libraries: numpy, scipy.special (the normal CDF).

Examples
--------
>>> storm = Storm(id=0, start=10, hours=6, peak=40.0, radius=8.0, x0=0.0, y0=0.0, vx=0.0, vy=0.0)
>>> gust = storm.wind(13, np.array([[0.0, 0.0], [8.0, 0.0]]))  # mid-life: envelope sin(3.5/6 pi)
>>> gust.round(1).tolist()
[38.6, 23.4]
>>> fragility(np.array([20.0, 38.0, 60.0]), median=38.0, beta=0.2).round(3).tolist()
[0.001, 0.5, 0.989]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from scenarios.outages.params import HeatWaves, Storms

__all__ = [
    "HeatWave",
    "Storm",
    "age_multiplier",
    "draw_heat_wave",
    "draw_storm",
    "fragility",
    "next_anomaly",
    "severe_share",
]

AR_LAG = 0.7
"""Lag-one correlation of daily temperature anomalies."""
AGE_REFERENCE = 25.0
"""A line of this age has the base hazard."""


@dataclass(frozen=True)
class Storm:
    """A storm: `id`, first step `start`, `hours` of life, `peak` gust (m/s), footprint `radius`
    (km), centre at ``(x0, y0) + (vx, vy) * t`` (km, km/h; t in hours since the start)."""

    id: int
    start: int
    hours: int
    peak: float
    radius: float
    x0: float
    y0: float
    vx: float
    vy: float

    def active(self, step: int) -> bool:
        return self.start <= step < self.start + self.hours

    def centre(self, step: int) -> tuple[float, float]:
        t = step - self.start + 0.5
        return self.x0 + self.vx * t, self.y0 + self.vy * t

    def wind(self, step: int, xy: np.ndarray) -> np.ndarray:
        """The gust (m/s) at points `xy` (n x 2, km) during `step` (taken at mid-hour)."""
        t = step - self.start + 0.5
        if not 0.0 < t < self.hours:
            return np.zeros(len(xy))
        envelope = math.sin(math.pi * t / self.hours)
        cx, cy = self.centre(step)
        d2 = (xy[:, 0] - cx) ** 2 + (xy[:, 1] - cy) ** 2
        return self.peak * envelope * np.exp(-d2 / (2.0 * self.radius**2))


@dataclass(frozen=True)
class HeatWave:
    """A heat wave: `id`, first step `start`, `hours` long, `amplitude` degrees C at its height."""

    id: int
    start: int
    hours: int
    amplitude: float

    def active(self, step: int) -> bool:
        return self.start <= step < self.start + self.hours

    def extra(self, step: int) -> float:
        """Degrees added at `step`: ramps up over the first day and down over the last."""
        t = step - self.start + 0.5
        if not 0.0 < t < self.hours:
            return 0.0
        ramp = min(1.0, t / 24.0, (self.hours - t) / 24.0)
        return self.amplitude * ramp


def severe_share(params: Storms) -> float:
    """The share of storms whose peak gust is at least ``severe_wind``."""
    return math.exp(-max(params.severe_wind - params.wind_min, 0.0) / params.wind_excess)


def draw_storm(
    rng: np.random.Generator,
    params: Storms,
    *,
    id: int,
    start: int,
    centre: np.ndarray,
    extent_km: float,
    severe: bool | None = None,
) -> Storm:
    """A storm starting at step `start`: its strength, size, duration and track.

    Peak gust ``wind_min + Exponential(wind_excess)``; with `severe` True or False, the same
    law on one side of ``severe_wind`` (``severe_wind + Exponential(wind_excess)``, the
    exponential being memoryless, or the truncated exponential below it): a storm of the
    severe class and one of the ordinary class, arriving as independent Poisson streams at
    rates ``rate * q`` and ``rate * (1 - q)`` (q: `severe_share`), make up storms of rate
    ``rate`` with the unconditional law (Poisson thinning). Radius and speed lognormal around
    their medians (log-sd 0.3); duration ``Gamma(4, hours / 4)`` rounded, at least 2 hours; a
    track of random heading that passes the city's `centre` at mid-life at a uniform distance
    of up to half the city's `extent_km`.
    """
    cut = max(params.severe_wind - params.wind_min, 0.0)
    if severe is None:
        peak = params.wind_min + rng.exponential(params.wind_excess)
    elif severe:
        peak = params.wind_min + cut + rng.exponential(params.wind_excess)
    else:  # inverse CDF of the exponential truncated to [0, cut)
        below = -math.expm1(-cut / params.wind_excess)
        peak = params.wind_min - params.wind_excess * math.log1p(-rng.uniform() * below)
    radius = params.radius_km * rng.lognormal(0.0, 0.3)
    hours = max(2, round(rng.gamma(4.0, params.hours / 4.0)))
    heading = rng.uniform(0.0, 2.0 * math.pi)
    speed = params.speed_kmh * rng.lognormal(0.0, 0.3)
    miss = rng.uniform(-0.5, 0.5) * extent_km
    vx, vy = speed * math.cos(heading), speed * math.sin(heading)
    mx = centre[0] - miss * math.sin(heading)
    my = centre[1] + miss * math.cos(heading)
    half = hours / 2.0
    return Storm(
        id, start, int(hours), float(peak), float(radius), mx - vx * half, my - vy * half, vx, vy
    )


def draw_heat_wave(rng: np.random.Generator, params: HeatWaves, *, id: int, start: int) -> HeatWave:
    """A heat wave starting at step `start`: ``days_min .. days_max`` days (uniform), amplitude
    ``Gamma(9, amplitude / 9)`` (mean `amplitude`, coefficient of variation 1/3)."""
    days = int(rng.integers(params.days_min, params.days_max + 1))
    amplitude = float(rng.gamma(9.0, params.amplitude / 9.0)) if params.amplitude > 0 else 0.0
    return HeatWave(id, start, 24 * days, amplitude)


def next_anomaly(rng: np.random.Generator, previous: float, *, sd: float) -> float:
    """The next day's temperature anomaly: AR(1) with lag-one correlation `AR_LAG`."""
    return AR_LAG * previous + math.sqrt(1.0 - AR_LAG**2) * sd * float(rng.standard_normal())


def fragility(wind: np.ndarray, *, median: float, beta: float) -> np.ndarray:
    """The lognormal fragility curve ``Phi(ln(w / median) / beta)`` (0 for no wind)."""
    w = np.maximum(np.asarray(wind, dtype=np.float64), 1e-9)
    return ndtr(np.log(w / median) / beta)


def age_multiplier(age: np.ndarray, *, doubling: float) -> np.ndarray:
    """``2^((age - 25) / doubling)``: the hazard of an old component relative to a 25-year one."""
    return np.exp2((np.asarray(age, dtype=np.float64) - AGE_REFERENCE) / doubling)
