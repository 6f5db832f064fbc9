"""Integerisation: TRS keeps totals, the exact method meets consistent integer marginals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from populations.integerise import integerise, trs
from populations.ipf import Target, ipf, marginal_sums


def test_trs_total_and_integer_parts():
    w = np.array([0.2, 1.7, 3.1, 0.0, 5.0])
    out = trs(w, rng=np.random.default_rng(0))
    assert out.sum() == 10
    assert np.all(out >= np.floor(w)) and np.all(out <= np.ceil(w))
    assert out[3] == 0  # a zero weight stays zero


def test_trs_groups_meet_their_totals():
    w = np.array([0.5, 0.5, 2.2, 0.3, 0.4])
    groups = np.array([0, 0, 1, 1, 1])
    out = trs(w, groups=groups, totals=np.array([1, 4]), rng=np.random.default_rng(1))
    assert out[:2].sum() == 1 and out[2:].sum() == 4


def test_trs_is_unbiased():
    w = np.array([0.25, 0.75, 1.5, 0.5])
    rng = np.random.default_rng(2)
    mean = np.mean([trs(w, rng=rng) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, w, atol=0.03)


def test_trs_refuses_total_without_weight():
    with pytest.raises(ValueError, match="group 1 must hold 2 units"):
        trs(
            np.array([1.0, 0.0]),
            groups=np.array([0, 1]),
            totals=np.array([1, 2]),
            rng=np.random.default_rng(0),
        )


def _zone_problem(n_zones=30, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.poisson(3, (n_zones, 6, 2, 5)).astype(float)
    targets = [
        Target((0, 1, 2), truth.sum(3), name="zone_age_sex"),
        Target((0, 3), truth.sum((1, 2)), name="zone_employment"),
    ]
    start = np.broadcast_to(rng.random((1, 6, 2, 5)) + 0.05, truth.shape)
    return ipf(start, targets, tol=1e-10), targets


def test_exact_meets_zone_marginals_and_stays_close():
    fit, targets = _zone_problem()
    counts, exact = integerise(fit.table, targets, method="exact", rng=np.random.default_rng(0))
    assert exact == {"zone_age_sex": True, "zone_employment": True}
    for t in targets:
        np.testing.assert_array_equal(marginal_sums(counts, t), t.counts)
    # Never further from the fitted table than TRS, on average per unit.
    trs_counts, trs_exact = integerise(
        fit.table, targets, method="trs", rng=np.random.default_rng(0)
    )
    assert not all(trs_exact.values())
    assert np.abs(counts - fit.table).sum() <= 1.2 * np.abs(trs_counts - fit.table).sum()


def test_exact_with_district_level_marginal():
    rng = np.random.default_rng(5)
    truth = rng.poisson(4, (6, 3, 4)).astype(float)
    district = np.array([0, 0, 1, 1, 2, 2])
    by_district = np.stack([truth[district == d].sum(0).sum(0) for d in range(3)])
    targets = [
        Target((0, 1), truth.sum(2), name="zone_age"),
        Target((0, 2), by_district, coarsen=(district, None), name="district_emp"),
    ]
    fit = ipf(np.ones(truth.shape), targets, tol=1e-10)
    counts, exact = integerise(fit.table, targets, rng=np.random.default_rng(1))
    assert exact == {"zone_age": True, "district_emp": True}


def test_exact_does_not_depend_on_marginal_order():
    rng = np.random.default_rng(0)
    truth = rng.poisson(10.0, (3, 4, 5)).astype(float)

    def marg(axes, name):
        return Target(axes, truth.sum(axis=tuple(a for a in range(3) if a not in axes)), name=name)

    a, b, c = marg((1, 2), "12"), marg((0,), "0"), marg((0, 1), "01")
    for targets in ([a, b, c], [a, c, b], [b, c, a]):
        fit = ipf(np.ones(truth.shape), targets, tol=1e-10)
        _, exact = integerise(fit.table, targets, rng=np.random.default_rng(1))
        assert all(exact.values()), exact


def test_exact_keeps_structural_zeros():
    fit, targets = _zone_problem(n_zones=10, seed=4)
    table = fit.table.copy()
    counts, _ = integerise(table, targets, rng=np.random.default_rng(0))
    assert np.all(counts[table == 0] == 0)


def test_same_rng_same_counts():
    fit, targets = _zone_problem(n_zones=8)
    a, _ = integerise(fit.table, targets, rng=np.random.default_rng(9))
    b, _ = integerise(fit.table, targets, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)


def test_exact_refuses_fractional_marginals():
    t = [Target((0,), np.array([1.5, 2.5]), name="half")]
    with pytest.raises(ValueError, match="whole-number marginals; `half` has 1.5"):
        integerise(np.array([1.5, 2.5]), t, rng=np.random.default_rng(0))


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown integerisation method `round`"):
        integerise(np.ones(2), method="round", rng=np.random.default_rng(0))


@st.composite
def decomposable_problem(draw):
    """Integer marginals that share only a 'zone' axis (the census layout), or 1-D ones."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_zones = draw(st.integers(1, 6))
    sizes = [draw(st.integers(2, 4)) for _ in range(draw(st.integers(2, 3)))]
    truth = rng.poisson(draw(st.sampled_from([0.5, 3, 20])), (n_zones, *sizes)).astype(float)
    axes_all = range(1, truth.ndim)
    targets = [
        Target((0, a), truth.sum(axis=tuple(b for b in axes_all if b != a)), name=f"z{a}")
        for a in axes_all
    ]
    return truth, targets, rng


@settings(max_examples=80, deadline=None)
@given(decomposable_problem())
def test_property_exact_integer_marginals(problem):
    truth, targets, rng = problem
    fit = ipf(np.ones(truth.shape), targets, tol=1e-10, max_iter=2000)
    counts, exact = integerise(fit.table, targets, method="exact", rng=rng)
    assert all(exact.values())
    assert counts.sum() == truth.sum()
    assert counts.min() >= 0


@settings(max_examples=60, deadline=None)
@given(decomposable_problem())
def test_property_trs_preserves_total(problem):
    truth, targets, rng = problem
    fit = ipf(np.ones(truth.shape), targets, tol=1e-10, max_iter=2000)
    counts, _ = integerise(fit.table, targets, method="trs", rng=rng)
    assert counts.sum() == round(fit.table.sum())


def test_repair_follows_a_chain_around_structural_zeros():
    from populations.integerise import _repair

    # Columns: student, inactive, employed. A child cannot be employed, an adult not a student.
    y = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 1.5]])
    x = np.array([[0, 1, 0], [0, 0, 2]])
    target = np.array([[1, 1, 1]])
    _repair(x, y, np.zeros(2, dtype=np.intp), target)
    np.testing.assert_array_equal(x, [[1, 0, 0], [0, 1, 1]])
