"""Fraud and laundering schemes: each one planned whole, as labelled rows over the coming days.

A scheme is a small set of rows that share a case id: an account takeover (victim -> mules ->
cash-out, as in PaySim, with mule chains), a card-not-present burst at online merchants, a
bust-out (a bad cheque deposited, then spent and withdrawn fast), or one of AMLworld's laundering
patterns with its three stages: placement (structured cash and cheque deposits into the
launderers' accounts), layering (the pattern's transfers, each hop keeping most of what came in),
integration (purchases, withdrawals and transfers out). ``unnamed`` laundering follows no pattern:
a few ordinary-looking transfers and purchases.

The accounts involved are ordinary customers (a mule or launderer keeps living its ordinary
life), start times follow the customers' own hours, and the channel of a transfer follows the
same rule as for everyone (by amount), so nothing but the behaviour gives a scheme away.

Planning is a Python loop over schemes (a few per thousand rows), the rest is numpy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from scenarios.fraud.params import LAUNDERING_TYPOLOGIES, FraudParams
from scenarios.fraud.rows import CHANNELS, ROLES, STAGES, TYPES, TYPOLOGIES, Rows, code
from scenarios.fraud.world import CATEGORY_MEDIAN, CNP_CATEGORIES, HOUR_CDF, World

__all__ = ["SchemePlanner"]

DAY = 86_400
_T = {name: code(TYPES, name) for name in TYPES}
_C = {name: code(CHANNELS, name) for name in CHANNELS}
_R = {name: code(ROLES, name) for name in ROLES}
_S = {name: code(STAGES, name) for name in STAGES}
_MEAN_HOURS = HOUR_CDF.mean(axis=0)


@dataclass
class _Scheme:
    """Rows of one scheme under construction (lists, turned into `Rows` at the end)."""

    case: int
    typology: int
    fraud: bool
    cols: dict[str, list] = field(default_factory=lambda: defaultdict(list))

    def add(
        self,
        t: float,
        kind: str,
        orig: int,
        dest: int,
        amount: float,
        channel: int,
        stage: str,
        orig_role: str,
        dest_role: str,
    ) -> None:
        c = self.cols
        c["t"].append(int(t))
        c["type"].append(_T[kind])
        c["orig"].append(int(orig))
        c["dest"].append(int(dest))
        c["amount"].append(round(float(amount), 2))
        c["channel"].append(channel)
        c["stage"].append(_S[stage])
        c["orig_role"].append(_R[orig_role])
        c["dest_role"].append(_R[dest_role])

    def rows(self) -> Rows:
        n = len(self.cols["t"])
        return Rows.make(
            n,
            **{k: np.asarray(v) for k, v in self.cols.items()},
            fraud=self.fraud,
            laundering=not self.fraud,
            typology=self.typology,
            case=self.case,
        )


class SchemePlanner:
    """Plans schemes until the illicit rows reach their target shares of all rows.

    Parameters
    ----------
    world : World
    params : FraudParams
    rng : numpy Generator
    horizon : int
        End of the run in seconds: a scheme that would run past it is compressed into the time
        left, so every case is whole in the log.
    case_base : int
        First case id (shards use disjoint ranges).
    """

    def __init__(
        self,
        world: World,
        params: FraudParams,
        rng: np.random.Generator,
        *,
        horizon: int,
        case_base: int = 0,
    ) -> None:
        self.world = world
        self.params = params
        self.rng = rng
        self.horizon = horizon
        self.next_case = case_base
        n = world.n_customers
        pool = int(min(max(40, 0.005 * n), n // 2))
        self.mules = rng.choice(n, size=pool, replace=False)
        self.launderers = rng.choice(n, size=pool, replace=False)
        f_mix = np.asarray(params.fraud.mix, dtype=float)
        self.fraud_p = f_mix / f_mix.sum() if f_mix.sum() > 0 else None
        l_mix = np.asarray(params.laundering.mix, dtype=float)
        if l_mix.sum() > 0:
            l_mix = l_mix / l_mix.sum()
            equal = (l_mix > 0) / (l_mix > 0).sum()
            w = params.laundering.oversample
            self.laundering_p = (1 - w) * l_mix + w * equal
        else:
            self.laundering_p = None
        self.fraud_rows = 0
        self.laundering_rows = 0
        self.legit_rows = 0

    # ------------------------------------------------------------------------ the controller

    def plan(self, day: int, legit_rows: int, balance: np.ndarray) -> list[Rows]:
        """Schemes starting on `day`, enough to keep both illicit shares at their targets."""
        self.legit_rows += legit_rows
        rf, rl = self.params.fraud.rate, self.params.laundering.rate
        total = self.legit_rows / max(1.0 - rf - rl, 1e-9)
        out: list[Rows] = []
        used: set[int] = set()
        while self.fraud_p is not None and self.fraud_rows < rf * total:
            rows = self._fraud(day, balance, used)
            if rows is None:
                break
            self.fraud_rows += rows.n
            out.append(rows)
        while self.laundering_p is not None and self.laundering_rows < rl * total:
            rows = self._laundering(day)
            self.laundering_rows += rows.n
            out.append(rows)
        return out

    def declined(self, rows: int) -> None:
        """Legitimate rows the ledger declined: the shares are of the rows that went through."""
        self.legit_rows -= rows

    # ------------------------------------------------------------------------ helpers

    def _start(self, day: int) -> float:
        hour = int(np.searchsorted(_MEAN_HOURS, self.rng.random()))
        return day * DAY + hour * 3600 + self.rng.integers(0, 3600)

    def _delay(self, mean_hours: float = 3.0) -> float:
        return 300 + self.rng.exponential(mean_hours * 3600)

    def _transfer_channel(self, amount: float, orig: int) -> int:
        usd = amount * self.world.usd[self.world.currency[orig]]
        if usd > 5000:
            return _C["wire"]
        return _C["mobile"] if self.rng.random() < 0.6 else _C["ach"]

    def _agent(self, account: int) -> int:
        agents = self.world.cash_agents
        return int(agents[self.world.zone[account] % agents.shape[0]])

    def _merchant(self, categories: np.ndarray | None = None) -> int:
        w = self.world
        if categories is None:
            return int(self.rng.choice(w.merchants))
        pool = w.merchants[np.isin(w.category[w.merchants], categories)]
        return int(self.rng.choice(pool))

    def _finish(self, scheme: _Scheme) -> Rows:
        rows = scheme.rows()
        t = rows["t"]
        start, end = t.min(), t.max()
        if end >= self.horizon:  # compress into the time left, keeping the order
            span = max(self.horizon - 1 - start, 1)
            t[:] = start + ((t - start) * (span / max(end - start, 1))).astype(np.int64)
        return rows

    def _case(self, typology: str, *, fraud: bool) -> _Scheme:
        self.next_case += 1
        return _Scheme(self.next_case, code(TYPOLOGIES, typology), fraud)

    def _pick(self, pool: np.ndarray, k: int, exclude: set[int] = frozenset()) -> list[int]:
        choices = [int(a) for a in self.rng.permutation(pool)[: k + len(exclude)]]
        return [a for a in choices if a not in exclude][:k]

    # ------------------------------------------------------------------------ fraud

    def _fraud(self, day: int, balance: np.ndarray, used: set[int]) -> Rows | None:
        w = self.world
        typology = ("account_takeover", "card_not_present", "bust_out")[
            int(self.rng.choice(3, p=self.fraud_p))
        ]
        if typology == "bust_out":
            return self._bust_out(day)
        for _ in range(20):
            victim = int(self.rng.integers(0, w.n_customers))
            floor = 200.0 / w.usd[w.currency[victim]]  # a victim worth the trouble
            if victim not in used and balance[victim] >= floor:
                break
        else:
            return None
        used.add(victim)
        if typology == "account_takeover":
            return self._takeover(day, victim, balance[victim])
        return self._card_not_present(day, victim, balance[victim])

    def _takeover(self, day: int, victim: int, available: float) -> Rows:
        low, high = self.params.fraud.mule_chain
        length = int(self.rng.integers(low, high + 1))
        mules = self._pick(self.mules, length, {victim})
        s = self._case("account_takeover", fraud=True)
        t = self._start(day)
        share = 1.0 if self.rng.random() < 0.35 else self.rng.uniform(0.5, 0.98)
        amount = np.floor(available * share * 100) / 100
        prev, role = victim, "victim"
        for i, mule in enumerate(mules):
            stage = "placement" if i == 0 else "layering"
            s.add(
                t,
                "TRANSFER",
                prev,
                mule,
                amount,
                self._transfer_channel(amount, prev),
                stage,
                role,
                "mule",
            )
            t += self._delay(1.0)
            amount = (
                np.floor(
                    amount
                    * self.world.usd[self.world.currency[prev]]
                    / self.world.usd[self.world.currency[mule]]
                    * self.rng.uniform(0.9, 0.99)
                    * 100
                )
                / 100
            )
            prev, role = mule, "mule"
        s.add(
            t,
            "CASH_OUT",
            prev,
            self._agent(prev),
            amount,
            _C["cash"],
            "integration",
            "mule",
            "none",
        )
        return self._finish(s)

    def _card_not_present(self, day: int, victim: int, available: float) -> Rows:
        w = self.world
        s = self._case("card_not_present", fraud=True)
        k = int(self.rng.integers(3, 9))
        merchants = [self._merchant(CNP_CATEGORIES) for _ in range(k)]
        amounts = (
            CATEGORY_MEDIAN[w.category[merchants]]
            * w.spend[victim]
            * 1.3
            * self.rng.lognormal(0.0, 0.6, size=k)
        )
        cap = 0.6 * available
        if amounts.sum() > cap:
            amounts *= cap / amounts.sum()
        t = self._start(day)
        for m, a in zip(merchants, amounts, strict=True):
            s.add(
                t,
                "PAYMENT",
                victim,
                m,
                max(np.floor(a * 100) / 100, 0.01),
                _C["online"],
                "none",
                "victim",
                "none",
            )
            t += 60 + self.rng.exponential(900)
        return self._finish(s)

    def _bust_out(self, day: int) -> Rows:
        w = self.world
        s = self._case("bust_out", fraud=True)
        who = int(self.rng.integers(0, w.n_customers))
        cur = w.currency[who]
        monthly = max(w.income[who], 12_000.0) / 12 / w.usd[cur]  # income is in USD
        deposit = np.round(monthly * self.rng.uniform(2, 6), 2)
        t = self._start(day)
        home = deposit * w.usd[cur] / w.usd[0]  # the clearing agent pays in the home currency
        s.add(
            t,
            "CASH_IN",
            self._agent(who),
            who,
            np.round(home, 2),
            _C["cheque"],
            "placement",
            "none",
            "fraudster",
        )
        left = np.floor(deposit * self.rng.uniform(0.85, 0.97) * 100) / 100
        k = int(self.rng.integers(3, 9))
        parts = self.rng.dirichlet(np.ones(k)) * left
        for a in parts:
            t += self._delay(4.0)
            a = max(np.floor(a * 100) / 100, 0.01)
            r = self.rng.random()
            if r < 0.4:
                s.add(
                    t,
                    "CASH_OUT",
                    who,
                    self._agent(who),
                    a,
                    _C["cash"],
                    "integration",
                    "fraudster",
                    "none",
                )
            elif r < 0.8:
                m = self._merchant(CNP_CATEGORIES)
                s.add(t, "PAYMENT", who, m, a, _C["card"], "integration", "fraudster", "none")
            else:
                s.add(
                    t,
                    "DEBIT",
                    who,
                    int(w.outside[who]),
                    a,
                    _C["wire"],
                    "integration",
                    "fraudster",
                    "none",
                )
        return self._finish(s)

    # ------------------------------------------------------------------------ laundering

    def _edges(self, typology: str) -> tuple[list[tuple[int, int, int]], int]:
        """(source slot, destination slot, level) of the layering hops, and the slot count.

        Slots are placeholders for accounts, mapped to distinct launderers and mules later.
        """
        lo, hi = self.params.laundering.degree
        k = int(self.rng.integers(lo, hi + 1))
        if typology == "fan_out":
            return [(0, 1 + i, 0) for i in range(k)], k + 1
        if typology == "fan_in":
            return [(1 + i, 0, 0) for i in range(k)], k + 1
        if typology == "cycle":
            return [(i, (i + 1) % k, i) for i in range(k)], k
        if typology == "scatter_gather":
            return [(0, 1 + i, 0) for i in range(k)] + [(1 + i, k + 1, 1) for i in range(k)], k + 2
        if typology == "gather_scatter":
            m = int(self.rng.integers(lo, hi + 1))
            return (
                [(1 + i, 0, 0) for i in range(k)] + [(0, k + 1 + j, 1) for j in range(m)],
                k + m + 1,
            )
        if typology == "bipartite":
            a = max(2, k // 2)
            b = max(2, k - a + 1)
            edges = set()
            for j in range(b):  # every right-hand account receives
                edges.add((int(self.rng.integers(0, a)), a + j, 0))
            for i in range(a):  # every left-hand account sends
                edges.add((i, a + int(self.rng.integers(0, b)), 0))
            return sorted(edges), a + b
        if typology == "stack":
            a = max(2, k // 3)
            sizes = [a, a, a]
            edges = []
            for layer in range(2):
                for i in range(sizes[layer]):
                    for j in range(sizes[layer + 1]):
                        if self.rng.random() < 0.7 or i == j:
                            edges.append((layer * a + i, (layer + 1) * a + j, layer))
            return edges, 3 * a
        if typology == "random":
            group = max(3, k // 2 + 1)
            path = [0]
            for _ in range(k):
                nxt = int(self.rng.integers(0, group - 1))
                path.append(nxt if nxt < path[-1] else nxt + 1)  # never to itself
            return [(path[i], path[i + 1], i) for i in range(k)], group
        msg = f"unknown laundering typology {typology!r}"
        raise ValueError(msg)

    def _laundering(self, day: int) -> Rows:
        w = self.world
        names = LAUNDERING_TYPOLOGIES
        typology = names[int(self.rng.choice(len(names), p=self.laundering_p))]
        s = self._case(typology, fraud=False)
        if typology == "unnamed":
            edges, n_slots = [], 1
        else:
            edges, n_slots = self._edges(typology)
        if edges:  # accounts that only send (a cycle's or a walk's first account otherwise)
            senders = ({e[0] for e in edges} - {e[1] for e in edges}) or {edges[0][0]}
        else:
            senders = {0}
        accounts = self._pick(np.concatenate([self.launderers, self.mules]), n_slots)
        while len(accounts) < n_slots:  # tiny worlds: fill from anyone
            extra = int(self.rng.integers(0, w.n_customers))
            if extra not in accounts:
                accounts.append(extra)
        launderers = set(self.launderers.tolist())

        def role(slot: int) -> str:
            return "launderer" if accounts[slot] in launderers else "mule"

        span = self.params.laundering.days * DAY
        t0 = self._start(day)
        cap = self.params.laundering.placement_cap / w.usd[0]  # USD -> home currency
        available: dict[int, float] = defaultdict(float)
        # placement: structured deposits into each sender, in the home currency of the agent
        for slot in sorted(senders):
            acc = accounts[slot]
            total_usd = self.rng.lognormal(np.log(8_000), 0.8)
            home_total = total_usd / w.usd[0]
            t = t0
            while home_total > 1:
                part = min(home_total, cap * self.rng.uniform(0.2, 0.99))
                part = np.floor(part * 100) / 100
                channel = _C["cash"] if self.rng.random() < 0.8 else _C["cheque"]
                s.add(
                    t,
                    "CASH_IN",
                    self._agent(acc),
                    acc,
                    part,
                    channel,
                    "placement",
                    "none",
                    role(slot),
                )
                available[slot] += part * w.usd[0] / w.usd[w.currency[acc]]
                home_total -= part
                t += self._delay(6.0)
            t0 = max(t0, t)
        # layering: level by level, each sender forwards most of what it holds
        levels = sorted({e[2] for e in edges})
        t = t0 + self._delay(6.0)
        step = span / max(len(levels) + 2, 3)
        for level in levels:
            out = defaultdict(list)
            for src, dst, lv in edges:
                if lv == level:
                    out[src].append(dst)
            for src, dsts in out.items():
                acc = accounts[src]
                budget = available[src] * self.rng.uniform(0.9, 0.99)
                shares = self.rng.dirichlet(np.full(len(dsts), 4.0)) * budget
                for dst, total in zip(dsts, shares, strict=True):
                    to = accounts[dst]
                    # an edge's money moves in pieces of a few thousand (USD), like large
                    # legitimate transfers, not in one conspicuous sum
                    usd = total * w.usd[w.currency[acc]]
                    pieces = max(1, int(np.ceil(usd / self.rng.uniform(2_000, 4_500))))
                    when = np.sort(t + self.rng.uniform(0, step / 2, size=pieces))
                    for at, amount in zip(
                        when, self.rng.dirichlet(np.full(pieces, 5.0)) * total, strict=True
                    ):
                        amount = np.floor(amount * 100) / 100
                        if amount < 0.01:
                            continue
                        s.add(
                            at,
                            "TRANSFER",
                            acc,
                            to,
                            amount,
                            self._transfer_channel(amount, acc),
                            "layering",
                            role(src),
                            role(dst),
                        )
                        available[src] -= amount
                        available[dst] += amount * w.usd[w.currency[acc]] / w.usd[w.currency[to]]
            t += step
        # integration: whoever holds money spends, withdraws or sends it out
        for slot, held in sorted(available.items()):
            if held < 1.0:
                continue
            acc = accounts[slot]
            k = int(self.rng.integers(1, 5))
            parts = self.rng.dirichlet(np.ones(k)) * held * self.rng.uniform(0.8, 0.95)
            for a in parts:
                a = np.floor(a * 100) / 100
                if a < 0.01:
                    continue
                when = t + self.rng.uniform(0, step)
                r = self.rng.random()
                if typology == "unnamed" and r < 0.5:  # ordinary-looking transfers to anyone
                    to = int(self.rng.integers(0, w.n_customers))
                    if to == acc:
                        continue
                    s.add(
                        when,
                        "TRANSFER",
                        acc,
                        to,
                        a,
                        self._transfer_channel(a, acc),
                        "integration",
                        role(slot),
                        "none",
                    )
                elif r < 0.6:
                    s.add(
                        when,
                        "PAYMENT",
                        acc,
                        self._merchant(),
                        a,
                        _C["card"],
                        "integration",
                        role(slot),
                        "none",
                    )
                elif r < 0.8:
                    s.add(
                        when,
                        "CASH_OUT",
                        acc,
                        self._agent(acc),
                        a,
                        _C["cash"],
                        "integration",
                        role(slot),
                        "none",
                    )
                else:
                    s.add(
                        when,
                        "DEBIT",
                        acc,
                        int(w.outside[acc]),
                        a,
                        _C["wire"] if a * w.usd[w.currency[acc]] > 5000 else _C["ach"],
                        "integration",
                        role(slot),
                        "none",
                    )
        return self._finish(s)
