"""The rare-event question of the scenario: "more than a share of customers without power for
more than a day in a season", as an `abm.rare.RareEvent`.

`long_outage_event` scores a season by ``long_outage_customers``, the customers who have had an
interruption longer than ``long_outage_hours`` so far (a count that only grows, so its peak is
its value at the end of the season: the score suits splitting as well as Monte Carlo), and sets
the threshold so that the event is "more than `share` of the customers".

Its models accept ``shocks=``, so `abm.rare.importance_sampling` can raise the rate of severe
storms (the shock that drives long outages: ``tilt={"severe_storm": 20.0}``; the shock names
are ``storm``, ``severe_storm``, ``heat_wave`` and ``cyber``) and weight each season by its
likelihood ratio. (`abm.rare.scenario_event`, which the ``synthworld rare`` command uses, builds
models without ``shocks=``, so it serves Monte Carlo and splitting only.)

The city (population and network) is built once per process and shared by every season
(`scenarios.outages.world`), so a run costs only its season.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from abm.params import read_params
from abm.rare import KpiScore, PoissonShocks, RareEvent
from abm.rng import Streams
from populations.errors import ConfigError
from scenarios.outages.model import OutageModel
from scenarios.outages.params import OutageParams

__all__ = ["SeasonModel", "long_outage_event"]


class SeasonModel:
    """``make_model(seed, shocks=None)`` for the rare-event runners: a season with no output,
    recording only the KPI the score reads (``hourly_kpis=False``).

    Picklable (a class, not a closure); extra keyword arguments go to `OutageModel`
    (``persons=``, ``graph=``...).
    """

    def __init__(self, params: OutageParams, **kwargs: Any) -> None:
        self.params = params
        self.kwargs = dict(kwargs)

    def __call__(
        self, seed: np.random.SeedSequence, shocks: PoissonShocks | None = None
    ) -> OutageModel:
        return OutageModel(
            self.params,
            seed=Streams(seed),
            shocks=shocks,
            create_views=False,
            hourly_kpis=False,
            **self.kwargs,
        )


def long_outage_event(
    params: OutageParams | Mapping[str, Any] | Sequence[str] | None = None,
    *,
    share: float,
    customers: int | None = None,
    **kwargs: Any,
) -> RareEvent:
    """The event "more than `share` of the customers have an interruption longer than
    ``params.long_outage_hours`` within the season (``params.hours``)".

    Parameters
    ----------
    params : OutageParams, mapping, list of ``key=value`` overrides, or None (the defaults)
    share : float
        Between 0 and 1: "more than 10%" is 0.1.
    customers : int, optional
        The number of customers of the city, if known (saves building one model to count them).
    **kwargs
        Passed to `OutageModel` (``persons=``, ``graph=``, ``zone_xy=``, ``travel=``).

    Returns
    -------
    RareEvent
        Scored by the KPI ``long_outage_customers``, threshold ``floor(share * customers) + 1``.
    """
    if params is None or isinstance(params, Mapping):
        params = read_params(OutageParams, toml=params)
    elif isinstance(params, Sequence) and not isinstance(params, str):
        params = read_params(OutageParams, overrides=list(params))
    elif not isinstance(params, OutageParams):
        msg = f"`params` must be OutageParams, a mapping or a list of overrides, got {params!r}."
        raise ConfigError(msg)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share < 1.0:
        msg = f"`share` must be a share of customers in [0, 1), got {share!r}."
        raise ConfigError(msg)
    make = SeasonModel(params, **kwargs)
    if customers is None:
        model = make(np.random.SeedSequence(0))
        customers = model.n_customers
        model.close()
    threshold = math.floor(share * customers) + 1
    return RareEvent(
        make,
        threshold=threshold,
        horizon=params.hours,
        score=KpiScore("long_outage_customers"),
        label=(
            f"more than {share:.0%} of {customers:,} customers out for more than "
            f"{params.long_outage_hours:g} h"
        ),
    )
