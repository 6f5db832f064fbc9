"""Random streams and keyed draws: reproducible, independent, keyed by agent and not position."""

import multiprocessing
import random
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from scipy import stats

from abm.rng import (
    KeyedDraws,
    Streams,
    as_generator,
    as_seed_sequence,
    keyed_uniform,
    rng_arg,
)
from populations.errors import ConfigError

N = 200_000
# Draws are a fixed function of their key, so these checks are deterministic, not flaky. A
# correlation of N independent uniforms has standard deviation 1/sqrt(N) ~ 0.0022; we allow 5 of
# them, which a real dependence of the kind tested (shifted or shared keys) exceeds by far.
CORR_TOL = 5 / np.sqrt(N)


@pytest.fixture(scope="module")
def pool():
    """Worker processes started fresh ("spawn"): a new interpreter with its own hash seed."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


def corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


# --------------------------------------------------------------------------- streams


def test_same_root_and_name_give_the_same_numbers():
    a = Streams(2026)["population"].random(5)
    b = Streams(2026)["population"].random(5)
    assert np.array_equal(a, b)
    assert np.array_equal(
        Streams(np.random.SeedSequence(2026))["population"].random(5), a
    )  # an int root is its SeedSequence


def test_different_names_and_roots_give_different_numbers():
    streams = Streams(2026)
    draws = {name: streams[name].random(1000) for name in ("population", "network", "shocks")}
    draws["other root"] = Streams(2027)["population"].random(1000)
    values = list(draws.values())
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            assert not np.array_equal(values[i], values[j])
            assert abs(corr(values[i], values[j])) < 0.15


def test_order_of_requests_does_not_matter():
    names = ["population", "network", "behaviour.person", "shocks"]
    first = Streams(7)
    forward = {name: first[name].random(4) for name in names}
    second = Streams(7)
    backward = {name: second[name].random(4) for name in reversed(names)}
    for name in names:
        assert np.array_equal(forward[name], backward[name])
    assert first.names == tuple(names) and second.names == tuple(reversed(names))


def test_adding_a_stream_changes_no_other():
    alone = Streams(11)
    a_alone = np.concatenate([alone["a"].random(3), alone["a"].random(3)])
    mixed = Streams(11)
    first = mixed["a"].random(3)
    mixed["b"].random(100)  # a new stream, used in between
    a_mixed = np.concatenate([first, mixed["a"].random(3)])
    assert np.array_equal(a_alone, a_mixed)


def test_a_name_is_one_generator_that_advances():
    streams = Streams(3)
    assert streams["x"] is streams["x"]
    assert "x" in streams and "y" not in streams
    assert streams["x"].random() != streams["x"].random()


def test_stream_seed_is_the_name_hash_appended_to_the_root():
    ss = Streams(5).seed_sequence_for("population")
    assert ss.entropy == 5
    assert len(ss.spawn_key) == 9  # a marker word and the name's SHA-256 as 8 words
    child = Streams(5).spawn(2)[1].seed_sequence_for("population")
    assert child.spawn_key[0] == 1 and child.spawn_key[1:] == ss.spawn_key


def test_spawn_is_reproducible_distinct_and_stateless():
    root = Streams(99)
    kids = root.spawn(3)
    again = root.spawn(3)  # no hidden counter: the same three children again
    assert [k.seed_sequence.spawn_key for k in kids] == [(0,), (1,), (2,)]
    draws = [k["behaviour"].random(50) for k in kids]
    for k, d in zip(again, draws, strict=True):
        assert np.array_equal(k["behaviour"].random(50), d)
    assert np.array_equal(root.spawn(2)[1]["behaviour"].random(50), draws[1])
    assert np.array_equal(root.replicate(2)["behaviour"].random(50), draws[2])
    parent = root["behaviour"].random(50)
    everyone = [parent, *draws]
    for i in range(len(everyone)):
        for j in range(i + 1, len(everyone)):
            assert not np.array_equal(everyone[i], everyone[j])
    # the same children numpy's own SeedSequence.spawn gives on a fresh root
    numpy_kids = np.random.SeedSequence(99).spawn(3)
    assert [k.spawn_key for k in numpy_kids] == [k.seed_sequence.spawn_key for k in kids]
    grandchild = kids[1].spawn(2)[0]
    assert grandchild.seed_sequence.spawn_key == (1, 0)


def _stream_numbers(root, name, replicate):
    return Streams(root).replicate(replicate)[name].random(1000).tobytes()


def test_streams_are_the_same_in_another_process(pool):
    here = _stream_numbers(2026, "behaviour.person", 3)
    there = pool.submit(_stream_numbers, 2026, "behaviour.person", 3).result()
    assert here == there


def test_root_kinds():
    gen = np.random.default_rng(5)
    from_gen = Streams(gen)
    assert np.array_equal(
        from_gen["x"].random(3), Streams(np.random.default_rng(5))["x"].random(3)
    )  # reproducible from the Generator's state
    fresh_a, fresh_b = Streams(), Streams(None)
    assert not np.array_equal(fresh_a["x"].random(3), fresh_b["x"].random(3))
    rerun = Streams(fresh_a.seed_sequence.entropy)  # the logged entropy reruns the stream
    assert np.array_equal(rerun["x"].random(6)[3:], fresh_a["x"].random(3))


@pytest.mark.parametrize("bad", [-1, True, 1.5, "42"])
def test_bad_roots_are_refused(bad):
    with pytest.raises(ConfigError, match="seed"):
        Streams(bad)


def test_bad_names_and_indices_are_refused():
    streams = Streams(1)
    with pytest.raises(ConfigError, match="non-empty string"):
        streams[""]
    with pytest.raises(ConfigError, match="non-empty string"):
        streams[3]
    with pytest.raises(ConfigError, match="below 2\\*\\*32"):
        streams.replicate(2**32)
    with pytest.raises(ConfigError, match="non-negative"):
        streams.spawn(-1)


def test_global_random_state_is_untouched():
    random.seed(123)
    np.random.seed(123)  # noqa: NPY002 - the legacy global state this test watches
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    streams = Streams()
    streams["a"].random(10)
    streams.spawn(3)[2]["b"].normal(size=10)
    as_generator(None).random(3)
    KeyedDraws(streams, "s").bernoulli(0, np.arange(10), 0.5)
    keyed_uniform(1, 2, 3, [4])
    assert random.getstate() == py_state
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]


def test_as_seed_sequence_and_as_generator():
    assert as_seed_sequence(8).entropy == 8
    ss = np.random.SeedSequence(1)
    assert as_seed_sequence(ss) is ss
    gen = np.random.default_rng(0)
    assert as_generator(gen) is gen
    assert as_generator(4).random() == np.random.default_rng(4).random()
    with pytest.raises(ConfigError, match="non-negative integer, got -3"):
        as_generator(-3)


def test_rng_arg_normalises_the_argument():
    @rng_arg("rng")
    def draw(n, *, rng=None):
        assert isinstance(rng, np.random.Generator)
        return rng.random(n)

    assert np.array_equal(draw(3, rng=1), draw(3, rng=np.random.SeedSequence(1)))
    gen = np.random.default_rng(2)
    expected = np.random.default_rng(2).random(3)
    assert np.array_equal(draw(3, rng=gen), expected)
    assert draw(2).shape == (2,)  # default None: fresh entropy
    with pytest.raises(TypeError, match="no argument `seed`"):
        rng_arg("seed")(lambda rng=None: rng)


# --------------------------------------------------------------------------- keyed draws

_MASK = (1 << 64) - 1


def _splitmix_reference(key: int, agent: int) -> float:
    """SplitMix64's output for counter `agent` under state `key`, top 53 bits as a double."""
    z = (agent * 0x9E3779B97F4A7C15 + key) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return (z >> 11) / 2.0**53


