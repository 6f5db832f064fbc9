"""Event logs: typed columns, bounded chunks, atomic outputs, manifests, reading back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from abm.events import (
    EVENT_FORMATS,
    EventLog,
    EventSchema,
    KpiCollector,
    read_events,
    scan_events,
)
from populations.errors import ConfigError, OutputExistsError
from populations.output import package_version

ROOT = Path(__file__).resolve().parents[2]
EVENT = pl.Enum(["infect", "recover", "die"])
ZONE = pl.Enum(["north", "south", "east", "west"])
SIMPLE = EventSchema(
    "outbreak",
    {
        "step": pl.Int32,
        "event": EVENT,
        "agent": pl.Int64,
        "other": pl.Int64,
        "zone": ZONE,
        "amount": pl.Float64,
    },
)
ALL_TYPES = EventSchema(
    "all_types",
    {
        "i8": pl.Int8,
        "i16": pl.Int16,
        "i32": pl.Int32,
        "i64": pl.Int64,
        "u8": pl.UInt8,
        "u16": pl.UInt16,
        "u32": pl.UInt32,
        "u64": pl.UInt64,
        "f32": pl.Float32,
        "f64": pl.Float64,
        "flag": pl.Boolean,
        "note": pl.String,
        "event": EVENT,
        "time": pl.Datetime("us"),
        "utc": pl.Datetime("ms", "UTC"),
        "day": pl.Date,
    },
)


def simple_columns(rng: np.random.Generator, n: int, *, step: int = 0, start: int = 0) -> dict:
    return {
        "step": step,
        "event": rng.integers(0, 3, n),
        "agent": np.arange(start, start + n, dtype=np.int64),
        "other": rng.integers(0, 10**12, n),
        "zone": np.array(ZONE.categories.to_list())[rng.integers(0, 4, n)],
        "amount": rng.lognormal(3.0, 1.0, n),
    }


def all_type_columns(rng: np.random.Generator, n: int, *, finite: bool) -> dict:
    """Every supported dtype, with the extremes of each integer type and awkward strings."""
    f64 = rng.normal(0.0, 1e6, n)
    f64[:3] = [np.finfo(np.float64).max, 5e-324, -0.0][: min(3, n)]
    if not finite and n >= 6:
        f64[3:6] = [np.nan, np.inf, -np.inf]
    notes = np.array(["plain", 'a,b "quoted"', "line\nbreak", "ünïcödé ✓", ""], dtype=object)
    base = np.datetime64("2024-03-01T00:00:00", "s")
    i64 = rng.integers(-9, 9, n)
    i64[:2] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max][: min(2, n)]
    u64 = rng.integers(0, 2**63, n).astype(np.uint64)
    u64[0] = np.iinfo(np.uint64).max
    return {
        "i8": rng.integers(-128, 128, n).astype(np.int8),
        "i16": rng.integers(-(2**15), 2**15, n).astype(np.int16),
        "i32": rng.integers(-(2**31), 2**31, n).astype(np.int32),
        "i64": i64,
        "u8": rng.integers(0, 256, n).astype(np.uint8),
        "u16": rng.integers(0, 2**16, n).astype(np.uint16),
        "u32": rng.integers(0, 2**32, n).astype(np.uint32),
        "u64": u64,
        "f32": rng.normal(0.0, 1.0, n).astype(np.float32),
        "f64": f64,
        "flag": rng.random(n) < 0.5,
        "note": notes[rng.integers(0, len(notes), n)],
        "event": np.array(EVENT.categories.to_list())[rng.integers(0, 3, n)],
        # seconds resolution in numpy is converted; microseconds survive every format
        "time": base + rng.integers(0, 10**8, n).astype("timedelta64[s]"),
        "utc": pl.Series(
            [dt.datetime(2024, 1, 1, 12, 30, 15, 123000, tzinfo=dt.UTC)] * n,
            dtype=pl.Datetime("ms", "UTC"),
        ),
        "day": dt.date(2023, 12, 31),
    }


def write_simple(out: Path, sizes: list[int], **kw) -> EventLog:
    rng = np.random.default_rng(1)
    kw.setdefault("chunk_rows", 1000)
    with EventLog(out, schema=SIMPLE, **kw) as log:
        start = 0
        for step, n in enumerate(sizes):
            log.append(**simple_columns(rng, n, step=step, start=start))
            log.kpis.record(step, "events", n)
            start += n
    return log


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", EVENT_FORMATS)
def test_round_trip_of_every_dtype(tmp_path, fmt):
    rng = np.random.default_rng(7)
    expected = []
    with EventLog(tmp_path / "run", schema=ALL_TYPES, fmt=fmt, chunk_rows=50) as log:
        for n in (10, 1, 37, 80, 3):
            columns = all_type_columns(rng, n, finite=fmt == "jsonl")
            expected.append(ALL_TYPES.coerce(columns))
            log.append(**columns)
    expected = pl.concat(expected)
    assert expected.schema == ALL_TYPES.polars_schema
    got = read_events(tmp_path / "run")
    assert_frame_equal(got, expected)
    assert got["i64"].to_list()[:2] == [-(2**63), 2**63 - 1]
    assert got["u64"][0] == 2**64 - 1
    assert got["time"].dt.microsecond().max() == 0  # seconds converted from numpy
    assert got["utc"][0] == dt.datetime(2024, 1, 1, 12, 30, 15, 123000, tzinfo=dt.UTC)


@pytest.mark.parametrize("fmt", EVENT_FORMATS)
def test_empty_log_reads_back_with_its_schema(tmp_path, fmt):
    with EventLog(tmp_path / "run", schema=ALL_TYPES, fmt=fmt):
        pass
    got = read_events(tmp_path / "run")
    assert got.height == 0
    assert got.schema == ALL_TYPES.polars_schema


def test_nan_and_infinity_survive_parquet_and_csv_but_not_json(tmp_path):
    values = np.array([np.nan, np.inf, -np.inf, 1.5])
    schema = EventSchema("floats", {"x": pl.Float64})
    for fmt in EVENT_FORMATS:
        with EventLog(tmp_path / fmt, schema=schema, fmt=fmt) as log:
            log.append(x=values)
        got = read_events(tmp_path / fmt)["x"]
        if fmt == "jsonl":  # JSON has no NaN or infinity
            assert got.to_list() == [None, None, None, 1.5]
        else:
            assert got.is_nan().to_list() == [True, False, False, False]
            assert got.to_list()[1:] == [np.inf, -np.inf, 1.5]


def test_append_frame_and_scalars(tmp_path):
    frame = pl.DataFrame(
        {
            "zone": ["south", "west"],
            "agent": [5, 6],
            "other": [1, 2],
            "amount": [1.0, 2.0],
            "event": pl.Series(["die", "infect"], dtype=EVENT),
            "step": pl.Series([3, 3], dtype=pl.Int64),
        }
    )
    with EventLog(tmp_path / "run", schema=SIMPLE) as log:
        log.append_frame(frame)  # any column order, castable dtypes
        log.append(step=4, event="recover", agent=7, other=8, zone="north", amount=0.5)
    got = read_events(tmp_path / "run")
    assert got.columns == SIMPLE.names
    assert got.rows() == [
        (3, "die", 5, 1, "south", 1.0),
        (3, "infect", 6, 2, "west", 2.0),
        (4, "recover", 7, 8, "north", 0.5),
    ]


def test_datetime_inputs_are_normalised():
    schema = EventSchema("t", {"naive": pl.Datetime("us"), "utc": pl.Datetime("us", "UTC")})
    seconds = np.array(["2024-01-01T10:00:00"], dtype="datetime64[s]")
    frame = schema.coerce({"naive": seconds, "utc": seconds})  # naive wall time taken as UTC
    assert frame["utc"][0] == dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ConfigError, match="column `naive` expects times without a time zone"):
        schema.coerce({"naive": aware, "utc": aware})


# --- chunks --------------------------------------------------------------------------------------


def test_chunked_flushing_keeps_the_buffer_bounded(tmp_path):
    chunk = 1000
    rng = np.random.default_rng(3)
    out = tmp_path / "run"
    sizes = []
    with EventLog(out, schema=SIMPLE, chunk_rows=chunk) as log:
        start = 0
        while start < 2500:
            n = int(min(rng.integers(1, 120), 2500 - start))
            log.append(**simple_columns(rng, n, step=len(sizes), start=start))
            sizes.append(n)
            start += n
            assert log.buffered_rows < chunk
            assert log.rows_written % chunk == 0
            assert log.rows_written + log.buffered_rows == start
        assert log.rows_written == 2000  # two whole chunks reached the file before close
    assert len(sizes) > 30  # many small appends
    meta = pq.ParquetFile(out / "events.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000, 1000, 500]
    got = read_events(out)
    assert got["agent"].to_list() == list(range(2500))  # all rows, in order
    assert got["step"].to_list() == np.repeat(np.arange(len(sizes)), sizes).tolist()


def test_one_large_append_is_written_in_whole_chunks(tmp_path):
    out = tmp_path / "run"
    with EventLog(out, schema=SIMPLE, chunk_rows=1000) as log:
        log.append(**simple_columns(np.random.default_rng(0), 3500))
        assert (log.rows_written, log.buffered_rows) == (3000, 500)
    meta = pq.ParquetFile(out / "events.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000] * 3 + [500]
    assert read_events(out)["agent"].to_list() == list(range(3500))


def test_enum_and_id_dtypes_preserved_in_parquet(tmp_path):
    out = tmp_path / "run"
    write_simple(out, [700, 800])
    plain = pl.read_parquet(out / "events.parquet")  # polars alone, no manifest
    assert plain.schema == SIMPLE.polars_schema
    assert plain.schema["event"] == EVENT and plain.schema["zone"] == ZONE
    arrow = pq.read_schema(out / "events.parquet")
    assert str(arrow.field("agent").type) == "int64"
    assert str(arrow.field("step").type) == "int32"
    assert str(arrow.field("event").type).startswith("dictionary")
    assert json.loads(arrow.metadata[b"synthworld.event_schema"]) == SIMPLE.to_dict()


# --- determinism ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", EVENT_FORMATS)
def test_same_data_gives_identical_bytes(tmp_path, fmt):
    for name in ("a", "b"):
        write_simple(tmp_path / name, [600, 900, 250], fmt=fmt, seed=5, parameters={"r": 0.5})
    for path in sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")):
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes(), path
    assert len(list((tmp_path / "a").iterdir())) == 3  # events, kpis, manifest


def test_bytes_do_not_depend_on_how_rows_were_appended(tmp_path):
    data = SIMPLE.coerce(simple_columns(np.random.default_rng(9), 2300))
    for name, splits in (("whole", [2300]), ("pieces", [1, 999, 3, 700, 597])):
        with EventLog(tmp_path / name, schema=SIMPLE, chunk_rows=1000) as log:
            start = 0
            for n in splits:
                log.append_frame(data.slice(start, n))
                start += n
    whole = (tmp_path / "whole" / "events.parquet").read_bytes()
    assert whole == (tmp_path / "pieces" / "events.parquet").read_bytes()


# --- shards ---------------------------------------------------------------------------------------


def test_partitioned_shards_read_as_one_dataset(tmp_path):
    run = tmp_path / "run"
    counts = {0: 1500, 1: 700, 2: 1}
    for shard, n in counts.items():
        write_simple(run, [n], shard=shard, seed=shard)
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()) == [
        f"{kind}/shard={k:05d}/part-00000.parquet" for kind in ("events", "kpis") for k in counts
    ] + [f"manifests/shard={k:05d}.json" for k in counts]
    # plain polars, hive partitioning: the shard column comes from the folder names
    plain = pl.scan_parquet(run / "events" / "**/*.parquet", hive_partitioning=True)
    per_shard = plain.group_by("shard").len().sort("shard").collect()
    assert dict(per_shard.iter_rows()) == counts
    assert plain.collect_schema()["event"] == EVENT
    # ours, from the run folder or its events folder
    ours = read_events(run)
    assert ours.columns == [*SIMPLE.names, "shard"]
    assert ours.schema["shard"] == pl.Int64 and ours.schema["zone"] == ZONE
    assert dict(ours.group_by("shard").len().sort("shard").iter_rows()) == counts
    assert read_events(run / "events").equals(ours)
    kpis = pl.read_parquet(run / "kpis" / "**/*.parquet", hive_partitioning=True)
    assert sorted(kpis["value"].to_list()) == sorted(float(n) for n in counts.values())


def test_csv_shards_read_back_with_dtypes(tmp_path):
    run = tmp_path / "run"
    for shard, n in ((3, 40), (1, 25)):
        write_simple(run, [n], shard=shard, fmt="csv")
    got = read_events(run)
    assert got.schema == pl.Schema({**SIMPLE.columns, "shard": pl.Int64})
    assert got.group_by("shard").len().sort("shard").rows() == [(1, 25), (3, 40)]


def test_existing_shard_is_refused_unless_overwrite(tmp_path):
    run = tmp_path / "run"
    write_simple(run, [10], shard=0)
    write_simple(run, [20], shard=1)
    with pytest.raises(OutputExistsError, match=r"shard=00001` already exists.*overwrite"):
        EventLog(run, schema=SIMPLE, shard=1)
    write_simple(run, [30], shard=1, overwrite=True)
    assert dict(read_events(run).group_by("shard").len().iter_rows()) == {0: 10, 1: 30}
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no staging left


# --- nothing that looks finished -----------------------------------------------------------------


@pytest.mark.parametrize("shard", [None, 2])
def test_exception_inside_the_block_leaves_nothing(tmp_path, shard):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="model diverged"):
        with EventLog(out, schema=SIMPLE, chunk_rows=100, shard=shard) as log:
            log.append(**simple_columns(np.random.default_rng(0), 450))
            assert log.rows_written == 400  # chunks were on disk, under a temporary name
            msg = "model diverged"
            raise RuntimeError(msg)
    assert log.closed
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    if shard is None:
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError):
        read_events(out)


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import polars as pl
    from abm.events import EventLog, EventSchema

    schema = EventSchema("killed", {"step": pl.Int64, "agent": pl.Int64})
    shard = None if sys.argv[2] == "none" else int(sys.argv[2])
    deadline = time.monotonic() + 60
    with EventLog(sys.argv[1], schema=schema, chunk_rows=1000, shard=shard) as log:
        step, told = 0, False
        while time.monotonic() < deadline:
            log.append(step=step, agent=np.arange(500))
            step += 1
            if log.rows_written and not told:
                print("flushed", flush=True)
                told = True
            time.sleep(0.001)
    """
)


