"""Protections: planted uniques resampled away with the fit kept, merges, top-coding, config."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from populations.config import load_config
from populations.errors import ConfigError
from populations.marginals import Marginal
from populations.privacy import disclosure_risk, qi_tables, records
from populations.protection import (
    apply_merges,
    apply_top_code,
    category_merges,
    merge_marginal,
    merged_label,
    resample_uniques,
    top_code_caps,
)
from populations.report import measure_fit
from populations.synthesis import PopulationSynthesizer, load_inputs

QIS = ["age_band", "sex", "hh_size", "employment"]

# Three planted households with persons rare on QIS: a 97-year-old employed man in a
# nine-person household, a 23-year-old retired woman living alone, two employed nonagenarians.
PLANTED_HOUSEHOLDS = """\
9001,D3,6+,1,rented,29.868
9002,D7,1,0,rented,29.868
9003,D1,2,3+,owned,29.868
"""
PLANTED_PERSONS = """\
90001,9001,97,85+,male,employed,61000.00
90002,9001,44,40-44,female,employed,30100.00
90003,9001,42,40-44,male,employed,28750.00
90004,9001,17,15-19,female,student,0.00
90005,9001,15,15-19,male,student,0.00
90006,9001,12,10-14,female,student,0.00
90007,9001,9,5-9,male,student,0.00
90008,9001,6,5-9,female,student,0.00
90009,9001,3,0-4,male,inactive,0.00
90010,9002,23,20-24,female,retired,52000.00
90011,9003,88,85+,female,employed,90000.00
90012,9003,90,85+,male,employed,85000.00
"""
PLANTED = {  # person id -> its quasi-identifiers
    90001: ("85+", "male", "6+", "employed"),
    90010: ("20-24", "female", "1", "retired"),
    90011: ("85+", "female", "2", "employed"),
    90012: ("85+", "male", "2", "employed"),
}


def plant(city: Path, privacy: str) -> Path:
    data = city / "data"
    for name, rows in (("seed_households", PLANTED_HOUSEHOLDS), ("seed_persons", PLANTED_PERSONS)):
        path = data / f"{name}.csv"
        path.write_text(path.read_text(encoding="utf-8") + rows, encoding="utf-8")
    config = city / "demo.toml"
    config.write_text(config.read_text(encoding="utf-8") + privacy, encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    """The demo city with planted uniques, fitted with resampling of uniques on QIS."""
    import shutil

    city = tmp_path_factory.mktemp("planted") / "city"
    shutil.copytree(Path(__file__).resolve().parents[2] / "populations" / "demo", city)
    config = plant(city, f"\n[privacy]\nquasi_identifiers = {QIS!r}\nresample_uniques = true\n")
    cfg = load_config(config)
    inputs = load_inputs(cfg)
    synth = PopulationSynthesizer.from_config(cfg).fit(inputs)
    rng = np.random.default_rng(3)
    raw = synth.sample(rng=rng, protect=False)
    protected, record = synth.protect(raw, rng=rng)
    report = synth.report(protected, unprotected=raw, protection=record, disclosure=True)
    return synth, inputs, raw, protected, record, report


def seed_qi(inputs) -> pl.DataFrame:
    return records(inputs.seed.persons, inputs.seed.households)


def test_planted_persons_are_sample_uniques(planted):
    _, inputs, *_ = planted
    seed = seed_qi(inputs)
    counts = Counter(seed.select(QIS).rows())
    ids = seed["person_id"].cast(pl.Int64).to_list()
    for pid, key in PLANTED.items():
        assert key in counts, pid
        assert counts[key] == 1, (pid, key)
        assert seed.row(ids.index(pid), named=True)["age_band"] == key[0]


def test_report_finds_each_planted_unique_when_replicated(planted):
    synth, inputs, raw, *_ = planted
    risk = synth.disclosure_risk(raw)
    seed = seed_qi(inputs)
    present = set(records(raw.persons, raw.households).select(QIS).cast(pl.String).rows())
    ids = seed["person_id"].cast(pl.Int64).to_list()
    found = {ids[i] for i in risk.replicated_seed_rows.tolist()}
    replicated = {pid for pid, key in PLANTED.items() if key in present}
    assert replicated == set(PLANTED)  # all planted persons reappear in the raw population
    assert replicated <= found
    rows = seed.select(QIS).rows()
    counts = Counter(rows)
    assert found == {ids[i] for i, k in enumerate(rows) if counts[k] == 1 and k in present}
    assert risk.quasi_identifiers == QIS  # the [privacy] table's


def test_protection_leaves_no_replicated_unique(planted):
    synth, inputs, raw, protected, record, report = planted
    assert record.resampled["unresolved"] == 0
    assert record.resampled["persons_matching_seed_uniques"] > 0
    after = disclosure_risk(records(protected.persons, protected.households), seed_qi(inputs), QIS)
    assert after.replicated_uniques == 0
    present = set(
        records(protected.persons, protected.households).select(QIS).cast(pl.String).rows()
    )
    assert not present & set(PLANTED.values())
    assert report.privacy["disclosure"]["sample_uniques"]["replicated"] == 0
    assert report.privacy["disclosure_before"]["sample_uniques"]["replicated"] > 0


def test_marginals_stay_within_the_tolerance_the_report_states(planted):
    synth, inputs, raw, protected, record, report = planted
    tol = report.privacy["fit_tolerance"]
    assert tol == 0.005  # the default, stated in the report
    before = measure_fit(raw.households, raw.persons, synth.marginals_, geography=inputs.geography)
    after = measure_fit(
        protected.households, protected.persons, synth.marginals_, geography=inputs.geography
    )
    for b, a in zip(before, after, strict=True):
        assert a.srmse <= b.srmse + tol, a.name
        if b.level == "household":
            assert a.exact and b.exact
    assert report.privacy["within_tolerance"] is True
    assert [m["srmse"] for m in report.privacy["fit_before"]] == [b.srmse for b in before]
    assert [m.srmse for m in report.marginals] == [a.srmse for a in after]


def test_exchanges_within_a_zone_keep_every_person_count(planted):
    synth, inputs, raw, protected, record, _ = planted
    exchanges = record.resampled["exchanges"]
    cross = sum(n for kind, n in exchanges.items() if kind not in {"zone", "drawn"})
    assert exchanges.get("zone", 0) > 0
    for m in synth.marginals_:
        if m.level != "person":
            continue
        dims = list(m.dims)
        a = raw.persons.group_by(dims).len().rename({"len": "a"})
        b = protected.persons.group_by(dims).len().rename({"len": "b"})
        joined = a.join(b, on=dims, how="full", coalesce=True).fill_null(0)
        diff = int((joined["a"] - joined["b"]).abs().sum())
        assert diff <= 4 * cross, m.name  # each exchange moves two persons between cells


def test_drawn_values_move_with_their_attribute_and_nothing_else_changes(planted):
    _, _, raw, protected, record, _ = planted
    for pair in (["employment", "income"], ["age_band", "age"]):
        assert Counter(raw.persons.select(pair).rows()) == Counter(
            protected.persons.select(pair).rows()
        )
    assert protected.households.equals(raw.households)
    for column in ("person_id", "household_id", "zone", "district"):
        assert protected.persons[column].equals(raw.persons[column]), column
    changed = (
        (raw.persons["employment"] != protected.persons["employment"])
        | (raw.persons["age_band"] != protected.persons["age_band"])
        | (raw.persons["sex"] != protected.persons["sex"])
    )
    assert 0 < int(changed.sum()) <= 2 * sum(record.resampled["exchanges"].values())


def test_sample_applies_the_same_protection(planted):
    synth, _, _, protected, _, _ = planted
    again = synth.sample(rng=np.random.default_rng(3))
    assert again.persons.equals(protected.persons)


# -- merging and top-coding ---------------------------------------------------------------------


def test_category_merges_follow_the_order_and_chain():
    order = ["0-4", "5-9", "10-14", "85+"]
    assert category_merges({"0-4": 50, "5-9": 40, "10-14": 45, "85+": 60}, order, 30) == {}
    merged = category_merges({"0-4": 50, "5-9": 10, "10-14": 25, "85+": 60}, order, 30)
    assert merged == {"5-9": "5-14", "10-14": "5-14"}  # 10 < 30: joins its smaller neighbour
    chained = category_merges({"0-4": 50, "5-9": 10, "10-14": 9, "85+": 60}, order, 30)
    assert chained == {"0-4": "0-14", "5-9": "0-14", "10-14": "0-14"}
    everything = category_merges({"a": 1, "b": 2}, ["a", "b"], 30)
    assert everything == {"a": "a/b", "b": "a/b"}


def test_merged_labels():
    assert merged_label(["80-84", "85+"]) == "80+"
    assert merged_label(["5", "6+"]) == "5+"
    assert merged_label(["0-4", "5-9"]) == "0-9"
    assert merged_label(["unemployed", "inactive"]) == "unemployed/inactive"


def test_merge_marginal_sums_cells_and_frames_keep_enums():
    m = Marginal.from_frame(
        pl.DataFrame(
            {
                "zone": ["a"] * 3 + ["b"] * 3,
                "size": ["1", "5", "6+"] * 2,
                "count": [4, 2, 1, 3, 1, 0],
            }
        ),
        name="size",
    )
    merged = merge_marginal(m, {"size": {"5": "5+", "6+": "5+"}})
    assert merged.categories == (("a", "b"), ("1", "5+"))
    assert merged.counts.tolist() == [[4.0, 3.0], [3.0, 1.0]]
    assert merged.total == m.total
    frame = pl.DataFrame({"size": ["1", "5", "6+"]}).cast({"size": pl.Enum(["1", "5", "6+"])})
    out = apply_merges(frame, {"size": {"5": "5+", "6+": "5+"}})
    assert out.schema["size"] == pl.Enum(["1", "5+"])
    assert out["size"].cast(pl.String).to_list() == ["1", "5+", "5+"]


def test_top_coding_caps_values_and_counts_them():
    frame = pl.DataFrame(
        {"income": [10.0, 250.0, 99.5], "age": pl.Series([30, 97, 90], dtype=pl.Int16)}
    )
    caps = top_code_caps(
        pl.DataFrame({"income": [float(v) for v in range(101)]}), {"income": "p90"}
    )
    assert caps == {"income": 90.0}
    out, counted = apply_top_code(frame, {"income": 90.0, "age": 90.5})
    assert out["income"].to_list() == [10.0, 90.0, 90.0]
    assert out["age"].to_list() == [30, 90, 90] and out.schema["age"] == pl.Int16
    assert counted == {"income": 2, "age": 1}
    with pytest.raises(ConfigError, match="expected a number or a percentile"):
        top_code_caps(frame, {"income": "top"})


@pytest.fixture(scope="module")
def merged_and_capped(demo_population):
    """The demo city with small categories merged and age and income top-coded."""
    from populations.demo import demo_config_path

    synth, _ = demo_population
    cfg = load_config(demo_config_path())
    protected = PopulationSynthesizer.from_config(cfg, protect=("merge", "top-code"))
    protected.fit(synth.inputs_)
    rng = np.random.default_rng(0)
    raw = protected.sample(rng=rng, protect=False)
    pop, record = protected.protect(raw, rng=rng)
    return protected, raw, pop, record


def test_merged_population_has_merged_labels_and_merged_marginals(merged_and_capped):
    synth, raw, pop, record = merged_and_capped
    assert record.merged_categories == {
        "age_band": {"80-84": "80+", "85+": "80+"},
        "hh_size": {"5": "5+", "6+": "5+"},
    }
    assert "80+" in pop.persons.schema["age_band"].categories
    assert "85+" not in pop.persons.schema["age_band"].categories
    assert pop.households["hh_size"].cast(pl.String).is_in(["5", "6+"]).sum() == 0
    # The merged cells hold exactly the persons of the cells they replace.
    old = raw.persons["age_band"].cast(pl.String).is_in(["80-84", "85+"]).sum()
    assert (pop.persons["age_band"].cast(pl.String) == "80+").sum() == old
    report = synth.report(pop, unprotected=raw, protection=record)
    cells = {m.name: m.cells for m in report.marginals}
    assert cells["household_size"] == 48 * 5 and cells["age_sex"] == 48 * 17 * 2
    assert report.privacy["within_tolerance"] is True
    # The disclosure report compares the merged population with the seed merged alike.
    risk = synth.disclosure_risk(pop, protection=record)
    assert risk.synthetic_records == pop.persons.height


def test_age_is_top_coded_at_the_top_band_and_stays_in_its_band(merged_and_capped):
    _, raw, pop, record = merged_and_capped
    assert record.top_coded["age"]["cap"] == 85.0  # raised from the seed's 99th percentile
    assert pop.persons["age"].max() == 85
    assert record.top_coded["age"]["values"] == int((raw.persons["age"] > 85).sum()) > 0
    cap = record.top_coded["income"]["cap"]
    assert pop.persons["income"].max() == pytest.approx(cap)
    lows = pop.persons.select(
        pl.col("age_band").cast(pl.String).str.extract(r"^(\d+)").cast(pl.Int64), "age"
    )
    assert (lows["age"] >= lows["age_band"]).all()


# -- configuration ---------------------------------------------------------------------------


def test_privacy_table_is_checked(city):
    config = city / "demo.toml"
    base = config.read_text(encoding="utf-8")
    cases = {
        "[privacy]\nresample_unique = true\n": "unknown key `resample_unique`. Hint: did you mean "
        "`resample_uniques`?",
        "[privacy]\nmerge_small = 3\n": "expected a list of column names (or true)",
        "[privacy]\ntop_code = { income = true }\n": "expected a table of caps",
        "[privacy]\nmin_category_size = 0\n": "expected a whole number of at least 1",
        "[privacy]\nfit_tolerance = -1\n": "expected a number of at least 0",
    }
    for text, message in cases.items():
        config.write_text(base + "\n" + text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(config)
        assert message in str(info.value), text
    config.write_text(base.replace("[seed]", "[unused]") + "\n[privacy]\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(config)
    config.write_text(
        base + '\n[privacy]\nresample_uniques = true\nmerge_small = ["age_band"]\n'
        'top_code = { income = 150000, age = "p99" }\nfit_tolerance = 0.01\n',
        encoding="utf-8",
    )
    privacy = load_config(config).privacy
    assert privacy.protects and privacy.merge_small == ("age_band",)
    assert privacy.top_code == {"income": 150000, "age": "p99"}
    assert privacy.fit_tolerance == 0.01


def test_privacy_without_a_seed_is_refused(city):
    config = city / "no-seed.toml"
    text = (city / "demo.toml").read_text(encoding="utf-8")
    start = text.index("[seed]")
    end = text.index("[[marginals]]")
    config.write_text(text[:start] + text[end:] + "\n[privacy]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a \[privacy\] table needs a \[seed\] sample"):
        load_config(config)


def test_unknown_protection_and_nothing_to_resample_are_errors(demo_population):
    from populations.demo import demo_config_path

    cfg = load_config(demo_config_path())
    with pytest.raises(ConfigError, match="unknown protection `unique`. Hint: did you mean"):
        PopulationSynthesizer.from_config(cfg, protect=("unique",))
    synth, pop = demo_population
    seed = records(synth.inputs_.seed.persons, synth.inputs_.seed.households)
    with pytest.raises(ConfigError, match="nothing to resample"):
        resample_uniques(
            pop.persons,
            seed,
            ["district", "hh_size"],
            households=pop.households,
            levels=["district"],
            rng=np.random.default_rng(0),
        )
    tables = qi_tables(records(pop.persons, pop.households), seed, ["district", "hh_size"])
    assert tables.quasi_identifiers == ["district", "hh_size"]
