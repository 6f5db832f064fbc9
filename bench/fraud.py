"""Fraud log generation speed and memory, against a per-agent Mesa version of the same rules.

Three measurements, one JSON line each:

``generation``: rows a second that `scenarios.fraud.FraudModel` generates (legitimate activity,
schemes, ledger, alerts, reports; no output) on one core, against a per-agent Mesa model of the
same legitimate rules on the same world: one ``mesa.Agent`` per customer whose ``step()`` draws
its transactions type by type (Poisson counts, hour from its profile, counterparty from its
habits, log-normal amount, a decline when the balance cannot pay) and books them one by one.
Goal: at least 20x.

``end_to_end``: rows a second written to zstd Parquet with every label, with 1 and 2 worker
processes (one shard each, as ``synthworld run fraud --replicates N --processes N`` does), from
the workers' own clocks (build excluded, and reported). Goal: at least 1,000,000 rows/s on this
2-core machine.

``large`` (``--large``): an AMLworld-HI-Large-sized log, 180 million rows from 2 million accounts
over 97 days, as 8 shards of 250,000 customers on 2 processes through `abm.replicates`; wall time,
rows/s and peak memory (resident set of the whole process tree, sampled every 0.2 s with psutil).
Goal: completes, peak under 1 GiB per process, independent of the row count.

    python bench/fraud.py [--customers 100000] [--days 10] [--large]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import mesa  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from abm.params import read_params  # noqa: E402
from scenarios.fraud import FraudModel, FraudParams  # noqa: E402
from scenarios.fraud.world import CATEGORY_MEDIAN, HOUR_CDF, TYPE_AMOUNTS, World  # noqa: E402

# --------------------------------------------------------------------------- per-agent Mesa


class Customer(mesa.Agent):
    """A customer whose step draws and books its own transactions, one at a time."""

    def __init__(self, model: MesaFraud, row: int) -> None:
        super().__init__(model)
        w = model.world
        self.row = row
        self.activity = float(w.activity[row])
        self.spend = float(w.spend[row])
        self.cdf = HOUR_CDF[w.hour_profile[row]]
        self.favourites = w.favourites[row]
        self.ties = w.social_indices[w.social_indptr[row] : w.social_indptr[row + 1]]
        self.outside = int(w.outside[row])
        self.agent = int(w.cash_agents[w.zone[row] % w.cash_agents.shape[0]])

    def step(self) -> None:
        m, w, rng = self.model, self.model.world, self.model.rng_np
        b = m.params.behaviour
        day = m.day
        for kind, rate in enumerate((b.payments, b.transfers, b.cash_in, b.cash_out, b.debits)):
            for _ in range(rng.poisson(rate * self.activity)):
                t = day * 86_400 + int(np.searchsorted(self.cdf, rng.random())) * 3600
                if kind == 0:
                    dest = int(self.favourites[np.searchsorted(w.favourite_cdf, rng.random())])
                    median, sd = CATEGORY_MEDIAN[w.category[dest]], b.amount_sigma
                else:
                    key = ("PAYMENT", "TRANSFER", "CASH_IN", "CASH_OUT", "DEBIT")[kind]
                    median, sd = TYPE_AMOUNTS[key]
                    if kind == 1:
                        dest = int(self.ties[rng.integers(self.ties.size)]) if self.ties.size else 0
                    elif kind == 4:
                        dest = self.outside
                    else:
                        dest = self.agent
                amount = round(median * self.spend * rng.lognormal(0.0, sd), 2)
                m.book(t, kind, self.row, dest, amount)


class MesaFraud(mesa.Model):
    """The yardstick: legitimate activity of `World`'s customers, agent by agent."""

    def __init__(self, world: World, params: FraudParams, seed: int) -> None:
        super().__init__(rng=seed)
        self.world, self.params = world, params
        self.rng_np = np.random.default_rng(seed)
        self.balance = world.balance.copy()
        self.tracked = world.kind <= 1
        self.day = 0
        self.rows: list[tuple] = []
        for row in range(world.n_customers):
            Customer(self, row)

    def book(self, t: int, kind: int, orig: int, dest: int, amount: float) -> None:
        if kind == 2:  # cash in: the money arrives from outside
            orig, dest = dest, orig
        if self.tracked[orig]:
            if self.balance[orig] < amount:
                return  # declined
            self.balance[orig] -= amount
        if self.tracked[dest]:
            self.balance[dest] += amount
        self.rows.append((t, kind, orig, dest, amount, self.balance[orig], self.balance[dest]))

    def step(self) -> None:
        self.agents.shuffle_do("step")
        self.day += 1


# --------------------------------------------------------------------------- helpers


def _params(customers: int, days: int, extra: tuple[str, ...] = ()) -> FraudParams:
    return read_params(FraudParams, overrides=[f"customers={customers}", f"days={days}", *extra])


