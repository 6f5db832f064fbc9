"""Parameters of the outages scenario, one line each (default, unit, allowed range).

Field names match the TOML keys one to one; the city's network, each kind of shock, the crews,
switching and the two network policies are nested tables (``[network]``, ``[storms]``,
``[heat_waves]``, ``[equipment]``, ``[cyber]``, ``[crews]``, ``[switching]``,
``[undergrounding]``, ``[reinforcement]``; on the command line ``--set crews.count=10``).

One step is one hour, so a run's length is ``hours`` (2,208 hours: the 92 days of June to
August). Rates of random shocks are per 30 days, the unit people quote ("a storm a month").

The defaults are illustrative, chosen to give a few storms and a heat wave a summer on the demo
city with the interruptions a distribution network of its size sees, not calibrated on any
utility's records. Sources for the orders of magnitude: fragility curves of overhead lines as
lognormal functions of the gust speed (Panteli et al. 2017, IEEE Trans. Power Syst. 32(5)
3747-3757, https://doi.org/10.1109/TPWRS.2016.2641463), repair times of hours for overhead lines
and about half a day for cables and transformers (the same paper's table II), Motter-Lai
capacities with a tolerance over the design load (Motter & Lai 2002, Phys. Rev. E 66, 065102,
https://doi.org/10.1103/PhysRevE.66.065102).
"""

from __future__ import annotations

from dataclasses import dataclass

from abm.params import param, parse_date
from populations.errors import ConfigError

__all__ = [
    "DISPATCH_RULES",
    "UNDERGROUNDING_ORDERS",
    "Crews",
    "Cyber",
    "Equipment",
    "HeatWaves",
    "Network",
    "OutageParams",
    "Reinforcement",
    "Storms",
    "Switching",
    "Undergrounding",
]

DISPATCH_RULES = ("critical_first", "most_customers", "nearest", "oldest")
"""How a free crew picks its next job: the damage cutting off the most critical customers
(hospitals, care homes) then the most customers; the most customers; the nearest; the oldest."""
UNDERGROUNDING_ORDERS = ("most_customers", "oldest", "windiest")
"""Which overhead feeder sections are put underground first: those whose loss cuts off the most
customers, the oldest, or those in the zones nearest the city's edge (most exposed)."""


@dataclass(frozen=True)
class Network:
    """The generated distribution network: its size, cables and ratings."""

    customers_per_transformer: int = param(
        120, low=5, unit="customers", help="customers per 11 kV/LV secondary substation"
    )
    transformers_per_feeder: int = param(
        8, low=1, unit="substations", help="secondary substations on one 11 kV feeder"
    )
    underground_share: float = param(
        0.35, low=0, high=1, unit="share", help="feeder sections underground (the centre first)"
    )
    age_mean: float = param(30.0, low=0, unit="years", help="mean age of lines and transformers")
    margin_lines: float = param(
        0.4, low=0, unit="share", help="11 kV feeder ratings over the design flow (tolerance)"
    )
    margin_subtransmission: float = param(
        0.2, low=0, unit="share", help="33 kV line ratings over the design flow"
    )
    margin_transformers: float = param(
        0.15, low=0, unit="share", help="secondary transformers over the design load, then rounded"
    )
    margin_primary: float = param(
        0.2, low=0, unit="share", help="primary transformers over the design flow, then rounded"
    )
    n_minus_1: bool = param(
        True, help="size the 33 kV lines and primaries on their worst single outage (N-1)"
    )
    design_temperature: float = param(
        32.0, unit="degC", help="the hottest day the ratings are sized for (its maximum)"
    )


@dataclass(frozen=True)
class Storms:
    """Wind storms: Poisson arrivals, a footprint that moves across the city, fragile lines."""

    rate: float = param(1.0, low=0, unit="/30 days", help="mean number of storms")
    scheduled_hours: list[int] = param([], help="hours at which a storm starts for certain")
    wind_min: float = param(20.0, low=0, unit="m/s", help="peak gust of the weakest storm")
    wind_excess: float = param(
        4.0, low=0.1, unit="m/s", help="mean peak gust above wind_min (exponential)"
    )
    severe_wind: float = param(
        38.0, low=0, unit="m/s", help="storms this strong are drawn as a class of their own"
    )
    radius_km: float = param(15.0, low=0.5, unit="km", help="median footprint radius (gaussian)")
    speed_kmh: float = param(12.0, low=0, unit="km/h", help="speed of the footprint's centre")
    hours: float = param(12.0, low=1, unit="hours", help="mean duration of a storm")
    fragility_median: float = param(
        42.0, low=1, unit="m/s", help="gust at which a line's failure hazard is half its top"
    )
    fragility_beta: float = param(
        0.15, low=0.01, help="log-sd of the lognormal fragility curve (its steepness)"
    )
    hazard_max: float = param(
        1.2, low=0, unit="/km-hour", help="failure hazard of an overhead line in the worst wind"
    )
    underground_factor: float = param(
        0.02, low=0, high=1, unit="multiplier", help="hazard of underground cables vs overhead"
    )
    subtransmission_factor: float = param(
        0.2, low=0, high=1, unit="multiplier", help="hazard of 33 kV lines (sturdier structures)"
    )
    age_doubling: float = param(
        25.0, low=1, unit="years", help="every this many years of age doubles the hazard"
    )

    def __post_init__(self) -> None:
        for h in self.scheduled_hours:
            if h < 0:
                msg = f"parameter `storms.scheduled_hours` has {h}: hours must be >= 0."
                raise ConfigError(msg)


