"""metrics.expected_npcr_uaci: the exact expected NPCR/UACI of a plain image against its cipher."""

from __future__ import annotations

import math

import numpy as np
import pytest
from brute_force import all_keystreams

from seleak.encryption import BitPlanes, Full, encrypt, parse_scheme
from seleak.metrics import (
    NPCR_IDEAL,
    UACI_IDEAL,
    ExpectedNPCRUACI,
    classic_metrics,
    expected_npcr_uaci,
    npcr_uaci,
)


def _brute_force(plain: np.ndarray, spec: str) -> tuple[float, float, float, float]:
    """Mean and standard deviation of NPCR and UACI over every keystream of the encrypted bits."""
    mask = np.broadcast_to(parse_scheme(spec).bit_mask(plain.shape), plain.shape).astype(np.uint8)
    npcr, uaci = [], []
    for r in all_keystreams(mask):
        o = npcr_uaci(plain, plain ^ r)
        npcr.append(o.npcr)
        uaci.append(o.uaci)
    return float(np.mean(npcr)), float(np.std(npcr)), float(np.mean(uaci)), float(np.std(uaci))


@pytest.mark.parametrize(
    "spec", ["msb:1", "msb:2", "lsb:1", "lsb:2", "planes:7,0", "region:box:0,0,1,2@msb:2", "region:box:1,1,2,2"]
)
def test_expectation_and_spread_equal_the_brute_force(spec):
    rng = np.random.default_rng(5)
    for _ in range(3):
        plain = rng.integers(0, 256, size=(2, 2), dtype=np.uint8)
        e = expected_npcr_uaci(plain, spec)
        npcr, npcr_sd, uaci, uaci_sd = _brute_force(plain, spec)
        assert e.n == 4
        assert e.npcr == pytest.approx(npcr, abs=1e-12) and e.uaci == pytest.approx(uaci, abs=1e-12)
        assert e.npcr_sd == pytest.approx(npcr_sd, abs=1e-12) and e.uaci_sd == pytest.approx(uaci_sd, abs=1e-12)


def test_colour_region_equals_the_brute_force():
    plain = np.random.default_rng(6).integers(0, 256, size=(2, 2, 3), dtype=np.uint8)
    spec = "region:box:0,0,1,2@planes:7,0"  # 2 pixels x 3 channels x 2 bits = 4096 keystreams
    e = expected_npcr_uaci(plain, spec)
    npcr, npcr_sd, uaci, uaci_sd = _brute_force(plain, spec)
    assert (e.npcr, e.uaci, e.npcr_sd, e.uaci_sd) == pytest.approx((npcr, uaci, npcr_sd, uaci_sd), abs=1e-12)


def test_hand_values():
    black = np.zeros((8, 8), np.uint8)
    e = expected_npcr_uaci(black)  # a uniform cipher against 0: E|c| = 127.5
    assert e.npcr == pytest.approx(NPCR_IDEAL, abs=1e-12) and e.uaci == pytest.approx(50.0, abs=1e-12)
    assert expected_npcr_uaci(np.full((8, 8), 255, np.uint8), Full()).uaci == pytest.approx(50.0, abs=1e-12)
    # a plain image with a uniform histogram against a uniform cipher: Wu et al.'s ideal values
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    e = expected_npcr_uaci(ramp, "full")
    assert e.npcr == pytest.approx(NPCR_IDEAL, abs=1e-12) and e.uaci == pytest.approx(UACI_IDEAL, abs=1e-12)
    # one encrypted plane: changes half the values by exactly 2**plane
    assert expected_npcr_uaci(ramp, "msb:1").uaci == pytest.approx(100 * 64 / 255, abs=1e-12)
    assert expected_npcr_uaci(ramp, "lsb:1").uaci == pytest.approx(100 * 0.5 / 255, abs=1e-12)
    assert expected_npcr_uaci(ramp, "msb:3").npcr == pytest.approx(87.5, abs=1e-12)
    nothing = expected_npcr_uaci(ramp, BitPlanes.msb(0))
    assert nothing == ExpectedNPCRUACI(0.0, 0.0, 256, 0.0, 0.0)
    assert nothing.passes(npcr_uaci(ramp, ramp)) == (True, True)
    # the expectation of a batch pools the values of all images
    batch = np.stack([black, np.full((8, 8), 127, np.uint8)])[..., None]
    assert expected_npcr_uaci(batch).n == 128
    want = (expected_npcr_uaci(black).uaci + expected_npcr_uaci(batch[1, ..., 0]).uaci) / 2
    assert expected_npcr_uaci(batch).uaci == pytest.approx(want, abs=1e-12)


