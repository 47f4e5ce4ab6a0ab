"""The image contract of the whole package: a ``uint8`` batch, channels last."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_images"]

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
        raise ValueError(f"{name} must be {_IMAGES_EXPECTED}; got {images.ndim}-D shape {images.shape}{hint}")
    if any(s == 0 for s in images.shape[1:]):
        raise ValueError(f"{name} must have non-empty H, W (and C); got shape {images.shape}")
    return np.ascontiguousarray(images)
