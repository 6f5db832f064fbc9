"""Parameters of the fraud and money-laundering scenario, one line each.

Field names match the TOML keys one to one; the behaviour of customers, the fraud, the laundering
and the bank's monitoring are nested tables (``[behaviour]``, ``[fraud]``, ``[laundering]``,
``[monitoring]``; on the command line ``--set fraud.rate=0.002``). Presets (``--preset paysim``)
are TOML files of values in ``scenarios/fraud/presets/``.

Rates of illicit activity are shares of all rows, the figure users compare with PaySim's 0.13 %
or AMLworld's 0.1 %: the model turns them into a number of schemes a day from the expected
number of legitimate rows and each typology's mean number of rows. The defaults are illustrative,
not calibrated on any bank's data.
"""

from __future__ import annotations

from dataclasses import dataclass

from abm.params import param, parse_date
from populations.errors import ConfigError

__all__ = [
    "CURRENCIES",
    "FRAUD_TYPOLOGIES",
    "LAUNDERING_TYPOLOGIES",
    "Behaviour",
    "Fraud",
    "FraudParams",
    "Laundering",
    "Monitoring",
]

FRAUD_TYPOLOGIES = ("account_takeover", "card_not_present", "bust_out")
"""Fraud schemes: a taken-over account emptied through mules, a stolen card used online in a
burst, a customer who builds history and then cashes out a bad deposit (first-party fraud)."""
LAUNDERING_TYPOLOGIES = (
    "fan_out",
    "fan_in",
    "cycle",
    "scatter_gather",
    "gather_scatter",
    "bipartite",
    "stack",
    "random",
    "unnamed",
)
"""AMLworld's eight laundering patterns, and ``unnamed``: laundering through ordinary-looking
transfers and purchases that follow no named shape (real laundering is not all textbook)."""

CURRENCIES = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CHF": 1.12,
    "JPY": 0.0067,
    "CNY": 0.14,
    "INR": 0.012,
    "CAD": 0.73,
    "AUD": 0.66,
}
"""Currencies and their value in US dollars (fixed, illustrative rates)."""


def _weights(where: str, values: list[float], names: tuple[str, ...]) -> None:
    if len(values) != len(names):
        msg = (
            f"parameter `{where}` needs {len(names)} weights ({', '.join(names)}), "
            f"found {len(values)}."
        )
        raise ConfigError(msg)
    for name, w in zip(names, values, strict=True):
        if not w >= 0:
            msg = f"parameter `{where}`: the weight of `{name}` is {w!r}; weights must be >= 0."
            raise ConfigError(msg)


@dataclass(frozen=True)
class Behaviour:
    """Legitimate activity: mean transactions per active customer and day, by type."""

    payments: float = param(1.1, low=0, unit="/customer-day", help="PAYMENT: card purchases")
    transfers: float = param(0.12, low=0, unit="/customer-day", help="TRANSFER: to people")
    cash_in: float = param(0.05, low=0, unit="/customer-day", help="CASH_IN: cash deposits")
    cash_out: float = param(0.12, low=0, unit="/customer-day", help="CASH_OUT: withdrawals")
    debits: float = param(0.03, low=0, unit="/customer-day", help="DEBIT: to an outside account")
    bills: float = param(3.0, low=0, unit="/customer-month", help="BILL: on fixed days a month")
    salary: bool = param(True, help="SALARY: pay, pensions, benefits once a month")
    weekend: float = param(0.8, low=0, unit="multiplier", help="activity on Saturday and Sunday")
    payday_boost: float = param(
        1.4, low=0, unit="multiplier", help="spending in the 3 days after payday"
    )
    amount_sigma: float = param(0.9, low=0.05, help="spread (log-sd) of amounts around a habit")
    favourites: int = param(8, low=1, high=64, unit="merchants", help="merchants a customer uses")
    sweep: float = param(
        0.02, low=0, high=1, unit="share", help="transfers that move the whole balance"
    )


