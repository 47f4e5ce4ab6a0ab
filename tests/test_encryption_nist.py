"""AES-CTR known-answer tests: NIST SP 800-38A, Appendix F.5.1, F.5.3 and F.5.5 (CTR encrypt)."""

from __future__ import annotations

import numpy as np
import pytest

from seleak.encryption import Full, aes_ctr_keystream, decrypt, encrypt

ICB = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
PLAINTEXT = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
VECTORS = {
    "F.5.1 CTR-AES128": (
        "2b7e151628aed2a6abf7158809cf4f3c",
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
        "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
    ),
    "F.5.3 CTR-AES192": (
        "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
        "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
        "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
    ),
    "F.5.5 CTR-AES256": (
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
    ),
}


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_keystream_matches_nist_sp800_38a(name: str) -> None:
    key, ct = (bytes.fromhex(v) for v in VECTORS[name])
    ks = aes_ctr_keystream(key, ICB, len(PLAINTEXT))
    assert _xor(PLAINTEXT, ks) == ct


def test_f51_output_blocks() -> None:
    key = bytes.fromhex(VECTORS["F.5.1 CTR-AES128"][0])
    ks = aes_ctr_keystream(key, ICB, 64)
    assert ks.hex() == (
        "ec8cdf7398607cb0f2d21675ea9ea1e4362b7c3c6773516318a077d7fc5073ae"
        "6a2cc3787889374fbeb4c81b17ba6c44e89c399ff0f198c6d40a31db156cabfe"
    )


def test_partial_block_is_a_prefix() -> None:
    key = bytes.fromhex(VECTORS["F.5.1 CTR-AES128"][0])
    assert aes_ctr_keystream(key, ICB, 37) == aes_ctr_keystream(key, ICB, 64)[:37]
    assert aes_ctr_keystream(key, ICB, 0) == b""


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_full_scheme_on_nist_plaintext_gives_nist_ciphertext(name: str) -> None:
    # the 64 plaintext bytes as one 1x8x8 image, the NIST ICB as its nonce
    key, ct = (bytes.fromhex(v) for v in VECTORS[name])
    image = np.frombuffer(PLAINTEXT, np.uint8).reshape(1, 8, 8)
    out = encrypt(image, key, Full(), nonces=[ICB])
    assert out.images.tobytes() == ct
    assert out.nonces[0].tobytes() == ICB
    assert (decrypt(out, key) == image).all()


def test_counter_wrap_is_refused() -> None:
    key = bytes(16)
    with pytest.raises(ValueError, match="wrap"):
        aes_ctr_keystream(key, b"\xff" * 16, 17)
    assert len(aes_ctr_keystream(key, b"\xff" * 16, 16)) == 16