@pytest.mark.parametrize("shard", [None, 2])
def test_killed_process_leaves_no_final_output(tmp_path, shard):
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    out = work / "run"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out), "none" if shard is None else str(shard)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "flushed", proc.stderr.read() if proc.poll() is not None else line
        if shard is None:
            pattern, where = ".run.partial-*/events.parquet", work
        else:
            pattern, where = ".shard=00002.partial-*/events/shard=00002/part-00000.parquet", out
        deadline = time.monotonic() + 20
        partial = []
        while time.monotonic() < deadline:
            partial = [p for p in where.glob(pattern) if p.stat().st_size > 4]
            if partial:
                break
            time.sleep(0.01)
        assert partial, "the temporary events file never appeared"
        assert proc.poll() is None  # still writing
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert partial[0].exists()  # left behind, but only under a temporary name
    assert all(".partial-" in p.as_posix() for p in work.rglob("*") if p.is_file())
    if shard is None:
        assert not out.exists()
    else:
        assert not (out / "events").exists() and not (out / "manifests").exists()
    with pytest.raises(ConfigError):
        read_events(out)


# --- bad input ------------------------------------------------------------------------------------


def test_unknown_column_names_the_closest(tmp_path):
    cols = simple_columns(np.random.default_rng(0), 3)
    cols["agnet"] = cols.pop("agent")
    with EventLog(tmp_path / "run", schema=SIMPLE) as log:
        with pytest.raises(
            ConfigError, match=r"event log `outbreak`: unknown column `agnet`.*did you mean `agent`"
        ):
            log.append(**cols)
        assert log.rows == 0


