"""Held-out InfoNCE bounds (seleak.heldout): every batch value is at most log B, a Gaussian critic
recovers a known MI from below, the identity critic gives log B on distinct rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak import stats
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.heldout import CHUNKS, chunk_count, gaussian_critic_chunks, identity_critic_chunks


def test_chunk_count_keeps_batches_of_at_least_five_rows():
    assert chunk_count(9) == 0 and chunk_count(10) == 2 and chunk_count(34) == 6
    assert chunk_count(1000) == CHUNKS and chunk_count(1000, chunks=4) == 4


def test_the_gaussian_critic_bounds_a_known_mi_from_below():
    # 1 nat between 2+2 Gaussian columns; critic fitted on 2000 rows, 10 batches of 200 held-out rows.
    # With the true critic, InfoNCE at B = 200 is within ~0.01 nat of 1 nat (its gap is of order
    # e^I / B); the fitted one loses a few hundredths more. Per batch the standard deviation is ~0.06,
    # so the mean of 10 is within 0.1 of its expectation with probability > 1 - 1e-6.
    x, y, mi = correlated_gaussian(4000, 2, 1.0, seed=7)
    values = gaussian_critic_chunks(x[:2000], y[:2000], x[2000:], y[2000:], chunks=10, seed=0)
    assert values.shape == (10,) and (values <= math.log(200) + 1e-12).all()
    assert mi - 0.2 < values.mean() < mi + 0.1
    # the one-sided 95 % bound lies below the truth
    assert stats.lower_confidence_bound(values, 0.95) < mi


def test_the_gaussian_critic_certifies_nothing_under_independence():
    # independent sides: E[InfoNCE] <= I = 0 for any critic; the batch mean of 10 batches of 100 has a
    # standard deviation of ~0.01, so it stays below 0.05 with probability > 1 - 1e-6
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 3))
    values = gaussian_critic_chunks(x[:1000], y[:1000], x[1000:], y[1000:], chunks=10, seed=1)
    assert values.mean() < 0.05


def test_the_identity_critic_gives_log_b_on_distinct_rows_and_less_with_duplicates():
    ids = np.arange(100)[:, None]
    values = identity_critic_chunks(ids, ids, chunks=4, seed=0)
    assert values == pytest.approx([math.log(25)] * 4)
    twice = np.repeat(np.arange(50), 2)[:, None]  # every row has one duplicate somewhere
    dup = identity_critic_chunks(twice, twice, chunks=1, seed=0)
    assert dup[0] == pytest.approx(math.log(100) - math.log(2))
    with pytest.raises(ValueError, match="not identical"):
        identity_critic_chunks(ids, ids[::-1], chunks=2)
