"""Exact integer image resampling: the same ``uint8`` pixels on every machine.

:func:`resample_matrix` gives the 1-D weights of a bicubic or anti-aliased bilinear resampling,
:func:`resample_exact` applies them to a batch in integer arithmetic, and :func:`resize_images` is the
resize that :func:`seleak.data.load_dataset` and the embedding layer use.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from seleak._validation import is_int


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution weights (a = -0.75, torch's and OpenCV's bicubic) of the 4 neighbours."""
    a = -0.75

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def resample_matrix(n_in: int, n_out: int, kernel: str) -> np.ndarray:
    """The ``(n_out, n_in)`` float64 weights of a 1-D resampling with half-pixel centres.

    ``"bicubic"``: Keys' cubic kernel, edges replicated (torch's ``bicubic``, ``align_corners=False``).
    ``"triangle"``: the anti-aliased bilinear filter of PIL and torch (``antialias=True``): a triangle
    stretched over the input pixels that one output pixel covers, normalised to sum 1.

    Images are resampled with these weights in exact integer arithmetic (:func:`resample_exact`) rather than
    with torch's float32 kernels because the rounding back to ``uint8`` must not depend on the processor:
    torch's kernels differ between AVX-512 and portable builds by float32 noise, enough to flip pixels
    that sit near a half level, and so to change the data set (and every number downstream).
    """
    scale = n_in / n_out
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    if kernel == "bicubic":
        src = (rows + 0.5) * scale - 0.5
        x0 = np.floor(src).astype(np.int64)
        w = _cubic_weights(src - x0)
        for k in range(4):
            np.add.at(m, (rows, np.clip(x0 - 1 + k, 0, n_in - 1)), w[:, k])
        return m
    if kernel == "triangle":
        support = max(scale, 1.0)
        for r in rows:
            centre = scale * (r + 0.5)
            lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
            j = np.arange(lo, hi)
            w = np.maximum(0.0, 1.0 - np.abs((j - centre + 0.5) / support))
            m[r, lo:hi] = w / w.sum()
        return m
    raise ValueError(f"kernel must be 'bicubic' or 'triangle', got {kernel!r}")


#: Bits of the fixed-point weights images are resampled with (:func:`resample_exact`).
_WEIGHT_BITS = 16


def _integer_weights(m: np.ndarray) -> np.ndarray:
    """The rows of ``m`` as integers over ``2**_WEIGHT_BITS`` that sum to exactly that (the largest
    weight of a row absorbs the rounding); weights that are short binary fractions stay exact."""
    scale = 1 << _WEIGHT_BITS
    w = np.rint(m * scale).astype(np.int64)
    w[np.arange(len(w)), np.abs(w).argmax(1)] += scale - w.sum(1)
    return w


def resample_exact(images: np.ndarray, h: int, w: int, kernel: str, denominator: int = 1) -> np.ndarray:
    """Resample integer-valued ``(N, H, W, C)`` images (pixel = value / ``denominator``) to
    ``(N, h, w, C)`` uint8, rounding half to even; ``kernel`` as in :func:`resample_matrix`.

    :func:`resize_images` uses it with the triangle kernel; the ``"digits"`` data set upsamples its
    0..16 grey levels with it (bicubic, ``denominator=16``), so its pixels must never change.

    Everything is integer arithmetic: fixed-point weights, exact int64 sums, and the final rounding
    on the exact quotient. Float arithmetic would leave pixels that sit on a half level to the order of
    the additions, which BLAS chooses by processor: the same image would round differently on another
    machine.
    """
    a_h = _integer_weights(resample_matrix(images.shape[1], h, kernel))
    a_w = _integer_weights(resample_matrix(images.shape[2], w, kernel))
    den = int(denominator) << (2 * _WEIGHT_BITS)
    out = np.empty((images.shape[0], h, w, images.shape[3]), dtype=np.uint8)
    # chunks bound the int64 working memory for large data sets (50 000 CIFAR images)
    for start in range(0, images.shape[0], 1024):
        x = np.moveaxis(images[start : start + 1024].astype(np.int64), -1, 1)  # (n, C, H, W)
        y = a_h @ x @ a_w.T  # (n, C, h, w), exact: integer matmul
        q, r = np.divmod(y, den)
        q += (2 * r > den) | ((2 * r == den) & (q % 2 == 1))
        out[start : start + 1024] = np.moveaxis(np.clip(q, 0, 255), 1, -1)
    return out


def resize_images(images: np.ndarray, size: int | Sequence[int]) -> np.ndarray:
    """Resize a ``uint8 (N, H, W, C)`` batch to ``size`` (an int for square, or ``(H, W)``).

    Bilinear with anti-aliasing (so downscaling does not alias), with the weights of
    :func:`resample_matrix` in exact integer arithmetic, rounded back to ``uint8``: the same pixels on
    every machine.
    """
    h, w = check_size(size)
    if images.shape[1:3] == (h, w):
        return images
    return resample_exact(images, h, w, "triangle")


def check_size(size: Any) -> tuple[int, int]:
    """``size`` as ``(H, W)``: a positive int (square) or a pair of positive ints; ``ValueError`` otherwise.

    :func:`seleak.data.load_dataset` checks its ``size`` with it before loading anything.
    """
    allowed = "a positive integer (square) or a pair (HEIGHT, WIDTH) of positive integers"
    if is_int(size):
        if size < 1:
            raise ValueError(f"size must be {allowed}, got {size!r}")
        return int(size), int(size)
    if isinstance(size, (str, bytes)) or not isinstance(size, (Sequence, np.ndarray)) or len(size) != 2:
        raise ValueError(f"size must be {allowed}, got {size!r}")
    if not all(is_int(s) and s >= 1 for s in size):
        raise ValueError(f"size must be {allowed}, got {size!r}")
    return int(size[0]), int(size[1])