def test_missing_column_is_named():
    cols = simple_columns(np.random.default_rng(0), 3)
    del cols["zone"], cols["other"]
    with pytest.raises(ConfigError, match=r"missing column\(s\) `other`, `zone`"):
        SIMPLE.coerce(cols)


def test_category_not_in_enum_names_column_and_value():
    cols = simple_columns(np.random.default_rng(0), 3)
    cols["event"] = np.array(["infect", "infekt", "die"])
    with pytest.raises(
        ConfigError,
        match=r"column `event` has `infekt`, which is not one of its categories.*"
        r"did you mean `infect`",
    ):
        SIMPLE.coerce(cols)
    cols["event"] = np.array([0, 3, 1])
    with pytest.raises(ConfigError, match=r"column `event` got integer codes from 0 to 3.*3 cat"):
        SIMPLE.coerce(cols)
    cols["event"] = "infect"
    cols["zone"] = "nort"
    with pytest.raises(ConfigError, match=r"column `zone` has `nort`.*did you mean `north`"):
        SIMPLE.coerce(cols)


def test_mismatched_lengths_are_listed():
    cols = simple_columns(np.random.default_rng(0), 3)
    cols["amount"] = np.ones(2)
    with pytest.raises(ConfigError, match=r"different lengths: .*`agent` 3.*`amount` 2"):
        SIMPLE.coerce(cols)


