"""Scheme-aware clean-up: what an adversary who knows the format does to SE images before looking at them.

Formats are public (Kerckhoffs): the adversary knows which bits of every pixel a scheme encrypts, so it
need not feed the keystream noise of those bits to a model. :func:`clean_up` overwrites them before the
images are embedded:

* ``"none"`` — the SE images as they are (what the paper measures);
* ``"replace"`` — the encrypted bits replaced by the replacement attack's blind best constant, the middle
  of their range (:func:`seleak.attacks.replace_constant` with ``strategy="mid"``): the noise is gone
  and only the clear bits vary;
* ``"reconstruct"`` — the encrypted bits predicted from the clear ones (:func:`seleak.attacks.reconstruct`,
  ``method="auto"``: MSB-prediction by phase unwrapping for ``msb:k``, Laplace smoothing for other
  plane sets and regions).

A clean-up is a function of the SE image alone (no key, no original), so by data processing it can
never raise the image-level ``I(X; SE(X))``; what it can raise is what a *fixed* embedding sees, which
is exactly the gap between a frozen CNN and an adversary who adapts.

Only pixel schemes (bit-planes, regions, full) say which pixel bits they encrypt; a DCT-domain scheme
raises ``ValueError`` (see :func:`cleanup_supported`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seleak.attacks.masks import as_scheme, encrypted_bit_mask, scheme_spec
from seleak.attacks.reconstruction import reconstruct
from seleak.attacks.replacement import replace_constant
from seleak.encryption import check_images

__all__ = ["CLEANUP_METHODS", "check_cleanup", "clean_up", "cleanup_supported"]

#: The clean-ups :func:`clean_up` knows, from none to the strongest.
CLEANUP_METHODS = ("none", "replace", "reconstruct")


def check_cleanup(method: Any, name: str = "cleanup", error: type[Exception] = ValueError) -> str:
    """``method`` if it is one of :data:`CLEANUP_METHODS`, else ``error`` naming the choices."""
    if not isinstance(method, str) or method not in CLEANUP_METHODS:
        raise error(
            f"{name} must be one of {', '.join(CLEANUP_METHODS)} (what the adversary does to the encrypted "
            f"bits before embedding), got {method!r}"
        )
    return method


def cleanup_supported(scheme: Any) -> bool:
    """Whether :func:`clean_up` can clean SE images of ``scheme`` (pixel schemes: bit-planes, regions, full)."""
    return bool(getattr(as_scheme(scheme), "is_pixel_scheme", True))


def clean_up(
    se_images: np.ndarray,
    scheme: Any,
    method: str = "replace",
    *,
    prior_mean: float = 127.5,
    sweeps: int = 60,
) -> np.ndarray:
    """The SE images as a scheme-aware adversary cleans them: ``uint8``, same shape.

    ``scheme`` is the scheme object or spec (``"msb:3"``); ``method`` one of :data:`CLEANUP_METHODS`
    (see the module docstring). The clear bits are never changed by ``"reconstruct"``; ``"replace"`` sets
    every encrypted part to the middle of its range (it replaces the encrypted part's value, so a carry
    may reach a clear plane, as in :func:`seleak.attacks.replace_constant`). ``prior_mean`` (the
    brightness the adversary assumes) and ``sweeps`` go to :func:`seleak.attacks.reconstruct`.

    Raises:
        ValueError: an unknown ``method``, or a scheme that does not encrypt pixel bits (DCT-domain).
    """
    check_cleanup(method, "method")
    imgs = check_images(se_images, "se_images")
    scheme = as_scheme(scheme)
    if not cleanup_supported(scheme):
        raise ValueError(
            f"scheme {scheme_spec(scheme)!r} does not encrypt pixel bits, so there are no bits to clean up; "
            "clean-up works on pixel schemes (msb/lsb/planes, region, full): use cleanup 'none' for it"
        )
    if method == "none":
        return imgs.copy()
    mask = encrypted_bit_mask(scheme, imgs.shape)
    if method == "replace":
        return replace_constant(imgs, strategy="mid", bit_mask=mask)
    return reconstruct(imgs, method="auto", sweeps=sweeps, prior_mean=prior_mean, bit_mask=mask)
