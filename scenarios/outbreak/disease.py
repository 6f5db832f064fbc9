"""The disease: SEIR with hospitalisation and death, as tiny pure array functions.

States are small integer codes (`STATES`); a person moves S -> E (infection) -> I (onset) ->
R (recovery) or, for a severe case, I -> H (hospitalisation) -> R or D (death). Each period is
drawn when the state is entered, from a gamma distribution of given mean and shape, rounded to
whole days (at least one).

Transmission on a day: a susceptible person with ``n_l`` infectious contacts in layer ``l``
escapes each of them independently with probability ``1 - beta_l``, so it is infected with
probability ``1 - prod_l (1 - beta_l) ** (m_l * n_l)`` (`infection_probability`), where ``m_l``
scales a layer's contacts (distancing; 1 by default). ``n_l`` is ``A_l @ infectious`` on the
layer's CSR adjacency (`infectious_contacts`). The infector is attributed by competing risks:
a layer with probability proportional to its hazard ``-m_l n_l log(1 - beta_l)``
(`choose_layer`), then an infectious contact in that layer in proportion to its contact weight
times its infectiousness (`choose_contact`; uniformly when all are 1). An isolated person's
infectiousness in a layer is the isolation multiplier instead of 1 (`infectious` per layer).

All random inputs are uniforms passed in (keyed draws in the model, `abm.rng.KeyedDraws`), so
the functions are deterministic and a person's fate does not depend on anyone else's draws.
Libraries: numpy, scipy.sparse and scipy.stats (the gamma quantile function).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse, stats

__all__ = [
    "STATES",
    "choose_contact",
    "choose_layer",
    "gamma_days",
    "infection_probability",
    "infectious_contacts",
]

STATES = ("S", "E", "I", "R", "H", "D")
"""State names by code: susceptible, exposed, infectious, recovered, hospitalised, dead."""
S, E, I, R, H, D = range(6)  # noqa: E741 (I is the epidemiologists' name)


def infectious_contacts(
    adjacencies: Sequence[sparse.csr_array], infectious: np.ndarray
) -> np.ndarray:
    """The number of infectious contacts of every person, per layer: shape (layers, persons).

    `infectious` is one flag or weight per person (every layer), or one row per layer (an
    isolated person counts as its isolation multiplier in the layers it avoids).

    Examples
    --------
    >>> A = sparse.csr_array(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], float))
    >>> infectious_contacts([A], np.array([False, True, True])).tolist()
    [[2.0, 0.0, 0.0]]
    >>> infectious_contacts([A], np.array([[0.0, 0.5, 1.0]])).tolist()
    [[1.5, 0.0, 0.0]]
    """
    x = np.asarray(infectious, dtype=np.float64)
    if not adjacencies:
        return np.zeros((0, x.shape[-1]))
    if x.ndim == 1:
        return np.stack([a @ x for a in adjacencies])
    return np.stack([a @ w for a, w in zip(adjacencies, x, strict=True)])


def infection_probability(
    counts: np.ndarray, betas: Sequence[float], multipliers: Sequence[float] | None = None
) -> np.ndarray:
    """``1 - prod_l (1 - beta_l) ** (m_l * counts[l])``: the daily infection probability.

    Examples
    --------
    >>> infection_probability(np.array([[1.0, 0.0], [2.0, 0.0]]), [0.5, 0.5]).tolist()
    [0.875, 0.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    betas = np.asarray(betas, dtype=np.float64).reshape(-1, 1)
    m = (
        np.ones_like(betas)
        if multipliers is None
        else np.asarray(multipliers, float).reshape(-1, 1)
    )
    escape = np.prod(np.power(1.0 - betas, m * counts), axis=0)
    return 1.0 - escape


def _hazards(
    counts: np.ndarray, betas: Sequence[float], multipliers: Sequence[float] | None
) -> np.ndarray:
    betas = np.minimum(np.asarray(betas, dtype=np.float64), 1.0 - 1e-12).reshape(-1, 1)
    m = (
        np.ones_like(betas)
        if multipliers is None
        else np.asarray(multipliers, float).reshape(-1, 1)
    )
    return -np.log1p(-betas) * m * np.asarray(counts, dtype=np.float64)


def choose_layer(
    counts: np.ndarray,
    betas: Sequence[float],
    u: np.ndarray,
    multipliers: Sequence[float] | None = None,
) -> np.ndarray:
    """For each column of `counts` (an infected person), the layer that infected them.

    A layer is chosen with probability proportional to its hazard ``-m_l n_l log(1 - beta_l)``
    (competing risks), by inverting the cumulative shares at the uniforms `u`.

    Examples
    --------
    >>> choose_layer(np.array([[1.0, 0.0], [0.0, 3.0]]), [0.2, 0.2], np.array([0.9, 0.1])).tolist()
    [0, 1]
    """
    h = _hazards(counts, betas, multipliers)
    cum = np.cumsum(h, axis=0)
    total = cum[-1]
    target = np.asarray(u) * total
    layer = (cum <= target[None, :]).sum(axis=0)
    return np.minimum(layer, h.shape[0] - 1)


def choose_contact(
    adjacency: sparse.csr_array, rows: np.ndarray, infectious: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """For each row in `rows`, one of its infectious neighbours (-1 if none).

    A neighbour is chosen with probability proportional to its contact weight times its
    `infectious` weight (flags: uniformly among the infectious, for unit weights), by inverting
    the row's cumulative weights at the uniforms `u`.

    Examples
    --------
    >>> A = sparse.csr_array(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], float))
    >>> choose_contact(A, np.array([0, 1]), np.array([0, 1, 1], bool), np.array([0.7, 0.5]))
    array([ 2, -1])
    >>> choose_contact(A, np.array([0]), np.array([0, 0.2, 1]), np.array([0.2]))  # 1/6 for 1
    array([2])
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.empty(0, np.int64)
    sub = sparse.csr_array(adjacency[rows])
    sub = sparse.csr_array(sub.multiply(np.asarray(infectious, np.float64)[None, :]))
    sub.eliminate_zeros()
    sub.sort_indices()
    n = np.diff(sub.indptr)
    if sub.indices.size == 0:
        return np.full(rows.size, -1, np.int64)
    row_of = np.repeat(np.arange(rows.size), n)
    cum = np.cumsum(sub.data)
    before = np.concatenate(([0.0], cum))[sub.indptr[:-1]]  # the weight of earlier rows
    within = cum - before[row_of]  # cumulative weights within each row
    total = np.zeros(rows.size)
    total[n > 0] = within[sub.indptr[1:][n > 0] - 1]
    target = np.asarray(u, dtype=np.float64) * total
    k = np.bincount(row_of, weights=within <= target[row_of], minlength=rows.size)
    k = np.minimum(k.astype(np.int64), np.maximum(n - 1, 0))
    picked = sub.indices[np.minimum(sub.indptr[:-1] + k, sub.indices.size - 1)]
    return np.where(n > 0, picked, -1).astype(np.int64)


def gamma_days(u: np.ndarray, mean: float, shape: float) -> np.ndarray:
    """Durations in whole days (>= 1): the gamma(`shape`, ``mean / shape``) quantiles of `u`.

    Examples
    --------
    >>> gamma_days(np.array([0.001, 0.5, 0.999]), mean=5.0, shape=4.0).tolist()
    [1, 5, 16]
    """
    x = stats.gamma.ppf(np.asarray(u, dtype=np.float64), a=shape, scale=mean / shape)
    return np.maximum(1, np.rint(x)).astype(np.int32)
