"""Calibration of the whole measurement pipeline under full encryption, and its power under msb:1.

Pipeline, as the study runs it: digits images -> ``encrypt(images, key, Full())`` -> the same
random-weight CNN embeds plain and cipher images -> constant units dropped -> each side projected
separately (PCA) -> estimator -> permutation test.

Why a rejection count and not one p-value: under full encryption the cipher images are independent of
the plain ones (a fresh AES-CTR keystream per image), so every permutation p-value is (super-)uniform:
``P(p <= alpha) <= alpha``, with equality when ``alpha (m + 1)`` is an integer (``m = 39``,
``alpha = 0.05``: ``p <= 0.05`` means at most 1 of 39 permuted values reaches the observed one, 2/40).
Conditional on the plain images, the keys give independent cipher sets, so the number of rejections
``R`` over ``K`` keys is stochastically at most ``Binomial(K, alpha)``. A bound ``r_max`` with
``P(R > r_max) <= 1e-4 / (number of such checks)`` (Bonferroni over the checks in this file) fails
by chance with probability at most 1e-4; it fails for real when the pipeline leaks (a reused
keystream, a projection fitted on the joint data, a permutation that is not one).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy.stats import binom

from seleak.data import load_dataset
from seleak.embedding import get_embedder
from seleak.encryption import BitPlanes, Full, encrypt
from seleak.estimators import get_estimator, project
from seleak.leakage import informative_columns
from seleak.stats import permutation_test

N_IMAGES = 200
N_KEYS = 40
N_PERM = 39  # alpha * (m + 1) is an integer (2 and 10) for alpha = 0.05 and 0.25: no discreteness slack
ALPHAS = (0.05, 0.25)  # 0.25 checks the p-values' distribution beyond the usual level
#: name -> (estimator, PCA dimension per side or None: the Gaussian's own high-dimension rule)
PIPELINES = {
    "gaussian-pca4": ("gaussian", 4),
    "ksg-pca2": ("ksg", 2),
    "gaussian-auto": ("gaussian", None),  # 120+ columns per side at N = 200: projects to N/4 itself
}
N_CHECKS = len(PIPELINES) * len(ALPHAS)
FALSE_FAILURE = 1e-4


def _key(rep: int) -> bytes:
    return hashlib.sha256(b"seleak calibration key %d" % rep).digest()[:16]


def _r_max(n: int, alpha: float, tail: float) -> int:
    """Smallest r with P(Binomial(n, alpha) > r) <= tail."""
    r = 0
    while binom.sf(r, n, alpha) > tail:
        r += 1
    return r


@pytest.fixture(scope="module")
def plain():
    ds = load_dataset("digits", n=N_IMAGES, seed=0)
    emb = get_embedder("random:small", seed=0)
    zx = informative_columns(emb.embed(ds.images, progress=False, cache=False))
    return ds.images, emb, zx


def _tests(plain, scheme, rep: int) -> dict[str, tuple[float, float, float]]:
    """name -> (p-value, estimate, largest permuted value) for one key."""
    images, emb, zx = plain
    # seed= gives reproducible, distinct nonces (the study-only mode): the test is deterministic
    ct = encrypt(images, _key(rep), scheme, seed=rep)
    zy = informative_columns(emb.embed(ct.images, progress=False, cache=False))
    out = {}
    for name, (est_name, dim) in PIPELINES.items():
        px, py = project(zx, zy, dim) if dim else (zx, zy)
        res = permutation_test(get_estimator(est_name), px, py, n_permutations=N_PERM, seed=rep)
        out[name] = (res.p_value, res.estimate.nats, float(res.null.max()))
    return out


@pytest.fixture(scope="module")
def null_runs(plain):
    return [_tests(plain, Full(), rep) for rep in range(N_KEYS)]


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("name", list(PIPELINES))
def test_full_encryption_rejects_at_most_at_the_nominal_rate(null_runs, name, alpha):
    p = np.array([run[name][0] for run in null_runs])
    rejections = int(np.sum(p <= alpha))
    r_max = _r_max(N_KEYS, alpha, FALSE_FAILURE / N_CHECKS)  # 10 of 40 at 0.05, 22 of 40 at 0.25
    assert rejections <= r_max, (
        f"{name}: {rejections} of {N_KEYS} keys rejected independence at {alpha} under full encryption "
        f"(expected about {alpha * N_KEYS:.0f}, at most {r_max}); p-values {np.round(p, 2).tolist()}"
    )


def test_full_encryption_gaussian_estimates_centre_on_zero(null_runs):
    # The bias-corrected Gaussian estimate on independent data has mean ~0 and a standard deviation of
    # about sqrt(dx dy / 2) / N: 0.014 nats for 4+4 components and ~0.1 for the N/4 = 50 of the
    # automatic rule, at N = 200. The mean over 40 keys then has a standard deviation of 0.003 and
    # 0.016; the bounds below are > 10 of them, and every single key stays below 8 standard deviations
    # (a chi-square-like right tail: still < 1e-6 per key).
    for name, sd in (("gaussian-pca4", 0.014), ("gaussian-auto", 0.1)):
        est = np.array([run[name][1] for run in null_runs])
        assert abs(est.mean()) < 10 * sd / np.sqrt(N_KEYS) + 0.02, (name, est.mean())
        assert est.max() < 8 * sd, (name, est.max())


def test_msb1_is_detected_under_every_key(plain):
    # Strong leakage: the most significant bit plane in the clear. Measured over 10 keys: the Gaussian
    # (4 components) gives 1.1-1.3 nats against a largest permuted value <= 0.06 (null sd 0.014), the
    # automatic Gaussian 3.5-4.1 against <= 0.38 (null sd 0.1), KSG 0.54-0.72 against <= 0.13 (null
    # sd 0.04). Each observed value is > 10 null standard deviations above the null, so no permuted
    # value reaches it and p is at its minimum 1 / (m + 1); "0.2 nats above the largest permuted
    # value" leaves > 5 standard deviations of the estimate's own spread across keys.
    for rep in range(5):
        for name, (p, nats, null_max) in _tests(plain, BitPlanes.msb(1), rep).items():
            assert p == pytest.approx(1 / (N_PERM + 1)), (rep, name, p)
            assert nats > null_max + 0.2, (rep, name, nats, null_max)
