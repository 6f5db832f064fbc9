"""From a configuration to a synthetic population: read inputs, fit, sample, draw attributes.

Two modes, chosen by the seed sample the configuration gives:

* **households and persons** (``[seed]`` has ``households`` and ``persons``): seed households are
  list-balanced to household- and person-level marginals per zone (`households.py`);
* **persons only** (``[seed]`` has ``persons`` only, or no seed and a ``prior``): a table over the
  marginals' dimensions is fitted by IPF (`fitter.py`) and integerised into persons.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from populations.attributes import AgeInBand, IncomeByGroup, parse_band
from populations.config import (
    PROTECTIONS,
    AgeConfig,
    FitConfig,
    IncomeConfig,
    PopulationConfig,
    PrivacyConfig,
    load_config,
)
from populations.errors import ConfigError, closest_hint
from populations.fitter import IPF
from populations.households import HouseholdSynthesizer, Population
from populations.marginals import Geography, Marginal, read_table
from populations.privacy import DisclosureReport, disclosure_risk, records
from populations.protection import ProtectionRecord, Protector, merge_marginal
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
    privacy : quasi-identifiers of the disclosure report and the protections applied by
        `sample` (`populations.protection`; None: none).

    Attributes
    ----------
    fitter_ : the fitted `HouseholdSynthesizer` or `IPF`.
    status_ : how the fit stopped.
    protector_ : the fitted `Protector`, or None when no protection is on.

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
        privacy: PrivacyConfig | None = None,
    ):
        self.fit_config = fit or FitConfig()
        self.age = age
        self.income = income
        self.privacy = privacy

    @classmethod
    def from_config(
        cls, config: PopulationConfig, *, protect: Sequence[str] = (), **overrides: Any
    ) -> PopulationSynthesizer:
        """Settings from a configuration, with command-line `overrides` of its ``[fit]`` keys.

        `protect` turns protections on (``uniques``, ``merge``, ``top-code`` or ``all``; see
        `populations.protection`), with the ``[privacy]`` table's settings where it has them:
        ``merge`` merges small categories of every categorical quasi-identifier unless
        ``merge_small`` names columns, and ``top-code`` caps age and income at the seed's 99th
        percentile unless ``top_code`` gives caps.
        """
        fit = config.fit
        changed = {k: v for k, v in overrides.items() if v is not None}
        if changed:
            fit = replace(fit, **changed)
        privacy = _with_protections(config, protect)
        return cls(fit=fit, age=config.age, income=config.income, privacy=privacy)

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
        self._fit_privacy(inputs)
        return self

    def _fit_privacy(self, inputs: Inputs) -> None:
        """The seed's records for the disclosure report, and the protections, fitted."""
        if inputs.seed is not None:
            seed_persons, seed_households = inputs.seed.persons, inputs.seed.households
        else:
            seed_persons, seed_households = inputs.seed_persons, None
        self.seed_records_ = (
            None if seed_persons is None else records(seed_persons, seed_households)
        )
        self.protector_ = None
        p = self.privacy
        if p is None or not p.protects:
            return
        if seed_persons is None:
            msg = (
                "[privacy] protections need a seed sample ([seed] persons): without one no "
                "record is copied, so there is nothing to protect."
            )
            raise ConfigError(msg)
        geo = inputs.geography
        zone = geo.zone if geo is not None else "zone"
        levels = list(geo.levels) if geo is not None else []
        orders: dict[str, tuple[str, ...]] = {}
        keep_with = []
        for m in self.marginals_:
            for d, cats in zip(m.dims, m.categories, strict=True):
                orders.setdefault(d, cats)
                if m.level == "person" and d != zone and d not in levels:
                    keep_with.append(d)
        drawn: dict[str, list[str]] = {}
        if self.age_ is not None:
            drawn[self.age_.column] = [self.age_.band]
        if self.income_ is not None:
            drawn[self.income_.column] = list(self.income_.by)
        self.protector_ = Protector(
            quasi_identifiers=p.quasi_identifiers or None,
            resample_uniques=p.resample_uniques,
            merge_small=p.merge_small,
            min_category_size=p.min_category_size,
            top_code=p.top_code,
            zone=zone,
            levels=levels,
            keep_with=list(dict.fromkeys(keep_with)),
            drawn=drawn,
        ).fit(seed_persons, seed_households, orders=orders)
        caps = self.protector_.caps_
        if self.age_ is not None and self.age_.column in caps:
            # Age is drawn within its band: a cap below the top band's lower end would give
            # persons an age outside their band, so the cap is raised to that end (85 for 85+).
            top = max(parse_band(b, max_age=self.age_.max_age)[0] for b in self.age_.pmf_)
            caps[self.age_.column] = max(caps[self.age_.column], float(top))

    def sample(self, *, rng: np.random.Generator, protect: bool = True) -> Population:
        """One population: whole units, continuous attributes drawn, categories as Enums.

        With protections configured (``privacy``) and `protect`, they are applied (`protect`)
        with the same `rng`, so ``sample(rng=g)`` equals ``protect(sample(rng=g,
        protect=False), rng=g)[0]`` for two generators in the same state.
        """
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
        population = Population(households, self._typed(persons))
        if protect and getattr(self, "protector_", None) is not None:
            population, _ = self.protect(population, rng=rng)
        return population

    def protect(
        self, population: Population, *, rng: np.random.Generator
    ) -> tuple[Population, ProtectionRecord]:
        """`population` with the configured protections applied, and what they did."""
        if getattr(self, "protector_", None) is None:
            return population, ProtectionRecord()
        persons, households, record = self.protector_.transform(
            population.persons, population.households, rng=rng
        )
        return Population(households, persons), record

    def disclosure_risk(
        self,
        population: Population,
        *,
        protection: ProtectionRecord | None = None,
        quasi_identifiers: Sequence[str] | None = None,
    ) -> DisclosureReport:
        """What `population` reveals about the seed sample (`populations.privacy`).

        The quasi-identifiers are `quasi_identifiers`, else the ``[privacy]`` table's, else the
        defaults. A population whose small categories were merged (`protection`) is compared
        with the seed under the same merges.
        """
        if getattr(self, "seed_records_", None) is None:
            msg = (
                "this population has no seed sample to compare with: disclosure risk is "
                "measured against the seed records a population copies."
            )
            raise ConfigError(msg)
        qis = quasi_identifiers
        if qis is None and self.privacy is not None and self.privacy.quasi_identifiers:
            qis = self.privacy.quasi_identifiers
        return disclosure_risk(
            records(population.persons, population.households),
            self.seed_records_,
            qis,
            merged=None if protection is None else protection.merged_categories,
        )

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

    def report(
        self,
        population: Population,
        *,
        unprotected: Population | None = None,
        protection: ProtectionRecord | None = None,
        disclosure: bool = False,
    ) -> FitReport:
        """How `population` meets each marginal, and how the fit went.

        With `unprotected` (the population before `protect`) and `protection` (what it did),
        the report's ``privacy`` section gives the fit before protection, the tolerance and
        whether every marginal stays within it; marginals whose categories were merged are
        measured on the merged cells. With `disclosure`, it also gives the disclosure risk
        against the seed sample (`disclosure_risk`), before and after protection.
        """
        fitter = self.fitter_
        geography = self.inputs_.geography
        merges = protection.merged_categories if protection is not None else {}
        marginals = [merge_marginal(m, merges) for m in self.marginals_]
        fits = measure_fit(
            population.households, population.persons, marginals, geography=geography
        )
        privacy: dict[str, Any] = {}
        if protection is not None:
            privacy["protection"] = protection.to_dict()
        if unprotected is not None:
            before = measure_fit(
                unprotected.households, unprotected.persons, self.marginals_, geography=geography
            )
            tol = self.privacy.fit_tolerance if self.privacy is not None else 0.0
            privacy["fit_before"] = [asdict(m) for m in before]
            privacy["fit_tolerance"] = tol
            privacy["within_tolerance"] = all(
                a.srmse <= b.srmse + tol for a, b in zip(fits, before, strict=True)
            )
        if disclosure and getattr(self, "seed_records_", None) is not None:
            if unprotected is not None:
                privacy["disclosure_before"] = self.disclosure_risk(unprotected).to_dict()
            privacy["disclosure"] = self.disclosure_risk(
                population, protection=protection
            ).to_dict()
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
            privacy=privacy,
        )


