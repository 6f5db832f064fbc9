"""The outages scenario: shocks to a city's electricity network, cascades, and the repairs.

Modules, one per concept: `params` (the parameters), `geography` (zone layout, roads, travel
times), `customers` (households, businesses, hospitals and care homes from a population),
`demand` (hourly demand by kind, hour and temperature), `grid` (the generated network, or any
networkx graph, compiled to arrays and rated), `flows` (DC power flow), `cascade` (Motter-Lai
load redistribution with protection), `weather` (temperature, heat waves, moving storm
footprints, fragility), `crews` (dispatch rules, repair times), `world` (the city, built once
per process), `log` (the event log's schema), `model` (`OutageModel`), `reliability` (IEEE 1366
indices, outage sizes, major event days) and `rare` (the long-outage rare event).

Examples
--------
>>> from abm.params import read_params
>>> params = read_params(OutageParams, overrides=["hours=48", "crews.count=8"])
>>> params.crews.count, params.hours
(8, 48)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abm.registry import Scenario
from abm.rng import Streams
from scenarios.outages.model import OutageModel
from scenarios.outages.params import OutageParams

__all__ = ["SCENARIO", "OutageModel", "OutageParams", "build"]


def build(
    params: OutageParams,
    *,
    seed: int | None,
    out: str | Path | None = None,
    fmt: str = "parquet",
    overwrite: bool = False,
    shard: int | None = None,
    **kwargs: Any,
) -> OutageModel:
    """An `OutageModel` on the demo city (or ``persons=`` / ``graph=``); run it for
    ``params.hours`` steps. With `out`, its log, KPIs and manifest are written there on
    ``close()``.

    With `shard` (replicate ``k`` of a set), the model is seeded with ``Streams(seed)
    .replicate(k)`` and writes shard ``k`` of a partitioned log in `out`."""
    root = seed if shard is None or seed is None else Streams(seed).replicate(shard)
    return OutageModel(
        params, seed=root, out=out, fmt=fmt, overwrite=overwrite, shard=shard, **kwargs
    )


SCENARIO = Scenario(
    "outages",
    "storms, heat waves and cyber incidents on a city's electricity network: cascades, crews, "
    "IEEE 1366 reliability indices",
    OutageParams,
    build,
    steps="hours",
)
