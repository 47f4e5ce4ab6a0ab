"""Selective encryption (SE) of ``uint8`` images with AES in counter mode.

Selective encryption hides only part of an image -- some bit-planes, a region, or a few
JPEG coefficients -- and leaves the rest in the clear, trading secrecy for speed and format
compliance. This module provides the schemes and one contract for all of them::

    from seleak.encryption import BitPlanes, encrypt, decrypt, generate_key
    key = generate_key()                     # 16 bytes from the OS CSPRNG
    ct = encrypt(images, key, BitPlanes.msb(3))
    ct.images                                # uint8, same shape; only planes 7, 6, 5 differ
    ct.nonces                                # (N, 16) uint8: one initial counter block per image
    assert (decrypt(ct, key) == images).all()

The cipher is AES-CTR from pycryptodome (NIST SP 800-38A, section 6.5); nothing here is a
home-made cipher. Keystream bits are XORed into the selected bits (bit-plane and region
schemes) or used to re-map the selected quantised DCT coefficients (:class:`DCT`).

Nonces (initial counter blocks)
-------------------------------
Each image gets a 16-byte *initial counter block* (ICB, NIST's term; called its nonce here)
and uses the counter blocks ``ICB, ICB+1, ..., ICB+b-1`` (a 128-bit big-endian counter), where
``b`` is the number of keystream blocks one image needs. Following SP 800-38A Appendix B, the
counter blocks of all images under one key must be distinct, so:

* by default the first image's ICB is drawn from the OS CSPRNG on **every call** and the
  images of the batch get consecutive, non-overlapping counter ranges (so the keystream of the
  whole batch comes from one pycryptodome stream). Two calls overlap with probability about
  ``2 * blocks / 2**128``, i.e. never;
* ``seed=`` derives the ICBs from the seed instead (SHA-256). This is the **study-only,
  reproducible mode**: the same seed, key and image size give the same keystream, so two
  different image sets encrypted with one seed and key share keystream. Never use it to protect
  anything;
* ``nonces=`` takes explicit ICBs (``(N, 16)`` uint8 or a list of 16-byte strings). Equal or
  overlapping counter ranges raise :class:`ValueError` unless ``allow_nonce_reuse_unsafe=True``,
  which exists only to demonstrate what keystream reuse leaks.

Scheme specs
------------
Every scheme has a ``spec`` string, and ``parse_scheme(s.spec) == s``. The grammar::

    full                              every bit of every pixel
    msb:K          lsb:K              the K most / least significant planes, K = 0..8
    planes:P,P,...                    any set of planes, 0 = LSB .. 7 = MSB (e.g. planes:7,0)
    region:box:Y0,X0,Y1,X1[+Y0,X0,Y1,X1...][@PLANES]
                                      half-open pixel boxes [Y0,Y1) x [X0,X1)
    region:center:F[@PLANES]          a centred box covering the fraction F (0 < F <= 1) of the area
    region:mask:HxW:B64[@PLANES]      an explicit boolean mask (zlib + base64url of its packed bits)
    dct:qQ:PARTS                      JPEG-style DCT scheme at quality Q = 1..100, PARTS one of
                                      none | dc | acN | ac=I,J,... | dc+acN | dc+ac=I,J,...
                                      (acN: signs of the first N AC coefficients in zigzag order,
                                      ac=I,J: signs of the AC coefficients at zigzag positions I, J)

``@PLANES`` is a bit-plane spec (``msb:3``, ``lsb:2``, ``planes:7,0``); without it a region
encrypts all 8 planes.

The subpackage, one idea per module: :mod:`~seleak.encryption.keystream` (AES-CTR, keys, nonces),
:mod:`~seleak.encryption.schemes` (the schemes and their specs), :mod:`~seleak.encryption.jpeg`
(the 8x8 DCT codec of :class:`DCT`), :mod:`~seleak.encryption.images` (the image contract),
:mod:`~seleak.encryption.auth` (authentication tags) and :mod:`~seleak.encryption.cipher`
(:class:`Ciphertext`, :func:`encrypt`, :func:`decrypt`). Import from ``seleak.encryption``.
"""

from seleak.encryption.auth import SALT_BYTES, TAG_BYTES, auth_tag
from seleak.encryption.cipher import Ciphertext, decrypt, decrypt_coefficients, encrypt
from seleak.encryption.images import check_images
from seleak.encryption.jpeg import ZIGZAG, jpeg_quant_table
from seleak.encryption.keystream import (
    BLOCK_BYTES,
    KEY_SIZES,
    NONCE_BYTES,
    aes_ctr_keystream,
    generate_key,
)
from seleak.encryption.schemes import (
    DCT,
    BitPlanes,
    Full,
    Region,
    Scheme,
    as_scheme,
    parse_scheme,
    parse_scheme_for_shape,
)

__all__ = [
    "BLOCK_BYTES",
    "NONCE_BYTES",
    "KEY_SIZES",
    "SALT_BYTES",
    "TAG_BYTES",
    "Scheme",
    "BitPlanes",
    "Full",
    "Region",
    "DCT",
    "Ciphertext",
    "parse_scheme",
    "parse_scheme_for_shape",
    "as_scheme",
    "check_images",
    "generate_key",
    "aes_ctr_keystream",
    "auth_tag",
    "encrypt",
    "decrypt",
    "decrypt_coefficients",
    "jpeg_quant_table",
    "ZIGZAG",
]
