"""Reconstruction: predict the encrypted bits of every pixel from the clear ones (blind, no key).

The MSB-prediction idea of the SE literature (e.g. Puteaux & Puech's MSB prediction, used there to
embed data in the MSB): natural images are smooth, so among the values the encrypted bits may take, the
right one usually makes a pixel close to its neighbours.

* ``"unwrap"`` — for the MSB schemes (the encrypted planes are the top ``k``), a pixel is known modulo
  ``step = 2**(8-k)`` and recovering it is *phase unwrapping*: neighbour differences are wrapped to
  ``[-step/2, step/2)``, integrated in the least-squares sense (a Poisson equation, solved with a DCT —
  Ghiglia & Romero 1994), then every pixel takes the admissible value nearest to that surface. Exact on
  any image whose neighbour differences stay below ``step/2``; the global offset (how bright the image
  is), which no clear bit reveals, is set so the image fits the 8-bit range and its mean sits nearest
  to the attacker's prior brightness (``prior_mean``, mid-grey unless told).
* ``"smooth"`` — any plane set (LSBs, arbitrary planes, regions): the hidden part of every pixel is
  relaxed to a continuous value pulled towards the mean of its 4 neighbours (over-relaxed red-black
  Gauss–Seidel, i.e. a discrete Laplace equation with the clear bits as data), then rounded to the
  nearest value its encrypted bits can give, then cleaned with two quantised sweeps.
* ``"auto"`` — ``"unwrap"`` for top-plane sets, ``"smooth"`` otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seleak._validation import is_int
from seleak.attacks.masks import mask_for, to_nhwc
from seleak.encryption import check_images

__all__ = ["RECONSTRUCTION_METHODS", "auto_method", "reconstruct", "top_plane_count"]

#: Methods of :func:`reconstruct`.
RECONSTRUCTION_METHODS = ("auto", "unwrap", "smooth")


def top_plane_count(mask: np.ndarray) -> int:
    """``k`` when every pixel has the same top ``k`` planes encrypted (an ``msb:k`` mask), else 0."""
    values = np.unique(mask)
    if values.size != 1:
        return 0
    planes = tuple(p for p in range(8) if int(values[0]) >> p & 1)
    return len(planes) if planes == tuple(range(8 - len(planes), 8)) else 0


def auto_method(mask: np.ndarray) -> str:
    """What ``method="auto"`` resolves to for a bit mask: ``"unwrap"`` for top-plane sets, else ``"smooth"``."""
    return "unwrap" if top_plane_count(mask) else "smooth"


def _unwrap(clear: np.ndarray, k: int, prior_mean: float) -> np.ndarray:
    """MSB recovery as least-squares phase unwrapping. ``clear`` is float (N, H, W, C), ``k`` top planes."""
    from scipy.fft import dctn, idctn

    step = float(2 ** (8 - k))
    n_levels = 2**k
    _, h, w, _ = clear.shape

    def wrap(d: np.ndarray) -> np.ndarray:
        return d - step * np.round(d / step)

    gx = np.zeros_like(clear)
    gy = np.zeros_like(clear)
    gx[:, :, :-1] = wrap(np.diff(clear, axis=2))
    gy[:, :-1] = wrap(np.diff(clear, axis=1))
    # divergence of the wrapped gradient field (Neumann boundary: zero gradient past the edge)
    rho = gx.copy()
    rho[:, :, 1:] -= gx[:, :, :-1]
    rho += gy
    rho[:, 1:] -= gy[:, :-1]
    # the DCT-II diagonalises the Neumann Laplacian (Ghiglia & Romero 1994)
    rho_hat = dctn(rho, type=2, axes=(1, 2), norm="ortho")
    i = np.arange(h)[:, None]
    j = np.arange(w)[None, :]
    denom = 2.0 * np.cos(np.pi * i / h) + 2.0 * np.cos(np.pi * j / w) - 4.0
    denom[0, 0] = 1.0  # the mean is free (fixed below); avoid 0/0
    phi_hat = rho_hat / denom[None, :, :, None]
    phi_hat[:, 0, 0] = 0.0
    phi = idctn(phi_hat, type=2, axes=(1, 2), norm="ortho")
    # phi is known up to a constant: align it with the clear values modulo step (circular mean of
    # the residual), then count each pixel's hidden level relative to that surface
    res = phi - clear
    ang = 2 * np.pi * res / step
    shift = (
        step
        / (2 * np.pi)
        * np.arctan2(np.sin(ang).mean(axis=(1, 2), keepdims=True), np.cos(ang).mean(axis=(1, 2), keepdims=True))
    )
    rel = np.round((phi - shift - clear) / step)  # integer hidden level, up to a common offset
    # the global offset is invisible in the clear bits. When the unwrapped levels span fewer than
    # 2**k values every offset that keeps them in range is equally consistent; take the one that puts
    # the image's mean nearest to the attacker's prior brightness. (When they span more, some pixels clip whatever the
    # offset; the same rule, with the range reversed, picks the least lopsided one.)
    rel = rel - rel.min(axis=(1, 2), keepdims=True)
    span = rel.max(axis=(1, 2), keepdims=True)
    free = n_levels - 1 - span
    ideal = np.round((prior_mean - (clear + step * rel).mean(axis=(1, 2), keepdims=True)) / step)
    offset = np.clip(ideal, np.minimum(0, free), np.maximum(0, free))
    levels = np.clip(rel + offset, 0, n_levels - 1)
    return clear + step * levels


def _candidates(mask_value: int) -> np.ndarray:
    """Every value the encrypted part of a pixel may take: the subset sums of the mask's bits."""
    bits = [1 << p for p in range(8) if mask_value >> p & 1]
    vals = np.zeros(1, dtype=np.int64)
    for b in bits:
        vals = np.concatenate([vals, vals + b])
    return np.sort(vals)


