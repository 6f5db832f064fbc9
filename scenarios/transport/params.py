"""Parameters of the transport scenario, one line each (default, unit, allowed range).

Field names match the TOML keys one to one; each concern is a nested table (``[network]``,
``[demand]``, ``[modes]``, ``[assignment]``, ``[emissions]``) and each policy too
(``[cordon_toll]``, ``[distance_toll]``, ``[closure]``, ``[transit]``, ``[remote_work]``,
``[speed_limit]``); on the command line ``--set cordon_toll.price=4``. A policy with a
``start_day`` is a scheduled event: it switches on at the start of that day (step) of the
day-to-day learning, so a run shows the city before and after it, re-learning.

The defaults are illustrative, not calibrated on any city's survey. The mode-choice
coefficients are of the magnitudes reported in European mode-choice studies (values of travel
time of 8-15 EUR/h, walking and waiting weighted about twice in-vehicle time; e.g. the
Dutch value-of-time study, Kouwenhoven et al. 2014, Research in Transportation Economics 47,
https://doi.org/10.1016/j.retrec.2014.09.017); the constants are set so the demo city's shares
are plausible for a mid-sized European town (about half the trips by car). CO2 factors are
typical tank-to-wheel averages (a petrol/diesel car ~170 g per vehicle-km, an urban bus ~80 g
per passenger-km at average occupancy).
"""

from __future__ import annotations

from dataclasses import dataclass

from abm.params import param
from populations.errors import ConfigError

__all__ = [
    "ACTIVITIES",
    "MODES",
    "Assignment",
    "Closure",
    "CordonToll",
    "Demand",
    "DistanceToll",
    "Emissions",
    "ModeChoice",
    "NetworkSpec",
    "RemoteWork",
    "SpeedLimit",
    "Transit",
    "TransportParams",
]

MODES = ("car", "transit", "bike", "walk")
"""The modes, in the order of every per-mode array (MATSim calls transit ``pt``)."""
ACTIVITIES = ("home", "work", "school", "shop", "leisure")
"""Activity types of the daily chains (MATSim's ``actType``)."""


def _hours(where: str, start: float, end: float) -> None:
    if end < start:
        msg = (
            f"parameter `{where}.end_hour` = {end} is before `{where}.start_hour` = {start}. "
            "Hint: the policy applies on start_hour <= hour < end_hour."
        )
        raise ConfigError(msg)


def _days(where: str, start: int, end: int) -> None:
    if end < start:
        msg = (
            f"parameter `{where}.end_day` = {end} is before `{where}.start_day` = {start}. "
            "Hint: the change applies on days start_day <= day < end_day."
        )
        raise ConfigError(msg)


@dataclass(frozen=True)
class NetworkSpec:
    """The built-in road network of the demo city (`scenarios.transport.city`)."""

    zone_size: float = param(1000.0, low=100, unit="m", help="side of a zone's square")
    streets_per_zone: int = param(2, low=1, high=40, help="street spacing: zone_size / this")
    bridges: int = param(2, low=1, high=50, help="bridges over the river (besides the ring's)")
    ring: bool = param(True, help="a ring road around the city")
    capacity_factor: float = param(
        1.0, low=0.001, high=10, unit="multiplier", help="road capacity (besides `sample`)"
    )


