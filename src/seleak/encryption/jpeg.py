"""The JPEG-style 8x8 block-DCT codec the :class:`~seleak.encryption.DCT` scheme encrypts in.

Level shift, JFIF YCbCr for three channels, orthonormal DCT-II per 8x8 block (edges padded by
replication, as JPEG encoders do) and quantisation with the ITU-T T.81 Annex K tables scaled
as libjpeg/IJG does; :func:`render_dct` goes back to pixels.
"""

from __future__ import annotations

import operator

import numpy as np
import scipy.fft

from seleak.encryption.images import check_images

__all__ = ["ZIGZAG", "jpeg_quant_table", "quant_tables", "forward_dct", "render_dct"]

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


def quant_tables(quality: int, channels: int) -> np.ndarray:
    """One quantisation table per channel, float64 ``(channels, 8, 8)``: luminance for Y and
    chrominance for Cb, Cr when there are three channels, luminance everywhere otherwise."""
    luma = jpeg_quant_table(quality)
    if channels == 3:
        chroma = jpeg_quant_table(quality, chroma=True)
        return np.stack([luma, chroma, chroma]).astype(np.float64)
    return np.stack([luma] * channels).astype(np.float64)


def forward_dct(images: np.ndarray, quality: int) -> np.ndarray:
    """Quantised coefficients, int16 of shape ``(N, C, H8, W8, 8, 8)`` (C = 1 for (N, H, W))."""
    images = check_images(images)
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
    return np.rint(coef / quant_tables(quality, c)[None, :, None, None]).astype(np.int16)


def render_dct(coefficients: np.ndarray, image_shape: tuple[int, ...], quality: int) -> np.ndarray:
    """Pixels (uint8, ``(N,) + image_shape``) of quantised coefficients: dequantise, inverse DCT,
    back to RGB for 3 channels, crop the padding, round and clip to 0..255."""
    coefficients = np.asarray(coefficients)
    n, c = coefficients.shape[:2]
    h, w = image_shape[0], image_shape[1]
    blocks = coefficients.astype(np.float64) * quant_tables(quality, c)[None, :, None, None]
    hb, wb = blocks.shape[2], blocks.shape[3]
    pix = scipy.fft.idctn(blocks.transpose(0, 1, 2, 4, 3, 5), type=2, axes=(3, 5), norm="ortho")
    x = pix.reshape(n, c, hb * 8, wb * 8)[:, :, :h, :w] + 128.0
    x = np.moveaxis(x, 1, -1)
    if c == 3:
        x = _ycbcr_to_rgb(x)
    out = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out[..., 0] if len(image_shape) == 2 else out