def _with_protections(config: PopulationConfig, protect: Sequence[str]) -> PrivacyConfig | None:
    """The configuration's ``[privacy]`` table with the protections named in `protect` on."""
    privacy = config.privacy
    if not protect:
        return privacy
    unknown = [p for p in protect if p not in PROTECTIONS]
    if unknown:
        msg = f"unknown protection `{unknown[0]}`. {closest_hint(unknown[0], PROTECTIONS)}"
        raise ConfigError(msg)
    if config.seed is None:
        msg = (
            "--protect needs a seed sample ([seed] persons): without one no record is copied, "
            "so there is nothing to protect."
        )
        raise ConfigError(msg)
    privacy = privacy or PrivacyConfig()
    wanted = set(protect)
    if "all" in wanted:
        wanted = set(PROTECTIONS)
    changes: dict[str, Any] = {}
    if "uniques" in wanted:
        changes["resample_uniques"] = True
    if "merge" in wanted and not privacy.merge_small:
        changes["merge_small"] = True
    if "top-code" in wanted and not privacy.top_code:
        caps = {a.column: "p99" for a in (config.age, config.income) if a is not None}
        if not caps:
            msg = (
                "--protect top-code: no continuous attribute to top-code. Hint: name columns "
                "and caps in [privacy], e.g. top_code = { income = 150000 }."
            )
            raise ConfigError(msg)
        changes["top_code"] = caps
    return replace(privacy, **changes)
