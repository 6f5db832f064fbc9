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


# --- The fast paths (matrix-product sums, all-positive targets, the predicted check) -----------


def _reference_ipf(seed, targets, n_iter):
    """Plain IPF (ndarray.sum, zero-safe factors), for checking the fast paths against."""
    table = np.array(seed, dtype=float)
    rows = []
    for _ in range(n_iter):
        row = []
        for t in targets:
            other = tuple(a for a in range(table.ndim) if a not in t.axes)
            s = table.sum(axis=other)
            pos = t.counts > 0
            err = np.max(np.abs(s[pos] - t.counts[pos]) / t.counts[pos], initial=0.0)
            row.append(np.inf if np.any(s[~pos] > 0) else err)
            f = np.divide(t.counts, s, out=np.zeros_like(s), where=s > 0)
            table *= np.expand_dims(f, other)
        rows.append(row)
    return table, np.array(rows)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 7), min_size=1, max_size=5),
    st.integers(0, 2**32 - 1),
    st.integers(1, 150),
)
def test_property_sums_match_ndarray_sum(shape, seed_int, batch):
    # Every block layout (leading, trailing, middle, length-1 axes, many small batches).
    rng = np.random.default_rng(seed_int)
    shape = [batch, *shape]
    table = rng.random(shape)
    axes = tuple(
        sorted(rng.choice(len(shape), size=rng.integers(0, len(shape) + 1), replace=False))
    )
    other = tuple(a for a in range(len(shape)) if a not in axes)
    t = Target(axes, np.zeros([shape[a] for a in axes]))
    np.testing.assert_allclose(marginal_sums(table, t), table.sum(axis=other), rtol=1e-12)
    # Non-contiguous and integer tables take ndarray.sum (integer sums stay exact integers).
    np.testing.assert_allclose(
        marginal_sums(np.asfortranarray(table), t), table.sum(axis=other), rtol=1e-12
    )
    ints = rng.integers(0, 9, size=shape)
    got = marginal_sums(ints, t)
    assert got.dtype == ints.dtype
    np.testing.assert_array_equal(got, ints.sum(axis=other))


def test_middle_block_with_many_small_batches():
    # 500 x (3 summed) x (4 kept): the single stacked-identity product path.
    table = np.random.default_rng(1).random((500, 3, 4))
    t = Target((0, 2), np.zeros((500, 4)))
    np.testing.assert_allclose(marginal_sums(table, t), table.sum(axis=1), rtol=1e-12)


def test_long_summed_blocks_fall_back_to_ndarray_sum(monkeypatch):
    # A summed block too long for a ones vector: the same sums and fit, by ndarray.sum.
    import populations.ipf as ipf_module

    rng = np.random.default_rng(2)
    table = rng.random((3, 4, 5)) + 0.1
    targets = [Target((0,), np.array([5.0, 6.0, 7.0])), Target((2,), np.full(5, 18.0 / 5))]
    expected = ipf(table, targets, tol=1e-10)
    monkeypatch.setattr(ipf_module, "_MAX_ONES", 4)
    assert ipf_module._sum_steps(table.shape, (0,)) is None
    np.testing.assert_allclose(marginal_sums(table, targets[0]), table.sum(axis=(1, 2)))
    r = ipf(table, targets, tol=1e-10)
    assert r.converged and r.n_iter == expected.n_iter
    np.testing.assert_allclose(r.table, expected.table, rtol=1e-12)


def test_zero_targets_and_zero_seed_cells_match_plain_ipf():
    # Structural zeros in the seed and zero target cells (general path) next to all-positive
    # targets (fast path): the same tables and in-loop errors as a plain implementation.
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 20, size=(4, 5, 3)).astype(float)
    truth[0, :, 1] = 0.0  # a zero cell in the (0, 2) target
    truth[:, 2, :] = 0.0  # zero cells in the (1,) and (0, 1) targets
    seed = rng.random(truth.shape) + 0.1
    seed[0, :, 1] = 0.0
    seed[3, 4, 2] = 0.0  # a zero seed cell under positive targets
    targets = [
        Target((0, 2), truth.sum(1), name="ac"),
        Target((1,), truth.sum((0, 2)), name="b"),
        Target((0, 1), truth.sum(2), name="ab"),
        Target((2,), truth.sum((0, 1)), name="c"),  # all positive: the fast path
    ]
    assert np.all(targets[-1].counts > 0)
    ref_table, ref_rows = _reference_ipf(seed, targets, 6)
    r = ipf(seed, targets, tol=0.0, max_iter=6)
    assert r.n_iter == 6
    np.testing.assert_allclose(r.table, ref_table, rtol=1e-12, atol=1e-300)
    rows = np.array([r.record.to_dict()[t.name] for t in targets]).T
    np.testing.assert_allclose(rows, ref_rows, rtol=1e-9, atol=1e-13)
    assert np.all(r.table[seed == 0] == 0)


