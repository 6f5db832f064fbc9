"""List balancing of seed households: zones in one pass, both levels met, honest status."""

import numpy as np
import polars as pl
import pytest

from populations.convergence import Status
from populations.errors import NotFittedError, SeedSampleError
from populations.households import HouseholdSynthesizer
from populations.marginals import Geography, Marginal
from populations.report import measure_fit
from populations.seed import SeedSample


def toy_seed():
    households = pl.DataFrame({"household_id": [1, 2, 3, 4], "size": ["1", "2", "2", "3"]})
    persons = pl.DataFrame(
        {
            "household_id": [1, 2, 2, 3, 3, 4, 4, 4],
            "sex": ["f", "f", "m", "m", "m", "f", "m", "f"],
        }
    )
    return SeedSample.from_frames(households, persons)


def toy_marginals():
    size = pl.DataFrame(
        {"zone": ["a"] * 3 + ["b"] * 3, "size": ["1", "2", "3"] * 2, "count": [10, 20, 5, 4, 6, 10]}
    )
    # Persons implied: a = 10 + 40 + 15 = 65, b = 4 + 12 + 30 = 46.
    sex = pl.DataFrame(
        {"zone": ["a", "a", "b", "b"], "sex": ["f", "m"] * 2, "count": [35, 30, 25, 21]}
    )
    return [
        Marginal.from_frame(size, name="size", level="household"),
        Marginal.from_frame(sex, name="sex", level="person"),
    ]


def test_toy_fit_meets_both_levels():
    synth = HouseholdSynthesizer(tol=1e-9).fit(toy_seed(), toy_marginals())
    assert synth.status_ is Status.CONVERGED
    w = synth.weights_  # (households, zones)
    np.testing.assert_allclose(w[0], [10, 4], rtol=1e-8)  # size 1
    np.testing.assert_allclose(w[1] + w[2], [20, 6], rtol=1e-8)  # size 2
    females = w[0] + w[1] + 2 * w[3]
    np.testing.assert_allclose(females, [35, 25], rtol=1e-8)


def test_sample_household_marginals_exact_and_persons_follow():
    synth = HouseholdSynthesizer().fit(toy_seed(), toy_marginals())
    pop = synth.sample(rng=np.random.default_rng(0))
    hh = pop.households
    counts = hh.group_by("zone", "size").len().sort("zone", "size")
    assert counts["len"].to_list() == [10, 20, 5, 4, 6, 10]
    assert set(pop.persons["household_id"].to_list()) == set(hh["household_id"].to_list())
    per_hh = pop.persons.group_by("household_id").len().join(hh, on="household_id")
    assert (per_hh["len"].cast(pl.String) == per_hh["size"]).all()
    # Persons live in their household's zone.
    joined = pop.persons.join(
        hh.select("household_id", pl.col("zone").alias("hz")), on="household_id"
    )
    assert (joined["zone"] == joined["hz"]).all()


def test_zone_order_may_differ_between_marginals():
    size, sex = toy_marginals()
    reordered = Marginal.from_frame(
        size.to_frame().reverse().cast({"zone": pl.String, "size": pl.String}),
        name="size",
        level="household",
    )
    assert reordered.categories[0] == ("b", "a")
    synth = HouseholdSynthesizer().fit(toy_seed(), [reordered, sex])
    pop = synth.sample(rng=np.random.default_rng(0))
    counts = pop.households.group_by(pl.col("zone").cast(pl.String), "size").len()
    assert counts.sort("zone", "size")["len"].to_list() == [10, 20, 5, 4, 6, 10]


def test_same_rng_same_population():
    synth = HouseholdSynthesizer().fit(toy_seed(), toy_marginals())
    a = synth.sample(rng=np.random.default_rng(3))
    b = synth.sample(rng=np.random.default_rng(3))
    assert a.persons.equals(b.persons) and a.households.equals(b.households)


def test_district_level_marginal_scales_its_zones_together():
    geo = Geography("zone", ("a", "b"), {"district": ("d", "d")})
    size, sex = toy_marginals()
    sex_by_district = Marginal.from_frame(
        pl.DataFrame({"district": ["d", "d"], "sex": ["f", "m"], "count": [60, 51]}),
        name="sex_d",
        level="person",
    )
    synth = HouseholdSynthesizer(tol=1e-9).fit(toy_seed(), [size, sex_by_district], geography=geo)
    assert synth.status_ is Status.CONVERGED
    w = synth.weights_
    females = (w[0] + w[1] + 2 * w[3]).sum()
    assert females == pytest.approx(60, rel=1e-8)


