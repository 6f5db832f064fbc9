"""Parameters of the outbreak scenario, one line each (default, unit, allowed range).

Field names match the TOML keys one to one; the interventions are nested tables
(``[vaccination]``, ``[school_closure]``, ``[contact_reduction]``, ``[testing]``; on the
command line ``--set vaccination.coverage=0.6``). Read them with `abm.params.read_params`,
which checks types and ranges; the cross-field checks (an end before a start, a severity table
of the wrong length) are in ``__post_init__`` and raise `populations.errors.ConfigError` naming
the key.

Severity defaults are illustrative, not calibrated: hospitalisation probabilities per infection
follow the age profile of Verity et al. (2020), "Estimates of the severity of coronavirus disease
2019: a model-based analysis", Lancet Infect. Dis. 20(6):669-677,
https://doi.org/10.1016/S1473-3099(20)30243-7 (table 3, China, early 2020), and the probability
that a hospitalised case dies is their infection fatality ratio divided by that hospitalisation
ratio, rounded. Transmission probabilities and periods are illustrative defaults chosen to give
a visible epidemic on the demo city in about 120 days.
"""

from __future__ import annotations

from dataclasses import dataclass

from abm.params import param
from populations.errors import ConfigError

__all__ = [
    "AGE_GROUPS",
    "ContactReduction",
    "OutbreakParams",
    "SchoolClosure",
    "Testing",
    "Vaccination",
]

AGE_GROUPS = ("0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")
"""The ten-year age groups of the severity tables (lower bounds 0, 10, ..., 80)."""


def _check_order(where: str, start: int, end: int) -> None:
    if end < start:
        msg = (
            f"parameter `{where}.end_day` = {end} is before `{where}.start_day` = {start}. "
            "Hint: the intervention runs on days start_day <= day < end_day."
        )
        raise ConfigError(msg)


@dataclass(frozen=True)
class Vaccination:
    """Vaccinate up to `coverage` of the population, `daily_capacity` doses a day."""

    start_day: int = param(30, low=0, unit="day", help="first day of vaccination")
    coverage: float = param(0.0, low=0, high=1, unit="share", help="target share (0: off)")
    daily_capacity: int = param(2000, low=0, unit="doses/day", help="doses given per day")
    priority: str = param("oldest", choices=("oldest", "random"), help="who is vaccinated first")
    efficacy: float = param(0.7, low=0, high=1, unit="share", help="reduction of infection risk")


@dataclass(frozen=True)
class SchoolClosure:
    """Remove the school layer on days ``start_day <= day < end_day`` (equal days: no closure)."""

    start_day: int = param(0, low=0, unit="day", help="first day schools are closed")
    end_day: int = param(0, low=0, unit="day", help="day schools reopen (exclusive)")

    def __post_init__(self) -> None:
        _check_order("school_closure", self.start_day, self.end_day)


@dataclass(frozen=True)
class ContactReduction:
    """Scale workplace and community contacts by a multiplier from `start_day` on."""

    start_day: int = param(0, low=0, unit="day", help="first day of reduced contacts")
    workplace: float = param(1.0, low=0, high=1, unit="multiplier", help="workplace contacts kept")
    community: float = param(1.0, low=0, high=1, unit="multiplier", help="community contacts kept")


@dataclass(frozen=True)
class Testing:
    """Test infectious persons from `start_day` on; isolate the positives when results arrive.

    Each day an infectious person not yet tested is tested with probability `probability`, up to
    `daily_capacity` tests; the (positive) result arrives `delay` days later (tested on the day
    of onset: `delay` days after onset), and the person then isolates for `duration` days, their
    contacts outside the household scaled by `isolation`.
    """

    start_day: int = param(0, low=0, unit="day", help="first day of testing")
    probability: float = param(0.0, low=0, high=1, unit="/day", help="daily test chance (0: off)")
    daily_capacity: int = param(10_000, low=0, unit="tests/day", help="tests taken per day")
    delay: int = param(2, low=0, unit="days", help="from test (at the earliest onset) to result")
    isolation: float = param(0.2, low=0, high=1, unit="multiplier", help="outside contacts kept")
    duration: int = param(10, low=1, unit="days", help="days isolated from the result on")


@dataclass(frozen=True)
class OutbreakParams:
    """An SEIR epidemic with hospitalisation and death on four contact layers."""

    days: int = param(120, low=1, unit="days", help="days to simulate (one step a day)")
    beta_household: float = param(0.06, low=0, high=1, unit="/contact-day", help="household")
    beta_school: float = param(0.03, low=0, high=1, unit="/contact-day", help="school")
    beta_workplace: float = param(0.03, low=0, high=1, unit="/contact-day", help="workplace")
    beta_community: float = param(0.02, low=0, high=1, unit="/contact-day", help="community")
    latent_mean: float = param(3.0, low=0.5, unit="days", help="mean latent period (gamma)")
    latent_shape: float = param(4.0, low=0.1, help="shape of the latent period's gamma")
    infectious_mean: float = param(5.0, low=0.5, unit="days", help="mean infectious period (gamma)")
    infectious_shape: float = param(4.0, low=0.1, help="shape of the infectious period's gamma")
    hospital_mean: float = param(8.0, low=0.5, unit="days", help="mean hospital stay (gamma)")
    hospital_shape: float = param(4.0, low=0.1, help="shape of the hospital stay's gamma")
    hospitalisation: list[float] = param(
        [0.001, 0.0004, 0.01, 0.034, 0.043, 0.082, 0.118, 0.166, 0.184],
        unit="probability per infection",
        help="by age group 0-9 .. 80+ (illustrative, after Verity et al. 2020)",
    )
    death: list[float] = param(
        [0.02, 0.02, 0.03, 0.025, 0.037, 0.073, 0.16, 0.26, 0.42],
        unit="probability per hospitalisation",
        help="by age group 0-9 .. 80+ (illustrative, after Verity et al. 2020)",
    )
    initial_infections: int = param(20, low=0, unit="persons", help="exposed on day 0")
    importations: float = param(1.0, low=0, unit="cases/day", help="mean, Poisson each day")
    vaccination: Vaccination = param(Vaccination(), help="vaccination campaign")
    school_closure: SchoolClosure = param(SchoolClosure(), help="school closure")
    contact_reduction: ContactReduction = param(ContactReduction(), help="distancing")
    testing: Testing = param(Testing(), help="testing and isolation")

    def __post_init__(self) -> None:
        for key in ("hospitalisation", "death"):
            values = list(getattr(self, key))
            if len(values) != len(AGE_GROUPS):
                msg = (
                    f"parameter `{key}` needs {len(AGE_GROUPS)} probabilities (age groups "
                    f"{', '.join(AGE_GROUPS)}), found {len(values)}."
                )
                raise ConfigError(msg)
            for i, p in enumerate(values):
                if not 0.0 <= p <= 1.0:
                    msg = (
                        f"parameter `{key}[{i}]` (age group {AGE_GROUPS[i]}) = {p!r} is out of "
                        "range: expected a probability in [0, 1]"
                    )
                    raise ConfigError(msg)
