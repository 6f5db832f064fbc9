"""Legitimate activity of one day, for every customer at once (vectorised, no Python loop).

Each customer draws, per type, a Poisson number of transactions whose mean is the type's rate
times the customer's activity, times the day's factors (weekends, the days after payday). Hours
follow the customer's profile; counterparties follow habits (favourite merchants with a Zipf
preference, ties in the social graph, the customer's own cash agent and outside account); amounts
are log-normal around the customer's level for the type or merchant category, so they are
heavy-tailed and repeat customers look alike from day to day. Bills are paid on their day of the
month and salaries arrive on payday.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from scenarios.fraud.params import Behaviour
from scenarios.fraud.rows import CHANNELS, TYPES, Rows, code
from scenarios.fraud.world import CATEGORY_MEDIAN, HOUR_CDF, TYPE_AMOUNTS, World

__all__ = ["legitimate_rows"]

PAYMENT, TRANSFER, CASH_IN, CASH_OUT, DEBIT, BILL, SALARY = range(len(TYPES))
_C = {name: code(CHANNELS, name) for name in CHANNELS}
# Median amounts in USD of a customer of level 1, and the spread multiplier, per type.
_MEDIAN = {code(TYPES, k): v[0] for k, v in TYPE_AMOUNTS.items()}
_SPREAD = {code(TYPES, k): v[1] for k, v in TYPE_AMOUNTS.items()}
DAY = 86_400


def _hours(world: World, customers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds into the day, from each customer's hour profile."""
    u = rng.random(customers.shape[0])
    profile = world.hour_profile[customers]
    hour = np.empty(customers.shape[0], dtype=np.int64)
    for k in range(HOUR_CDF.shape[0]):
        rows = profile == k
        hour[rows] = np.searchsorted(HOUR_CDF[k], u[rows])
    return hour * 3600 + rng.integers(0, 3600, size=customers.shape[0])


def _days_after_payday(world: World, day_of_month: int) -> np.ndarray:
    return (day_of_month - world.payday.astype(np.int16)) % 28


