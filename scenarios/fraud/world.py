"""The world of the fraud scenario: banks, accounts, customers' habits, merchants and ties.

`build_world` turns persons of a synthetic population into account holders. Adults are drawn
household by household (so members of a household bank in the same city and send each other
money), each with habits that follow from who they are: income sets the spending level and the
salary, age shifts the hours of activity, the zone sets the merchants they frequent. Merchants are
placed in zones by category; cash agents, employers and outside accounts are counterparties whose
balances the model does not hold (money flows in and out of the modelled banks through them).

Account ids are random numbers with no structure (drawn without replacement), so nothing about an
account's role can be read from its id; merchants and external counterparties differ from
customers only by their kind, as in PaySim's ``C``/``M`` prefixes.

Networks: the social ties (household members and acquaintances, mostly in the same zone) and the
customer-merchant habits are built as edge arrays and compiled to CSR for the daily loop;
`World.social_graph` and `World.merchant_graph` give them as networkx graphs for analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from populations.errors import ConfigError
from scenarios.fraud.params import CURRENCIES, FraudParams

__all__ = [
    "CATEGORIES",
    "CUSTOMER",
    "EXTERNAL",
    "KINDS",
    "MERCHANT",
    "World",
    "build_world",
]

KINDS = ("customer", "merchant", "cash_agent", "employer", "outside")
CUSTOMER, MERCHANT, CASH_AGENT, EMPLOYER, OUTSIDE = range(5)
EXTERNAL = (CASH_AGENT, EMPLOYER, OUTSIDE)
"""Kinds whose balances the model does not hold: money enters or leaves through them."""

# category: (share of merchants, median purchase in USD, biller)
_CATEGORY_TABLE = {
    "grocery": (0.24, 38.0, False),
    "restaurant": (0.16, 26.0, False),
    "fuel": (0.07, 52.0, False),
    "retail": (0.15, 64.0, False),
    "online": (0.10, 48.0, False),
    "pharmacy": (0.05, 22.0, False),
    "electronics": (0.04, 240.0, False),
    "travel": (0.03, 320.0, False),
    "entertainment": (0.06, 32.0, False),
    "utilities": (0.04, 95.0, True),
    "telecom": (0.04, 48.0, True),
    "insurance": (0.02, 125.0, True),
}
CATEGORIES = ("none", *_CATEGORY_TABLE)
"""Merchant categories (``none`` for rows without a merchant)."""
CATEGORY_MEDIAN = np.array([0.0] + [v[1] for v in _CATEGORY_TABLE.values()])
IS_BILLER = np.array([False] + [v[2] for v in _CATEGORY_TABLE.values()])
TYPE_AMOUNTS = {
    "TRANSFER": (140.0, 1.15),
    "CASH_IN": (260.0, 0.9),
    "CASH_OUT": (110.0, 0.75),
    "DEBIT": (380.0, 1.0),
}
"""Median amount in USD for a customer of spending level 1, and log-sd, by transaction type."""
CNP_CATEGORIES = np.array([CATEGORIES.index(c) for c in ("online", "electronics", "travel")])

# Hour-of-day profiles (relative weights, hour 0..23): a daytime, an evening and a night person.
_HOURS = np.array(
    [
        [1, 1, 1, 1, 1, 2, 4, 8, 10, 11, 12, 13, 14, 13, 12, 11, 11, 10, 8, 6, 4, 3, 2, 1],
        [1, 1, 1, 1, 1, 1, 2, 3, 5, 6, 8, 10, 11, 10, 9, 9, 10, 12, 14, 15, 14, 11, 7, 3],
        [6, 5, 4, 3, 2, 2, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8, 9, 10, 11, 11, 10, 9, 8],
    ],
    dtype=np.float64,
)
HOUR_CDF = np.cumsum(_HOURS / _HOURS.sum(axis=1, keepdims=True), axis=1)
HOUR_CDF[:, -1] = 1.0


@dataclass
class World:
    """Everything the daily loop reads: accounts (columns), customers' habits, ties.

    Accounts are indexed ``0 .. n_accounts-1``: customers first (``0 .. n_customers-1``), then
    merchants, then the external counterparties (cash agents, employers, outside accounts).
    """

    account_id: np.ndarray  # int64, random, unique
    kind: np.ndarray  # int8, KINDS
    bank: np.ndarray  # int16, index into bank_names (-1: outside any modelled bank)
    currency: np.ndarray  # int8, index into currencies
    balance: np.ndarray  # float64, in the account's currency (external: 0, unused)
    category: np.ndarray  # int8, CATEGORIES (merchants), 0 otherwise
    zone: np.ndarray  # int16, index into zones
    bank_names: list[str]
    bank_currency: np.ndarray  # int8 per bank
    bank_home: np.ndarray  # bool per bank: a home bank (monitors its accounts)
    currencies: list[str]
    usd: np.ndarray  # float64 per currency: value of one unit in USD
    zones: list[str]
    # customers (rows 0 .. n_customers-1)
    person_id: np.ndarray
    household: np.ndarray
    age: np.ndarray
    income: np.ndarray  # per year, in US dollars (as the population gives it)
    employed: np.ndarray
    activity: np.ndarray  # multiplier of every rate (mean 1)
    spend: np.ndarray  # multiplier of amounts, in the customer's currency
    hour_profile: np.ndarray  # int8, row of HOUR_CDF
    payday: np.ndarray  # int8, day of month 1..28
    salary: np.ndarray  # net monthly income (pay, pension), home currency (the payer's)
    employer: np.ndarray  # account index of the payer of the income (external)
    outside: np.ndarray  # account index of the customer's own account elsewhere
    favourites: np.ndarray  # (n_customers, k) merchant account indices
    favourite_cdf: np.ndarray  # (k,) cumulative preference over the slots
    social_indptr: np.ndarray  # CSR of ties between customers
    social_indices: np.ndarray
    bills: dict[str, np.ndarray]  # customer, biller, day (1..28), amount
    merchants: np.ndarray  # account indices of merchants
    merchants_by_zone: list[np.ndarray]
    cash_agents: np.ndarray
    n_customers: int

    @property
    def n_accounts(self) -> int:
        return int(self.account_id.shape[0])

    @property
    def tracked(self) -> np.ndarray:
        """Accounts whose balance the model holds (customers and merchants)."""
        return self.kind <= MERCHANT

    def social_graph(self) -> Any:
        """The ties between customers as a networkx graph (node = customer account index)."""
        import networkx as nx

        adj = sp.csr_array(
            (
                np.ones(self.social_indices.shape[0]),
                self.social_indices,
                self.social_indptr,
            ),
            shape=(self.n_customers, self.n_customers),
        )
        return nx.from_scipy_sparse_array(adj)

    def merchant_graph(self) -> Any:
        """Customers and their favourite merchants as a bipartite networkx graph."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n_customers), bipartite=0)
        graph.add_nodes_from(self.merchants.tolist(), bipartite=1)
        k = self.favourites.shape[1]
        rows = np.repeat(np.arange(self.n_customers), k)
        graph.add_edges_from(zip(rows.tolist(), self.favourites.ravel().tolist(), strict=True))
        return graph

    def accounts_frame(self) -> pl.DataFrame:
        """One row per account: id, kind, bank, currency, category, zone and balance."""
        return pl.DataFrame(
            {
                "account_id": self.account_id,
                "kind": pl.Series(list(KINDS), dtype=pl.Enum(KINDS)).gather(self.kind),
                "bank": self.bank,
                "currency": pl.Series(self.currencies, dtype=pl.Enum(self.currencies)).gather(
                    self.currency
                ),
                "category": pl.Series(CATEGORIES, dtype=pl.Enum(CATEGORIES)).gather(self.category),
                "zone": self.zone,
                "balance": self.balance,
            }
        )


