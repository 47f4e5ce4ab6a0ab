"""Replacement: overwrite the encrypted bits with a guess, and score attacked pictures against the originals.

The attacker knows the scheme (Kerckhoffs), so knows which bits of every pixel are encrypted, and
overwrites them with a constant (:func:`replace_constant`):

* ``"mid"`` — the middle of their range (half the sum of the encrypted planes' weights). It is the
  mean-square-optimal guess when the hidden bits are uniform and independent, which is exactly what a
  good keystream makes them look like.
* ``"oracle"`` — the best constant *per image* in the mean-square sense, i.e. the mean of the image's
  true encrypted part. It needs the original, so it is **not an attack**: it is the upper bound of
  every constant-replacement attack, labelled as such in every result. (A blind "best constant per
  image" does not exist for bit-plane schemes: adding the same value to every pixel leaves every
  difference between neighbours unchanged, so smoothness, edges or any other shift-invariant statistic
  of the clear planes cannot tell one constant from another.)

:func:`replacement_attack` runs these and the reconstructions of :mod:`seleak.attacks.reconstruction`
on one batch and scores each with PSNR and SSIM (:func:`image_quality`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from seleak.attacks.masks import encrypted_bit_mask, mask_for, plane_count, scheme_spec
from seleak.attacks.reconstruction import (
    RECONSTRUCTION_METHODS,
    auto_method,
    reconstruct,
)
from seleak.encryption import as_scheme, check_images

__all__ = [
    "CONSTANT_METHODS",
    "REPLACEMENT_METHODS",
    "ReplacementResult",
    "image_quality",
    "replace_constant",
    "replacement_attack",
]

#: Methods of :func:`replacement_attack`: constant replacements, then reconstructions.
REPLACEMENT_METHODS = ("mid", "oracle", "unwrap", "smooth")
#: The constant replacements (:func:`replace_constant` strategies).
CONSTANT_METHODS = ("mid", "oracle")


def replace_constant(
    se_images: np.ndarray,
    scheme: Any = None,
    *,
    strategy: str = "mid",
    original: np.ndarray | None = None,
    bit_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Overwrite the encrypted bits of every pixel with a constant; returns ``uint8``, same shape.

    ``strategy="mid"`` uses half the sum of the encrypted planes' weights (blind; the MSE-optimal guess
    for uniform hidden bits). ``strategy="oracle"`` uses, per image, the mean of the true encrypted part
    of ``original`` (required): the best constant there is, an upper bound and not an attack.
    The constant replaces the encrypted part's *value*, not its bits: the middle of ``msb:1``'s range is
    64, which no setting of plane 7 alone gives, and adding it to the clear part may carry into a clear
    plane. That is deliberate — the attacker wants the picture closest to the original, not a
    bit-consistent one (:func:`reconstruct` returns bit-consistent pictures). Pixels with no encrypted
    bit are returned untouched, so ``msb:0`` gives back the input.
    """
    imgs = check_images(se_images, "se_images")
    m = mask_for(imgs, scheme, bit_mask)
    clear = (imgs & ~m).astype(np.int32)
    mf = m.astype(np.float64)
    if strategy == "mid":
        const = np.broadcast_to(np.rint(mf / 2.0), imgs.shape)
    elif strategy == "oracle":
        if original is None:
            raise ValueError("strategy='oracle' needs the original images (it is an upper bound, not an attack)")
        orig = check_images(original, "original")
        if orig.shape != imgs.shape:
            raise ValueError(f"original {orig.shape} and se_images {imgs.shape} must have the same shape")
        hidden = (orig & m).astype(np.float64)
        enc = np.broadcast_to(m > 0, imgs.shape)
        axes = tuple(range(1, imgs.ndim))
        n_enc = np.maximum(enc.sum(axis=axes, keepdims=True), 1)
        mean = (hidden * enc).sum(axis=axes, keepdims=True) / n_enc
        # a region may mix pixels whose encrypted parts have different ranges: clip per pixel
        const = np.minimum(np.rint(mean), mf)
    else:
        raise ValueError(f"strategy must be one of {list(CONSTANT_METHODS)!r}, got {strategy!r}")
    return (clear + const.astype(np.int32)).astype(np.uint8)


