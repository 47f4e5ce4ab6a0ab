"""Bad inputs raise TypeError/ValueError with a message that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from seleak.encryption import DCT, BitPlanes, Ciphertext, Full, Region, decrypt, decrypt_coefficients, encrypt

KEY = bytes(16)
GOOD = np.zeros((2, 8, 8), np.uint8)


@pytest.mark.parametrize(
    "images,exc,match",
    [
        (GOOD.astype(np.float32), TypeError, "uint8"),
        (GOOD.astype(np.int16), TypeError, "uint8"),
        (GOOD.tolist(), TypeError, "numpy uint8 array"),
        (np.zeros(8, np.uint8), ValueError, r"\(N, H, W\)"),
        (np.zeros((8, 8), np.uint8), ValueError, r"image\[None\]"),
        (np.zeros((1, 2, 3, 4, 5), np.uint8), ValueError, r"\(N, H, W, C\)"),
        (np.zeros((1, 0, 3), np.uint8), ValueError, "non-empty"),
    ],
)
def test_bad_images(images, exc, match) -> None:
    with pytest.raises(exc, match=match):
        encrypt(images, KEY, Full())


@pytest.mark.parametrize(
    "planes,exc",
    [
        ((8,), ValueError),
        ((-1,), ValueError),
        ((7, 7), ValueError),
        ((1.5,), TypeError),
        ("75", TypeError),
        ((True,), TypeError),
    ],
)
def test_bad_planes(planes, exc) -> None:
    with pytest.raises(exc, match="0..7|repeat"):
        BitPlanes(planes)


@pytest.mark.parametrize("k", [-1, 9])
def test_bad_k(k) -> None:
    with pytest.raises(ValueError, match="0..8"):
        BitPlanes.msb(k)
    with pytest.raises(ValueError, match="0..8"):
        BitPlanes.lsb(k)


@pytest.mark.parametrize(
    "key,exc",
    [
        (bytes(15), ValueError),
        (bytes(17), ValueError),
        (bytes(0), ValueError),
        ("00" * 16, TypeError),
        (12345, TypeError),
    ],
)
def test_bad_keys(key, exc) -> None:
    with pytest.raises(exc, match="16, 24 or 32"):
        encrypt(GOOD, key, Full())


def test_region_outside_the_image() -> None:
    with pytest.raises(ValueError, match="outside the 8x8 image"):
        encrypt(GOOD, KEY, Region(boxes=[(0, 0, 9, 4)]))
    with pytest.raises(ValueError, match="mask has shape"):
        encrypt(GOOD, KEY, Region(mask=np.ones((8, 9), bool)))
    with pytest.raises(ValueError, match="0 <= y0 < y1"):
        Region(boxes=[(4, 0, 2, 3)])
    with pytest.raises(ValueError, match="exactly one"):
        Region()
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        Region.centered(1.5)


@pytest.mark.parametrize(
    "nonces,exc,match",
    [
        ([bytes(16)], ValueError, r"shape \(2, 16\)"),
        ([bytes(16), bytes(15) + b"\x10", bytes(15) + b"\x20"], ValueError, r"shape \(2, 16\)"),
        ([bytes(12), bytes(12)], ValueError, "16 bytes"),
        (np.zeros((2, 12), np.uint8), ValueError, r"shape \(2, 16\)"),
        (np.zeros((2, 16), np.int64), TypeError, "uint8"),
        ("nonce", TypeError, "16-byte"),
        ([1, 2], TypeError, "16 bytes"),
    ],
)
def test_bad_nonces(nonces, exc, match) -> None:
    with pytest.raises(exc, match=match):
        encrypt(GOOD, KEY, Full(), nonces=nonces)


def test_nonces_and_seed_together() -> None:
    with pytest.raises(ValueError, match="not both"):
        encrypt(GOOD, KEY, Full(), nonces=[bytes(16), b"\x01" * 16], seed=1)


def test_bad_scheme_and_ciphertext() -> None:
    with pytest.raises(TypeError, match="Scheme"):
        encrypt(GOOD, KEY, 3)
    ct = encrypt(GOOD, KEY, BitPlanes.msb(2))
    with pytest.raises(ValueError, match="differs"):
        decrypt(ct, KEY, BitPlanes.msb(3))
    with pytest.raises(TypeError, match="Ciphertext"):
        decrypt(GOOD, KEY)
    with pytest.raises(TypeError, match="DCT"):
        decrypt_coefficients(ct, KEY)
    dct = encrypt(GOOD, KEY, DCT(50, True, 3))
    with pytest.raises(ValueError, match="coefficients"):
        decrypt(Ciphertext(dct.images, dct.nonces, dct.scheme), KEY)


@pytest.mark.parametrize(
    "kw,exc",
    [
        ({"quality": 0}, ValueError),
        ({"quality": 101}, ValueError),
        ({"quality": 50.0}, TypeError),
        ({"ac_signs": 64}, ValueError),
        ({"ac_signs": (0, 1)}, ValueError),
        ({"ac_signs": (2, 2)}, ValueError),
        ({"dc": "yes"}, TypeError),
    ],
)
def test_bad_dct(kw, exc) -> None:
    with pytest.raises(exc):
        DCT(**kw)
