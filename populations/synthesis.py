"""From a configuration to a synthetic population: read inputs, fit, sample, draw attributes.

Two modes, chosen by the seed sample the configuration gives:

* **households and persons** (``[seed]`` has ``households`` and ``persons``): seed households are
  list-balanced to household- and person-level marginals per zone (`households.py`);
* **persons only** (``[seed]`` has ``persons`` only, or no seed and a ``prior``): a table over the
  marginals' dimensions is fitted by IPF (`fitter.py`) and integerised into persons.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from populations.attributes import AgeInBand, IncomeByGroup
from populations.config import AgeConfig, FitConfig, IncomeConfig, PopulationConfig, load_config
from populations.errors import ConfigError
from populations.fitter import IPF
from populations.households import HouseholdSynthesizer, Population
from populations.marginals import Geography, Marginal, read_table
from populations.report import FitReport, measure_fit
from populations.seed import SeedSample

__all__ = ["Inputs", "PopulationSynthesizer", "load_inputs"]


@dataclass
class Inputs:
    """A configuration's inputs, read and checked."""

    config: PopulationConfig
    marginals: list[Marginal]
    geography: Geography | None
    seed: SeedSample | None
    seed_persons: pl.DataFrame | None
    hashes: dict[str, str]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_inputs(config: PopulationConfig | str | Path) -> Inputs:
    """Read every file a configuration names; check each table on its own."""
    if not isinstance(config, PopulationConfig):
        config = load_config(config)
    hashes: dict[str, str] = {}

    def read(path: Path) -> pl.DataFrame:
        frame = read_table(path)
        base = config.source.parent if config.source is not None else Path()
        key = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
        hashes[key] = _sha256(path)
        return frame

    geography = None
    if config.geography is not None:
        gpath = config.geography.file
        geography = Geography.from_frame(read(gpath), zone=config.geography.zone, source=str(gpath))
    marginals = [
        Marginal.from_frame(
            read(m.file), name=m.name, count=m.count, level=m.level, source=str(m.file)
        )
        for m in config.marginals
    ]
    seed = seed_persons = None
    if config.seed is not None:
        persons = read(config.seed.persons)
        if config.seed.households is not None:
            seed = SeedSample.from_frames(
                read(config.seed.households),
                persons,
                household_id=config.seed.household_id,
                weight=config.seed.weight,
                source=(str(config.seed.households), str(config.seed.persons)),
            )
        else:
            seed_persons = persons
    return Inputs(config, marginals, geography, seed, seed_persons, hashes)


