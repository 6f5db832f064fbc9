"""`synthworld populate` without seed households: persons fitted as one table by IPF."""

import json

import polars as pl

PERSONS_ONLY = """
[geography]
file = "data/zones.csv"

[seed]
persons = "data/seed_persons.csv"

[[marginals]]
name = "age_sex"
file = "data/persons_age_sex.csv"

[[marginals]]
name = "employment_by_district"
file = "employment_by_district.csv"

[attributes.age]
band = "age_band"
max_age = 99

[attributes.income]
by = ["employment"]

[fit]
tol = 1e-8
structural_zeros = [{ age_band = ["0-4", "5-9", "10-14"], employment = ["employed", "retired"] }]
"""


def write_config(city, text):
    zones = pl.read_csv(city / "data" / "zones.csv")
    emp = pl.read_csv(city / "data" / "employment.csv").join(zones, on="zone")
    by_district = emp.group_by("district", "employment", maintain_order=True).agg(
        pl.col("count").sum()
    )
    by_district.write_csv(city / "employment_by_district.csv")
    (city / "persons.toml").write_text(text, encoding="utf-8")
    return city / "persons.toml"


def test_persons_only_with_district_marginal(city, cli, tmp_path):
    config = write_config(city, PERSONS_ONLY)
    out = tmp_path / "pop"
    result = cli("populate", config, "--out", out, "--seed", "3")
    assert result.code == 0, result.err
    assert "Fitted by ipf: converged" in result.out
    assert not (out / "households.parquet").exists()
    persons = pl.read_parquet(out / "persons.parquet")
    report = json.loads((out / "fit_report.json").read_text(encoding="utf-8"))
    # Consistent integer marginals, decomposable through the zone: all met exactly.
    assert all(m["exact"] for m in report["marginals"]), report["marginals"]
    assert persons.height == pl.read_csv(city / "data" / "persons_age_sex.csv")["count"].sum()
    children = persons.filter(pl.col("age_band").cast(pl.String).is_in(["0-4", "5-9", "10-14"]))
    assert children.filter(pl.col("employment").cast(pl.String) == "employed").height == 0
    assert persons.schema["district"] == pl.Enum([f"D{i}" for i in range(1, 9)])
    assert set(persons.columns) >= {"person_id", "zone", "district", "age", "income"}


def test_persons_without_any_seed_use_a_prior(city, cli, tmp_path):
    text = PERSONS_ONLY.replace('[seed]\npersons = "data/seed_persons.csv"\n', "")
    text = text.split("[attributes.age]")[0] + "[fit]\nprior = 1.0\n"
    result = cli("populate", write_config(city, text), "--out", tmp_path / "pop")
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "pop" / "fit_report.json").read_text(encoding="utf-8"))
    assert report["fit"]["status"] == "converged"


def test_structural_zeros_refused_with_seed_households(city, cli, tmp_path):
    toml = (city / "demo.toml").read_text(encoding="utf-8")
    toml = toml.replace(
        'integerise = "exact"', 'integerise = "exact"\nstructural_zeros = [{ sex = ["male"] }]'
    )
    (city / "demo.toml").write_text(toml, encoding="utf-8")
    result = cli("populate", city / "demo.toml", "--out", tmp_path / "pop")
    assert result.code == 2
    assert "structural_zeros apply to persons-only fits" in result.err
    assert not (tmp_path / "pop").exists()