def test_wrong_kinds_and_ranges():
    cols = simple_columns(np.random.default_rng(0), 3)
    cols["agent"] = np.array([1.0, 2.5, 3.0])
    with pytest.raises(ConfigError, match=r"column `agent` expects Int64 values, got Float64"):
        SIMPLE.coerce(cols)
    cols["agent"] = np.arange(3)
    cols["step"] = np.array([0, 2**40, 1])
    with pytest.raises(ConfigError, match=r"column `step` has values from 0 to 1099511627776"):
        SIMPLE.coerce(cols)
    cols["step"] = np.zeros((3, 2), dtype=np.int32)
    with pytest.raises(ConfigError, match=r"column `step` got a 2-D array"):
        SIMPLE.coerce(cols)


def test_output_exists_without_overwrite(tmp_path):
    out = tmp_path / "run"
    write_simple(out, [5], seed=1)
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(OutputExistsError, match=r"already holds results.*--overwrite"):
        EventLog(out, schema=SIMPLE)
    assert (out / "manifest.json").read_bytes() == before  # nothing touched
    write_simple(out, [8], seed=2, overwrite=True)
    assert read_events(out).height == 8
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with pytest.raises(OutputExistsError, match="holds an unsharded event log"):
        EventLog(out, schema=SIMPLE, shard=0, overwrite=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fmt": "parq"}, r"unknown event log format `parq`.*did you mean `parquet`"),
        ({"chunk_rows": 0}, r"`chunk_rows` must be a positive integer, got 0"),
        ({"shard": -1}, r"`shard` must be a non-negative integer"),
        ({"parameters": {"f": object()}}, r"parameters cannot be recorded in a manifest"),
        ({"schema": {"step": pl.Int32}}, r"`schema` must be an EventSchema"),
    ],
)
def test_bad_writer_arguments(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        EventLog(tmp_path / "run", **{"schema": SIMPLE, **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_file_name_as_output_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"looks like a file name"):
        EventLog(tmp_path / "events.parquet", schema=SIMPLE)


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        ({"kind": pl.Categorical}, r"unsupported dtype .*Hint: use pl.Enum"),
        ({"kind": pl.Enum}, r"`pl.Enum` without categories"),
        ({"xs": pl.List(pl.Int64)}, r"unsupported dtype"),
        ({"shard": pl.Int32}, r"column name 'shard' is not allowed"),
    ],
)
def test_bad_schemas(columns, match):
    with pytest.raises(ConfigError, match=match):
        EventSchema("bad", columns)