def image_quality(original: np.ndarray, attacked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB, ``inf`` when identical) and SSIM, with :func:`seleak.metrics.psnr` and
    :func:`seleak.metrics.ssim` (the chapter-1 definitions: data range 255, 7×7 window shrunk for tiny
    images, colour channels averaged)."""
    from seleak.metrics import psnr, ssim

    a = check_images(original, "original")
    b = check_images(attacked, "attacked")
    if a.shape != b.shape:
        raise ValueError(f"original {a.shape} and attacked {b.shape} must have the same shape")
    p = np.array([psnr(x, y) for x, y in zip(a, b)], dtype=np.float64)
    s = np.array([ssim(x, y) for x, y in zip(a, b)], dtype=np.float64)
    return p, s


@dataclass(frozen=True)
class ReplacementResult:
    """One replacement or reconstruction attack on one batch of SE images.

    Attributes:
        scheme: the scheme's spec (``"msb:3"``).
        k: number of encrypted planes (``None`` when the scheme has no plane set).
        method: ``"mid"``, ``"oracle"``, ``"unwrap"`` or ``"smooth"``.
        oracle: ``True`` when the method looked at the original (an upper bound, not an attack).
        psnr_db: mean per-image PSNR over the images whose PSNR is finite; ``inf`` when every image is
            recovered exactly.
        ssim: mean per-image SSIM.
        exact_fraction: share of images recovered bit-exactly.
        psnr_per_image, ssim_per_image: the per-image values.
        images: the attacked images (``uint8``), kept for plots; not in :meth:`to_row`.
        wall_time_s: seconds the attack took.
    """

    scheme: str
    k: int | None
    method: str
    oracle: bool
    psnr_db: float
    ssim: float
    exact_fraction: float
    psnr_per_image: np.ndarray = field(repr=False)
    ssim_per_image: np.ndarray = field(repr=False)
    images: np.ndarray = field(repr=False)
    wall_time_s: float = 0.0

    def to_row(self) -> dict[str, Any]:
        """A flat dict for a tidy table (no arrays)."""
        row = asdict(self)
        for key in ("psnr_per_image", "ssim_per_image", "images"):
            row.pop(key)
        return row


def replacement_attack(
    original: np.ndarray,
    se_images: np.ndarray,
    scheme: Any,
    *,
    methods: Iterable[str] = ("mid", "oracle", "auto"),
    sweeps: int = 60,
    prior_mean: float = 127.5,
) -> list[ReplacementResult]:
    """Run constant replacements and reconstructions on ``se_images`` and score them against ``original``.

    ``methods`` picks among ``"mid"``, ``"oracle"`` (constant replacements), ``"unwrap"``, ``"smooth"``
    and ``"auto"`` (reconstructions, see :func:`reconstruct`; ``"auto"`` is reported under the method it
    resolved to); ``sweeps`` and ``prior_mean`` go to :func:`reconstruct`. Returns one
    :class:`ReplacementResult` per method.
    """
    orig = check_images(original, "original")
    se = check_images(se_images, "se_images")
    if orig.shape != se.shape:
        raise ValueError(f"original {orig.shape} and se_images {se.shape} must have the same shape")
    scheme = as_scheme(scheme)
    mask = encrypted_bit_mask(scheme, se.shape)
    # the clear bits of the SE images must be those of the original, or the pair is not a pair
    if np.any((orig ^ se) & ~mask):
        raise ValueError(
            f"se_images differ from original outside the bits that scheme {scheme_spec(scheme)!r} encrypts: "
            "wrong scheme, or images not paired row by row"
        )
    methods = list(methods)
    if not methods:
        raise ValueError("methods is empty")
    out: list[ReplacementResult] = []
    for method in methods:
        t0 = time.perf_counter()
        if method in CONSTANT_METHODS:
            attacked = replace_constant(se, strategy=method, original=orig, bit_mask=mask)
            name = method
        elif method in RECONSTRUCTION_METHODS:
            name = auto_method(mask) if method == "auto" else method
            attacked = reconstruct(
                se, method=name if mask.any() else "auto", sweeps=sweeps, prior_mean=prior_mean, bit_mask=mask
            )
        else:
            raise ValueError(f"unknown method {method!r}; choose among {list(REPLACEMENT_METHODS) + ['auto']!r}")
        psnr, ssim = image_quality(orig, attacked)
        finite = psnr[np.isfinite(psnr)]
        out.append(
            ReplacementResult(
                scheme=scheme_spec(scheme),
                k=plane_count(scheme),
                method=name,
                oracle=method == "oracle",
                psnr_db=float(finite.mean()) if finite.size else math.inf,
                ssim=float(ssim.mean()),
                exact_fraction=float(np.mean(~np.isfinite(psnr))),
                psnr_per_image=psnr,
                ssim_per_image=ssim,
                images=attacked,
                wall_time_s=time.perf_counter() - t0,
            )
        )
    return out
