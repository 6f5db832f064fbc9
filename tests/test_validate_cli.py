"""`synthworld validate` end to end: the demo reference passes on `synthworld populate`'s
output; data that misses the reference fails with exit code 1 and says which checks; bad input
exits with 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.abm.test_report_folders import write_replicates

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "examples" / "demo-reference.toml"


@pytest.fixture(scope="module")
def population(tmp_path_factory, invoke_cli) -> Path:
    out = tmp_path_factory.mktemp("validate") / "riverton"
    result = invoke_cli(["populate", "--out", str(out)])
    assert result.code == 0, result.err
    return out


def test_the_demo_reference_passes_on_populate_output(cli, population, tmp_path):
    report = tmp_path / "checks" / "checks.json"
    result = cli("validate", population, "--reference", REFERENCE, "--json", report)
    assert result.code == 0, result.err
    assert "All 10 checks passed." in result.out
    assert "age and sex by" in result.out and "pass" in result.out and "FAIL" not in result.out
    data = json.loads(report.read_text())
    assert data["passed"] is True and data["checks_total"] == 10 and data["checks_failed"] == 0
    first = data["checks"][0]
    assert first["name"] == "age and sex by zone" and first["statistic"] == "srmse"
    assert first["value"] <= first["threshold"] == 0.05
    assert first["data"] == "zone \u00d7 age_band \u00d7 sex"


def test_json_to_stdout_replaces_the_table(cli, population):
    result = cli("validate", population, "-r", REFERENCE, "--json", "-")
    assert result.code == 0
    data = json.loads(result.out)
    assert data["passed"] and [c["kind"] for c in data["checks"]].count("rate") == 3


def test_data_that_misses_the_reference_fails_and_says_which_checks(cli, population, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(population, broken)
    persons = pl.read_parquet(broken / "persons.parquet")
    # a generator that lost one zone's people and made everybody else employed
    persons.filter(pl.col("zone") != "Z07").with_columns(
        pl.lit("employed").cast(persons.schema["employment"]).alias("employment")
    ).write_parquet(broken / "persons.parquet")
    result = cli("validate", broken, "-r", REFERENCE, "--json", tmp_path / "out.json")
    assert result.code == 1
    line = result.err.strip()
    assert line.startswith("validation failed: ") and "checks: " in line
    for name in ("age and sex by zone", "employment by zone", "share employed"):
        assert f"`{name}` (" in line, name
    assert "`household size by zone`" not in line  # households were not touched
    assert "FAIL" in result.out
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["passed"] is False
    failed = {c["name"] for c in data["checks"] if not c["passed"]}
    assert {"age and sex by zone", "employment by zone", "share employed"} <= failed
    gaps = next(c for c in data["checks"] if c["name"] == "age and sex by zone")["details"]
    assert gaps["largest_gaps"][0]["cell"]["zone"] == "Z07"


def test_an_event_log_of_replicates_is_one_table(cli, tmp_path):
    reps = write_replicates(tmp_path / "reps", n=3)
    reference = tmp_path / "log.toml"
    reference.write_text(
        '[reference]\ntable = "events"\n\n'
        '[[check]]\nname = "all three replicates"\nkind = "frequencies"\ncolumns = "shard"\n'
        "expected = { shard = [0, 1, 2], share = [0.3333, 0.3333, 0.3333] }\n"
        'statistic = "tvd"\nthreshold = 0.2\n\n'
        '[[check]]\nname = "some recover"\nkind = "rate"\ncolumn = "event"\n'
        'equals = "recovered"\nvalue = 0.5\nthreshold = 0.5\n'
    )
    result = cli("validate", reps, "-r", reference)
    assert result.code == 0, result.err + result.out
    assert "events: shard" in result.out


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ('[[check]]\nkind = "rate"\ntable = "persons"\ncolumn = "employmnt"\nequals = "employed"\n'
         'value = 0.5\nthreshold = 0.1\n',
         "has no column `employmnt`. Hint: did you mean `employment`?"),
        ('[[check]]\nkind = "rate"\ncolumn = "sex"\nvalue = 0.5\nthreshold = 0.1\n',
         "does not say which table to read, and `"),
        ('[[check]]\nkind = "rate"\ncolumn = "sex"\nvalue = 0.5\n', "missing key `threshold`"),
        ("[[check]\n", "is not valid TOML"),
        ('[[check]]\nkind = "frequencies"\ncolumns = "sex"\nexpected = "census.csv"\n'
         'threshold = 0.1\n', "`expected` file `census.csv` not found"),
    ],
    ids=["unknown-column", "which-table", "missing-key", "not-toml", "missing-file"],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(cli, population, tmp_path, reference, message):
    path = tmp_path / "ref.toml"
    path.write_text(reference)
    result = cli("validate", population, "-r", path)
    assert result.code == 2
    assert result.err.startswith("error: ") and message in result.err
    assert "Traceback" not in result.err


def test_missing_reference_and_unreadable_data(cli, population, tmp_path):
    result = cli("validate", population, "-r", tmp_path / "nope.toml")
    assert result.code == 2 and "reference file" in result.err and "not found" in result.err
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 but not really")
    reference = tmp_path / "ref.toml"
    reference.write_text('[[check]]\nkind = "rate"\ncolumn = "x"\nvalue = 0.5\nthreshold = 0.1\n')
    result = cli("validate", junk, "-r", reference)
    assert result.code == 2 and "cannot read junk.parquet" in result.err
    result = cli("validate", population)
    assert result.code == 2 and "--reference" in result.err


def test_help_explains_the_kinds_and_exit_codes(cli):
    result = cli("validate", "--help")
    assert result.code == 0
    for text in ("OUTPUT", "--reference", "--json", "frequencies", "distribution", "correlation",
                 "rate", "Exit code", "Examples:"):  # fmt: skip
        assert text in result.out, text
