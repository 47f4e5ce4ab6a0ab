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
"""

from __future__ import annotations

import abc
import base64
import hashlib
import math
import operator
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import scipy.fft
from Crypto.Cipher import AES

__all__ = [
    "BLOCK_BYTES",
    "NONCE_BYTES",
    "KEY_SIZES",
    "Scheme",
    "BitPlanes",
    "Full",
    "Region",
    "DCT",
    "Ciphertext",
    "parse_scheme",
    "generate_key",
    "aes_ctr_keystream",
    "encrypt",
    "decrypt",
    "decrypt_coefficients",
    "jpeg_quant_table",
    "ZIGZAG",
]

BLOCK_BYTES = 16
"""AES block size in bytes."""
NONCE_BYTES = 16
"""Length of one image's nonce: a full 128-bit initial counter block."""
KEY_SIZES = (16, 24, 32)
"""Accepted AES key lengths in bytes (AES-128, AES-192, AES-256)."""

_COUNTER_SPACE = 1 << 128
# Keystream is produced and applied in pieces of about this many bytes: small enough that the
# keystream buffer, the mask and the XOR stay in the CPU cache (faster than one big pass) and
# that peak memory stays near input + output, whatever the batch size.
_CHUNK_BYTES = 1 << 20


# --------------------------------------------------------------------------------------------
# keys and the raw keystream
# --------------------------------------------------------------------------------------------


