"""Statistics of the keystream use, nonce handling, batching, specs and persistence."""

from __future__ import annotations

import io

import numpy as np
import pytest

import seleak.encryption.cipher as cipher_module
from seleak.encryption import (
    DCT,
    ZIGZAG,
    BitPlanes,
    Ciphertext,
    Full,
    Region,
    aes_ctr_keystream,
    decrypt,
    encrypt,
    generate_key,
    jpeg_quant_table,
    parse_scheme,
)

KEY = bytes(range(16))


def _images(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def _bit_flip_rate(a: np.ndarray, b: np.ndarray, plane: int) -> float:
    return float((((a ^ b) >> plane) & 1).mean())


# ---- flip rates -------------------------------------------------------------------------


def test_encrypted_planes_flip_half_the_bits_others_none() -> None:
    x = _images((4, 64, 64, 3))
    ct = encrypt(x, KEY, BitPlanes.msb(3), seed=1)
    n = x.size
    tol = 5 * 0.5 / np.sqrt(n)  # five standard deviations of a fair coin's mean
    for p in range(8):
        rate = _bit_flip_rate(x, ct.images, p)
        if p >= 5:
            assert abs(rate - 0.5) < tol, (p, rate)
        else:
            assert rate == 0.0


def test_region_flips_inside_only() -> None:
    x = _images((3, 40, 50))
    scheme = Region(boxes=[(5, 10, 25, 40)], planes=BitPlanes.lsb(2))
    ct = encrypt(x, KEY, scheme, seed=2)
    inside = scheme.region_mask(40, 50)
    d = ct.images ^ x
    assert not d[:, ~inside].any()
    bits = d[:, inside]
    for p in (0, 1):
        rate = float(((bits >> p) & 1).mean())
        assert abs(rate - 0.5) < 5 * 0.5 / np.sqrt(bits.size)
    assert not (bits & 0b11111100).any()


def test_dct_sign_flip_rate_is_half() -> None:
    x = _images((2, 64, 64))
    scheme = DCT(quality=90, dc=False, ac_signs=10)
    ct = encrypt(x, KEY, scheme, seed=3)
    q = scheme.forward(x)
    rows, cols = zip(*(ZIGZAG[i] for i in scheme.ac_signs))
    plain, cipher = q[..., rows, cols], ct.coefficients[..., rows, cols]
    nz = plain != 0
    rate = float((plain[nz] != cipher[nz]).mean())
    assert abs(rate - 0.5) < 5 * 0.5 / np.sqrt(nz.sum())
    assert (cipher[~nz] == 0).all()


def test_dct_dc_is_roughly_uniform_over_its_range() -> None:
    x = np.full((4, 64, 64), 128, np.uint8)  # every plain DC is 0
    scheme = DCT(quality=50, dc=True)
    ct = encrypt(x, KEY, scheme, seed=4)
    m = int(scheme.dc_limit(1)[0])
    dc = ct.coefficients[..., 0, 0].ravel().astype(float)
    assert dc.min() >= -m and dc.max() <= m
    # uniform on [-m, m]: mean 0, sd m / sqrt(3) * sqrt(1 + 1/m)
    assert abs(dc.mean()) < 5 * (m / np.sqrt(3)) / np.sqrt(dc.size)
    assert abs(dc.std() - np.sqrt(((2 * m + 1) ** 2 - 1) / 12)) < 0.15 * m


# ---- nonces -------------------------------------------------------------------------------


def _ranges(ct: Ciphertext, nbytes: int) -> list[tuple[int, int]]:
    nblocks = -(-nbytes // 16)
    return sorted((int.from_bytes(r.tobytes(), "big"), nblocks) for r in ct.nonces)


def test_nonces_unique_within_a_call_and_ranges_disjoint() -> None:
    x = _images((50, 7, 9))  # 63 bytes: 4 blocks per image, not a multiple of 16
    ct = encrypt(x, KEY, Full())
    assert len({r.tobytes() for r in ct.nonces}) == 50
    rs = _ranges(ct, 63)
    assert all(a + n <= b for (a, n), (b, _) in zip(rs, rs[1:]))


def test_nonces_differ_across_calls_by_default() -> None:
    x = _images((5, 8, 8))
    a, b = encrypt(x, KEY, Full()), encrypt(x, KEY, Full())
    assert not set(map(bytes, a.nonces)) & set(map(bytes, b.nonces))
    assert (a.images != b.images).any()
    lo = min(int.from_bytes(r.tobytes(), "big") for r in np.concatenate([a.nonces, b.nonces]))
    assert lo >= 0


def test_seed_mode_is_reproducible() -> None:
    x = _images((3, 8, 8))
    a = encrypt(x, KEY, BitPlanes.msb(4), seed=7)
    b = encrypt(x, KEY, BitPlanes.msb(4), seed=7)
    c = encrypt(x, KEY, BitPlanes.msb(4), seed=8)
    assert (a.nonces == b.nonces).all() and (a.images == b.images).all()
    assert (a.nonces != c.nonces).any() and (a.images != c.images).any()


def test_batch_keystream_equals_per_image_keystream(monkeypatch: pytest.MonkeyPatch) -> None:
    # tiny chunks: many pycryptodome calls, cipher reuse across chunks, padding per image
    monkeypatch.setattr(cipher_module, "CHUNK_BYTES", 40)
    x = _images((7, 5, 7))  # 35 bytes per image
    nonces = [bytes(15) + bytes([i * 9]) for i in range(4)] + [bytes([1]) * 16, bytes([200]) * 16, bytes([3]) * 16]
    ct = encrypt(x, KEY, Full(), nonces=nonces)
    for i in range(7):
        ks = np.frombuffer(aes_ctr_keystream(KEY, nonces[i], 35), np.uint8).reshape(5, 7)
        assert (ct.images[i] == x[i] ^ ks).all()
    assert [r.tobytes() for r in ct.nonces] == nonces
    assert (decrypt(ct, KEY) == x).all()


def test_default_batch_matches_aes_ctr_keystream() -> None:
    x = _images((6, 33, 31, 3))
    ct = encrypt(x, KEY, BitPlanes((6, 1)))
    for i in range(6):
        ks = np.frombuffer(aes_ctr_keystream(KEY, ct.nonces[i].tobytes(), x[i].size), np.uint8)
        assert (ct.images[i] == x[i] ^ (ks.reshape(x[i].shape) & 0b01000010)).all()


def test_repeated_or_overlapping_nonces_raise() -> None:
    x = _images((2, 8, 8))  # 64 bytes = 4 blocks per image
    same = [bytes(16), bytes(16)]
    with pytest.raises(ValueError, match="equal"):
        encrypt(x, KEY, Full(), nonces=same)
    overlap = [bytes(16), bytes(15) + b"\x03"]
    with pytest.raises(ValueError, match="overlapping"):
        encrypt(x, KEY, Full(), nonces=overlap)
    ok = [bytes(16), bytes(15) + b"\x04"]
    assert encrypt(x, KEY, Full(), nonces=ok).images.shape == x.shape


def test_nonce_reuse_opt_in_leaks_the_xor() -> None:
    x = _images((2, 8, 8))
    ct = encrypt(x, KEY, Full(), nonces=[bytes(16)] * 2, allow_nonce_reuse_unsafe=True)
    assert ((ct.images[0] ^ ct.images[1]) == (x[0] ^ x[1])).all()
    assert (decrypt(ct, KEY) == x).all()


def test_wrong_key_does_not_decrypt() -> None:
    x = _images((2, 16, 16))
    ct = encrypt(x, KEY, BitPlanes.msb(8))
    # the tag refuses a wrong key; without the check, a wrong key gives another image
    with pytest.raises(ValueError, match="authentication failed"):
        decrypt(ct, generate_key())
    assert (decrypt(ct, generate_key(), verify=False) != x).any()


def test_a_mask_spec_cannot_expand_beyond_its_image() -> None:
    import base64
    import zlib

    from seleak.encryption import parse_scheme

    bomb = base64.urlsafe_b64encode(zlib.compress(b"\xff" * (1 << 22))).decode().rstrip("=")
    with pytest.raises(ValueError, match="longer than HxW"):
        parse_scheme(f"region:mask:8x8:{bomb}")
    with pytest.raises(ValueError, match="pixels"):
        parse_scheme("region:mask:100000x100000:eJwDAAAAAAE")


def test_generate_key() -> None:
    for n in (16, 24, 32):
        assert len(generate_key(n)) == n
    assert generate_key() != generate_key()
    with pytest.raises(ValueError, match="16, 24, 32"):
        generate_key(20)


# ---- specs ---------------------------------------------------------------------------------

SPECS = [
    ("full", Full()),
    ("msb:3", BitPlanes((7, 6, 5))),
    ("msb:0", BitPlanes.lsb(0)),
    ("msb:8", BitPlanes.lsb(8)),
    ("lsb:2", BitPlanes([0, 1])),
    ("planes:7,0", BitPlanes((0, 7))),
    ("region:box:0,0,4,4+10,10,20,30", Region(boxes=[(0, 0, 4, 4), (10, 10, 20, 30)])),
    ("region:center:0.25@msb:2", Region.centered(0.25, planes=BitPlanes.msb(2))),
    ("dct:q50:dc", DCT(50, True, 0)),
    ("dct:q50:dc+ac8", DCT(50, True, 8)),
    ("dct:q75:ac=1,3,9", DCT(75, False, (9, 3, 1))),
    ("dct:q10:none", DCT(10, False, 0)),
]


@pytest.mark.parametrize("spec,scheme", SPECS)
def test_spec_grammar(spec, scheme) -> None:
    assert scheme.spec == spec
    assert parse_scheme(spec) == scheme
    assert isinstance(scheme.label, str) and scheme.label


def test_mask_region_spec_round_trips() -> None:
    m = np.random.default_rng(0).random((13, 17)) < 0.3
    r = Region(mask=m, planes="planes:7,1")
    back = parse_scheme(r.spec)
    assert back == r and (back.region_mask(13, 17) == m).all()
    assert r.amount == pytest.approx(m.mean())


def test_amounts() -> None:
    assert BitPlanes.msb(3).amount == 3 and Full().amount == 8
    assert Region.centered(0.3).amount == 0.3 and DCT(50, True, 5).amount == 5
    r = Region.centered(0.25).region_mask(100, 80)
    assert r.mean() == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "msb",
        "msb:9",
        "msb:x",
        "lsb:-1",
        "planes:8",
        "planes:7,7",
        "region:box:1,2,3",
        "region:box:3,0,1,5",
        "region:center:0",
        "region:center:x",
        "region:oval:1",
        "dct:50:dc",
        "dct:q0:dc",
        "dct:q50:ac64",
        "dct:q50:zz",
        "aes",
        "region:mask:4x4:!!",
    ],
)
def test_bad_specs_list_the_forms(bad: str) -> None:
    with pytest.raises(ValueError, match="Forms:"):
        parse_scheme(bad)