def _daily_net_outflow(behaviour: Any) -> float:
    """Expected outflow less cash paid in, a day, in USD, at spending level 1 and activity 1."""
    shops = ~IS_BILLER[1:]
    share = np.array([v[0] for v in _CATEGORY_TABLE.values()])
    shop_median = (share[shops] * CATEGORY_MEDIAN[1:][shops]).sum() / share[shops].sum()
    bill_median = (share[~shops] * CATEGORY_MEDIAN[1:][~shops]).sum() / share[~shops].sum()
    sigma = behaviour.amount_sigma
    out = behaviour.payments * shop_median * np.exp(sigma**2 / 2)
    for rate, key in (
        (behaviour.transfers, "TRANSFER"),
        (behaviour.cash_out, "CASH_OUT"),
        (behaviour.debits, "DEBIT"),
    ):
        median, sd = TYPE_AMOUNTS[key]
        out += rate * median * np.exp(sd**2 / 2)
    out += behaviour.bills / 30 * bill_median * np.exp(0.4**2 / 2)
    median, sd = TYPE_AMOUNTS["CASH_IN"]
    cash_in = behaviour.cash_in * median * np.exp(sd**2 / 2)
    # Where cash paid in covers most spending (mobile money), scale on the gross flow instead.
    return float(max(out - cash_in, 0.25 * out, 1.0))


