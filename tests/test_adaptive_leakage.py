"""The adaptive adversary (seleak.leakage.adaptive_leakage / fit_adaptive) and its leakage maps, on the
synthetic ``patterns`` images whose image-level MI is known exactly (seleak.metrics.patterns_truth)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from seleak.data.patterns import generate_patterns
from seleak.embedding import get_embedder
from seleak.encryption import Region, encrypt
from seleak.leakage import (
    AdaptiveFit,
    LeakageResult,
    adaptive_leakage,
    adaptive_sweep,
    adaptive_verdicts,
    fit_adaptive,
    leakage_map,
    measure_leakage,
    overturned_verdicts,
)
from seleak.metrics import image_level_mi, patterns_truth

KEY = bytes(range(16))
# quick settings: a small critic, early stopping on a monitor split (about 5-10 s per fit on one core)
QUICK = dict(steps=100, width=8, permutations=999)


@pytest.fixture(scope="module")
def patterns() -> np.ndarray:
    return generate_patterns(800, seed=1)[0]


@pytest.fixture(scope="module")
def msb6(patterns: np.ndarray) -> tuple[np.ndarray, AdaptiveFit]:
    """Six MSB planes encrypted: only planes 1 and 0 stay in the clear, which tell pattern 0 from the
    others in each cell (0.81 bits a cell, 2.25 nats an image)."""
    se = encrypt(patterns, KEY, "msb:6", seed=0).images
    return se, fit_adaptive(patterns, se, None, "image", bound_level=0.9999, **QUICK)


def test_the_result_has_the_shape_of_measure_leakage(msb6) -> None:
    r = msb6[1].result
    assert isinstance(r, LeakageResult)
    assert r.estimator == "adaptive:image" and r.is_bound and r.interval == "held-out"
    assert r.n == 800 and r.n_eval == 240 and r.ceiling == pytest.approx(math.log(24))
    assert r.ci_low <= r.nats <= r.ci_high
    assert r.representation.startswith("image: a CNN on X vs a CNN on SE(X)")
    assert r.settings["steps"] == 100 and r.wall_s > 0


def test_the_adaptive_lower_bound_is_below_the_truth_and_detects_what_a_frozen_random_embedding_misses(
    patterns, msb6
) -> None:
    """Why it cannot fail by chance (<= 1e-4): the held-out InfoNCE of any critic fixed before the test
    pairs are seen is <= I(X; SE(X)) in expectation, and the bound is a one-sided t bound at level
    0.9999 over 10 held-out batches; the truth (2.25 nats) is also above the sample's exact value here.
    Detection: the measured bound is about 1.6 nats with these settings, far above 0.5 (measured over
    seeds 0-4: 1.33-1.74, the lowest 0.8 nats above the threshold); the frozen random CNN reads pixel values, in which
    the two clear planes weigh 3/255 against random high planes, and its Gaussian-critic bound is 0
    (measured 0.00)."""
    se, fit = msb6
    r = fit.result
    truth = patterns_truth("msb:6")
    assert r.lower_bound <= truth
    assert r.lower_bound <= image_level_mi(patterns, "msb:6").nats
    assert r.lower_bound > 0.5 and r.p_value <= 0.002
    emb = get_embedder("random:small")
    frozen = measure_leakage(
        emb.embed(patterns, progress=False), emb.embed(se, progress=False), "gaussian", projection="cca", dim=2
    )
    assert r.lower_bound > frozen.lower_bound + 0.4


def test_the_semantic_mode_measures_a_given_embedding_and_is_deterministic(patterns) -> None:
    """Same seed, same numbers (a fixed thread count and seeded everything); the semantic bound of a
    clear image is far above 0 (the label alone is log 4 = 1.39 nats; measured about 2.5)."""
    z = get_embedder("random:small").embed(patterns, progress=False)
    se = encrypt(patterns, KEY, "msb:2", seed=0).images
    settings = dict(steps=40, width=8, permutations=199, seed=3)
    a = adaptive_leakage(patterns, se, z, "semantic", **settings)
    b = adaptive_leakage(patterns, se, z, "semantic", **settings)
    assert (a.nats, a.lower_bound, a.p_value) == (b.nats, b.lower_bound, b.p_value)
    assert a.representation.startswith("semantic: given plain embeddings (")
    assert a.lower_bound <= patterns_truth("msb:2")
    assert a.p_value <= 0.01


def _null_p_values(keys: int, n: int, steps: int) -> list[float]:
    images = generate_patterns(n, seed=2)[0]
    out = []
    for k in range(keys):
        key = bytes([k + 1]) * 16
        se = encrypt(images, key, "full", seed=k).images
        r = adaptive_leakage(images, se, None, "image", seed=k, steps=steps, width=8, permutations=99, chunks=5)
        out.append(r.p_value)
    return out


def _rejection_limit(keys: int, alpha: float = 0.05, false_failure: float = 1e-4) -> int:
    """The largest rejection count a calibrated test reaches with probability >= 1 - false_failure."""
    return int(sps.binom.isf(false_failure, keys, alpha))


def test_the_permutation_test_is_calibrated_under_full_encryption_fast() -> None:
    """Full encryption: SE(X) is independent of X, and the fixed critic's permuted held-out pairings are
    exact null draws, so each p <= 0.05 with probability <= 0.05 (p is discrete: (b+1)/100); the
    rejection count over independent keys is at most Binomial(keys, 0.05), and the limit is its
    1 - 1e-4 quantile. A test that rejected whatever the data would exceed it."""
    p = _null_p_values(6, 150, 10)
    assert sum(v <= 0.05 for v in p) <= _rejection_limit(6)
    assert all(0 < v <= 1 for v in p)


@pytest.mark.slow
def test_the_permutation_test_is_calibrated_under_full_encryption_over_24_keys() -> None:
    p = _null_p_values(24, 400, 60)
    assert sum(v <= 0.05 for v in p) <= _rejection_limit(24)


def test_the_map_locates_a_region_left_in_the_clear(patterns) -> None:
    """Everything encrypted but the top-left cell: the critic can only use that quadrant, so occluding a
    square elsewhere replaces random bytes by random bytes (an expected loss of 0) and the positive
    mass of the map sits in the quadrant (measured share over seeds 1-4 with 8 px squares: 0.79-0.95;
    chance 0.25; the threshold 0.5 is far from both). The most leaking images are ranked first."""
    mask = np.ones((32, 32), bool)
    mask[:16, :16] = False
    se = encrypt(patterns, KEY, Region(mask=mask), seed=0).images
    fit = fit_adaptive(patterns, se, None, "image", steps=100, width=8, permutations=99)
    m = leakage_map(fit, patch=8)
    assert m.occlusion.shape == (32, 32) and m.pointwise.shape == (fit.n_eval,)
    assert m.baseline == pytest.approx(fit.result.nats)
    assert m.share(~mask) > 0.5
    rank = m.ranking()
    assert sorted(rank.tolist()) == sorted(fit.test_rows.tolist())
    assert m.pointwise[list(m.rows).index(rank[0])] == m.pointwise.max()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda x, s: adaptive_leakage(x, s[:, :16], None, "image"), ValueError, "same shape"),
        (lambda x, s: adaptive_leakage(x.astype(float), s, None, "image"), TypeError, "uint8"),
        (lambda x, s: adaptive_leakage(x, s, None, "pixels"), ValueError, "mode must be one of"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", steps=0), ValueError, "steps must be"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", test_fraction=1.5), ValueError, "test_fraction"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", device="gpu"), ValueError, "device must be"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", bound="mine"), ValueError, "bound must be one of"),
        (lambda x, s: adaptive_leakage(x[:20], s[:20], None, "image"), ValueError, "too few pairs"),
        (lambda x, s: adaptive_leakage(x, s, 5, "semantic"), TypeError, "embedder must be"),
        (lambda x, s: adaptive_leakage(x, s, np.zeros((3, 4)), "semantic"), ValueError, "N = 200 rows"),
        (lambda x, s: leakage_map("fit"), TypeError, "AdaptiveFit"),
        (lambda x, s: adaptive_sweep(x, "msb:1"), ValueError, "non-empty list"),
        (lambda x, s: adaptive_sweep(x, ["msb:1"], measures=["oracle"]), ValueError, "measures must be"),
    ],
)
def test_bad_inputs_raise_one_clear_error(call, error, match) -> None:
    x = generate_patterns(200, seed=0)[0]
    with pytest.raises(error, match=match):
        call(x, x.copy())


def test_the_sweep_table_and_its_verdicts(patterns) -> None:
    """The sweep's rows, adjusted p-values and verdict helpers, with the two adaptive measures on two
    schemes. No lower bound exceeds the exact image-level value: at msb:2 a bound is at most the
    held-out mean, itself at most log b = log 9 = 2.2 nats, far below the 5 nats or so of the 300 images'
    clear parts; at full encryption the value is 0 and a bound at level 0.99995 exceeds it with
    probability <= 5e-5 per row (two rows: <= 1e-4)."""
    t = adaptive_sweep(
        patterns[:300], ["msb:2", "full"], measures=["semantic", "image"], embedder="random:small",
        steps=20, width=8, permutations=99, bound_level=0.99995,
    )  # fmt: skip
    assert len(t) == 4 and set(t["measure"]) == {"semantic", "image"}
    assert (t["lower_bound_nats"] <= t["upper_bound_nats"] + 1e-12).all()
    assert t.loc[t["scheme"] == "full", "upper_bound_nats"].eq(0).all()
    assert (t["p_adjusted"] >= t["p_value"]).all() and t["significant"].dtype == bool
    v = adaptive_verdicts(t, family="full")
    assert list(v.index) == ["semantic", "image"]
    assert "no 'no evidence' verdict is overturned" in overturned_verdicts(t)


def test_the_nwj_bound_reports_its_own_value_with_the_infonce_lower_bound(patterns) -> None:
    """NWJ has no batch ceiling of its own: only the cap log n_eval; its lower bound is still the
    held-out InfoNCE of the trained critic (valid for any critic), so it is at most log b."""
    z = get_embedder("random:small").embed(patterns, progress=False)
    se = encrypt(patterns, KEY, "msb:2", seed=0).images
    r = adaptive_leakage(patterns, se, z, "semantic", bound="nwj", steps=30, width=8, permutations=199, lr=1e-3)
    assert r.ceiling == pytest.approx(math.log(r.n_eval))
    assert r.lower_bound <= math.log(r.n_eval // 10)
    assert r.settings["bound"] == "nwj" and math.isfinite(r.nats)
