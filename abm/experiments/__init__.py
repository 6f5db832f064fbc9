"""Experiments on scenarios: replicated KPIs and what-if comparisons of policies.

`abm.experiments.whatif` runs a baseline and policies (parameter overrides) over replicates with
common random numbers and reports paired differences with confidence intervals.
"""

from __future__ import annotations

from abm.experiments.whatif import WhatIfResult, default_summary, replicate_kpis, what_if

__all__ = ["WhatIfResult", "default_summary", "replicate_kpis", "what_if"]