def test_golden_values():
    # The draws are part of the reproducibility contract: changing them changes every seeded
    # run. Update these numbers only on purpose, and say so in the changelog.
    draws = KeyedDraws(42, "recovers")
    assert draws.key(40) == 808014822880095780
    assert draws.uniform(40, [0, 1, 17]).tolist() == [
        0.0008831068965169386,
        0.46216743619418077,
        0.4665033056177076,
    ]


def test_kernel_is_splitmix64_on_the_id():
    draws = KeyedDraws(3, "site")
    ids = np.array([0, 1, 2, 12345, 2**40 + 7, 2**63 - 1], dtype=np.int64)
    key = draws.key(9)
    expected = [_splitmix_reference(key, int(i)) for i in ids]
    assert draws.uniform(9, ids).tolist() == expected
    top = np.array([2**64 - 1, 2**63], dtype=np.uint64)
    assert draws.uniform(9, top).tolist() == [_splitmix_reference(key, int(i)) for i in top]


def test_uniform_on_zero_one():
    u = keyed_uniform(2026, "recovers", 5, np.arange(N))
    assert u.dtype == np.float64 and u.shape == (N,)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 0.001
    # mean 1/2 with sd sqrt(1/12/N) ~ 0.00065; variance 1/12 with sd ~ 0.00017: 5 sd each
    assert abs(u.mean() - 0.5) < 0.0033
    assert abs(u.var() - 1 / 12) < 0.00085


