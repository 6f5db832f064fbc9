"""`synthworld populate` end to end on the demo city: files, manifest, reproducibility, replicates,
formats, refusing and replacing an output folder, --debug, and the population's invariants.

Each demo run takes a few seconds, so the runs are module-scoped fixtures shared by the tests
(five runs in all: seed 7, seed 7 again in a subprocess, seed 8 with --overwrite, three
replicates, CSV).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import polars as pl
import pytest

from populations.errors import ConfigError, OutputExistsError

DEMO_DIR = Path(__file__).resolve().parents[1] / "populations" / "demo"
DATA = DEMO_DIR / "data"
CONFIG = tomllib.loads((DEMO_DIR / "demo.toml").read_text(encoding="utf-8"))
MARGINALS = {m["name"]: m for m in CONFIG["marginals"]}
HOUSEHOLD_MARGINALS = [m for m in CONFIG["marginals"] if m["level"] == "household"]
EXPECTED_FILES = {
    "persons.parquet",
    "households.parquet",
    "fit_report.json",
    "fit.png",
    "manifest.json",
}


@dataclass
class Run:
    out: Path
    code: int
    stdout: str
    stderr: str


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder`: content hash and modification time."""
    return {
        p.relative_to(folder).as_posix(): (sha256(p), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def read_marginal(file: str) -> pl.DataFrame:
    """A demo marginal with its labels as text and its count as an integer."""
    frame = pl.read_csv(DATA / Path(file).name, infer_schema=False)
    return frame.with_columns(pl.col("count").cast(pl.Float64).cast(pl.Int64))


def hidden_leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*"))


def run_in_process(invoke, out: Path, *args: str) -> Run:
    result = invoke(["populate", "--out", str(out), *args], columns=80)
    return Run(out, result.code, result.out, result.err)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, invoke_cli) -> Run:
    """Demo city, --seed 7, in-process, output rendered 80 columns wide."""
    run = run_in_process(invoke_cli, tmp_path_factory.mktemp("base") / "pop", "--seed", "7")
    assert run.code == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def base_persons(base: Run) -> pl.DataFrame:
    return pl.read_parquet(base.out / "persons.parquet")


@pytest.fixture(scope="module")
def base_households(base: Run) -> pl.DataFrame:
    return pl.read_parquet(base.out / "households.parquet")


@pytest.fixture(scope="module")
def subprocess_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same --seed 7 again, through a real interpreter running the installed package."""
    work = tmp_path_factory.mktemp("subprocess")
    out = work / "pop"
    env = {**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "synthworld", "populate", "--out", str(out), "--seed", "7"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    return Run(out, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def overwrite_run(
    base: Run, tmp_path_factory: pytest.TempPathFactory, invoke_cli
) -> tuple[Run, set[str]]:
    """A copy of the seed-7 results (plus a stray file), replaced by a --seed 8 --overwrite run.

    Returns the run and the names of the files the folder held before.
    """
    out = tmp_path_factory.mktemp("overwrite") / "pop"
    shutil.copytree(base.out, out)
    (out / "stale-notes.txt").write_text("from an earlier run\n", encoding="utf-8")
    before = {p.name for p in out.iterdir()}
    run = run_in_process(invoke_cli, out, "--seed", "8", "--overwrite")
    return run, before


@pytest.fixture(scope="module")
def replicates_run(tmp_path_factory: pytest.TempPathFactory, invoke_cli) -> Run:
    out = tmp_path_factory.mktemp("replicates") / "pop"
    run = run_in_process(invoke_cli, out, "--replicates", "3")
    assert run.code == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory, invoke_cli) -> Run:
    """--seed 7 as CSV, into a folder that already exists but is empty (which is allowed)."""
    out = tmp_path_factory.mktemp("csv") / "pop"
    out.mkdir()
    return run_in_process(invoke_cli, out, "--seed", "7", "--format", "csv")


# -- help -------------------------------------------------------------------------------------


def test_help_lists_the_populate_command(cli):
    result = cli("--help")
    assert result.code == 0
    assert "populate" in result.out
    assert "--debug" in result.out
    assert result.err == ""


def test_populate_help_mentions_the_key_options(cli):
    result = cli("populate", "--help")
    assert result.code == 0
    for option in ("--out", "--seed", "--replicates", "--format", "--overwrite", "--rescale"):
        assert option in result.out, option
    assert "parquet|csv" in result.out


def test_version_is_the_package_version(cli):
    result = cli("--version")
    assert result.code == 0
    assert version("synthworld") in result.out


# -- the files written --------------------------------------------------------------------------


def test_populate_writes_every_output_file(base):
    assert base.code == 0
    assert {p.name for p in base.out.iterdir()} == EXPECTED_FILES
    assert (base.out / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert hidden_leftovers(base.out) == []


def test_fit_report_describes_the_population(base, base_persons, base_households):
    report = json.loads((base.out / "fit_report.json").read_text(encoding="utf-8"))
    assert report["fit"]["status"] == "converged"
    assert report["population"]["persons"] == base_persons.height
    assert report["population"]["households"] == base_households.height
    assert [m["name"] for m in report["marginals"]] == list(MARGINALS)
    for m in report["marginals"]:
        target = read_marginal(MARGINALS[m["name"]]["file"])["count"].sum()
        assert m["target_total"] == target, m["name"]


def test_printed_table_names_every_marginal_at_80_columns(base):
    """80 columns is a common terminal width and rich's default when output is piped."""
    assert "converged" in base.stdout
    for name in MARGINALS:
        assert name in base.stdout, f"marginal `{name}` is missing from:\n{base.stdout}"


def table_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())  # columns are separated by runs of spaces
        if len(cells) == 8 and cells[0] in MARGINALS:
            rows[cells[0]] = cells
    return rows


