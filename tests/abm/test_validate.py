"""Fidelity checks (`abm.validate`): statistics against hand-computed values, each kind of check
passing and failing, reading data folders, and every malformed reference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from abm.validate import Tables, open_tables, parse_reference, read_reference, validate
from abm.validate import statistics as st
from populations.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO_REFERENCE = ROOT / "examples" / "demo-reference.toml"


def ref(*checks: dict, table: str | None = None, base: Path | str = ".") -> object:
    data: dict = {"check": list(checks)}
    if table:
        data["reference"] = {"table": table}
    return parse_reference(data, source="ref.toml", base=base)


def one(frame: pl.DataFrame, check: dict):
    """The result of a single check on one table."""
    return validate({"t": frame}, ref(check)).results[0]


# --------------------------------------------------------------------------- statistics


def test_srmse_by_hand():
    o, e = np.array([12.0, 18.0, 30.0]), np.array([10.0, 20.0, 30.0])
    rmse = math.sqrt((4 + 4 + 0) / 3)
    assert st.srmse(o, e) == pytest.approx(rmse / 20)
    assert st.srmse(e, e) == 0
    assert st.srmse(np.zeros(2), np.zeros(2)) == 0
    assert st.srmse(np.ones(2), np.zeros(2)) == math.inf


def test_total_variation_by_hand():
    assert st.total_variation(np.array([30, 70]), np.array([0.5, 0.5])) == pytest.approx(0.2)
    assert st.total_variation(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    # scale-free: counts and shares of the same distribution agree
    assert st.total_variation(np.array([10, 30]), np.array([0.25, 0.75])) == pytest.approx(0)


def test_ks_at_quantiles_is_the_gap_at_the_worst_reference_point():
    sample = np.arange(1, 101)  # F(x) = x / 100
    value, at = st.ks_at_quantiles(sample, np.array([0.1, 0.5, 0.9]), np.array([10, 45, 90]))
    assert (value, at) == (pytest.approx(0.05), 45.0)
    # the exact quantiles of a sample give 0
    assert st.ks_at_quantiles(sample, np.array([0.25, 0.75]), np.array([25, 75]))[0] == 0


def test_ks_two_sample_and_correlations_are_scipys():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=300), rng.normal(0.3, size=200)
    d, p = st.ks_two_sample(a, b)
    expected = stats.ks_2samp(a, b)
    assert (d, p) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    y = a**3 + rng.normal(size=300)
    assert st.correlation(a, y, "pearson") == pytest.approx(stats.pearsonr(a, y).statistic)
    assert st.correlation(a, y, "spearman") == pytest.approx(stats.spearmanr(a, y).statistic)
    assert st.correlation(a, y, "kendall") == pytest.approx(stats.kendalltau(a, y).statistic)
    assert math.isnan(st.correlation(a, np.ones(300)))


def test_rate_z_by_hand():
    assert st.rate_z(60, 100, 0.5) == pytest.approx(0.1 / math.sqrt(0.25 / 100))
    assert st.rate_z(0, 10, 0.0) == 0
    assert st.rate_z(1, 10, 0.0) == math.inf


# --------------------------------------------------------------------------- checks

PEOPLE = pl.DataFrame(
    {
        "sex": ["f", "f", "m", "m", "m", "f", "m", "f"],
        "zone": ["a", "a", "a", "b", "b", "b", "b", "b"],
        "age": [5, 15, 25, 35, 45, 55, 65, 75],
        "income": [0.0, 0.0, 20.0, 30.0, 45.0, 50.0, 30.0, 25.0],
        "employed": [False, False, True, True, True, True, False, False],
    }
)


def test_frequencies_counts_and_shares():
    exact = {"sex": ["f", "m"], "count": [4, 4]}
    r = one(PEOPLE, {"kind": "frequencies", "columns": "sex", "expected": exact,
                     "threshold": 0.0})  # fmt: skip
    assert r.passed and r.value == 0 and r.rows == 8
    # counts: a reference twice as large fails on SRMSE ...
    double = {"sex": ["f", "m"], "count": [8, 8]}
    r = one(PEOPLE, {"kind": "frequencies", "columns": "sex", "expected": double,
                     "threshold": 0.1})  # fmt: skip
    assert not r.passed and r.value == pytest.approx(0.5)
    # ... but not when shares are compared
    r = one(PEOPLE, {"kind": "frequencies", "columns": "sex", "expected": double,
                     "compare": "shares", "threshold": 0.0})  # fmt: skip
    assert r.passed


def test_frequencies_of_a_pair_count_missing_cells_on_both_sides():
    expected = {"zone": ["a", "a", "b", "c"], "sex": ["f", "m", "m", "f"], "count": [2, 1, 3, 2]}
    r = one(PEOPLE, {"kind": "frequencies", "columns": ["zone", "sex"], "expected": expected,
                     "statistic": "tvd", "threshold": 0.5})  # fmt: skip
    # observed a/f 2, a/m 1, b/m 3, b/f 2; expected has c/f 2 instead of b/f
    assert r.value == pytest.approx(0.5 * (2 / 8 + 2 / 8))
    assert r.details["cells"] == 5
    assert r.details["cells_expected_zero"] == 1 and r.details["cells_observed_zero"] == 1
    gaps = {tuple(g["cell"].values()) for g in r.details["largest_gaps"]}
    assert gaps == {("b", "f"), ("c", "f")}


def test_where_filters_rows_by_values_and_ranges():
    check = {"kind": "rate", "column": "employed", "value": 1.0, "threshold": 0.0,
             "where": {"age": {"min": 20, "max": 60}, "zone": ["a", "b"]}}  # fmt: skip
    r = one(PEOPLE, check)
    assert r.rows == 4 and r.passed
    check["where"] = {"sex": "f"}
    r = one(PEOPLE, check)
    assert r.rows == 4 and r.details["observed"] == pytest.approx(0.25)
    assert r.described == "employed where sex in f"


def test_rate_of_values_with_both_statistics():
    r = one(PEOPLE, {"kind": "rate", "column": "zone", "equals": "a", "value": 0.5,
                     "threshold": 0.2})  # fmt: skip
    assert r.value == pytest.approx(0.125) and r.passed
    r = one(PEOPLE, {"kind": "rate", "column": "zone", "equals": ["a"], "value": 0.5,
                     "statistic": "z", "threshold": 1.0})  # fmt: skip
    assert r.value == pytest.approx(abs(st.rate_z(3, 8, 0.5))) and r.passed
    r = one(PEOPLE, {"kind": "rate", "column": "age", "equals": [5, 15], "value": 0.25,
                     "threshold": 0.0})  # fmt: skip
    assert r.passed  # numbers compare as numbers


def test_distribution_against_quantiles_and_a_sample(tmp_path):
    quant = {"p": [0.25, 0.5, 0.75], "value": [15, 35, 55]}
    r = one(PEOPLE, {"kind": "distribution", "column": "age", "quantiles": quant,
                     "threshold": 0.0})  # fmt: skip
    assert r.passed and r.value == 0
    shifted = {"p": [0.5], "value": [25]}
    r = one(PEOPLE, {"kind": "distribution", "column": "age", "quantiles": shifted,
                     "threshold": 0.1})  # fmt: skip
    assert not r.passed and r.value == pytest.approx(0.125)
    assert r.details["worst_at"] == 25
    pl.DataFrame({"years": [5, 15, 25, 35, 45, 55, 65, 75]}).write_csv(tmp_path / "ref.csv")
    check = {"kind": "distribution", "column": "age", "sample": "ref.csv",
             "sample_column": "years", "threshold": 0.0}  # fmt: skip
    r = validate({"t": PEOPLE}, ref(check, base=tmp_path)).results[0]
    assert r.passed and r.details["pvalue"] == pytest.approx(1.0)


def test_correlation_pass_fail_and_undefined():
    x = PEOPLE.select("age", "income")
    expected = stats.spearmanr(x["age"], x["income"]).statistic
    r = one(PEOPLE, {"kind": "correlation", "columns": ["age", "income"], "method": "spearman",
                     "value": float(expected), "threshold": 1e-9})  # fmt: skip
    assert r.passed
    r = one(PEOPLE, {"kind": "correlation", "columns": ["age", "income"], "value": -0.5,
                     "threshold": 0.2})  # fmt: skip
    assert not r.passed
    flat = PEOPLE.with_columns(pl.lit(1.0).alias("income"))
    r = one(flat, {"kind": "correlation", "columns": ["age", "income"], "value": 0.0,
                   "threshold": 1.0})  # fmt: skip
    assert not r.passed and r.value is None and "constant" in r.note


def test_no_rows_fails_with_a_note():
    r = one(PEOPLE, {"kind": "rate", "column": "employed", "value": 0.5, "threshold": 1.0,
                     "where": {"zone": "nowhere"}})  # fmt: skip
    assert not r.passed and r.value is None and r.note == "no rows"
    assert r.to_dict()["value"] is None


# --------------------------------------------------------------------------- the demo reference


def test_the_demo_reference_passes_on_the_demo_population(demo_population):
    _, pop = demo_population
    result = validate({"persons": pop.persons, "households": pop.households}, DEMO_REFERENCE)
    assert result.passed, result.to_frame()
    assert len(result.results) == 10
    assert {r.kind for r in result.results} == {"frequencies", "distribution", "correlation",
                                                "rate"}  # fmt: skip


def test_the_demo_reference_fails_on_data_that_misses_it_and_says_which(demo_population):
    _, pop = demo_population
    no_elderly = pop.persons.filter(pl.col("age") < 80)
    result = validate({"persons": no_elderly, "households": pop.households}, DEMO_REFERENCE)
    failed = {r.name for r in result.failed}
    assert {"age and sex by zone", "age distribution"} <= failed
    assert "household size by zone" not in failed
    worst = next(r for r in result.results if r.name == "age and sex by zone")
    cells = [g["cell"]["age_band"] for g in worst.details["largest_gaps"]]
    assert set(cells) <= {"80-84", "85+"}


# --------------------------------------------------------------------------- reading data


def test_a_folder_holds_its_files_and_partitioned_folders(tmp_path):
    PEOPLE.write_parquet(tmp_path / "persons.parquet")
    PEOPLE.head(3).write_csv(tmp_path / "sample.csv")
    (tmp_path / "manifest.json").write_text("{}")
    for shard in (0, 1):
        part = tmp_path / "events" / f"shard={shard:05d}"
        part.mkdir(parents=True)
        PEOPLE.with_columns(pl.lit(shard).alias("k")).write_parquet(part / "part-00000.parquet")
    (tmp_path / ".events.partial-x").mkdir()
    tables = open_tables(tmp_path)
    assert tables.names == ["events", "persons", "sample"]
    events = tables.collect("events", tables.frames["events"])
    assert events.height == 16 and set(events["shard"]) == {0, 1}
    result = validate(tables, ref({"kind": "rate", "table": "events", "column": "employed",
                                   "value": 0.5, "threshold": 0.0}))  # fmt: skip
    assert result.passed and result.results[0].rows == 16


def test_a_single_csv_file_is_one_table(tmp_path):
    PEOPLE.write_csv(tmp_path / "people.csv")
    check = {"kind": "frequencies", "columns": "sex",
             "expected": {"sex": ["f", "m"], "share": [0.5, 0.5]}, "threshold": 0}  # fmt: skip
    result = validate(tmp_path / "people.csv", ref(check))
    assert result.passed and result.results[0].table == "people"


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"kind": "rate", "column": "employd", "value": 0.5, "threshold": 0.1},
         "table `t` .* has no column `employd`. Hint: did you mean `employed`?"),
        ({"kind": "rate", "column": "zone", "value": 0.5, "threshold": 0.1},
         "not true/false, so say which values count.*its values include a, b"),
        ({"kind": "distribution", "column": "sex", "quantiles": {"p": [0.5], "value": [1]},
          "threshold": 0.1}, "column `sex` .* not numeric"),
        ({"kind": "rate", "column": "employed", "value": 0.5, "threshold": 0.1,
          "where": {"sex": {"min": 1}}}, "`where.sex` gives a range, but `sex` is a String"),
        ({"kind": "rate", "table": "people", "column": "employed", "value": 0.5,
          "threshold": 0.1}, "reads table `people`, which .* does not hold"),
    ],
    ids=["unknown-column", "rate-needs-equals", "not-numeric", "range-on-text", "unknown-table"],
)  # fmt: skip
def test_bad_data_for_a_check_is_a_config_error(check, message):
    with pytest.raises(ConfigError, match=message):
        validate({"t": PEOPLE}, ref(check))


def test_several_tables_need_a_table_name():
    with pytest.raises(ConfigError, match="does not say which table to read.*holds 2"):
        validate({"a": PEOPLE, "b": PEOPLE}, ref({"kind": "rate", "column": "employed",
                                                  "value": 0.5, "threshold": 0.1}))  # fmt: skip
    result = validate({"a": PEOPLE, "b": PEOPLE}, ref({"kind": "rate", "column": "employed",
                      "value": 0.5, "threshold": 0.1}, table="b"))  # fmt: skip
    assert result.results[0].table == "b"


def test_unreadable_data_is_a_config_error(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ConfigError, match="cannot read broken.parquet"):
        validate(tmp_path / "broken.parquet", ref({"kind": "rate", "column": "x", "value": 0.5,
                                                   "threshold": 0.1}))  # fmt: skip
    with pytest.raises(ConfigError, match="does not exist"):
        open_tables(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="not a data file"):
        open_tables(tmp_path / "x.txt") if (tmp_path / "x.txt").write_text("x") else None
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no Parquet, CSV or JSON Lines files"):
        open_tables(tmp_path / "empty")
    with pytest.raises(ConfigError, match="non-empty mapping"):
        Tables.from_frames({})


# --------------------------------------------------------------------------- malformed references


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"checks": []}, "unknown top-level key `checks`. Hint: did you mean `check`?"),
        ({"check": []}, "lists no checks"),
        ({"check": [{"column": "x"}]}, "check 1: missing key `kind`"),
        ({"check": [{"kind": "rates"}]}, "unknown kind `rates`. Hint: did you mean `rate`?"),
        ({"check": [{"kind": "rate", "column": "x", "value": 0.5, "threshhold": 1}]},
         "unknown key `threshhold` for a rate check. Hint: did you mean `threshold`?"),
        ({"check": [{"kind": "rate", "column": "x", "value": 0.5}]}, "missing key `threshold`"),
        ({"check": [{"kind": "rate", "column": "x", "value": 1.5, "threshold": 0.1}]},
         r"`value` must be in \[0, 1\], got 1.5"),
        ({"check": [{"kind": "rate", "column": "x", "value": 0.5, "threshold": "low"}]},
         "`threshold` must be a number"),
        ({"check": [{"kind": "rate", "column": "x", "value": 0.5, "threshold": 0.1,
                     "statistic": "zz"}]}, "unknown statistic `zz`. Hint: did you mean `z`?"),
        ({"check": [{"kind": "frequencies", "columns": "x", "expected": {"x": ["a"]},
                     "threshold": 0.1}]}, "must have a `count` or a `share` column"),
        ({"check": [{"kind": "frequencies", "columns": "x", "expected": {"y": ["a"],
                     "count": [1]}, "threshold": 0.1}]}, "lacks the column\\(s\\) `x`"),
        ({"check": [{"kind": "frequencies", "columns": "x", "expected": {"x": ["a", "a"],
                     "count": [1, 2]}, "threshold": 0.1}]}, "lists the cell \\('a',\\) twice"),
        ({"check": [{"kind": "frequencies", "columns": "x", "expected": {"x": ["a"],
                     "share": [1.0]}, "compare": "counts", "threshold": 0.1}]},
         "needs counts, but `expected` gives shares"),
        ({"check": [{"kind": "distribution", "column": "x", "threshold": 0.1}]},
         "give either `quantiles` or `sample`"),
        ({"check": [{"kind": "distribution", "column": "x", "quantiles": {"p": [0.5, 0.2],
                     "value": [1, 2]}, "threshold": 0.1}]}, "probabilities in .* in order"),
        ({"check": [{"kind": "distribution", "column": "x", "sample": "nope.csv",
                     "threshold": 0.1}]}, "`sample` file `nope.csv` not found"),
        ({"check": [{"kind": "correlation", "columns": ["x"], "value": 0.5,
                     "threshold": 0.1}]}, "`columns` must name 2 columns"),
        ({"check": [{"kind": "correlation", "columns": ["x", "y"], "value": 0.5,
                     "method": "pearsn", "threshold": 0.1}]}, "did you mean `pearson`"),
        ({"check": [{"name": "a", "kind": "rate", "column": "x", "value": 0.5, "threshold": 1},
                    {"name": "a", "kind": "rate", "column": "y", "value": 0.5,
                     "threshold": 1}]}, "check 2 \\(`a`\\): another check is named `a`"),
        ({"check": [{"kind": "rate", "column": "x", "value": 0.5, "threshold": 1,
                     "where": {"age": {"above": 3}}}]}, "a range takes `min` and/or `max`"),
    ],
    ids=lambda v: None if isinstance(v, dict) else v[:30],
)  # fmt: skip
def test_malformed_references_name_the_check_and_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_reference(data, source="ref.toml")


def test_reference_files(tmp_path):
    with pytest.raises(ConfigError, match="reference file `.*missing.toml` not found"):
        read_reference(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[check]\nkind = 'rate'\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_reference(bad)
    reference = read_reference(DEMO_REFERENCE)
    assert reference.title and reference.table == "persons"
    names = [c.name for c in reference.checks]
    assert len(set(names)) == len(names) == 10


def test_checks_without_names_get_unique_ones_and_report_progress():
    reference = ref(
        {"kind": "rate", "column": "employed", "value": 0.5, "threshold": 1},
        {"kind": "rate", "column": "employed", "value": 0.4, "threshold": 1},
    )
    assert [c.name for c in reference.checks] == ["rate of employed", "rate of employed (2)"]
    calls = []
    result = validate({"t": PEOPLE}, reference, progress=lambda *a: calls.append(a))
    assert calls == [(1, 2), (2, 2)] and result.passed
