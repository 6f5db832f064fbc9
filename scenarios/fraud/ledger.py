"""The ledger: a day's rows in time order, declines for insufficient funds, running balances.

Every row moves ``amount`` out of the origin (in its currency) and ``amount_received`` into the
destination (converted at fixed rates); accounts of customers and merchants hold balances,
external counterparties (cash agents, employers, outside accounts) do not, so money enters and
leaves the modelled banks only through them. The sum of balances plus the net external outflow is
therefore constant, currency by currency, every day (tests check it from the log).

Declines are decided without a sequential loop. An account's legitimate outgoing rows of the day
are kept while their running total stays within the account's budget: its balance at the start of
the day less what its scheduled illicit rows will need (the largest running net outflow of those
rows, in time order). Illicit rows are planned within what the accounts hold and are never
declined, so no balance goes below zero at any point and every scheme appears whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.fraud.rows import Rows
from scenarios.fraud.world import MERCHANT, World

__all__ = ["Settled", "illicit_need", "settle"]


def _group_cumsum(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sums of `values` within runs of equal `keys` (keys sorted)."""
    total = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    offset = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, keys.shape[0]]))
    return total - offset


def received(world: World, rows: Rows) -> np.ndarray:
    """What the destination receives, in its own currency (rounded to cents)."""
    rate = world.usd[world.currency[rows["orig"]]] / world.usd[world.currency[rows["dest"]]]
    return np.where(rate == 1.0, rows["amount"], np.round(rows["amount"] * rate, 2))


def illicit_need(world: World, rows: Rows) -> np.ndarray:
    """Per account, the most its illicit rows will draw beyond what they bring in (>= 0)."""
    need = np.zeros(world.n_accounts)
    if rows.n == 0:
        return need
    order = np.argsort(rows["t"], kind="stable")
    orig, dest = rows["orig"][order], rows["dest"][order]
    tracked = world.kind <= MERCHANT
    pos = np.arange(order.shape[0])
    acc = np.r_[orig, dest]
    delta = np.r_[rows["amount"][order], -received(world, rows)[order]]
    keep = tracked[acc]
    acc, delta, key = acc[keep], delta[keep], np.r_[2 * pos, 2 * pos + 1][keep]
    by = np.argsort(acc * (2 * pos.shape[0]) + key, kind="stable")
    acc, delta = acc[by], delta[by]
    running = _group_cumsum(acc, delta)
    np.maximum.at(need, acc, running)
    return need


@dataclass
class Settled:
    """The rows that went through, in time order, with balances before and after."""

    rows: Rows
    amount_received: np.ndarray
    orig_before: np.ndarray  # NaN where the origin is external
    orig_after: np.ndarray
    dest_before: np.ndarray
    dest_after: np.ndarray
    declined: int


def settle(world: World, rows: Rows, need: np.ndarray) -> Settled:
    """Order `rows` by time, decline what balances cannot pay, update ``world.balance``."""
    order = np.argsort(rows["t"], kind="stable")
    rows = rows.take(order)
    balance = world.balance
    tracked = world.kind <= MERCHANT
    orig, dest, amount = rows["orig"], rows["dest"], rows["amount"]
    illicit = rows["fraud"] | rows["laundering"]

    # declines: legitimate outgoing rows beyond the day's budget
    spends = np.flatnonzero(tracked[orig] & ~illicit)
    by = np.argsort(orig[spends], kind="stable")
    spends = spends[by]
    running = _group_cumsum(orig[spends], amount[spends])
    budget = np.maximum(balance - need, 0.0)
    over = spends[running > budget[orig[spends]] + 1e-9]
    declined = over.shape[0]
    if declined:
        keep = np.ones(rows.n, dtype=bool)
        keep[over] = False
        rows = rows.take(np.flatnonzero(keep))
        orig, dest, amount = rows["orig"], rows["dest"], rows["amount"]
    got = received(world, rows)

    # balances: every movement, account by account in time order
    n = rows.n
    pos = np.arange(n)
    acc = np.r_[orig, dest]
    delta = np.r_[-amount, got]
    key = np.r_[2 * pos, 2 * pos + 1]
    keep = tracked[acc]
    acc_k, delta_k, key_k = acc[keep], delta[keep], key[keep]
    by = np.argsort(acc_k * (2 * n) + key_k)  # account, then time: keys are unique
    acc_s, delta_s = acc_k[by], delta_k[by]
    after_s = np.round(balance[acc_s] + _group_cumsum(acc_s, delta_s), 2)
    if after_s.size and after_s.min() < -0.005:
        bad = int(np.argmin(after_s))
        msg = (
            f"internal error: account {int(acc_s[bad])} would go to {after_s[bad]:.2f}; "
            "illicit rows were planned beyond what the account holds."
        )
        raise RuntimeError(msg)
    after = np.full(2 * n, np.nan)
    before = np.full(2 * n, np.nan)
    slot = np.flatnonzero(keep)[by]
    after[slot] = after_s
    before[slot] = np.round(after_s - delta_s, 2)
    last = np.flatnonzero(np.r_[acc_s[1:] != acc_s[:-1], True]) if acc_s.size else acc_s
    balance[acc_s[last]] = after_s[last]
    return Settled(
        rows=rows,
        amount_received=got,
        orig_before=before[:n],
        orig_after=after[:n],
        dest_before=before[n:],
        dest_after=after[n:],
        declined=declined,
    )
