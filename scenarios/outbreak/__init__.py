"""The outbreak scenario: an SEIR epidemic on the contact networks of a synthetic population.

Modules, one per concept: `params` (the parameters), `disease` (the state machine and the
transmission kernels), `contacts` (the contact layers), `interventions` (vaccination, school
closure, distancing, testing and isolation) and `model` (`OutbreakModel`, which ties them together).

Examples
--------
>>> from abm.params import read_params
>>> params = read_params(OutbreakParams, overrides=["days=5", "vaccination.coverage=0.5"])
>>> params.vaccination.coverage
0.5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abm.registry import Scenario
from abm.rng import Streams
from scenarios.outbreak.model import OutbreakModel
from scenarios.outbreak.params import OutbreakParams

__all__ = ["SCENARIO", "OutbreakModel", "OutbreakParams", "build"]


def build(
    params: OutbreakParams,
    *,
    seed: int | None,
    out: str | Path | None = None,
    fmt: str = "parquet",
    overwrite: bool = False,
    shard: int | None = None,
    **kwargs: Any,
) -> OutbreakModel:
    """An `OutbreakModel` on the demo city (or ``persons=`` / ``graph=``); with `out`, its log,
    KPIs and manifest are written there on ``close()``. Run it for ``params.days`` steps.

    With `shard` (replicate ``k`` of a set), the model is seeded with replicate ``k`` of `seed`
    (``Streams(seed).replicate(k)``, what ``abm.replicates.replicate_seed`` gives) and writes
    shard ``k`` of a partitioned log in `out` (``events/shard=0000k/...``)."""
    root = seed if shard is None or seed is None else Streams(seed).replicate(shard)
    return OutbreakModel(
        params, seed=root, out=out, fmt=fmt, overwrite=overwrite, shard=shard, **kwargs
    )


SCENARIO = Scenario(
    "outbreak",
    "SEIR epidemic on the contact networks of a synthetic population",
    OutbreakParams,
    build,
    steps="days",
)
