"""IPF on arrays: known answers, honest statuses, and invariants as properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from populations.convergence import Status
from populations.ipf import Target, ipf, marginal_sums


def test_two_by_two_known_answer():
    # Hand-computed: rows (3, 7), columns (4, 6) from a uniform start give the outer product / 10.
    r = ipf(
        np.ones((2, 2)), [Target((0,), np.array([3.0, 7.0])), Target((1,), np.array([4.0, 6.0]))]
    )
    assert r.status is Status.CONVERGED
    np.testing.assert_allclose(r.table, np.outer([3, 7], [4, 6]) / 10)


def test_seed_interaction_is_kept():
    # IPF keeps the seed's odds ratio: (a d) / (b c) is invariant under row and column scaling.
    seed = np.array([[4.0, 1.0], [1.0, 4.0]])
    r = ipf(seed, [Target((0,), np.array([10.0, 30.0])), Target((1,), np.array([20.0, 20.0]))])
    t = r.table
    assert t[0, 0] * t[1, 1] / (t[0, 1] * t[1, 0]) == pytest.approx(16.0, rel=1e-6)
    np.testing.assert_allclose(t.sum(axis=1), [10, 30], rtol=1e-6)


def test_overlapping_two_d_marginals_three_d():
    rng = np.random.default_rng(3)
    truth = rng.poisson(10, (6, 5, 4)).astype(float) + 1
    targets = [
        Target((0, 1), truth.sum(2), name="ab"),
        Target((1, 2), truth.sum(0), name="bc"),
        Target((0, 2), truth.sum(1), name="ac"),
    ]
    r = ipf(rng.random((6, 5, 4)) + 0.1, targets, tol=1e-8)
    assert r.converged
    for t in targets:
        np.testing.assert_allclose(marginal_sums(r.table, t), t.counts, rtol=1e-7)
    assert set(r.record.to_dict()) == {"ab", "bc", "ac"}
    assert len(r.record.to_dict()["ab"]) == r.n_iter


def test_marginal_axes_in_any_order():
    truth = np.arange(1.0, 25.0).reshape(2, 3, 4)
    t = Target((2, 0), truth.sum(1).T, name="ca")  # axes given as (2, 0): counts are (4, 2)
    r = ipf(np.ones_like(truth), [t])
    np.testing.assert_allclose(r.table.sum(1), truth.sum(1))


def test_coarsened_axis_district_marginal():
    # Three zones in two districts; employment known per district only.
    zone_to_district = np.array([0, 0, 1])
    by_zone = Target((0,), np.array([10.0, 20.0, 30.0]), name="zone totals")
    by_district = Target(
        (0, 1), np.array([[12.0, 18.0], [5.0, 25.0]]), coarsen=(zone_to_district, None), name="emp"
    )
    r = ipf(np.ones((3, 2)), [by_zone, by_district])
    assert r.converged
    np.testing.assert_allclose(r.table.sum(1), [10, 20, 30])
    np.testing.assert_allclose(r.table[:2].sum(0), [12, 18])
    np.testing.assert_allclose(r.table[2], [5, 25])


def test_infeasible_totals_named_and_never_converged():
    r = ipf(
        np.ones((2, 2)),
        [
            Target((0,), np.array([3.0, 7.0]), name="rows"),
            Target((1,), np.array([4.0, 7.0]), name="cols"),
        ],
    )
    assert r.status is Status.INFEASIBLE
    assert "`rows` and `cols` disagree" in r.problems[0]
    assert max(r.max_rel_error.values()) > 1e-3


def test_target_without_support_is_infeasible():
    seed = np.array([[1.0, 0.0], [1.0, 0.0]])  # column 1 structurally empty
    r = ipf(seed, [Target((1,), np.array([2.0, 2.0]), name="cols")])
    assert r.status is Status.INFEASIBLE
    assert "starting table is zero" in r.problems[0]


def test_stalled_on_a_three_way_contradiction():
    # Pairwise-consistent 2-D marginals that no table meets: the error stops falling.
    ab = np.array([[1.0, 0.0], [0.0, 1.0]])
    bc = np.array([[1.0, 0.0], [0.0, 1.0]])
    ac = np.array([[0.0, 1.0], [1.0, 0.0]])
    r = ipf(
        np.ones((2, 2, 2)),
        [Target((0, 1), ab), Target((1, 2), bc), Target((0, 2), ac)],
        max_iter=500,
    )
    assert r.status in {Status.STALLED, Status.INFEASIBLE}
    assert r.status is not Status.CONVERGED
    assert r.n_iter < 500


def test_cap_reached_while_still_improving():
    rng = np.random.default_rng(0)
    truth = rng.random((8, 8, 8)) * 10
    targets = [
        Target((0, 1), truth.sum(2)),
        Target((1, 2), truth.sum(0)),
        Target((0, 2), truth.sum(1)),
    ]
    r = ipf(rng.random((8, 8, 8)), targets, tol=1e-12, max_iter=2)
    assert r.status is Status.MAX_ITER
    assert r.n_iter == 2


def test_callback_sees_every_iteration():
    seen = []
    ipf(np.ones((2, 2)), [Target((0,), np.array([1.0, 3.0]))], callback=lambda i, e: seen.append(i))
    assert seen == list(range(1, len(seen) + 1))


def test_negative_seed_refused():
    with pytest.raises(ValueError, match="negative or non-finite"):
        ipf(-np.ones((2, 2)), [Target((0,), np.array([1.0, 1.0]))])


@st.composite
def consistent_problem(draw):
    ndim = draw(st.integers(2, 4))
    shape = tuple(draw(st.integers(2, 5)) for _ in range(ndim))
    seed_int = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed_int)
    truth = rng.integers(1, 30, size=shape).astype(float)
    n_marg = draw(st.integers(1, 3))
    targets = []
    for k in range(n_marg):
        size = draw(st.integers(1, ndim))
        axes = tuple(sorted(rng.choice(ndim, size=size, replace=False).tolist()))
        other = tuple(a for a in range(ndim) if a not in axes)
        targets.append(Target(axes, truth.sum(axis=other), name=f"m{k}"))
    start = rng.random(shape) + 0.05
    return start, targets


@settings(max_examples=60, deadline=None)
@given(consistent_problem())
def test_property_marginals_met_and_total_preserved(problem):
    start, targets = problem
    r = ipf(start, targets, tol=1e-7, max_iter=5000)
    if r.converged:
        for t in targets:
            got = marginal_sums(r.table, t)
            assert np.all(np.abs(got - t.counts) <= 1e-7 * t.counts + 1e-12)
        assert r.table.sum() == pytest.approx(targets[0].counts.sum(), rel=1e-7)
    else:  # an honest status: never "converged" while a marginal is off
        assert max(r.max_rel_error.values()) > 1e-7


@settings(max_examples=40, deadline=None)
@given(consistent_problem())
def test_property_status_matches_final_errors(problem):
    start, targets = problem
    r = ipf(start, targets, tol=1e-6, max_iter=3)
    worst = max(r.max_rel_error.values())
    assert r.converged == (worst <= 1e-6)