@dataclass(frozen=True)
class HeatWaves:
    """Heat waves: Poisson arrivals of days hotter than normal, when demand surges."""

    rate: float = param(0.5, low=0, unit="/30 days", help="mean number of heat waves")
    scheduled_days: list[int] = param([], help="days on which a heat wave starts for certain")
    days_min: int = param(3, low=1, unit="days", help="shortest heat wave")
    days_max: int = param(7, low=1, unit="days", help="longest heat wave")
    amplitude: float = param(8.0, low=0, unit="degC", help="mean extra heat at a wave's height")

    def __post_init__(self) -> None:
        if self.days_max < self.days_min:
            msg = (
                f"parameter `heat_waves.days_max` = {self.days_max} is below "
                f"`heat_waves.days_min` = {self.days_min}."
            )
            raise ConfigError(msg)
        for d in self.scheduled_days:
            if d < 0:
                msg = f"parameter `heat_waves.scheduled_days` has {d}: days must be >= 0."
                raise ConfigError(msg)


@dataclass(frozen=True)
class Equipment:
    """Random equipment failures, at rates per component and year (older fails more)."""

    overhead_per_km: float = param(0.08, low=0, unit="/km-year", help="overhead line faults")
    underground_per_km: float = param(0.04, low=0, unit="/km-year", help="cable faults")
    transformer: float = param(0.004, low=0, unit="/year", help="secondary transformer faults")
    primary: float = param(0.01, low=0, unit="/year", help="primary transformer faults")
    heat_factor: float = param(
        0.1, low=0, unit="/degC", help="extra transformer faults per degree above 30 degC"
    )


@dataclass(frozen=True)
class Cyber:
    """Cyber incidents: the breakers of primary substations opened remotely."""

    rate: float = param(0.02, low=0, unit="/30 days", help="mean number of incidents")
    scheduled_hours: list[int] = param([], help="hours at which an incident happens for certain")
    substations: int = param(2, low=1, unit="substations", help="primaries hit by an incident")
    restore_minutes: float = param(
        120.0, low=1, unit="minutes", help="median time on site to restore a substation"
    )

    def __post_init__(self) -> None:
        for h in self.scheduled_hours:
            if h < 0:
                msg = f"parameter `cyber.scheduled_hours` has {h}: hours must be >= 0."
                raise ConfigError(msg)


@dataclass(frozen=True)
class Crews:
    """Repair crews: how many, how they choose jobs, how they travel."""

    count: int = param(6, low=0, unit="crews", help="repair crews on duty")
    dispatch: str = param("critical_first", choices=DISPATCH_RULES, help="which job comes first")
    speed_kmh: float = param(35.0, low=1, unit="km/h", help="travel speed on the roads")
    access_minutes: float = param(
        15.0, low=0, unit="minutes", help="to find and reach the damage once in its zone"
    )
    safe_wind: float = param(
        22.0, low=0, unit="m/s", help="crews wait until the gust in the zone is below this"
    )
    repair_sigma: float = param(0.6, low=0, help="log-sd of repair times around their medians")


@dataclass(frozen=True)
class Switching:
    """Protection and control: re-closing tripped equipment, transferring load over ties."""

    reclose_minutes: float = param(
        20.0, low=1, unit="minutes", help="a tripped (undamaged) component is re-closed after"
    )
    transfer: bool = param(True, help="close normally-open ties to pick up cut-off feeders")
    transfer_minutes: float = param(
        45.0, low=1, unit="minutes", help="from a cut-off to the transfer (manual switching)"
    )


@dataclass(frozen=True)
class Undergrounding:
    """Policy: put a share of the overhead 11 kV feeder sections underground."""

    share: float = param(0.0, low=0, high=1, unit="share", help="of overhead sections (0: off)")
    order: str = param("most_customers", choices=UNDERGROUNDING_ORDERS, help="which go first")


@dataclass(frozen=True)
class Reinforcement:
    """Policy: raise the ratings of the components that carry the most at the design peak."""

    share: float = param(
        0.0, low=0, high=1, unit="share", help="of lines and transformers, the most loaded first"
    )
    factor: float = param(1.5, low=1, unit="multiplier", help="new rating / old rating")


@dataclass(frozen=True)
class OutageParams:
    """Storms, heat waves, equipment faults and cyber incidents on a city's distribution network."""

    hours: int = param(2208, low=1, unit="hours", help="hours to simulate (one step an hour)")
    start_date: str = param("2025-06-01", help="first day (YYYY-MM-DD), starting at midnight")
    city_seed: int = param(
        0, low=0, help="seed of the city (population, network); the run's seed draws the weather"
    )
    temperature_mean: float = param(21.0, unit="degC", help="mean temperature of the season")
    diurnal_range: float = param(9.0, low=0, unit="degC", help="from the night's low to 3 pm")
    temperature_sd: float = param(2.5, low=0, unit="degC", help="sd of a day's anomaly (AR(1))")
    long_outage_hours: float = param(
        24.0, low=0, unit="hours", help="an interruption longer than this is long (as CELID-s)"
    )
    network: Network = param(Network(), help="the generated network")
    storms: Storms = param(Storms(), help="wind storms")
    heat_waves: HeatWaves = param(HeatWaves(), help="heat waves")
    equipment: Equipment = param(Equipment(), help="equipment failures")
    cyber: Cyber = param(Cyber(), help="cyber incidents")
    crews: Crews = param(Crews(), help="repair crews")
    switching: Switching = param(Switching(), help="protection, re-closing and load transfer")
    undergrounding: Undergrounding = param(Undergrounding(), help="policy: undergrounding")
    reinforcement: Reinforcement = param(Reinforcement(), help="policy: reinforcement")

    def __post_init__(self) -> None:
        parse_date("start_date", self.start_date)