def test_53_bits_of_resolution():
    u = keyed_uniform(1, "s", 0, np.arange(10_000))
    scaled = u * 2.0**53
    assert np.array_equal(scaled, np.floor(scaled))  # multiples of 2**-53
    assert np.any(scaled % 2 == 1)  # the lowest of the 53 bits is used


def test_independence_across_ids_steps_sites_and_roots():
    ids = np.arange(N)
    draws = KeyedDraws(2026, "recovers")
    u = draws.uniform(10, ids)
    assert abs(corr(u[:-1], u[1:])) < CORR_TOL  # consecutive ids
    assert abs(corr(u, draws.uniform(11, ids))) < CORR_TOL  # step t vs t + 1
    assert abs(corr(u, KeyedDraws(2026, "infects").uniform(10, ids))) < CORR_TOL  # sites
    assert abs(corr(u, KeyedDraws(2027, "recovers").uniform(10, ids))) < CORR_TOL  # roots
    assert abs(corr(u, KeyedDraws(2026, 1).uniform(10, ids))) < CORR_TOL  # integer site
    # pairs of neighbours fill the unit square evenly: chi-square over a 10 x 10 grid
    counts = np.histogram2d(u[0::2], u[1::2], bins=10, range=[[0, 1], [0, 1]])[0]
    assert stats.chisquare(counts.ravel()).pvalue > 0.001
    # the same id at consecutive steps, too
    counts = np.histogram2d(u, draws.uniform(11, ids), bins=10, range=[[0, 1], [0, 1]])[0]
    assert stats.chisquare(counts.ravel()).pvalue > 0.001


def test_a_draw_belongs_to_its_agent_not_its_position():
    draws = KeyedDraws(5, "recovers")
    ids = np.arange(100)
    base = draws.uniform(7, ids)
    rng = np.random.default_rng(0)
    subset = np.sort(rng.choice(100, size=37, replace=False))
    assert np.array_equal(draws.uniform(7, subset), base[subset])  # agents removed
    superset = np.concatenate([ids, np.arange(100, 5000)])
    assert np.array_equal(draws.uniform(7, superset)[:100], base)  # agents added
    shuffled = rng.permutation(100)
    assert np.array_equal(draws.uniform(7, shuffled), base[shuffled])  # another order
    repeated = np.array([3, 3, 50, 3])
    assert np.array_equal(draws.uniform(7, repeated), base[repeated])
    grid = ids.reshape(10, 10)
    assert np.array_equal(draws.uniform(7, grid), base.reshape(10, 10))
    for dtype in (np.int32, np.uint8, np.uint64, np.int16):
        assert np.array_equal(draws.uniform(7, ids.astype(dtype)), base)
    assert np.array_equal(draws.uniform(7, list(range(100))), base)
    assert draws.uniform(7, 42) == base[42] and draws.uniform(7, 42).shape == ()


def test_skipped_draws_do_not_shift_later_ones():
    # A baseline where everyone draws every step, and a policy where some agents skip steps
    # (or are absent): whoever draws gets the same number as in the baseline.
    draws = KeyedDraws(77, "recovers")
    ids = np.arange(1000)
    rng = np.random.default_rng(1)
    for step in range(5):
        baseline = draws.uniform(step, ids)
        active = np.flatnonzero(rng.random(1000) < 0.6)
        assert np.array_equal(draws.uniform(step, active), baseline[active])


