"""The adaptive adversary (seleak.leakage.adaptive_leakage / fit_adaptive) and its leakage maps, on the
synthetic ``patterns`` images whose image-level MI is known exactly (seleak.metrics.patterns_truth)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from seleak.data.patterns import generate_patterns
from seleak.embedding import get_embedder
from seleak.encryption import Region, encrypt
from seleak.leakage import (
    SATURATION,
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
from seleak.leakage.adaptive import is_saturated
from seleak.metrics import patterns_truth
from seleak.stats import skew_corrected_lower_bound

KEY = bytes(range(16))
# quick settings: a small critic, early stopping on a monitor split (about 1-4 s per fit on one core)
QUICK = dict(steps=60, width=8, permutations=999)


@pytest.fixture(scope="module")
def patterns() -> np.ndarray:
    return generate_patterns(500, seed=1)[0]


@pytest.fixture(scope="module")
def msb6(patterns: np.ndarray) -> tuple[np.ndarray, AdaptiveFit]:
    """Six MSB planes encrypted: only planes 1 and 0 stay in the clear, which tell pattern 0 from the
    others in each cell (0.81 bits a cell, 2.25 nats an image). 150 held-out pairs in 10 batches of 15:
    the ceiling log 15 = 2.71 nats is above the truth, so a bound above the truth is possible."""
    se = encrypt(patterns, KEY, "msb:6", seed=0).images
    return se, fit_adaptive(patterns, se, None, "image", bound_level=0.9999, chunks=10, **QUICK)


def test_the_result_has_the_shape_of_measure_leakage(msb6) -> None:
    r = msb6[1].result
    assert isinstance(r, LeakageResult)
    assert r.estimator == "adaptive:image" and r.is_bound and r.interval == "held-out"
    assert r.n == 500 and r.n_eval == 150 and r.ceiling == pytest.approx(math.log(15))
    assert r.ci_low <= r.nats <= r.ci_high
    assert r.representation.startswith("image: a CNN on X vs a CNN on SE(X)")
    assert r.settings["steps"] == 60 and r.wall_s > 0 and r.settings["best_step"] in range(10, 61, 10)


def test_the_adaptive_lower_bound_is_below_the_truth_and_detects_what_a_frozen_random_embedding_misses(
    patterns, msb6
) -> None:
    """Why it cannot fail by chance (<= 1e-4 up to the bound's measured tail, 2e-4 at 0.9999 near the
    ceiling): the held-out InfoNCE of any critic fixed before the test pairs are seen is <= I(X; SE(X))
    = 2.25 nats in expectation, and the bound is the skewness-corrected one-sided bound at level 0.9999;
    the truth is below the ceiling log 15 = 2.71, so a bound that overshot could exceed it. Detection
    (the same critic's batches, bound at level 0.95; at 0.9999 over 10 batches the skewness term makes
    the bound very conservative, 0 for seed 4): measured 1.35-1.66 nats over seeds 0-5, far above 0.8;
    the frozen random CNN reads pixel values, in which the two clear planes weigh 3/255 against random
    high planes, and its Gaussian-critic bound is 0 (measured 0.00)."""
    se, fit = msb6
    r = fit.result
    truth = patterns_truth("msb:6")
    assert truth < r.ceiling
    assert r.lower_bound <= truth
    batches = fit.pointwise().reshape(10, -1).mean(axis=1)  # batch c is rows c*b .. (c+1)*b - 1
    assert np.mean(batches) == pytest.approx(r.nats)
    lb95 = skew_corrected_lower_bound(batches, 0.95)
    assert lb95 > 0.8 and r.p_value <= 0.002
    emb = get_embedder("random:small")
    frozen = measure_leakage(
        emb.embed(patterns, progress=False), emb.embed(se, progress=False), "gaussian", projection="cca", dim=2
    )
    assert lb95 > frozen.lower_bound + 0.6


def test_the_semantic_mode_measures_a_given_embedding_and_is_deterministic(patterns) -> None:
    """Same seed, same numbers (a fixed thread count and seeded everything). At msb:2 the clear planes
    name the image; the semantic p-value is the smallest possible, 1/200, over seeds 0-2 (its held-out
    bound 1.56 nats against a permutation null around 0)."""
    z = get_embedder("random:small").embed(patterns[:300], progress=False)
    se = encrypt(patterns[:300], KEY, "msb:2", seed=0).images
    settings = dict(steps=15, width=8, permutations=199, seed=3)
    a = adaptive_leakage(patterns[:300], se, z, "semantic", **settings)
    b = adaptive_leakage(patterns[:300], se, z, "semantic", **settings)
    assert (a.nats, a.lower_bound, a.p_value) == (b.nats, b.lower_bound, b.p_value)
    assert a.representation.startswith("semantic: given plain embeddings (")
    assert a.p_value <= 0.01


def _null_p_values(keys: int, n: int, steps: int, mode: str) -> list[float]:
    images = generate_patterns(n, seed=2)[0]
    z = get_embedder("random:small").embed(images, progress=False) if mode == "semantic" else None
    out = []
    for k in range(keys):
        key = bytes([k + 1]) * 16
        se = encrypt(images, key, "full", seed=k).images
        r = adaptive_leakage(images, se, z, mode, seed=k, steps=steps, width=8, permutations=99, chunks=5)
        out.append(r.p_value)
    return out


def _rejection_limit(keys: int, alpha: float = 0.05, false_failure: float = 1e-4) -> int:
    """The largest rejection count a calibrated test reaches with probability >= 1 - false_failure."""
    return int(sps.binom.isf(false_failure, keys, alpha))


def test_the_semantic_permutation_test_is_calibrated_under_full_encryption_over_20_keys() -> None:
    """Full encryption: SE(X) is independent of X, and the fixed critic's permuted held-out pairings are
    exact null draws, so each p <= 0.05 with probability <= 0.05 (p is discrete: (b+1)/100); the
    rejection count over 20 independent keys is at most Binomial(20, 0.05), whose 1 - 1e-4 quantile is
    6 (measured: 2 of 20). A test that rejected whatever the data would exceed it. About 3 s."""
    p = _null_p_values(20, 150, 10, "semantic")
    assert sum(v <= 0.05 for v in p) <= _rejection_limit(20)
    assert all(0 < v <= 1 for v in p)


@pytest.mark.slow
def test_the_image_permutation_test_is_calibrated_under_full_encryption_over_24_keys() -> None:
    p = _null_p_values(24, 400, 60, "image")
    assert sum(v <= 0.05 for v in p) <= _rejection_limit(24)


def test_the_map_locates_a_region_left_in_the_clear(patterns) -> None:
    """Everything encrypted but the top-left cell: the critic can only use that quadrant, so occluding a
    square elsewhere replaces random bytes by random bytes (an expected loss of 0) and the positive
    mass of the map sits in the quadrant (measured share over seeds 1-4, 500 images, 60 steps, 8 px
    squares: 0.85-0.96; chance 0.25; the threshold 0.5 is far from both). The most leaking images are
    ranked first."""
    mask = np.ones((32, 32), bool)
    mask[:16, :16] = False
    se = encrypt(patterns, KEY, Region(mask=mask), seed=0).images
    fit = fit_adaptive(patterns, se, None, "image", steps=60, width=8, permutations=99, seed=1)
    m = leakage_map(fit, patch=8)
    assert m.occlusion.shape == (32, 32) and m.pointwise.shape == (fit.n_eval,)
    assert m.baseline == pytest.approx(fit.result.nats)
    assert m.share(~mask) > 0.5
    rank = m.ranking()
    assert sorted(rank.tolist()) == sorted(fit.test_rows.tolist())
    assert m.pointwise[list(m.rows).index(rank[0])] == m.pointwise.max()


def test_pointwise_refuses_images_that_are_not_the_evaluated_rows(msb6) -> None:
    fit = msb6[1]
    assert fit.pointwise().shape == (fit.n_eval,)
    with pytest.raises(ValueError, match="shape of the evaluated SE images"):
        fit.pointwise(fit.se_images[:10])
    with pytest.raises(TypeError, match="uint8"):
        fit.pointwise(fit.se_images.astype(np.float32))


def test_the_training_diagnostics_are_flagged() -> None:
    """Deterministic: one check (eval_every = steps) makes the best step the last check; 60 images
    leave 42 training pairs, too few for a monitor batch of 9 at monitor_fraction 0.2 (8 pairs); constant
    images give a held-out bound of exactly 0 up to rounding, which is no failure to generalise, and a
    monitored value that only moves by rounding, which is no improvement (the first check is kept)."""
    x = generate_patterns(200, seed=0)[0]
    se = encrypt(x, KEY, "msb:4", seed=0).images
    r = adaptive_leakage(x, se, None, "image", steps=10, eval_every=10, width=4, permutations=9)
    assert r.settings["best_step"] == 10 and any(f.startswith("still improving") for f in r.flags)
    r = adaptive_leakage(x[:60], se[:60], None, "image", steps=5, width=4, permutations=9, chunks=2, batch_size=16)
    assert r.settings["best_step"] == -1 and any(f.startswith("no early stopping") for f in r.flags)
    assert not any(f.startswith("still improving") for f in r.flags)
    flat = np.zeros((200, 16, 16), np.uint8)
    r = adaptive_leakage(flat, flat.copy(), None, "image", steps=20, eval_every=5, width=4, permutations=9)
    assert abs(r.nats) < 1e-6 and r.flags == () and r.settings["best_step"] == 5


def test_saturation_counts_the_lower_bound_against_log_b() -> None:
    """NWJ reports its own value against log n_eval, but its lower bound is InfoNCE, capped at log b."""
    assert is_saturated(3.0, SATURATION * math.log(5) + 0.01, math.log(90), 5)
    assert not is_saturated(3.0, SATURATION * math.log(5) - 0.01, math.log(90), 5)
    assert is_saturated(SATURATION * math.log(90) + 0.01, 0.0, math.log(90), 5)


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
        (lambda x, s: adaptive_leakage(x, s, None, "image", weight_decay=True), ValueError, "weight_decay must"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", weight_decay="0.1"), ValueError, "weight_decay must"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", weight_decay=-1.0), ValueError, "weight_decay must"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", monitor_fraction=False), ValueError, "monitor_fraction"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", monitor_fraction="0.2"), ValueError, "monitor_fraction"),
        (lambda x, s: adaptive_leakage(x, s, None, "image", monitor_fraction=1.0), ValueError, "monitor_fraction"),
    ],
)
def test_bad_inputs_raise_one_clear_error(call, error, match) -> None:
    x = generate_patterns(200, seed=0)[0]
    with pytest.raises(error, match=match):
        call(x, x.copy())


def test_the_sweep_table(patterns) -> None:
    """The sweep's rows and columns, with all three measures on two schemes. At full encryption the
    image-level MI is 0 and each adaptive lower bound (level 0.99995) exceeds it with probability about
    5e-5 (measured null coverage of the bound at 0.9999: 8e-5), so two rows: about 1e-4."""
    t = adaptive_sweep(
        patterns[:200], ["msb:2", "full"], embedder="random:small", steps=10, width=8, permutations=99,
        bound_level=0.99995,
    )  # fmt: skip
    assert len(t) == 6 and set(t["measure"]) == {"frozen", "semantic", "image"}
    full = t[(t["scheme"] == "full") & (t["measure"] != "frozen")]
    assert full["upper_bound_nats"].eq(0).all() and (full["lower_bound_nats"] <= 0).all()
    assert (t["p_adjusted"] >= t["p_value"]).all() and t["significant"].dtype == bool
    sem = t[t["measure"] == "semantic"]
    assert sem["representation"].str.startswith("semantic: random:small embeddings of X").all()
    assert {"best_step", "flags"} <= set(t.columns)
    assert list(adaptive_verdicts(t, family="full").index) == ["frozen", "semantic", "image"]


def _verdict_table(frozen_sig: dict, p: dict) -> pd.DataFrame:
    """A hand-built sweep table: frozen verdicts per scheme and raw p-values per (scheme, mode)."""
    rows = []
    for spec, sig in frozen_sig.items():
        rows.append(dict(scheme=spec, measure="frozen", p_value=0.5, p_adjusted=0.5, significant=sig,
                         lower_bound_nats=0.0))  # fmt: skip
        for mode in ("semantic", "image"):
            rows.append(dict(scheme=spec, measure=mode, p_value=p[(spec, mode)], p_adjusted=math.nan,
                             significant=False, lower_bound_nats=0.3))  # fmt: skip
    t = pd.DataFrame(rows)
    t.attrs.update(alpha=0.05, adjust="holm")
    return t


def test_overturned_verdicts_adjusts_over_all_adaptive_tests() -> None:
    """Frozen finds msb:1 only. Semantic p at msb:3 = 0.001: Holm over the six adaptive tests keeps it
    (4 x 0.001), so exactly msb:3 is overturned. At p = 0.015 Holm within the semantic mode alone would
    keep it (3 x 0.015 = 0.045), over all six not (4 x 0.015 = 0.06): nothing is overturned."""
    p = {("msb:1", "semantic"): 0.001, ("msb:1", "image"): 0.001, ("msb:3", "image"): 0.5,
         ("msb:4", "semantic"): 0.2, ("msb:4", "image"): 0.3}  # fmt: skip
    frozen = {"msb:1": True, "msb:3": False, "msb:4": False}
    text = overturned_verdicts(_verdict_table(frozen, {**p, ("msb:3", "semantic"): 0.001}))
    assert text.startswith("msb:3: the frozen embedding finds no evidence") and len(text.splitlines()) == 1
    assert "semantic adversary" in text and "image adversary" not in text
    text = overturned_verdicts(_verdict_table(frozen, {**p, ("msb:3", "semantic"): 0.015}))
    assert "no 'no evidence' verdict is overturned" in text
    with pytest.raises(ValueError, match="frozen measure"):
        overturned_verdicts(_verdict_table(frozen, {**p, ("msb:3", "semantic"): 0.001}).query("measure != 'frozen'"))


def test_a_rejection_where_the_exact_image_level_mi_is_zero_is_called_a_false_positive() -> None:
    """Full encryption (msb:8): nothing is in the clear, so a significant adaptive test there is reported as
    a false positive and overturns nothing; the same p-value where the bound is positive does."""
    p = {("msb:1", "semantic"): 0.5, ("msb:1", "image"): 0.5, ("msb:8", "semantic"): 0.001, ("msb:8", "image"): 0.5}
    t = _verdict_table({"msb:1": False, "msb:8": False}, p)
    t = t.assign(upper_bound_kind="H(clear part)", upper_bound_nats=[6.9, 6.9, 6.9, 0.0, 0.0, 0.0])
    text = overturned_verdicts(t)
    assert "no 'no evidence' verdict is overturned" in text and "msb:8: the image-level MI is exactly 0" in text
    assert "false positive" in text
    text = overturned_verdicts(t.assign(upper_bound_nats=1.0))
    assert text.startswith("msb:8: the frozen embedding finds no evidence") and "false positive" not in text


def test_adaptive_verdicts_take_the_smallest_k_above_the_largest_significant_one() -> None:
    """Frozen: significant at k = 1 and 3, not at 2, 4, 5 -> no evidence from k = 4 (not 2); semantic
    significant everywhere -> NaN; image significant nowhere -> k = 1."""
    sig = {"frozen": [True, False, True, False, False], "semantic": [True] * 5, "image": [False] * 5}
    t = pd.DataFrame([
        dict(scheme=f"msb:{k}", family="msb", k=float(k), measure=m, significant=s[k - 1], ci_high=0.1 * k,
             upper_bound_nats=float(k))
        for m, s in sig.items() for k in range(1, 6)
    ])  # fmt: skip
    v = adaptive_verdicts(t)
    assert v.loc["frozen", "first_k_no_evidence"] == 4 and v.loc["frozen", "largest_k_with_leakage"] == 3
    assert v.loc["frozen", "critic_ci_high_there"] == pytest.approx(0.4)
    assert v.loc["frozen", "sample_image_mi_there"] == 4
    assert math.isnan(v.loc["semantic", "first_k_no_evidence"]) and v.loc["semantic", "largest_k_with_leakage"] == 5
    assert v.loc["image", "first_k_no_evidence"] == 1 and math.isnan(v.loc["image", "largest_k_with_leakage"])


def test_the_nwj_bound_reports_its_own_value_with_the_infonce_lower_bound(patterns) -> None:
    """NWJ has no batch ceiling of its own: only the cap log n_eval; its lower bound is the held-out
    InfoNCE of the trained critic, and saturation is judged on both."""
    z = get_embedder("random:small").embed(patterns[:300], progress=False)
    se = encrypt(patterns[:300], KEY, "msb:2", seed=0).images
    r = adaptive_leakage(patterns[:300], se, z, "semantic", bound="nwj", steps=20, width=8, permutations=99, lr=1e-3)
    assert r.ceiling == pytest.approx(math.log(r.n_eval))
    assert r.settings["bound"] == "nwj" and math.isfinite(r.nats) and "InfoNCE" in r.lower_bound_method
    b = r.n_eval // 18  # 90 held-out pairs in 18 batches of 5
    assert r.saturated == is_saturated(r.nats, r.lower_bound, r.ceiling, b)


def test_key_result_of_chapter_7_quotes_the_jointly_adjusted_semantic_bound_only_when_significant() -> None:
    """The chapter's key result names where the frozen measure goes quiet and quotes the semantic bound
    there only when the p-value adjusted over all adaptive tests is at most alpha."""
    from seleak import report
    from seleak.leakage import jointly_adjusted

    frozen = {"msb:1": True, "msb:3": False, "msb:4": False}
    p = {("msb:1", "semantic"): 0.001, ("msb:1", "image"): 0.001, ("msb:3", "image"): 0.5,
         ("msb:4", "semantic"): 0.2, ("msb:4", "image"): 0.3}  # fmt: skip
    for p3, quoted in ((0.001, True), (0.015, False)):
        t = _verdict_table(frozen, {**p, ("msb:3", "semantic"): p3})
        t = t.assign(family="msb", k=t["scheme"].str[4:].astype(float), ci_high=0.5, upper_bound_nats=6.9)
        t["significant"] = t["significant"] | ((t["measure"] != "frozen") & (t["p_value"] <= 0.001))
        text = report.adaptive_adversary(
            adaptive_verdicts(t), jointly_adjusted(t), pd.DataFrame(), "digits", 300, 0, 0.05
        ).data
        assert "from **k = 3**" in text
        assert ("certifies at least **0.30 nats**" in text) is quoted


def test_adaptive_verdicts_set_aside_a_rejection_where_nothing_is_in_the_clear() -> None:
    """A significant semantic test at msb:8 (exact image-level MI 0) is a false positive: the verdicts
    leave it out (leakage up to k = 2, not 8) and list it in false_positive_at."""
    rows = [
        dict(scheme=f"msb:{k}", family="msb", k=float(k), measure="semantic", significant=k in (1, 2, 8),
             ci_high=0.1, upper_bound_nats=0.0 if k == 8 else 6.9, upper_bound_kind="H(clear part)")
        for k in (1, 2, 3, 8)
    ]  # fmt: skip
    v = adaptive_verdicts(pd.DataFrame(rows))
    assert v.loc["semantic", "largest_k_with_leakage"] == 2 and v.loc["semantic", "first_k_no_evidence"] == 3
    assert v.loc["semantic", "false_positive_at"] == "8"
