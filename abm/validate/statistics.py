"""The statistics behind fidelity checks, as plain functions over arrays.

Each returns a distance that is 0 for a perfect match and grows with the mismatch, so a check
passes when its statistic is at most its threshold. The two-sample Kolmogorov-Smirnov test and
the correlation coefficients come from `scipy.stats`; the rest are one-line formulas kept here so
that their definitions sit beside their docstrings.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "CORRELATION_METHODS",
    "correlation",
    "ks_at_quantiles",
    "ks_two_sample",
    "rate_z",
    "srmse",
    "total_variation",
]

CORRELATION_METHODS = ("pearson", "spearman", "kendall")


def srmse(observed: np.ndarray, expected: np.ndarray) -> float:
    """Standardised root mean square error: the RMSE over cells divided by the mean expected cell.

    The measure of the population synthesis literature (and of ``synthworld populate``'s fit
    report): 0 for a perfect fit, scale-free, so tables of different totals compare.

    >>> srmse(np.array([10.0, 20.0, 30.0]), np.array([10.0, 20.0, 30.0]))
    0.0
    >>> round(srmse(np.array([12.0, 18.0]), np.array([10.0, 20.0])), 4)
    0.1333
    """
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    mean = expected.mean() if expected.size else 0.0
    if mean <= 0:
        return 0.0 if not np.any(observed) else math.inf
    return float(np.sqrt(np.mean((observed - expected) ** 2)) / mean)


def total_variation(observed: np.ndarray, expected: np.ndarray) -> float:
    """Total variation distance between two frequency tables, each normalised to shares.

    Half the sum of absolute differences of shares: the largest difference in probability the
    two distributions give any set of cells, between 0 (identical) and 1 (disjoint).

    >>> round(total_variation(np.array([50, 50]), np.array([0.6, 0.4])), 12)
    0.1
    """
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    so, se = observed.sum(), expected.sum()
    if so <= 0 or se <= 0:
        return 0.0 if so == se else 1.0
    return float(0.5 * np.abs(observed / so - expected / se).sum())


def ks_at_quantiles(
    sample: np.ndarray, probabilities: np.ndarray, values: np.ndarray
) -> tuple[float, float]:
    """Kolmogorov-Smirnov distance at reference quantiles: ``max_i |F(value_i) - p_i|``.

    `F` is the empirical distribution function of `sample`, ``F(x) = share of sample <= x``.
    Evaluated at the reference points only, so it is a lower bound of the full KS distance to
    any distribution with those quantiles. Returns the distance and the value where it is
    largest.

    >>> ks_at_quantiles(np.arange(1, 11), np.array([0.5, 0.9]), np.array([5, 8]))
    (0.1, 8.0)
    """
    sample = np.sort(np.asarray(sample, dtype=np.float64))
    values = np.asarray(values, dtype=np.float64)
    cdf = np.searchsorted(sample, values, side="right") / sample.size
    gaps = np.abs(cdf - np.asarray(probabilities, dtype=np.float64))
    worst = int(np.argmax(gaps))
    return round(float(gaps[worst]), 12), float(values[worst])


def ks_two_sample(sample: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov distance and its p-value (`scipy.stats.ks_2samp`).

    >>> ks_two_sample(np.arange(10.0), np.arange(10.0))[0]
    0.0
    """
    result = stats.ks_2samp(np.asarray(sample, np.float64), np.asarray(reference, np.float64))
    return float(result.statistic), float(result.pvalue)


def correlation(x: np.ndarray, y: np.ndarray, method: str = "pearson") -> float:
    """Pearson, Spearman (rank) or Kendall (tau-b) correlation, from `scipy.stats`.

    NaN when either column is constant (the coefficient is undefined).

    >>> correlation(np.array([1.0, 2, 3, 4]), np.array([1.0, 4, 9, 16]), "spearman")
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    if method == "pearson":
        value = stats.pearsonr(x, y).statistic
    elif method == "spearman":
        value = stats.spearmanr(x, y).statistic
    elif method == "kendall":
        value = stats.kendalltau(x, y).statistic
    else:
        msg = f"unknown correlation method `{method}`; expected one of {CORRELATION_METHODS}."
        raise ValueError(msg)
    return float(value)


def rate_z(successes: int, n: int, p: float) -> float:
    """z-score of an observed rate against a reference rate `p`: ``(k/n - p) / sqrt(p(1-p)/n)``.

    How many binomial standard errors the observed rate is from the reference; with a
    reference rate of exactly 0 or 1 any difference is infinitely unlikely.

    >>> round(rate_z(55, 100, 0.5), 3)
    1.0
    """
    if n <= 0:
        return math.nan
    diff = successes / n - p
    var = p * (1 - p) / n
    if var <= 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return float(diff / math.sqrt(var))