def test_chunk_boundaries_do_not_matter():
    n = 3 * (1 << 15) + 17  # spans several of the kernel's chunks
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 2**62, size=n)
    draws = KeyedDraws(8, "s")
    u = draws.uniform(1, ids)
    picks = np.array([0, (1 << 15) - 1, 1 << 15, 2 << 15, n - 1])
    assert np.array_equal(draws.uniform(1, ids[picks]), u[picks])
    assert np.array_equal(draws.uniform(1, ids[::-1]), u[::-1])
    assert np.array_equal(draws.uniform(1, ids[::3]), u[::3])  # a strided view


def test_function_object_and_streams_agree():
    ids = np.arange(50)
    u = keyed_uniform(42, "recovers", 3, ids)
    assert np.array_equal(KeyedDraws(42, "recovers").uniform(3, ids), u)
    assert np.array_equal(Streams(42).keyed("recovers").uniform(3, ids), u)
    assert np.array_equal(keyed_uniform(np.random.SeedSequence(42), "recovers", 3, ids), u)
    # a replicate has its own draws
    assert not np.array_equal(Streams(42).replicate(0).keyed("recovers").uniform(3, ids), u)


def test_out_argument():
    out = np.empty(10)
    result = keyed_uniform(1, "s", 2, np.arange(10), out=out)
    assert result is out and np.array_equal(out, keyed_uniform(1, "s", 2, np.arange(10)))
    with pytest.raises(ConfigError, match="float64 array of shape"):
        keyed_uniform(1, "s", 2, np.arange(10), out=np.empty(9))


def test_empty_ids():
    assert keyed_uniform(1, "s", 0, np.array([], dtype=np.int64)).shape == (0,)
    assert keyed_uniform(1, "s", 0, []).shape == (0,)
    assert KeyedDraws(1, "s").bernoulli(0, [], 0.5).shape == (0,)


def test_bernoulli_frequency():
    draws = KeyedDraws(9, "infects")
    hits = draws.bernoulli(4, np.arange(N), 0.3)
    assert hits.dtype == np.bool_
    assert abs(hits.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / N)
    p = np.where(np.arange(N) % 2 == 0, 0.1, 0.8)  # one probability per id
    hits = draws.bernoulli(4, np.arange(N), p)
    assert abs(hits[0::2].mean() - 0.1) < 5 * np.sqrt(0.1 * 0.9 / (N / 2))
    assert abs(hits[1::2].mean() - 0.8) < 5 * np.sqrt(0.8 * 0.2 / (N / 2))
    assert not draws.bernoulli(4, np.arange(1000), 0.0).any()
    assert draws.bernoulli(4, np.arange(1000), 1.0).all()


def test_bernoulli_is_exactly_uniform_below_p():
    draws = KeyedDraws(9, "infects")
    ids = np.arange(3 * (1 << 15) + 5)
    u = draws.uniform(4, ids)
    for p in (0.0, 1e-300, 0.3, 0.5, float(u[7]), float(np.nextafter(u[7], 1)), 1.0):
        assert np.array_equal(draws.bernoulli(4, ids, p), u < p)  # scalar: compared as integers
    per_id = np.random.default_rng(0).random(ids.size)
    per_id[:3] = u[:3]  # ties: u < p is False
    assert np.array_equal(draws.bernoulli(4, ids, per_id), u < per_id)
    grid = ids[:100].reshape(10, 10)
    assert np.array_equal(
        draws.bernoulli(4, grid, per_id[:10]), u[:100].reshape(10, 10) < per_id[:10]
    )


def test_bernoulli_is_monotone_in_p():
    # raising an agent's probability never removes an event it had (coupling of the two arms)
    draws = KeyedDraws(9, "infects")
    low = draws.bernoulli(4, np.arange(10_000), 0.2)
    high = draws.bernoulli(4, np.arange(10_000), 0.25)
    assert np.all(high[low]) and high.sum() > low.sum()


def test_integers():
    draws = KeyedDraws(10, "destination")
    values = draws.integers(2, np.arange(N), 7)
    assert values.dtype == np.int64 and values.min() == 0 and values.max() == 6
    assert stats.chisquare(np.bincount(values, minlength=7)).pvalue > 0.001
    highs = np.arange(1, 1001)
    per_id = draws.integers(2, np.arange(1000), highs)
    assert np.all((per_id >= 0) & (per_id < highs))
    assert not draws.integers(2, np.arange(100), 1).any()
    assert np.all(draws.integers(2, np.arange(1000), 2**53) < 2**53)
    u = draws.uniform(2, np.arange(100))
    assert np.array_equal(draws.integers(2, np.arange(100), 10), np.floor(u * 10))


