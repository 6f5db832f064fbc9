"""HTML reports (`abm.report`): the numbers and sentences they print, for every kind of folder,
checked against the data they come from; the page is self-contained and escaped."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib import image
from scipy import stats

from abm.report import build_report, read_results, summaries, write_report
from abm.report.wording import (
    Steps,
    effect_sentence,
    fmt_interval,
    fmt_percent,
    outcome_label,
    spread_sentence,
)
from populations.errors import ConfigError, OutputExistsError
from tests.abm.test_report_folders import (
    write_replicates,
    write_sensitivity,
    write_sweep,
    write_whatif,
)


def text_of(page: str) -> str:
    """The page's visible text, one space between words."""
    body = re.sub(r"<(style|pre)>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


def images(page: str) -> list[np.ndarray]:
    uris = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    return [image.imread(io.BytesIO(base64.b64decode(u)), format="png") for u in uris]


@pytest.fixture(scope="module")
def whatif_dir(tmp_path_factory) -> Path:
    return write_whatif(tmp_path_factory.mktemp("report") / "halve")


@pytest.fixture(scope="module")
def whatif_page(whatif_dir) -> str:
    return build_report(whatif_dir, labels={"new_cases": "new flu cases"})


# --------------------------------------------------------------------------- wording


ROW = {"n": 20, "baseline_mean": 12000.0, "policy_mean": 8587.3, "diff_mean": -3412.7,
       "diff_sd": 1000.0, "ci_low": -3912.0, "ci_high": -2913.0}  # fmt: skip


def test_a_reduction_reads_as_positive_amounts_rounded_to_its_uncertainty():
    s = effect_sentence("Vaccinating 60% from day 20", "new infections over 100 days", ROW, 0.95)
    assert s.startswith(
        "Vaccinating 60% from day 20 reduces new infections over 100 days by 3,400 (95% "
        "interval 2,900 to 3,900), or 28%: from 12,000 to 8,600 on average over 20 paired runs."
    )


def test_an_increase_a_null_effect_and_no_change():
    up = {**ROW, "diff_mean": 50.0, "ci_low": 10.0, "ci_high": 90.0, "policy_mean": 12050.0}
    assert " increases x by 50 (90% interval 10 to 90), or 0.42%" in effect_sentence(
        "P", "x", up, 0.9
    )
    unclear = {**ROW, "diff_mean": -20.0, "ci_low": -60.0, "ci_high": 20.0}
    s = effect_sentence("P", "x", unclear, 0.95)
    assert "has no clear effect on x: the change is -20 (95% interval -60 to 20, which " in s
    same = {**ROW, "diff_mean": 0.0, "diff_sd": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert "leaves x unchanged in every one of the 20 paired runs" in effect_sentence(
        "P", "x", same, 0.95
    )
    one = {**ROW, "n": 1, "diff_sd": float("nan"), "ci_low": float("nan"),
           "ci_high": float("nan")}  # fmt: skip
    assert "too few runs for an interval" in effect_sentence("P", "x", one, 0.95)


def test_rounding_and_labels():
    assert fmt_interval(0.012345, 0.0083, 0.0163) == ("0.012", "0.008", "0.016")
    assert fmt_interval(123456.0, 100000.0, 150000.0) == ("120,000", "100,000", "150,000")
    assert fmt_interval(12.0, 10.5, 13.5) == ("12.0", "10.5", "13.5")  # half-width 1.5
    assert fmt_percent(-0.5) == "50%"
    steps = Steps(60, "day")
    assert outcome_label("new_cases_sum", steps) == "new cases over the 60 days"
    assert outcome_label("ill_last", steps) == "ill at the end of the 60 days"
    assert outcome_label("ill_sum", Steps()) == "ill, summed over the run"
    assert outcome_label("score", steps, {"score": "the score"}) == "the score"


def test_spread_of_many_runs_is_their_middle_90_percent():
    values = list(range(100, 120))  # 20 runs
    s = spread_sentence("cases", values, mean_ci=(105.0, 114.0))
    lo, hi = np.quantile(values, [0.05, 0.95])
    assert s.startswith("Cases: 110 on average (95% interval 105 to 114)")
    assert f"90% of the 20 runs fell between {lo:.0f} and {hi:.0f}." in s
    assert spread_sentence("cases", [3.0, 3.0]) == "Cases: 3 in every one of the 2 runs."
    # counts cannot be negative: a lower bound below zero is shown as 0
    assert "(95% interval 0 to" in spread_sentence("deaths", [0, 0, 2], mean_ci=(-1.5, 2.8))


# --------------------------------------------------------------------------- summaries


def test_bands_paired_and_peaks_by_hand():
    whole = pl.DataFrame(
        {
            "arm": ["baseline"] * 6 + ["p"] * 6,
            "replicate": [0, 0, 1, 1, 2, 2] * 2,
            "step": [0, 1] * 6,
            "name": ["x"] * 12,
            "value": [1.0, 5.0, 2.0, 7.0, 3.0, 6.0, 1.0, 2.0, 2.0, 4.0, 3.0, 2.0],
        }
    )
    b = summaries.bands(whole).filter(pl.col("arm") == "baseline", pl.col("step") == 1)
    assert b.select("mean", "low", "high").row(0) == (6.0, 5.0, 7.0)
    d = summaries.paired(whole, ["name", "step"], baseline="baseline", confidence=0.95)
    row = d.filter(pl.col("step") == 1).row(0, named=True)
    diffs = np.array([2 - 5, 4 - 7, 2 - 6.0])
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(diffs.mean())
    assert (row["low"], row["high"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    out = summaries.run_outcomes(whole).filter(
        pl.col("arm") == "baseline", pl.col("replicate") == 1
    )
    assert out.select("last", "sum", "peak", "peak_step").row(0) == (7.0, 9.0, 7.0, 1)
    assert "middle 90% of the 10 runs" in summaries.band_rule(10)


# --------------------------------------------------------------------------- what-if


def test_whatif_headline_matches_the_comparisons(whatif_dir, whatif_page):
    text = text_of(whatif_page)
    row = (
        pl.read_parquet(whatif_dir / "comparisons.parquet")
        .filter(pl.col("policy") == "halve", pl.col("outcome") == "new_cases_sum")
        .row(0, named=True)
    )
    assert row["ci_high"] < 0  # halving the rate clearly reduces cases
    mean, lo, hi = fmt_interval(-row["diff_mean"], -row["ci_high"], -row["ci_low"])
    assert (
        f"The policy \u201chalve\u201d reduces new flu cases over the 30 steps by {mean} (95% "
        f"interval {lo} to {hi})"
    ) in text
    assert "The policy \u201csame\u201d changes none of the outcomes" in text
    assert "rate from 0.03 to 0.015" in text
    for heading in ("What was run", "Headline", "Effects", "Over time", "By zone",
                    "Assumptions", "Manifest"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in whatif_page
    assert "Common random numbers" in text and "2026-01-02T03:04:05+00:00" in text


def test_the_page_is_self_contained_and_its_figures_are_drawn(whatif_page):
    assert whatif_page.startswith('<!doctype html>\n<html lang="en"><head><meta charset')
    assert "Content-Security-Policy" in whatif_page and "<script" not in whatif_page
    assert not re.search(r'(src|href)="(?!data:image/png|#)', whatif_page)
    assert "http://" not in whatif_page and "https://" not in whatif_page
    pictures = images(whatif_page)
    assert len(pictures) == 4  # effects, arms over time, differences over time, by zone
    for pixels in pictures:
        ink = (pixels[..., :3] < 0.9).any(axis=-1).mean()
        assert 0.01 < ink < 0.6, ink
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20


def test_names_are_escaped(tmp_path, whatif_dir):
    copy = tmp_path / "copy"
    shutil.copytree(whatif_dir, copy)
    evil = "<b onclick=x>&halve"
    for name in ("comparisons", "kpis"):
        frame = pl.read_parquet(copy / f"{name}.parquet")
        col = "policy" if name == "comparisons" else "arm"
        frame.with_columns(pl.col(col).replace("halve", evil)).write_parquet(
            copy / f"{name}.parquet"
        )
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["policies"] = {evil: manifest["policies"]["halve"], "same": {}}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    page = build_report(copy)
    assert "<b onclick" not in page
    assert "&lt;b onclick=x&gt;&amp;halve" in page


def test_choosing_outcomes_and_unknown_ones(whatif_dir):
    text = text_of(build_report(whatif_dir, outcomes=["ill_sum"]))
    assert "reduces ill, summed over the 30 steps by" in text
    assert "new cases over the 30 steps by" not in text
    with pytest.raises(ConfigError, match="unknown outcome `ill_summ`.*did you mean `ill_sum`"):
        build_report(whatif_dir, outcomes=["ill_summ"])


# --------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def outbreak_run(tmp_path_factory, demo_population) -> Path:
    """One run of the outbreak on every tenth household of the demo city, written by the
    scenario's own event log (as `synthworld run` writes it)."""
    from abm.params import read_params
    from scenarios.outbreak import SCENARIO

    one = tmp_path_factory.mktemp("runs") / "one"
    persons = demo_population[1].persons.filter(pl.col("household_id") % 10 == 0)
    params = read_params(SCENARIO.parameters, overrides=["days=12", "initial_infections=40"])
    with SCENARIO.build(params, seed=4, out=one, persons=persons, create_views=False) as model:
        model.run(12)
    return one


def test_a_run_report_states_the_runs_own_numbers(outbreak_run):
    one = outbreak_run
    page = build_report(one, labels={"D": "deaths"})
    text = text_of(page)
    kpis = pl.read_parquet(one / "kpis.parquet").filter(pl.col("zone").is_null(),
                                                        pl.col("age_band").is_null())  # fmt: skip
    total = int(kpis.filter(pl.col("name") == "new_infections")["value"].sum())
    deaths = int(kpis.filter(pl.col("name") == "D", pl.col("step") == 11)["value"][0])
    assert f"New infections over the 12 days: {total:,}." in text
    assert f"Deaths at the end of the 12 days: {deaths:,}." in text
    assert "outbreak (SEIR epidemic" in text and "12 days" in text
    assert "<h2>By zone</h2>" in page and "<h2>By age band</h2>" in page
    assert "beta_household" in text and "/contact-day" in text  # assumptions with units
    assert len(images(page)) == 3


def test_a_replicates_report_gives_means_intervals_and_spread(tmp_path):
    folder = read_results(write_replicates(tmp_path / "reps", n=4))
    assert folder.kind == "replicates" and folder.kpis["replicate"].n_unique() == 4
    page = build_report(folder)
    text = text_of(page)
    whole = summaries.whole_run(folder.kpis).filter(pl.col("name") == "new_cases")
    totals = whole.group_by("replicate").agg(pl.col("value").sum())["value"].sort().to_list()
    mean, lo, hi = summaries.t_interval(np.array(totals), 0.95)
    m, a, b = fmt_interval(mean, lo, hi)
    assert (
        f"New cases over the 20 steps: {m} on average (95% interval {a} to {b}); the 4 runs "
        f"ranged from {int(totals[0]):,} to {int(totals[-1]):,}."
    ) in text
    assert "the shaded band spans the 4 runs, lowest to highest" in text
    assert "<h2>By zone</h2>" in page and "Replicates 4" in text


def test_write_report_default_place_and_overwrite(whatif_dir, tmp_path):
    target = tmp_path / "one"
    shutil.copytree(whatif_dir, target)
    path = write_report(target, title="Day-12 check")
    assert path == target / "report.html"
    assert "<title>Day-12 check</title>" in path.read_text()
    with pytest.raises(OutputExistsError, match="exists already"):
        write_report(target)
    write_report(target, overwrite=True)
    assert not list(target.glob(".report.html*"))  # no temporary file left


# --------------------------------------------------------------------------- sweeps and sensitivity


def test_sweep_report_finds_the_extremes_and_the_trend(tmp_path):
    folder = write_sweep(tmp_path / "sweep")
    text = text_of(build_report(folder))
    results = pl.read_parquet(folder / "results.parquet").filter(
        pl.col("outcome") == "new_cases_sum"
    )
    means = results.group_by("point").agg(pl.col("value").mean()).sort("value")
    design = pl.read_parquet(folder / "design.parquet")
    low = design.filter(pl.col("point") == means["point"][0]).row(0, named=True)
    assert f"New cases over the run is lowest at rate = {low['rate']:g}, recovery = " in text
    assert "New cases over the run rises with rate (rank correlation" in text
    assert "Varied rate in 0.005, 0.01, 0.02, 0.04; recovery from 0.1 to 0.3" in text


def test_sensitivity_reports_name_the_parameter_that_matters_most(tmp_path):
    sobol = text_of(build_report(write_sensitivity(tmp_path / "sobol")))
    assert (
        "For y, x1 matters most: its total-order Sobol index is 0.56 (95% interval 0.54 "
        "to 0.58), so it accounts for about 56% of the outcome's variance with its "
        "interactions. On its own (first-order index) it accounts for 31%." in sobol
    )
    assert "The others, by the same index: x2 (0.442), x3 (0.244)." in sobol
    morris = text_of(build_report(write_sensitivity(tmp_path / "morris", method="morris")))
    assert (
        "For y, x2 has the largest effect: its mean absolute elementary effect (Morris "
        "\u03bc*) is 7.8 (95% interval 7.3 to 8.3)." in morris
    )
    assert "Sobol indices split" not in morris


def test_sensitivity_with_interactions_and_a_constant_outcome(tmp_path):
    folder = write_sensitivity(tmp_path / "s2")
    indices = pl.read_parquet(folder / "indices.parquet")
    extra = pl.DataFrame(
        [("x1,x2", "y", "S2", 0.0, 0.03), ("x1,x3", "y", "S2", 0.244, 0.04),
         ("x2,x3", "y", "S2", 0.0, 0.02), ("x1", "flat", "S1", None, None),
         ("x1", "flat", "ST", None, None)],
        schema=indices.schema, orient="row",
    )  # fmt: skip
    pl.concat([indices, extra]).write_parquet(folder / "indices.parquet")
    page = build_report(folder, outcomes=["y", "flat"])
    text = text_of(page)
    assert (
        "The strongest interaction is between x1 and x3: second-order index 0.24 (95% "
        "interval 0.20 to 0.28)." in text
    )
    assert "Flat did not vary over the runs, so no parameter drives it" in text
    assert len(images(page)) == 1 + 1  # the indices of y; y at each design point