def generate_key(nbytes: int = 16) -> bytes:
    """A fresh AES key of ``nbytes`` (16, 24 or 32) bytes from the operating system's CSPRNG."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)):
        raise TypeError(f"nbytes must be an int, one of {KEY_SIZES}; got {type(nbytes).__name__}")
    if int(nbytes) not in KEY_SIZES:
        raise ValueError(f"nbytes must be one of {KEY_SIZES} (AES-128/192/256); got {nbytes}")
    return secrets.token_bytes(int(nbytes))


def _check_key(key: Any) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        hint = " (hex text? use bytes.fromhex(...))" if isinstance(key, str) else ""
        raise TypeError(
            f"key must be bytes, 16, 24 or 32 of them; got {type(key).__name__}{hint}"
        )
    key = bytes(key)
    if len(key) not in KEY_SIZES:
        raise ValueError(
            f"key must be 16, 24 or 32 bytes long (AES-128/192/256); got {len(key)} bytes"
        )
    return key


def _check_icb(icb: Any) -> bytes:
    if isinstance(icb, np.ndarray):
        if icb.dtype != np.uint8 or icb.shape != (NONCE_BYTES,):
            raise ValueError(
                f"an initial counter block must be {NONCE_BYTES} bytes (uint8 array of shape "
                f"({NONCE_BYTES},)); got dtype {icb.dtype}, shape {icb.shape}"
            )
        return icb.tobytes()
    if not isinstance(icb, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"an initial counter block must be {NONCE_BYTES} bytes; got {type(icb).__name__}"
        )
    icb = bytes(icb)
    if len(icb) != NONCE_BYTES:
        raise ValueError(
            f"an initial counter block must be exactly {NONCE_BYTES} bytes; got {len(icb)}"
        )
    return icb


def aes_ctr_keystream(key: bytes, initial_counter_block: bytes, nbytes: int) -> bytes:
    """The first ``nbytes`` of the AES-CTR keystream from one initial counter block.

    The counter is the whole 128-bit block, big-endian, incremented by one per block (the
    standard incrementing function of NIST SP 800-38A, Appendix B.1, with m = 128); this is the
    keystream that :func:`encrypt` XORs into an image whose nonce is ``initial_counter_block``.
    Ciphertext = plaintext XOR keystream, as in the SP 800-38A F.5 test vectors.

    Raises ``ValueError`` if the counter would wrap past ``2**128 - 1``.
    """
    key = _check_key(key)
    icb = _check_icb(initial_counter_block)
    nbytes = operator.index(nbytes)
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0; got {nbytes}")
    nblocks = -(-nbytes // BLOCK_BYTES)
    if int.from_bytes(icb, "big") + nblocks > _COUNTER_SPACE:
        raise ValueError("the counter would wrap around 2**128: choose a smaller initial block")
    cipher = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=icb)
    return cipher.encrypt(bytes(nbytes))


def _keystream_chunks(
    key: bytes, icbs: Sequence[int], nbytes: int, images_per_chunk: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(i, j, ks)`` with ``ks[r]`` the first ``nbytes`` keystream bytes of image ``i + r``.

    Images whose counter ranges follow one another (the default nonces) share one pycryptodome
    stream, so a whole batch costs a handful of C calls. ``ks`` is a view of a reused buffer:
    the caller must consume it before asking for the next chunk.
    """
    nblocks = max(1, -(-nbytes // BLOCK_BYTES))
    stride = nblocks * BLOCK_BYTES
    per_chunk = max(1, images_per_chunk)
    buf = np.empty(min(per_chunk, max(1, len(icbs))) * stride, dtype=np.uint8)
    zeros = memoryview(bytes(buf.size))
    cipher = None
    next_counter = -1
    i, n = 0, len(icbs)
    while i < n:
        j = i + 1
        limit = min(n, i + per_chunk)
        while j < limit and icbs[j] == icbs[j - 1] + nblocks:
            j += 1
        if cipher is None or icbs[i] != next_counter:
            cipher = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=icbs[i].to_bytes(16, "big"))
        size = (j - i) * stride
        cipher.encrypt(zeros[:size], output=memoryview(buf)[:size])
        next_counter = icbs[j - 1] + nblocks
        yield i, j, buf[:size].reshape(j - i, stride)[:, :nbytes]
        i = j


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------

_IMAGES_EXPECTED = "a numpy uint8 array of shape (N, H, W) or (N, H, W, C)"


def check_images(images: Any, name: str = "images") -> np.ndarray:
    """``images`` as a contiguous uint8 array (N, H, W) or (N, H, W, C); else a TypeError/ValueError that
    says what was expected and how to convert."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{name} must be {_IMAGES_EXPECTED}; got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise TypeError(
            f"{name} must be {_IMAGES_EXPECTED}; got dtype {images.dtype}. Convert first, e.g. "
            "skimage.util.img_as_ubyte(x) for floats in [0, 1] or np.clip(x, 0, 255).astype(np.uint8)"
        )
    if images.ndim not in (3, 4):
        hint = " (one image of shape (H, W)? pass image[None])" if images.ndim == 2 else ""
        raise ValueError(
            f"{name} must be {_IMAGES_EXPECTED}; got {images.ndim}-D shape {images.shape}{hint}"
        )
    if any(s == 0 for s in images.shape[1:]):
        raise ValueError(f"{name} must have non-empty H, W (and C); got shape {images.shape}")
    return np.ascontiguousarray(images)


_check_images = check_images


def _check_nonces(nonces: Any, n: int) -> np.ndarray:
    if isinstance(nonces, np.ndarray):
        arr = nonces
        if arr.dtype != np.uint8:
            raise TypeError(f"nonces must be a uint8 array of shape ({n}, {NONCE_BYTES}); got dtype {arr.dtype}")
    elif isinstance(nonces, (list, tuple)):
        rows = []
        for k, item in enumerate(nonces):
            if not isinstance(item, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"nonces[{k}] must be {NONCE_BYTES} bytes; got {type(item).__name__}"
                )
            if len(bytes(item)) != NONCE_BYTES:
                raise ValueError(
                    f"each nonce must be {NONCE_BYTES} bytes (a full initial counter block); "
                    f"nonces[{k}] has {len(bytes(item))}"
                )
            rows.append(np.frombuffer(bytes(item), dtype=np.uint8))
        arr = np.stack(rows) if rows else np.zeros((0, NONCE_BYTES), np.uint8)
    else:
        raise TypeError(
            f"nonces must be a ({n}, {NONCE_BYTES}) uint8 array or a list of {n} {NONCE_BYTES}-byte "
            f"strings; got {type(nonces).__name__}"
        )
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] != NONCE_BYTES:
        raise ValueError(
            f"nonces must have shape ({n}, {NONCE_BYTES}): one {NONCE_BYTES}-byte nonce per image; "
            f"got shape {arr.shape}"
        )
    return np.ascontiguousarray(arr)


def _icbs_to_ints(nonces: np.ndarray) -> list[int]:
    return [int.from_bytes(row.tobytes(), "big") for row in nonces]


def _check_counter_ranges(icbs: Sequence[int], nblocks: int, allow_reuse: bool) -> None:
    """Counter ranges ``[icb, icb + nblocks)`` must fit below 2**128 and, unless allowed, be disjoint."""
    for k, c in enumerate(icbs):
        if c + nblocks > _COUNTER_SPACE:
            raise ValueError(
                f"nonce {k} leaves too little counter space: an image needs {nblocks} counter "
                "blocks and the 128-bit counter must not wrap"
            )
    if allow_reuse or len(icbs) < 2:
        return
    order = sorted(range(len(icbs)), key=icbs.__getitem__)
    for a, b in zip(order, order[1:]):
        if icbs[a] == icbs[b]:
            raise ValueError(
                f"nonces {min(a, b)} and {max(a, b)} are equal: reusing a nonce under one key reuses "
                "keystream and leaks the XOR of the two images. Give every image its own nonce, "
                "or pass allow_nonce_reuse_unsafe=True for a demonstration"
            )
        if icbs[b] < icbs[a] + nblocks:
            raise ValueError(
                f"nonces {min(a, b)} and {max(a, b)} give overlapping counter ranges (each image "
                f"uses {nblocks} consecutive counter blocks), so keystream would be reused. Space "
                "nonces at least that far apart, or pass allow_nonce_reuse_unsafe=True"
            )


def _generate_icbs(n: int, nblocks: int, seed: int | None) -> list[int]:
    total = max(1, n) * nblocks
    space = _COUNTER_SPACE - total + 1
    if seed is None:
        start = int.from_bytes(secrets.token_bytes(24), "big") % space
    else:
        seed = operator.index(seed)
        digest = hashlib.sha256(f"seleak/encryption/nonce/v1/{seed}".encode()).digest()
        start = int.from_bytes(digest[:24], "big") % space
    return [start + i * nblocks for i in range(n)]


def _ints_to_nonces(icbs: Sequence[int]) -> np.ndarray:
    if not icbs:
        return np.zeros((0, NONCE_BYTES), np.uint8)
    return np.frombuffer(b"".join(c.to_bytes(16, "big") for c in icbs), np.uint8).reshape(-1, 16).copy()


# --------------------------------------------------------------------------------------------
# schemes
# --------------------------------------------------------------------------------------------

_SPEC_FORMS = (
    "full | msb:K | lsb:K (K = 0..8) | planes:P,P,... (0 = LSB .. 7 = MSB) | "
    "region:box:Y0,X0,Y1,X1[+...][@PLANES] | region:center:F[@PLANES] | "
    "region:mask:HxW:B64[@PLANES] | dct:qQ:none|dc|acN|ac=I,J|dc+acN|dc+ac=I,J"
)


class Scheme(abc.ABC):
    """Base class of the selective-encryption schemes."""

    @property
    @abc.abstractmethod
    def spec(self) -> str:
        """A string that :func:`parse_scheme` turns back into an equal scheme."""

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """A short human label for legends and tables."""

    @property
    def amount(self) -> float | None:
        """A number for the x-axis of plots (planes, area fraction, AC coefficients), or ``None``."""
        return None

    @property
    def is_pixel_scheme(self) -> bool:
        """True when the scheme XORs keystream into pixel bits (exact pixel round trip)."""
        return True

    def keystream_nbytes(self, image_shape: tuple[int, ...]) -> int:
        """Keystream bytes one image of shape ``(H, W)`` or ``(H, W, C)`` consumes."""
        return int(np.prod(image_shape))

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """The encrypted bits of one image, as a uint8 array broadcastable to ``image_shape``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"parse_scheme({self.spec!r})"


def _check_plane(p: Any) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
        raise TypeError(f"bit-planes must be ints in 0..7 (0 = LSB, 7 = MSB); got {p!r}")
    if not 0 <= int(p) <= 7:
        raise ValueError(f"bit-planes must be in 0..7 (0 = least, 7 = most significant); got {p}")
    return int(p)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int in 0..8; got {type(k).__name__}")
    if not 0 <= int(k) <= 8:
        raise ValueError(f"k must be in 0..8 (number of bit-planes); got {k}")
    return int(k)


class BitPlanes(Scheme):
    """Encrypt a set of bit-planes of every pixel (plane 0 = least, 7 = most significant).

    ``BitPlanes.msb(3)`` is planes (7, 6, 5); ``BitPlanes.lsb(2)`` is planes (1, 0);
    ``BitPlanes((7, 0))`` any set. Schemes with the same set of planes are equal.
    """

    __slots__ = ("_planes",)

    def __init__(self, planes: Iterable[int] | int = ()):
        if isinstance(planes, (int, np.integer)) and not isinstance(planes, bool):
            planes = (planes,)
        if isinstance(planes, (str, bytes)) or not isinstance(planes, Iterable):
            raise TypeError(f"planes must be an iterable of ints in 0..7; got {type(planes).__name__}")
        checked = [_check_plane(p) for p in planes]
        if len(set(checked)) != len(checked):
            dup = sorted({p for p in checked if checked.count(p) > 1})
            raise ValueError(f"bit-planes must not repeat; plane(s) {dup} given more than once")
        self._planes = tuple(sorted(checked, reverse=True))

    @classmethod
    def msb(cls, k: int) -> "BitPlanes":
        """The ``k`` most significant planes, ``k`` = 0..8."""
        k = _check_k(k)
        return cls(range(7, 7 - k, -1))

    @classmethod
    def lsb(cls, k: int) -> "BitPlanes":
        """The ``k`` least significant planes, ``k`` = 0..8."""
        k = _check_k(k)
        return cls(range(k))

    @property
    def planes(self) -> tuple[int, ...]:
        """The encrypted planes, most significant first."""
        return self._planes

    @property
    def mask(self) -> int:
        """The encrypted bits of one pixel value as an int (e.g. 0b11100000 for msb(3))."""
        return sum(1 << p for p in self._planes)

    @property
    def spec(self) -> str:
        k = len(self._planes)
        if self._planes == tuple(range(7, 7 - k, -1)):
            return f"msb:{k}"
        if self._planes == tuple(range(k - 1, -1, -1)):
            return f"lsb:{k}"
        return "planes:" + ",".join(map(str, self._planes))

    @property
    def label(self) -> str:
        k = len(self._planes)
        if k == 0:
            return "clear (0 planes)"
        if k == 8:
            return "all 8 planes"
        s = self.spec
        if s.startswith("msb"):
            return f"{k} MSB"
        if s.startswith("lsb"):
            return f"{k} LSB"
        return "planes " + ",".join(map(str, self._planes))

    @property
    def amount(self) -> float:
        return float(len(self._planes))

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        return np.full((1,) * len(image_shape), self.mask, dtype=np.uint8)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BitPlanes) and other._planes == self._planes

    def __hash__(self) -> int:
        return hash(("BitPlanes", self._planes))


