"""Continuous attributes: drawn within bands, from distributions fitted per group."""

import numpy as np
import polars as pl
import pytest

from populations.attributes import AgeInBand, IncomeByGroup, parse_band
from populations.errors import ConfigError, NotFittedError, SeedSampleError


def test_parse_band_forms():
    assert parse_band("0-4") == (0, 4)
    assert parse_band("85+", max_age=100) == (85, 100)
    assert parse_band("20 to 24") == (20, 24)
    with pytest.raises(ConfigError, match="age band `old` is not a range"):
        parse_band("old")


def test_age_within_band_and_follows_seed():
    seed = pl.DataFrame({"age_band": ["20-24"] * 200, "age": [20] * 180 + [24] * 20})
    model = AgeInBand(smoothing=1.0).fit(seed)
    ages = model.sample(
        pl.Series(["20-24"] * 20_000 + ["85+"] * 1000), rng=np.random.default_rng(0)
    )
    young = ages[:20_000].to_numpy()
    assert young.min() >= 20 and young.max() <= 24
    # P(20) = (180 + 1) / (200 + 5) under smoothing 1.
    assert np.mean(young == 20) == pytest.approx(181 / 205, abs=0.01)
    old = ages[20_000:].to_numpy()  # a band the seed never showed: uniform within it
    assert old.min() >= 85 and old.max() <= 100


def test_income_zero_share_and_median_per_group():
    rng = np.random.default_rng(1)
    n = 4000
    employed = rng.lognormal(np.log(30_000), 0.5, n)
    retired = np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(np.log(12_000), 0.3, n))
    seed = pl.DataFrame(
        {
            "employment": ["employed"] * n + ["retired"] * n,
            "income": np.concatenate([employed, retired]),
        }
    )
    model = IncomeByGroup(by=["employment"]).fit(seed)
    out = pl.DataFrame({"employment": ["employed"] * 20_000 + ["retired"] * 20_000})
    income = model.sample(out, rng=np.random.default_rng(2)).to_numpy()
    emp, ret = income[:20_000], income[20_000:]
    assert np.median(emp) == pytest.approx(30_000, rel=0.03)
    assert np.mean(ret == 0) == pytest.approx(0.2, abs=0.015)
    assert np.median(ret[ret > 0]) == pytest.approx(12_000, rel=0.03)


def test_income_small_group_falls_back_to_pooled():
    seed = pl.DataFrame({"g": ["a"] * 100 + ["b"] * 3, "income": [1000.0] * 50 + [2000.0] * 53})
    model = IncomeByGroup(by=["g"], min_group=30).fit(seed)
    assert ("a",) in model.fits_ and ("b",) not in model.fits_


def test_income_errors():
    with pytest.raises(SeedSampleError, match="no column `incme`.*`income`"):
        IncomeByGroup(column="incme").fit(pl.DataFrame({"income": [1.0]}))
    with pytest.raises(NotFittedError):
        IncomeByGroup().sample(pl.DataFrame({"x": [1]}), rng=np.random.default_rng(0))


def test_demo_attributes_are_drawn_not_copied(demo_population):
    synth, pop = demo_population
    persons = pop.persons
    bounds = (
        persons["age_band"]
        .cast(pl.String)
        .map_elements(lambda b: parse_band(b, max_age=99)[0], return_dtype=pl.Int64)
    )
    assert (persons["age"].cast(pl.Int64) >= bounds).all()
    seed_incomes = set(synth.inputs_.seed.persons["income"].cast(pl.Float64).to_list()) - {0.0}
    positive = persons.filter(pl.col("income") > 0)["income"].to_list()
    copied = sum(v in seed_incomes for v in positive)
    assert copied / len(positive) < 0.01
