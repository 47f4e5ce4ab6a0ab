"""seleak.stats refuses bad counts and too-small samples with one clear message.

Before: ``bootstrap_interval`` on 3-5 rows died inside numpy (IndexError on an empty array of
resamples), and ``interval(..., n_boot=0)`` silently used the default 200 (``0 or 200``).
"""

from __future__ import annotations

import numpy as np
import pytest

from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.stats import (
    bootstrap_interval,
    bootstrap_min_rows,
    interval,
    neural_test,
    permutation_test,
    seed_interval,
)

BAD_COUNTS = [0, -1, -200, True, False, 2.0, 10.5, "10"]


def _xy(n: int, seed: int = 0):
    x, y, _ = correlated_gaussian(n, 1, 0.5, seed=seed)
    return x, y


@pytest.mark.parametrize("name, need", [("gaussian", 6), ("plugin", 4), ("ksg", 10)])
@pytest.mark.parametrize("scheme", ["subsample", "bootstrap"])
def test_bootstrap_interval_on_too_few_rows_names_the_minimum(name, need, scheme):
    est = get_estimator(name)
    assert bootstrap_min_rows(est) == need
    for n in range(max(est.min_n, 2), need):
        with pytest.raises(ValueError, match=rf"need at least {need} paired rows for a bootstrap interval, got {n}"):
            bootstrap_interval(est, *_xy(n), n_boot=20, scheme=scheme)
    # the same message through interval()
    with pytest.raises(ValueError, match=rf"need at least {need} paired rows"):
        interval(est, *_xy(need - 1), n=20)


def test_bootstrap_interval_at_the_minimum_gives_an_interval():
    # at exactly the minimum, a finite interval (wide, as it should be) rather than an error
    ci = bootstrap_interval(get_estimator("gaussian"), *_xy(6), n_boot=50, seed=0)
    assert np.isfinite([ci.low, ci.high]).all() and ci.low <= ci.high


def test_too_few_valid_resamples_is_a_clear_error_not_an_index_error():
    # column j of x is 0 except in row j: a half-size subsample keeps every column non-constant only
    # when it holds rows 0-3, probability (10 * 9 * 8 * 7) / (20 * 19 * 18 * 17) = 0.043, so far fewer
    # than the required half of 40 resamples are valid (P(>= 20 valid) < 1e-15)
    x = np.zeros((20, 4))
    x[np.arange(4), np.arange(4)] = 1.0
    y = np.random.default_rng(0).standard_normal((20, 1))
    with pytest.raises(ValueError, match="too few valid resamples"):
        bootstrap_interval(get_estimator("gaussian"), x, y, n_boot=40, seed=0)


@pytest.mark.parametrize("bad", BAD_COUNTS, ids=repr)
@pytest.mark.parametrize("arg", ["n", "n_boot", "n_seeds"])
def test_interval_counts_are_never_silently_replaced_by_defaults(arg, bad):
    # (None is the documented "use the default" for these three)
    x, y = _xy(100)
    with pytest.raises(ValueError, match=rf"{arg} must be an int >= 2"):
        interval(get_estimator("gaussian"), x, y, **{arg: bad})


def test_interval_honours_the_counts_it_is_given():
    x, y = _xy(100)
    assert len(interval(get_estimator("gaussian"), x, y, n_boot=7).replicates) == 7
    assert len(interval(get_estimator("gaussian"), x, y, n=9).replicates) == 9
    assert len(interval(get_estimator("gaussian"), x, y, n=9, n_boot=5).replicates) == 5  # specific wins


@pytest.mark.parametrize("bad", [*BAD_COUNTS, 1, None], ids=repr)
def test_bootstrap_interval_n_boot(bad):
    with pytest.raises(ValueError, match="n_boot must be an int >= 2"):
        bootstrap_interval(get_estimator("gaussian"), *_xy(100), n_boot=bad)


@pytest.mark.parametrize("bad", [*BAD_COUNTS, None], ids=repr)
def test_permutation_test_n_permutations(bad):
    with pytest.raises(ValueError, match="n_permutations must be an int >= 1"):
        permutation_test(get_estimator("gaussian"), *_xy(100), n_permutations=bad)


def test_neural_counts_and_seeds():
    est = get_estimator("infonce", steps=5, batch_size=16, hidden=(8,))
    x, y = _xy(200)
    for bad in (0, -3, True, 2.5):
        with pytest.raises(ValueError, match="n_permutations must be an int >= 1"):
            neural_test(est, x, y, n_permutations=bad)
    with pytest.raises(ValueError, match="seeds must be a sequence"):
        seed_interval(est, x, y, seeds=5)
    with pytest.raises(ValueError, match="at least 2 distinct seeds"):
        seed_interval(est, x, y, seeds=[3, 3])


@pytest.mark.parametrize("func", [permutation_test, bootstrap_interval, interval])
def test_an_estimator_name_instead_of_an_estimator_is_a_clear_error(func):
    with pytest.raises(TypeError, match="get_estimator"):
        func("ksg", *_xy(100))


@pytest.mark.parametrize("bad", [-1, True, 1.5, "0"], ids=repr)
def test_seed_arguments(bad):
    x, y = _xy(100)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        permutation_test(get_estimator("gaussian"), x, y, n_permutations=9, seed=bad)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        interval(get_estimator("gaussian"), x, y, n=9, seed=bad)
