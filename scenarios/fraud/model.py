"""`FraudModel`: a city's customers pay, transfer and withdraw; some are defrauded or launder.

The model reads like its description: parameters -> adults of a synthetic population become
account holders with habits (`world`) -> each day (one step), everyone's legitimate activity
(`legit`), the schemes that start that day (`schemes`), the ledger that orders the day, declines
what balances cannot pay and tracks every balance (`ledger`), the banks' alert rules and the
victims' reports (`monitoring`) -> the day's rows go to the event log and the KPIs.

Accounts are Mesa agents (`Account`, a column-backed view created on demand): ``balance`` is the
ledger's own array, so ``model.agent(Account, row).balance`` is always current.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.agents import ColumnAgent, column
from abm.events import EventLog, EventSchema, KpiCollector
from abm.model import SynthModel
from abm.params import params_to_dict
from abm.rng import Streams
from populations.demo import demo_persons
from populations.errors import ConfigError
from scenarios.fraud.ledger import illicit_need, settle
from scenarios.fraud.legit import DAY, legitimate_rows
from scenarios.fraud.monitoring import ALERT_RULES, monitor, reported
from scenarios.fraud.params import FraudParams
from scenarios.fraud.rows import CHANNELS, ROLES, STAGES, TYPES, TYPOLOGIES, Rows
from scenarios.fraud.schemes import SchemePlanner
from scenarios.fraud.world import CATEGORIES, KINDS, MERCHANT, build_world

__all__ = ["Account", "FraudModel"]


class Account(ColumnAgent):
    """An account: a thin Mesa view over the ledger's columns."""

    kind = column(np.int8, default=0, doc="code of world.KINDS")
    bank = column(np.int16, default=-1, doc="index into model.world.bank_names (-1: outside)")
    currency = column(np.int8, default=0, doc="index into model.world.currencies")
    balance = column(
        np.float64, default=0.0, doc="in the account's currency (customers, merchants)"
    )
    category = column(np.int8, default=0, doc="merchant category code (world.CATEGORIES)")
    zone = column(np.int16, default=0, doc="index into model.world.zones")


