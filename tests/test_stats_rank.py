"""Tests of seleak.stats' rank correlations: Spearman's rho with a bootstrap interval over points."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seleak import stats


def test_spearman_bootstrap_monotone_relations():
    x = np.arange(12.0)
    up = stats.spearman_bootstrap(x, x**3, n_boot=200, seed=0)
    assert up.rho == pytest.approx(1.0) and up.low == pytest.approx(1.0) and up.high == pytest.approx(1.0)
    down = stats.spearman_bootstrap(x, -np.exp(x), n_boot=200, seed=0)
    assert down.rho == pytest.approx(-1.0) and down.high == pytest.approx(-1.0)
    assert up.n == 12 and up.n_boot == 200 and up.n_valid == 200


def test_spearman_bootstrap_noisy_points_seeded_interval():
    rng = np.random.default_rng(1)
    x = np.arange(15.0)
    y = x + rng.normal(0, 4, x.size)
    a = stats.spearman_bootstrap(x, y, n_boot=500, seed=3)
    b = stats.spearman_bootstrap(x, y, n_boot=500, seed=3)
    assert a == b  # same seed, same resamples
    assert -1 <= a.low <= a.rho <= a.high <= 1 and a.high - a.low > 0.05
    from scipy.stats import spearmanr

    assert a.rho == pytest.approx(spearmanr(x, y).statistic)


def test_spearman_bootstrap_drops_nan_keeps_inf_and_handles_few_points():
    r = stats.spearman_bootstrap([1, 2, 3, np.inf, np.nan], [1, 2, 3, 10, 0], n_boot=100)
    assert r.n == 4 and r.rho == pytest.approx(1.0)
    few = stats.spearman_bootstrap([1, 2], [2, 1])
    assert few.n == 2 and math.isnan(few.rho) and few.n_valid == 0
    const = stats.spearman_bootstrap([1, 1, 1, 1], [1, 2, 3, 4], n_boot=50)
    assert math.isnan(const.rho) and const.n_valid == 0 and math.isnan(const.low)


@pytest.mark.parametrize("kwargs", [{"n_boot": 0}, {"level": 1.0}, {"n_boot": True}])
def test_spearman_bootstrap_bad_input(kwargs):
    with pytest.raises(ValueError):
        stats.spearman_bootstrap([1, 2, 3], [1, 2, 3], **kwargs)
    with pytest.raises(ValueError):
        stats.spearman_bootstrap([1, 2, 3], [1, 2])


def test_rank_correlations_is_tidy():
    pts = pd.DataFrame({"mi": [0.0, 0.1, 0.5, 2.0, np.nan], "other": [3, 2, 1, 0, 5], "acc": [0.1, 0.2, 0.5, 0.9, 0.3]})
    out = stats.rank_correlations(pts, ["mi", "other"], ["acc"], n_boot=100)
    assert list(out.columns) == ["x", "y", "rho", "low", "high", "p_value", "n", "n_valid"]
    assert len(out) == 2
    assert out.set_index("x").loc["mi", "rho"] == pytest.approx(1.0) and out.set_index("x").loc["mi", "n"] == 4
    assert out.set_index("x").loc["other", "rho"] < 0
    with pytest.raises(ValueError, match="no column"):
        stats.rank_correlations(pts, ["nope"], ["acc"])
