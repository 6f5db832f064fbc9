"""`synthworld whatif`, `sweep` and `sensitivity` end to end, on the `toy` plugin of
``tests/test_cli_run.py`` (50 agents, one KPI ``infected``) and once on the outbreak."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.test_cli_run import install_toy

REQUIRED = ("kind", "scenario", "seed", "replicates", "parameters", "parameters_sha256",
            "version", "created")  # fmt: skip


@pytest.fixture
def toy(tmp_path, monkeypatch):
    install_toy(tmp_path, monkeypatch)
    yield tmp_path
    sys.modules.pop("toy_scenario", None)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((out / "runs").iterdir())}


# --------------------------------------------------------------------------- whatif


WHATIF = ["whatif", "toy", "--steps", 5, "--replicates", 3, "--seed", 4]


def test_whatif_writes_comparisons_replicates_kpis_and_manifest(toy, cli):
    result = cli(*WHATIF, "--policy", "more=rate=0.3", "--policy", "same=", "--out", "W")
    assert result.code == 0, result.err
    assert "Compared 2 policies with the baseline of `toy` over 3 replicates" in result.out
    assert "common random numbers): 9 runs." in result.out
    out = toy / "W"
    assert sorted(p.name for p in out.iterdir()) == [
        "comparisons.parquet", "kpis.parquet", "manifest.json", "replicates.parquet", "runs",
    ]  # fmt: skip
    m = manifest(out)
    for key in (*REQUIRED, "policies", "confidence", "common_random_numbers"):
        assert key in m, key
    assert m["kind"] == "whatif" and m["scenario"] == "toy" and m["seed"] == 4
    assert m["replicates"] == 3 and m["confidence"] == 0.95 and m["common_random_numbers"]
    assert m["policies"] == {"more": {"rate": 0.3}, "same": {}}
    assert m["parameters"] == {"agents": 50, "rate": 0.1, "steps": 5}
    assert m["complete"] is True

    comparisons = pl.read_parquet(out / "comparisons.parquet")
    assert comparisons.columns == [
        "policy", "outcome", "n", "baseline_mean", "policy_mean", "diff_mean", "diff_sd",
        "diff_se", "ci_low", "ci_high",
    ]  # fmt: skip
    same = comparisons.filter(pl.col("policy") == "same")
    assert (same["diff_mean"] == 0).all() and (same["diff_sd"] == 0).all()
    more = comparisons.filter(pl.col("policy") == "more", pl.col("outcome") == "infected_last")
    assert more["diff_mean"][0] > 0

    replicates = pl.read_parquet(out / "replicates.parquet")
    assert replicates.columns == ["arm", "replicate", "seed", "outcome", "value"]
    assert replicates.height == 3 * 3 * 2  # arms x replicates x outcomes
    kpis = pl.read_parquet(out / "kpis.parquet")
    assert kpis.columns == ["arm", "replicate", "step", "name", "value"]
    assert kpis.height == 3 * 3 * 5  # arms x replicates x steps (one KPI)
    last = kpis.filter(pl.col("step") == 4).sort("arm", "replicate")
    values = replicates.filter(pl.col("outcome") == "infected_last").sort("arm", "replicate")
    assert last["value"].to_list() == values["value"].to_list()
    # the table on screen
    assert "more" in result.out and "infected_last" in result.out and "95% CI" in result.out


def test_whatif_policy_file_is_the_same_as_policy_options(toy, cli):
    (toy / "policies.toml").write_text("[more]\nrate = 0.3\n\n[bigger]\nagents = 80\n")
    a = cli(*WHATIF, "--policy-file", "policies.toml", "--out", "A")
    b = cli(*WHATIF, "--policy", "more=rate=0.3", "--policy", "bigger=agents=80", "--out", "B")
    assert a.code == b.code == 0, a.err + b.err
    for name in ("comparisons.parquet", "replicates.parquet", "kpis.parquet"):
        assert (toy / "A" / name).read_bytes() == (toy / "B" / name).read_bytes(), name


def test_whatif_independent_seeds(toy, cli):
    result = cli(*WHATIF, "--policy", "same=", "--independent", "--out", "I")
    assert result.code == 0, result.err
    assert "independent seeds" in result.out
    table = pl.read_parquet(toy / "I" / "replicates.parquet")
    assert table.group_by("arm").agg(pl.col("seed").first()).sort("arm").rows() == [
        ("baseline", 4), ("same", 5),
    ]  # fmt: skip
    assert manifest(toy / "I")["common_random_numbers"] is False


def test_whatif_outcome_chooses_the_rows_shown(toy, cli):
    result = cli(*WHATIF, "--policy", "more=rate=0.3", "--outcome", "infected_sum")
    assert result.code == 0, result.err
    assert "infected_sum" in result.out and "infected_last" not in result.out
    assert (toy / "whatif-toy" / "comparisons.parquet").is_file()  # the default --out


# --------------------------------------------------------------------------- sweep


def test_sweep_grid_writes_design_and_results(toy, cli):
    result = cli("sweep", "toy", "--vary", "rate=0.1:0.3", "--vary", "agents=20,40",
                 "--steps", 4, "--replicates", 2, "--out", "S")  # fmt: skip
    assert result.code == 0, result.err
    assert "Ran `toy` at 6 points (grid design over rate, agents) x 2 replicates" in result.out
    out = toy / "S"
    design = pl.read_parquet(out / "design.parquet")
    assert design.columns == ["point", "rate", "agents"]
    assert design.drop("point").rows() == [
        (0.1, 20), (0.1, 40), (0.2, 20), (0.2, 40), (0.3, 20), (0.3, 40),
    ]  # fmt: skip
    results = pl.read_parquet(out / "results.parquet")
    assert results.columns == ["point", "replicate", "seed", "outcome", "value"]
    assert results.height == 6 * 2 * 2
    m = manifest(out)
    for key in (*REQUIRED, "design", "vary"):
        assert key in m, key
    assert m["kind"] == "sweep" and m["design"] == "grid" and m["replicates"] == 2
    assert m["vary"] == {
        "rate": {"low": 0.1, "high": 0.3, "type": "number"},
        "agents": {"values": [20, 40]},
    }
    # the summary: one line per point with its values
    lines = [line.split() for line in result.out.splitlines()]
    assert ["5", "0.3", "40"] in [line[:3] for line in lines]


def test_sweep_lhs_points(toy, cli):
    result = cli("sweep", "toy", "--vary", "rate=0:0.5", "--design", "lhs", "--points", 8,
                 "--steps", 3, "--replicates", 1, "--out", "L")  # fmt: skip
    assert result.code == 0, result.err
    rate = pl.read_parquet(toy / "L" / "design.parquet")["rate"].to_numpy()
    assert sorted(np.floor(rate / 0.5 * 8).astype(int)) == list(range(8))
    assert manifest(toy / "L")["design_settings"] == {"points": 8, "seed": 42}


def test_rerun_resumes_and_skips_the_finished_runs(toy, cli):
    args = ["sweep", "toy", "--vary", "rate=0.1:0.4", "--steps", 4, "--replicates", 2,
            "--points", 4, "--out", "R"]  # fmt: skip
    first = cli(*args)
    assert first.code == 0, first.err
    out = toy / "R"
    finished = manifest(out)["finished"]
    assert len(finished) == 8 and len(mtimes(out)) == 8
    results = (out / "results.parquet").read_bytes()

    # as a run interrupted after five runs leaves it: three runs missing, no tables yet
    m = manifest(out)
    lost = finished[5:]
    m["finished"], m["complete"] = finished[:5], False
    del m["outputs"]
    (out / "manifest.json").write_text(json.dumps(m))
    for run in lost:
        (out / "runs" / f"{run}.outcomes.parquet").unlink()
    (out / "results.parquet").unlink()
    (out / "design.parquet").unlink()
    kept = mtimes(out)

    again = cli(*args)
    assert again.code == 0, again.err
    assert "8 runs, 5 of them finished before and reused from R/" in again.out
    now = mtimes(out)
    assert {k: now[k] for k in kept} == kept, "finished runs were run again"
    assert sorted(set(now) - set(kept)) == [f"{run}.outcomes.parquet" for run in lost]
    assert (out / "results.parquet").read_bytes() == results
    assert manifest(out)["complete"] is True and manifest(out)["finished"] == finished

    # finished: a third run computes nothing
    third = cli(*args)
    assert third.code == 0 and "reused" in third.out
    assert mtimes(out) == now


def test_rerun_with_other_arguments_is_refused_unless_overwrite(toy, cli):
    args = ["sweep", "toy", "--vary", "rate=0.1:0.4", "--steps", 4, "--replicates", 1,
            "--out", "R"]  # fmt: skip
    assert cli(*args).code == 0
    before = (toy / "R" / "results.parquet").read_bytes()
    refused = cli(*args[:-2], "--seed", 5, "--out", "R")
    assert refused.code == 2
    assert "error: output folder `R` holds another experiment: its `seed` is 42, this one's " \
           "is 5. Hint: rerun with the same arguments to resume it" in refused.err  # fmt: skip
    assert (toy / "R" / "results.parquet").read_bytes() == before
    other = cli("whatif", "toy", "--policy", "p=rate=0.2", "--replicates", 2, "--out", "R")
    assert other.code == 2 and 'its `kind` is "sweep"' in other.err
    replaced = cli(*args[:-2], "--seed", 5, "--out", "R", "--overwrite")
    assert replaced.code == 0, replaced.err
    assert manifest(toy / "R")["seed"] == 5
    assert not [p for p in toy.iterdir() if p.name.startswith(".R")], "old folder removed"


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_morris_and_sobol(toy, cli):
    result = cli("sensitivity", "toy", "--vary", "rate=0.05:0.3", "--vary", "agents=20:80",
                 "--method", "morris", "--samples", 4, "--steps", 4, "--out", "M")  # fmt: skip
    assert result.code == 0, result.err
    assert "Morris sensitivity of `toy` to rate, agents: 12 samples x 1 replicate" in result.out
    assert "mu_star" in result.out
    out = toy / "M"
    indices = pl.read_parquet(out / "indices.parquet")
    assert indices.columns == ["parameter", "outcome", "index", "value", "conf"]
    assert set(indices["index"]) == {"mu_star", "mu", "sigma"}
    assert set(indices["parameter"]) == {"rate", "agents"}
    design = pl.read_parquet(out / "design.parquet")
    assert design.height == 4 * 3 and design.schema["agents"] == pl.Int64
    assert pl.read_parquet(out / "results.parquet").columns == [
        "point", "replicate", "seed", "outcome", "value",
    ]  # fmt: skip
    m = manifest(out)
    for key in (*REQUIRED, "method", "vary"):
        assert key in m, key
    assert m["kind"] == "sensitivity" and m["method"] == "morris"
    assert m["vary"]["agents"] == {"low": 20, "high": 80, "type": "integer"}

    sobol = cli("sensitivity", "toy", "--vary", "rate=0.05:0.3", "--samples", 8,
                "--steps", 4, "--outcome", "infected_sum", "--out", "SO")  # fmt: skip
    assert sobol.code == 0, sobol.err
    assert "S1 (+/-)" in sobol.out and "infected_last" not in sobol.out
    assert pl.read_parquet(toy / "SO" / "design.parquet").height == 8 * (1 + 2)
    assert set(pl.read_parquet(toy / "SO" / "indices.parquet")["index"]) == {"S1", "ST"}


# --------------------------------------------------------------------------- bad input


BAD_INPUT = [
    ("sweep toy --vary rat=0.1:0.2", "unknown parameter `rat`. Hint: did you mean `rate`?"),
    ("sweep toy --vary rate=0.1:", "vary `rate`: expected LOW:HIGH (two numbers)"),
    ("sweep toy --vary rate=0.1-0.2", "parameter `rate` expects a number, found '0.1-0.2'"),
    ("sweep toy --vary rate", "vary `rate`: expected KEY=LOW:HIGH or KEY=V1,V2"),
    ("sweep toy --vary rate=0.3:0.1", "LOW must be below HIGH, got 0.3:0.1. Hint: rate=0.1:0.3"),
    ("sweep toy --vary rate=0.2:0.2", "LOW must be below HIGH"),
    ("sweep toy --vary rate=low:0.3", "vary `rate`: LOW `low` is not a number"),
    ("sweep toy --vary agents=a,b", "parameter `agents` expects a whole number, found 'a'"),
    ("sweep toy --vary agents=1.5:9", "the parameter is a whole number, but LOW is `1.5`"),
    ("sweep toy --vary rate=0:2", "`rate` = 2.0 is out of range: expected a value in [0, 1]"),
    ("sweep toy --vary rate=0:1 --set agnts=3", "unknown parameter `agnts`. Hint: did you mean"),
    ("sensitivity toy --vary rate=0.1,0.2", "needs a range LOW:HIGH for each parameter, but"),
    ("sensitivity toy --vary rate=0:1 --samples 12", "power of two base samples"),
    ("whatif toy", "whatif needs at least one policy"),
    ("whatif toy --policy fast", "--policy `fast`: expected NAME=KEY=VALUE"),
    ("whatif toy --policy fast=rate", "`rate` is not KEY=VALUE"),
    ("whatif toy --policy fast=rat=0.2", "policy `fast`: unknown parameter `rat`. Hint: did you"),
    ("whatif toy --policy a=rate=0.2 --policy a=rate=0.3", "policy `a` is given twice"),
    ("whatif toy --policy baseline=rate=0.2", "policy names must be non-empty strings other"),
    ("whatif toy --policy-file none.toml", "policy file `none.toml` does not exist"),
    (
        "whatif toy --policy a=rate=0.2 --steps 2 --replicates 2 --outcome infectd_sum",
        "unknown outcome `infectd_sum` (the results are in whatif-toy/). Hint: did you mean",
    ),
    ("sweep tooy --vary rate=0:1", "unknown scenario `tooy`. Hint: did you mean `toy`?"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_gets_one_clear_line(toy, cli, args, message):
    result = cli(*args.split())
    assert result.code == 2, result.out
    assert result.err.startswith("error: "), result.err
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_bad_policy_file(toy, cli):
    (toy / "p.toml").write_text("rate = 0.2\n")
    result = cli("whatif", "toy", "--policy-file", "p.toml")
    assert result.code == 2
    assert "policy file `p.toml`: `rate` must be a table of parameter changes" in result.err


def test_missing_vary_is_a_usage_error(toy, cli):
    result = cli("sweep", "toy")
    assert result.code == 2 and "Missing option '-v' / '--vary'" in result.err


def test_help_texts_have_examples(cli):
    for command, example in [
        ("whatif", "synthworld whatif outbreak --steps 60 --policy vaccinate="),
        ("sweep", "synthworld sweep outbreak --vary beta_community=0.01:0.04"),
        ("sensitivity", "synthworld sensitivity outbreak --vary beta_community=0.01:0.04"),
    ]:
        result = cli(command, "--help")
        assert result.code == 0
        assert "Examples:" in result.out and example in result.out, command
        assert "--replicates" in result.out and "--overwrite" in result.out


# --------------------------------------------------------------------------- outbreak


def test_whatif_on_the_outbreak_keeps_kpis_by_zone_and_age(tmp_path, cli):
    out = tmp_path / "W"
    result = cli("whatif", "outbreak", "--steps", 3, "--replicates", 2, "--out", out,
                 "--policy", "distance=contact_reduction.community=0.5", "--outcome",
                 "new_infections_sum")  # fmt: skip
    assert result.code == 0, result.err
    kpis = pl.read_parquet(out / "kpis.parquet")
    assert kpis.columns == ["arm", "replicate", "step", "name", "value", "zone", "age_band"]
    assert set(kpis["arm"]) == {"baseline", "distance"}
    assert kpis.filter(pl.col("zone").is_not_null()).height > 0
    m = manifest(out)
    assert m["policies"] == {"distance": {"contact_reduction.community": 0.5}}
    assert m["parameters"]["days"] == 3


def test_policies_in_another_order_are_another_experiment(toy, cli):
    args = [*WHATIF, "--replicates", 2, "--out", "O"]
    assert cli(*args, "--policy", "a=rate=0.2", "--policy", "b=rate=0.3").code == 0
    swapped = cli(*args, "--policy", "b=rate=0.3", "--policy", "a=rate=0.2")
    assert swapped.code == 2 and "its `policies` is" in swapped.err
