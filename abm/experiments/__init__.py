"""Experiments on scenarios: what-if comparisons, sweeps and sensitivity analysis.

* `abm.experiments.whatif` runs a baseline and policies (parameter overrides) over replicates
  with common random numbers and reports paired differences with confidence intervals.
* `abm.experiments.designs` makes grid, random and Latin hypercube designs over parameters;
  `abm.experiments.sweeps` runs a scenario at every point, with replicates.
* `abm.experiments.sensitivity` computes Sobol and Morris indices (SALib) of a scenario's
  outcomes or of a plain function.

They share one way of running (`abm.experiments.jobs`: seeds computed per run, so results do not
depend on the number of processes), of measuring a run (`abm.experiments.outcomes`) and of
writing a resumable output folder (`abm.experiments.store`).
"""

from __future__ import annotations

from abm.experiments.designs import (
    Design,
    Factor,
    factors,
    grid_design,
    lhs_design,
    make_design,
    random_design,
)
from abm.experiments.outcomes import default_summary
from abm.experiments.sensitivity import SensitivityResult, sensitivity
from abm.experiments.sweeps import SweepResult, sweep
from abm.experiments.whatif import WhatIfResult, replicate_kpis, what_if

__all__ = [
    "Design",
    "Factor",
    "SensitivityResult",
    "SweepResult",
    "WhatIfResult",
    "default_summary",
    "factors",
    "grid_design",
    "lhs_design",
    "make_design",
    "random_design",
    "replicate_kpis",
    "sensitivity",
    "sweep",
    "what_if",
]