def legitimate_rows(
    world: World,
    behaviour: Behaviour,
    *,
    day: int,
    today: date,
    rng: np.random.Generator,
) -> Rows:
    """Every legitimate transaction of day `day` (0-based; the calendar date is `today`)."""
    n = world.n_customers
    weekend = today.weekday() >= 5
    factor = world.activity * (behaviour.weekend if weekend else 1.0)
    boost = np.where(_days_after_payday(world, today.day) < 3, behaviour.payday_boost, 1.0)
    rates = np.array(
        [
            behaviour.payments,
            behaviour.transfers,
            behaviour.cash_in,
            behaviour.cash_out,
            behaviour.debits,
        ]
    )
    spending = np.array([True, True, False, True, True])
    lam = factor[:, None] * rates[None, :] * np.where(spending[None, :], boost[:, None], 1.0)
    counts = rng.poisson(lam)
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    customer = flat // rates.shape[0]
    kind = (flat % rates.shape[0]).astype(np.int8)
    m = customer.shape[0]
    seconds = _hours(world, customer, rng)
    dest = np.empty(m, dtype=np.int64)
    amount = np.empty(m, dtype=np.float64)
    channel = np.empty(m, dtype=np.int8)
    spend = world.spend[customer]
    sigma = behaviour.amount_sigma

    # PAYMENT: a favourite merchant (or, one time in ten, any merchant in the zone)
    sel = np.flatnonzero(kind == PAYMENT)
    slot = np.searchsorted(world.favourite_cdf, rng.random(sel.shape[0]))
    merchant = world.favourites[customer[sel], slot]
    explore = np.flatnonzero(rng.random(sel.shape[0]) < 0.1)
    if explore.size:
        zone = world.zone[customer[sel[explore]]]
        pools = world.merchants_by_zone
        sizes = np.array([p.shape[0] for p in pools])
        offsets = np.r_[0, np.cumsum(sizes)[:-1]]
        flat_pool = np.concatenate(pools)
        pick = (rng.random(explore.shape[0]) * np.maximum(sizes[zone], 1)).astype(np.int64)
        ok = sizes[zone] > 0
        merchant[explore[ok]] = flat_pool[offsets[zone[ok]] + pick[ok]]
    dest[sel] = merchant
    median = CATEGORY_MEDIAN[world.category[merchant]]
    amount[sel] = median * spend[sel] * rng.lognormal(0.0, sigma, size=sel.shape[0])
    channel[sel] = np.where(rng.random(sel.shape[0]) < 0.8, _C["card"], _C["online"])

    # TRANSFER: to a tie (household, acquaintances), else anyone; a few sweep the balance
    sel = np.flatnonzero(kind == TRANSFER)
    c = customer[sel]
    start, stop = world.social_indptr[c], world.social_indptr[c + 1]
    degree = stop - start
    has = degree > 0
    pick = start + (rng.random(sel.shape[0]) * np.maximum(degree, 1)).astype(np.int64)
    anyone = rng.integers(0, n, size=sel.shape[0])
    tie = has & (rng.random(sel.shape[0]) < 0.85)
    to = np.where(
        tie, world.social_indices[np.minimum(pick, world.social_indices.shape[0] - 1)], anyone
    )
    to = np.where(to == c, (c + 1) % n, to)
    dest[sel] = to
    value = _MEDIAN[TRANSFER] * spend[sel] * rng.lognormal(0.0, _SPREAD[TRANSFER], sel.shape[0])
    # A few transfers are large (rent, a car, family support): the tail laundering hides in.
    large = rng.random(sel.shape[0]) < 0.04
    scale = np.clip(world.salary[c[large]] * world.usd[0] / 1500.0, 0.3, 3.0)
    value[large] = (
        2500.0
        * scale
        * rng.lognormal(0.0, 0.8, int(large.sum()))
        / world.usd[world.currency[c[large]]]
    )
    sweep = rng.random(sel.shape[0]) < behaviour.sweep
    value[sweep] = world.balance[c[sweep]] * rng.uniform(0.9, 1.0, int(sweep.sum()))
    amount[sel] = value
    usd = value * world.usd[world.currency[c]]
    channel[sel] = np.where(
        usd > 5000, _C["wire"], np.where(rng.random(sel.shape[0]) < 0.6, _C["mobile"], _C["ach"])
    )

    # CASH_IN / CASH_OUT at a cash agent of the customer's zone
    for kind_code, median_key in ((CASH_IN, CASH_IN), (CASH_OUT, CASH_OUT)):
        sel = np.flatnonzero(kind == kind_code)
        zone = world.zone[customer[sel]]
        agents = world.cash_agents
        per_zone = max(agents.shape[0] // len(world.zones), 1)
        slot = rng.integers(0, per_zone, size=sel.shape[0])
        dest[sel] = agents[np.minimum(zone + slot * len(world.zones), agents.shape[0] - 1)]
        raw = (
            _MEDIAN[median_key] * spend[sel] * rng.lognormal(0.0, _SPREAD[median_key], sel.shape[0])
        )
        cur = world.currency[customer[sel]]
        if kind_code == CASH_IN:  # the agent pays: its currency is the home currency
            raw = raw * world.usd[cur] / world.usd[0]
            cur = np.zeros_like(cur)
        step = 20.0 / world.usd[cur]  # notes of 20 (USD-equivalent)
        amount[sel] = np.maximum(np.round(raw / step), 1) * step
        channel[sel] = _C["cash"]

    # DEBIT: to the customer's own account at an outside institution
    sel = np.flatnonzero(kind == DEBIT)
    dest[sel] = world.outside[customer[sel]]
    amount[sel] = _MEDIAN[DEBIT] * spend[sel] * rng.lognormal(0.0, _SPREAD[DEBIT], sel.shape[0])
    channel[sel] = np.where(rng.random(sel.shape[0]) < 0.85, _C["ach"], _C["wire"])

    orig = customer.astype(np.int64)
    # CASH_IN: the agent credits the customer (money enters); the customer is the destination.
    sel = np.flatnonzero(kind == CASH_IN)
    orig[sel], dest[sel] = dest[sel], customer[sel]

    parts = [
        Rows.make(
            m,
            t=day * DAY + seconds,
            type=kind,
            orig=orig,
            dest=dest,
            amount=np.maximum(np.round(amount, 2), 0.01),
            channel=channel,
        )
    ]

    # BILL: on the bill's day of the month, in the early morning batch
    bills = world.bills
    due = np.flatnonzero(bills["day"] == min(today.day, 28))
    if due.size:
        parts.append(
            Rows.make(
                due.shape[0],
                t=day * DAY + rng.integers(2 * 3600, 6 * 3600, size=due.shape[0]),
                type=BILL,
                orig=bills["customer"][due],
                dest=bills["biller"][due],
                amount=bills["amount"][due],
                channel=_C["ach"],
            )
        )
    # SALARY: pay (or pension, benefits) on payday, overnight
    if behaviour.salary:
        paid = np.flatnonzero(world.payday == min(today.day, 28))
        if paid.size:
            parts.append(
                Rows.make(
                    paid.shape[0],
                    t=day * DAY + rng.integers(0, 5 * 3600, size=paid.shape[0]),
                    type=SALARY,
                    orig=world.employer[paid],
                    dest=paid,
                    amount=world.salary[paid],
                    channel=_C["ach"],
                )
            )
    return Rows.concat(parts)
