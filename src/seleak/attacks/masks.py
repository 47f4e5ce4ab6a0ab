"""Which bits of every pixel a scheme encrypts, and the scheme helpers every attack shares.

The attacker knows the scheme (Kerckhoffs), so knows which bits of every pixel are encrypted: a
``uint8`` mask per pixel, bit ``p`` set when plane ``p`` is encrypted.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from seleak.encryption import (
    as_scheme,  # re-exported: every attack turns specs into schemes the same way
)

__all__ = ["as_scheme", "encrypted_bit_mask", "mask_for", "plane_count", "scheme_spec", "to_nhwc"]


def scheme_spec(scheme: Any) -> str:
    """The spec string of a scheme object (or the string itself)."""
    return str(getattr(scheme, "spec", scheme))


def plane_count(scheme: Any) -> int | None:
    """Number of encrypted planes of a whole-image bit-plane scheme (``Full``: 8), else ``None``."""
    from seleak.encryption import BitPlanes, Full

    if isinstance(scheme, BitPlanes):
        return len(scheme.planes)
    if isinstance(scheme, Full):
        return 8
    return None


def to_nhwc(a: np.ndarray) -> np.ndarray:
    """A grey ``(N, H, W)`` batch as ``(N, H, W, 1)``; ``(N, H, W, C)`` unchanged."""
    return a[..., None] if a.ndim == 3 else a


def encrypted_bit_mask(scheme: Any, shape: Sequence[int]) -> np.ndarray:
    """Which bits of every pixel a scheme encrypts, as a ``uint8`` array of shape ``shape[1:]``.

    ``shape`` is the image batch's shape ``(N, H, W)`` or ``(N, H, W, C)``; bit ``p`` of entry
    ``(h, w[, c])`` is set when plane ``p`` of that pixel is encrypted. Works for every pixel scheme
    (bit-planes, regions, full); a scheme that does not XOR pixel bits (the DCT-domain one) raises
    ``ValueError``: replacing bits is meaningless there.
    """
    scheme = as_scheme(scheme)
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"shape must be (N, H, W) or (N, H, W, C), got {shape}")
    if not getattr(scheme, "is_pixel_scheme", True):
        raise ValueError(
            f"scheme {scheme_spec(scheme)!r} does not encrypt pixel bits; the replacement and reconstruction "
            "attacks work on pixel schemes only (bit-planes, regions, full)"
        )
    try:
        mask = scheme.bit_mask(shape[1:])
    except (AttributeError, NotImplementedError):
        raise ValueError(f"scheme {scheme_spec(scheme)!r} does not say which pixel bits it encrypts") from None
    return np.ascontiguousarray(np.broadcast_to(np.asarray(mask, dtype=np.uint8), shape[1:]))


def mask_for(images: np.ndarray, scheme: Any, bit_mask: np.ndarray | None) -> np.ndarray:
    """The bit mask of one image of ``images``: ``bit_mask`` checked, or the scheme's (one is required)."""
    if bit_mask is None:
        if scheme is None:
            raise TypeError("give the scheme (object or spec such as 'msb:3') or an explicit bit_mask")
        return encrypted_bit_mask(scheme, images.shape)
    m = np.asarray(bit_mask)
    if m.dtype != np.uint8:
        raise TypeError(f"bit_mask must be uint8 (one bit per plane), got {m.dtype}")
    try:
        return np.broadcast_to(m, images.shape[1:])
    except ValueError:
        raise ValueError(f"bit_mask of shape {m.shape} does not broadcast to one image {images.shape[1:]}") from None
