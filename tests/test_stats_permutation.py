"""seleak.stats: permutation tests, intervals, verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.stats import (
    LEAKS,
    NO_EVIDENCE,
    bootstrap_interval,
    holm,
    interval,
    permutation_test,
    seed_interval,
    verdict,
)


def _independent(n=600, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d))


@pytest.mark.parametrize("name", ["ksg", "gaussian", "plugin"])
def test_permutation_not_significant_on_independent_data(name):
    # One independent data set is significant at 5% with probability 0.05 by design; over three
    # data sets, two or more rejections happen with probability < 0.01 for a calibrated test.
    results = [
        permutation_test(get_estimator(name), *_independent(400, seed=s), n_permutations=49, seed=s)
        for s in range(3)
    ]
    assert sum(r.significant(0.05) for r in results) <= 1
    assert all(r.null.shape == (49,) and r.method == "re-estimate" for r in results)


@pytest.mark.parametrize("name", ["ksg", "gaussian"])
def test_permutation_significant_on_weak_dependence(name):
    x, y, _ = correlated_gaussian(1000, 1, 0.05, seed=1)  # rho ~ 0.31, 0.05 nats
    res = permutation_test(get_estimator(name), x, y, n_permutations=99, seed=0)
    assert res.p_value == pytest.approx(1 / 100)  # nothing in the null reaches it: p = (0+1)/(99+1)


def test_p_value_formula_and_determinism():
    x, y = _independent(200)
    a = permutation_test(get_estimator("gaussian"), x, y, n_permutations=49, seed=3)
    b = permutation_test(get_estimator("gaussian"), x, y, n_permutations=49, seed=3)
    expected = (np.sum(a.null >= a.estimate.nats) + 1) / 50
    assert a.p_value == expected == b.p_value
    np.testing.assert_array_equal(a.null, b.null)


def test_permutation_test_is_calibrated_under_independence():
    # false-positive rate over 200 independent data sets at alpha = 0.1: ~ Binomial(200, 0.1)
    est = get_estimator("gaussian")
    rejections = 0
    for rep in range(200):
        x, y = _independent(100, 1, seed=100 + rep)
        rejections += permutation_test(est, x, y, n_permutations=19, seed=rep).p_value <= 0.1
    assert 8 <= rejections <= 34  # 0.1 * 200 = 20, +- 3 standard deviations


def test_neural_permutation_uses_the_fixed_critic():
    est = get_estimator("infonce", steps=150, hidden=(32,), batch_size=64, lr=2e-3)
    x, y, _ = correlated_gaussian(1200, 2, 0.3, seed=2)
    dep = permutation_test(est, x, y, n_permutations=49, seed=0)
    assert dep.method == "fixed-critic" and dep.p_value == pytest.approx(1 / 50)
    xi, yi = _independent(1200)
    ind = permutation_test(est, xi, yi, n_permutations=49, seed=0)
    assert ind.p_value > 0.05


def test_permutation_test_bad_arguments():
    x, y = _independent(100)
    with pytest.raises(ValueError):
        permutation_test(get_estimator("ksg"), x, y, n_permutations=0)
    with pytest.raises(ValueError):
        permutation_test(get_estimator("ksg"), x, y, seed=-1)
    with pytest.raises(ValueError):
        permutation_test(get_estimator("ksg"), x, y, method="fixed-critic")
    with pytest.raises(ValueError, match="paired"):
        permutation_test(get_estimator("ksg"), x, y[:50])


def test_bootstrap_interval_covers_truth():
    x, y, truth = correlated_gaussian(1500, 2, 1.0, seed=7)
    ci = bootstrap_interval(get_estimator("gaussian"), x, y, n_boot=100, seed=0, scheme="bootstrap")
    assert ci.method == "bootstrap-percentile"
    assert ci.low < truth < ci.high and ci.low < ci.estimate < ci.high
    ks = bootstrap_interval(get_estimator("ksg"), x, y, n_boot=30, seed=0)
    assert ks.method == "subsample" and ks.low < truth < ks.high
    assert ks.high - ks.low < 0.3


def test_seed_interval_for_neural_and_dispatch():
    x, y, truth = correlated_gaussian(1500, 2, 1.0, seed=8)
    est = get_estimator("smile", steps=200, hidden=(64,), batch_size=128, lr=3e-3)
    ci = seed_interval(est, x, y, seeds=[0, 1, 2])
    assert ci.method == "seeds-t" and len(ci.replicates) == 3 and ci.low <= ci.estimate <= ci.high
    assert abs(ci.estimate - truth) < 0.2
    with pytest.raises(TypeError):
        bootstrap_interval(est, x, y)
    with pytest.raises(TypeError):
        seed_interval(get_estimator("ksg"), x, y)
    assert interval(get_estimator("gaussian"), x, y, n=20).method == "subsample"


def test_verdict():
    v = verdict(0.3, p_value=0.01, alpha=0.05)
    assert v.label == LEAKS and v.leaks and str(v) == LEAKS and "0.05" in v.text
    assert verdict(0.3, p_value=0.2).label == NO_EVIDENCE
    x, y, _ = correlated_gaussian(300, 1, 0.05, seed=0)
    ci = bootstrap_interval(get_estimator("gaussian"), x, y, n_boot=50)
    strict = verdict(ci.estimate, 0.01, interval=ci, require_positive_interval=True)
    assert strict.leaks == (ci.low > 0)
    with pytest.raises(ValueError):
        verdict(0.1, p_value=0.0)
    with pytest.raises(ValueError):
        verdict(0.1, p_value=0.5, alpha=1.5)


def test_holm():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    with pytest.raises(ValueError):
        holm([0.0, 0.5])


def test_interval_unpacks_and_reuses_the_estimate():
    x, y, _ = correlated_gaussian(500, 1, 0.5, seed=9)
    est = get_estimator("gaussian")
    test = permutation_test(est, x, y, n_permutations=9)
    ci = interval(est, x, y, estimate=test.estimate, n_boot=20, seed=1)
    low, high = ci
    assert (low, high) == (ci.low, ci.high) and ci.estimate == test.estimate.nats


def test_neural_test_equals_separate_test_and_seed_interval() -> None:
    """One batched training gives the same estimate, p-value and interval as the two separate calls."""
    from seleak.estimators import get_estimator
    from seleak.estimators.groundtruth import correlated_gaussian
    from seleak.stats import neural_test, permutation_test, seed_interval

    x, y, _ = correlated_gaussian(600, 2, 0.5, seed=3)
    est = get_estimator("infonce", steps=60, batch_size=64, hidden=(32,), seed=5)
    test, interval = neural_test(est, x, y, n_permutations=49, seeds=(5, 6, 7))
    alone = permutation_test(est, x, y, n_permutations=49, seed=5)
    assert test.estimate.nats == pytest.approx(alone.estimate.nats, abs=1e-6)
    assert test.p_value == pytest.approx(alone.p_value)
    separate = seed_interval(est, x, y, seeds=(5, 6, 7))
    assert (interval.low, interval.high) == pytest.approx((separate.low, separate.high), abs=1e-6)
    with pytest.raises(TypeError, match="neural"):
        neural_test(get_estimator("ksg"), x, y)
