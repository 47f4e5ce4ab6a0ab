"""Each estimator's ceiling (the most it can report from N pairs) is a true maximum, and it is reached.

The checks are exact arithmetic facts about the estimators (no sampling error is involved): the
ceilings are derived in the estimators' module docstrings, ``y = x`` reaches them, and every other
sample stays at or below them. The 1e-9 slack only absorbs float rounding of sums of N terms.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.special import digamma

from seleak.estimators import available_estimators, get_estimator

TOL = 1e-9


# --- KSG ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, d, k", [(400, 1, 1), (1000, 1, 3), (1000, 2, 3), (500, 3, 5), (300, 2, 10)])
def test_ksg_copy_reaches_its_ceiling(n, d, k):
    x = np.random.default_rng(n + d + k).standard_normal((n, d))
    est = get_estimator("ksg", k=k)
    # with the jitter (default), y = x is in general position: counts k - 1 and k, value psi(N) - psi(k + 1)
    assert est.ceiling(n) == pytest.approx(digamma(n) - digamma(k + 1), abs=1e-12)
    assert est.ceiling(n, d, d) == est.ceiling(n)  # the columns do not enter
    assert abs(est.estimate(x, x).nats - est.ceiling(n)) < TOL
    # without jitter the exact copy ties on both sides (counts k - 1, k - 1): psi(N) - psi(k), which
    # is below the no-jitter ceiling psi(N) + psi(k) - 2 psi(1) (equal for k = 1)
    exact = get_estimator("ksg", k=k, jitter=0.0)
    assert abs(exact.estimate(x, x).nats - (digamma(n) - digamma(k))) < TOL
    assert exact.ceiling(n) == pytest.approx(digamma(n) + digamma(k) - 2 * digamma(1), abs=1e-12)


@pytest.mark.parametrize("d, k", [(8, 3), (10, 5)])
def test_ksg_without_jitter_reaches_its_ceiling_on_a_cube(d, k):
    # the 2**d vertices of a cube are all at max-norm distance 1 from each other: nothing is strictly
    # closer than the k-th neighbour, so every count is 0
    x = np.array(list(itertools.product([0.0, 1.0], repeat=d)))
    est = get_estimator("ksg", k=k, jitter=0.0)
    assert abs(est.estimate(x, x).nats - est.ceiling(len(x))) < TOL


def _dependent_samples(rng: np.random.Generator, n: int):
    """Samples from weak to deterministic dependence, continuous, discrete and mixed."""
    x = rng.standard_normal((n, 2))
    yield x, x[:, :1] + 0.01 * rng.standard_normal((n, 1))
    yield x, np.tanh(x) + 1e-6 * rng.standard_normal((n, 2))
    yield x, x[:, ::-1] * 3.0  # a copy up to order and scale
    yield x[:, :1], rng.standard_normal((n, 1))
    g = rng.integers(0, 4, (n, 1)).astype(float)
    yield g, g + rng.integers(0, 2, (n, 1))
    yield g + 1e-3 * rng.standard_normal((n, 1)), np.hstack([g, rng.standard_normal((n, 1))])


@pytest.mark.parametrize("k", [1, 3, 7])
def test_ksg_never_exceeds_its_ceiling(k):
    rng = np.random.default_rng(k)
    for n in (30, 257, 1000):
        for x, y in _dependent_samples(rng, n):
            for settings in ({}, {"transform": "rank"}, {"transform": "gauss-rank"}, {"transform": "none"}):
                est = get_estimator("ksg", k=k, **settings)
                assert est.estimate(x, y).nats <= est.ceiling(n, x.shape[1], y.shape[1]) + TOL


def test_ksg_without_jitter_never_exceeds_its_ceiling_on_tied_data():
    # a permuted 2-D grid (distinct rows, many tied distances), with and without a copy
    grid = np.array(list(itertools.product(range(20), range(20))), dtype=float)
    rng = np.random.default_rng(0)
    grid = grid[rng.permutation(len(grid))]
    for k in (1, 2, 4):
        est = get_estimator("ksg", k=k, jitter=0.0)
        for y in (grid, grid[:, :1] + grid[:, 1:], rng.standard_normal((len(grid), 1))):
            assert est.estimate(grid, y).nats <= est.ceiling(len(grid)) + TOL


# --- plug-in --------------------------------------------------------------------------------------


def _plugin_ceiling(m: int, n: int, corrected: bool) -> float:
    return math.log(m) + ((m - 1) / (2 * n) if corrected else 0.0)


@pytest.mark.parametrize("correction", ["miller-madow", None])
@pytest.mark.parametrize("n, bins", [(1000, 8), (960, 16), (64, 4)])
def test_plugin_copy_reaches_its_ceiling(correction, n, bins):
    # one continuous column, quantile bins, N a multiple of bins: y = x fills the bins evenly
    x = np.random.default_rng(n).standard_normal(n)
    est = get_estimator("plugin", bins=bins, binning="quantile", correction=correction)
    top = est.ceiling(n, 1, 1)
    assert top == pytest.approx(_plugin_ceiling(bins, n, correction is not None), abs=1e-12)
    assert abs(est.estimate(x, x).nats - top) < TOL


def test_plugin_ceiling_follows_the_settings():
    n = 1000
    mm = get_estimator("plugin")  # bins 8, at most 3 columns per side: 512 cells
    assert mm.ceiling(n) == pytest.approx(_plugin_ceiling(512, n, True))
    assert mm.ceiling(n, 1, 3) == pytest.approx(_plugin_ceiling(8, n, True))
    assert mm.ceiling(n, 2, 2) == pytest.approx(_plugin_ceiling(64, n, True))
    assert mm.ceiling(100) == pytest.approx(_plugin_ceiling(100, 100, True))  # N bounds the cells
    assert get_estimator("plugin", pca_dim=1).ceiling(n) == pytest.approx(_plugin_ceiling(8, n, True))
    assert get_estimator("plugin", correction=None, bins=4, max_dim=2).ceiling(n) == pytest.approx(math.log(16))
    # categorical columns: as many cells as rows
    always = get_estimator("plugin", discrete="always")
    assert always.ceiling(n, 1, 1) == pytest.approx(_plugin_ceiling(n, n, True))
    x = np.arange(n, dtype=float)
    assert abs(always.estimate(x, x).nats - always.ceiling(n, 1, 1)) < TOL


def test_plugin_never_exceeds_its_ceiling():
    rng = np.random.default_rng(5)
    for n in (20, 129, 1000):
        for x, y in _dependent_samples(rng, n):
            for bins, binning, correction, discrete in itertools.product(
                (2, 3, 8), ("equal", "quantile"), ("miller-madow", None), ("auto", "always", "never")
            ):
                est = get_estimator("plugin", bins=bins, binning=binning, correction=correction, discrete=discrete)
                value = est.estimate(x, y).nats
                assert value <= est.ceiling(n, x.shape[1], y.shape[1]) + TOL
                assert est.ceiling(n, x.shape[1], y.shape[1]) <= est.ceiling(n) + TOL  # None: any width


# --- gaussian, neural, is_bound -------------------------------------------------------------------


def test_gaussian_refuses_an_exact_copy_and_has_no_finite_ceiling():
    x = np.random.default_rng(1).standard_normal((300, 2))
    with pytest.raises(ValueError, match="singular.*exact linear relation"):
        get_estimator("gaussian").estimate(x, x)
    with pytest.raises(ValueError, match="exact linear relation"):
        get_estimator("gaussian").estimate(x, x @ np.array([[2.0, 1.0], [0.0, 1.0]]) + 3.0)
    assert get_estimator("gaussian").ceiling(300) == math.inf
    assert get_estimator("gaussian").ceiling(300, 2, 2) == math.inf


def test_neural_ceilings():
    assert get_estimator("infonce", batch_size=16).ceiling(500) == pytest.approx(math.log(16))
    assert get_estimator("infonce", batch_size=16, eval_batch_size=32).ceiling(500, 4, 4) == pytest.approx(math.log(32))
    # a test split shorter than a chunk is one chunk of n_eval pairs
    assert get_estimator("infonce", batch_size=64).ceiling(15) == pytest.approx(math.log(15))
    for name in ("nwj", "mine", "smile"):
        assert get_estimator(name).ceiling(500) == math.inf


def test_which_estimators_report_a_bound():
    bound = {name for name in available_estimators() if get_estimator(name).is_bound}
    assert bound == {"infonce", "nwj"}
