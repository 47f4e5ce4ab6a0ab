"""The one leakage pipeline (seleak.leakage.measure_leakage) that the study, the CLI and the book use."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import digamma

from seleak import stats
from seleak.estimators import get_estimator, project
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.leakage import LeakageResult, informative_columns, measure_leakage


@pytest.fixture(scope="module")
def pair():
    x, y, _ = correlated_gaussian(400, 6, 1.0, seed=4)
    # a dead unit on each side, as CNN embeddings of SE images have: the pipeline drops it
    return np.hstack([x, np.zeros((400, 1))]), np.hstack([np.ones((400, 1)), y])


def test_the_pipeline_is_the_test_and_interval_it_names(pair):
    zx, zy = pair
    r = measure_leakage(zx, zy, "gaussian", pca_dim=3, permutations=49, n_boot=40, seed=2)
    assert isinstance(r, LeakageResult) and r.estimator == "gaussian" and r.interval == "subsample"
    # the same steps by hand give the same numbers: columns, projection, test, interval
    x, y = project(informative_columns(zx), informative_columns(zy), 3)
    est = get_estimator("gaussian")
    test = stats.permutation_test(est, x, y, n_permutations=49, seed=2)
    iv = stats.bootstrap_interval(est, x, y, n_boot=40, seed=2, scheme="subsample", estimate=test.estimate)
    assert r.nats == test.estimate.nats and r.p_value == test.p_value
    assert (r.ci_low, r.ci_high) == (iv.low, iv.high)
    assert r.bits == pytest.approx(r.nats / math.log(2))
    assert "7+7 columns, 6+6 informative, PCA per side to 3+3" == r.representation
    assert r.settings["projection"] == "pca" and r.settings["dim"] == 3
    assert r.permutations == 49 and r.n == 400 and r.n_eval == 400 and not r.degenerate


def test_a_name_with_settings_and_an_instance_give_the_same_result(pair):
    zx, zy = pair
    a = measure_leakage(zx, zy, "ksg", {"k": 5}, permutations=19, n_boot=0, seed=1)
    b = measure_leakage(zx, zy, get_estimator("ksg", k=5), permutations=19, n_boot=0, seed=1)
    assert (a.nats, a.p_value) == (b.nats, b.p_value)
    assert a.interval == "none" and math.isnan(a.ci_low) and math.isnan(a.ci_high)
    with pytest.raises(TypeError, match="not both"):
        measure_leakage(zx, zy, get_estimator("ksg"), {"k": 5})
    with pytest.raises(TypeError, match="name"):
        measure_leakage(zx, zy, 3)


def test_seed_and_device_reach_the_estimator_unless_set_explicitly():
    est = get_estimator("ksg")
    assert est.with_context(seed=7, device="cpu").settings["seed"] == 7
    assert get_estimator("ksg", seed=3).with_context(seed=7, device="cpu").settings["seed"] == 3
    gauss = get_estimator("gaussian")
    assert gauss.with_context(seed=7, device="cpu") is gauss  # takes neither: unchanged


def test_a_neural_interval_comes_from_repeated_splits_and_the_seed_spread_apart():
    x, y, _ = correlated_gaussian(600, 2, 0.5, seed=3)
    settings = {"steps": 40, "hidden": (16,), "batch_size": 32}
    r = measure_leakage(x, y, "infonce", settings, permutations=19, neural_splits=4, neural_seeds=3, seed=5)
    # outer resampling: the estimate is the mean over 4 splits, the interval the corrected resampled t
    assert r.interval == "resampled" and r.ci_low <= r.nats <= r.ci_high and r.settings["seed"] == 5
    assert math.isfinite(r.seed_sd) and r.seed_sd >= 0 and r.is_bound
    # the lower bound is a one-sided bound of the first critic's held-out InfoNCE mean, clipped at 0
    assert 0 <= r.lower_bound and "held-out batches" in r.lower_bound_method
    # InfoNCE's held-out value cannot exceed log of its evaluation batch
    assert r.ceiling == pytest.approx(math.log(32)) and r.nats <= r.ceiling + 1e-9
    # one split: the interval is that of the held-out evaluation of its critic only
    one = measure_leakage(x, y, "infonce", settings, permutations=19, neural_splits=0, neural_seeds=1, seed=5)
    assert one.interval == "held-out" and one.ci_low <= one.nats <= one.ci_high and math.isnan(one.seed_sd)
    with pytest.raises(ValueError, match="neural_splits"):
        measure_leakage(x, y, "infonce", settings, neural_splits=-1)


def test_the_ceilings_the_estimators_declare():
    # KSG with its tie-breaking jitter: psi(N) - psi(k + 1); plug-in: log M + (M - 1) / (2N) with
    # M = min(8**3 cells, N) = 500 (three columns at most, Miller–Madow on)
    assert get_estimator("ksg").ceiling(1000) == pytest.approx(digamma(1000) - digamma(4))
    assert get_estimator("plugin").ceiling(500) == pytest.approx(math.log(500) + 499 / 1000)
    assert get_estimator("gaussian").ceiling(500) == math.inf
    assert get_estimator("infonce", batch_size=16).ceiling(500) == pytest.approx(math.log(16))
    assert get_estimator("mine").neural and not get_estimator("ksg").neural


def test_an_estimate_at_its_ceiling_is_flagged_saturated():
    # one side an affine copy of the other (KSG standardises the columns, so the neighbour structure is
    # that of identical sides): the neighbour counts are k - 1 and k, so with k = 1 the estimate is
    # exactly psi(N) - psi(2) = 5.57 nats at N = 400: KSG's ceiling, a floor, not a measurement.
    # (Exactly identical sides take the degenerate path instead: see the next test.)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2))
    r = measure_leakage(x, 2 * x + 1, "ksg", {"k": 1}, permutations=9, n_boot=0, seed=0)
    assert r.saturated and r.ceiling == pytest.approx(digamma(400) - digamma(2))
    assert abs(r.nats - r.ceiling) < 1e-9 and r.shown().startswith(">= ")
    weak = measure_leakage(*correlated_gaussian(400, 2, 0.5, seed=1)[:2], "ksg", permutations=9, n_boot=0)
    assert not weak.saturated


def test_unpaired_embeddings_are_refused(pair):
    zx, zy = pair
    with pytest.raises(ValueError, match="paired by row"):
        measure_leakage(zx, zy[:-1], "gaussian")


def test_identical_embeddings_give_the_exact_entropy_tested_and_bounded_never_inf():
    # nothing encrypted: f(SE(X)) = f(X), so I = H(f(X)) for X uniform over the rows, exactly. 200 rows
    # holding 100 distinct embeddings twice each: H = log 100 (not inf, not log 200)
    rng = np.random.default_rng(5)
    z = np.repeat(rng.standard_normal((100, 8)), 2, axis=0)
    r = measure_leakage(z, z.copy(), "gaussian", permutations=99, n_boot=50, seed=1)
    assert r.degenerate and r.interval == "exact" and not r.saturated
    assert r.nats == pytest.approx(math.log(100)) and r.ci_low == r.ci_high == r.nats
    # the test is a real test: a permutation matches all 200 rows with probability 2**100 / 200! ~ 0,
    # so none of the 99 reaches the observed count and p is its smallest value
    assert r.p_value == pytest.approx(1 / 100)
    # the identity critic certifies log B minus the duplicates' share, below the exact value
    assert 0 < r.lower_bound <= r.nats and math.isfinite(r.ceiling)
    assert "degenerate" in r.flags[0]
