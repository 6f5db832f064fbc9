"""Hourly electricity demand by kind of customer, hour, day of the week and temperature.

A customer's demand in an hour is its mean demand (``base_kw``) times the profile of its kind
at that hour (weekday or weekend; each kind's weekday profile averages 1) times a temperature
response: ``1 + cooling * max(0, T - 22) + heating * max(0, 15 - T)``, with T in degrees C.
Households peak in the evening, businesses in office hours, hospitals are nearly flat; cooling
makes hot afternoons and evenings heavier, so a heat wave surges demand where the ratings were
sized for an ordinary hot day (`design_loads`).

The profiles are illustrative shapes of the usual kind (household evening peak about 1.7 times
the mean, offices about 1.6 in working hours), not fitted to a utility's load research data.

Node loads are one small product per hour: ``node_kw (nodes x kinds) @ factor (kinds)``.

Examples
--------
>>> factors = kind_factors(hour=19, weekend=False, temperature=30.0)
>>> factors.round(2).tolist()  # household, business, hospital, care home
[2.37, 0.62, 1.05, 1.63]
"""

from __future__ import annotations

import numpy as np

from scenarios.outages.customers import CUSTOMER_KINDS

__all__ = ["COOLING", "HEATING", "PROFILES", "design_day", "diurnal_temperature", "kind_factors"]

_WEEKDAY = {
    "household": [
        0.55,
        0.5,
        0.47,
        0.46,
        0.47,
        0.55,
        0.8,
        1.05,
        1.0,
        0.85,
        0.8,
        0.8,
        0.85,
        0.8,
        0.78,
        0.85,
        1.0,
        1.3,
        1.6,
        1.7,
        1.6,
        1.4,
        1.1,
        0.8,
    ],
    "business": [
        0.3,
        0.3,
        0.3,
        0.3,
        0.3,
        0.3,
        0.5,
        0.9,
        1.4,
        1.6,
        1.65,
        1.65,
        1.6,
        1.65,
        1.65,
        1.6,
        1.4,
        1.0,
        0.6,
        0.45,
        0.4,
        0.35,
        0.3,
        0.3,
    ],
    "hospital": [0.85] * 7 + [1.1] * 12 + [0.95] * 5,
    "care_home": [
        0.75,
        0.7,
        0.7,
        0.7,
        0.7,
        0.75,
        0.9,
        1.1,
        1.15,
        1.1,
        1.05,
        1.1,
        1.15,
        1.05,
        1.0,
        1.0,
        1.05,
        1.2,
        1.3,
        1.3,
        1.2,
        1.05,
        0.9,
        0.8,
    ],
}
_WEEKEND_SHIFT = {"household": 1, "business": 0, "hospital": 0, "care_home": 0}
_WEEKEND_LEVEL = {"household": 1.05, "business": 0.45, "hospital": 0.95, "care_home": 1.0}


def _profiles() -> np.ndarray:
    out = np.zeros((len(CUSTOMER_KINDS), 2, 24))
    for k, kind in enumerate(CUSTOMER_KINDS):
        day = np.asarray(_WEEKDAY[kind], dtype=np.float64)
        day /= day.mean()
        out[k, 0] = day
        weekend = np.roll(day, _WEEKEND_SHIFT[kind]) * _WEEKEND_LEVEL[kind]
        if kind == "business":  # a flatter weekend: shops open, offices closed
            weekend = 0.5 * (weekend + _WEEKEND_LEVEL[kind])
        out[k, 1] = weekend
    return out


PROFILES = _profiles()
"""Demand multipliers, shape (kind, weekday 0 / weekend 1, hour): weekday means are 1."""
COOLING = np.array([0.035, 0.025, 0.012, 0.03])
"""Extra demand per degree above 22 degC, by kind (air conditioning, fans, refrigeration)."""
HEATING = np.array([0.02, 0.015, 0.01, 0.02])
"""Extra demand per degree below 15 degC, by kind."""


def kind_factors(*, hour: int, weekend: bool, temperature: float) -> np.ndarray:
    """Demand multiplier of each kind of customer (the profile times the temperature response)."""
    response = 1.0 + COOLING * max(0.0, temperature - 22.0) + HEATING * max(0.0, 15.0 - temperature)
    return PROFILES[:, int(weekend), hour] * response


def diurnal_temperature(
    hour: np.ndarray | int, *, daily_max: float, diurnal_range: float
) -> np.ndarray:
    """Temperature at `hour` of a day whose 3 pm maximum is `daily_max`: a cosine over 24 hours."""
    h = np.asarray(hour, dtype=np.float64)
    return daily_max - 0.5 * diurnal_range * (1.0 - np.cos(2.0 * np.pi * (h - 15.0) / 24.0))


def design_day(
    node_kw: np.ndarray, *, design_temperature: float, diurnal_range: float
) -> np.ndarray:
    """Each node's demand (kW) in each hour of the design day: shape (24, nodes).

    The design day is a weekday whose maximum is `design_temperature`; `node_kw` is
    (nodes x kinds), the summed mean demand of each kind of customer at a node. The network's
    ratings are sized on the flows of this day's peak hour for each component (coincident
    demand, not the sum of every customer's own peak; `scenarios.outages.grid.rate`).
    """
    hours = np.arange(24)
    temps = diurnal_temperature(hours, daily_max=design_temperature, diurnal_range=diurnal_range)
    factors = np.stack(
        [
            kind_factors(hour=int(h), weekend=False, temperature=float(t))
            for h, t in zip(hours, temps, strict=True)
        ]
    )  # 24 x kinds
    return factors @ node_kw.T