def test_printed_table_has_one_correct_row_per_marginal(subprocess_run):
    """On a wide terminal each marginal's row gives its level, cells, target total, exactness."""
    assert subprocess_run.code == 0, subprocess_run.stderr
    rows = table_rows(subprocess_run.stdout)
    assert set(rows) == set(MARGINALS), subprocess_run.stdout
    for name, cells in rows.items():
        m = MARGINALS[name]
        frame = read_marginal(m["file"])
        dims = [c for c in frame.columns if c != "count"]
        n_cells = 1
        for d in dims:
            n_cells *= frame[d].n_unique()
        assert cells[1] == m["level"]
        assert cells[2] == f"{n_cells:,}"
        assert cells[3] == f"{frame['count'].sum():,.0f}"
        if m["level"] == "household":  # met exactly by the `exact` integerisation
            assert cells[7] == "yes", cells
    assert f"Wrote {subprocess_run.out}/" in subprocess_run.stdout


# -- the manifest ------------------------------------------------------------------------------


def test_manifest_records_version_seed_parameters_and_inputs(base):
    manifest = json.loads((base.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["synthworld"] == version("synthworld")
    assert manifest["command"] == "populate"
    assert manifest["seed"] == 7
    params = manifest["parameters"]
    assert params["tol"] == CONFIG["fit"]["tol"]
    assert params["max_iter"] == CONFIG["fit"]["max_iter"]
    assert params["integerise"] == CONFIG["fit"]["integerise"]
    assert params["rescale"] is False
    assert params["replicates"] == 1
    assert params["format"] == "parquet"
    expected = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    assert manifest["parameters_sha256"] == expected
    files = [CONFIG["geography"]["file"], CONFIG["seed"]["households"], CONFIG["seed"]["persons"]]
    files += [m["file"] for m in CONFIG["marginals"]]
    inputs = {f: sha256(DEMO_DIR / f) for f in files}
    assert manifest["inputs"] == inputs
    assert manifest["fit"]["status"] == "converged"


def test_manifest_output_hashes_and_rows_match_the_files(base, base_persons, base_households):
    manifest = json.loads((base.out / "manifest.json").read_text(encoding="utf-8"))
    outputs = manifest["outputs"]
    assert set(outputs) == EXPECTED_FILES - {"manifest.json"}
    for name, entry in outputs.items():
        assert entry["sha256"] == sha256(base.out / name), name
    assert outputs["persons.parquet"]["rows"] == base_persons.height
    assert outputs["households.parquet"]["rows"] == base_households.height


def test_parameters_hash_changes_with_the_parameters(base, csv_run):
    a = json.loads((base.out / "manifest.json").read_text(encoding="utf-8"))
    b = json.loads((csv_run.out / "manifest.json").read_text(encoding="utf-8"))
    assert b["parameters"]["format"] == "csv"
    assert a["parameters_sha256"] != b["parameters_sha256"]


# -- reproducibility ---------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_tables_in_another_process(base, subprocess_run):
    assert subprocess_run.code == 0, subprocess_run.stderr
    for name in ("persons.parquet", "households.parquet"):
        assert (subprocess_run.out / name).read_bytes() == (base.out / name).read_bytes(), name


def test_different_seed_gives_different_tables(base, base_persons, overwrite_run):
    run, _ = overwrite_run
    assert run.code == 0, run.stderr
    for name in ("persons.parquet", "households.parquet"):
        assert (run.out / name).read_bytes() != (base.out / name).read_bytes(), name
    assert not pl.read_parquet(run.out / "persons.parquet").equals(base_persons)


def test_installed_console_script_runs():
    script = Path(sys.executable).with_name("synthworld.exe" if os.name == "nt" else "synthworld")
    if not script.is_file():
        pytest.skip("the console script is not installed beside this interpreter")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert version("synthworld") in proc.stdout


# -- replicates and formats ---------------------------------------------------------------------


def test_replicates_make_numbered_folders_of_different_populations(replicates_run):
    out = replicates_run.out
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["replicate-001", "replicate-002", "replicate-003"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["replicates"] == 3
    persons = []
    for folder in folders:
        for name in ("persons.parquet", "households.parquet", "fit_report.json"):
            path = out / folder / name
            assert path.is_file(), path
            assert manifest["outputs"][f"{folder}/{name}"]["sha256"] == sha256(path)
        frame = pl.read_parquet(out / folder / "persons.parquet")
        assert manifest["outputs"][f"{folder}/persons.parquet"]["rows"] == frame.height
        assert_household_marginals_met(pl.read_parquet(out / folder / "households.parquet"))
        persons.append(frame)
    for i in range(3):
        for j in range(i + 1, 3):
            assert not persons[i].equals(persons[j]), (folders[i], folders[j])


def test_csv_format_writes_csv_readable_by_polars(csv_run, base_persons, base_households):
    assert csv_run.code == 0, csv_run.stderr
    names = {p.name for p in csv_run.out.iterdir()}
    assert {"persons.csv", "households.csv"} <= names
    assert not {"persons.parquet", "households.parquet"} & names
    manifest = json.loads((csv_run.out / "manifest.json").read_text(encoding="utf-8"))
    for name, parquet in (("persons", base_persons), ("households", base_households)):
        path = csv_run.out / f"{name}.csv"
        frame = pl.read_csv(path, infer_schema_length=None)
        assert frame.height == parquet.height
        assert frame.columns == parquet.columns
        assert manifest["outputs"][f"{name}.csv"]["rows"] == frame.height
        # Same seed, same population: the CSV holds the parquet's values.
        assert pl.read_csv(path, schema=parquet.schema).equals(parquet)


# -- the output folder -------------------------------------------------------------------------


def test_existing_results_are_refused_and_left_untouched(cli, base):
    before = snapshot(base.out)
    result = cli("populate", "--out", base.out, "--seed", "9")
    assert result.code == 2
    assert result.err.startswith("error: ")
    assert result.err.strip().count("\n") == 0
    assert str(base.out) in result.err
    assert "--overwrite" in result.err
    assert "Traceback" not in result.err
    assert result.out == ""
    assert snapshot(base.out) == before


def test_any_non_empty_folder_is_refused(cli, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n", encoding="utf-8")
    result = cli("populate", "--out", out)
    assert result.code == 2
    assert f"`{out}`" in result.err and "--overwrite" in result.err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me\n"


def test_overwrite_replaces_the_folder(overwrite_run):
    run, before = overwrite_run
    assert run.code == 0, run.stderr
    assert "stale-notes.txt" in before
    assert {p.name for p in run.out.iterdir()} == EXPECTED_FILES
    manifest = json.loads((run.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 8
    for name, entry in manifest["outputs"].items():
        assert entry["sha256"] == sha256(run.out / name), name
    assert hidden_leftovers(run.out) == []


# -- --debug -----------------------------------------------------------------------------------


def test_debug_raises_instead_of_one_line(cli, base, tmp_path):
    from synthworld.cli import main

    with pytest.raises(OutputExistsError, match="already holds results"):
        main(["--debug", "populate", "--out", str(base.out)])
    with pytest.raises(ConfigError, match="does not exist"):
        main(["--debug", "populate", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")])
    with pytest.raises(ConfigError, match="does not exist"):  # --debug after the command too
        main(["populate", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o"), "--debug"])
    # ... and the same mistake without --debug is one line and exit code 2.
    result = cli("populate", tmp_path / "nope.toml", "--out", tmp_path / "o")
    assert result.code == 2
    assert result.err.startswith("error: configuration file")
    assert "Traceback" not in result.err
    assert not (tmp_path / "o").exists()


def test_debug_prints_a_traceback_from_the_command_line(base):
    proc = subprocess.run(
        [sys.executable, "-m", "synthworld", "--debug", "populate", "--out", str(base.out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "OutputExistsError" in proc.stderr


# -- the population ----------------------------------------------------------------------------


def assert_household_marginals_met(households: pl.DataFrame) -> None:
    """Every household-level marginal of the demo is met exactly, cell by cell, per zone."""
    assert HOUSEHOLD_MARGINALS, "the demo has household-level marginals"
    for m in HOUSEHOLD_MARGINALS:
        target = read_marginal(m["file"])
        dims = [c for c in target.columns if c != "count"]
        achieved = households.group_by([pl.col(d).cast(pl.String) for d in dims]).agg(
            pl.len().cast(pl.Int64).alias("achieved")
        )
        joined = target.join(achieved, on=dims, how="full", coalesce=True).fill_null(0)
        off = joined.filter(pl.col("count") != pl.col("achieved"))
        assert off.height == 0, f"{m['name']}:\n{off}"


def test_household_level_marginals_met_exactly(base_households):
    assert_household_marginals_met(base_households)


def test_every_person_belongs_to_a_listed_household_in_its_zone(base_persons, base_households):
    assert base_households["household_id"].is_unique().all()
    assert base_persons["person_id"].is_unique().all()
    orphans = base_persons.join(base_households, on="household_id", how="anti")
    assert orphans.height == 0
    empty = base_households.join(base_persons, on="household_id", how="anti")
    assert empty.height == 0
    both = base_persons.select("household_id", "zone").join(
        base_households.select("household_id", pl.col("zone").alias("hh_zone")), on="household_id"
    )
    assert (both["zone"].cast(pl.String) == both["hh_zone"].cast(pl.String)).all()


def test_persons_per_household_match_household_size(base_persons, base_households):
    sizes = (
        base_persons.group_by("household_id")
        .len()
        .join(
            base_households.select("household_id", pl.col("hh_size").cast(pl.String)),
            on="household_id",
        )
    )
    assert sizes.height == base_households.height
    small = sizes.filter(pl.col("hh_size") != "6+")
    assert small.height > 0
    wrong = small.filter(pl.col("len").cast(pl.String) != pl.col("hh_size"))
    assert wrong.height == 0, wrong
    assert (sizes.filter(pl.col("hh_size") == "6+")["len"] >= 6).all()


def band_bounds(label: str, max_age: int) -> tuple[int, int]:
    if m := re.fullmatch(r"(\d+)-(\d+)", label):
        return int(m[1]), int(m[2])
    m = re.fullmatch(r"(\d+)\+", label)
    assert m, label
    return int(m[1]), max_age


def test_ages_lie_inside_their_band(base_persons):
    age = CONFIG["attributes"]["age"]
    bands = base_persons[age["band"]].cast(pl.String).unique().to_list()
    bounds = pl.DataFrame(
        {
            age["band"]: bands,
            "lo": [band_bounds(b, age["max_age"])[0] for b in bands],
            "hi": [band_bounds(b, age["max_age"])[1] for b in bands],
        }
    )
    persons = base_persons.with_columns(pl.col(age["band"]).cast(pl.String)).join(
        bounds, on=age["band"]
    )
    assert persons.height == base_persons.height
    assert persons[age["column"]].null_count() == 0
    outside = persons.filter(
        (pl.col(age["column"]) < pl.col("lo")) | (pl.col(age["column"]) > pl.col("hi"))
    )
    assert outside.height == 0, outside
    # Ages are drawn, not constant per band: the widest band shows several ages.
    assert (
        persons.group_by(age["band"]).agg(pl.col(age["column"]).n_unique())[age["column"]].max() > 1
    )


def test_categories_are_enums_with_the_marginals_labels(base_persons, base_households):
    zones = pl.read_csv(DATA / "zones.csv", infer_schema=False)["zone"].to_list()
    for frame in (base_persons, base_households):
        assert frame.schema["zone"] == pl.Enum(zones)
    age_sex = read_marginal(MARGINALS["age_sex"]["file"])
    employment = read_marginal(MARGINALS["employment"]["file"])
    sex = base_persons.schema["sex"]
    assert isinstance(sex, pl.Enum)
    assert set(sex.categories.to_list()) == set(age_sex["sex"].to_list())
    emp = base_persons.schema["employment"]
    assert isinstance(emp, pl.Enum)
    assert set(emp.categories.to_list()) == set(employment["employment"].to_list())
