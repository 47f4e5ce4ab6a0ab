"""Outer resampling of the neural estimators (seleak.stats.neural_resampling): the interval comes from
repeated data splits, the seed spread from repeated initialisations on one split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from seleak import stats
from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian

SMALL = {"steps": 30, "hidden": (8,), "batch_size": 32, "eval_batch_size": 20}


@pytest.fixture(scope="module")
def pair():
    x, y, _ = correlated_gaussian(300, 1, 0.5, seed=2)
    return x, y


def test_the_corrected_resampled_t_interval_by_hand():
    v = [0.1, 0.3, 0.2, 0.4]
    iv = stats.resampled_t_interval(v, 0.5, level=0.9)
    # mean 0.25, s = 0.1291, se = s * sqrt(1/4 + 0.5), t_{3, 0.95} = 2.3534
    half = sps.t.ppf(0.95, 3) * np.std(v, ddof=1) * math.sqrt(0.25 + 0.5)
    assert iv.estimate == pytest.approx(0.25) and iv.method == "resampled-t"
    assert (iv.low, iv.high) == pytest.approx((0.25 - half, 0.25 + half))
    # the correction only widens: with ratio 0 it is the naive t interval
    naive = stats.resampled_t_interval(v, 0.0, level=0.9)
    assert naive.high - naive.low < iv.high - iv.low
    with pytest.raises(ValueError, match="at least 2 finite"):
        stats.resampled_t_interval([0.1], 0.5)
    with pytest.raises(ValueError, match="test_train_ratio"):
        stats.resampled_t_interval(v, -1.0)


def test_split_seeds_move_the_split_and_seeds_the_initialisation(pair):
    # a random start: the Gaussian start is the same for every seed, and only the network's start moves
    est = get_estimator("infonce", init="random", **SMALL)
    a, b, c = est.estimate_many([pair] * 3, seeds=[0, 0, 1], split_seeds=[0, 1, 0])
    same = est.estimate_many([pair], seeds=[0])[0]
    # split seed defaults to the seed: the same critic, trained in a batch of 3 or alone, so equal up to float
    # rounding (batched and single matrix products round differently: 2e-9 nats apart on one machine)
    assert a.nats == pytest.approx(same.nats, abs=1e-4)
    assert a.details["split_seed"] == 0 and b.details["split_seed"] == 1 and c.details["split_seed"] == 0
    assert abs(a.nats - b.nats) > 1e-3 and abs(a.nats - c.nats) > 1e-3  # other split, other initialisation
    with pytest.raises(ValueError, match="split seeds"):
        est.estimate_many([pair] * 2, seeds=[0, 1], split_seeds=[0])


def test_neural_resampling_separates_splits_from_initialisations(pair):
    est = get_estimator("infonce", **SMALL)
    r = stats.neural_resampling(est, *pair, n_permutations=19, splits=4, inits=3, seed=7)
    assert len(r.split_results) == 4 and len(r.seed_results) == 3
    assert [e.details["split_seed"] for e in r.split_results] == [7, 8, 9, 10]
    assert [e.details["split_seed"] for e in r.seed_results] == [7, 7, 7]
    assert [e.settings["seed"] for e in r.seed_results] == [7, 8, 9]
    assert r.seed_results[0] is r.split_results[0]
    assert r.interval.estimate == pytest.approx(np.mean([e.nats for e in r.split_results]))
    assert r.interval.low <= r.interval.estimate <= r.interval.high
    assert r.seed_sd == pytest.approx(np.std([e.nats for e in r.seed_results], ddof=1))
    assert r.test.estimate is r.split_results[0] and 0 < r.test.p_value <= 1


def test_neural_resampling_refuses_what_it_cannot_do(pair):
    with pytest.raises(TypeError, match="neural"):
        stats.neural_resampling(get_estimator("ksg"), *pair)
    with pytest.raises(ValueError, match="splits"):
        stats.neural_resampling(get_estimator("infonce", **SMALL), *pair, splits=1)