def _adults(persons: pl.DataFrame, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """`n` adults drawn household by household (with replacement, renumbered households)."""
    need = {"person_id", "household_id", "zone", "age"}
    missing = sorted(need - set(persons.columns))
    if missing:
        msg = (
            "the population for the fraud scenario lacks column(s) "
            + ", ".join(f"`{c}`" for c in missing)
            + ". Hint: pass persons with person_id, household_id, zone and age (income and "
            "employment are used when present)."
        )
        raise ConfigError(msg)
    adults = persons.filter(pl.col("age") >= 18)
    if adults.height == 0:
        msg = "the population has no adults (age >= 18) to be account holders."
        raise ConfigError(msg)
    households = adults["household_id"].unique().sort().to_numpy()
    by_household = adults.sort("household_id", maintain_order=True)
    starts = np.searchsorted(by_household["household_id"].to_numpy(), households)
    sizes = np.diff(np.append(starts, by_household.height))
    # Enough households for n adults (with replacement beyond the population's size).
    draws = max(int(n / sizes.mean() * 1.2) + 8, 8)
    picked = rng.integers(0, households.shape[0], size=draws)
    while sizes[picked].sum() < n:
        picked = np.concatenate([picked, rng.integers(0, households.shape[0], size=draws)])
    rows = np.concatenate([np.arange(starts[h], starts[h] + sizes[h]) for h in picked.tolist()])
    new_household = np.repeat(np.arange(picked.shape[0]), sizes[picked])
    return (
        by_household[rows[:n]]
        .with_columns(pl.Series("household_id", new_household[:n]))
        .with_columns(pl.Series("person_id", np.arange(n, dtype=np.int64)))
    )


def _social_ties(
    household: np.ndarray, zone: np.ndarray, rng: np.random.Generator, mean_ties: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of undirected ties: household members, plus acquaintances (80 %
    in the same zone)."""
    n = household.shape[0]
    # household members: consecutive rows share a household
    starts = np.flatnonzero(np.r_[True, household[1:] != household[:-1]])
    sizes = np.diff(np.r_[starts, n])
    src, dst = [], []
    for size in np.unique(sizes).tolist():
        if size < 2:
            continue
        first = starts[sizes == size]
        a, b = np.triu_indices(size, k=1)
        src.append((first[:, None] + a).ravel())
        dst.append((first[:, None] + b).ravel())
    # acquaintances
    m = rng.poisson(mean_ties / 2, size=n)
    a = np.repeat(np.arange(n), m)
    order = np.argsort(zone, kind="stable")
    zstart = np.searchsorted(zone[order], np.arange(zone.max() + 1))
    zend = np.searchsorted(zone[order], np.arange(zone.max() + 1), side="right")
    same = rng.random(a.shape[0]) < 0.8
    za = zone[a]
    pos = zstart[za] + (rng.random(a.shape[0]) * (zend[za] - zstart[za])).astype(np.int64)
    b = np.where(same, order[np.minimum(pos, n - 1)], rng.integers(0, n, size=a.shape[0]))
    keep = a != b
    src.append(a[keep])
    dst.append(b[keep])
    s = np.concatenate(src)
    d = np.concatenate(dst)
    adj = sp.coo_array(
        (np.ones(2 * s.shape[0], dtype=np.int8), (np.r_[s, d], np.r_[d, s])), shape=(n, n)
    ).tocsr()
    adj.sum_duplicates()
    return adj.indptr.astype(np.int64), adj.indices.astype(np.int64)


def build_world(
    params: FraudParams,
    persons: pl.DataFrame,
    rng: np.random.Generator,
    *,
    shard: int | None = None,
) -> World:
    """The accounts, habits and ties of `params.customers` adults drawn from `persons`."""
    n_c = params.customers
    people = _adults(persons, n_c, rng)
    zones_all = people["zone"].cast(pl.String)
    zones = sorted(zones_all.unique().to_list())
    zone = zones_all.cast(pl.Enum(zones)).to_physical().to_numpy().astype(np.int16)
    age = people["age"].to_numpy().astype(np.int16)
    if "income" in people.columns:
        income = people["income"].to_numpy().astype(np.float64)
    else:
        income = np.full(n_c, 25_000.0)
    if "employment" in people.columns:
        employed = (people["employment"].cast(pl.String) == "employed").to_numpy()
    else:
        employed = (age >= 18) & (age < 66)

    # banks and currencies
    home = params.currency
    others = [c for c in CURRENCIES if c != home]
    currencies = [home, *others]
    usd = np.array([CURRENCIES[c] for c in currencies])
    n_home, n_foreign = params.banks, params.foreign_banks
    bank_names = [f"B{i + 1:03d}" for i in range(n_home)] + [
        f"F{i + 1:03d}" for i in range(n_foreign)
    ]
    bank_currency = np.concatenate(
        [
            np.zeros(n_home, dtype=np.int8),
            (1 + np.arange(n_foreign) % len(others)).astype(np.int8),
        ]
    )
    bank_home = np.r_[np.ones(n_home, bool), np.zeros(n_foreign, bool)]
    share = 1.0 / np.arange(1, n_home + 1) ** 0.8  # a few large banks, a tail of small ones
    share = share / share.sum()
    cust_bank = rng.choice(n_home, size=n_c, p=share).astype(np.int16)
    if n_foreign:
        abroad = rng.random(n_c) < 0.03  # expatriates and cross-border customers
        cust_bank[abroad] = n_home + rng.integers(0, n_foreign, size=int(abroad.sum()))
    cust_currency = bank_currency[cust_bank]
    fx = usd[0] / usd[cust_currency]  # one unit of the home currency in the customer's

    # habits
    activity = rng.gamma(2.0, 0.5, size=n_c) * np.where(age >= 75, 0.6, 1.0)
    # Net monthly income (pay, or pension and benefits), and a spending level that spends about
    # 95 % of it and of the cash paid in, so balances neither run dry nor pile up.
    salary = np.round(np.maximum(income, 9_000.0) / 12 * 0.72 / usd[0], 2)  # home currency
    per_day = _daily_net_outflow(params.behaviour)  # at spending level 1, in USD
    spend = (0.95 * salary * usd[0] / 30 / per_day * rng.lognormal(-0.03, 0.25, size=n_c)) / (
        usd[cust_currency] * activity
    )  # who pays more often pays less each time
    hour_profile = np.where(
        age < 30,
        rng.choice(3, size=n_c, p=[0.3, 0.5, 0.2]),
        rng.choice(3, size=n_c, p=[0.55, 0.4, 0.05]),
    ).astype(np.int8)
    payday = rng.choice(
        np.array([1, 15, 25, 28], dtype=np.int8), size=n_c, p=[0.25, 0.15, 0.4, 0.2]
    )
    balance = np.round(salary * fx * (0.5 + rng.lognormal(-0.5, 0.8, size=n_c)), 2)

    # merchants
    n_m = max(int(round(n_c * params.merchants_per_1000 / 1000)), len(_CATEGORY_TABLE))
    cat_share = np.array([v[0] for v in _CATEGORY_TABLE.values()])
    m_category = np.concatenate(
        [
            np.arange(1, len(CATEGORIES)),  # every category at least once
            1 + rng.choice(len(cat_share), size=n_m - len(cat_share), p=cat_share),
        ]
    ).astype(np.int8)
    m_zone = rng.integers(0, len(zones), size=n_m).astype(np.int16)
    m_bank = rng.choice(n_home, size=n_m, p=share).astype(np.int16)
    m_balance = np.round(rng.lognormal(8.5, 1.0, size=n_m) / usd[0], 2)

    # external counterparties
    n_agents = max(len(zones) * 2, n_c // 500)
    n_employers = max(n_c // 40, 10)
    a_zone = (np.arange(n_agents) % len(zones)).astype(np.int16)

    kinds = np.concatenate(
        [
            np.full(n_c, CUSTOMER),
            np.full(n_m, MERCHANT),
            np.full(n_agents, CASH_AGENT),
            np.full(n_employers, EMPLOYER),
            np.full(n_c, OUTSIDE),
        ]
    ).astype(np.int8)
    n_acc = kinds.shape[0]
    base = 0 if shard is None else int(shard) * 10**10
    account_id = base + rng.choice(10**10, size=n_acc, replace=False).astype(np.int64)
    m0, a0 = n_c, n_c + n_m
    e0 = a0 + n_agents
    o0 = e0 + n_employers
    bank = np.concatenate(
        [cust_bank, m_bank, np.full(n_agents + n_employers + n_c, -1, dtype=np.int16)]
    )
    currency = np.concatenate(
        [
            cust_currency,
            np.zeros(n_m + n_agents + n_employers, dtype=np.int8),
            cust_currency,
        ]
    )
    category = np.concatenate(
        [np.zeros(n_c, np.int8), m_category, np.zeros(n_agents + n_employers + n_c, np.int8)]
    )
    zone_all = np.concatenate([zone, m_zone, a_zone, np.zeros(n_employers, np.int16), zone]).astype(
        np.int16
    )
    balances = np.concatenate([balance, m_balance, np.zeros(n_agents + n_employers + n_c)])

    merchants = np.arange(m0, a0)
    shoppable = merchants[~IS_BILLER[m_category]]
    billers = merchants[IS_BILLER[m_category]]
    merchants_by_zone = [shoppable[m_zone[shoppable - m0] == z] for z in range(len(zones))]
    k = params.behaviour.favourites
    local = rng.random((n_c, k)) < 0.6
    pick_any = shoppable[rng.integers(0, shoppable.shape[0], size=(n_c, k))]
    pick_local = pick_any.copy()
    for z in range(len(zones)):
        rows = np.flatnonzero(zone == z)
        pool = merchants_by_zone[z] if merchants_by_zone[z].size else shoppable
        pick_local[rows] = pool[rng.integers(0, pool.shape[0], size=(rows.shape[0], k))]
    favourites = np.where(local, pick_local, pick_any)
    weights = 1.0 / np.arange(1, k + 1) ** 1.1  # Zipf: a first favourite, then a tail
    favourite_cdf = np.cumsum(weights / weights.sum())
    favourite_cdf[-1] = 1.0

    indptr, indices = _social_ties(people["household_id"].to_numpy(), zone, rng)

    n_bills = np.minimum(rng.poisson(params.behaviour.bills, size=n_c), 8)
    bill_customer = np.repeat(np.arange(n_c), n_bills)
    bill_biller = billers[rng.integers(0, billers.shape[0], size=bill_customer.shape[0])]
    bill_amount = np.round(
        CATEGORY_MEDIAN[category[bill_biller]]
        * spend[bill_customer]
        * rng.lognormal(0.0, 0.4, size=bill_customer.shape[0]),
        2,
    )
    bills = {
        "customer": bill_customer,
        "biller": bill_biller,
        "day": rng.integers(1, 29, size=bill_customer.shape[0]).astype(np.int8),
        "amount": np.maximum(bill_amount, 1.0),
    }

    return World(
        account_id=account_id,
        kind=kinds,
        bank=bank,
        currency=currency,
        balance=balances,
        category=category,
        zone=zone_all,
        bank_names=bank_names,
        bank_currency=bank_currency,
        bank_home=bank_home,
        currencies=currencies,
        usd=usd,
        zones=zones,
        person_id=people["person_id"].to_numpy(),
        household=people["household_id"].to_numpy(),
        age=age,
        income=income,
        employed=employed,
        activity=activity,
        spend=spend,
        hour_profile=hour_profile,
        payday=payday,
        salary=salary,
        employer=e0 + rng.integers(0, n_employers, size=n_c),
        outside=o0 + np.arange(n_c),
        favourites=favourites,
        favourite_cdf=favourite_cdf,
        social_indptr=indptr,
        social_indices=indices,
        bills=bills,
        merchants=merchants,
        merchants_by_zone=merchants_by_zone,
        cash_agents=np.arange(a0, e0),
        n_customers=n_c,
    )
