"""Synthetic populations from survey marginals: IPF, list balancing, integerisation.

Knows nothing of agents or scenarios (DESIGN.md: imports only go down). The array functions
`populations.ipf.ipf` and `populations.integerise.integerise` stay in their modules, so the
module names are not shadowed.
"""

from populations.attributes import AgeInBand, IncomeByGroup
from populations.config import load_config
from populations.convergence import Status
from populations.errors import (
    ConfigError,
    MarginalsError,
    NotFittedError,
    OutputExistsError,
    SeedSampleError,
    SynthworldError,
)
from populations.fitter import IPF
from populations.households import HouseholdSynthesizer, Population
from populations.integerise import trs
from populations.ipf import Target
from populations.marginals import Geography, Marginal
from populations.privacy import DisclosureReport, Thresholds, disclosure_risk
from populations.protection import Protector
from populations.seed import SeedSample
from populations.synthesis import PopulationSynthesizer, load_inputs

__all__ = [
    "IPF",
    "AgeInBand",
    "ConfigError",
    "DisclosureReport",
    "Geography",
    "HouseholdSynthesizer",
    "IncomeByGroup",
    "Marginal",
    "MarginalsError",
    "NotFittedError",
    "OutputExistsError",
    "Population",
    "PopulationSynthesizer",
    "Protector",
    "SeedSample",
    "SeedSampleError",
    "Status",
    "SynthworldError",
    "Target",
    "Thresholds",
    "disclosure_risk",
    "load_config",
    "load_inputs",
    "trs",
]
