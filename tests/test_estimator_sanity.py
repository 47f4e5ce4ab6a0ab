"""No silent nonsense: a neural bound that runs away raises, a never-positive monitor bound is flagged,
and the plug-in estimator refuses (or warns about) a joint table its sample cannot fill.

The task with heavy tails is a multivariate Student-t in 3 + 3 dimensions with identity scatter and
df = 2: uncorrelated, but dependent through the shared scale, with
``I = log G(v/2) + log G((v+6)/2) - 2 log G((v+3)/2) + (v+3) psi((v+3)/2) - v/2 psi(v/2)
- (v+6)/2 psi((v+6)/2) = 0.2909`` nats (``v = 2``; Arellano-Valle et al. 2013).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import digamma, gammaln

from seleak.estimators import EstimatorDivergedError, get_estimator
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.estimators.neural.training import (
    RUNAWAY_NATS,
    CriticProgress,
    TrainedCritics,
    held_out_ran_away,
)


def student_t_pairs(n: int, seed: int, d: int = 3, df: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of a ``2d``-dimensional Student-t (identity scatter), split into ``d + d`` columns."""
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((n, 2 * d)) / np.sqrt(rng.chisquare(df, n) / df)[:, None]
    return t[:, :d], t[:, d:]


def student_t_mi(d: int = 3, df: float = 2.0) -> float:
    """Exact MI (nats) between the two halves of a ``2d``-dimensional Student-t with identity scatter."""
    a, b, c = df / 2, (df + d) / 2, (df + 2 * d) / 2
    return float(gammaln(a) + gammaln(c) - 2 * gammaln(b) + 2 * b * digamma(b) - a * digamma(a) - c * digamma(c))


def test_student_t_truth():
    assert student_t_mi() == pytest.approx(0.2909, abs=1e-4)


# --- neural: runaways raise, a never-positive monitor bound is flagged -------------------------------


def test_mine_on_heavy_tails_raises_with_advice():
    # Deterministic given the seeds (CPU, one thread). Three critics so that the check does not hang on
    # one trajectory's rounding: the call raises if any of them runs away, and all of them did in every
    # run measured (stretch medians -4 to -380 nats against the -1 nat threshold from a random start;
    # from the Gaussian start, the default, -1.01 to -118 nats over 12 critics on 4 data seeds).
    pairs = [student_t_pairs(5000, seed=100 + s) for s in range(3)]
    with pytest.raises(EstimatorDivergedError, match=r"ran away.*gauss-rank.*infonce"):
        get_estimator("mine").estimate_many(pairs, seeds=[0, 1, 2])


def test_healthy_critics_do_not_raise_and_dependence_is_not_flagged():
    # Correlated Gaussians with MI 0, 0.5 and 2 nats. Never raises: over about 150 healthy critics the
    # lowest stretch median measured was -0.10 nats, ten times closer to 0 than the threshold, and a
    # stretch median below -1 would need most of 12 to 40 batches to score a nat worse than a constant
    # critic while the optimiser maximises that very value. MI 0.5 and 2 are not flagged: their monitor
    # bound reached 0.18 nats or more in every measured run (N = 250 and up), 0.4 and more at this N.
    pairs = [correlated_gaussian(2000, 3, mi, seed=7 + i)[:2] for i, mi in enumerate((0.0, 0.5, 2.0))]
    rs = get_estimator("mine", steps=600).estimate_many(pairs, seeds=[0, 1, 2])
    for r in rs[1:]:
        assert not any("never positive" in f for f in r.flags), r.flags
        assert r.nats > 0.2, r.nats


def test_independent_data_may_be_flagged_but_never_raises():
    # MI 0 on three seeds: about half of the measured runs never see a positive monitor bound, which is
    # expected, so only the absence of an error and the form of the flag are checked.
    pairs = [correlated_gaussian(1500, 2, 0.0, seed=40 + s)[:2] for s in range(3)]
    rs = get_estimator("infonce", steps=400).estimate_many(pairs, seeds=[0, 1, 2])
    for r in rs:
        assert abs(r.nats) < 0.5, r.nats
        for f in r.flags:
            assert f.startswith("monitor bound never positive (best "), f


