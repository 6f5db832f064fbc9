"""`synthworld report` end to end: from the folders `synthworld run` and the experiments write
to an HTML file, and every user mistake as one line with exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.abm.test_report_folders import write_replicates, write_whatif


@pytest.fixture(scope="module")
def whatif_dir(tmp_path_factory) -> Path:
    return write_whatif(tmp_path_factory.mktemp("cli") / "halve", n=4)


@pytest.fixture
def whatif_copy(whatif_dir, tmp_path) -> Path:
    copy = tmp_path / "halve"
    shutil.copytree(whatif_dir, copy)
    return copy


def test_report_of_a_run_written_by_synthworld_run(cli, tmp_path):
    run = tmp_path / "run1"
    assert cli("run", "outbreak", "--steps", "6", "--out", run).code == 0
    result = cli("report", run, "--label", "D=deaths", "--label", "H=in hospital")
    assert result.code == 0, result.err
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Wrote " in result.out and "report.html (" in result.out and "3 figures" in result.out
    assert "Deaths at the end of the 6 days:" in page
    assert "In hospital at the end of the 6 days:" in page
    manifest = json.loads((run / "manifest.json").read_text())
    assert f"Random seed</dt><dd>{manifest['seed']}</dd>" in page


def test_report_of_replicates_and_a_whatif(cli, tmp_path, whatif_copy):
    reps = write_replicates(tmp_path / "reps", n=3)
    out = tmp_path / "reports" / "reps.html"
    assert cli("report", reps, "--out", out, "--title", "Three flus").code == 0
    assert "<title>Three flus</title>" in out.read_text(encoding="utf-8")
    result = cli("report", whatif_copy, "--outcome", "new_cases_sum")
    assert result.code == 0, result.err
    page = (whatif_copy / "report.html").read_text(encoding="utf-8")
    assert "reduces new cases over the 30 steps by" in page
    assert "ill at the end" not in page.split("<h2>Effects</h2>")[0]


def test_an_existing_report_is_kept_unless_overwrite(cli, whatif_copy):
    assert cli("report", whatif_copy).code == 0
    before = (whatif_copy / "report.html").read_text()
    result = cli("report", whatif_copy, "--title", "Other")
    assert result.code == 2
    assert "report.html` exists already. Hint: pass --overwrite" in result.err
    assert (whatif_copy / "report.html").read_text() == before
    assert cli("report", whatif_copy, "--title", "Other", "--overwrite").code == 0
    assert "<title>Other</title>" in (whatif_copy / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "new_case_sum"], "unknown outcome `new_case_sum` for this what-if. "
         "Hint: did you mean `new_cases_sum`?"),
        (["--label", "D"], "--label expects NAME=WORDS, got `D`. Hint: --label D=deaths"),
        (["--out", "."], "is a folder. Hint: give a file name"),
    ],
    ids=["unknown-outcome", "bad-label", "out-is-folder"],
)  # fmt: skip
def test_user_mistakes_are_one_line(cli, whatif_copy, args, message):
    result = cli("report", whatif_copy, *args)
    assert result.code == 2
    assert result.err.startswith("error: ") and message in result.err
    assert "Traceback" not in result.err
    assert not (whatif_copy / "report.html").exists()


def test_folders_that_are_not_results(cli, tmp_path):
    result = cli("report", tmp_path / "nope")
    assert result.code == 2 and "does not exist" in result.err
    population = tmp_path / "pop"
    population.mkdir()
    (population / "manifest.json").write_text('{"command": "populate"}')
    result = cli("report", population)
    assert result.code == 2
    assert "holds a synthetic population" in result.err and "synthworld validate" in result.err


def test_help_explains_with_examples(cli):
    result = cli("report", "--help")
    assert result.code == 0
    for text in ("RUN_DIR", "--out", "--label", "--outcome", "Examples:", "synthworld report"):
        assert text in result.out, text