def test_append_after_close_is_refused(tmp_path):
    log = write_simple(tmp_path / "run", [5])
    with pytest.raises(ConfigError, match="is closed"):
        log.append(**simple_columns(np.random.default_rng(0), 1))
    assert log.close() is log.manifest  # closing again is harmless


def test_reading_unknown_columns_and_missing_logs(tmp_path):
    write_simple(tmp_path / "run", [5], fmt="csv")
    with pytest.raises(ConfigError, match=r"no column `agnt`.*did you mean `agent`"):
        scan_events(tmp_path / "run", columns=["agnt"])
    with pytest.raises(ConfigError, match="not found"):
        scan_events(tmp_path / "nowhere")
    stray = tmp_path / "stray.csv"
    stray.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no manifest beside it"):
        scan_events(stray)


# --- manifest, KPIs, reading ---------------------------------------------------------------------


def test_manifest_contents(tmp_path):
    out = tmp_path / "run"
    params = {"beta": 0.3, "zones": ["north", "south"], "days": 30}
    log = write_simple(out, [1200, 300], seed=42, parameters=params)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == log.manifest
    assert set(manifest) == {
        "synthworld", "kind", "schema", "format", "chunk_rows", "chunks", "shard", "seed",
        "parameters", "parameters_sha256", "rows", "events", "kpis", "outputs",
    }  # fmt: skip
    assert manifest["synthworld"] == package_version()
    assert manifest["seed"] == 42 and manifest["parameters"] == params
    canonical = json.dumps(params, sort_keys=True).encode()
    assert manifest["parameters_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert EventSchema.from_dict(manifest["schema"]) == SIMPLE
    assert manifest["schema"]["columns"]["event"] == {"Enum": ["infect", "recover", "die"]}
    assert manifest["schema"]["columns"]["step"] == "Int32"
    assert (manifest["rows"], manifest["chunks"], manifest["chunk_rows"]) == (1500, 2, 1000)
    assert sorted(manifest["outputs"]) == ["events.parquet", "kpis.parquet"]
    assert manifest["outputs"]["events.parquet"]["rows"] == 1500
    assert manifest["outputs"]["kpis.parquet"]["rows"] == 2
    for name, entry in manifest["outputs"].items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()


def test_kpis_are_tidy_and_saved_beside_the_log(tmp_path):
    kpis = KpiCollector(groups={"zone": ZONE})
    with EventLog(tmp_path / "run", schema=SIMPLE, kpis=kpis) as log:
        for step in range(3):
            log.append(**simple_columns(np.random.default_rng(step), 4, step=step))
            log.kpis.record(step, "events", 4)
            log.kpis.record(step, "cases", np.array([1, 2]), zone=np.array(["north", "east"]))
    saved = pl.read_parquet(tmp_path / "run" / "kpis.parquet")
    assert_frame_equal(saved, kpis.to_frame())
    assert saved.schema == pl.Schema(
        {"step": pl.Int64, "name": pl.String, "value": pl.Float64, "zone": ZONE}
    )
    assert saved.filter(pl.col("step") == 1).rows() == [
        (1, "events", 4.0, None),
        (1, "cases", 1.0, "north"),
        (1, "cases", 2.0, "east"),
    ]
    with pytest.raises(ConfigError, match=r"unknown KPI group `zon`.*did you mean `zone`"):
        kpis.record(0, "cases", 1, zon="north")
    with pytest.raises(ConfigError, match=r"group `zone` has `nort`.*did you mean `north`"):
        kpis.record(0, "cases", 1, zone="nort")
    with pytest.raises(ConfigError, match=r"group `zone` has 1 values for 2 value"):
        kpis.record(0, "cases", [1, 2], zone=["north"])


def test_scan_events_is_lazy_and_reads_files_directly(tmp_path):
    write_simple(tmp_path / "pq", [30])
    write_simple(tmp_path / "csv", [30], fmt="csv")
    lazy = scan_events(tmp_path / "pq", columns=["agent", "event"])
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect_schema() == pl.Schema({"agent": pl.Int64, "event": EVENT})
    whole = read_events(tmp_path / "pq")
    assert read_events(tmp_path / "pq" / "events.parquet").equals(whole)
    assert read_events(tmp_path / "csv" / "events.csv").equals(whole)  # manifest beside it
    assert read_events(tmp_path / "csv").equals(whole)


def test_dataclass_parameters_are_recorded_as_data(tmp_path):
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class P:
        rate: float = 0.5

    schema = EventSchema("t", {"step": pl.Int32})
    with EventLog(tmp_path / "run", schema=schema, parameters=P()) as log:
        log.append(step=np.arange(3, dtype=np.int32))
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["parameters"] == {"rate": 0.5}


# --- partitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", EVENT_FORMATS)
def test_a_log_partitioned_by_step_has_a_file_per_step_and_reads_back_whole(tmp_path, fmt):
    sizes = [1500, 0, 700, 1]  # step 1 has no rows, so it has no file
    flat = write_simple(tmp_path / "flat", sizes, fmt=fmt)
    log = write_simple(tmp_path / "part", sizes, fmt=fmt, partition_by="step")
    suffix = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}[fmt]
    files = sorted(
        p.relative_to(tmp_path / "part").as_posix() for p in (tmp_path / "part").rglob("*")
    )
    expected = [f"events/step={s}/part-00000{suffix}" for s in (0, 2, 3)]
    assert [f for f in files if f.startswith("events/step=") and "." in f] == expected
    manifest = log.manifest
    assert manifest["partition_by"] == "step"
    assert [(p["value"], p["rows"]) for p in manifest["partitions"]] == [
        (0, 1500),
        (2, 700),
        (3, 1),
    ]
    assert manifest["rows"] == sum(sizes)
    assert all(
        manifest["outputs"][p["events"]]["rows"] == p["rows"] for p in manifest["partitions"]
    )
    assert_frame_equal(read_events(tmp_path / "part"), read_events(tmp_path / "flat"))
    assert flat.manifest["rows"] == manifest["rows"]


