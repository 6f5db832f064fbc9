"""Benchmark: streaming an event log to Parquet with `abm.events.EventLog`.

What is measured
----------------
``--rows`` rows (default 50 million) of a PaySim-like log: ``step`` Int32, ``event`` Enum of 5
types, ``agent`` and ``other`` Int64 ids, ``zone`` Enum of 48 zones, ``amount`` Float64 (cents),
appended ``--append-rows`` at a time (default 100,000, one append per step, event and zone given
as integer codes as a simulation holds them) and written as zstd Parquet in row groups of
``--chunk-rows`` (default 1,000,000). The appended columns come from a pool of 10 blocks generated
up front (fixed seed), so the timing is of the log, not of the random number generator.

Reported: seconds (from the first append to the end of ``close()``, which hashes the file for
the manifest; ``close_seconds`` alone), rows/s, the file size, and peak RSS from
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` read right after the log is closed (before the
yardstick allocates anything), with the RSS before the first append for reference. The buffer
holds fewer than ``--chunk-rows`` rows, so the peak should not grow with ``--rows``.

Yardstick, same process, same data: polars writing the whole table from memory in one
``DataFrame.write_parquet(compression="zstd", statistics=True)`` call (``--yardstick-rows``,
default all rows; the table is built before the clock starts). ``ratio_vs_polars`` is our rows/s
over polars' rows/s. polars encodes columns in parallel; pyarrow's ``ParquetWriter`` (which lets
the log append row groups to one file) in one thread.

How to run
----------
From the project root::

    python bench/eventlog.py                  # 50 million rows, about a minute on 2 cores
    python bench/eventlog.py --rows 5000000

One JSON object on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
from _common import emit, log, ratio

from abm.events import EventLog, EventSchema, scan_events

EVENTS = pl.Enum(["deposit", "withdraw", "transfer", "payment", "debit"])
ZONES = pl.Enum([f"zone{z:02d}" for z in range(48)])
SCHEMA = EventSchema(
    "paysim",
    {
        "step": pl.Int32,
        "event": EVENTS,
        "agent": pl.Int64,
        "other": pl.Int64,
        "zone": ZONES,
        "amount": pl.Float64,
    },
)
POOL = 10


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def pool(n: int, seed: int = 2024) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "event": rng.integers(0, 5, n).astype(np.uint8),
            "agent": rng.integers(0, 5_000_000, n),
            "other": rng.integers(0, 5_000_000, n),
            "zone": rng.integers(0, 48, n).astype(np.uint8),
            "amount": np.round(rng.lognormal(4.0, 1.2, n), 2),
        }
        for _ in range(POOL)
    ]


def appends(rows: int, size: int, blocks: list[dict[str, np.ndarray]]):
    """(step, columns) for each append; the last one may be shorter."""
    step, done = 0, 0
    while done < rows:
        n = min(size, rows - done)
        block = blocks[step % POOL]
        yield step, {k: v[:n] for k, v in block.items()}
        step += 1
        done += n


def streamed(out: Path, args: argparse.Namespace, blocks) -> dict:
    before = rss_mb()
    t0 = time.perf_counter()
    with EventLog(out, schema=SCHEMA, chunk_rows=args.chunk_rows, seed=2024) as events:
        for step, cols in appends(args.rows, args.append_rows, blocks):
            events.append(step=step, **cols)
            assert events.buffered_rows < args.chunk_rows
        t_close = time.perf_counter()
    t_end = time.perf_counter()
    seconds = t_end - t0
    peak = rss_mb()
    file = out / "events.parquet"
    meta = pq.ParquetFile(file).metadata
    count = scan_events(out).select(pl.len()).collect().item()
    assert count == args.rows == meta.num_rows, (count, meta.num_rows)
    return {
        "seconds": round(seconds, 3),
        "close_seconds": round(t_end - t_close, 3),
        "rows_per_s": round(args.rows / seconds),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(before, 1),
        "file_mb": round(file.stat().st_size / 2**20, 1),
        "row_groups": meta.num_row_groups,
    }


def yardstick(out: Path, rows: int, args: argparse.Namespace, blocks) -> dict:
    frames = [
        SCHEMA.coerce({"step": step, **cols})
        for step, cols in appends(rows, args.append_rows, blocks)
    ]
    table = pl.concat(frames, rechunk=True)
    del frames
    file = out / "polars.parquet"
    t0 = time.perf_counter()
    table.write_parquet(file, compression="zstd", statistics=True)
    seconds = time.perf_counter() - t0
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "file_mb": round(file.stat().st_size / 2**20, 1),
        "table_mb": round(table.estimated_size() / 2**20, 1),
        "peak_rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--append-rows", type=int, default=100_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--yardstick-rows", type=int, default=None, help="rows for polars (default: --rows)"
    )
    args = parser.parse_args()
    blocks = pool(args.append_rows)
    with tempfile.TemporaryDirectory(prefix="bench-eventlog-", dir=os.environ.get("TMPDIR")) as d:
        log(f"streaming {args.rows:,} rows in appends of {args.append_rows:,} ...")
        ours = streamed(Path(d) / "run", args, blocks)
        log(f"  {ours}")
        yard_rows = args.yardstick_rows or args.rows
        log(f"polars write_parquet of {yard_rows:,} rows from memory ...")
        polars = yardstick(Path(d), yard_rows, args, blocks)
        log(f"  {polars}")
    emit(
        {
            "bench": "eventlog",
            "rows": args.rows,
            "append_rows": args.append_rows,
            "chunk_rows": args.chunk_rows,
            "format": "parquet/zstd",
            "eventlog": ours,
            "polars_write_parquet": polars,
            "ratio_vs_polars": round(ratio(ours["rows_per_s"], polars["rows_per_s"]) or 0, 3),
            "cores": os.cpu_count(),
            "polars": pl.__version__,
        }
    )


if __name__ == "__main__":
    main()
