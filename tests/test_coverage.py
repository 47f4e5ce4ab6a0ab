"""seleak.coverage.interval_coverage: arguments, seeding and the bookkeeping of a Coverage.

Whether the simulated coverage is right (rate >= 0.891 over 700 repetitions of the Gaussian estimator,
1 + 1 dimensions, 0.5 nat, N = 1000, with its binomial false-failure bound) is checked in
tests/test_interval_coverage.py, which runs its simulations through this function. The checks here are
exact: they cannot fail by chance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.coverage import Coverage, interval_coverage
from seleak.estimators import get_estimator
from seleak.stats import clopper_pearson

# small and fast: 12 repetitions of 40 subsamples of 200 rows, well under a second
SMALL = dict(n=200, reps=12, n_boot=40)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dim=0), "dim must be an int >= 1"),
        (dict(dim=1.0), "dim must be an int >= 1"),
        (dict(mi=-0.1), "mi must be a finite number"),
        (dict(mi=math.inf), "mi must be a finite number"),
        (dict(mi="0.5"), "mi must be a finite number"),
        (dict(n=3), "n must be an int >= 4"),
        (dict(reps=0), "reps must be an int >= 1"),
        (dict(reps=True), "reps must be an int >= 1"),
        (dict(n_boot=1), "n_boot must be an int >= 2"),
        (dict(seed=-1), "seed must be an int >= 0"),
        (dict(n_jobs=0), "n_jobs must be an int >= 1"),
        (dict(level=1.0), r"level must be a number in \(0, 1\)"),
        (dict(level=0), r"level must be a number in \(0, 1\)"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    args = dict(estimator="gaussian", dim=1, mi=0.5, **SMALL)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        interval_coverage(**args)


def test_estimator_must_be_a_non_neural_estimator():
    with pytest.raises(ValueError, match="unknown estimator"):
        interval_coverage("gausian", 1, 0.5, **SMALL)
    with pytest.raises(ValueError, match="neural.*use 'gaussian', 'ksg' or 'plugin'"):
        interval_coverage("infonce", 1, 0.5, **SMALL)
    with pytest.raises(TypeError, match="must be a name or an estimator"):
        interval_coverage(3, 1, 0.5, **SMALL)


def test_same_seed_same_result_whatever_the_workers():
    a = interval_coverage("gaussian", 1, 0.5, seed=7, **SMALL)
    b = interval_coverage("gaussian", 1, 0.5, seed=7, **SMALL)
    c = interval_coverage("gaussian", 1, 0.5, seed=7, n_jobs=2, **SMALL)
    assert a == b == c
    for other in (b, c):
        for name in ("estimates", "lows", "highs"):
            np.testing.assert_array_equal(getattr(a, name), getattr(other, name))
    # another seed draws other samples (12 continuous estimates cannot all coincide)
    d = interval_coverage("gaussian", 1, 0.5, seed=8, **SMALL)
    assert not np.array_equal(a.estimates, d.estimates)


def test_the_fields_agree_with_the_per_sample_values():
    est = get_estimator("ksg", k=3)
    cov = interval_coverage(est, 2, 0.3, seed=1, **SMALL)
    assert isinstance(cov, Coverage) and cov.estimator == "ksg"
    assert (cov.dim, cov.mi, cov.n, cov.reps, cov.n_boot, cov.seed, cov.level) == (2, 0.3, 200, 12, 40, 1, 0.95)
    assert cov.estimates.shape == cov.lows.shape == cov.highs.shape == (12,)
    assert np.all(cov.lows <= cov.highs)
    inside = (cov.lows <= cov.mi) & (cov.mi <= cov.highs)
    assert cov.covered == int(inside.sum()) and cov.rate == cov.covered / cov.reps
    assert cov.covered + cov.miss_below + cov.miss_above == cov.reps
    assert (cov.cp_low, cov.cp_high) == clopper_pearson(cov.covered, cov.reps, 0.95)
    assert cov.mean_width == pytest.approx(np.mean(cov.highs - cov.lows), abs=1e-12)
    assert cov.bias == pytest.approx(np.mean(cov.estimates) - 0.3, abs=1e-12)
    assert cov.sd_estimate == pytest.approx(np.std(cov.estimates, ddof=1), abs=1e-12)
    row = cov.as_row()
    assert row["covered"] == cov.covered and row["dims"] == "2+2"


def test_rate_if_scaled():
    cov = interval_coverage("gaussian", 1, 0.5, seed=2, **SMALL)
    assert cov.rate_if_scaled(1.0) == cov.rate
    # a narrower interval never covers more, a wider one never less
    assert cov.rate_if_scaled(0.5) <= cov.rate <= cov.rate_if_scaled(2.0)
    m = cov.n // 2
    assert cov.old_scaling_rate == cov.rate_if_scaled(math.sqrt((cov.n - m) / cov.n)) <= cov.rate
    assert cov.rate_if_scaled(1e6) == 1.0  # every interval holds its estimate, so a huge one holds the truth
    for bad in (0.0, -1.0, math.nan, "1"):
        with pytest.raises(ValueError, match="factor must be a finite number > 0"):
            cov.rate_if_scaled(bad)
