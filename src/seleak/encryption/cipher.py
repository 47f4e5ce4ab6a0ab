"""The engine: :func:`encrypt`, :func:`decrypt`, :func:`decrypt_coefficients`, and the
:class:`Ciphertext` they exchange (with its authentication tag and its ``.npz`` file)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from seleak.encryption.auth import SALT_BYTES, TAG_BYTES, auth_tag
from seleak.encryption.images import check_images
from seleak.encryption.keystream import (
    BLOCK_BYTES,
    NONCE_BYTES,
    check_counter_ranges,
    check_key,
    check_nonces,
    counter_blocks,
    generate_icbs,
    icbs_to_ints,
    ints_to_nonces,
    keystream_chunks,
)
from seleak.encryption.schemes import DCT, Scheme, as_scheme, parse_scheme_for_shape

__all__ = ["CHUNK_BYTES", "Ciphertext", "encrypt", "decrypt", "decrypt_coefficients"]

CHUNK_BYTES = 1 << 20
"""Keystream is produced and applied in pieces of about this many bytes: small enough that the
keystream buffer, the mask and the XOR stay in the CPU cache (faster than one big pass) and that
peak memory stays near input + output, whatever the batch size."""


# --------------------------------------------------------------------------------------------
# authentication of what decryption needs besides the key
# --------------------------------------------------------------------------------------------

_CT_FORMAT = "seleak-ciphertext-1"
_CT_MAC_CONTEXT = b"seleak ciphertext mac v1"
_AUTH_FAILED = "authentication failed: wrong key, or the scheme/nonces/shape were altered"


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

        arrays = {"images": self.images, "nonces": self.nonces, "scheme": np.array(as_scheme(self.scheme).spec)}
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
            raise ValueError(
                f"{what}: 'images' must be uint8 (N, H, W) or (N, H, W, C), got {images.dtype} {images.shape}"
            )
        nonces = arrays["nonces"]
        if nonces.dtype != np.uint8 or nonces.shape != (images.shape[0], NONCE_BYTES):
            raise ValueError(
                f"{what}: 'nonces' must be uint8 of shape ({images.shape[0]}, {NONCE_BYTES}), "
                f"got {nonces.dtype} {nonces.shape}"
            )
        spec = arrays["scheme"]
        if spec.shape != () or spec.dtype.kind != "U":
            raise ValueError(f"{what}: 'scheme' must be one string, got {spec.dtype} {spec.shape}")
        scheme = parse_scheme_for_shape(str(spec), images.shape[1:])
        coef = arrays.get("coefficients")
        if coef is not None and (coef.dtype != np.int16 or coef.ndim != 6):
            raise ValueError(
                f"{what}: 'coefficients' must be int16 (N, C, H8, W8, 8, 8), got {coef.dtype} {coef.shape}"
            )
        salt, tag = arrays.get("salt"), arrays.get("tag")
        if (salt is None) != (tag is None):
            raise ValueError(
                f"{what}: it has {'a salt' if tag is None else 'a tag'} without {'a tag' if tag is None else 'a salt'}"
            )
        if salt is not None and tag is not None:
            if salt.dtype != np.uint8 or salt.shape != (SALT_BYTES,):
                raise ValueError(f"{what}: 'salt' must be {SALT_BYTES} uint8, got {salt.dtype} {salt.shape}")
            if tag.dtype != np.uint8 or tag.shape != (TAG_BYTES,):
                raise ValueError(f"{what}: 'tag' must be {TAG_BYTES} uint8, got {tag.dtype} {tag.shape}")
            return cls(images, nonces, scheme, coef, salt.tobytes(), tag.tobytes())
        return cls(images, nonces, scheme, coef)


def _images_per_chunk(stride_bytes: int, image_bytes: int, scale: int = 1) -> int:
    return max(1, CHUNK_BYTES // max(1, stride_bytes, image_bytes * scale))


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
    counter blocks (reuse raises unless ``allow_nonce_reuse_unsafe=True``). See :mod:`seleak.encryption`.
    The result carries a random ``salt`` and an authentication ``tag`` that :func:`decrypt` checks.
    """
    key = check_key(key)
    images = check_images(images)
    scheme = as_scheme(scheme)
    if nonces is not None and seed is not None:
        raise ValueError("give nonces= or seed=, not both")
    n, image_shape = images.shape[0], images.shape[1:]
    nbytes = scheme.keystream_nbytes(image_shape)
    nblocks = counter_blocks(nbytes)
    if nonces is None:
        icbs = generate_icbs(n, nblocks, seed)
    else:
        icbs = icbs_to_ints(check_nonces(nonces, n))
        check_counter_ranges(icbs, nblocks, bool(allow_nonce_reuse_unsafe))
    nonce_arr = ints_to_nonces(icbs)
    coef: np.ndarray | None = None
    if isinstance(scheme, DCT):
        out, coef = _run_dct(images, key, scheme, icbs, None, inverse=False)
    else:
        out = _run_pixels(images, key, scheme, icbs)
    # a fresh salt per call, also in the seeded study mode: the tag must never link two ciphertexts
    salt = secrets.token_bytes(SALT_BYTES)
    tag = auth_tag(key, salt, _CT_MAC_CONTEXT, _ciphertext_fields(out, nonce_arr, scheme, coef))
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
    stride = counter_blocks(nbytes) * BLOCK_BYTES
    for i, j, ks in keystream_chunks(key, icbs, nbytes, _images_per_chunk(stride, nbytes)):
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
    stride = counter_blocks(nbytes) * BLOCK_BYTES
    # float64 working arrays are ~24x the image bytes: size chunks by those
    per_chunk = _images_per_chunk(stride, int(np.prod(image_shape)), scale=24)
    c = image_shape[2] if len(image_shape) == 3 else 1
    hb, wb = -(-image_shape[0] // 8), -(-image_shape[1] // 8)
    coef_out = np.empty((n, c, hb, wb, 8, 8), dtype=np.int16)
    pix_out = np.empty((n,) + tuple(image_shape), dtype=np.uint8)
    for i, j, ks in keystream_chunks(key, icbs, nbytes, per_chunk):
        q = scheme.forward(images[i:j]) if images is not None else np.array(coefficients[i:j], dtype=np.int16)  # type: ignore[index]
        if nbytes:
            q = scheme.apply_keystream(q, ks, image_shape, inverse)
        coef_out[i:j] = q
        pix_out[i:j] = scheme.render(q, image_shape)
    return pix_out, coef_out


def _check_ciphertext(ct: Any, scheme: Any, key: bytes | None = None, verify: bool = True) -> tuple[Scheme, list[int]]:
    """Check a ciphertext's structure and, when ``key`` is given and ``verify`` is true, its tag.

    The structure comes first, so a hand-built ciphertext that could never decrypt says why; the
    tag is checked before any keystream is produced.
    """
    import hmac

    if not isinstance(ct, Ciphertext):
        raise TypeError(f"decrypt needs a Ciphertext from encrypt(); got {type(ct).__name__}")
    images = check_images(ct.images, "ct.images")
    own = as_scheme(ct.scheme)
    if scheme is not None and as_scheme(scheme) != own:
        raise ValueError(f"scheme {as_scheme(scheme).spec!r} differs from the ciphertext's {own.spec!r}")
    nonces = check_nonces(ct.nonces, images.shape[0])
    icbs = icbs_to_ints(nonces)
    nbytes = own.keystream_nbytes(images.shape[1:])
    check_counter_ranges(icbs, counter_blocks(nbytes), allow_reuse=True)
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
    expected = auth_tag(key, salt, _CT_MAC_CONTEXT, _ciphertext_fields(images, nonces, own, coef))
    if not hmac.compare_digest(expected, tag):
        raise ValueError(_AUTH_FAILED)
    return own, icbs


def decrypt(ct: Ciphertext, key: bytes, scheme: Scheme | str | None = None, *, verify: bool = True) -> np.ndarray:
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
    key = check_key(key)
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
    key = check_key(key)
    own, icbs = _check_ciphertext(ct, None, key, verify)
    if not isinstance(own, DCT):
        raise TypeError(f"decrypt_coefficients is for DCT ciphertexts; this one is {own.spec!r}")
    return _decrypt_dct(ct, key, own, icbs)[1]
