"""`synthworld privacy` and the privacy section of `synthworld populate`: report, JSON, checks
with their exit codes (0 pass, 1 a threshold fails, 2 bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from populations.demo import load_demo
from populations.privacy import disclosure_risk, records

DATA = Path(__file__).resolve().parents[1] / "populations" / "demo" / "data"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, invoke_cli):
    out = tmp_path_factory.mktemp("plain") / "pop"
    result = invoke_cli(["populate", "--out", str(out), "--seed", "5"], columns=120)
    assert result.code == 0, result.err
    return out, result


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory, invoke_cli):
    out = tmp_path_factory.mktemp("protected") / "pop"
    args = ["populate", "--out", str(out), "--seed", "5", "--protect", "uniques"]
    result = invoke_cli(args, columns=120)
    assert result.code == 0, result.err
    return out, result


def fit_report(folder: Path) -> dict:
    return json.loads((folder / "fit_report.json").read_text(encoding="utf-8"))


def test_populate_reports_the_disclosure_risk(plain):
    out, result = plain
    assert "Disclosure risk of" in result.out
    assert "seed uniques replicated" in result.out
    risk = fit_report(out)["privacy"]["disclosure"]
    seed = load_demo().seed
    persons = pl.read_parquet(out / "persons.parquet")
    households = pl.read_parquet(out / "households.parquet")
    again = disclosure_risk(records(persons, households), records(seed.persons, seed.households))
    expected = again.to_dict()
    for key in ("quasi_identifiers", "identical", "sample_uniques", "k_anonymity"):
        assert risk[key] == expected[key], key
    assert risk["quasi_identifiers"] == [
        "age_band",
        "sex",
        "district",
        "hh_size",
        "employment",
        "income_band",
    ]
    assert "protection" not in fit_report(out)["privacy"]


def test_privacy_prints_the_report_and_writes_json(plain, cli, tmp_path):
    out, _ = plain
    path = tmp_path / "risk.json"
    result = cli("privacy", out, "--seed-sample", "demo", "--json", path)
    assert result.code == 0, result.err
    assert "Gower distance to the closest record" in result.out
    assert "`income_band` is derived" in result.out
    data = json.loads(path.read_text(encoding="utf-8"))
    risk = fit_report(out)["privacy"]["disclosure"]
    for key in ("records", "identical", "sample_uniques", "distance_to_closest_record"):
        assert data[key] == risk[key], key
    assert data["checks"] == []
    replicated = data["sample_uniques"]["replicated"]
    assert f"{replicated:,} of {data['sample_uniques']['seed_uniques']:,}" in result.out


def test_a_failed_threshold_exits_1_after_reporting(plain, cli, tmp_path):
    out, _ = plain
    path = tmp_path / "risk.json"
    result = cli(
        "privacy", out, "--seed-sample", "demo", "--max-replicated-uniques", "0", "--json", path
    )
    assert result.code == 1
    assert result.err.startswith("privacy check failed: ")
    data = json.loads(path.read_text(encoding="utf-8"))
    replicated = data["sample_uniques"]["replicated"]
    assert replicated > 0
    assert f"{replicated:,} replicated sample uniques" in result.err
    assert data["checks"] == [
        {"name": "replicated_uniques", "value": replicated, "limit": 0, "passed": False}
    ]
    assert "FAIL" in result.out and "Disclosure risk of" in result.out


def test_thresholds_that_hold_exit_0(plain, cli):
    out, _ = plain
    result = cli(
        "privacy",
        out,
        "--seed-sample",
        "demo",
        "--max-replicated-uniques",
        "100000",
        "--min-k",
        "1",
        "--max-identical-share",
        "1",
    )
    assert result.code == 0, result.err
    assert result.out.count("pass") == 3


def test_protected_population_passes_the_replicated_uniques_check(protected, cli):
    out, result = protected
    assert "Fit before and after protection" in result.out
    assert "before protection" in result.out
    privacy = fit_report(out)["privacy"]
    assert privacy["within_tolerance"] is True
    assert privacy["protection"]["resampled_uniques"]["unresolved"] == 0
    assert privacy["disclosure"]["sample_uniques"]["replicated"] == 0
    assert privacy["disclosure_before"]["sample_uniques"]["replicated"] > 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["privacy"]["resample_uniques"] is True
    check = cli("privacy", out, "--seed-sample", "demo", "--max-replicated-uniques", "0")
    assert check.code == 0, check.err
    assert "0 replicated sample uniques" in check.out


def test_help_lists_the_options_and_examples(cli):
    result = cli("privacy", "--help")
    assert result.code == 0
    for option in ("--seed-sample", "--qi", "--max-replicated-uniques", "--min-k", "--json"):
        assert option in result.out, option
    assert "synthworld privacy demo-population --seed-sample demo" in result.out
    assert "privacy" in cli("--help").out
    assert "--protect" in cli("populate", "--help").out


# -- bad input: one line, exit code 2 ----------------------------------------------------------


def seed_files(tmp_path: Path, persons: pl.DataFrame | None = None) -> tuple[Path, Path]:
    p = tmp_path / "seed_persons.csv"
    h = tmp_path / "seed_households.csv"
    (persons if persons is not None else pl.read_csv(DATA / "seed_persons.csv")).write_csv(p)
    pl.read_csv(DATA / "seed_households.csv").write_csv(h)
    return p, h


def test_missing_quasi_identifiers_are_named(plain, cli):
    out, _ = plain
    result = cli("privacy", out, "--seed-sample", "demo", "--qi", "agee,sex", "--qi", "zonee")
    assert result.code == 2
    assert result.err.startswith("error: quasi-identifier(s) not found: ")
    assert "`agee` is not in the synthetic population nor the seed sample" in result.err
    assert "did you mean `age`?" in result.err
    assert "`zonee` is not in the synthetic population nor the seed sample" in result.err
    assert "did you mean `zone`?" in result.err
    only_seed = cli("privacy", out, "--seed-sample", "demo", "--qi", "zone")
    assert only_seed.code == 2
    assert "`zone` is not in the seed sample" in only_seed.err


def test_different_labels_are_refused(plain, cli, tmp_path):
    out, _ = plain
    recoded = pl.read_csv(DATA / "seed_persons.csv").with_columns(
        pl.col("sex").replace({"female": "F", "male": "M"})
    )
    p, h = seed_files(tmp_path, recoded)
    result = cli("privacy", out, "--seed-sample", p, "--seed-households", h)
    assert result.code == 2
    assert "quasi-identifier `sex`" in result.err
    assert "synthetic only: `female`, `male`" in result.err
    assert "seed only: `F`, `M`" in result.err


def test_empty_tables_are_refused(plain, cli, tmp_path):
    out, _ = plain
    header = pl.read_csv(DATA / "seed_persons.csv").head(0)
    p, h = seed_files(tmp_path, header)
    result = cli("privacy", out, "--seed-sample", p)
    assert result.code == 2
    assert "the seed sample has no rows" in result.err
    with_households = cli("privacy", out, "--seed-sample", p, "--seed-households", h)
    assert with_households.code == 2
    assert "the seed sample has no rows" in with_households.err
    empty = tmp_path / "empty-pop"
    empty.mkdir()
    pl.read_parquet(out / "persons.parquet").head(0).write_csv(empty / "persons.csv")
    result = cli("privacy", empty, "--seed-sample", "demo")
    assert result.code == 2
    assert "the synthetic population has no rows" in result.err


def test_files_and_folders_that_do_not_fit(plain, cli, tmp_path):
    out, _ = plain
    missing = cli("privacy", out, "--seed-sample", tmp_path / "nope.csv")
    assert missing.code == 2 and "does not exist" in missing.err
    no_persons = tmp_path / "nothing"
    no_persons.mkdir()
    result = cli("privacy", no_persons, "--seed-sample", "demo")
    assert result.code == 2 and "expected a persons table" in result.err
    (no_persons / "replicate-001").mkdir()
    result = cli("privacy", no_persons, "--seed-sample", "demo")
    assert result.code == 2 and "replicate-001" in result.err
    toml = Path(__file__).resolve().parents[1] / "populations" / "demo" / "demo.toml"
    both = cli("privacy", out, "--seed-sample", toml, "--seed-households", tmp_path / "h.csv")
    assert both.code == 2 and "--seed-households goes with a persons table" in both.err
    assert cli("privacy", tmp_path / "absent", "--seed-sample", "demo").code == 2


def test_persons_csv_seed_with_households_matches_the_config(plain, cli, tmp_path):
    out, _ = plain
    p, h = seed_files(tmp_path)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert cli("privacy", out, "--seed-sample", p, "--seed-households", h, "--json", a).code == 0
    toml = Path(__file__).resolve().parents[1] / "populations" / "demo" / "demo.toml"
    assert cli("privacy", out, "--seed-sample", toml, "--json", b).code == 0
    da, db = (json.loads(x.read_text(encoding="utf-8")) for x in (a, b))
    da.pop("seconds"), db.pop("seconds")
    assert da == db