@dataclass(frozen=True)
class Demand:
    """Daily activity chains and destination choice (gravity model)."""

    work_departure: float = param(7.75, low=0, high=24, unit="hour", help="mean leaving home")
    work_spread: float = param(0.6, low=0, unit="hours", help="sd of the departure from home")
    work_hours: float = param(8.5, low=0.5, high=16, unit="hours", help="time at work")
    school_departure: float = param(7.5, low=0, high=24, unit="hour", help="mean leaving home")
    school_hours: float = param(6.5, low=0.5, high=16, unit="hours", help="time at school")
    errand_departure: float = param(10.5, low=0, high=24, unit="hour", help="others' first trip")
    errand_spread: float = param(2.0, low=0, unit="hours", help="sd of others' first trip")
    shop_after_work: float = param(0.25, low=0, high=1, unit="share", help="workers who shop")
    leisure_after_work: float = param(0.3, low=0, high=1, unit="share", help="leisure after")
    shop_others: float = param(0.55, low=0, high=1, unit="share", help="non-workers who shop")
    leisure_others: float = param(0.4, low=0, high=1, unit="share", help="non-workers' leisure")
    shop_hours: float = param(0.75, low=0.1, unit="hours", help="time shopping")
    leisure_hours: float = param(2.0, low=0.1, unit="hours", help="time at leisure")
    school_age: list[int] = param([6, 18], help="ages (inclusive) with a school trip")
    beta_work: float = param(0.12, low=0, unit="/km", help="gravity decay, work")
    beta_school: float = param(0.8, low=0, unit="/km", help="gravity decay, school")
    beta_shop: float = param(0.45, low=0, unit="/km", help="gravity decay, shopping")
    beta_leisure: float = param(0.25, low=0, unit="/km", help="gravity decay, leisure")
    jobs_centrality: float = param(
        2.0, low=0, unit="km", help="jobs concentrate within this of the centre (0: evenly)"
    )

    def __post_init__(self) -> None:
        low, high = (list(self.school_age) + [0, 0])[:2]
        if len(self.school_age) != 2 or not 0 <= low <= high <= 30:
            msg = (
                f"parameter `demand.school_age` = {list(self.school_age)!r}: expected "
                "[youngest, oldest] with 0 <= youngest <= oldest <= 30."
            )
            raise ConfigError(msg)


@dataclass(frozen=True)
class ModeChoice:
    """Tour-level multinomial logit: utility per mode, summed over the day's trips."""

    asc_car: float = param(0.0, help="constant, car (the reference)")
    asc_transit: float = param(-0.8, help="constant, transit")
    asc_bike: float = param(-2.4, help="constant, bike")
    asc_walk: float = param(1.8, help="constant, walk")
    time_car: float = param(-0.05, high=0, unit="/min", help="in-vehicle time, car")
    time_transit: float = param(-0.04, high=0, unit="/min", help="in-vehicle and walk, transit")
    wait_transit: float = param(-0.08, high=0, unit="/min", help="waiting for transit")
    time_bike: float = param(-0.08, high=0, unit="/min", help="cycling time")
    time_walk: float = param(-0.09, high=0, unit="/min", help="walking time")
    cost: float = param(-0.25, high=0, unit="/EUR", help="money, at the reference income")
    income_reference: float = param(30000.0, low=1, unit="EUR/year", help="income of `cost`")
    income_elasticity: float = param(
        0.5, low=0, high=2, help="cost weight scales as (reference/income)^this"
    )
    car_cost_km: float = param(0.20, low=0, unit="EUR/km", help="fuel and wear")
    parking_centre: float = param(3.0, low=0, unit="EUR", help="parking a day in the centre")
    transit_fare: float = param(1.8, low=0, unit="EUR/trip", help="one transit trip")
    driving_age: int = param(18, low=0, high=100, unit="years", help="youngest driver")
    bike_age: int = param(10, low=0, high=100, unit="years", help="youngest cyclist")
    walk_speed: float = param(5.0, low=0.5, unit="km/h", help="walking speed")
    bike_speed: float = param(15.0, low=1, unit="km/h", help="cycling speed")
    value_of_time: float = param(
        12.0, low=0.1, unit="EUR/h", help="drivers' route choice: tolls as time"
    )


@dataclass(frozen=True)
class Assignment:
    """Traffic: time slices, BPR link times and day-to-day learning (MSA)."""

    days: int = param(30, low=1, unit="days", help="learning days at most (one step a day)")
    tolerance: float = param(
        0.002,
        low=0,
        high=1,
        unit="share",
        help="stop when the relative gap and the share changing mode are below (0: never)",
    )
    slice_minutes: int = param(60, low=5, high=1440, unit="min", help="length of a time slice")
    bpr_alpha: float = param(0.15, low=0, help="BPR: t = t0 (1 + alpha (v/c)^beta)")
    bpr_beta: float = param(4.0, low=0, help="BPR exponent")
    log_links: bool = param(True, help="log `entered link` / `left link` events")


@dataclass(frozen=True)
class Emissions:
    """CO2 per kilometre, by mode (tank to wheel; illustrative averages)."""

    car: float = param(170.0, low=0, unit="g/vehicle-km", help="a car")
    transit: float = param(80.0, low=0, unit="g/passenger-km", help="a bus passenger")
    bike: float = param(0.0, low=0, unit="g/km", help="a cyclist")
    walk: float = param(0.0, low=0, unit="g/km", help="a pedestrian")


