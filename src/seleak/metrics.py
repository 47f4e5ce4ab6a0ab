"""Classic image-encryption metrics and pixel-level mutual information.

The numbers the selective-encryption literature reports for a plain/cipher pair: Shannon
entropy of the pixel values, adjacent-pixel correlation, NPCR and UACI with their ideal values
and the Wu--Noonan--Agaian critical values, PSNR and SSIM, plus the pixel-level mutual
information between plain and cipher values -- a plug-in estimate and, for bit-plane schemes,
its exact value.

Single-image functions take one image, ``(H, W)`` or ``(H, W, C)`` uint8; :func:`classic_metrics`
takes a pair of batches ``(N, H, W[, C])`` and averages per-image values. Information is in
**bits** unless ``unit="nats"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import norm

from seleak._validation import is_int
from seleak.encryption import BitPlanes, Full, Scheme, as_scheme, check_images
from seleak.entropy import entropy_nats  # re-exported: seleak.metrics.entropy_nats

__all__ = [
    "NPCR_IDEAL",
    "UACI_IDEAL",
    "NPCRUACI",
    "entropy",
    "entropy_nats",
    "adjacent_correlation",
    "npcr_uaci",
    "npcr_uaci_critical",
    "psnr",
    "ssim",
    "pixel_mi_plugin",
    "pixel_mi_exact",
    "classic_metrics",
]

Unit = Literal["bits", "nats"]

_F = 255  # largest pixel value of 8-bit images
NPCR_IDEAL = 100.0 * _F / (_F + 1)
"""Expected NPCR (%) of two independent uniform 8-bit images: 99.609375."""
UACI_IDEAL = 100.0 * (_F + 2) / (3 * _F + 3)
"""Expected UACI (%) of two independent uniform 8-bit images: 33.4635..."""


def _check_uint8(a: Any, name: str, ndims: tuple[int, ...] = (2, 3)) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy uint8 array; got {type(a).__name__}")
    if a.dtype != np.uint8:
        raise TypeError(f"{name} must be a uint8 array; got dtype {a.dtype}")
    if a.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want} ((H, W) or (H, W, C) for one image); got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    return a


def _check_pair(a: Any, b: Any, ndims: tuple[int, ...] = (2, 3)) -> tuple[np.ndarray, np.ndarray]:
    a = _check_uint8(a, "a", ndims)
    b = _check_uint8(b, "b", ndims)
    if a.shape != b.shape:
        raise ValueError(f"the two images must have the same shape; got {a.shape} and {b.shape}")
    return a, b


def _scale(unit: Unit) -> float:
    if unit == "bits":
        return 1.0 / math.log(2)
    if unit == "nats":
        return 1.0
    raise ValueError(f"unit must be 'bits' or 'nats'; got {unit!r}")


def entropy(image: np.ndarray, unit: Unit = "bits") -> float:
    """Shannon entropy of the histogram of the pixel values (all channels pooled); 8 bits at most.

    Works on any uint8 array (one image or a batch pooled together).
    """
    image = _check_uint8(image, "image", ndims=tuple(range(1, 6)))
    return entropy_nats(np.bincount(image.reshape(-1), minlength=256)) * _scale(unit)


_DIRECTIONS = {"horizontal": (0, 1), "vertical": (1, 0), "diagonal": (1, 1)}


def adjacent_correlation(
    image: np.ndarray,
    direction: Literal["horizontal", "vertical", "diagonal"] = "horizontal",
    n_pairs: int | None = None,
    seed: int = 0,
) -> float:
    """Pearson correlation of adjacent pixel values (pairs within each channel, channels pooled).

    ``n_pairs=None`` uses every adjacent pair; otherwise a random sample of that many pairs
    (without replacement, drawn with ``seed``), as many papers do with 1000--5000 pairs. Returns
    ``nan`` when one side of the pairs is constant (correlation undefined).
    """
    image = _check_uint8(image, "image")
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(_DIRECTIONS)}; got {direction!r}")
    dy, dx = _DIRECTIONS[direction]
    x = image.astype(np.float64)
    if x.ndim == 2:
        x = x[..., None]
    h, w = x.shape[:2]
    if h <= dy or w <= dx:
        raise ValueError(f"image of shape {image.shape} has no {direction} neighbours")
    a = x[: h - dy, : w - dx].reshape(-1)
    b = x[dy:, dx:].reshape(-1)
    if n_pairs is not None:
        if n_pairs < 2:
            raise ValueError(f"n_pairs must be >= 2 or None (all pairs); got {n_pairs}")
        if n_pairs < a.size:
            idx = np.random.default_rng(seed).choice(a.size, size=n_pairs, replace=False)
            a, b = a[idx], b[idx]
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


@dataclass(frozen=True)
class NPCRUACI:
    """NPCR and UACI (percent) of two images, with the number of values compared."""

    npcr: float
    uaci: float
    n: int

    def critical(self, alpha: float = 0.05) -> tuple[float, float, float]:
        """Wu et al.'s ``(npcr_min, uaci_low, uaci_high)`` for this many values at level ``alpha``."""
        return npcr_uaci_critical(self.n, alpha)

    def passes(self, alpha: float = 0.05) -> tuple[bool, bool]:
        """Whether NPCR and UACI pass Wu et al.'s randomness tests at level ``alpha``."""
        n_star, u_lo, u_hi = self.critical(alpha)
        return self.npcr >= n_star, u_lo <= self.uaci <= u_hi


