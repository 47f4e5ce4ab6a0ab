"""The neural estimators' held-out protocol: every test pair is evaluated, in whole chunks, and the
per-chunk values (the reported bound and InfoNCE of the same critic) come with the estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.estimators.neural.training import held_out_size

NAMES = ["infonce", "nwj", "mine", "smile"]


def test_the_held_out_split_is_whole_chunks():
    assert held_out_size(3000, 0.25, 128) == 768  # 750 / 128 = 5.86 -> 6 chunks
    assert held_out_size(1000, 0.25, 128) == 256  # 1.95 -> 2
    assert held_out_size(900, 0.25, 32) == 224  # 7.03 -> 7: the 1 pair moves to training
    assert held_out_size(200, 0.1, 64) == 64  # 0.31 -> at least one chunk
    assert held_out_size(60, 0.25, 32) == 15  # no room for a chunk of 32: one short chunk, as before
    assert held_out_size(3000, 0.25) == 750  # no chunk: plain rounding
    for n in range(20, 700, 7):
        for vf in (0.05, 0.25, 0.5, 0.9):
            for eb in (2, 16, 64, 128):
                t = held_out_size(n, vf, eb)
                assert (t % eb == 0 and t >= eb) or t < eb
                assert 2 <= t <= n - 2


def _check_chunks(r, eb: int) -> None:
    size = min(eb, r.n_eval)
    cv, ci = r.details["chunk_values"], r.details["chunk_infonce"]
    assert r.n_eval == r.details["n_test"] and r.details["chunk_size"] == size
    assert r.n_eval % size == 0 and (r.n_eval >= eb or any("smaller than eval_batch_size" in f for f in r.flags))
    assert cv.dtype == ci.dtype == np.float64 and cv.shape == ci.shape == (r.n_eval // size,)
    assert abs(float(np.mean(cv)) - r.nats) < 1e-6
    # InfoNCE of a chunk of b pairs is at most log b exactly (computed in float64 from the scores)
    assert np.all(ci <= math.log(size) + 1e-12)
    if r.name == "infonce":
        np.testing.assert_array_equal(cv, ci)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("critic", ["separable", "joint"])
def test_every_held_out_pair_is_evaluated(name, critic):
    # different N (different numbers of chunks) and one problem too small for a full chunk
    pairs = [correlated_gaussian(n, 2, 0.5, seed=n)[:2] for n in (400, 1000, 60)]
    kw = dict(steps=20, hidden=(16,), batch_size=32, critic=critic, eval_every=10)
    est = get_estimator(name, **kw)
    results = est.estimate_many(pairs, seeds=[0, 1, 2], n_permutations=5, permutation_seed=1)
    assert [r.n_eval for r in results] == [96, 256, 15]  # 100 -> 3 chunks, 250 -> 8 chunks, 15 < 32
    for r in results:
        _check_chunks(r, 32)
        assert r.null.shape == (5,) and np.all(np.isfinite(r.null))
    # a problem batched with others gets the chunk values it gets alone (up to float rounding)
    alone = get_estimator(name, seed=1, **kw).estimate_many([pairs[1]], n_permutations=5, permutation_seed=1)[0]
    np.testing.assert_allclose(results[1].details["chunk_values"], alone.details["chunk_values"], atol=1e-4)
    np.testing.assert_allclose(results[1].details["chunk_infonce"], alone.details["chunk_infonce"], atol=1e-4)
    np.testing.assert_allclose(results[1].null, alone.null, atol=1e-4)


def test_an_eval_batch_other_than_the_training_batch():
    x, y, _ = correlated_gaussian(1000, 1, 0.5, seed=0)
    r = get_estimator("nwj", steps=20, hidden=(16,), batch_size=32, eval_batch_size=100).estimate(x, y)
    assert r.n_eval == 300  # 250 / 100 = 2.5 -> 3 chunks (halves round up: 50 pairs come from training)
    _check_chunks(r, 100)


# Held-out data: 4000 pairs, val_fraction 0.25 -> 1000 / 64 = 15.6 -> 16 chunks of 64 = 1024 pairs.
# Measured over 40 data-and-training seeds (these settings, each estimator):
#   independent data: mean(chunk_infonce) = -0.004, sd 0.004 (range -0.016..+0.003);
#   0.5 nat Gaussian: mean(chunk_infonce) = 0.476..0.485, sd 0.021-0.026 (max 0.54).
# InfoNCE is a lower bound of I in expectation for any fixed critic, so the upper margins are pure
# sampling error of 1024 held-out pairs: +0.03 under independence is > 8 sd above the measured mean
# (and 12 within-run standard errors of 0.0025 above the bound 0), +0.15 over 0.5 nats is > 6 sd of
# the measured spread (~7 above the measured means). The lower margins (critics fitted to noise score
# slightly below 0; a learnt critic is well above 0.25) are > 13 and > 8 sd away.
HELD_OUT = dict(steps=200, hidden=(32,), batch_size=64, lr=2e-3)


@pytest.mark.parametrize("name", NAMES)
def test_infonce_chunks_near_zero_on_independent_data(name):
    x, y, _ = correlated_gaussian(4000, 1, 0.0, seed=11)
    r = get_estimator(name, **HELD_OUT).estimate(x, y)
    assert r.n_eval == 1024
    _check_chunks(r, 64)
    assert -0.06 < float(np.mean(r.details["chunk_infonce"])) < 0.03


@pytest.mark.parametrize("name", NAMES)
def test_infonce_chunks_stay_below_the_true_mi(name):
    x, y, truth = correlated_gaussian(4000, 1, 0.5, seed=12)  # one pair of coordinates, 0.5 nat
    r = get_estimator(name, **HELD_OUT).estimate(x, y)
    _check_chunks(r, 64)
    lower = float(np.mean(r.details["chunk_infonce"]))
    assert 0.25 < lower <= truth + 0.15
    if get_estimator(name).is_bound:  # infonce, nwj: the reported value is a lower bound itself
        assert r.nats <= truth + 0.15