@dataclass(frozen=True)
class Fraud:
    """Fraud: share of rows, and the mix of typologies (weights, normalised)."""

    rate: float = param(0.0013, low=0, high=0.2, unit="share of rows", help="fraud rows")
    mix: list[float] = param(
        [0.6, 0.3, 0.1], help="account_takeover, card_not_present, bust_out (weights)"
    )
    mule_chain: list[int] = param(
        [1, 3], help="mules between victim and cash-out: least and most (inclusive)"
    )
    report_rate: float = param(
        0.8, low=0, high=1, unit="share", help="fraud the victims report (observed label)"
    )
    false_reports: float = param(
        0.0001, low=0, high=1, unit="share", help="legitimate rows reported as fraud"
    )

    def __post_init__(self) -> None:
        _weights("fraud.mix", list(self.mix), FRAUD_TYPOLOGIES)
        low, high = (list(self.mule_chain) + [0, 0])[:2]
        if len(self.mule_chain) != 2 or not 1 <= low <= high <= 10:
            msg = (
                f"parameter `fraud.mule_chain` = {list(self.mule_chain)!r}: expected "
                "[least, most] with 1 <= least <= most <= 10."
            )
            raise ConfigError(msg)


@dataclass(frozen=True)
class Laundering:
    """Money laundering: share of rows, typology mix and scheme sizes."""

    rate: float = param(0.001, low=0, high=0.2, unit="share of rows", help="laundering rows")
    mix: list[float] = param(
        [0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.1, 0.1],
        help="fan_out, fan_in, cycle, scatter_gather, gather_scatter, bipartite, stack, "
        "random, unnamed (weights)",
    )
    oversample: float = param(
        0.0, low=0, high=1, unit="share", help="blend the mix towards equal weights (1: equal)"
    )
    degree: list[int] = param([3, 8], help="accounts a scheme fans to or from: least and most")
    days: int = param(5, low=1, high=60, unit="days", help="longest time a scheme spans")
    placement_cap: float = param(
        9500.0, low=1, unit="USD", help="cash deposits are kept below this (structuring)"
    )

    def __post_init__(self) -> None:
        _weights("laundering.mix", list(self.mix), LAUNDERING_TYPOLOGIES)
        if len(self.degree) != 2 or not 2 <= self.degree[0] <= self.degree[1] <= 50:
            msg = (
                f"parameter `laundering.degree` = {list(self.degree)!r}: expected "
                "[least, most] with 2 <= least <= most <= 50."
            )
            raise ConfigError(msg)


@dataclass(frozen=True)
class Monitoring:
    """A bank's simple rule engine (the observed layer): what raises an alert."""

    large_amount: float = param(
        10_000.0, low=0, unit="USD", help="alert on an outgoing transfer or withdrawal this large"
    )
    velocity: int = param(
        6, low=1, unit="transfers/day", help="alert when an account sends this many in a day"
    )
    fan_in: int = param(
        4, low=2, unit="senders/day", help="alert when an account receives from this many"
    )


@dataclass(frozen=True)
class FraudParams:
    """Customers of a synthetic city pay, transfer and withdraw; some are defrauded or launder."""

    customers: int = param(20_000, low=10, unit="customers", help="account holders (adults)")
    days: int = param(30, low=1, unit="days", help="days to simulate (one step a day)")
    start_date: str = param("2025-01-01", help="first day (YYYY-MM-DD)")
    currency: str = param("EUR", choices=tuple(CURRENCIES), help="the home currency")
    banks: int = param(5, low=1, high=500, unit="banks", help="banks in the city")
    foreign_banks: int = param(
        2, low=0, high=100, unit="banks", help="banks abroad (other currencies)"
    )
    merchants_per_1000: float = param(
        12.0, low=0.1, unit="/1000 customers", help="merchants per thousand customers"
    )
    behaviour: Behaviour = param(Behaviour(), help="legitimate activity")
    fraud: Fraud = param(Fraud(), help="fraud")
    laundering: Laundering = param(Laundering(), help="money laundering")
    monitoring: Monitoring = param(Monitoring(), help="the banks' alert rules")

    def __post_init__(self) -> None:
        parse_date("start_date", self.start_date)