@pytest.mark.filterwarnings("error")
def test_zero_sums_under_positive_targets_warn_nothing():
    # A positive target over an all-zero seed slice: the fast path's division by zero is caught.
    r = ipf(np.array([[1.0, 0.0], [1.0, 0.0]]), [Target((1,), np.array([2.0, 2.0]), name="c")])
    assert r.status is Status.INFEASIBLE
    assert r.max_rel_error["c"] == pytest.approx(1.0)


def test_status_comes_from_the_exact_check_even_if_in_loop_errors_say_done(monkeypatch):
    # Make every in-loop error read 0 (so the loop checks after each cycle): the result must
    # still not be converged while a marginal is off, and must be once the table is in tol.
    import populations.ipf as ipf_module

    real_update = ipf_module._Plan.update
    monkeypatch.setattr(ipf_module._Plan, "update", lambda self, t: real_update(self, t) * 0.0)
    rng = np.random.default_rng(0)
    truth = rng.random((6, 6, 6)) * 10
    targets = [
        Target((0, 1), truth.sum(2), name="ab"),
        Target((1, 2), truth.sum(0), name="bc"),
        Target((0, 2), truth.sum(1), name="ac"),
    ]
    seed = rng.random((6, 6, 6))
    for max_iter in (1, 2, 3, 200):
        r = ipf(seed, targets, tol=1e-9, max_iter=max_iter)
        exact = max(
            float(np.max(np.abs(marginal_sums(r.table, t) - t.counts) / t.counts)) for t in targets
        )
        assert r.converged == (exact <= 1e-9), (max_iter, r.status, exact)
    assert r.converged


@settings(max_examples=40, deadline=None)
@given(consistent_problem(), st.integers(1, 8))
def test_property_status_matches_recomputed_errors(problem, max_iter):
    # max_rel_error and the status describe the returned table, whatever cycle the fit ends on.
    start, targets = problem
    r = ipf(start, targets, tol=1e-6, max_iter=max_iter)
    for t in targets:
        got = marginal_sums(r.table, t)
        exact = float(np.max(np.abs(got - t.counts) / t.counts))
        assert r.max_rel_error[t.name] == pytest.approx(exact, rel=1e-6, abs=1e-15)
    assert r.converged == (max(r.max_rel_error.values()) <= 1e-6)


def test_predicted_check_saves_a_cycle_but_not_accuracy(monkeypatch):
    # Checking once the error is predicted within tol stops a cycle before waiting for the
    # in-loop error (which trails the table by about a cycle), on the same, fitted table.
    import populations.ipf as ipf_module

    rng = np.random.default_rng(5)
    truth = rng.poisson(10.0, (4, 5, 6)).astype(float) + 1
    targets = [
        Target((0, 1), truth.sum(2)),
        Target((1, 2), truth.sum(0)),
        Target((0,), truth.sum((1, 2))),
    ]
    seed = rng.random(truth.shape) + 0.1
    predicted = ipf(seed, targets, tol=1e-8)
    monkeypatch.setattr(ipf_module, "_worth_checking", lambda worst, previous, tol: worst <= tol)
    waited = ipf(seed, targets, tol=1e-8)
    assert predicted.converged and waited.converged
    assert predicted.n_iter == waited.n_iter - 1
    for t in targets:
        np.testing.assert_allclose(marginal_sums(predicted.table, t), t.counts, rtol=1e-8)


def test_check_targets_finds_a_coarse_category_with_no_zones():
    # A positive seed skips the support sums, except where a coarsened axis leaves a district
    # without zones: nothing can ever be put there.
    from populations.ipf import check_targets

    t = Target((0,), np.array([5.0, 3.0]), coarsen=(np.array([0, 0, 0]),), name="district")
    problems = check_targets(np.ones((3, 2)), [t])
    assert any("`district`" in p and "starting table is zero" in p for p in problems)


def test_check_targets_compares_shared_axes_not_just_totals():
    from populations.ipf import check_targets

    ab = Target((0, 1), np.array([[1.0, 2.0], [3.0, 4.0]]), name="ab")
    a = Target((0,), np.array([4.0, 6.0]), name="a")  # same total (10), rows 3 and 7 in `ab`
    c = Target((2,), np.array([6.0, 4.0]), name="c")  # no shared axis: totals agree
    problems = check_targets(np.ones((2, 2, 2)), [ab, a, c])
    assert problems == ["marginals `ab` and `a` disagree at cell (0,) of axes (0,): 3 against 4"]