def _run(train: np.ndarray, eval_steps: list[int]) -> TrainedCritics:
    """A one-critic training record with the given training curve (no model needed to judge it)."""
    return TrainedCritics(None, [CriticProgress()], len(train), train[:, None].astype(np.float32), None, eval_steps)  # type: ignore[arg-type]


def test_single_batch_spikes_are_not_a_runaway_but_a_sustained_fall_is():
    rng = np.random.default_rng(0)
    healthy = 0.3 + 0.05 * rng.standard_normal(400)
    healthy[::37] = -5000.0  # one e^T blow-up every 37 batches: MINE and NWJ do this in healthy training
    st = _run(healthy, list(range(40, 401, 40))).lowest_stretch(0)
    assert st is not None and not st.ran_away and st.median > 0
    falling = healthy.copy()
    falling[200:] = -np.linspace(0.0, 50.0, 200)  # the optimiser walking away
    st = _run(falling, list(range(40, 401, 40))).lowest_stretch(0)
    assert st is not None and st.ran_away and st.median < -RUNAWAY_NATS and st.last_step == 400


def test_held_out_runaway_is_one_catastrophic_chunk():
    assert held_out_ran_away(np.array([0.01, 0.02, -58.7, 0.0, 0.03]))  # measured: MINE, Student-t
    assert not held_out_ran_away(np.array([-1.96]))  # one small chunk far below 0: chance, not a runaway
    assert not held_out_ran_away(np.array([-0.3, -0.2, -0.4, -0.1]))  # uniformly slightly negative


# --- plug-in: refuse the unfillable, warn in the grey zone, stay quiet where sensible -------------------


def test_plugin_refuses_a_table_its_sample_cannot_fill():
    x, y = student_t_pairs(5000, seed=0)
    with pytest.raises(ValueError, match=r"joint cells \(bins=8 on 3 \+ 3 columns\) for 5000 pairs.*bins=3"):
        get_estimator("plugin", binning="quantile").estimate(x, y)
    # the suggested binning runs, quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = get_estimator("plugin", binning="quantile", bins=3).estimate(x, y)
    assert r.flags == () and r.nats < 1.0


def test_plugin_warns_and_flags_in_the_grey_zone():
    # 8 bins on 2 + 2 columns at N = 200 (the calibration exercise): about 1/20 pair per cell
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((200, 2)), rng.standard_normal((200, 2))
    with pytest.warns(RuntimeWarning, match="joint cells.*200 pairs.*Fix: use fewer bins"):
        r = get_estimator("plugin").estimate(x, y)
    assert any(f.startswith("sparse table:") for f in r.flags)
    # categorical values kept as they are only warn, even one pair per value
    v = np.arange(300.0)
    with pytest.warns(RuntimeWarning, match="joint cells"):
        r = get_estimator("plugin", discrete="always").estimate(v, v)
    assert r.nats == pytest.approx(math.log(300) + 299 / 600)


@pytest.mark.parametrize(("d", "bins", "n"), [(2, 3, 62), (2, 3, 1000), (4, 2, 250), (1, 8, 10_000), (2, 6, 10_000)])
def test_plugin_is_quiet_on_the_study_and_book_binnings(d, bins, n):
    # 3 bins on 2 + 2 (the study's 81 cells, down to a half-sample of its smallest 125 measured rows),
    # 2 bins on 4 + 4 (256 cells), chapter 2's 8 bins in 1-D and 6 bins in 2-D at N = 10 000. The
    # occupied cells are at most bins**d whatever the data, so this holds for every sample.
    x, y, _ = correlated_gaussian(n, d, 0.5, seed=d + bins)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = get_estimator("plugin", bins=bins, binning="quantile", max_dim=4).estimate(x, y)
    assert r.flags == ()
