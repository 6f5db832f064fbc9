"""The demo city's files are exactly what `scripts/make_demo_data.py` makes, and consistent."""

import importlib.util
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "populations" / "demo" / "data"


def test_generator_reproduces_the_committed_files(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location(
        "make_demo_data", ROOT / "scripts" / "make_demo_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT_DIR", tmp_path)
    module.main()
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in DATA.glob("*.csv"))
    for name in made:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_marginals_agree_per_zone():
    def totals(name):
        return pl.read_csv(DATA / name).group_by("zone").agg(pl.col("count").sum()).sort("zone")

    assert totals("persons_age_sex.csv").equals(totals("employment.csv"))
    assert totals("households_size.csv").equals(totals("cars.csv"))
    persons = pl.read_csv(DATA / "seed_persons.csv")
    households = pl.read_csv(DATA / "seed_households.csv", infer_schema=False)
    assert persons["household_id"].n_unique() == households.height
