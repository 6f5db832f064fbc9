"""The fraud scenario: labelled payments, fraud and money laundering of a synthetic city.

Modules, one per concept: `params` (the parameters), `world` (banks, accounts, habits, ties),
`legit` (a day's legitimate activity), `schemes` (fraud and laundering schemes), `ledger`
(declines and balances), `monitoring` (the banks' alerts and the victims' reports), `model`
(`FraudModel`, which ties them together) and `formats` (PaySim, AMLworld and SAML-D layouts).

Examples
--------
>>> from abm.params import read_params
>>> params = read_params(FraudParams, overrides=["customers=500", "days=3"])
>>> model = FraudModel(params, seed=1)
>>> _ = model.run(params.days)
>>> model.totals["rows"] > 1000
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abm.registry import Scenario
from abm.rng import Streams
from scenarios.fraud.formats import EXPORTS
from scenarios.fraud.model import FraudModel
from scenarios.fraud.params import FraudParams

PRESETS = {"paysim": Path(__file__).parent / "presets" / "paysim.toml"}
"""Named parameter sets (``synthworld run fraud --preset paysim``)."""

__all__ = ["PRESETS", "SCENARIO", "FraudModel", "FraudParams", "build"]


def build(
    params: FraudParams,
    *,
    seed: int | None,
    out: str | Path | None = None,
    fmt: str = "parquet",
    overwrite: bool = False,
    shard: int | None = None,
    **kwargs: Any,
) -> FraudModel:
    """A `FraudModel` on the demo city (or ``persons=``); run it for ``params.days`` steps.

    With `shard` (shard ``k`` of a large log), the model is seeded with ``Streams(seed)
    .replicate(k)`` and writes shard ``k`` of a partitioned log in `out`; its account,
    transaction and case ids do not collide with other shards'."""
    root = seed if shard is None or seed is None else Streams(seed).replicate(shard)
    return FraudModel(
        params, seed=root, out=out, fmt=fmt, overwrite=overwrite, shard=shard, **kwargs
    )


SCENARIO = Scenario(
    "fraud",
    "payments with labelled fraud and money laundering (PaySim, AMLworld formats)",
    FraudParams,
    build,
    steps="days",
    presets=PRESETS,
    exports=EXPORTS,
)