class PopulationSynthesizer:
    """Fit once, then draw any number of populations (scikit-learn style).

    Parameters
    ----------
    fit : tolerance, iteration cap, rescaling, integerisation method, prior.
    age, income : how to draw continuous attributes (None: not drawn).

    Attributes
    ----------
    fitter_ : the fitted `HouseholdSynthesizer` or `IPF`.
    status_ : how the fit stopped.

    Examples
    --------
    >>> from populations.demo import load_demo
    >>> inputs = load_demo()
    >>> synth = PopulationSynthesizer.from_config(inputs.config).fit(inputs)
    >>> pop = synth.sample(rng=np.random.default_rng(0))
    >>> sorted(pop.persons.columns)[:4]
    ['age', 'age_band', 'district', 'employment']
    """

    def __init__(
        self,
        *,
        fit: FitConfig | None = None,
        age: AgeConfig | None = None,
        income: IncomeConfig | None = None,
    ):
        self.fit_config = fit or FitConfig()
        self.age = age
        self.income = income

    @classmethod
    def from_config(cls, config: PopulationConfig, **overrides: Any) -> PopulationSynthesizer:
        """Settings from a configuration, with command-line `overrides` of its ``[fit]`` keys."""
        fit = config.fit
        changed = {k: v for k, v in overrides.items() if v is not None}
        if changed:
            fit = replace(fit, **changed)
        return cls(fit=fit, age=config.age, income=config.income)

    def fit(
        self,
        inputs: Inputs,
        *,
        callback: Callable[[int, float], None] | None = None,
        on_polish: Callable[[int, int], None] | None = None,
    ) -> PopulationSynthesizer:
        """Fit to `inputs`; the callbacks report progress (see `HouseholdSynthesizer.fit`)."""
        cfg = self.fit_config
        if cfg.integerise not in {"exact", "trs"}:
            msg = f"[fit] integerise: expected `exact` or `trs`, found `{cfg.integerise}`"
            raise ConfigError(msg)
        self.inputs_ = inputs
        if inputs.seed is not None and cfg.structural_zeros:
            msg = (
                "[fit] structural_zeros apply to persons-only fits; with seed households, a "
                "combination the seed households never show is already impossible."
            )
            raise ConfigError(msg)
        if inputs.seed is not None:
            self.fitter_ = HouseholdSynthesizer(
                tol=cfg.tol, max_iter=cfg.max_iter, rescale=cfg.rescale
            ).fit(
                inputs.seed,
                inputs.marginals,
                geography=inputs.geography,
                callback=callback,
                on_polish=on_polish,
            )
            persons = inputs.seed.persons
            weight = inputs.seed.weight[inputs.seed.person_household]
        else:
            self.fitter_ = IPF(
                tol=cfg.tol,
                max_iter=cfg.max_iter,
                rescale=cfg.rescale,
                prior=cfg.prior,
                structural_zeros=cfg.structural_zeros,
            ).fit(
                inputs.marginals,
                seed=inputs.seed_persons,
                geography=inputs.geography,
                callback=callback,
            )
            persons, weight = inputs.seed_persons, None
        self.status_ = self.fitter_.status_
        self.marginals_ = self.fitter_.marginals_
        self.age_ = self.income_ = None
        if self.age is not None and persons is not None:
            a = self.age
            self.age_ = AgeInBand(band=a.band, column=a.column, max_age=a.max_age).fit(persons)
        if self.income is not None and persons is not None:
            i = self.income
            self.income_ = IncomeByGroup(column=i.column, by=i.by, min_group=i.min_group).fit(
                persons, weight=weight
            )
        return self

    def sample(self, *, rng: np.random.Generator) -> Population:
        """One population: whole units, continuous attributes drawn, categories as Enums."""
        # Two child streams drawn from `rng` itself: `rng.spawn` would advance the spawn counter
        # of a SeedSequence the caller may reuse, so the same seed would not give the same result.
        entropy = rng.integers(0, 2**63, size=4)
        units_rng, attr_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(2)
        )
        if isinstance(self.fitter_, HouseholdSynthesizer):
            pop = self.fitter_.sample(method=self.fit_config.integerise, rng=units_rng)
        else:
            pop = Population(
                None, self.fitter_.sample(method=self.fit_config.integerise, rng=units_rng)
            )
        persons = pop.persons
        if self.age_ is not None:
            persons = persons.with_columns(self.age_.sample(persons[self.age_.band], rng=attr_rng))
        if self.income_ is not None:
            persons = persons.with_columns(self.income_.sample(persons, rng=attr_rng))
        households = None if pop.households is None else self._typed(pop.households)
        return Population(households, self._typed(persons))

    def _typed(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Geography levels added beside the zone; every text column as an Enum."""
        geo = self.inputs_.geography
        if geo is not None and geo.zone in frame.columns:
            for level, units in geo.levels.items():
                if level not in frame.columns:
                    mapping = dict(zip(geo.zones, units, strict=True))
                    col = pl.col(geo.zone).cast(pl.String).replace_strict(mapping)
                    order = list(dict.fromkeys(units))
                    frame = frame.with_columns(col.cast(pl.Enum(order)).alias(level))
        known: dict[str, list[str]] = {}
        for m in self.marginals_:
            for d, cats in zip(m.dims, m.categories, strict=True):
                known.setdefault(d, list(cats))
        casts = {}
        for name, dtype in frame.schema.items():
            if dtype == pl.String:
                cats = known.get(name) or sorted(frame[name].drop_nulls().unique().to_list())
                casts[name] = pl.Enum(cats)
        return frame.cast(casts)

    def report(self, population: Population) -> FitReport:
        """How `population` meets each marginal, and how the fit went."""
        fitter = self.fitter_
        fits = measure_fit(
            population.households,
            population.persons,
            self.marginals_,
            geography=self.inputs_.geography,
        )
        return FitReport(
            marginals=fits,
            fit={
                "method": "list balancing" if isinstance(fitter, HouseholdSynthesizer) else "ipf",
                "status": fitter.status_.value,
                "iterations": fitter.n_iter_,
                "seconds": round(fitter.fit_seconds_, 4),
                "tol": self.fit_config.tol,
                "max_rel_error_fitted": fitter.fit_errors_,
                "integerise": self.fit_config.integerise,
                "polished_zones": list(getattr(fitter, "polished_zones_", [])),
                "infeasible_zones": list(getattr(fitter, "infeasible_zones_", [])),
                "convergence": fitter.record_.to_dict(),
            },
            population={
                "persons": population.persons.height,
                "households": None
                if population.households is None
                else population.households.height,
                "zones": None
                if self.inputs_.geography is None
                else len(self.inputs_.geography.zones),
            },
        )