def generation(customers: int, days: int, mesa_customers: int, mesa_days: int) -> dict:
    params = _params(customers, days)
    model = FraudModel(params, seed=1)
    start = time.perf_counter()
    model.run(days)
    ours_s = time.perf_counter() - start
    ours = model.totals["rows"] / ours_s

    small = _params(mesa_customers, mesa_days)
    twin = FraudModel(small, seed=2)  # the same world and habits for both versions
    yardstick = MesaFraud(twin.world, small, seed=2)  # copies the starting balances
    start = time.perf_counter()
    twin.run(mesa_days)
    twin_rate = twin.totals["rows"] / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(mesa_days):
        yardstick.step()
    mesa_s = time.perf_counter() - start
    per_agent = len(yardstick.rows) / mesa_s
    return {
        "bench": "fraud.generation",
        "customers": customers,
        "days": days,
        "rows": model.totals["rows"],
        "rows_per_s": round(ours),
        "small_world_rows_per_s": round(twin_rate),
        "mesa_customers": mesa_customers,
        "mesa_days": mesa_days,
        "mesa_rows": len(yardstick.rows),
        "mesa_rows_per_s": round(per_agent),
        "ratio_to_mesa": round(twin_rate / per_agent, 1),
        "goal_ratio": 20,
    }


def _shard(args: tuple[int, int, int, tuple[str, ...], str]) -> dict:
    import resource

    customers, days, shard, extra, out = args
    params = _params(customers, days, extra)
    start = time.perf_counter()
    from scenarios.fraud import build

    model = build(params, seed=7, out=out, shard=shard)
    built = time.perf_counter()
    with model:
        model.run(days)
    done = time.perf_counter()
    return {
        "rows": model.totals["rows"],
        "build_s": built - start,
        "run_s": done - built,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def end_to_end(customers: int, days: int) -> dict:
    result = {"bench": "fraud.end_to_end", "customers": customers, "days": days}
    context = multiprocessing.get_context("spawn")
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            jobs = [
                (customers // workers, days, k, (), str(Path(tmp) / "log")) for k in range(workers)
            ]
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                parts = list(pool.map(_shard, jobs))
        rows = sum(p["rows"] for p in parts)
        run_s = max(p["run_s"] for p in parts)
        result[f"processes_{workers}"] = {
            "rows": rows,
            "run_s": round(run_s, 2),
            "build_s": round(max(p["build_s"] for p in parts), 2),
            "rows_per_s": round(rows / run_s),
            "peak_rss_mb_per_process": round(max(p["peak_rss_mb"] for p in parts)),
        }
    result["speedup_2_vs_1"] = round(
        result["processes_2"]["rows_per_s"] / result["processes_1"]["rows_per_s"], 2
    )
    result["goal_rows_per_s"] = 1_000_000
    return result


def _watch(stop: threading.Event, peaks: dict) -> None:
    import psutil

    me = psutil.Process()
    while not stop.is_set():
        procs = [me, *me.children(recursive=True)]
        rss = []
        for p in procs:
            try:
                rss.append(p.memory_info().rss)
            except psutil.Error:  # a worker that ended between listing and reading
                pass
        peaks["total"] = max(peaks["total"], sum(rss))
        peaks["process"] = max(peaks["process"], max(rss, default=0))
        stop.wait(0.2)


def large(shards: int, customers: int, days: int, scale: float) -> dict:
    from abm.registry import load_scenario
    from abm.replicates import run_replicates

    extra = tuple(
        f"behaviour.{k}={v * scale}"
        for k, v in (("payments", 1.1), ("transfers", 0.12), ("cash_in", 0.05),
                     ("cash_out", 0.12), ("debits", 0.03))
    )  # fmt: skip
    params = _params(customers, days, extra)
    peaks = {"total": 0, "process": 0}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(stop, peaks), daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = run_replicates(
            load_scenario("fraud"), params, seed=7, n=shards, out=Path(tmp) / "log", processes=2
        )
        wall = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (Path(tmp) / "log").rglob("*") if p.is_file())
        days_seen = (
            pl.scan_parquet(Path(tmp) / "log" / "events" / "**" / "*.parquet")
            .select(pl.col("day").n_unique())
            .collect()
            .item()
        )
    stop.set()
    watcher.join()
    rows = manifest["rows"]
    return {
        "bench": "fraud.large",
        "shards": shards,
        "accounts": shards * customers,
        "days": days,
        "days_in_log": days_seen,
        "rows": rows,
        "wall_s": round(wall, 1),
        "rows_per_s": round(rows / wall),
        "parquet_gb": round(size / 1e9, 2),
        "peak_rss_mb_process_tree": round(peaks["total"] / 2**20),
        "peak_rss_mb_largest_process": round(peaks["process"] / 2**20),
        "goal_peak_mb_per_process": 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--large", action="store_true", help="also the 180M-row run")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--large-customers", type=int, default=250_000)
    parser.add_argument("--large-days", type=int, default=97)
    parser.add_argument("--large-scale", type=float, default=0.6, help="multiplier of rates")
    args = parser.parse_args()
    print(json.dumps(generation(args.customers, args.days, 20_000, 3)), flush=True)
    print(json.dumps(end_to_end(args.customers, max(args.days, 20))), flush=True)
    if args.large:
        print(
            json.dumps(large(args.shards, args.large_customers, args.large_days, args.large_scale)),
            flush=True,
        )


if __name__ == "__main__":
    main()
