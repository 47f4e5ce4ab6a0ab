"""Coverage of the intervals of seleak.stats, by simulation on data with a known answer.

* ``bootstrap_interval`` (half-size subsamples, deviations scaled by ``sqrt(m / (N - m))``): how often
  its nominal 95 % interval holds the true MI of correlated Gaussians with N = 1000 rows.
* ``lower_confidence_bound``: how often the one-sided 95 % t bound is below the true mean of m = 10
  i.i.d. values.

The simulation is ``seleak.coverage.interval_coverage`` (tests/test_coverage.py checks its arguments
and seeding). Each repetition draws its own data (and its own subsamples), so the number of covering repetitions is
Binomial(n, true coverage), and every threshold below comes with the binomial tail that bounds its
probability of failing by chance, whatever the seeds and the machine. The thresholds assume a true
coverage of at least 0.93 for the subsample interval: measured (benchmarks/bench_interval_coverage.py
and 2 000 - 6 000 repetitions per setting) 0.937 - 0.955 for the Gaussian estimator and 0.94 - 0.945
for KSG on the settings used here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from seleak.coverage import interval_coverage
from seleak.stats import lower_confidence_bound, skew_corrected_lower_bound

N_ROWS = 1000
LEVEL = 0.95
ASSUMED = 0.93  # the least true coverage of a correct procedure the thresholds must let through
TAIL = 1e-4  # the largest false-failure probability of any assertion


def _least_count(n: int, p: float, tail: float = TAIL) -> int:
    """Largest k with P(Binomial(n, p) < k) <= tail."""
    k = 0
    while binom.cdf(k, n, p) <= tail:
        k += 1
    return k


# The fast check: the cheapest setting (Gaussian estimator, 1 + 1 dimensions, MI 0.5 nat, measured
# coverage 0.945 over 6 000 repetitions), 700 repetitions of 200 subsamples each, about 11 s on 2 cores.
FAST_REPS = 700
FAST_MIN = 624  # = _least_count(700, 0.93): 624 / 700 = 0.891
# The old sqrt(m / N) scaling on the same setting: measured 0.825 +- 0.005 over 6 000 repetitions
# (0.816 +- 0.005 with 100 subsamples); 0.84 is three standard errors above.
OLD_SCALING_AT_MOST = 0.84


def test_fast_threshold_separates_correct_from_old_scaling():
    # Deterministic arithmetic (cannot fail by chance), the two binomial tails of the fast check:
    # a procedure with true coverage 0.93 covers in fewer than 624 of 700 repetitions with probability
    # P(Bin(700, 0.93) <= 623) = 7.1e-5 <= 1e-4;
    assert FAST_MIN == _least_count(FAST_REPS, ASSUMED)
    assert binom.cdf(FAST_MIN - 1, FAST_REPS, ASSUMED) <= TAIL
    # a procedure with coverage 0.82 (the old scaling) reaches 624 with P(Bin(700, 0.82) >= 624) =
    # 1.2e-7, and one with 0.84 with 6.4e-5: both <= 1e-4, so the check catches them.
    assert binom.sf(FAST_MIN - 1, FAST_REPS, 0.82) <= TAIL
    assert binom.sf(FAST_MIN - 1, FAST_REPS, OLD_SCALING_AT_MOST) <= TAIL


def test_subsample_interval_covers_the_true_mi_fast():
    cov = interval_coverage("gaussian", 1, 0.5, n=N_ROWS, reps=FAST_REPS, level=LEVEL, n_boot=200, n_jobs=2)
    # False failure: P(Bin(700, p) <= 623) <= 7.1e-5 for any true coverage p >= 0.93.
    assert cov.covered >= FAST_MIN, f"coverage {cov.rate:.3f} over {FAST_REPS} repetitions"
    # The same subsamples scaled by the old sqrt(m / N) (true coverage <= 0.84) stay below the threshold:
    # false failure P(Bin(700, 0.84) >= 624) = 6.4e-5. This is the check catching a known-bad procedure.
    old = round(cov.old_scaling_rate * FAST_REPS)
    assert old < FAST_MIN, f"old scaling covered {old / FAST_REPS:.3f}"


# The slow check: 200 repetitions per estimator and task (the benchmark's settings).
SLOW_REPS = 200
SLOW_TASKS = [
    ("gaussian", 1, 0.5),
    ("gaussian", 2, 0.5),
    ("gaussian", 2, 1.0),
    ("gaussian", 4, 0.5),
    ("gaussian", 4, 1.0),
    ("ksg", 1, 0.5),
    ("ksg", 2, 0.5),  # KSG's bias is small at 0.5 nat in 1 + 1 and 2 + 2 dimensions (< 0.01 nat)
]


@pytest.mark.slow
def test_subsample_interval_coverage_per_estimator_and_task():
    counts = {
        (name, dim, mi): interval_coverage(name, dim, mi, n=N_ROWS, reps=SLOW_REPS, n_boot=200, n_jobs=2).covered
        for name, dim, mi in SLOW_TASKS
    }
    # Per task: P(Bin(200, p) <= 170) = 6.8e-5 for p >= 0.93, so each task must reach 171 / 200 = 0.855.
    per_task = _least_count(SLOW_REPS, ASSUMED)
    assert per_task == 171
    low = {task: c / SLOW_REPS for task, c in counts.items() if c < per_task}
    assert not low, f"coverage below {per_task / SLOW_REPS} on {low}; all: {counts}"
    # Pooled per estimator (a sum of independent Bernoulli with every p >= 0.93 is stochastically larger
    # than Bin(n, 0.93)): the Gaussian's 1 000 repetitions must reach 898 (0.898, i.e. 0.90 to within
    # one repetition in 500): P(Bin(1000, 0.93) <= 897) = 7.2e-5. KSG's 400 must reach 351 (0.8775):
    # P(Bin(400, 0.93) <= 350) = 5.8e-5; 400 repetitions cannot certify 0.90 at this error rate
    # (P(Bin(400, 0.93) < 360) = 1.1e-2), so 0.90 is asserted for the Gaussian only.
    for name, n_tasks, least in (("gaussian", 5, 898), ("ksg", 2, 351)):
        n = n_tasks * SLOW_REPS
        assert least == _least_count(n, ASSUMED)
        total = sum(c for task, c in counts.items() if task[0] == name)
        assert total >= least, f"{name}: pooled coverage {total / n:.3f}; per task {counts}"


# lower_confidence_bound: m = 10 values, 10 000 repetitions, vectorised draws, about 1 s.
LCB_REPS = 10_000


def _lcb_covered(draws: np.ndarray, mean: float) -> int:
    return sum(lower_confidence_bound(row, LEVEL) <= mean for row in draws)


def test_lower_confidence_bound_coverage_normal():
    draws = np.random.default_rng(0).normal(3.0, 2.0, size=(LCB_REPS, 10))
    # Exact for normal values: Bin(10 000, 0.95). Two-sided acceptance [9413, 9583]:
    # P(X <= 9412) = 4.5e-5 and P(X >= 9584) = 4.2e-5, total 8.7e-5 <= 1e-4. Catches a two-sided
    # quantile (coverage 0.975) and a normal instead of a t quantile (coverage 0.933 with 9 degrees of
    # freedom: it passes with P(Bin(10 000, 0.933) >= 9413) = 2.9e-4).
    assert 9413 <= _lcb_covered(draws, 3.0) <= 9583


def test_lower_confidence_bound_coverage_skewed():
    draws = np.random.default_rng(1).exponential(1.0, size=(LCB_REPS, 10))
    # Long upper tail: conservative, measured 0.986 over 2 000 000 repetitions. P(Bin(10 000, 0.98) <=
    # 9745) = 8.9e-5 <= 1e-4, so >= 9746 fails by chance with probability < 1e-4 for any p >= 0.98.
    assert _lcb_covered(draws, 1.0) >= 9746


def test_lower_confidence_bound_by_hand_and_refusals():
    # values 1, 2, 3: mean 2, s = 1, t_{0.95, 2} = 2.919986: 2 - 2.919986 / sqrt(3) = 0.314131
    assert lower_confidence_bound([1.0, 2.0, 3.0]) == pytest.approx(2 - 2.919986 / math.sqrt(3), abs=1e-6)
    assert lower_confidence_bound([5.0, 5.0]) == 5.0
    for bad in ([1.0], [], [1.0, np.nan], [1.0, np.inf]):
        with pytest.raises(ValueError):
            lower_confidence_bound(bad)
    with pytest.raises(ValueError):
        lower_confidence_bound([1.0, 2.0], level=1.0)


def test_skew_corrected_lower_bound_covers_a_long_lower_tail():
    # Negated exponential values (skewness -2), m = 20: the t bound misses the mean 10.6 % of the time,
    # the skewness-corrected one 5.8 % (both measured over 5 000 repetitions). Expected coverage count
    # about 9 420 of 10 000 (sd 23); >= 9 300 fails by chance with probability < 1e-6, and the t bound
    # (about 8 940) cannot pass.
    draws = -np.random.default_rng(2).exponential(1.0, size=(LCB_REPS, 20))
    assert sum(skew_corrected_lower_bound(row, LEVEL) <= -1.0 for row in draws) >= 9300


def test_skew_corrected_lower_bound_by_hand():
    # a long upper tail is ignored: the t bound; 2 values: the t bound; a long lower tail: lower
    up = [1.0, 1.0, 1.0, 5.0]
    assert skew_corrected_lower_bound(up) == pytest.approx(lower_confidence_bound(up))
    assert skew_corrected_lower_bound([1.0, 3.0]) == pytest.approx(lower_confidence_bound([1.0, 3.0]))
    down = [-v for v in up]
    assert skew_corrected_lower_bound(down) < lower_confidence_bound(down) - 0.5
    with pytest.raises(ValueError):
        skew_corrected_lower_bound([1.0])
