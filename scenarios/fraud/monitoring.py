"""What the banks see: a simple rule engine per bank, and the fraud victims report.

This is the observed layer, kept apart from the truth (``is_fraud``, ``is_laundering``), so that
alert-versus-truth studies are possible. Each home bank monitors its own accounts only: outgoing
rows for large amounts and for velocity (many transfers sent in a day), incoming transfers for
fan-in (many senders in a day). Banks abroad do not monitor (they are invisible to the city's
banks), so laundering routed through them raises fewer alerts. Reports are label noise: victims
report most fraud but not all, and a few legitimate rows are reported as fraud.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.fraud.params import Monitoring
from scenarios.fraud.rows import TYPES, Rows, code
from scenarios.fraud.world import World

__all__ = ["ALERT_RULES", "Alerts", "monitor"]

ALERT_RULES = ("none", "large_amount", "velocity", "fan_in")
_T = {name: code(TYPES, name) for name in TYPES}


@dataclass
class Alerts:
    flagged: np.ndarray  # bool
    rule: np.ndarray  # int8, ALERT_RULES
    bank: np.ndarray  # int16, the bank that raised it (-1: none)


def _count_per(keys: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(keys[mask], minlength=size)


def monitor(world: World, rows: Rows, amount_usd: np.ndarray, rules: Monitoring) -> Alerts:
    """Alerts the banks' rules raise on one day's settled rows."""
    n = rows.n
    kind, orig, dest = rows["type"], rows["orig"], rows["dest"]
    home = np.r_[world.bank_home, False]  # index -1 (external) -> not monitored
    orig_bank, dest_bank = world.bank[orig], world.bank[dest]
    orig_watch, dest_watch = home[orig_bank], home[dest_bank]
    rule = np.zeros(n, dtype=np.int8)
    bank = np.full(n, -1, dtype=np.int16)

    outgoing = np.isin(kind, [_T["TRANSFER"], _T["CASH_OUT"], _T["DEBIT"]])
    large = outgoing & orig_watch & (amount_usd >= rules.large_amount)
    deposit = (kind == _T["CASH_IN"]) & dest_watch & (amount_usd >= rules.large_amount)

    sends = np.isin(kind, [_T["TRANSFER"], _T["DEBIT"]]) & orig_watch
    per_sender = _count_per(orig, sends, world.n_accounts)
    velocity = sends & (per_sender[orig] >= rules.velocity)

    incoming = (kind == _T["TRANSFER"]) & dest_watch
    fan_in = np.zeros(n, dtype=bool)
    if incoming.any():
        pairs = np.unique(np.c_[dest[incoming], orig[incoming]], axis=0)
        senders = np.bincount(pairs[:, 0], minlength=world.n_accounts)
        fan_in = incoming & (senders[dest] >= rules.fan_in)

    for name, hit, who in (
        ("fan_in", fan_in, dest_bank),
        ("velocity", velocity, orig_bank),
        ("large_amount", deposit, dest_bank),
        ("large_amount", large, orig_bank),
    ):  # later rules win: the most specific reason is kept
        rule[hit] = code(ALERT_RULES, name)
        bank[hit] = who[hit]
    return Alerts(flagged=rule > 0, rule=rule, bank=bank)


def reported(
    rows: Rows, rng: np.random.Generator, *, report_rate: float, false_reports: float
) -> np.ndarray:
    """Which rows are reported as fraud (by victims; some fraud goes unreported)."""
    u = rng.random(rows.n)
    return np.where(rows["fraud"], u < report_rate, u < false_reports)