def _hoeffding(m: int, delta: float) -> float:
    """Half-width (percent) of a two-sided Hoeffding interval for the mean of m values in [0, 1]."""
    return 100.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * m))


@pytest.mark.parametrize("spec", ["full", "msb:3"])
def test_monte_carlo_encryption_matches_the_expectation(spec):
    # 16x16 dark image with a bright square: far from uniform, so E[UACI] is far from 33.46 %
    plain = np.zeros((16, 16), np.uint8)
    plain[4:12, 4:12] = 230
    plain[0, :] = np.arange(16, dtype=np.uint8) * 16
    reps = 400
    batch = np.repeat(plain[None], reps, axis=0)
    ct = encrypt(batch, bytes(16), parse_scheme(spec), seed=1).images  # consecutive counters: fresh keystream
    observed = npcr_uaci(batch, ct)
    e = expected_npcr_uaci(plain, spec)
    # every compared value is independent given the plain image (AES-CTR keystream modelled as uniform);
    # NPCR indicators and |c - p| / 255 lie in [0, 1]: Hoeffding, 5e-5 per check (1e-4 for the pair)
    tol = _hoeffding(reps * plain.size, 5e-5)
    assert tol < 0.75
    assert abs(observed.npcr - e.npcr) <= tol
    assert abs(observed.uaci - e.uaci) <= tol
    if spec == "full":
        assert e.uaci > UACI_IDEAL + 5  # the naive reference would be wrong by far more than tol


def test_classic_metrics_reports_the_expectations():
    rng = np.random.default_rng(8)
    plain = (rng.integers(0, 4, size=(3, 8, 8)) * 20).astype(np.uint8)
    ct = encrypt(plain, bytes(16), BitPlanes.msb(2), seed=0).images
    m = classic_metrics(plain, ct, scheme="msb:2")
    e = expected_npcr_uaci(plain[..., None], "msb:2")
    assert m["npcr_expected"] == pytest.approx(e.npcr, abs=1e-12)
    assert m["uaci_expected"] == pytest.approx(e.uaci, abs=1e-12)
    assert m["npcr_expected_sd"] == pytest.approx(e.npcr_sd, abs=1e-12)
    assert m["uaci_expected_sd"] == pytest.approx(e.uaci_sd, abs=1e-12)
    full = expected_npcr_uaci(plain[..., None])
    assert m["npcr_expected_full"] == pytest.approx(full.npcr, abs=1e-12)
    assert m["uaci_expected_full"] == pytest.approx(full.uaci, abs=1e-12)
    plain_only = classic_metrics(plain, ct)
    assert math.isnan(plain_only["npcr_expected"]) and math.isnan(plain_only["uaci_expected"])
    assert plain_only["uaci_expected_full"] == pytest.approx(full.uaci, abs=1e-12)
    assert math.isnan(classic_metrics(plain, ct, scheme="dct:q50:dc")["uaci_expected"])
    # region masks follow the image layout of the batch
    region = "region:box:0,0,4,8"
    ctr = encrypt(plain, bytes(16), parse_scheme(region), seed=0).images
    mr = classic_metrics(plain, ctr, scheme=region)
    assert mr["uaci_expected"] == pytest.approx(expected_npcr_uaci(plain[..., None], region).uaci, abs=1e-12)
    assert mr["npcr_expected"] == pytest.approx(NPCR_IDEAL / 2, abs=1e-12)


def test_passes_and_bad_inputs():
    plain = np.zeros((4, 4), np.uint8)
    e = expected_npcr_uaci(plain, "msb:1")  # every value becomes 0 or 128
    assert e.passes(npcr_uaci(plain, np.full((4, 4), 255, np.uint8))) == (False, False)
    with pytest.raises(ValueError, match="values"):
        e.passes(npcr_uaci(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8)))
    with pytest.raises(TypeError):
        e.passes((50.0, 25.0))
    with pytest.raises(TypeError, match="pixel bits"):
        expected_npcr_uaci(plain, "dct:q50:dc")
    with pytest.raises(TypeError):
        expected_npcr_uaci(plain.astype(np.float32))
    with pytest.raises(ValueError):
        expected_npcr_uaci(plain, "region:box:0,0,8,8")