# ---- DCT sanity --------------------------------------------------------------------------


def test_quant_tables_follow_ijg_scaling() -> None:
    assert jpeg_quant_table(50)[0, 0] == 16 and jpeg_quant_table(50, chroma=True)[0, 0] == 17
    assert (jpeg_quant_table(100) == 1).all()
    assert jpeg_quant_table(25)[0, 0] == 32 and jpeg_quant_table(75)[0, 0] == 8


def test_dct_compress_agrees_with_pillow_jpeg() -> None:
    from PIL import Image
    from skimage import data

    from seleak.metrics import psnr

    for img, mode in ((data.camera()[128:256, 128:256], "L"), (data.astronaut()[:128, :128], "RGB")):
        buf = io.BytesIO()
        Image.fromarray(img, mode).save(buf, format="JPEG", quality=50, subsampling=0)
        pil = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
        ours = DCT(quality=50).compress(img[None])[0]
        assert psnr(ours, pil) > 35, psnr(ours, pil)  # same tables, transform, colour space
        assert 25 < psnr(ours, img) < 45  # and it is lossy


def test_ciphertext_save_load(tmp_path) -> None:
    x = _images((2, 9, 10, 3))
    for scheme in (BitPlanes.msb(2), DCT(60, True, 4)):
        ct = encrypt(x, KEY, scheme)
        back = Ciphertext.load(ct.save(tmp_path / "ct.npz"))
        assert back.scheme == scheme and (back.nonces == ct.nonces).all()
        assert (decrypt(back, KEY) == decrypt(ct, KEY)).all()
    assert len(ct.nonce_hex[0]) == 32


# ---- memory and edge cases ------------------------------------------------------------------


@pytest.mark.parametrize("scheme", [BitPlanes.msb(3), Region.centered(0.3), Full()])
def test_peak_memory_is_bounded_by_chunking(scheme) -> None:
    import tracemalloc

    x = _images((48, 256, 256, 3))  # 9 MiB: a whole-batch keystream would need 2x more
    tracemalloc.start()
    try:
        ct = encrypt(x, KEY, scheme)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the output plus a ~1 MiB keystream chunk and its zero input, far below 3x the batch
    assert peak < 1.5 * x.nbytes + (3 << 20), peak / x.nbytes
    assert (decrypt(ct, KEY) == x).all()


def test_empty_batch() -> None:
    x = np.zeros((0, 4, 5, 3), np.uint8)
    for scheme in (BitPlanes.msb(2), DCT(50, True, 3)):
        ct = encrypt(x, KEY, scheme)
        assert ct.images.shape == x.shape and ct.nonces.shape == (0, 16)
        assert decrypt(ct, KEY).shape == x.shape
