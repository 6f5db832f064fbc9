"""Disclosure-risk report: hand-computed figures, planted uniques, distances, bad input."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import polars as pl
import pytest

from populations.errors import ConfigError, SeedSampleError
from populations.privacy import (
    Thresholds,
    disclosure_risk,
    qi_tables,
    records,
    resolve_quasi_identifiers,
)

SEED = pl.DataFrame(
    {
        "sex": ["f", "f", "m", "m"],
        "band": ["a", "a", "b", "c"],
        "age": ["10", "20", "30", "50"],  # text, as a CSV seed sample is read
    }
)
SYNTHETIC = pl.DataFrame(
    {
        "sex": ["f", "m", "f"],
        "band": ["a", "c", "b"],
        "age": pl.Series([20, 50, 40], dtype=pl.Int16),
    }
)


def test_categorical_figures_match_a_hand_count():
    r = disclosure_risk(SYNTHETIC, SEED, ["sex", "band"], k=2)
    assert r.synthetic_records == 3 and r.seed_records == 4
    assert r.identical_records == 2  # (f, a) and (m, c)
    assert r.seed_uniques == 2  # (m, b) and (m, c)
    assert r.replicated_uniques == 1
    assert r.replicated_seed_rows.tolist() == [3]
    assert r.replicated_share == pytest.approx(0.5)
    assert (r.classes, r.min_class_size, r.records_below_k, r.synthetic_uniques) == (3, 1, 3, 3)
    # Gower: (f, b) differs from its closest seed records in one QI of two.
    assert r.dcr_synthetic["share_zero"] == pytest.approx(2 / 3)
    assert r.dcr_synthetic["mean"] == pytest.approx(1 / 6)
    assert r.dcr_synthetic["median"] == 0.0
    # Leave-one-out: the two (f, a) records have a twin; (m, b) and (m, c) are 1/2 apart.
    assert r.dcr_seed["share_zero"] == pytest.approx(0.5)
    assert r.dcr_seed["mean"] == pytest.approx(0.25)


def test_numeric_quasi_identifiers_compare_as_numbers_and_scale_by_range():
    r = disclosure_risk(SYNTHETIC, SEED, ["sex", "band", "age"])
    # "20" in the seed equals 20 in the synthetic table.
    assert r.identical_records == 2
    assert r.seed_uniques == 4
    assert r.replicated_seed_rows.tolist() == [1, 3]
    # (f, b, 40): closest is (m, b, 30): (1 + 0 + 10 / 40) / 3; the age range is 10..50.
    assert r.dcr_synthetic["mean"] == pytest.approx((1.25 / 3) / 3)
    # Seed: (f,a,10)-(f,a,20) are 0.25 / 3 apart, (m,b,30)-(m,c,50) are 1.5 / 3.
    assert r.dcr_seed["mean"] == pytest.approx((2 * 0.25 / 3 + 2 * 1.5 / 3) / 4)
    assert r.dcr_seed["share_zero"] == 0.0


def _gower(a: dict[str, np.ndarray], b: dict[str, np.ndarray], numeric, spans) -> np.ndarray:
    """Brute-force Gower distances, rows of `a` against rows of `b`."""
    total = 0.0
    for name in a:
        x, y = a[name][:, None], b[name][None, :]
        total = total + (np.abs(x - y) / spans[name] if name in numeric else (x != y))
    return total / len(a)


def test_distances_match_brute_force_gower_on_mixed_data():
    rng = np.random.default_rng(5)

    def table(n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "c1": rng.choice(["a", "b", "c"], n),
                "c2": rng.choice(["x", "y"], n, p=[0.8, 0.2]),
                "n1": rng.integers(0, 6, n).astype(float),
                "n2": np.round(rng.gamma(2.0, 3.0, n), 1),
            }
        )

    seed, syn = table(60), table(90)
    qis = ["c1", "c2", "n1", "n2"]
    r = disclosure_risk(syn, seed, qis)
    num = {"n1", "n2"}
    spans = {c: max(seed[c].max(), syn[c].max()) - min(seed[c].min(), syn[c].min()) for c in num}
    s = {c: seed[c].to_numpy() for c in qis}
    y = {c: syn[c].to_numpy() for c in qis}
    dcr = _gower(y, s, num, spans).min(axis=1)
    assert r.dcr_synthetic["mean"] == pytest.approx(dcr.mean(), abs=1e-12)
    assert r.dcr_synthetic["share_zero"] == pytest.approx(np.mean(dcr < 1e-12))
    for key, q in (("p05", 0.05), ("p25", 0.25), ("median", 0.5)):
        expected = np.sort(dcr)[int(np.ceil(q * dcr.size)) - 1]
        assert r.dcr_synthetic[key] == pytest.approx(expected, abs=1e-12), key
    d_seed = _gower(s, s, num, spans)
    np.fill_diagonal(d_seed, np.inf)
    assert r.dcr_seed["mean"] == pytest.approx(d_seed.min(axis=1).mean(), abs=1e-12)


@pytest.fixture(scope="module")
def demo_seed() -> pl.DataFrame:
    from populations.demo import load_demo

    seed = load_demo().seed
    return records(seed.persons, seed.households)


def planted_seed(demo_seed: pl.DataFrame) -> tuple[pl.DataFrame, list[int]]:
    """The demo seed records plus three planted rare persons; returns their row positions."""
    rare = pl.DataFrame(
        {
            "age_band": ["85+", "20-24", "85+"],
            "sex": ["male", "female", "female"],
            "hh_size": ["6+", "1", "2"],
            "employment": ["employed", "retired", "employed"],
            "district": ["D3", "D7", "D1"],
        }
    )
    template = demo_seed.head(3).drop(rare.columns)
    planted = pl.concat([template, rare], how="horizontal").select(demo_seed.columns)
    return pl.concat([demo_seed, planted]), list(range(demo_seed.height, demo_seed.height + 3))


def test_planted_uniques_are_found_exactly_when_replicated(demo_seed):
    qis = ["age_band", "sex", "district", "hh_size", "employment"]
    seed, planted = planted_seed(demo_seed)
    keys = [tuple(row) for row in seed.select(qis).rows()]
    counts = Counter(keys)
    assert all(counts[keys[i]] == 1 for i in planted)  # planted records are sample uniques
    rng = np.random.default_rng(11)
    # A "synthetic population" of copies: 4,000 seed records, and the first two planted
    # persons copied five times each; the third planted person is not copied.
    rows = np.concatenate([rng.integers(0, demo_seed.height, 4000), [planted[0]] * 5])
    rows = np.concatenate([rows, [planted[1]] * 5])
    synthetic = seed[rows]
    r = disclosure_risk(synthetic, seed, qis)
    present = {tuple(row) for row in synthetic.select(qis).rows()}
    expected = sorted(i for i, key in enumerate(keys) if counts[key] == 1 and key in present)
    assert r.replicated_seed_rows.tolist() == expected
    assert planted[0] in expected and planted[1] in expected and planted[2] not in expected
    assert r.seed_uniques == sum(1 for c in counts.values() if c == 1)
    assert r.identical_records == synthetic.height  # every copy equals its seed record


def test_default_quasi_identifiers_and_derived_ones(demo_seed):
    synthetic = demo_seed.drop("hh_size")  # household size must then be derived in both
    qis, derived = resolve_quasi_identifiers(synthetic, demo_seed.drop("hh_size"))
    assert qis == ["age_band", "sex", "district", "household_size", "employment", "income_band"]
    assert derived["household_size"].kind == "household_size"
    band = derived["income_band"]
    assert band.zero_band  # a quarter of the demo seed has no income
    assert list(band.edges) == sorted(band.edges) and len(band.edges) == 4
    tables = qi_tables(synthetic, demo_seed.drop("hh_size"))
    sizes = tables.seed["household_size"].to_numpy()
    expected = demo_seed.group_by("household_id").len()["len"]
    assert sorted(Counter(sizes).items()) == sorted(
        Counter(np.repeat(expected.to_numpy(), expected.to_numpy()).astype(float)).items()
    )
    labels = set(tables.seed["income_band"].to_list())
    assert labels == set(band.labels())


def test_report_serialises_without_seed_rows(tmp_path):
    r = disclosure_risk(SYNTHETIC, SEED, ["sex", "band"])
    path = tmp_path / "risk.json"
    r.write_json(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(r.to_dict()))
    assert data["sample_uniques"] == {
        "seed_uniques": 2,
        "replicated": 1,
        "replicated_share": 0.5,
        "share_of_seed_records": 0.25,
    }
    assert "replicated_seed_rows" not in json.dumps(data)
    frame = r.to_frame()
    value = dict(zip(frame["measure"], frame["value"], strict=True))
    assert value["replicated uniques"] == 1.0 and value["identical share"] == pytest.approx(2 / 3)


def test_checks_pass_and_fail_against_thresholds():
    r = disclosure_risk(SYNTHETIC, SEED, ["sex", "band"])
    checks = {c.name: c for c in r.checks(Thresholds(0, 2, 0.5))}
    assert not checks["replicated_uniques"].passed and checks["replicated_uniques"].value == 1
    assert not checks["min_k"].passed
    assert not checks["identical_share"].passed
    assert "1 replicated sample uniques" in checks["replicated_uniques"].message
    ok = r.checks(Thresholds(max_replicated_uniques=1, min_k=1, max_identical_share=0.7))
    assert [c.passed for c in ok] == [True, True, True]
    assert r.checks(Thresholds()) == []


# -- bad input ---------------------------------------------------------------------------------


def test_missing_quasi_identifiers_are_named_with_the_table_and_closest_column():
    with pytest.raises(ConfigError) as info:
        disclosure_risk(SYNTHETIC, SEED.drop("band"), ["sexx", "band"])
    msg = str(info.value)
    assert "`sexx` is not in the synthetic population nor the seed sample" in msg
    assert "did you mean `sex`?" in msg
    assert "`band` is not in the seed sample" in msg


def test_different_category_labels_are_refused():
    seed = SEED.with_columns(pl.col("sex").replace({"f": "F", "m": "M"}))
    with pytest.raises(SeedSampleError) as info:
        disclosure_risk(SYNTHETIC, seed, ["sex", "band"])
    msg = str(info.value)
    assert "quasi-identifier `sex`" in msg
    assert "synthetic only: `f`, `m`" in msg and "seed only: `F`, `M`" in msg


def test_a_subset_of_labels_is_not_a_mismatch():
    # Categories the synthetic population never drew are fine (the seed has more).
    r = disclosure_risk(SYNTHETIC.filter(pl.col("band") != "b"), SEED, ["band"])
    assert r.synthetic_records == 2


@pytest.mark.parametrize(
    ("synthetic", "seed", "error", "text"),
    [
        (SYNTHETIC.head(0), SEED, ConfigError, "the synthetic population has no rows"),
        (SYNTHETIC, SEED.head(0), SeedSampleError, "the seed sample has no rows"),
    ],
)
def test_empty_tables_are_refused(synthetic, seed, error, text):
    with pytest.raises(error, match=text):
        disclosure_risk(synthetic, seed, ["sex"])


def test_missing_numbers_in_a_numeric_quasi_identifier_are_refused():
    seed = SEED.with_columns(pl.Series("age", ["10", None, "30", "50"]))
    with pytest.raises(SeedSampleError, match="the seed sample has 1 missing values"):
        disclosure_risk(SYNTHETIC, seed, ["age"])


def test_no_default_quasi_identifier_in_both_tables_is_an_error():
    with pytest.raises(ConfigError, match="none of the default quasi-identifiers"):
        disclosure_risk(pl.DataFrame({"x": [1]}), pl.DataFrame({"x": [2]}))
