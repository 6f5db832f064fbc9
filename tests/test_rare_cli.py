"""`synthworld rare`: files, summary, resuming from --out, and its error messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

# I (infectious) reaches 22 within 6 days in about 40% of runs of the demo city.
EVENT = ["rare", "outbreak", "--kpi", "I", "--threshold", "22", "--steps", "6"]
MC = [*EVENT, "--batch-size", "1", "--target", "0.05"]


def read(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def whole(invoke_cli, tmp_path_factory):
    """Three runs of Monte Carlo in batches of one, uninterrupted: (folder, CLI result)."""
    out = tmp_path_factory.mktemp("rare") / "whole"
    result = invoke_cli([*MC, "--max-runs", "3", "-o", str(out)])
    assert result.code == 0, result.err
    return out, result


def copy_of(whole, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(whole[0], out)
    return out


def test_monte_carlo_writes_the_result_runs_and_manifest(whole):
    out, result = whole
    assert "P(peak I >= 22 within 6 steps of `outbreak`), seed 42, by Monte Carlo" in result.out
    assert "estimate" in result.out and "95% interval" in result.out
    assert "The target relative error was not reached: raise --max-runs" in result.out
    rare = read(out, "rare.json")
    runs = pl.read_parquet(out / "runs.parquet")
    assert runs.columns == ["run", "max_score", "hit", "steps"]
    assert runs["run"].to_list() == [0, 1, 2]
    assert rare["runs"] == 3 and rare["details"]["hits"] == runs["hit"].sum()
    assert rare["estimate"] == runs["hit"].mean()
    assert rare["ci_low"] <= rare["estimate"] <= rare["ci_high"]
    assert (runs.filter(pl.col("hit"))["max_score"] >= 22).all()
    assert (runs.filter(~pl.col("hit"))["max_score"] < 22).all()
    assert (runs.filter(~pl.col("hit"))["steps"] == 6).all()
    manifest = read(out, "manifest.json")
    assert manifest["kind"] == "rare" and manifest["finished"]
    assert [b["runs"] for b in manifest["batches"]] == [1, 1, 1]
    assert manifest["parameters"]["days"] == 6 and manifest["design"] == {"batch_size": 1}
    assert manifest["result"]["estimate"] == rare["estimate"]


def test_a_rerun_resumes_from_the_finished_batches(cli, whole, tmp_path):
    cut = tmp_path / "cut"
    assert cli(*MC, "--max-runs", "1", "-o", cut).code == 0  # as if stopped after batch 0
    first = pl.read_parquet(cut / "runs.parquet")
    resumed = cli(*MC, "--max-runs", "3", "-o", cut)
    assert resumed.code == 0, resumed.err
    assert "(1 resumed from --out)" in resumed.out
    assert read(cut, "rare.json") == read(whole[0], "rare.json")
    runs = pl.read_parquet(cut / "runs.parquet")
    assert runs.equals(pl.read_parquet(whole[0] / "runs.parquet"))
    assert runs.head(1).equals(first)


def test_a_finished_run_reruns_from_its_manifest_alone(cli, whole, tmp_path):
    out = copy_of(whole, tmp_path)
    manifest = read(out, "manifest.json")
    manifest["batches"][0]["hits"] = 1  # the rerun must take batch 0 from here, not run it
    manifest["batches"][1]["hits"] = 1
    manifest["batches"][2]["hits"] = 1
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    again = cli(*MC, "--max-runs", "3", "-o", out)
    assert again.code == 0 and "(3 resumed from --out)" in again.out
    assert read(out, "rare.json")["estimate"] == 1.0


def test_other_arguments_cannot_resume_a_run(cli, whole, tmp_path):
    out = copy_of(whole, tmp_path)
    other = ["rare", "outbreak", "--kpi", "I", "--threshold", "23", "--steps", "6"]
    result = cli(*other, "--batch-size", "1", "--max-runs", "1", "-o", out)
    assert result.code == 2
    assert "holds a rare-event run with another threshold (22.0, now 23.0)" in result.err
    assert "--overwrite" in result.err
    assert read(out, "manifest.json")["threshold"] == 22.0  # untouched
    fresh = cli(*other, "--batch-size", "1", "--max-runs", "1", "-o", out, "--overwrite")
    assert fresh.code == 0 and "resumed" not in fresh.out
    assert read(out, "manifest.json")["threshold"] == 23.0
    assert sorted(p.name for p in (out / "batches").iterdir()) == ["batch-00000.parquet"]


def test_a_folder_with_other_files_is_refused(cli, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = cli(*MC, "--max-runs", "1", "-o", out)
    assert result.code == 2 and "already holds results" in result.err
    assert (out / "notes.txt").read_text() == "mine"


def test_a_misspelt_kpi_is_named_and_nothing_is_written(cli, whole, tmp_path):
    out = tmp_path / "typo"
    result = cli("rare", "outbreak", "--kpi", "hospital", "--threshold", "5", "-o", out)
    assert result.code == 2
    assert "no KPI `hospital`" in result.err and "Hint:" in result.err
    assert not out.exists()
    kept = copy_of(whole, tmp_path)  # --overwrite deletes nothing before a batch has finished
    args = ["--threshold", "5", "-o", kept, "--overwrite"]
    assert cli("rare", "outbreak", "--kpi", "hospital", *args).code == 2
    assert read(kept, "rare.json") == read(whole[0], "rare.json")


def test_splitting_writes_one_row_per_batch(cli, tmp_path):
    out = tmp_path / "split"
    result = cli(
        *EVENT, "--method", "splitting", "--particles", "2", "--min-batches", "2",
        "--max-batches", "2", "-o", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "by splitting" in result.out and "2 per batch" in result.out
    rare = read(out, "rare.json")
    assert rare["method"] == "splitting" and rare["batches"] == 2
    assert len(rare["details"]["batch_estimates"]) == 2
    runs = pl.read_parquet(out / "runs.parquet")
    assert runs["batch"].to_list() == [0, 1]
    assert runs["estimate"].mean() == pytest.approx(rare["estimate"])
    assert read(out, "manifest.json")["design"] == {"particles": 2, "k": 1}


def test_help_explains_the_methods_with_examples(cli):
    result = cli("rare", "--help")
    assert result.code == 0
    for text in ("monte-carlo", "splitting", "--target", "Examples:", "resum"):
        assert text in result.out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threshold", "5"], "Missing option '--kpi'"),
        (["--kpi", "H", "--threshold", "5", "--target", "0"], "--target"),
        (["--kpi", "H", "--threshold", "5", "--method", "magic"], "--method"),
        (["--kpi", "H", "--threshold", "5", "--set", "dayz=3"], "unknown parameter"),
    ],
)
def test_bad_arguments_are_named(cli, args, message):
    result = cli("rare", "outbreak", *args)
    assert result.code == 2 and message in result.err
