"""Classic metrics against hand-computed values on tiny images, and the exact pixel MI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.encryption import BitPlanes, Full, Region, encrypt
from seleak.metrics import (
    NPCR_IDEAL,
    UACI_IDEAL,
    adjacent_correlation,
    classic_metrics,
    entropy,
    npcr_uaci,
    npcr_uaci_critical,
    pixel_mi_exact,
    pixel_mi_plugin,
    psnr,
    ssim,
)

u8 = lambda x: np.asarray(x, dtype=np.uint8)  # noqa: E731


def test_entropy_hand_values() -> None:
    assert entropy(u8([[0, 0], [1, 1]])) == pytest.approx(1.0)
    assert entropy(u8([[0, 1], [2, 3]])) == pytest.approx(2.0)
    assert entropy(u8([[7, 7], [7, 7]])) == 0.0
    assert entropy(u8([[0, 0, 0], [0, 1, 1]])) == pytest.approx(
        -(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3)
    )
    assert entropy(u8([[0, 1]]), unit="nats") == pytest.approx(math.log(2))
    assert entropy(np.arange(256, dtype=np.uint8).reshape(16, 16)) == pytest.approx(8.0)


def test_adjacent_correlation_hand_values() -> None:
    img = u8([[0, 1], [2, 0], [1, 1]])
    # horizontal pairs (0,1), (2,0), (1,1): cov sum -1, var sums 2 and 2/3
    assert adjacent_correlation(img, "horizontal") == pytest.approx(-1 / math.sqrt(4 / 3))
    ramp = u8([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    for d in ("horizontal", "vertical", "diagonal"):
        assert adjacent_correlation(ramp, d) == pytest.approx(1.0)
    checker = u8([[0, 255, 0], [255, 0, 255], [0, 255, 0]])
    assert adjacent_correlation(checker, "horizontal") == pytest.approx(-1.0)
    assert adjacent_correlation(checker, "diagonal") == pytest.approx(1.0)
    assert math.isnan(adjacent_correlation(u8([[3, 3], [3, 3]])))
    with pytest.raises(ValueError, match="direction"):
        adjacent_correlation(ramp, "up")


def test_adjacent_correlation_sampling_is_seeded() -> None:
    img = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    a = adjacent_correlation(img, "vertical", n_pairs=500, seed=3)
    assert a == adjacent_correlation(img, "vertical", n_pairs=500, seed=3)
    assert a != adjacent_correlation(img, "vertical", n_pairs=500, seed=4)
    assert abs(a) < 0.2


def test_npcr_uaci_hand_values() -> None:
    z = u8([[0, 0], [0, 0]])
    r = npcr_uaci(z, u8([[0, 255], [255, 255]]))
    assert (r.npcr, r.uaci, r.n) == (pytest.approx(75.0), pytest.approx(75.0), 4)
    r = npcr_uaci(z, u8([[0, 51], [0, 0]]))
    assert r.npcr == pytest.approx(25.0) and r.uaci == pytest.approx(5.0)


def test_npcr_uaci_ideal_and_critical_values() -> None:
    assert NPCR_IDEAL == pytest.approx(99.6094, abs=5e-5)
    assert UACI_IDEAL == pytest.approx(33.4635, abs=5e-5)
    # Wu, Noonan & Agaian (2011), Tables for 256x256 and 512x512 images
    published = {
        ((256, 256), 0.05): (99.5693, 33.2824, 33.6447),
        ((256, 256), 0.01): (99.5527, 33.2255, 33.7016),
        ((256, 256), 0.001): (99.5341, 33.1594, 33.7677),
        ((512, 512), 0.05): (99.5893, 33.3730, 33.5541),
    }
    for (shape, alpha), want in published.items():
        assert npcr_uaci_critical(shape, alpha) == pytest.approx(want, abs=1.5e-4)


def test_full_encryption_passes_wu_tests() -> None:
    from skimage import data

    # Wu et al. test two cipher images (here: one photo under two nonces), both should look uniform
    cam = data.camera()[:256, :256]
    a = encrypt(cam[None], bytes(16), Full(), seed=0).images[0]
    b = encrypt(cam[None], bytes(16), Full(), seed=1).images[0]
    assert npcr_uaci(a, b).passes(0.001) == (True, True)
    # plain against cipher: NPCR is near ideal but UACI is not (the plain image is not uniform)
    assert npcr_uaci(cam, a).passes(0.001)[1] is False
    pa = encrypt(cam[None], bytes(16), BitPlanes.msb(2), seed=0).images[0]
    pb = encrypt(cam[None], bytes(16), BitPlanes.msb(2), seed=1).images[0]
    assert npcr_uaci(pa, pb).passes(0.05) == (False, False)


def test_psnr_and_ssim() -> None:
    z = np.zeros((2, 2), np.uint8)
    assert psnr(z, u8([[255, 0], [0, 0]])) == pytest.approx(10 * math.log10(4))
    assert psnr(z, z) == math.inf
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) == pytest.approx(ssim(b, a)) and abs(ssim(a, b)) < 0.2
    assert ssim(u8(np.arange(25).reshape(5, 5)), u8(np.arange(25).reshape(5, 5))) == pytest.approx(1.0)


def test_pixel_mi_plugin_hand_values() -> None:
    x = u8([[0, 1], [2, 3]])
    assert pixel_mi_plugin(x, x) == pytest.approx(2.0)
    assert pixel_mi_plugin(x, x, unit="nats") == pytest.approx(2 * math.log(2))
    assert pixel_mi_plugin(u8([0, 0, 1, 1]), u8([0, 1, 0, 1])) == pytest.approx(0.0)
    # Miller-Madow: K_xy = K_x = K_y = 2, M = 2 -> subtract (2 - 2 - 2 + 1) / 4 nats
    mm = pixel_mi_plugin(u8([0, 1]), u8([0, 1]), unit="nats", correction="miller-madow")
    assert mm == pytest.approx(math.log(2) + 0.25)
    with pytest.raises(ValueError, match="bits"):
        pixel_mi_plugin(x, x, unit="shannons")
    # 4 levels: values 0..63 -> bin 0, 64..127 -> 1, ...; x = y = (0, 1, 64, 200) -> bins 0, 0, 1, 3
    v = u8([0, 1, 64, 200])
    assert pixel_mi_plugin(v, v, levels=4) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="levels"):
        pixel_mi_plugin(x, x, levels=1)


def test_pixel_mi_exact_hand_values() -> None:
    x = u8([[0, 128], [64, 192]])
    assert pixel_mi_exact(x, BitPlanes.msb(1)) == pytest.approx(1.0)  # clear: 0, 0, 64, 64
    assert pixel_mi_exact(x, BitPlanes.msb(2)) == 0.0
    assert pixel_mi_exact(x, BitPlanes.lsb(6)) == pytest.approx(2.0)
    assert pixel_mi_exact(x, "full") == 0.0
    assert pixel_mi_exact(x, BitPlanes.msb(0)) == pytest.approx(entropy(x))
    with pytest.raises(TypeError, match="BitPlanes"):
        pixel_mi_exact(x, Region.centered(0.5))


def test_plugin_mi_approaches_exact_value() -> None:
    # 4 grey levels spread over the top planes; many pixels so the plug-in bias is small
    rng = np.random.default_rng(1)
    x = (rng.integers(0, 4, (1, 256, 256)) * 64 + rng.integers(0, 2, (1, 256, 256))).astype(np.uint8)
    for k in (0, 1, 3, 8):
        ct = encrypt(x, bytes(16), BitPlanes.msb(k), seed=k)
        exact = pixel_mi_exact(x, BitPlanes.msb(k))
        est = pixel_mi_plugin(x, ct.images, correction="miller-madow")
        assert est == pytest.approx(exact, abs=0.02), (k, est, exact)


def test_classic_metrics_table() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    m = classic_metrics(x, x)
    assert m["npcr"] == 0 and m["psnr"] == math.inf and m["ssim"] == pytest.approx(1.0)
    assert m["mi_plugin_bits"] == pytest.approx(entropy(x)) and m["n_images"] == 3
    y = encrypt(x, bytes(16), BitPlanes.msb(1), seed=0).images
    m = classic_metrics(x, y)
    assert 40 < m["npcr"] < 60
    assert set(m) >= {
        "entropy_plain",
        "entropy_cipher",
        "corr_h_cipher",
        "corr_v_cipher",
        "corr_d_cipher",
        "uaci",
        "psnr",
        "ssim",
        "mi_plugin_bits",
    }
    g = classic_metrics(x[0, :, :, 0], y[0, :, :, 0])
    assert g["n_images"] == 1


@pytest.mark.parametrize(
    "a,b,exc",
    [
        (np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32), TypeError),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8), ValueError),
        ([[0]], [[0]], TypeError),
    ],
)
def test_metric_bad_inputs(a, b, exc) -> None:
    for f in (npcr_uaci, psnr, ssim, pixel_mi_plugin):
        with pytest.raises(exc):
            f(a, b)