def test_partitioned_shards_read_as_one_table_with_a_shard_column(tmp_path):
    run = tmp_path / "run"
    for shard, sizes in ((0, [10, 20]), (1, [5, 0, 7])):
        write_simple(run, sizes, shard=shard, partition_by="step")
    files = sorted(p.relative_to(run).as_posix() for p in (run / "events").rglob("*.parquet"))
    assert files == [
        "events/shard=00000/step=0/part-00000.parquet",
        "events/shard=00000/step=1/part-00000.parquet",
        "events/shard=00001/step=0/part-00000.parquet",
        "events/shard=00001/step=2/part-00000.parquet",
    ]
    ours = read_events(run)
    assert ours.columns == [*SIMPLE.names, "shard"]
    assert ours.group_by("shard", "step").len().sort("shard", "step").rows() == [
        (0, 0, 10), (0, 1, 20), (1, 0, 5), (1, 2, 7),
    ]  # fmt: skip
    # DuckDB reads the same dataset directly, hive folders and all
    import duckdb

    counts = duckdb.sql(
        f"select shard::int as shard, count(*) from read_parquet('{run}/events/**/*.parquet', "
        "hive_partitioning=true) group by shard order by shard"
    ).fetchall()
    assert counts == [(0, 30), (1, 12)]


