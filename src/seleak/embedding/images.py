"""What every embedding model is fed: validated ``uint8`` batches turned into ``(N, C, H, W)`` tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seleak.encryption import check_images as package_check_images

__all__ = ["adapt_channels", "check_images", "to_tensor"]

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, the weights PIL uses for RGB -> L


def check_images(images: Any) -> np.ndarray:
    """Validate an image batch for a model and return it as contiguous ``uint8 (N, H, W, C)``.

    The package's image contract (:func:`seleak.encryption.check_images`: a numpy uint8 array, channels
    last) plus what a model needs: at least one image, and 1 (grey) or 3 (RGB) channels.

    Raises:
        TypeError: not a numpy array, or not ``uint8`` (float images are the usual mistake).
        ValueError: wrong number of dimensions, a channel count other than 1 or 3, or an empty batch.
    """
    images = package_check_images(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must have 1 (grey) or 3 (RGB) channels in the last axis, got shape {images.shape}; "
            "channels-first arrays need np.moveaxis(x, 1, -1), RGBA needs x[..., :3]"
        )
    if images.shape[0] == 0:
        raise ValueError("empty batch: images has 0 rows, nothing to embed")
    return images


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """A checked ``uint8 (N, H, W, C)`` batch as a ``uint8 (N, C, H, W)`` tensor on ``device``."""
    if not images.flags.writeable:  # torch.from_numpy warns on read-only memory (e.g. np.load mmap)
        images = images.copy()
    return torch.from_numpy(images).to(device, non_blocking=True).permute(0, 3, 1, 2)


def adapt_channels(x: torch.Tensor, want: int) -> torch.Tensor:
    """Grey → RGB by repetition (what a 3-channel model sees of a grey photo); RGB → grey by BT.601 luma."""
    have = x.shape[1]
    if have == want:
        return x
    if have == 1 and want == 3:
        return x.expand(-1, 3, -1, -1)
    if have == 3 and want == 1:
        w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(dim=1, keepdim=True)
    raise ValueError(f"cannot feed {have}-channel images to a {want}-channel model")