class FraudModel(SynthModel):
    """Transactions of a synthetic city's customers, with labelled fraud and laundering.

    Parameters
    ----------
    params : FraudParams, optional
    seed : int or abm.rng.Streams, optional
    persons : polars.DataFrame, optional
        The population (``person_id``, ``household_id``, ``zone``, ``age``; ``income`` and
        ``employment`` when present). Default: a sample of the demo city.
    out, fmt, overwrite, shard
        Where and how to write the event log (see `abm.events.EventLog`); with ``shard=k`` the
        account ids, transaction ids and case ids of shard `k` are disjoint from the others'.
    chunk_rows : int
        Rows held in memory before a chunk is written.
    """

    rules = ("transact",)

    def __init__(
        self,
        params: FraudParams | None = None,
        *,
        seed: int | Streams | None = None,
        persons: pl.DataFrame | None = None,
        out: str | Path | None = None,
        fmt: str = "parquet",
        overwrite: bool = False,
        shard: int | None = None,
        chunk_rows: int = 500_000,
    ) -> None:
        self.params = params = params if params is not None else FraudParams()
        if not isinstance(params, FraudParams):
            msg = f"`params` must be FraudParams, got {type(params).__name__}."
            raise ConfigError(msg)
        start = date.fromisoformat(params.start_date)
        super().__init__(seed=seed, start=datetime(start.year, start.month, start.day))
        if persons is None:
            persons = demo_persons(self.streams["population"])
        self.world = world = build_world(params, persons, self.streams["world"], shard=shard)
        self.accounts = self.add_agent_type(
            Account,
            {
                "kind": world.kind,
                "bank": world.bank,
                "currency": world.currency,
                "balance": world.balance,
                "category": world.category,
                "zone": world.zone,
            },
            create_views=False,
        )
        world.balance = self.accounts["balance"]  # one array: the ledger writes the agents'
        self.initial_balance = world.balance.copy()
        self.start = start
        self.rng_behaviour = self.streams["behaviour"]
        self.rng_monitoring = self.streams["monitoring"]
        base = 0 if shard is None else int(shard)
        self.planner = SchemePlanner(
            world,
            params,
            self.streams["schemes"],
            horizon=params.days * DAY,
            case_base=base * 10**9,
        )
        self.pending = Rows.empty()
        self.next_tx = base * 10**12
        self.start_ms = int(np.datetime64(start.isoformat(), "ms").astype(np.int64))
        self.kpis = KpiCollector(groups={"type": pl.Enum(TYPES)})
        self.totals = {"rows": 0, "fraud": 0, "laundering": 0, "declined": 0, "flagged": 0}
        if out is not None:
            self.event_log = EventLog(
                out,
                schema=self.event_schema(),
                fmt=fmt,
                seed=self.seed,
                parameters=params_to_dict(params),
                overwrite=overwrite,
                shard=shard,
                kpis=self.kpis,
                chunk_rows=chunk_rows,
                partition_by="day",  # a file per day: a query of a few days reads only those
            )

    def event_schema(self) -> EventSchema:
        """The columns of the transaction log (see docs/scenarios/fraud.md)."""
        banks = pl.Enum([*self.world.bank_names, "external"])
        currencies = pl.Enum(self.world.currencies)
        return EventSchema(
            "transactions",
            {
                "tx_id": pl.Int64,
                "timestamp": pl.Datetime("ms"),
                "day": pl.Int32,
                "hour": pl.Int32,
                "type": pl.Enum(TYPES),
                "amount": pl.Float64,
                "currency": currencies,
                "amount_received": pl.Float64,
                "currency_received": currencies,
                "channel": pl.Enum(CHANNELS),
                "orig_account": pl.Int64,
                "orig_kind": pl.Enum(KINDS),
                "orig_bank": banks,
                "dest_account": pl.Int64,
                "dest_kind": pl.Enum(KINDS),
                "dest_bank": banks,
                "merchant_category": pl.Enum(CATEGORIES),
                "orig_balance_before": pl.Float64,
                "orig_balance_after": pl.Float64,
                "dest_balance_before": pl.Float64,
                "dest_balance_after": pl.Float64,
                "is_fraud": pl.Boolean,
                "is_laundering": pl.Boolean,
                "typology": pl.Enum(TYPOLOGIES),
                "stage": pl.Enum(STAGES),
                "case_id": pl.Int64,
                "orig_role": pl.Enum(ROLES),
                "dest_role": pl.Enum(ROLES),
                "is_flagged": pl.Boolean,
                "alert_rule": pl.Enum(ALERT_RULES),
                "alert_bank": banks,
                "is_reported_fraud": pl.Boolean,
            },
        )

    @property
    def today(self) -> date:
        return self.start + timedelta(days=self.clock.step)

    # ----------------------------------------------------------------------------- the day

    def transact(self) -> None:
        """One day: legitimate rows, new schemes, the ledger, alerts, reports, log and KPIs."""
        world, params, day = self.world, self.params, self.clock.step
        legit = legitimate_rows(
            world, params.behaviour, day=day, today=self.today, rng=self.rng_behaviour
        )
        available = world.balance - illicit_need(world, self.pending)
        schemes = self.planner.plan(day, legit.n, available)
        pending = Rows.concat([self.pending, *schemes])
        need = illicit_need(world, pending)
        due = pending["t"] < (day + 1) * DAY
        self.pending = pending.take(np.flatnonzero(~due))
        settled = settle(world, Rows.concat([legit, pending.take(np.flatnonzero(due))]), need)
        rows = settled.rows
        self.planner.declined(settled.declined)
        usd = rows["amount"] * world.usd[world.currency[rows["orig"]]]
        alerts = monitor(world, rows, usd, params.monitoring)
        report = reported(
            rows,
            self.rng_monitoring,
            report_rate=params.fraud.report_rate,
            false_reports=params.fraud.false_reports,
        )
        self._emit(rows, settled, alerts, report)
        self._count(rows, settled.declined, alerts.flagged, usd)

    def _emit(self, rows: Rows, settled: Any, alerts: Any, report: np.ndarray) -> None:
        n = rows.n
        ids = self.next_tx + np.arange(n, dtype=np.int64)
        self.next_tx += n
        if self.event_log is None or n == 0:
            return
        w = self.world
        orig, dest, t = rows["orig"], rows["dest"], rows["t"]
        external = len(w.bank_names)
        case = rows["case"]

        def floats(name: str, values: np.ndarray) -> pl.Series:
            return pl.Series(name, values, nan_to_null=True)

        self.emit(
            tx_id=ids,
            timestamp=(self.start_ms + t * 1000).astype("datetime64[ms]"),
            day=(t // DAY).astype(np.int32),
            hour=(t // 3600).astype(np.int32),
            type=rows["type"],
            amount=rows["amount"],
            currency=w.currency[orig],
            amount_received=settled.amount_received,
            currency_received=w.currency[dest],
            channel=rows["channel"],
            orig_account=w.account_id[orig],
            orig_kind=w.kind[orig],
            orig_bank=np.where(w.bank[orig] < 0, external, w.bank[orig]),
            dest_account=w.account_id[dest],
            dest_kind=w.kind[dest],
            dest_bank=np.where(w.bank[dest] < 0, external, w.bank[dest]),
            merchant_category=np.where(w.kind[dest] == MERCHANT, w.category[dest], 0),
            orig_balance_before=floats("orig_balance_before", settled.orig_before),
            orig_balance_after=floats("orig_balance_after", settled.orig_after),
            dest_balance_before=floats("dest_balance_before", settled.dest_before),
            dest_balance_after=floats("dest_balance_after", settled.dest_after),
            is_fraud=rows["fraud"],
            is_laundering=rows["laundering"],
            typology=rows["typology"],
            stage=rows["stage"],
            case_id=pl.Series("case_id", case).set(pl.Series(case < 0), None),
            orig_role=rows["orig_role"],
            dest_role=rows["dest_role"],
            is_flagged=alerts.flagged,
            alert_rule=alerts.rule,
            alert_bank=np.where(alerts.bank < 0, external, alerts.bank),
            is_reported_fraud=report,
        )

    def _count(self, rows: Rows, declined: int, flagged: np.ndarray, usd: np.ndarray) -> None:
        fraud, laundering = rows["fraud"], rows["laundering"]
        illicit = fraud | laundering
        values = {
            "rows": rows.n,
            "fraud_rows": int(fraud.sum()),
            "laundering_rows": int(laundering.sum()),
            "declined": declined,
            "flagged": int(flagged.sum()),
            "flagged_illicit": int((flagged & illicit).sum()),
            "volume_usd": float(usd.sum()),
            "balances_usd": float((self.world.balance * self.world.usd[self.world.currency]).sum()),
        }
        for name, value in values.items():
            self.kpi(name, value)
        counts = np.bincount(rows["type"], minlength=len(TYPES))
        self.kpi("rows_by_type", counts, type=list(TYPES))
        t = self.totals
        t["rows"] += rows.n
        t["fraud"] += values["fraud_rows"]
        t["laundering"] += values["laundering_rows"]
        t["declined"] += declined
        t["flagged"] += values["flagged"]
