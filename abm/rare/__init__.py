"""Rare-event probabilities: P(a run's score reaches a threshold), with a confidence interval.

"More than 500 people in hospital at once", "more than 10,000 customers without power for a
day": the probability that a run of a model crosses a threshold, with its standard error and a
confidence interval, by three estimators that share one result type (`RareEventResult`) and
one model protocol (`RareEvent`, so they work on a user's own Mesa model that exposes a score
as on the built-in scenarios):

* `crude_monte_carlo`: independent runs, the share that cross, a Wilson or Clopper-Pearson
  interval. Simple and assumption-free, but it needs about ``(1 - p) / (p r^2)`` runs for
  relative error r: 10^7 for p = 10^-5 and r = 10%.
* `multilevel_splitting`: adaptive multilevel splitting on the score. Runs that get closest to
  the threshold are copied and continued with fresh randomness, so effort goes where the event
  happens; needs models that can be copied and reseeded (every `abm.model.SynthModel`,
  any Mesa model drawing from ``model.rng``/``model.random``).
* `importance_sampling`: shock rates (`PoissonShocks`) are raised and each run weighted by its
  likelihood ratio; the tilt is given or found by the cross-entropy method.

Each stops when its relative error (standard error / estimate) is at most the target the user
states, works in batches that are pure functions of the seed (so a stopped run resumes from its
finished batches with the same result), and reports its cost in runs and model steps.
`scenario_event` turns a registered scenario's KPI into a `RareEvent` (what
``synthworld rare`` runs); `abm.rare.analytic` holds small models with known answers.

Examples
--------
>>> from abm.rare.analytic import GaussianWalk, gaussian_walk_probability
>>> event = RareEvent(lambda seed: GaussianWalk(seed, drift=-0.5), threshold=10, horizon=20)
>>> result = multilevel_splitting(event, seed=1, particles=50, target_rel_error=0.2)
>>> exact = gaussian_walk_probability(10, 20, drift=-0.5)
>>> f"{exact:.3e}", bool(result.ci_low < exact < result.ci_high), result.runs < 20_000
('1.386e-05', True, True)
"""

from abm.rare.event import RareEvent, seed_for
from abm.rare.importance import PoissonShocks, cross_entropy_tilt, importance_sampling
from abm.rare.intervals import clopper_pearson, wilson
from abm.rare.montecarlo import crude_monte_carlo, runs_needed
from abm.rare.result import RareEventResult
from abm.rare.scenario import KpiScore, scenario_event
from abm.rare.splitting import multilevel_splitting, splitting_batch

__all__ = [
    "KpiScore",
    "PoissonShocks",
    "RareEvent",
    "RareEventResult",
    "clopper_pearson",
    "cross_entropy_tilt",
    "crude_monte_carlo",
    "importance_sampling",
    "multilevel_splitting",
    "runs_needed",
    "scenario_event",
    "seed_for",
    "splitting_batch",
    "wilson",
]