@dataclass(frozen=True)
class CordonToll:
    """A charge each time a car enters the cordon (the listed districts or zones)."""

    price: float = param(0.0, low=0, unit="EUR/entry", help="charge per entry (0: off)")
    districts: list[str] = param(["D1"], help="districts inside the cordon")
    zones: list[str] = param([], help="more zones inside the cordon")
    start_hour: float = param(7.0, low=0, high=24, unit="hour", help="charged from")
    end_hour: float = param(19.0, low=0, high=24, unit="hour", help="charged until (exclusive)")
    start_day: int = param(0, low=0, unit="day", help="first day of the toll")

    def __post_init__(self) -> None:
        _hours("cordon_toll", self.start_hour, self.end_hour)


@dataclass(frozen=True)
class DistanceToll:
    """A charge per kilometre driven on the road network (connectors excluded)."""

    price: float = param(0.0, low=0, unit="EUR/km", help="charge per km (0: off)")
    start_hour: float = param(0.0, low=0, high=24, unit="hour", help="charged from")
    end_hour: float = param(24.0, low=0, high=24, unit="hour", help="charged until (exclusive)")
    start_day: int = param(0, low=0, unit="day", help="first day of the toll")

    def __post_init__(self) -> None:
        _hours("distance_toll", self.start_hour, self.end_hour)


@dataclass(frozen=True)
class Closure:
    """Incidents and roadworks: links (by name or id) lose capacity on some days."""

    links: list[str] = param([], help="link names (e.g. `bridge 2`) or ids; both directions")
    capacity: float = param(
        0.0, low=0, high=10, unit="multiplier", help="capacity kept (0: closed)"
    )
    start_day: int = param(0, low=0, unit="day", help="first day of the change")
    end_day: int = param(10_000, low=0, unit="day", help="day it ends (exclusive)")

    def __post_init__(self) -> None:
        _days("closure", self.start_day, self.end_day)


@dataclass(frozen=True)
class Transit:
    """Bus lines of the built-in network: frequency and speed."""

    frequency: float = param(6.0, low=0, unit="buses/h", help="per line and direction (0: none)")
    frequency_factor: float = param(
        1.0, low=0, unit="multiplier", help="policy: scales every line's frequency"
    )
    speed: float = param(20.0, low=1, unit="km/h", help="commercial speed, stops included")
    max_wait: float = param(30.0, low=0, unit="min", help="longest wait counted")
    start_day: int = param(0, low=0, unit="day", help="first day of frequency_factor")


@dataclass(frozen=True)
class RemoteWork:
    """A share of workers works from home (no work trip) from `start_day` on."""

    share: float = param(0.0, low=0, high=1, unit="share", help="workers at home (0: off)")
    start_day: int = param(0, low=0, unit="day", help="first day of remote work")


@dataclass(frozen=True)
class SpeedLimit:
    """Cap the free-flow speed of some kinds of link."""

    kmh: float = param(0.0, low=0, unit="km/h", help="the limit (0: off)")
    kinds: list[str] = param(["local", "arterial"], help="link kinds it applies to")
    start_day: int = param(0, low=0, unit="day", help="first day of the limit")


@dataclass(frozen=True)
class TransportParams:
    """A day of trips of a synthetic city, learnt day after day until traffic settles."""

    sample: float = param(
        1.0,
        low=0.001,
        high=1,
        unit="share",
        help="households simulated (a MATSim-style sample: road capacities scale with it)",
    )
    network: NetworkSpec = param(NetworkSpec(), help="the built-in road network")
    demand: Demand = param(Demand(), help="activity chains and destinations")
    modes: ModeChoice = param(ModeChoice(), help="mode choice (logit)")
    assignment: Assignment = param(Assignment(), help="traffic assignment and learning")
    emissions: Emissions = param(Emissions(), help="CO2 factors")
    cordon_toll: CordonToll = param(CordonToll(), help="policy: cordon toll")
    distance_toll: DistanceToll = param(DistanceToll(), help="policy: distance toll")
    closure: Closure = param(Closure(), help="policy or incident: link closure")
    transit: Transit = param(Transit(), help="policy: transit service")
    remote_work: RemoteWork = param(RemoteWork(), help="policy: remote work")
    speed_limit: SpeedLimit = param(SpeedLimit(), help="policy: speed limit")
