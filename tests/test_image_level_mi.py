"""metrics.image_level_mi: I(X; SE(X)) of whole images, checked against the exact joint distribution."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from brute_force import all_keystreams

from seleak.encryption import DCT, BitPlanes, Full, Region, encrypt, parse_scheme
from seleak.metrics import ImageLevelMI, image_level_mi


def _mi_of_joint(pairs: Counter) -> float:
    """MI (nats) of a joint distribution given as {(x, y): weight}."""
    total = sum(pairs.values())
    px: Counter = Counter()
    py: Counter = Counter()
    for (x, y), w in pairs.items():
        px[x] += w
        py[y] += w
    return sum(w / total * math.log(w * total / (px[x] * py[y])) for (x, y), w in pairs.items())


def _brute_force(images: np.ndarray, scheme, f=None) -> float:
    """I(X; SE(X)) -- or I(f(X); f(SE(X))) -- from the exact joint law: X uniform over the rows,
    every keystream of the encrypted bits equally likely."""
    shape = images.shape[1:]
    mask = np.broadcast_to(parse_scheme(scheme).bit_mask(shape), shape).astype(np.uint8)
    f = f or (lambda a: a.tobytes())
    joint: Counter = Counter()
    for r in all_keystreams(mask):
        for x in images:
            joint[(f(x), f(x ^ r))] += 1
    return _mi_of_joint(joint)


def _tiny_images(n: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    # values that share high or low bits, so clear parts collide under some schemes
    values = np.array([0, 1, 64, 65, 128, 129, 192, 255], dtype=np.uint8)
    return values[np.random.default_rng(seed).integers(0, values.size, size=(n,) + shape)]


@pytest.mark.parametrize("scheme", ["msb:1", "msb:2", "lsb:1", "lsb:2", "planes:7,0", "planes:6"])
def test_bit_plane_schemes_equal_the_brute_force_mi(scheme):
    for seed in range(3):
        images = _tiny_images(5, (2, 2), seed)
        r = image_level_mi(images, scheme)
        assert r.exact and r.kind == "H(clear part)" and r.n_images == 5
        assert r.nats == pytest.approx(_brute_force(images, scheme), abs=1e-12)


def test_collisions_of_clear_parts_are_counted():
    # under msb:1 these four images have two clear parts (0 and 1 in every pixel): I = log 2
    images = np.array([0, 128, 1, 129], dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8)
    r = image_level_mi(images, "msb:1")
    assert r.n_distinct == 2 and r.nats == pytest.approx(math.log(2), abs=1e-12)
    assert r.nats == pytest.approx(_brute_force(images, "msb:1"), abs=1e-12)
    assert r.bits == pytest.approx(1.0, abs=1e-12)


def test_duplicated_images_weigh_by_their_count():
    a = np.zeros((2, 2), np.uint8)
    b = np.full((2, 2), 200, np.uint8)
    images = np.stack([a, a, a, b])
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    for scheme in ("msb:0", "lsb:2", "msb:1"):
        r = image_level_mi(images, scheme)
        assert r.nats == pytest.approx(h, abs=1e-12) and r.n_distinct == 2
        assert r.nats == pytest.approx(_brute_force(images, scheme), abs=1e-12)
    # 200 = 0b11001000 sets planes 7, 6 and 3 only: with those encrypted it looks like 0 in the clear
    r = image_level_mi(images, "planes:7,6,3")
    assert r.nats == 0.0 and r.n_distinct == 1


@pytest.mark.parametrize(
    "shape, scheme",
    [
        ((2, 2), "region:box:0,0,2,1@msb:2"),
        ((2, 2, 3), "region:box:0,0,1,1@msb:2"),
        ((2, 2, 3), "region:box:1,0,2,2@planes:0"),
        ((2, 2), "region:box:0,0,1,1"),
    ],
)
def test_region_schemes_equal_the_brute_force_mi(shape, scheme):
    images = _tiny_images(6, shape, seed=len(shape))
    images[5] = images[0]  # a duplicate
    r = image_level_mi(images, scheme)
    assert r.exact and r.nats == pytest.approx(_brute_force(images, scheme), abs=1e-12)


def test_it_bounds_the_mi_of_any_deterministic_embedding():
    images = _tiny_images(6, (2, 2), seed=7)
    embedders = {
        "sum mod 3": lambda x: int(x.astype(np.int64).sum()) % 3,
        "first pixel": lambda x: int(x[0, 0]),
        "top row": lambda x: x[0].tobytes(),
        "is dark": lambda x: bool(x.mean() < 100),
    }
    for scheme in ("msb:1", "lsb:2", "planes:7,0"):
        ceiling = image_level_mi(images, scheme).nats
        for name, f in embedders.items():
            assert _brute_force(images, scheme, f) <= ceiling + 1e-12, (scheme, name)


def test_extremes_and_the_upper_bound_for_other_schemes():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(50, 8, 8, 3), dtype=np.uint8)  # all distinct (at ~1e-300)
    clear = image_level_mi(images, BitPlanes.msb(0))
    assert clear.nats == pytest.approx(math.log(50), abs=1e-12) and clear.exact and clear.n_distinct == 50
    full = image_level_mi(images, Full())
    assert full == ImageLevelMI(0.0, True, "H(clear part)", 50, 1)
    assert image_level_mi(images, "msb:8").nats == 0.0
    assert image_level_mi(images, Region(boxes=[(0, 0, 8, 8)])).nats == 0.0
    dct = image_level_mi(images, DCT(quality=50, dc=True))
    assert dct.exact is False and dct.kind == "H(X)" and dct.nats == pytest.approx(math.log(50), abs=1e-12)
    dup = np.concatenate([images[:10], images[:10]])
    assert image_level_mi(dup, "dct:q75:ac3").nats == pytest.approx(math.log(10), abs=1e-12)
    one = image_level_mi(images[:1], "msb:3")
    assert one.nats == 0.0 and one.n_images == 1


def test_the_model_matches_the_real_cipher():
    # SE(X) = (clear part of X, noise): the library's ciphertext keeps exactly the unmasked bits
    images = _tiny_images(20, (4, 4, 3), seed=11)
    for spec in ("msb:3", "lsb:2", "region:box:1,1,3,4@msb:4"):
        scheme = parse_scheme(spec)
        keep = ~np.broadcast_to(scheme.bit_mask(images.shape[1:]), images.shape[1:])
        ct = encrypt(images, bytes(16), scheme, seed=0).images
        assert np.array_equal(ct & keep, images & keep)


def test_bad_inputs_raise():
    with pytest.raises(TypeError):
        image_level_mi(np.zeros((2, 4, 4), np.float32), "msb:1")
    with pytest.raises(ValueError, match="empty"):
        image_level_mi(np.zeros((0, 4, 4), np.uint8), "msb:1")
    with pytest.raises(ValueError):
        image_level_mi(np.zeros((2, 4, 4), np.uint8), "region:box:0,0,8,8")
    with pytest.raises(TypeError):
        image_level_mi(np.zeros((2, 4, 4), np.uint8), 3)
