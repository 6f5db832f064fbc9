"""Synthetic populations from survey marginals: IPF, list balancing, integerisation.

Knows nothing of agents or scenarios (DESIGN.md: imports only go down).
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
from populations.integerise import integerise, trs
from populations.ipf import Target, ipf
from populations.marginals import Geography, Marginal
from populations.seed import SeedSample
from populations.synthesis import PopulationSynthesizer, load_inputs

__all__ = [
    "IPF",
    "AgeInBand",
    "ConfigError",
    "Geography",
    "HouseholdSynthesizer",
    "IncomeByGroup",
    "Marginal",
    "MarginalsError",
    "NotFittedError",
    "OutputExistsError",
    "Population",
    "PopulationSynthesizer",
    "SeedSample",
    "SeedSampleError",
    "Status",
    "SynthworldError",
    "Target",
    "integerise",
    "ipf",
    "load_config",
    "load_inputs",
    "trs",
]