def npcr_uaci(a: np.ndarray, b: np.ndarray) -> NPCRUACI:
    """Number of pixels change rate and unified average changing intensity, in percent.

    NPCR = share of positions where the values differ; UACI = mean |a - b| / 255. For two
    independent uniform images they are :data:`NPCR_IDEAL` and :data:`UACI_IDEAL`
    (Wu, Noonan & Agaian 2011). Accepts one image or a batch (all values pooled).
    """
    a, b = _check_pair(a, b, ndims=(2, 3, 4))
    npcr = 100.0 * float(np.count_nonzero(a != b)) / a.size
    uaci = 100.0 * float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) / _F
    return NPCRUACI(npcr, uaci, int(a.size))


def npcr_uaci_critical(n: int | tuple[int, ...], alpha: float = 0.05) -> tuple[float, float, float]:
    """Critical values of Wu, Noonan & Agaian (2011) for ``n`` compared 8-bit values.

    ``n`` is the number of pixels compared (or an image shape, whose product is used; Wu et al.
    test each channel of an ``H x W`` image with ``n = H*W``). Returns ``(npcr_min, uaci_low,
    uaci_high)`` in percent: NPCR passes above ``npcr_min``; UACI passes inside the interval.
    """
    if isinstance(n, tuple):
        n = int(np.prod(n))
    if n <= 0:
        raise ValueError(f"n must be a positive number of pixels; got {n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    f = _F
    # Wu et al. write Phi^-1(alpha) for the upper alpha-quantile (a positive number)
    n_star = (f - norm.isf(alpha) * math.sqrt(f / n)) / (f + 1)
    mu_u = (f + 2) / (3 * f + 3)
    sigma_u = math.sqrt((f + 2) * (f * f + 2 * f + 3) / (18 * (f + 1) ** 2 * n * f))
    z = norm.isf(alpha / 2)
    return float(100.0 * n_star), float(100.0 * (mu_u - z * sigma_u)), float(100.0 * (mu_u + z * sigma_u))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit data (``inf`` for identical inputs)."""
    a, b = _check_pair(a, b, ndims=(2, 3, 4))
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(_F * _F / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004) of one image pair, via scikit-image.

    ``(H, W, C)`` images are compared per channel and averaged. The Gaussian-free 7x7 window
    shrinks to the largest odd size that fits tiny images (at least 3 pixels a side needed).
    """
    from skimage.metrics import structural_similarity

    a, b = _check_pair(a, b)
    side = min(a.shape[0], a.shape[1])
    if side < 3:
        raise ValueError(f"SSIM needs images at least 3x3; got {a.shape}")
    win = min(7, side if side % 2 else side - 1)
    kw: dict[str, Any] = {"channel_axis": -1} if a.ndim == 3 else {}
    return float(structural_similarity(a, b, data_range=255, win_size=win, **kw))


def pixel_mi_plugin(
    plain: np.ndarray,
    cipher: np.ndarray,
    unit: Unit = "bits",
    correction: Literal["none", "miller-madow"] = "none",
    levels: int = 256,
) -> float:
    """Plug-in mutual information between corresponding pixel values of two images (or batches).

    Every position (and channel) gives one pair ``(plain value, cipher value)``; the MI of their
    joint histogram is returned, with values binned into ``levels`` equal bins (``v * levels //
    256``; 256 keeps every 8-bit value). The plug-in estimate is biased upwards by about
    ``(cells - 1) / (2 M)`` nats for ``M`` pairs and ``levels**2`` cells -- large for 256 levels
    unless ``M`` is in the millions; ``correction="miller-madow"`` subtracts the Miller--Madow
    term ``(K_xy - K_x - K_y + 1) / (2 M)`` with ``K`` the occupied bins, and fewer ``levels``
    shrink the bias further (at the price of measuring the information of the binned values).
    """
    plain, cipher = _check_pair(plain, cipher, ndims=(1, 2, 3, 4, 5))
    if correction not in ("none", "miller-madow"):
        raise ValueError(f"correction must be 'none' or 'miller-madow'; got {correction!r}")
    if not is_int(levels) or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an int in 2..256; got {levels!r}")
    x = plain.reshape(-1).astype(np.int64) * int(levels) // 256
    y = cipher.reshape(-1).astype(np.int64) * int(levels) // 256
    joint = np.bincount(x * levels + y, minlength=levels * levels)
    px = np.bincount(x, minlength=levels)
    py = np.bincount(y, minlength=levels)
    mi = entropy_nats(px) + entropy_nats(py) - entropy_nats(joint)
    if correction == "miller-madow":
        k_xy, k_x, k_y = (int(np.count_nonzero(h)) for h in (joint, px, py))
        mi -= (k_xy - k_x - k_y + 1) / (2.0 * x.size)
    return max(0.0, mi) * _scale(unit) if correction == "none" else mi * _scale(unit)


def pixel_mi_exact(images: np.ndarray, scheme: Scheme | str, unit: Unit = "bits") -> float:
    """Exact pixel-level MI ``I(X; Y)`` between a plain value and its bit-plane-encrypted value.

    With ``Y = X xor (K and m)`` and the keystream ``K`` uniform and independent of ``X``, the
    encrypted bits of ``Y`` are uniform noise and the clear bits equal those of ``X``, so
    ``I(X; Y) = H(X and not m)``: the entropy of the clear planes, here under the empirical
    value distribution of ``images`` (all pixels and channels pooled). 0 for :class:`Full`.
    Only defined for :class:`BitPlanes` and :class:`Full` (a region mixes pixel positions).
    """
    scheme = as_scheme(scheme)
    if not isinstance(scheme, (BitPlanes, Full)):
        raise TypeError(f"pixel_mi_exact is defined for BitPlanes and Full schemes; got {scheme.spec!r}")
    images = _check_uint8(images, "images", ndims=(1, 2, 3, 4, 5))
    clear = images & np.uint8(~scheme.mask & 0xFF)
    return entropy(clear, unit)


def classic_metrics(
    plain: np.ndarray, cipher: np.ndarray, *, n_pairs: int | None = None, seed: int = 0
) -> dict[str, float]:
    """The usual table for a batch ``(N, H, W[, C])`` of pairs (or one grey ``(H, W)`` pair;
    pass one colour image as ``x[None]``, since 3-D arrays are ``(N, H, W)`` batches).

    Per-image values (entropy, adjacent correlations, NPCR, UACI, PSNR, SSIM) are averaged over
    the batch (a PSNR of ``inf`` -- identical images -- stays ``inf``); ``mi_plugin_bits`` pools
    all pixel pairs of the batch, ``mi_plugin_mm_bits`` adds the Miller--Madow correction.
    """
    if isinstance(plain, np.ndarray) and isinstance(cipher, np.ndarray) and plain.ndim == 2:
        plain, cipher = plain[None], cipher[None]  # one grey image; a colour one is passed as x[None]
    plain = check_images(plain, "plain")
    cipher = check_images(cipher, "cipher")
    if plain.shape != cipher.shape:
        raise ValueError(f"plain and cipher must have the same shape; got {plain.shape} and {cipher.shape}")
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    for p, c in zip(plain, cipher):
        add("entropy_plain", entropy(p))
        add("entropy_cipher", entropy(c))
        for d in ("horizontal", "vertical", "diagonal"):
            add(f"corr_{d[0]}_plain", adjacent_correlation(p, d, n_pairs, seed))
            add(f"corr_{d[0]}_cipher", adjacent_correlation(c, d, n_pairs, seed))
        r = npcr_uaci(p, c)
        add("npcr", r.npcr)
        add("uaci", r.uaci)
        add("psnr", psnr(p, c))
        add("ssim", ssim(p, c))
    out = {k: float(np.mean(v)) for k, v in rows.items()}
    out["mi_plugin_bits"] = pixel_mi_plugin(plain, cipher)
    out["mi_plugin_mm_bits"] = pixel_mi_plugin(plain, cipher, correction="miller-madow")
    out["n_images"] = float(plain.shape[0])
    return out