def test_category_missing_from_seed_is_named():
    size, sex = toy_marginals()
    bad = pl.DataFrame(
        {
            "zone": ["a"] * 4 + ["b"] * 4,
            "size": ["1", "2", "3", "4"] * 2,
            "count": [10, 20, 4, 1, 4, 6, 9, 1],
        }
    )
    with pytest.raises(
        SeedSampleError, match=r"size `4`, but the seed sample has no such household"
    ):
        HouseholdSynthesizer().fit(
            toy_seed(), [Marginal.from_frame(bad, name="size", level="household")]
        )


def test_unknown_column_suggests_closest():
    m = Marginal.from_frame(
        pl.DataFrame({"zone": ["a", "a"], "sexe": ["f", "m"], "count": [1, 1]}), name="sx"
    )
    with pytest.raises(SeedSampleError, match=r"column `sexe` is not in the seed persons.*`sex`"):
        HouseholdSynthesizer().fit(toy_seed(), [m])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="call `fit` first"):
        HouseholdSynthesizer().sample(rng=np.random.default_rng(0))


def test_seed_checks():
    hh = pl.DataFrame({"household_id": [1, 2], "size": ["1", "1"]})
    with pytest.raises(SeedSampleError, match="has no rows"):
        SeedSample.from_frames(hh, pl.DataFrame({"household_id": []}))
    with pytest.raises(SeedSampleError, match="household `2` has no persons"):
        SeedSample.from_frames(hh, pl.DataFrame({"household_id": [1]}))
    with pytest.raises(SeedSampleError, match=r"household `7` is not in"):
        SeedSample.from_frames(hh, pl.DataFrame({"household_id": [1, 2, 7]}))
    with pytest.raises(SeedSampleError, match="expected a positive weight"):
        SeedSample.from_frames(
            hh.with_columns(w=pl.Series([1.0, -2.0])),
            pl.DataFrame({"household_id": [1, 2]}),
            weight="w",
        )


def test_demo_fit_converges_and_household_marginals_exact(demo_population):
    synth, pop = demo_population
    assert synth.status_ is Status.CONVERGED
    report = {m.name: m for m in synth.report(pop).marginals}
    assert report["household_size"].exact and report["cars"].exact
    # Person-level marginals are not exact after integerisation, but close once refined.
    assert report["age_sex"].srmse < 0.02
    assert report["employment"].srmse < 0.005
    assert report["age_sex"].achieved_total == pytest.approx(
        report["age_sex"].target_total, rel=0.01
    )


def test_refinement_brings_persons_closer_and_keeps_households_exact(demo_population):
    synth, _ = demo_population
    fitter = synth.fitter_
    rounds = fitter.refine_rounds
    try:
        fitter.refine_rounds = 0
        raw = fitter.sample(rng=np.random.default_rng(5))
    finally:
        fitter.refine_rounds = rounds
    refined = fitter.sample(rng=np.random.default_rng(5))
    geo = fitter.geography_
    before = {
        m.name: m
        for m in measure_fit(raw.households, raw.persons, fitter.marginals_, geography=geo)
    }
    after = {
        m.name: m
        for m in measure_fit(refined.households, refined.persons, fitter.marginals_, geography=geo)
    }
    assert after["household_size"].exact and after["cars"].exact
    assert after["age_sex"].tae < 0.25 * before["age_sex"].tae
    assert after["employment"].tae < 0.25 * before["employment"].tae
    assert refined.households.height == raw.households.height


def test_district_marginal_polished_to_exact_on_the_demo():
    from populations.demo import load_demo

    demo = load_demo()
    zones = pl.DataFrame(
        {"zone": demo.geography.zones, "district": demo.geography.levels["district"]}
    )
    emp = demo.marginals[1].to_frame().cast({"zone": pl.String, "employment": pl.String})
    by_district = (
        emp.join(zones, on="zone")
        .group_by("district", "employment", maintain_order=True)
        .agg(pl.col("count").sum())
    )
    marginals = [
        demo.marginals[0],
        Marginal.from_frame(by_district, name="employment_by_district"),
        *demo.marginals[2:],
    ]
    synth = HouseholdSynthesizer().fit(demo.seed, marginals, geography=demo.geography)
    assert synth.status_ is Status.CONVERGED
    assert max(synth.fit_errors_.values()) <= 1e-6
    assert synth.infeasible_zones_ == []
    assert (synth.weights_ >= 0).all()
