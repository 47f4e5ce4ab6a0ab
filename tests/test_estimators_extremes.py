"""Estimators on data near the ends of the float64 range, and on non-finite input.

MI is invariant to rescaling a column, so ``x * 1e200`` and ``x * 1e-300`` must give the estimate of
``x``. Before, a variance of such data overflowed (1e400) or underflowed: KSG returned -4.37 nats on
data x 1e200, MINE and InfoNCE 0.000 at 1e300, the Gaussian "produced nan" at 1e-300. Columns are
now scaled by a power of two (exact: only the exponent changes) before any variance is computed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.estimators import get_estimator, project
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.stats import bootstrap_interval, permutation_test

SCALES = [1e200, 1e300, 1e-300, 1e-310]  # 1e-310 is subnormal: fewer mantissa bits, still exact enough
FAST_NEURAL = dict(steps=40, hidden=(16,), batch_size=64, lr=2e-3)

CASES = [
    ("plugin", {}),
    ("plugin", {"binning": "quantile"}),
    ("plugin", {"pca_dim": 1}),
    ("ksg", {}),
    ("ksg", {"transform": "none"}),
    ("ksg", {"transform": "gauss-rank"}),
    ("ksg", {"pca_dim": 1}),
    ("gaussian", {}),
    ("gaussian", {"shrinkage": "ledoit-wolf"}),
    ("gaussian", {"pca_dim": 1}),
    ("mine", FAST_NEURAL),
    ("infonce", FAST_NEURAL),
]


@pytest.fixture(scope="module")
def xy():
    x, y, _ = correlated_gaussian(600, 2, 1.0, seed=0)  # 1 nat: strongly dependent
    return x, y


@pytest.mark.parametrize(
    "name, settings",
    CASES,
    ids=[
        n + "".join(f"-{k}={v}" for k, v in st.items() if k in ("binning", "transform", "pca_dim", "shrinkage"))
        for n, st in CASES
    ],
)
def test_scaled_data_give_the_unscaled_estimate(name, settings, xy):
    x, y = xy
    est = get_estimator(name, **settings)
    ref = est.estimate(x, y).nats
    assert ref > 0.2  # the reference itself detects the dependence
    for s in SCALES:
        # Multiplying by s rounds each entry once (relative 1e-16), and the estimators' own scaling is
        # exact, so only that rounding remains: far below any estimator's resolution. (Neural critics
        # see float32 inputs, where the 1e-16 change vanishes; same seed, same mini-batches.)
        got = est.estimate(x * s, y * s).nats
        assert got == pytest.approx(ref, abs=1e-6), (s, got, ref)


def test_columns_of_wildly_different_scales(xy):
    # per-column invariance: one column near 1e200 and the other near 1e-200 on each side
    x, y = xy
    w = np.array([1e200, 1e-200])
    for name, settings in [("gaussian", {}), ("ksg", {}), ("plugin", {}), ("infonce", FAST_NEURAL)]:
        est = get_estimator(name, **settings)
        assert est.estimate(x * w, y * w[::-1]).nats == pytest.approx(est.estimate(x, y).nats, abs=1e-6), name


def test_projection_and_statistics_on_extreme_scales(xy):
    x, y = xy
    px, py = project(x * 1e300, y * 1e-300, 2)
    qx, qy = project(x, y, 2)
    np.testing.assert_allclose(np.abs(px), np.abs(qx), atol=1e-9)  # signs of components are arbitrary
    np.testing.assert_allclose(np.abs(py), np.abs(qy), atol=1e-9)
    ux, _ = project(x * 1e300, y, 2, whiten=False)  # unwhitened scores keep the data's own scale
    assert np.all(np.isfinite(ux)) and 1e299 < np.abs(ux).max() < 1e302
    est = get_estimator("gaussian")
    a = permutation_test(est, x * 1e200, y * 1e-300, n_permutations=19, seed=0)
    b = permutation_test(est, x, y, n_permutations=19, seed=0)
    assert a.p_value == b.p_value and a.estimate.nats == pytest.approx(b.estimate.nats, abs=1e-9)
    ci = bootstrap_interval(est, x * 1e-300, y * 1e300, n_boot=20, seed=0)
    assert all(math.isfinite(v) for v in (ci.low, ci.high))


@pytest.mark.parametrize("name", ["plugin", "ksg", "gaussian", "infonce"])
@pytest.mark.parametrize(
    "bad, words",
    [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (-np.inf, "NaN or infinite")],
    ids=["nan", "inf", "-inf"],
)
def test_non_finite_input_is_refused_with_the_reason(name, bad, words, xy):
    x, y = xy
    xb = x.copy()
    xb[5, 1] = bad
    est = get_estimator(name, **(FAST_NEURAL if name == "infonce" else {}))
    with pytest.raises(ValueError, match=words):
        est.estimate(xb, y)
    with pytest.raises(ValueError, match=words):
        est.estimate(x, xb)
    if name != "infonce":
        with pytest.raises(ValueError, match=words):
            permutation_test(est, xb, y, n_permutations=9)


def test_the_largest_finite_floats(xy):
    # entries up to the largest float64 (1.8e308): a range or a sum of them overflows unless scaled
    x, y = xy
    big = np.finfo(np.float64).max
    xs, ys = x / np.abs(x).max() * big, y / np.abs(y).max() * big
    for name, settings in [("gaussian", {}), ("ksg", {}), ("plugin", {}), ("plugin", {"binning": "quantile"})]:
        est = get_estimator(name, **settings)
        assert est.estimate(xs, ys).nats == pytest.approx(est.estimate(x, y).nats, abs=1e-6), (name, settings)