def _smooth(clear: np.ndarray, mask: np.ndarray, sweeps: int, prior_mean: float) -> np.ndarray:
    """Relaxed Laplace smoothing of the hidden part, then rounding to admissible values (see module doc)."""
    n, h, w, c = clear.shape
    mask = np.broadcast_to(mask, clear.shape[1:])
    groups = [(int(v), mask == v) for v in np.unique(mask) if v != 0]
    cands = {v: _candidates(v).astype(np.float64) for v, _ in groups}

    def nearest(target_hidden: np.ndarray, sel: np.ndarray, v: int) -> np.ndarray:
        cv = cands[v]
        t = target_hidden[:, sel]
        idx = np.clip(np.searchsorted(cv, t), 1, len(cv) - 1)
        lower, upper = cv[idx - 1], cv[idx]
        return np.where(t - lower <= upper - t, lower, upper)

    # 1) the continuous relaxation: the hidden part may take any value in [0, mask]; over-relaxed
    #    red-black Gauss-Seidel (SOR) towards the neighbours' mean, started at the prior brightness.
    #    Quantised sweeps alone get stuck: one neighbour moving by a whole step shifts the mean by a
    #    quarter step, never enough to move the next pixel, so the clear surroundings never propagate.
    # 2) every pixel then takes the admissible value nearest to the relaxed one, and two quantised
    #    sweeps clean up.
    yy, xx = np.mgrid[0:h, 0:w]
    parity = np.broadcast_to(((yy + xx) % 2)[:, :, None], clear.shape[1:])
    count = np.zeros((1, h, w, c))
    count[:, 1:] += 1
    count[:, :-1] += 1
    count[:, :, 1:] += 1
    count[:, :, :-1] += 1
    mf = mask.astype(np.float64)[None]
    hidden = np.clip(prior_mean - clear, 0.0, mf)

    def neighbour_mean(rec: np.ndarray) -> np.ndarray:
        nb = np.zeros_like(rec)
        nb[:, 1:] += rec[:, :-1]
        nb[:, :-1] += rec[:, 1:]
        nb[:, :, 1:] += rec[:, :, :-1]
        nb[:, :, :-1] += rec[:, :, 1:]
        return nb / count

    omega = 1.8
    for _ in range(sweeps):
        for colour in (0, 1):
            sel = parity == colour
            target = np.clip(neighbour_mean(clear + hidden) - clear, 0.0, mf)
            hidden = np.where(sel, hidden + omega * (target - hidden), hidden)
            hidden = np.clip(hidden, 0.0, mf)
    for v, sel in groups:
        hidden[:, sel] = nearest(hidden, sel, v)
    for _ in range(2):
        for colour in (0, 1):
            target = neighbour_mean(clear + hidden) - clear
            for v, sel in groups:
                sel_c = sel & (parity == colour)
                if sel_c.any():
                    hidden[:, sel_c] = nearest(target, sel_c, v)
    rec = clear + hidden
    return rec


def reconstruct(
    se_images: np.ndarray,
    scheme: Any = None,
    *,
    method: str = "auto",
    sweeps: int = 60,
    prior_mean: float = 127.5,
    bit_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Predict the encrypted bits of every pixel from the clear bits of the image (blind, no key).

    ``method``: ``"unwrap"`` (MSB schemes: least-squares phase unwrapping), ``"smooth"`` (any plane set:
    ``sweeps`` over-relaxed red-black sweeps towards the neighbours' mean, then rounding) or ``"auto"``
    (unwrap when the encrypted planes are the top ones of every pixel, else smooth). Returns ``uint8``,
    same shape; the output is bit-consistent: its clear bits are those of ``se_images``.

    ``prior_mean`` is the mean brightness the attacker assumes (mid-grey by default). No clear bit
    tells a dark picture from the same picture made brighter by a multiple of the step, so this prior
    picks among them; an attacker who knows the kind of pictures (e.g. dark-background digits) sets it
    from other plain pictures of that kind.
    """
    imgs = check_images(se_images, "se_images")
    if method not in RECONSTRUCTION_METHODS:
        raise ValueError(f"method must be one of {list(RECONSTRUCTION_METHODS)!r}, got {method!r}")
    if not is_int(sweeps) or sweeps < 0:
        raise ValueError(f"sweeps must be a non-negative integer, got {sweeps!r}")
    m = mask_for(imgs, scheme, bit_mask)
    if not m.any():
        return imgs.copy()
    k = top_plane_count(m)
    if method == "auto":
        method = auto_method(m)
    if method == "unwrap" and not k:
        raise ValueError(
            "method='unwrap' needs the same top planes encrypted in every pixel (an msb:k scheme); "
            "use method='smooth' for other plane sets and regions"
        )
    clear = to_nhwc((imgs & ~m).astype(np.float64))
    if method == "unwrap":
        rec = _unwrap(clear, k, float(prior_mean))
    else:
        rec = _smooth(clear, to_nhwc(np.broadcast_to(m, imgs.shape[1:])[None])[0], int(sweeps), float(prior_mean))
    rec = rec.reshape(imgs.shape) if imgs.ndim == 3 else rec
    return np.clip(np.rint(rec), 0, 255).astype(np.uint8)
