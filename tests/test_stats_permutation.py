"""seleak.stats: permutation tests, intervals, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

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


def _r_max(n: int, alpha: float, tail: float = 1e-4) -> int:
    """Smallest r with P(Binomial(n, alpha) > r) <= tail: a bound on the number of rejections of a
    valid test over n independent null data sets that fails by chance with probability <= tail."""
    r = 0
    while binom.sf(r, n, alpha) > tail:
        r += 1
    return r


def _independent(n=600, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d))


@pytest.mark.parametrize("name", ["ksg", "gaussian", "plugin"])
def test_permutation_not_significant_on_independent_data(name):
    # One independent data set is significant at 5% with probability <= 0.05 by design (0.04 with 49
    # permutations: p <= 0.05 means b <= 1, 2/50), so a single p-value cannot be asserted. Over six
    # data sets, more than _r_max(6, 0.05) = 3 rejections has probability < 1e-4 for a valid test.
    results = [
        permutation_test(get_estimator(name), *_independent(400, seed=s), n_permutations=49, seed=s) for s in range(6)
    ]
    assert sum(r.significant(0.05) for r in results) <= _r_max(6, 0.05)
    assert all(r.null.shape == (49,) and r.method == "re-estimate" for r in results)


# The Gaussian detects 0.05 nats (rho ~ 0.31) at N = 1000 with a huge margin: its estimate is 0.05 +-
# 0.01 while N * 2 * (permuted value) is chi2_1, whose largest of 99 draws is ~0.005 nats. KSG is
# noisier (null sd 0.022 nats at N = 1000, so at 0.05 nats it missed p = 1/100 in 6 of 8 seeds): it
# gets 0.3 nats, measured 0.26-0.39 against a largest permuted value <= 0.07, > 8 sd of margin.
@pytest.mark.parametrize("name, mi", [("ksg", 0.3), ("gaussian", 0.05)])
def test_permutation_significant_on_weak_dependence(name, mi):
    x, y, _ = correlated_gaussian(1000, 1, mi, seed=1)
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
    # the Gaussian statistic is continuous (no ties) and 0.1 * (19 + 1) is an integer, so rejections
    # are exactly Binomial(200, 0.1); the bounds leave <= 5e-5 in each tail (the former 8..34 left
    # 5e-4 and 8e-4)
    lo = int(binom.ppf(5e-5, 200, 0.1))  # P(R < lo) <= 5e-5
    hi = _r_max(200, 0.1, 5e-5)
    assert binom.cdf(lo - 1, 200, 0.1) <= 5e-5
    assert lo <= rejections <= hi


def test_neural_permutation_uses_the_fixed_critic():
    est = get_estimator("infonce", steps=150, hidden=(32,), batch_size=64, lr=2e-3)
    x, y, _ = correlated_gaussian(1200, 2, 0.3, seed=2)
    dep = permutation_test(est, x, y, n_permutations=49, seed=0)
    # measured over 4 data seeds: estimate 0.20-0.32 nats, largest permuted value <= -0.18 (null sd
    # 0.06): no permuted value comes near, so p is at its minimum
    assert dep.method == "fixed-critic" and dep.p_value == pytest.approx(1 / 50)
    # Independent data: one p-value is <= 0.05 with probability 0.04 by design, so count over six
    # data sets (each with its own trained critic): more than 3 rejections has probability < 1e-4.
    rejections = sum(
        permutation_test(est, *_independent(1200, seed=s), n_permutations=49, seed=s).p_value <= 0.05 for s in range(6)
    )
    assert rejections <= _r_max(6, 0.05)


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


@pytest.mark.parametrize("scheme", ["subsample", "bootstrap"])
def test_bootstrap_interval_has_the_estimators_spread_and_covers_truth(scheme):
    # One 95 % interval misses the truth with probability ~5 %, so coverage is counted over 50 data
    # sets, and the width is compared with the estimator's known spread. For this Gaussian (2
    # coordinates of correlation rho, rho^2 = 1 - e^-1) the estimate's sd is sqrt(2 rho^2 / N) = 0.050
    # at N = 500 (0.050-0.054 measured over 600 seeds). Measured: mean half-width / (1.96 sd) 0.85-0.91
    # (50 resamples' 2.5/97.5 % quantiles are a little narrow), coverage 0.87-0.93. The mean
    # half-width over 50 sets has a relative error ~2 %, so [0.75, 1.25] fails by chance with
    # negligible probability, while the former sqrt(m/N) subsample scaling (too narrow by sqrt(2): ~0.64)
    # fails it. Coverage: >= c_min of 50 even at a true coverage of 0.8 with probability 1 - 1e-4.
    est = get_estimator("gaussian")
    sd = math.sqrt(2 * (1 - math.exp(-1)) / 500)
    half, covered = [], 0
    for s in range(50):
        x, y, truth = correlated_gaussian(500, 2, 1.0, seed=500 + s)
        ci = bootstrap_interval(est, x, y, n_boot=50, seed=s, scheme=scheme)
        assert ci.low < ci.estimate < ci.high
        half.append((ci.high - ci.low) / 2)
        covered += ci.low < truth < ci.high
    assert ci.method == {"subsample": "subsample", "bootstrap": "bootstrap-percentile"}[scheme]
    assert 0.75 < np.mean(half) / (1.96 * sd) < 1.25
    c_min = int(binom.ppf(1e-4, 50, 0.8))
    assert covered >= c_min


def test_ksg_subsample_interval():
    # KSG's own error is tested in test_estimators_accuracy; here the interval's shape: it holds the
    # estimate and its width matches KSG's spread (measured 0.088-0.110 over 6 seeds at N = 1500;
    # the bounds are a factor 2-3 away)
    x, y, _ = correlated_gaussian(1500, 2, 1.0, seed=7)
    ks = bootstrap_interval(get_estimator("ksg"), x, y, n_boot=30, seed=0)
    assert ks.method == "subsample" and ks.low < ks.estimate < ks.high
    assert 0.04 < ks.high - ks.low < 0.3


def test_seed_interval_for_neural_and_dispatch():
    x, y, truth = correlated_gaussian(1500, 2, 1.0, seed=8)
    est = get_estimator("smile", steps=200, hidden=(64,), batch_size=128, lr=3e-3)
    ci = seed_interval(est, x, y, seeds=[0, 1, 2])
    assert ci.method == "seeds-t" and len(ci.replicates) == 3 and ci.low <= ci.estimate <= ci.high
    # the seed mean was 0.02-0.11 below the truth over 4 data seeds (375 held-out pairs per seed:
    # sampling sd ~0.04, SMILE's clipping bias ~-0.05): 0.25 is > 4.5 sd from that
    assert abs(ci.estimate - truth) < 0.25
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


def test_the_permutation_p_value_and_the_significance_rule_by_hand() -> None:
    from seleak.stats import permutation_p_value, significant

    # 2 of the 9 null values reach 0.5 (ties count): p = (2 + 1) / (9 + 1)
    null = [0.1, 0.2, 0.5, 0.3, 0.9, 0.0, 0.4, 0.2, 0.1]
    assert permutation_p_value(null, 0.5) == pytest.approx(0.3)
    assert permutation_p_value(null, 2.0) == pytest.approx(0.1)  # never 0: at least 1 / (m + 1)
    assert significant(0.05, 0.05) and not significant(0.0501, 0.05)  # p <= alpha rejects
