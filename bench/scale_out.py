"""Scale-out: the same work on 1 and 2 local processes and on a 2-worker Dask cluster.

Two workloads, each timed end to end (wall clock, pool or cluster start included and also
reported on its own), with identical results checked across the three ways:

* ``fraud``: a sharded fraud log (`abm.replicates.run_replicates`, one shard per task, written
  as Parquet): rows a second.
* ``outbreak``: replicates of the outbreak on the demo city without a log
  (`abm.experiments.replicate_kpis`, one replicate per task): replicates a second.

The figures: speed-up of 2 processes over 1, and the overhead of Dask against local processes
(``dask_overhead`` = Dask's time / 2 local processes' time - 1; goal under 10 % for tasks of a
second or more). Prints one JSON line per workload.

    python bench/scale_out.py [--shards 4] [--customers 50000] [--days 10] [--replicates 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from abm.execution import Execution  # noqa: E402
from abm.experiments import replicate_kpis  # noqa: E402
from abm.replicates import run_replicates  # noqa: E402

WAYS = {
    "processes_1": Execution(processes=1),
    "processes_2": Execution(processes=2),
    "dask_2_workers": Execution(workers=2),
}


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _timed(where: Execution) -> tuple[Execution, dict]:
    clock = {}

    def opened(_backend: object) -> None:
        clock["opened"] = time.perf_counter()

    return Execution(where.processes, where.scheduler, where.workers, on_open=opened), clock


def fraud(shards: int, customers: int, days: int) -> dict:
    params = {"customers": customers, "days": days}
    result: dict = {"bench": "scale_out.fraud", "shards": shards, "customers_per_shard": customers,
                    "days": days}  # fmt: skip
    digests = set()
    for name, way in WAYS.items():
        where, clock = _timed(way)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            manifest = run_replicates(
                "fraud", params, seed=3, n=shards, out=Path(tmp) / "log", execution=where
            )
            wall = time.perf_counter() - start
            digests.add(_digest(Path(tmp) / "log"))
        result[name] = {
            "rows": manifest["rows"],
            "wall_s": round(wall, 2),
            "start_s": round(clock["opened"] - start, 2),
            "rows_per_s": round(manifest["rows"] / wall),
        }
    result["identical_files"] = len(digests) == 1
    return _ratios(result, "rows_per_s")


def outbreak(replicates: int, days: int) -> dict:
    result: dict = {"bench": "scale_out.outbreak", "replicates": replicates, "days": days}
    frames = []
    for name, way in WAYS.items():
        where, clock = _timed(way)
        start = time.perf_counter()
        kpis = replicate_kpis("outbreak", [f"days={days}"], seed=5, n=replicates, execution=where)
        wall = time.perf_counter() - start
        frames.append(kpis)
        result[name] = {
            "wall_s": round(wall, 2),
            "start_s": round(clock["opened"] - start, 2),
            "replicates_per_s": round(replicates / wall, 3),
        }
    result["identical_results"] = all(f.equals(frames[0]) for f in frames)
    return _ratios(result, "replicates_per_s")


def _ratios(result: dict, key: str) -> dict:
    one, two, dask = (result[k][key] for k in WAYS)
    result["speedup_2_vs_1"] = round(two / one, 2)
    result["dask_overhead"] = round(two / dask - 1, 3)
    result["goal_dask_overhead"] = 0.10
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--replicates", type=int, default=4)
    parser.add_argument("--outbreak-days", type=int, default=60)
    args = parser.parse_args()
    print(json.dumps(fraud(args.shards, args.customers, args.days)), flush=True)
    print(json.dumps(outbreak(args.replicates, args.outbreak_days)), flush=True)


if __name__ == "__main__":
    main()