class Full(Scheme):
    """Full encryption: every bit of every pixel. The reference for "no leakage"."""

    @property
    def spec(self) -> str:
        return "full"

    @property
    def label(self) -> str:
        return "full encryption"

    @property
    def amount(self) -> float:
        return 8.0

    @property
    def mask(self) -> int:
        return 0xFF

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        return np.full((1,) * len(image_shape), 0xFF, dtype=np.uint8)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Full)

    def __hash__(self) -> int:
        return hash("Full")


def _as_planes(planes: Any) -> BitPlanes:
    if planes is None:
        return BitPlanes.msb(8)
    if isinstance(planes, BitPlanes):
        return planes
    if isinstance(planes, Full):
        return BitPlanes.msb(8)
    if isinstance(planes, str):
        parsed = parse_scheme(planes)
        if not isinstance(parsed, BitPlanes):
            raise ValueError(f"planes must be a bit-plane spec (msb:K, lsb:K, planes:...); got {planes!r}")
        return parsed
    return BitPlanes(planes)


class Region(Scheme):
    """Encrypt the chosen bit-planes (default: all 8) only inside a region of every image.

    Give exactly one of ``mask`` (boolean ``(H, W)`` array, True = encrypt), ``boxes``
    (half-open pixel boxes ``(y0, x0, y1, x1)``) or ``center`` (a centred box covering that
    fraction of the image area, resolved for each image size; also :meth:`Region.centered`).
    The same region applies to every image and every channel.
    """

    __slots__ = ("_mask", "_boxes", "_center", "_planes")

    def __init__(
        self,
        mask: np.ndarray | None = None,
        boxes: Sequence[Sequence[int]] | None = None,
        planes: BitPlanes | Iterable[int] | str | None = None,
        *,
        center: float | None = None,
    ):
        given = sum(x is not None for x in (mask, boxes, center))
        if given != 1:
            raise ValueError("Region needs exactly one of mask=, boxes= or center=")
        self._mask: np.ndarray | None = None
        self._boxes: tuple[tuple[int, int, int, int], ...] | None = None
        self._center: float | None = None
        if mask is not None:
            m = np.asarray(mask)
            if m.ndim != 2 or m.size == 0:
                raise ValueError(f"a region mask must be a non-empty 2-D (H, W) array; got shape {m.shape}")
            if m.dtype != bool:
                if not np.issubdtype(m.dtype, np.integer) or not np.isin(m, (0, 1)).all():
                    raise TypeError(f"a region mask must be boolean (or 0/1 integers); got dtype {m.dtype}")
                m = m.astype(bool)
            m = m.copy()
            m.setflags(write=False)
            self._mask = m
        elif boxes is not None:
            if isinstance(boxes, np.ndarray):
                boxes = boxes.tolist()
            if len(boxes) and isinstance(boxes[0], (int, np.integer)):
                boxes = [boxes]  # one box given flat
            out = []
            for b in boxes:
                if len(b) != 4:
                    raise ValueError(f"a box is (y0, x0, y1, x1); got {tuple(b)}")
                y0, x0, y1, x1 = (operator.index(v) for v in b)
                if not (0 <= y0 < y1 and 0 <= x0 < x1):
                    raise ValueError(
                        f"a box (y0, x0, y1, x1) needs 0 <= y0 < y1 and 0 <= x0 < x1 (half-open); got {tuple(b)}"
                    )
                out.append((y0, x0, y1, x1))
            if not out:
                raise ValueError("boxes must hold at least one (y0, x0, y1, x1) box")
            self._boxes = tuple(out)
        else:
            f = float(center)  # type: ignore[arg-type]
            if not 0.0 < f <= 1.0:
                raise ValueError(f"center must be an area fraction in (0, 1]; got {center}")
            self._center = f
        self._planes = _as_planes(planes)

    @classmethod
    def centered(cls, fraction: float, planes: Any = None) -> "Region":
        """A centred box covering ``fraction`` of the image area (same aspect ratio as the image)."""
        return cls(center=fraction, planes=planes)

    @property
    def planes(self) -> BitPlanes:
        return self._planes

    def region_mask(self, height: int, width: int) -> np.ndarray:
        """The boolean ``(height, width)`` region; raises ``ValueError`` if it leaves the image."""
        if self._mask is not None:
            if self._mask.shape != (height, width):
                raise ValueError(
                    f"the region mask has shape {self._mask.shape} but the images are {height}x{width}"
                )
            return self._mask
        m = np.zeros((height, width), dtype=bool)
        if self._boxes is not None:
            for y0, x0, y1, x1 in self._boxes:
                if y1 > height or x1 > width:
                    raise ValueError(
                        f"box (y0, x0, y1, x1) = {(y0, x0, y1, x1)} lies outside the {height}x{width} "
                        f"image: need y1 <= {height} and x1 <= {width}"
                    )
                m[y0:y1, x0:x1] = True
            return m
        side = math.sqrt(self._center)  # type: ignore[arg-type]
        bh = min(height, max(1, round(side * height)))
        bw = min(width, max(1, round(side * width)))
        y0, x0 = (height - bh) // 2, (width - bw) // 2
        m[y0 : y0 + bh, x0 : x0 + bw] = True
        return m

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        region = self.region_mask(image_shape[0], image_shape[1])
        m = np.where(region, np.uint8(self._planes.mask), np.uint8(0)).astype(np.uint8)
        return m if len(image_shape) == 2 else m[:, :, None]

    @property
    def spec(self) -> str:
        if self._boxes is not None:
            where = "box:" + "+".join(",".join(map(str, b)) for b in self._boxes)
        elif self._center is not None:
            where = f"center:{self._center!r}"
        else:
            m = self._mask
            assert m is not None
            packed = zlib.compress(np.packbits(m).tobytes(), 9)
            where = f"mask:{m.shape[0]}x{m.shape[1]}:" + base64.urlsafe_b64encode(packed).decode().rstrip("=")
        suffix = "" if len(self._planes.planes) == 8 else f"@{self._planes.spec}"
        return f"region:{where}{suffix}"

    @property
    def label(self) -> str:
        planes = "" if len(self._planes.planes) == 8 else f", {self._planes.label}"
        if self._center is not None:
            return f"centre {self._center:.0%}{planes}"
        if self._boxes is not None:
            return f"{len(self._boxes)} box{'es' if len(self._boxes) > 1 else ''}{planes}"
        return f"mask {self.amount:.0%}{planes}"

    @property
    def amount(self) -> float | None:
        """Fraction of the image area encrypted (``None`` for boxes: it depends on the image size)."""
        if self._center is not None:
            return self._center
        if self._mask is not None:
            return float(self._mask.mean())
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Region) or other._planes != self._planes:
            return False
        if self._mask is not None or other._mask is not None:
            return (
                self._mask is not None
                and other._mask is not None
                and self._mask.shape == other._mask.shape
                and bool((self._mask == other._mask).all())
            )
        return self._boxes == other._boxes and self._center == other._center

    def __hash__(self) -> int:
        key = self._mask.tobytes() if self._mask is not None else (self._boxes, self._center)
        return hash(("Region", key, self._planes))


