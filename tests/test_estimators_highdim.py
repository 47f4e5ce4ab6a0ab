"""The Gaussian estimator with many more columns than rows (images as pixel vectors: d >> N).

Before: Ledoit–Wolf shrinkage of the d x d joint correlation matrix reported 4.4 nats (100 x 2000,
independent) to 29.6 nats (100 x 10 000) on *independent* data, in minutes and gigabytes. Now the
default projects each side to its first principal components (N/4 in all) and bias-corrects, in the
N-dimensional span.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from seleak.estimators import get_estimator
from seleak.estimators.gaussian import _logdet_bias, gaussian_mi_from_cov
from seleak.estimators.groundtruth import correlated_gaussian

N = 100

# Why 0.75 nats: at N = 100 the default keeps 12 + 13 components, and the bias-corrected estimate on
# independent data is then ~ (chi2 with 156 d.o.f. - 156) / (2N): mean 0, standard deviation 0.104
# nats measured over 400 seeds (Gaussian and uniform data alike; largest value seen 0.39). 0.75 is
# 7 standard deviations; the chi-square tail scaled to that spread puts P(estimate > 0.75) below
# 1e-8 per case, so the 12 cases below fail by chance with probability < 1e-6.
INDEPENDENT_BOUND = 0.75


def _independent(kind: str, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((N, d)), rng.standard_normal((N, d))
    return rng.uniform(size=(N, d)), rng.uniform(size=(N, d))


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
@pytest.mark.parametrize("d", [2000, 10000])
def test_gaussian_estimator_is_near_zero_on_independent_data_with_d_much_larger_than_n(kind, d):
    est = get_estimator("gaussian")
    for seed in range(3):
        r = est.estimate(*_independent(kind, d, seed))
        assert r.nats < INDEPENDENT_BOUND, (kind, d, seed, r.nats)
        assert r.details["projected_dims"] == (12, 13) and r.details["bias_corrected"]


def test_gaussian_estimator_detects_dependence_with_d_much_larger_than_n():
    rng = np.random.default_rng(0)
    d = 10000
    # three shared latent factors spread over every column (a common cause seen by both sides)
    z = rng.standard_normal((N, 3))
    x = z @ rng.standard_normal((3, d)) + 3 * rng.standard_normal((N, d))
    y = z @ rng.standard_normal((3, d)) + 3 * rng.standard_normal((N, d))
    # a noisy copy, pixel by pixel (what a partly encrypted image is to its plain image)
    a = rng.standard_normal((N, d))
    b = a + rng.standard_normal((N, d))
    est = get_estimator("gaussian")
    # measured ~9 and ~2.5 nats over seeds; the bounds sit > 10 null standard deviations above 0
    assert est.estimate(x, y).nats > 3.0
    assert est.estimate(a, b).nats > 1.5


def test_gaussian_estimator_never_forms_a_d_by_d_array():
    # d = 20 000: a d x d float64 matrix alone is 3.2 GB. The estimator works in the N-dimensional
    # span, so its peak allocation is a small multiple of the data (16 MB per side).
    x, y = _independent("gaussian", 20000, seed=0)
    for settings in ({}, {"shrinkage": "ledoit-wolf"}):
        tracemalloc.start()
        try:
            r = get_estimator("gaussian", **settings).estimate(x, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert math.isfinite(r.nats)
        assert peak < 20 * x.nbytes, (settings, peak)  # 320 MB, a tenth of one d x d array


def test_explicit_shrinkage_is_computed_in_the_n_span_and_matches_the_d_by_d_formula():
    # the N-span computation of the shrunk log-determinants equals the direct d x d one
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 30)), rng.standard_normal((40, 25))
    r = get_estimator("gaussian", shrinkage=0.3).estimate(x, y)
    z = np.hstack([x, y])
    z = (z - z.mean(0)) / z.std(0)
    corr = 0.7 * (z.T @ z / 40) + 0.3 * np.eye(55)
    assert r.nats == pytest.approx(gaussian_mi_from_cov(corr, 30), abs=1e-9)


@pytest.mark.parametrize("dim, mi", [(1, 0.5), (5, 2.0), (20, 4.0)])
def test_low_dimension_estimate_equals_the_covariance_formula(dim, mi):
    # below N/4 columns nothing is projected: the canonical-correlation computation must give exactly
    # the classical log-determinant value with its bias correction (float noise only)
    x, y, _ = correlated_gaussian(1000, dim, mi, seed=2)
    r = get_estimator("gaussian").estimate(x, y)
    z = np.hstack([x, y])
    z = (z - z.mean(0)) / z.std(0)
    n, d = z.shape
    classic = gaussian_mi_from_cov(z.T @ z / n, dim)
    classic -= 0.5 * (_logdet_bias(dim, n) + _logdet_bias(dim, n) - _logdet_bias(d, n))
    assert "projected_dims" not in r.details
    assert r.nats == pytest.approx(classic, abs=1e-9)


def test_one_wide_side_keeps_the_narrow_side_whole():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, 2))
    y = np.hstack([x + 0.5 * rng.standard_normal((N, 2)), rng.standard_normal((N, 3000))])
    r = get_estimator("gaussian").estimate(x, y)
    assert r.details["projected_dims"] == (2, 23)
    assert math.isfinite(r.nats)


def test_identical_sides_are_a_clear_error_not_a_number():
    x = np.random.default_rng(4).standard_normal((N, 500))
    with pytest.raises(ValueError, match="singular"):
        get_estimator("gaussian").estimate(x, x)
