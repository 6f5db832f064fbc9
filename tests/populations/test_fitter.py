"""IPF on labelled frames: layout, geography levels, seeds, priors, sampling."""

import numpy as np
import polars as pl
import pytest

from populations.convergence import Status
from populations.errors import MarginalsError, NotFittedError, SeedSampleError
from populations.fitter import IPF
from populations.marginals import Geography, Marginal


def marginals():
    age = pl.DataFrame(
        {"zone": ["a", "a", "b", "b"], "age": ["young", "old"] * 2, "count": [3, 1, 2, 2]}
    )
    sex = pl.DataFrame({"zone": ["a", "a", "b", "b"], "sex": ["f", "m"] * 2, "count": [2, 2, 1, 3]})
    return [Marginal.from_frame(age, name="age"), Marginal.from_frame(sex, name="sex")]


def test_fit_and_sample_exact():
    fit = IPF(tol=1e-10).fit(marginals())
    assert fit.status_ is Status.CONVERGED
    assert fit.dims_ == ("zone", "age", "sex")
    persons = fit.sample(rng=np.random.default_rng(0))
    assert persons.height == 8
    assert fit.exact_ == {"age": True, "sex": True}
    counts = persons.group_by("zone", "sex").len().sort("zone", "sex")["len"].to_list()
    assert counts == [2, 2, 1, 3]
    assert persons.schema["sex"] == pl.Enum(["f", "m"])


def test_to_frame_sums_to_targets():
    fit = IPF().fit(marginals())
    tidy = fit.to_frame()
    assert tidy["count"].sum() == pytest.approx(8.0)


def test_seed_interaction_and_missing_category():
    seed = pl.DataFrame({"age": ["young", "young", "old"], "sex": ["f", "m", "f"]})
    fit = IPF(tol=1e-10).fit(marginals(), seed=seed)
    # Old men never appear in the seed: a structural zero that IPF keeps.
    table = fit.table_
    assert np.all(table[:, fit.categories_[1].index("old"), fit.categories_[2].index("m")] == 0)
    only_f = pl.DataFrame({"age": ["young", "old"], "sex": ["f", "f"]})
    with pytest.raises(SeedSampleError, match=r"counts sex `m`, but the seed sample has no record"):
        IPF().fit(marginals(), seed=only_f)
    filled = IPF(prior=0.5).fit(marginals(), seed=only_f)
    assert filled.status_ is Status.CONVERGED


def test_seed_label_not_in_marginals():
    seed = pl.DataFrame({"age": ["young", "ancient"], "sex": ["f", "m"]})
    with pytest.raises(SeedSampleError, match=r"row 2, column `age`: `ancient` is not a category"):
        IPF().fit(marginals(), seed=seed)


def test_district_marginal_through_geography():
    geo = Geography("zone", ("a", "b"), {"district": ("d1", "d1")})
    emp = Marginal.from_frame(
        pl.DataFrame({"district": ["d1", "d1"], "emp": ["yes", "no"], "count": [5, 3]}), name="emp"
    )
    fit = IPF(tol=1e-10).fit([*marginals(), emp], geography=geo)
    assert fit.status_ is Status.CONVERGED
    assert fit.dims_ == ("zone", "age", "sex", "emp")
    persons = fit.sample(rng=np.random.default_rng(1))
    assert fit.exact_["emp"]
    assert persons.filter(pl.col("emp") == "yes").height == 5


def test_pandas_frames_accepted():
    import pandas as pd

    frame = pd.DataFrame({"zone": ["a", "b"], "count": [1.0, 2.0]})
    m = Marginal.from_frame(frame, name="z")
    assert m.total == 3.0


def test_not_fitted():
    with pytest.raises(NotFittedError, match="call `fit` first"):
        IPF().to_frame()


def test_structural_zeros_survive_the_prior():
    rule = {"age": ["young"], "sex": ["m"]}
    ages = Marginal.from_frame(pl.DataFrame({"age": ["young", "old"], "count": [3, 5]}), name="age")
    sexes = Marginal.from_frame(pl.DataFrame({"sex": ["f", "m"], "count": [4, 4]}), name="sex")
    fit = IPF(prior=1.0, tol=1e-9, structural_zeros=[rule]).fit([ages, sexes])
    assert fit.status_ is Status.CONVERGED
    young, m = fit.categories_[0].index("young"), fit.categories_[1].index("m")
    assert fit.table_[young, m] == 0
    persons = fit.sample(rng=np.random.default_rng(0))
    assert persons.filter((pl.col("age") == "young") & (pl.col("sex") == "m")).height == 0


def test_structural_zeros_that_no_table_can_meet_are_infeasible():
    ages = Marginal.from_frame(pl.DataFrame({"age": ["young", "old"], "count": [3, 5]}), name="a")
    fit = IPF(structural_zeros=[{"age": ["young"]}]).fit([ages])
    assert fit.status_ is Status.INFEASIBLE
    assert "starting table is zero" in fit.problems_[0]


def test_structural_zeros_bad_names():
    with pytest.raises(
        MarginalsError, match=r"structural_zeros\[0\]: unknown dimension `sx`.*`sex`"
    ):
        IPF(structural_zeros=[{"sx": ["m"]}]).fit(marginals())
    with pytest.raises(MarginalsError, match=r"`male` is not a category of `sex`"):
        IPF(structural_zeros=[{"sex": ["male"]}]).fit(marginals())