# ---- JPEG-style DCT ----------------------------------------------------------------------

_LUMA_Q = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)  # ITU-T T.81 (JPEG) Annex K, Table K.1
_CHROMA_Q = np.full((8, 8), 99, dtype=np.int64)  # Table K.2
_CHROMA_Q[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def _zigzag() -> tuple[tuple[int, int], ...]:
    order = []
    for s in range(15):
        rows = range(min(s, 7), max(0, s - 7) - 1, -1) if s % 2 == 0 else range(max(0, s - 7), min(s, 7) + 1)
        order.extend((r, s - r) for r in rows)
    return tuple(order)


ZIGZAG: tuple[tuple[int, int], ...] = _zigzag()
"""JPEG zigzag order: ``ZIGZAG[i]`` is the (row, column) of the i-th coefficient of a block."""


def jpeg_quant_table(quality: int, chroma: bool = False) -> np.ndarray:
    """The JPEG Annex K table scaled to ``quality`` (1..100) as libjpeg/IJG does, entries in 1..255."""
    q = operator.index(quality)
    if not 1 <= q <= 100:
        raise ValueError(f"JPEG quality must be in 1..100; got {quality}")
    scale = 5000 // q if q < 50 else 200 - 2 * q
    base = _CHROMA_Q if chroma else _LUMA_Q
    return np.clip((base * scale + 50) // 100, 1, 255)


def _rgb_to_ycbcr(x: np.ndarray) -> np.ndarray:
    r, g, b = x[..., 0], x[..., 1], x[..., 2]  # JFIF 1.02 full-range conversion
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0
    return np.stack([y, cb, cr], axis=-1)


def _ycbcr_to_rgb(x: np.ndarray) -> np.ndarray:
    y, cb, cr = x[..., 0], x[..., 1] - 128.0, x[..., 2] - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.stack([r, g, b], axis=-1)


@dataclass(frozen=True, init=False, repr=False)
class DCT(Scheme):
    """JPEG-style selective encryption of quantised 8x8 block-DCT coefficients.

    Each image is level-shifted, split into 8x8 blocks (edges padded by replication, as JPEG
    encoders do), transformed with the orthonormal 2-D DCT-II and quantised with the JPEG Annex K
    table scaled to ``quality`` (IJG scaling). Three-channel images are first converted to JFIF
    YCbCr (luminance table for Y, chrominance table for Cb and Cr, no subsampling); any other
    channel count uses the luminance table on every channel.

    * ``dc=True``: each DC coefficient ``q`` in its valid range ``[-m, m]`` (``m = ceil(1024 /
      Q[0,0])``) becomes ``-m + ((q + m + s) mod (2m+1))`` with ``s`` a 32-bit keystream word (the
      modulo bias, below ``(2m+1) / 2**32``, is negligible). The result stays a valid DC value.
    * ``ac_signs=n`` flips, with one keystream bit each, the signs of the first ``n`` AC
      coefficients in zigzag order (or of the zigzag positions listed, e.g. ``(1, 2, 5)``).
      Zero coefficients have no sign and stay zero, as in JPEG sign encryption.

    Decryption restores the quantised coefficients **exactly**; the pixels of
    :func:`decrypt` are those coefficients rendered (dequantised, inverse DCT, clipped, rounded),
    i.e. exactly ``scheme.compress(images)``: the JPEG-compressed plaintext, not the original.
    """

    quality: int
    dc: bool
    ac_signs: tuple[int, ...]

    def __init__(self, quality: int = 50, dc: bool = True, ac_signs: int | Iterable[int] = 0):
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
            raise TypeError(f"quality must be an int in 1..100; got {type(quality).__name__}")
        if not 1 <= int(quality) <= 100:
            raise ValueError(f"quality must be in 1..100; got {quality}")
        if not isinstance(dc, (bool, np.bool_)):
            raise TypeError(f"dc must be True or False; got {dc!r}")
        if isinstance(ac_signs, (int, np.integer)) and not isinstance(ac_signs, bool):
            if not 0 <= int(ac_signs) <= 63:
                raise ValueError(f"ac_signs as a count must be in 0..63; got {ac_signs}")
            idx: tuple[int, ...] = tuple(range(1, int(ac_signs) + 1))
        else:
            try:
                idx = tuple(sorted(operator.index(i) for i in ac_signs))  # type: ignore[union-attr]
            except TypeError:
                raise TypeError(
                    f"ac_signs must be a count 0..63 or zigzag positions in 1..63; got {ac_signs!r}"
                ) from None
            if any(not 1 <= i <= 63 for i in idx) or len(set(idx)) != len(idx):
                raise ValueError(f"ac_signs positions must be distinct zigzag indices in 1..63; got {ac_signs!r}")
        object.__setattr__(self, "quality", int(quality))
        object.__setattr__(self, "dc", bool(dc))
        object.__setattr__(self, "ac_signs", idx)

    # -- naming
    @property
    def spec(self) -> str:
        parts = ["dc"] if self.dc else []
        n = len(self.ac_signs)
        if n:
            parts.append(f"ac{n}" if self.ac_signs == tuple(range(1, n + 1)) else "ac=" + ",".join(map(str, self.ac_signs)))
        return f"dct:q{self.quality}:" + ("+".join(parts) if parts else "none")

    @property
    def label(self) -> str:
        parts = (["DC"] if self.dc else []) + ([f"{len(self.ac_signs)} AC signs"] if self.ac_signs else [])
        return f"DCT q{self.quality}: " + (" + ".join(parts) if parts else "nothing")

    @property
    def amount(self) -> float:
        """Number of AC sign positions encrypted per block."""
        return float(len(self.ac_signs))

    @property
    def is_pixel_scheme(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DCT(quality={self.quality}, dc={self.dc}, ac_signs={self.ac_signs})"

    # -- transform
    def _tables(self, channels: int) -> np.ndarray:
        luma = jpeg_quant_table(self.quality)
        if channels == 3:
            chroma = jpeg_quant_table(self.quality, chroma=True)
            return np.stack([luma, chroma, chroma]).astype(np.float64)
        return np.stack([luma] * channels).astype(np.float64)

    def dc_limit(self, channels: int) -> np.ndarray:
        """``m`` per channel: quantised DC values lie in ``[-m, m]``."""
        return np.ceil(1024.0 / self._tables(channels)[:, 0, 0]).astype(np.int64)

    def forward(self, images: np.ndarray) -> np.ndarray:
        """Quantised coefficients, int16 of shape ``(N, C, H8, W8, 8, 8)`` (C = 1 for (N, H, W))."""
        images = _check_images(images)
        x = images.astype(np.float64)
        if x.ndim == 3:
            x = x[..., None]
        n, h, w, c = x.shape
        if c == 3:
            x = _rgb_to_ycbcr(x)
        x = np.moveaxis(x, -1, 1) - 128.0
        hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
        if (hp, wp) != (h, w):
            x = np.pad(x, ((0, 0), (0, 0), (0, hp - h), (0, wp - w)), mode="edge")
        # the orthonormal DCT-II along both within-block axes is JPEG's FDCT (T.81, A.3.3)
        coef = scipy.fft.dctn(x.reshape(n, c, hp // 8, 8, wp // 8, 8), type=2, axes=(3, 5), norm="ortho")
        coef = coef.transpose(0, 1, 2, 4, 3, 5)
        return np.rint(coef / self._tables(c)[None, :, None, None]).astype(np.int16)

    def render(self, coefficients: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
        """Pixels (uint8, ``(N,) + image_shape``) of quantised coefficients: dequantise, inverse DCT,
        back to RGB for 3 channels, crop the padding, round and clip to 0..255."""
        coefficients = np.asarray(coefficients)
        n, c = coefficients.shape[:2]
        h, w = image_shape[0], image_shape[1]
        blocks = coefficients.astype(np.float64) * self._tables(c)[None, :, None, None]
        hb, wb = blocks.shape[2], blocks.shape[3]
        pix = scipy.fft.idctn(blocks.transpose(0, 1, 2, 4, 3, 5), type=2, axes=(3, 5), norm="ortho")
        x = pix.reshape(n, c, hb * 8, wb * 8)[:, :, :h, :w] + 128.0
        x = np.moveaxis(x, 1, -1)
        if c == 3:
            x = _ycbcr_to_rgb(x)
        out = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        return out[..., 0] if len(image_shape) == 2 else out

    def compress(self, images: np.ndarray) -> np.ndarray:
        """The JPEG-style round trip of the plaintext: what :func:`decrypt` returns for this scheme."""
        images = _check_images(images)
        return self.render(self.forward(images), images.shape[1:])

    # -- keystream use
    def _layout(self, image_shape: tuple[int, ...]) -> tuple[int, int, int]:
        h, w = image_shape[0], image_shape[1]
        c = image_shape[2] if len(image_shape) == 3 else 1
        nblk = c * (-(-h // 8)) * (-(-w // 8))
        dc_bytes = 4 * nblk if self.dc else 0
        ac_bytes = -(-(nblk * len(self.ac_signs)) // 8)
        return nblk, dc_bytes, ac_bytes

    def keystream_nbytes(self, image_shape: tuple[int, ...]) -> int:
        _, dc_bytes, ac_bytes = self._layout(image_shape)
        return dc_bytes + ac_bytes

    def _transform(self, q: np.ndarray, ks: np.ndarray, image_shape: tuple[int, ...], inverse: bool) -> np.ndarray:
        """Encrypt (or decrypt) coefficients ``q`` (n, C, Hb, Wb, 8, 8) in place with keystream rows."""
        nblk, dc_bytes, ac_bytes = self._layout(image_shape)
        n, c = q.shape[:2]
        grid = q.shape[:4]
        if self.dc:
            words = np.ascontiguousarray(ks[:, :dc_bytes]).view("<u4").astype(np.int64).reshape(grid)
            m = self.dc_limit(c)[None, :, None, None]
            span = 2 * m + 1
            dc = q[..., 0, 0].astype(np.int64) + m
            dc = (dc - words) % span if inverse else (dc + words) % span
            q[..., 0, 0] = (dc - m).astype(np.int16)
        if self.ac_signs:
            bits = np.unpackbits(ks[:, dc_bytes : dc_bytes + ac_bytes], axis=1)[:, : nblk * len(self.ac_signs)]
            flip = bits.reshape(grid + (len(self.ac_signs),)).astype(bool)
            rows = [ZIGZAG[i][0] for i in self.ac_signs]
            cols = [ZIGZAG[i][1] for i in self.ac_signs]
            sel = q[..., rows, cols]
            q[..., rows, cols] = np.where(flip, -sel, sel)
        return q

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        raise TypeError("the DCT scheme changes coefficients, not a fixed set of pixel bits")


#: The largest explicit region mask a spec may carry (2^28 pixels, 32 MiB packed).
_MAX_MASK_PIXELS = 1 << 28


def parse_scheme(spec: str) -> Scheme:
    """The scheme a spec string names (see the module docstring for the grammar)."""
    if isinstance(spec, Scheme):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a scheme spec must be a str; got {type(spec).__name__}")
    s = spec.strip()

    def bad(why: str) -> ValueError:
        return ValueError(f"bad scheme spec {spec!r}: {why}. Forms: {_SPEC_FORMS}")

    try:
        if s == "full":
            return Full()
        head, _, rest = s.partition(":")
        if head in ("msb", "lsb"):
            if not rest.isdigit():
                raise bad("K must be an integer 0..8")
            return BitPlanes.msb(int(rest)) if head == "msb" else BitPlanes.lsb(int(rest))
        if head == "planes":
            items = [p for p in rest.split(",") if p != ""] if rest else []
            if not all(p.strip().isdigit() for p in items):
                raise bad("planes are comma-separated integers 0..7")
            return BitPlanes(int(p) for p in items)
        if head == "region":
            where, at, planes = rest.partition("@")
            plane_scheme = _as_planes(planes) if at else None
            kind, _, arg = where.partition(":")
            if kind == "box":
                boxes = []
                for part in arg.split("+"):
                    nums = part.split(",")
                    if len(nums) != 4 or not all(v.strip().isdigit() for v in nums):
                        raise bad("a box is Y0,X0,Y1,X1 (non-negative integers)")
                    boxes.append(tuple(int(v) for v in nums))
                return Region(boxes=boxes, planes=plane_scheme)
            if kind == "center":
                try:
                    f = float(arg)
                except ValueError:
                    raise bad("the centre fraction must be a number in (0, 1]") from None
                return Region(center=f, planes=plane_scheme)
            if kind == "mask":
                size, _, b64 = arg.partition(":")
                hw = size.split("x")
                if len(hw) != 2 or not all(v.isdigit() for v in hw) or not b64:
                    raise bad("a mask region is mask:HxW:BASE64")
                h, w = int(hw[0]), int(hw[1])
                if not 0 < h * w <= _MAX_MASK_PIXELS:
                    raise bad(f"a mask has 1 to {_MAX_MASK_PIXELS} pixels, got {h}x{w}")
                # the packed mask needs ceil(H*W/8) bytes: decode no more than that, so a small spec
                # cannot expand into gigabytes (a zlib bomb)
                need = -(-h * w // 8)
                try:
                    inflater = zlib.decompressobj()
                    raw = inflater.decompress(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), need)
                except (zlib.error, ValueError) as err:
                    raise bad(f"the mask data is not zlib + base64url ({err})") from None
                if inflater.unconsumed_tail or not inflater.eof:
                    raise bad("the mask data is longer than HxW")
                bits = np.unpackbits(np.frombuffer(raw, np.uint8))
                if bits.size < h * w:
                    raise bad("the mask data is shorter than HxW")
                return Region(mask=bits[: h * w].reshape(h, w).astype(bool), planes=plane_scheme)
            raise bad(f"unknown region kind {kind!r}")
        if head == "dct":
            qpart, _, parts = rest.partition(":")
            if not (qpart.startswith("q") and qpart[1:].isdigit()):
                raise bad("the quality is qQ with Q in 1..100")
            dc = False
            ac: Any = 0
            for part in parts.split("+") if parts else []:
                if part == "dc":
                    dc = True
                elif part == "none":
                    pass
                elif part.startswith("ac="):
                    ac = [int(v) for v in part[3:].split(",")]
                elif part.startswith("ac") and part[2:].isdigit():
                    ac = int(part[2:])
                else:
                    raise bad(f"unknown DCT part {part!r}")
            return DCT(quality=int(qpart[1:]), dc=dc, ac_signs=ac)
    except ValueError as e:
        if str(e).startswith("bad scheme spec"):
            raise
        raise bad(str(e)) from None
    except (TypeError, zlib.error, base64.binascii.Error) as e:  # type: ignore[attr-defined]
        raise bad(str(e)) from None
    raise bad("unknown form")


def _as_scheme(scheme: Any) -> Scheme:
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, str):
        return parse_scheme(scheme)
    raise TypeError(
        f"scheme must be a Scheme (BitPlanes, Region, DCT, Full) or a spec string; got {type(scheme).__name__}"
    )


# --------------------------------------------------------------------------------------------
# authentication of what decryption needs besides the key
# --------------------------------------------------------------------------------------------

SALT_BYTES = 16
"""Length of the per-ciphertext random salt of the authentication key."""
TAG_BYTES = 32
"""Length of the authentication tag (HMAC-SHA256)."""
_CT_FORMAT = "seleak-ciphertext-1"
_CT_MAC_CONTEXT = b"seleak ciphertext mac v1"
_AUTH_FAILED = "authentication failed: wrong key, or the scheme/nonces/shape were altered"


def _mac_key(key: bytes, salt: bytes, context: bytes) -> bytes:
    """A MAC key derived from the AES key (HKDF-SHA256).

    The AES key itself never keys the MAC (one key, one purpose), and a fresh random salt per
    ciphertext makes every MAC key different: two files under one key cannot be linked by their tags.
    """
    from Crypto.Hash import SHA256
    from Crypto.Protocol.KDF import HKDF

    return HKDF(bytes(key), 32, bytes(salt), SHA256, context=context)  # type: ignore[return-value]


def _auth_tag(key: bytes, salt: bytes, context: bytes, fields: Sequence[tuple[str, bytes | str]]) -> bytes:
    """HMAC-SHA256 under a key derived from ``key`` and ``salt``, over named fields.

    Each name and value is length-prefixed, so no two different field lists encode to the same bytes
    (``("ab", "c")`` and ``("a", "bc")`` differ). ``context`` separates the uses (PNG metadata,
    :class:`Ciphertext`), so a tag from one can never be replayed as the other.
    """
    import hmac
    import struct

    msg = bytearray(struct.pack(">I", len(context)) + context)
    for name, value in fields:
        v = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        n = name.encode("utf-8")
        msg += struct.pack(">I", len(n)) + n + struct.pack(">Q", len(v)) + v
    return hmac.new(_mac_key(key, salt, context), bytes(msg), hashlib.sha256).digest()


def _scheme_fingerprint(scheme: Scheme, image_shape: tuple[int, ...]) -> str:
    """What the tag binds of the scheme: exactly what decryption applies.

    For pixel schemes that is the bit mask at this image size, hashed: the spec of a mask region
    embeds zlib output, which other zlib builds may produce differently for the same mask, and a
    tag over the spec would then fail after a save on one machine and a load on another. DCT specs
    hold no such bytes and are used as they are.
    """
    if scheme.is_pixel_scheme:
        mask = np.ascontiguousarray(np.broadcast_to(scheme.bit_mask(image_shape), image_shape))
        return "pixel-bit-mask:" + hashlib.sha256(mask.tobytes()).hexdigest()
    return "spec:" + scheme.spec


def _ciphertext_fields(
    images: np.ndarray, nonces: np.ndarray, scheme: Scheme, coefficients: np.ndarray | None
) -> list[tuple[str, bytes | str]]:
    coef = "none" if coefficients is None else f"{coefficients.dtype.str}:{tuple(coefficients.shape)}"
    return [
        ("format", _CT_FORMAT),
        ("scheme", _scheme_fingerprint(scheme, tuple(images.shape[1:]))),
        ("nonces", np.ascontiguousarray(nonces, dtype=np.uint8).tobytes()),
        ("shape", ",".join(str(int(s)) for s in images.shape)),
        ("dtype", images.dtype.str),
        ("coefficients", coef),
    ]


def _check_mask_spec_size(spec: str, height: int, width: int) -> None:
    """Refuse a ``region:mask`` spec whose mask is not ``height x width`` or whose text is longer than
    such a mask can need (:func:`parse_scheme` bounds its decompression to ``ceil(H*W/8)`` bytes)."""
    s = spec.strip()
    if not s.startswith("region:mask:"):
        return
    body = s[len("region:mask:"):].partition("@")[0]
    size, _, b64 = body.partition(":")
    hw = size.split("x")
    if len(hw) != 2 or not all(v.isdigit() and len(v) <= 9 for v in hw):
        return  # malformed: parse_scheme gives the precise message
    h, w = int(hw[0]), int(hw[1])
    if (h, w) != (int(height), int(width)):
        raise ValueError(f"the scheme's region mask is {h}x{w} but the images are {height}x{width}")
    need = -(-h * w // 8)
    # base64 of zlib data: 4 characters per 3 bytes; zlib adds at most ~0.1 % + a few bytes. The
    # decompression itself is bounded by parse_scheme.
    if len(b64) > 4 * (need + need // 1000 + 64) // 3 + 4:
        raise ValueError(f"the scheme's region mask spec is {len(b64)} characters, too long for a "
                         f"{h}x{w} mask; the scheme is damaged or was crafted")


def _parse_scheme_for_shape(spec: str, image_shape: tuple[int, ...]) -> Scheme:
    """:func:`parse_scheme` for a spec read from a file, with its size bounded by the image size."""
    if not isinstance(spec, str):
        raise TypeError(f"a scheme spec must be a str; got {type(spec).__name__}")
    h, w = int(image_shape[0]), int(image_shape[1])
    limit = 512 + -(-h * w // 4)
    if len(spec) > limit:
        raise ValueError(f"the scheme spec is {len(spec)} characters, more than the {limit} any scheme "
                         f"of a {h}x{w} image needs; the file is damaged or was crafted")
    _check_mask_spec_size(spec, h, w)
    return parse_scheme(spec)


# --------------------------------------------------------------------------------------------
# encrypt / decrypt
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Ciphertext:
    """The result of :func:`encrypt`.

    ``images``: uint8, the input's shape. For pixel schemes only the scheme's bits differ from
    the input; for :class:`DCT` it is the rendering of the encrypted coefficients.
    ``nonces``: ``(N, 16)`` uint8, one initial counter block per image (needed to decrypt, not
    secret). ``scheme``: the scheme. ``coefficients``: for :class:`DCT` only, the encrypted
    quantised coefficients ``(N, C, H8, W8, 8, 8)`` int16, which exact decryption needs.

    ``salt`` (16 random bytes) and ``tag`` (32 bytes): set by :func:`encrypt`. ``tag`` is an
    HMAC-SHA256 under a key derived from the AES key and ``salt`` (HKDF-SHA256) over the format,
    the scheme, the nonces, the images' shape and dtype and the coefficients' shape. :func:`decrypt`
    checks it, so a wrong key or an altered scheme, nonce or shape raises instead of decrypting to
    garbage. It does not cover the pixel values: as in any stream cipher, a changed ciphertext bit
    changes only the same plaintext bit. A ``Ciphertext`` built by hand has no tag; decrypt it with
    ``decrypt(ct, key, verify=False)``.
    """

    images: np.ndarray
    nonces: np.ndarray
    scheme: Scheme
    coefficients: np.ndarray | None = None
    salt: bytes | None = None
    tag: bytes | None = None

    @property
    def nonce_hex(self) -> list[str]:
        """The nonces as 32-character hex strings (e.g. for PNG metadata)."""
        return [row.tobytes().hex() for row in self.nonces]

    def save(self, path: str | Path) -> Path:
        """Save to ``.npz`` (atomically): images, nonces, the scheme's spec, coefficients, salt and
        tag if any."""
        from seleak._io import atomic_save_npz

        arrays = {"images": self.images, "nonces": self.nonces, "scheme": np.array(_as_scheme(self.scheme).spec)}
        if self.coefficients is not None:
            arrays["coefficients"] = self.coefficients
        if (self.salt is None) != (self.tag is None):
            raise ValueError("a Ciphertext has both salt and tag (from encrypt) or neither (built by hand)")
        if self.salt is not None and self.tag is not None:
            arrays["salt"] = np.frombuffer(bytes(self.salt), np.uint8)
            arrays["tag"] = np.frombuffer(bytes(self.tag), np.uint8)
        return atomic_save_npz(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "Ciphertext":
        """Read a file written by :meth:`save`; a file that is not one raises ``ValueError``.

        Every array is checked (dtype, shape, nonce shape ``(N, 16)``) and the scheme spec is
        bounded by the image size before it is parsed. The tag is checked by :func:`decrypt`.
        """
        import zipfile

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such ciphertext file: {path}")
        what = f"{path} is not a ciphertext saved by Ciphertext.save"
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            raise ValueError(f"{what}: {e}") from None
        missing = [k for k in ("images", "nonces", "scheme") if k not in arrays]
        if missing:
            raise ValueError(f"{what}: it has no {', '.join(missing)} array")
        images = arrays["images"]
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or images.shape[0] == 0:
            raise ValueError(f"{what}: 'images' must be uint8 (N, H, W) or (N, H, W, C), got "
                             f"{images.dtype} {images.shape}")
        nonces = arrays["nonces"]
        if nonces.dtype != np.uint8 or nonces.shape != (images.shape[0], NONCE_BYTES):
            raise ValueError(f"{what}: 'nonces' must be uint8 of shape ({images.shape[0]}, {NONCE_BYTES}), "
                             f"got {nonces.dtype} {nonces.shape}")
        spec = arrays["scheme"]
        if spec.shape != () or spec.dtype.kind != "U":
            raise ValueError(f"{what}: 'scheme' must be one string, got {spec.dtype} {spec.shape}")
        scheme = _parse_scheme_for_shape(str(spec), images.shape[1:])
        coef = arrays.get("coefficients")
        if coef is not None and (coef.dtype != np.int16 or coef.ndim != 6):
            raise ValueError(f"{what}: 'coefficients' must be int16 (N, C, H8, W8, 8, 8), got {coef.dtype} {coef.shape}")
        salt, tag = arrays.get("salt"), arrays.get("tag")
        if (salt is None) != (tag is None):
            raise ValueError(f"{what}: it has {'a salt' if tag is None else 'a tag'} without "
                             f"{'a tag' if tag is None else 'a salt'}")
        if salt is not None and tag is not None:
            if salt.dtype != np.uint8 or salt.shape != (SALT_BYTES,):
                raise ValueError(f"{what}: 'salt' must be {SALT_BYTES} uint8, got {salt.dtype} {salt.shape}")
            if tag.dtype != np.uint8 or tag.shape != (TAG_BYTES,):
                raise ValueError(f"{what}: 'tag' must be {TAG_BYTES} uint8, got {tag.dtype} {tag.shape}")
            return cls(images, nonces, scheme, coef, salt.tobytes(), tag.tobytes())
        return cls(images, nonces, scheme, coef)


def _images_per_chunk(stride_bytes: int, image_bytes: int, scale: int = 1) -> int:
    return max(1, _CHUNK_BYTES // max(1, stride_bytes, image_bytes * scale))


def encrypt(
    images: np.ndarray,
    key: bytes,
    scheme: Scheme | str,
    *,
    nonces: np.ndarray | Sequence[bytes] | None = None,
    seed: int | None = None,
    allow_nonce_reuse_unsafe: bool = False,
) -> Ciphertext:
    """Selectively encrypt a batch of images with AES-CTR under ``key``.

    ``images``: uint8 ``(N, H, W)`` or ``(N, H, W, C)``. ``key``: 16, 24 or 32 bytes.
    ``scheme``: a :class:`Scheme` or its spec string. Nonces: fresh from the OS CSPRNG by default;
    ``seed=`` for the reproducible study-only mode; ``nonces=`` explicit ``(N, 16)`` initial
    counter blocks (reuse raises unless ``allow_nonce_reuse_unsafe=True``). See the module docstring.
    The result carries a random ``salt`` and an authentication ``tag`` that :func:`decrypt` checks.
    """
    key = _check_key(key)
    images = _check_images(images)
    scheme = _as_scheme(scheme)
    if nonces is not None and seed is not None:
        raise ValueError("give nonces= or seed=, not both")
    n, image_shape = images.shape[0], images.shape[1:]
    nbytes = scheme.keystream_nbytes(image_shape)
    nblocks = max(1, -(-nbytes // BLOCK_BYTES))
    if nonces is None:
        icbs = _generate_icbs(n, nblocks, seed)
    else:
        icbs = _icbs_to_ints(_check_nonces(nonces, n))
        _check_counter_ranges(icbs, nblocks, bool(allow_nonce_reuse_unsafe))
    nonce_arr = _ints_to_nonces(icbs)
    coef: np.ndarray | None = None
    if isinstance(scheme, DCT):
        out, coef = _run_dct(images, key, scheme, icbs, None, inverse=False)
    else:
        out = _run_pixels(images, key, scheme, icbs)
    # a fresh salt per call, also in the seeded study mode: the tag must never link two ciphertexts
    salt = secrets.token_bytes(SALT_BYTES)
    tag = _auth_tag(key, salt, _CT_MAC_CONTEXT, _ciphertext_fields(out, nonce_arr, scheme, coef))
    return Ciphertext(out, nonce_arr, scheme, coef, salt, tag)


def _run_pixels(images: np.ndarray, key: bytes, scheme: Scheme, icbs: Sequence[int]) -> np.ndarray:
    """XOR masked keystream into the images (its own inverse)."""
    n, image_shape = images.shape[0], images.shape[1:]
    nbytes = int(np.prod(image_shape))
    mask = np.broadcast_to(scheme.bit_mask(image_shape), image_shape).reshape(-1)
    if not mask.any():
        return images.copy()  # nothing selected: no keystream needed
    full = bool((mask == 0xFF).all())
    uniform = bool((mask == mask[0]).all())
    m: np.ndarray | np.uint8 = mask[0] if uniform else np.ascontiguousarray(mask)
    flat_in = images.reshape(n, nbytes)
    out = np.empty_like(flat_in)
    stride = max(1, -(-nbytes // BLOCK_BYTES)) * BLOCK_BYTES
    for i, j, ks in _keystream_chunks(key, icbs, nbytes, _images_per_chunk(stride, nbytes)):
        if not full:
            np.bitwise_and(ks, m, out=ks)
        np.bitwise_xor(flat_in[i:j], ks, out=out[i:j])
    return out.reshape(images.shape)


def _run_dct(
    images: np.ndarray | None,
    key: bytes,
    scheme: DCT,
    icbs: Sequence[int],
    coefficients: np.ndarray | None,
    *,
    inverse: bool,
    image_shape: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Encrypt images (or decrypt coefficients) chunk by chunk; returns (rendered pixels, coefficients)."""
    if images is not None:
        image_shape = images.shape[1:]
    assert image_shape is not None
    n = len(icbs)
    nbytes = scheme.keystream_nbytes(image_shape)
    stride = max(1, -(-nbytes // BLOCK_BYTES)) * BLOCK_BYTES
    # float64 working arrays are ~24x the image bytes: size chunks by those
    per_chunk = _images_per_chunk(stride, int(np.prod(image_shape)), scale=24)
    c = image_shape[2] if len(image_shape) == 3 else 1
    hb, wb = -(-image_shape[0] // 8), -(-image_shape[1] // 8)
    coef_out = np.empty((n, c, hb, wb, 8, 8), dtype=np.int16)
    pix_out = np.empty((n,) + tuple(image_shape), dtype=np.uint8)
    for i, j, ks in _keystream_chunks(key, icbs, nbytes, per_chunk):
        q = scheme.forward(images[i:j]) if images is not None else np.array(coefficients[i:j], dtype=np.int16)  # type: ignore[index]
        if nbytes:
            q = scheme._transform(q, ks, image_shape, inverse)
        coef_out[i:j] = q
        pix_out[i:j] = scheme.render(q, image_shape)
    return pix_out, coef_out


def _check_ciphertext(
    ct: Any, scheme: Any, key: bytes | None = None, verify: bool = True
) -> tuple[Scheme, list[int]]:
    """Check a ciphertext's structure and, when ``key`` is given and ``verify`` is true, its tag.

    The structure comes first, so a hand-built ciphertext that could never decrypt says why; the
    tag is checked before any keystream is produced.
    """
    import hmac

    if not isinstance(ct, Ciphertext):
        raise TypeError(f"decrypt needs a Ciphertext from encrypt(); got {type(ct).__name__}")
    images = _check_images(ct.images, "ct.images")
    own = _as_scheme(ct.scheme)
    if scheme is not None and _as_scheme(scheme) != own:
        raise ValueError(f"scheme {_as_scheme(scheme).spec!r} differs from the ciphertext's {own.spec!r}")
    nonces = _check_nonces(ct.nonces, images.shape[0])
    icbs = _icbs_to_ints(nonces)
    nbytes = own.keystream_nbytes(images.shape[1:])
    _check_counter_ranges(icbs, max(1, -(-nbytes // BLOCK_BYTES)), allow_reuse=True)
    if isinstance(own, DCT) and ct.coefficients is None:
        raise ValueError(
            "a DCT ciphertext needs its encrypted coefficients (ct.coefficients) to decrypt exactly; "
            "the rendered pixels alone are not enough"
        )
    if key is None or not verify:
        return own, icbs
    if ct.tag is None or ct.salt is None:
        raise ValueError(
            "this Ciphertext carries no authentication tag: it was built by hand, or saved by a seleak "
            "older than the tag; pass verify=False to decrypt it unchecked"
        )
    salt, tag = bytes(ct.salt), bytes(ct.tag)
    if len(salt) != SALT_BYTES or len(tag) != TAG_BYTES:
        raise ValueError(f"ct.salt must be {SALT_BYTES} bytes and ct.tag {TAG_BYTES}; got {len(salt)} and {len(tag)}")
    coef = None if ct.coefficients is None else np.asarray(ct.coefficients)
    expected = _auth_tag(key, salt, _CT_MAC_CONTEXT, _ciphertext_fields(images, nonces, own, coef))
    if not hmac.compare_digest(expected, tag):
        raise ValueError(_AUTH_FAILED)
    return own, icbs


def decrypt(
    ct: Ciphertext, key: bytes, scheme: Scheme | str | None = None, *, verify: bool = True
) -> np.ndarray:
    """Invert :func:`encrypt`.

    Pixel schemes (:class:`BitPlanes`, :class:`Region`, :class:`Full`) return exactly the input
    images. :class:`DCT` returns the rendering of the exactly restored quantised coefficients,
    i.e. ``scheme.compress(original)`` (use :func:`decrypt_coefficients` for the coefficients).
    ``scheme`` defaults to ``ct.scheme``; if given it must equal it.

    The ciphertext's tag is checked first: a wrong key, or a scheme, nonce or shape changed since
    :func:`encrypt`, raises ``ValueError`` ("authentication failed ...") and decrypts nothing. A
    ``Ciphertext`` without a tag (built by hand from images and nonces) is refused unless
    ``verify=False``, which skips the check: a wrong key then silently gives garbage, as plain
    AES-CTR does (useful to demonstrate exactly that).
    """
    key = _check_key(key)
    own, icbs = _check_ciphertext(ct, scheme, key, bool(verify))
    if isinstance(own, DCT):
        return _decrypt_dct(ct, key, own, icbs)[0]
    return _run_pixels(np.ascontiguousarray(ct.images), key, own, icbs)


def _decrypt_dct(ct: Ciphertext, key: bytes, scheme: DCT, icbs: list[int]) -> tuple[np.ndarray, np.ndarray]:
    image_shape = ct.images.shape[1:]
    c = image_shape[2] if len(image_shape) == 3 else 1
    expected = (ct.images.shape[0], c, -(-image_shape[0] // 8), -(-image_shape[1] // 8), 8, 8)
    if ct.coefficients is None:
        raise ValueError(
            "a DCT ciphertext needs its encrypted coefficients (ct.coefficients) to decrypt exactly; "
            "the rendered pixels alone are not enough"
        )
    if tuple(ct.coefficients.shape) != expected:
        raise ValueError(f"ct.coefficients must have shape {expected}; got {ct.coefficients.shape}")
    return _run_dct(None, key, scheme, icbs, ct.coefficients, inverse=True, image_shape=image_shape)


def decrypt_coefficients(ct: Ciphertext, key: bytes, *, verify: bool = True) -> np.ndarray:
    """The exactly restored quantised coefficients of a :class:`DCT` ciphertext, equal to
    ``ct.scheme.forward(original_images)``. The tag is checked as in :func:`decrypt`."""
    key = _check_key(key)
    own, icbs = _check_ciphertext(ct, None, key, verify)
    if not isinstance(own, DCT):
        raise TypeError(f"decrypt_coefficients is for DCT ciphertexts; this one is {own.spec!r}")
    return _decrypt_dct(ct, key, own, icbs)[1]