def _keyed_bytes(root, site, step, ids):
    draws = KeyedDraws(root, site)
    return draws.uniform(step, ids).tobytes() + draws.bernoulli(step, ids, 0.4).tobytes()


def test_keyed_draws_are_the_same_in_another_process(pool):
    ids = np.random.default_rng(3).integers(0, 10**9, size=10_000)
    here = _keyed_bytes(2026, "recovers", 12, ids)
    assert pool.submit(_keyed_bytes, 2026, "recovers", 12, ids).result() == here
    direct = pool.submit(keyed_uniform, 2026, "recovers", 12, ids).result()
    assert direct.tobytes() == keyed_uniform(2026, "recovers", 12, ids).tobytes()


def test_no_warnings_at_the_edges():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draws = KeyedDraws(2**100, 2**64 - 1)  # large root and site
        edge_ids = np.array([0, 1, 2**62, 2**63 - 1], dtype=np.int64)
        draws.uniform(2**64 - 1, edge_ids)
        draws.uniform(0, np.array([2**64 - 1, 2**63], dtype=np.uint64))
        draws.uniform(3, np.arange(300_000))
        draws.bernoulli(3, edge_ids, np.array([0.0, 0.5, 1.0, 0.2]))
        draws.integers(3, edge_ids, 2**53)
        keyed_uniform(0, "x", 0, [])
        Streams(0).spawn(2)[1]["y"].random(3)


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        (np.array([3, -1, 5, -7]), r"non-negative, got ids\[1\] = -1, ids\[3\] = -7"),
        (np.array([1.0, 2.0]), "integer agent ids, got an array of dtype float64"),
        (np.array([True, False]), "np.flatnonzero"),
        (np.array(["a", "b"]), "integer agent ids"),
        ([0.5], "dtype float64"),
    ],
)
def test_bad_ids_are_refused(ids, match):
    with pytest.raises(ConfigError, match=match):
        keyed_uniform(1, "s", 0, ids)


def test_negative_id_beyond_the_first_chunk_is_refused():
    ids = np.arange(100_000)
    ids[90_000] = -5
    with pytest.raises(ConfigError, match=r"ids\[90000\] = -5"):
        keyed_uniform(1, "s", 0, ids)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step": -1}, "`step` must be a non-negative integer, got -1"),
        ({"step": 1.5}, "`step` must be a non-negative integer, got float"),
        ({"step": True}, "boolean"),
        ({"step": 2**64}, "below 2\\*\\*64"),
        ({"site": ""}, "non-empty string"),
        ({"site": -2}, "`site` must be a non-negative integer"),
        ({"site": 2**64}, "below 2\\*\\*64"),
        ({"root": None}, "fixed root seed, got NoneType"),
        ({"root": np.random.default_rng(0)}, "fixed root seed, got Generator"),
        ({"root": -1}, "`root` must be a non-negative integer"),
    ],
)
def test_bad_keys_are_refused(kwargs, match):
    args = {"root": 1, "site": "s", "step": 0} | kwargs
    with pytest.raises(ConfigError, match=match):
        keyed_uniform(args["root"], args["site"], args["step"], [1, 2])


@pytest.mark.parametrize(
    ("p", "match"),
    [
        (1.5, "in \\[0, 1\\], got 1.5"),
        (-0.1, "got -0.1"),
        (float("nan"), "got nan"),
        (np.array([0.2, 2.0, 0.1]), "got 2.0"),
        (np.array([0.2, 0.1]), "shape \\(2,\\) does not match `ids` of shape \\(3,\\)"),
    ],
)
def test_bad_probabilities_are_refused(p, match):
    with pytest.raises(ConfigError, match=match):
        KeyedDraws(1, "s").bernoulli(0, [1, 2, 3], p)


@pytest.mark.parametrize(
    ("high", "match"),
    [(0, "in \\[1, 2\\*\\*53\\], got 0"), (2.5, "dtype float64"), (np.array([3, 0, 2]), "got 0")],
)
def test_bad_highs_are_refused(high, match):
    with pytest.raises(ConfigError, match=match):
        KeyedDraws(1, "s").integers(0, [1, 2, 3], high)
