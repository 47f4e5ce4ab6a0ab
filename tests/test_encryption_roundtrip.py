"""Property-based round trips: every scheme, (N,H,W) and (N,H,W,C), odd sizes, k = 0..8."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seleak.encryption import (
    DCT,
    ZIGZAG,
    BitPlanes,
    Full,
    Region,
    decrypt,
    decrypt_coefficients,
    encrypt,
    parse_scheme,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def image_batches(draw: st.DrawFn, max_side: int = 19) -> np.ndarray:
    n = draw(st.integers(1, 3))
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    c = draw(st.sampled_from([None, 1, 3, 4]))
    shape = (n, h, w) if c is None else (n, h, w, c)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
plane_sets = st.lists(st.integers(0, 7), unique=True, max_size=8)


@st.composite
def pixel_schemes(draw: st.DrawFn, h: int, w: int):
    kind = draw(st.sampled_from(["msb", "lsb", "planes", "full", "box", "center", "mask"]))
    if kind == "msb":
        return BitPlanes.msb(draw(st.integers(0, 8)))
    if kind == "lsb":
        return BitPlanes.lsb(draw(st.integers(0, 8)))
    if kind == "planes":
        return BitPlanes(draw(plane_sets))
    if kind == "full":
        return Full()
    planes = draw(st.one_of(st.none(), plane_sets.map(BitPlanes)))
    if kind == "box":
        boxes = []
        for _ in range(draw(st.integers(1, 3))):
            y0 = draw(st.integers(0, h - 1))
            x0 = draw(st.integers(0, w - 1))
            boxes.append((y0, x0, draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))))
        return Region(boxes=boxes, planes=planes)
    if kind == "center":
        return Region.centered(draw(st.floats(0.01, 1.0)), planes=planes)
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    return Region(mask=rng.random((h, w)) < 0.5, planes=planes)


@SETTINGS
@given(data=st.data(), images=image_batches(), key=keys)
def test_pixel_schemes_round_trip_and_touch_only_their_bits(data, images, key) -> None:
    scheme = data.draw(pixel_schemes(images.shape[1], images.shape[2]))
    ct = encrypt(images, key, scheme)
    assert ct.images.dtype == np.uint8 and ct.images.shape == images.shape
    assert ct.nonces.shape == (images.shape[0], 16)
    mask = np.broadcast_to(scheme.bit_mask(images.shape[1:]), images.shape[1:])
    changed = ct.images ^ images
    assert not (changed & ~mask).any(), "bits outside the scheme changed"
    assert (decrypt(ct, key) == images).all()
    assert (decrypt(ct, key, scheme.spec) == images).all()
    assert parse_scheme(scheme.spec) == scheme


@SETTINGS
@given(images=image_batches(max_side=21), key=keys, k=st.integers(0, 8))
def test_msb_and_lsb_for_every_k(images, key, k) -> None:
    for scheme, mask in ((BitPlanes.msb(k), (0xFF00 >> k) & 0xFF), (BitPlanes.lsb(k), (1 << k) - 1)):
        assert scheme.mask == mask and len(scheme.planes) == k
        ct = encrypt(images, key, scheme, seed=k)
        assert not ((ct.images ^ images) & ~np.uint8(mask)).any()
        assert (decrypt(ct, key) == images).all()


@st.composite
def dct_schemes(draw: st.DrawFn) -> DCT:
    q = draw(st.integers(1, 100))
    ac = draw(st.one_of(st.integers(0, 63), st.lists(st.integers(1, 63), unique=True, max_size=10)))
    return DCT(quality=q, dc=draw(st.booleans()), ac_signs=ac)


@SETTINGS
@given(images=image_batches(max_side=21), key=keys, scheme=dct_schemes())
def test_dct_restores_quantised_coefficients_exactly(images, key, scheme) -> None:
    ct = encrypt(images, key, scheme)
    plain_q = scheme.forward(images)
    assert ct.coefficients is not None and ct.coefficients.shape == plain_q.shape
    assert (decrypt_coefficients(ct, key) == plain_q).all()
    assert (decrypt(ct, key) == scheme.compress(images)).all()
    assert ct.images.shape == images.shape and ct.images.dtype == np.uint8
    # only the selected coefficients change: DC (if chosen) and the signs of chosen AC ones
    selected = np.zeros((8, 8), bool)
    selected[0, 0] = scheme.dc
    for i in scheme.ac_signs:
        selected[ZIGZAG[i]] = True
    diff = ct.coefficients != plain_q
    assert not diff[..., ~selected].any()
    ac = [ZIGZAG[i] for i in scheme.ac_signs]
    if ac:
        rows, cols = zip(*ac)
        assert (np.abs(ct.coefficients[..., rows, cols]) == np.abs(plain_q[..., rows, cols])).all()
    m = scheme.dc_limit(plain_q.shape[1])[None, :, None, None]
    assert (np.abs(ct.coefficients[..., 0, 0]) <= m).all()
    assert parse_scheme(scheme.spec) == scheme