def test_bytes_of_a_partitioned_log_do_not_depend_on_the_appends(tmp_path):
    rng = np.random.default_rng(5)
    columns = simple_columns(rng, 3000)
    columns["step"] = np.repeat(np.arange(3), 1000).astype(np.int32)
    frame = SIMPLE.coerce(columns)
    for name, cuts in (("one", [3000]), ("many", [1, 999, 1200, 800])):
        with EventLog(tmp_path / name, schema=SIMPLE, chunk_rows=700, partition_by="step") as log:
            start = 0
            for n in cuts:
                log.append_frame(frame.slice(start, n))
                start += n
    digest = {
        name: {
            p.relative_to(tmp_path / name).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (tmp_path / name).rglob("*")
            if p.is_file()
        }
        for name in ("one", "many")
    }
    assert digest["one"] == digest["many"]


def test_an_empty_partitioned_log_reads_back_with_its_schema(tmp_path):
    with EventLog(tmp_path / "e", schema=SIMPLE, partition_by="step") as log:
        pass
    assert log.manifest["partitions"] == []
    back = read_events(tmp_path / "e")
    assert back.height == 0 and back.schema == SIMPLE.polars_schema


@pytest.mark.parametrize(
    ("partition_by", "match"),
    [
        ("stp", r"`partition_by` = 'stp' is not a column of the log. Hint: did you mean `step`\?"),
        ("amount", r"`partition_by` column `amount` is Float64; a partition column must be"),
    ],
)
def test_bad_partition_columns_are_refused(tmp_path, partition_by, match):
    with pytest.raises(ConfigError, match=match):
        EventLog(tmp_path / "x", schema=SIMPLE, partition_by=partition_by)


def test_a_partition_column_that_goes_back_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    with pytest.raises(ConfigError, match="partition column `step` went back from 3 to 1"):
        with EventLog(tmp_path / "x", schema=SIMPLE, partition_by="step") as log:
            log.append(**simple_columns(rng, 5, step=3))
            log.append(**simple_columns(rng, 5, step=1))
    assert not (tmp_path / "x").exists()
