"""The transport scenario: a day of trips of a synthetic city, congestion that emerges, and
policies to compare (cordon and distance tolls, closures, transit frequency, remote work, speed
limits).

Modules, one per concept: `params` (the parameters), `network` (road networks: networkx in,
CSR arrays out), `city` (the demo city's built-in network), `tntp` and `osm` (network files),
`demand` (activity chains, gravity destinations), `modes` (mode choice), `skims` and `transit`
(zone-to-zone times), `assignment` (BPR, shortest paths, Frank-Wolfe), `policies`, `model`
(`TransportModel`), `daylog` (the logged day: trips and MATSim events) and `matsim` (MATSim's
XML files).

Examples
--------
>>> from abm.params import read_params
>>> params = read_params(TransportParams, overrides=["cordon_toll.price=4"])
>>> params.cordon_toll.price, params.cordon_toll.districts
(4.0, ['D1'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abm.registry import Scenario
from abm.rng import Streams
from scenarios.transport.matsim import EXPORTS
from scenarios.transport.model import TransportModel
from scenarios.transport.params import TransportParams

__all__ = ["SCENARIO", "TransportModel", "TransportParams", "build"]


def build(
    params: TransportParams,
    *,
    seed: int | None,
    out: str | Path | None = None,
    fmt: str = "parquet",
    overwrite: bool = False,
    shard: int | None = None,
    **kwargs: Any,
) -> TransportModel:
    """A `TransportModel` on the demo city (or ``persons=`` / ``network=``); run it for up to
    ``params.assignment.days`` steps (it stops earlier once the city has settled). On
    ``close()`` the logged day's events, the trips, hourly link volumes and the network are
    written to `out`.

    With `shard` (replicate ``k``), the model is seeded with ``Streams(seed).replicate(k)`` and
    writes shard ``k`` of a partitioned log in `out`."""
    root = seed if shard is None or seed is None else Streams(seed).replicate(shard)
    return TransportModel(
        params, seed=root, out=out, fmt=fmt, overwrite=overwrite, shard=shard, **kwargs
    )


SCENARIO = Scenario(
    "transport",
    "a day of trips: mode choice, congestion, tolls and closures (MATSim events)",
    TransportParams,
    build,
    steps="assignment.days",
    exports=EXPORTS,
)
