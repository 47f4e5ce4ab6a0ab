"""Estimators against closed-form MI (fixed seeds, stated tolerances).

Tolerances are at least 4 standard deviations of each estimator's error (bias included) at the stated
N, measured over 60-300 data seeds, so any seed fails by chance with probability < 1e-4; a failure means
a real change in bias, not bad luck. Each test says what was measured.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import (
    correlated_gaussian,
    discrete_mi,
    discrete_pair,
    gaussian_mi,
    random_pmf,
    rho_for_mi,
    warped_gaussian,
)

# --- ground truth itself ---------------------------------------------------------------------------


def test_rho_and_mi_formulas_invert():
    for mi, d in [(0.1, 1), (2.0, 20), (10.0, 20)]:
        assert gaussian_mi(rho_for_mi(mi, d), d) == pytest.approx(mi, rel=1e-12)


def test_discrete_mi_of_independent_table_is_zero():
    p = random_pmf(3, 4, seed=2, dependence=0.0)
    assert discrete_mi(p) == pytest.approx(0.0, abs=1e-12)
    assert discrete_mi(np.eye(4) / 4) == pytest.approx(math.log(4))


# --- gaussian -------------------------------------------------------------------------------------


# error sd over 200 seeds: 0.0145, 0.029, 0.053 (bias < 0.003): the tolerances are 4.1-4.7 sd
@pytest.mark.parametrize("dim, mi, n, tol", [(1, 0.5, 3000, 0.06), (5, 2.0, 3000, 0.12), (20, 4.0, 2000, 0.25)])
def test_gaussian_estimator_recovers_gaussian_mi(dim, mi, n, tol):
    x, y, truth = correlated_gaussian(n, dim, mi, seed=3)
    assert get_estimator("gaussian").estimate(x, y).nats == pytest.approx(truth, abs=tol)


def test_gaussian_bias_correction_removes_the_upward_bias():
    x, y, _ = correlated_gaussian(400, 20, 0.0, seed=0)
    raw = get_estimator("gaussian", bias_correction=False).estimate(x, y).nats
    fixed = get_estimator("gaussian").estimate(x, y).nats
    # over 300 seeds: raw 0.528 +- 0.039, fixed -0.001 +- 0.039 (a (chi2_400 - 400) / 800 law):
    # 0.35 is 4.5 sd below the raw mean, and P(|fixed| > 0.17) < 1e-5 in that law
    assert raw > 0.35  # ~ dx*dy/(2N) = 0.5 nats of pure bias
    assert abs(fixed) < 0.17


def test_gaussian_projects_when_dimension_approaches_n():
    # 2*150 columns, 200 rows: the sample covariance is singular. The default projects each side to
    # its first principal components (N/4 = 50 in all) and stays near 0 on independent data: the
    # bias-corrected estimate has a null standard deviation of about 0.1 nats at that budget, so
    # 0.6 nats is a margin of ~6 standard deviations.
    x, y, _ = correlated_gaussian(200, 150, 0.0, seed=0)
    r = get_estimator("gaussian").estimate(x, y)
    assert r.details["projected_dims"] == (25, 25) and r.details["bias_corrected"]
    assert abs(r.nats) < 0.6
    # explicit shrinkage still gives a finite (but not conservative) number
    lw = get_estimator("gaussian", shrinkage="ledoit-wolf").estimate(x, y)
    assert lw.details["shrinkage"] > 0 and math.isfinite(lw.nats)
    with pytest.raises(ValueError, match="singular"):
        get_estimator("gaussian", shrinkage=0.0).estimate(x, y)


# --- ksg ------------------------------------------------------------------------------------------


# error over 60 seeds (mean, sd): (+0.002, 0.017), (+0.014, 0.021), (+0.005, 0.025), (-0.050, 0.022):
# each tolerance is >= 4.1 sd beyond the bias
@pytest.mark.parametrize("dim, mi, tol", [(1, 0.5, 0.075), (1, 2.0, 0.1), (2, 1.0, 0.11), (3, 1.0, 0.14)])
def test_ksg_recovers_gaussian_mi_in_low_dimension(dim, mi, tol):
    x, y, truth = correlated_gaussian(3000, dim, mi, seed=4)
    assert get_estimator("ksg", k=3).estimate(x, y).nats == pytest.approx(truth, abs=tol)


def test_ksg_near_zero_on_independent_data():
    rng = np.random.default_rng(0)
    r = get_estimator("ksg").estimate(rng.standard_normal((3000, 2)), rng.standard_normal((3000, 2)))
    assert abs(r.nats) < 0.055  # sd 0.012 over 60 seeds: 4.4 sd


def test_ksg_rank_transform_is_invariant_to_warps():
    x, y, truth = correlated_gaussian(2000, 2, 1.0, seed=5)
    _, wy, _ = warped_gaussian(2000, 2, 1.0, kind=["cubic", "exp"], seed=5)
    est = get_estimator("ksg", transform="gauss-rank")
    # a strictly increasing map keeps ranks, so the rank-transformed estimate is identical
    assert est.estimate(x, wy).nats == pytest.approx(est.estimate(x, y).nats, abs=1e-9)
    assert est.estimate(x, wy).nats == pytest.approx(truth, abs=0.13)  # error +0.005 +- 0.030 (60 seeds)


def test_ksg_with_duplicates_stays_finite():
    x = np.repeat(np.arange(50.0), 20)
    y = x + np.repeat(np.random.default_rng(0).integers(0, 3, 50).astype(float), 20)
    assert math.isfinite(get_estimator("ksg").estimate(x, y).nats)


# --- plugin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kx, ky, n", [(2, 2, 100), (4, 5, 1000), (7, 3, 777)])
def test_plugin_is_exact_on_discrete_data(kx, ky, n):
    x, y, truth = discrete_pair(n, kx, ky, seed=kx, exact=True)
    r = get_estimator("plugin", correction=None, bins=8).estimate(x, y)
    assert r.nats == pytest.approx(truth, abs=1e-12)


def test_plugin_miller_madow_reduces_bias_on_sampled_discrete_data():
    # With 20 data sets the ratio |MM error| / |raw error| was 0.098 +- 0.063 over 40 repetitions of
    # this test (1/3 only 3.8 sd away); 40 data sets halve its variance, putting 1/3 > 5 sd away.
    errs_raw, errs_mm = [], []
    for seed in range(40):
        x, y, truth = discrete_pair(300, 6, 6, seed=seed, dependence=0.3)
        errs_raw.append(get_estimator("plugin", correction=None).estimate(x, y).nats - truth)
        errs_mm.append(get_estimator("plugin").estimate(x, y).nats - truth)
    assert abs(np.mean(errs_mm)) < abs(np.mean(errs_raw)) / 3


@pytest.mark.parametrize("binning", ["equal", "quantile"])
def test_plugin_on_continuous_gaussian_is_close(binning):
    x, y, truth = correlated_gaussian(5000, 1, 0.5, seed=6)
    r = get_estimator("plugin", bins=16, binning=binning).estimate(x, y)
    # binning loses information (data processing) but 16 cells keep most of 0.5 nats;
    # error -0.027 +- 0.011 over 200 seeds: both bounds are > 7 sd away
    assert truth - 0.12 < r.nats < truth + 0.05


def test_ksg_fast_1d_counts_match_the_tree():
    from scipy.spatial import cKDTree

    from seleak.estimators.ksg import count_strictly_closer

    rng = np.random.default_rng(0)
    for a in (rng.standard_normal(3000), np.round(rng.standard_normal(3000), 1)):  # with ties too
        # radii equal to actual gaps (boundary cases) or not; > 0 as in KSG with its tie-breaking jitter
        gap = np.abs(a - rng.permutation(a))
        eps = np.where((gap > 0) & (rng.random(3000) < 0.5), gap, gap + 0.1)
        tree = cKDTree(a[:, None]).query_ball_point(a[:, None], np.nextafter(eps, 0), p=np.inf, return_length=True) - 1
        np.testing.assert_array_equal(count_strictly_closer(a[:, None], eps), tree)  # one column: binary search
        np.testing.assert_array_equal(count_strictly_closer(a[:, None], eps, workers=3), tree)  # in row blocks


def test_ksg_matches_scikit_learn_at_d1():
    from sklearn.feature_selection import mutual_info_regression

    x, y, _ = correlated_gaussian(2000, 1, 1.0, seed=0)
    ours = get_estimator("ksg", k=3).estimate(x, y).nats
    theirs = mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0)[0]
    assert ours == pytest.approx(theirs, abs=0.01)  # same algorithm; only the tie-breaking noise differs
