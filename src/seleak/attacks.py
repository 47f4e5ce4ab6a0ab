"""Attacks on selectively encrypted (SE) images: what an adversary without the key gets out of them.

Three attacks, from the crudest to the one that gives an information-theoretic number:

**Replacement** (:func:`replace_constant`). The attacker knows the scheme (Kerckhoffs), so knows which
bits of every pixel are encrypted, and overwrites them with a constant:

* ``"mid"`` — the middle of their range (half the sum of the encrypted planes' weights). It is the
  mean-square-optimal guess when the hidden bits are uniform and independent, which is exactly what a
  good keystream makes them look like.
* ``"oracle"`` — the best constant *per image* in the mean-square sense, i.e. the mean of the image's
  true encrypted part. It needs the original, so it is **not an attack**: it is the upper bound of
  every constant-replacement attack, labelled as such in every result. (A blind "best constant per
  image" does not exist for bit-plane schemes: adding the same value to every pixel leaves every
  difference between neighbours unchanged, so smoothness, edges or any other shift-invariant statistic
  of the clear planes cannot tell one constant from another.)

**Reconstruction** (:func:`reconstruct`), the MSB-prediction idea of the SE literature (e.g. Puteaux &
Puech's MSB prediction, used there to embed data in the MSB): natural images are smooth, so among the
values the encrypted bits may take, the right one usually makes a pixel close to its neighbours.

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

**Recognition** (:func:`recognition_attack`): a small CNN trained on SE images with the data set's
labels; its test accuracy, and its test cross-entropy turned into a lower bound on the mutual
information between the label and the SE image:

    I(Y; X) = H(Y) - H(Y | X)  >=  H(Y) - CE,    CE = E[-log q(Y | X)]  for ANY model q,

because ``E[-log q(Y|X)] - H(Y|X) = E_X[KL(p(.|X) || q(.|X))] >= 0`` (Gibbs' inequality). The CNN is
one such ``q``; a better model only tightens the bound. ``CE`` is measured on test images the model
never saw, so it is an unbiased estimate of the cross-entropy of that fixed ``q`` (the bound is thus an
estimate too, with the sampling error of a mean over the test set); ``H(Y)`` is the empirical entropy of
the labels (the plug-in entropy is biased low, which only makes the bound more conservative). The bound can come out negative (a poor or over-confident ``q``), which
says nothing beyond ``I >= 0``, so it is reported clipped at 0 next to the raw value.

Every function takes ``uint8`` images ``(N, H, W)`` or ``(N, H, W, C)`` and a scheme (an object of
:mod:`seleak.encryption` or its spec string such as ``"msb:3"``). :func:`attack_table` runs them all over
a list of schemes and returns one tidy :class:`pandas.DataFrame` for the chapter-5 notebook.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from seleak.encryption import as_scheme as _scheme_obj
from seleak.encryption import check_images as _check_images

if TYPE_CHECKING:  # pandas and torch are imported where used: importing seleak.attacks stays light
    import pandas as pd

__all__ = [
    "ReplacementResult",
    "RecognitionResult",
    "encrypted_bit_mask",
    "replace_constant",
    "reconstruct",
    "image_quality",
    "replacement_attack",
    "recognition_attack",
    "label_entropy",
    "attack_table",
    "attack_measures",
    "RankCorrelation",
    "spearman_bootstrap",
    "rank_correlations",
    "REPLACEMENT_METHODS",
]

#: Methods of :func:`replacement_attack`: constant replacements, then reconstructions.
REPLACEMENT_METHODS = ("mid", "oracle", "unwrap", "smooth")
_CONSTANT = ("mid", "oracle")
_RECONSTRUCT = ("auto", "unwrap", "smooth")
_FEATURES = ("both", "bitplanes", "pixels")


# --------------------------------------------------------------------------------------------------
# input checks and the scheme's bit mask
# --------------------------------------------------------------------------------------------------


def _spec(scheme: Any) -> str:
    return str(getattr(scheme, "spec", scheme))


def encrypted_bit_mask(scheme: Any, shape: Sequence[int]) -> np.ndarray:
    """Which bits of every pixel a scheme encrypts, as a ``uint8`` array of shape ``shape[1:]``.

    ``shape`` is the image batch's shape ``(N, H, W)`` or ``(N, H, W, C)``; bit ``p`` of entry
    ``(h, w[, c])`` is set when plane ``p`` of that pixel is encrypted. Works for every pixel scheme
    (bit-planes, regions, full); a scheme that does not XOR pixel bits (the DCT-domain one) raises
    ``ValueError``: replacing bits is meaningless there.
    """
    scheme = _scheme_obj(scheme)
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"shape must be (N, H, W) or (N, H, W, C), got {shape}")
    if not getattr(scheme, "is_pixel_scheme", True):
        raise ValueError(
            f"scheme {_spec(scheme)!r} does not encrypt pixel bits; the replacement and reconstruction "
            "attacks work on pixel schemes only (bit-planes, regions, full)"
        )
    try:
        mask = scheme.bit_mask(shape[1:])
    except (AttributeError, NotImplementedError):
        raise ValueError(f"scheme {_spec(scheme)!r} does not say which pixel bits it encrypts") from None
    return np.ascontiguousarray(np.broadcast_to(np.asarray(mask, dtype=np.uint8), shape[1:]))


def _mask_for(images: np.ndarray, scheme: Any, bit_mask: np.ndarray | None) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------------
# replacement and reconstruction
# --------------------------------------------------------------------------------------------------


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
    imgs = _check_images(se_images, "se_images")
    m = _mask_for(imgs, _scheme_obj(scheme) if scheme is not None else None, bit_mask)
    clear = (imgs & ~m).astype(np.int32)
    mf = m.astype(np.float64)
    if strategy == "mid":
        const = np.broadcast_to(np.rint(mf / 2.0), imgs.shape)
    elif strategy == "oracle":
        if original is None:
            raise ValueError("strategy='oracle' needs the original images (it is an upper bound, not an attack)")
        orig = _check_images(original, "original")
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
        raise ValueError(f"strategy must be one of {list(_CONSTANT)!r}, got {strategy!r}")
    return (clear + const.astype(np.int32)).astype(np.uint8)


def _is_top_planes(planes: tuple[int, ...]) -> bool:
    return len(planes) > 0 and planes == tuple(range(8 - len(planes), 8))


def _to_nhwc(a: np.ndarray) -> np.ndarray:
    return a[..., None] if a.ndim == 3 else a


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
    shift = step / (2 * np.pi) * np.arctan2(np.sin(ang).mean(axis=(1, 2), keepdims=True),
                                            np.cos(ang).mean(axis=(1, 2), keepdims=True))
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
    ``sweeps`` over-relaxed red-black sweeps towards the neighbours' mean, then rounding) or ``"auto"`` (unwrap when the encrypted
    planes are the top ones of every pixel, else smooth). Returns ``uint8``, same shape; the output is
    bit-consistent: its clear bits are those of ``se_images``.

    ``prior_mean`` is the mean brightness the attacker assumes (mid-grey by default). No clear bit
    tells a dark picture from the same picture made brighter by a multiple of the step, so this prior
    picks among them; an attacker who knows the kind of pictures (e.g. dark-background digits) sets it
    from other plain pictures of that kind.
    """
    imgs = _check_images(se_images, "se_images")
    if method not in _RECONSTRUCT:
        raise ValueError(f"method must be one of {list(_RECONSTRUCT)!r}, got {method!r}")
    if isinstance(sweeps, bool) or not isinstance(sweeps, (int, np.integer)) or sweeps < 0:
        raise ValueError(f"sweeps must be a non-negative integer, got {sweeps!r}")
    m = _mask_for(imgs, _scheme_obj(scheme) if scheme is not None else None, bit_mask)
    if not m.any():
        return imgs.copy()
    values = np.unique(m)
    uniform = values.size == 1
    planes = tuple(p for p in range(8) if int(values[-1]) >> p & 1)
    top = uniform and _is_top_planes(planes)
    if method == "auto":
        method = "unwrap" if top else "smooth"
    if method == "unwrap" and not top:
        raise ValueError(
            "method='unwrap' needs the same top planes encrypted in every pixel (an msb:k scheme); "
            "use method='smooth' for other plane sets and regions"
        )
    clear = _to_nhwc((imgs & ~m).astype(np.float64))
    if method == "unwrap":
        rec = _unwrap(clear, len(planes), float(prior_mean))
    else:
        rec = _smooth(clear, _to_nhwc(np.broadcast_to(m, imgs.shape[1:])[None])[0], int(sweeps), float(prior_mean))
    rec = rec.reshape(imgs.shape) if imgs.ndim == 3 else rec
    return np.clip(np.rint(rec), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------------
# image quality and the replacement attack
# --------------------------------------------------------------------------------------------------


def image_quality(original: np.ndarray, attacked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB, ``inf`` when identical) and SSIM, with :func:`seleak.metrics.psnr` and
    :func:`seleak.metrics.ssim` (the chapter-1 definitions: data range 255, 7×7 window shrunk for tiny
    images, colour channels averaged)."""
    from seleak.metrics import psnr, ssim

    a = _check_images(original, "original")
    b = _check_images(attacked, "attacked")
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


def _k_of(scheme: Any) -> int | None:
    """Number of encrypted planes of a whole-image bit-plane scheme (``Full``: 8), else ``None``."""
    from seleak.encryption import BitPlanes, Full

    if isinstance(scheme, BitPlanes):
        return len(scheme.planes)
    if isinstance(scheme, Full):
        return 8
    return None


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
    orig = _check_images(original, "original")
    se = _check_images(se_images, "se_images")
    if orig.shape != se.shape:
        raise ValueError(f"original {orig.shape} and se_images {se.shape} must have the same shape")
    scheme = _scheme_obj(scheme)
    mask = encrypted_bit_mask(scheme, se.shape)
    # the clear bits of the SE images must be those of the original, or the pair is not a pair
    if np.any((orig ^ se) & ~mask):
        raise ValueError(
            f"se_images differ from original outside the bits that scheme {_spec(scheme)!r} encrypts: "
            "wrong scheme, or images not paired row by row"
        )
    methods = list(methods)
    if not methods:
        raise ValueError("methods is empty")
    out: list[ReplacementResult] = []
    for method in methods:
        t0 = time.perf_counter()
        if method in _CONSTANT:
            attacked = replace_constant(se, strategy=method, original=orig, bit_mask=mask)
            name = method
        elif method in _RECONSTRUCT:
            name = method
            if method == "auto":
                values = np.unique(mask)
                planes = tuple(p for p in range(8) if int(values[-1]) >> p & 1)
                name = "unwrap" if values.size == 1 and _is_top_planes(planes) else "smooth"
            attacked = reconstruct(se, method=name if mask.any() else "auto", sweeps=sweeps, prior_mean=prior_mean, bit_mask=mask)
        else:
            raise ValueError(f"unknown method {method!r}; choose among {list(REPLACEMENT_METHODS) + ['auto']!r}")
        psnr, ssim = image_quality(orig, attacked)
        finite = psnr[np.isfinite(psnr)]
        out.append(
            ReplacementResult(
                scheme=_spec(scheme),
                k=_k_of(scheme),
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


# --------------------------------------------------------------------------------------------------
# recognition attack and the label-MI bound
# --------------------------------------------------------------------------------------------------


def label_entropy(labels: np.ndarray) -> float:
    """Empirical (plug-in) Shannon entropy of integer labels, in nats."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-D integer array, got dtype {lab.dtype}, shape {lab.shape}")
    _, counts = np.unique(lab, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


@dataclass(frozen=True)
class RecognitionResult:
    """A classifier trained on SE images, and the label-MI lower bound it gives.

    Attributes:
        scheme: the scheme's spec, or ``""`` when not given.
        k: number of encrypted planes, or ``None``.
        accuracy: test accuracy.
        chance: accuracy of always answering the training set's most frequent class, on the test set.
        cross_entropy_nats: mean test cross-entropy ``-log q(y|x)`` after temperature calibration.
        label_entropy_nats: empirical entropy of all the labels, ``H(Y)``.
        mi_lower_bound_nats: ``max(0, H(Y) - CE)``, the reported bound on ``I(label; SE image)``.
        mi_lower_bound_raw_nats: ``H(Y) - CE`` before clipping (negative: the bound says nothing).
        temperature: the softmax temperature fitted on the validation split.
        n_train, n_val, n_test: split sizes; features: ``"both"``, ``"bitplanes"`` or ``"pixels"``;
        epochs, seed, wall_time_s: how it was run.
    """

    scheme: str
    k: int | None
    accuracy: float
    chance: float
    cross_entropy_nats: float
    label_entropy_nats: float
    mi_lower_bound_nats: float
    mi_lower_bound_raw_nats: float
    temperature: float
    n_train: int
    n_val: int
    n_test: int
    features: str
    epochs: int
    seed: int
    wall_time_s: float

    @property
    def mi_lower_bound_bits(self) -> float:
        """The clipped bound in bits."""
        return self.mi_lower_bound_nats / math.log(2.0)

    def to_row(self) -> dict[str, Any]:
        """A flat dict for a tidy table."""
        return asdict(self)


def _features(images: np.ndarray, features: str) -> np.ndarray:
    """float32 (N, C', H, W): centred pixels, every bit-plane as a ±1 channel, or both.

    Bit-planes let the network read a clear plane directly. A CNN on raw values would have to learn a
    parity-like function to separate a clear LSB from the noise of encrypted MSBs, which small networks
    do badly; an attacker who knows the scheme would not make it that hard for himself.
    """
    x = _to_nhwc(images)
    if features not in _FEATURES:
        raise ValueError(f"features must be one of {list(_FEATURES)!r}, got {features!r}")
    parts = []
    if features in ("pixels", "both"):
        parts.append(x.astype(np.float32) / 127.5 - 1.0)
    if features in ("bitplanes", "both"):
        bits = (x[..., None] >> np.arange(8, dtype=np.uint8)) & 1  # (N, H, W, C, 8)
        parts.append(bits.reshape(*x.shape[:3], -1).astype(np.float32) * 2.0 - 1.0)
    f = np.concatenate(parts, axis=-1)
    return np.ascontiguousarray(f.transpose(0, 3, 1, 2))


def _split(labels: np.ndarray, test_fraction: float, val_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Stratified train/val/test indices (every class in every split when it has enough images)."""
    rng = np.random.default_rng(seed)
    tr, va, te = [], [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_te = int(round(test_fraction * idx.size))
        n_va = int(round(val_fraction * idx.size))
        te.append(idx[:n_te])
        va.append(idx[n_te : n_te + n_va])
        tr.append(idx[n_te + n_va :])
    return tuple(np.sort(np.concatenate(s)) for s in (tr, va, te))


def _make_cnn(in_ch: int, n_classes: int) -> Any:
    import torch.nn as nn

    # three small conv blocks and a global average pool: ~15k weights, ~3 M multiply-adds per 32×32
    # image, so 1-2k images train in seconds per epoch on a shared CPU; any image size works
    return nn.Sequential(
        nn.Conv2d(in_ch, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, n_classes),
    )


def recognition_attack(
    se_images: np.ndarray,
    labels: np.ndarray,
    *,
    scheme: Any = None,
    features: str = "pixels",
    test_fraction: float = 0.3,
    val_fraction: float = 0.15,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    threads: int | None = None,
) -> RecognitionResult:
    """Train a small CNN to recognise the label of SE images; test accuracy and the label-MI bound.

    The images are split (stratified, by ``seed``) into train / validation / test. The CNN is trained on
    the train split (Adam, ``epochs`` passes); the epoch with the lowest validation cross-entropy is kept
    and its softmax temperature is fitted on the validation split — both choices of ``q`` use no test
    image, so the test cross-entropy stays an honest estimate. ``scheme`` only labels the result.

    ``features``: what the CNN reads — ``"pixels"`` (the SE image as is; default), ``"bitplanes"`` (each
    plane as a channel: an attacker who knows the scheme reads the clear planes directly) or ``"both"``.
    Every choice is a function of the SE image, so the bound holds for all three. The richer inputs can
    only tighten it in principle, but with a few hundred training images they train worse: on 400 plain
    digits the defaults (pixels, lr 3e-3, batch 32, 20 epochs) reach 0.84 test accuracy where ``"both"``
    with lr 1e-2, batch 64, 12 epochs reached 0.54.

    ``threads`` sets torch's CPU threads for the call (restored afterwards); ``None`` leaves them. On a
    shared machine one thread is often faster than two.
    """
    import torch

    imgs = _check_images(se_images, "se_images")
    lab = np.asarray(labels)
    if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got dtype {lab.dtype}, shape {lab.shape}")
    if lab.shape[0] != imgs.shape[0]:
        raise ValueError(f"{imgs.shape[0]} images but {lab.shape[0]} labels; they must be paired")
    if lab.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    if not 0 < test_fraction < 1 or not 0 < val_fraction < 1 or test_fraction + val_fraction >= 1:
        raise ValueError(f"test_fraction ({test_fraction}) and val_fraction ({val_fraction}) must be in (0, 1) with a sum < 1")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    classes, y_all = np.unique(lab, return_inverse=True)
    if classes.size < 2:
        raise ValueError("the recognition attack needs at least two classes")
    tr, va, te = _split(y_all, test_fraction, val_fraction, seed)
    if min(tr.size, va.size, te.size) == 0:
        raise ValueError(f"too few images ({imgs.shape[0]}) for a train/validation/test split")

    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_and_score(imgs, lab, y_all, classes, (tr, va, te), scheme, features, epochs, batch_size, lr,
                                seed, device)
    finally:
        torch.set_num_threads(previous)


def _train_and_score(
    imgs: np.ndarray,
    lab: np.ndarray,
    y_all: np.ndarray,
    classes: np.ndarray,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
    scheme: Any,
    features: str,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str,
) -> RecognitionResult:
    import torch
    import torch.nn.functional as F

    tr, va, te = splits
    t0 = time.perf_counter()
    x_all = torch.from_numpy(_features(imgs, features))
    y_t = torch.from_numpy(y_all.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _make_cnn(x_all.shape[1], classes.size).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def logits_of(idx: np.ndarray) -> torch.Tensor:
        model.eval()
        with torch.inference_mode():
            return torch.cat([model(x_all[idx[i : i + 512]].to(device)).cpu() for i in range(0, idx.size, 512)])

    best_val, best_state = math.inf, None
    tr_t = torch.from_numpy(tr)
    for _ in range(int(epochs)):
        model.train()
        order = tr_t[torch.randperm(tr.size, generator=gen)]
        for i in range(0, order.numel(), batch_size):
            b = order[i : i + batch_size]
            if b.numel() < 2:  # BatchNorm needs two samples
                continue
            loss = F.cross_entropy(model(x_all[b].to(device)), y_t[b].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        val_ce = float(F.cross_entropy(logits_of(va), y_t[va]))
        if val_ce < best_val:
            best_val = val_ce
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)

    # temperature scaling on the validation split: a 1-D convex problem in log T
    from scipy.optimize import minimize_scalar

    lv, yv = logits_of(va).double(), y_t[va]
    fit = minimize_scalar(lambda lt: float(F.cross_entropy(lv / math.exp(lt), yv)), bounds=(-3.0, 5.0), method="bounded")
    temperature = float(math.exp(fit.x))
    lt_ = logits_of(te).double()
    ce = float(F.cross_entropy(lt_ / temperature, y_t[te]))
    acc = float((lt_.argmax(1) == y_t[te]).double().mean())
    majority = np.bincount(y_all[tr], minlength=classes.size).argmax()
    chance = float(np.mean(y_all[te] == majority))
    h = label_entropy(lab)
    raw = h - ce
    sch = _scheme_obj(scheme) if scheme is not None else None
    return RecognitionResult(
        scheme=_spec(sch) if sch is not None else "",
        k=_k_of(sch) if sch is not None else None,
        accuracy=acc,
        chance=chance,
        cross_entropy_nats=ce,
        label_entropy_nats=h,
        mi_lower_bound_nats=max(0.0, raw),
        mi_lower_bound_raw_nats=raw,
        temperature=temperature,
        n_train=int(tr.size),
        n_val=int(va.size),
        n_test=int(te.size),
        features=features,
        epochs=int(epochs),
        seed=int(seed),
        wall_time_s=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------------------------------
# everything over a list of schemes, as one tidy table
# --------------------------------------------------------------------------------------------------


def attack_table(
    images: np.ndarray,
    labels: np.ndarray | None,
    key: bytes,
    schemes: Sequence[Any],
    *,
    methods: Iterable[str] = ("mid", "oracle", "auto"),
    recognition: bool = True,
    seed: int = 0,
    epochs: int = 20,
    prior_mean: float = 127.5,
    device: str = "cpu",
    threads: int | None = None,
    sweeps: int = 60,
    recognition_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Encrypt ``images`` with every scheme and run every attack; one tidy ``pandas.DataFrame``.

    One row per (scheme, attack). Columns: ``scheme, k, attack, method, oracle, psnr_db, ssim,
    exact_fraction, accuracy, chance, cross_entropy_nats, label_entropy_nats, mi_lower_bound_nats,
    mi_lower_bound_raw_nats, seed, wall_time_s`` (NaN where a column does not apply to the attack).
    The encryption nonces are derived from ``seed`` (study mode: reproducible, never for real data).
    Replacement rows are skipped for schemes that do not act on pixel bits; recognition rows need
    ``labels``. ``prior_mean`` and ``sweeps`` go to the reconstructions, ``threads`` to the recognition
    attack; ``recognition_options`` (e.g. ``{"features": "pixels", "lr": 3e-3, "batch_size": 32}``) are
    further keyword arguments of :func:`recognition_attack`.
    """
    import pandas as pd

    from seleak.encryption import encrypt

    imgs = _check_images(images)
    methods = tuple(methods)
    rec_opts = dict(recognition_options or {})
    clash = sorted(set(rec_opts) & {"scheme", "seed", "epochs", "device", "threads", "se_images", "labels"})
    if clash:
        raise ValueError(f"recognition_options may not set {clash}: they are arguments of attack_table itself")
    rows: list[dict[str, Any]] = []
    for s in schemes:
        scheme = _scheme_obj(s)
        ct = encrypt(imgs, key, scheme, seed=seed)
        se = ct.images
        # replacing bits means nothing for schemes that do not XOR pixel bits (DCT)
        pixel = getattr(scheme, "is_pixel_scheme", True)
        reps = (replacement_attack(imgs, se, scheme, methods=methods, sweeps=sweeps, prior_mean=prior_mean)
                if pixel else [])
        for r in reps:
            rows.append({"attack": "replacement" if r.method in _CONSTANT else "reconstruction", **r.to_row(),
                         "seed": seed})
        if recognition and labels is not None:
            rec = recognition_attack(se, labels, scheme=scheme, seed=seed, epochs=epochs, device=device,
                                     threads=threads, **rec_opts)
            row = rec.to_row()
            row.update(attack="recognition", method=f"cnn-{rec.features}", oracle=False)
            rows.append(row)
    cols = ["scheme", "k", "attack", "method", "oracle", "psnr_db", "ssim", "exact_fraction", "accuracy",
            "chance", "cross_entropy_nats", "label_entropy_nats", "mi_lower_bound_nats",
            "mi_lower_bound_raw_nats", "seed", "wall_time_s"]
    return pd.DataFrame(rows).reindex(columns=cols)


# --------------------------------------------------------------------------------------------------
# attack success against leakage estimates: one row per setting, and rank correlations
# --------------------------------------------------------------------------------------------------


def attack_measures(table: pd.DataFrame) -> pd.DataFrame:
    """The long table of :func:`attack_table` → one row per (scheme, seed), one column per measure.

    Columns: ``scheme, k, seed`` then ``psnr_mid, ssim_mid`` (blind constant replacement),
    ``psnr_oracle, ssim_oracle`` (best constant per image: an upper bound, not an attack),
    ``psnr_rec, ssim_rec, rec_method`` (the reconstruction, ``"unwrap"`` or ``"smooth"``),
    ``accuracy, chance, label_mi_nats`` (the recognition attack and its clipped bound ``H(Y) - CE``)
    and ``label_mi_raw_nats``. A measure an attack did not produce (no replacement for DCT schemes, no
    recognition without labels) is NaN. PSNR is ``inf`` where every image was recovered exactly.
    """
    import pandas as pd

    if table.empty:
        raise ValueError("the attack table is empty")
    keys = ["scheme", "seed"]
    out = table[keys + ["k"]].drop_duplicates(keys).set_index(keys)
    rep = table[table["attack"] == "replacement"]
    for method in ("mid", "oracle"):
        part = rep[rep["method"] == method].set_index(keys)
        out[f"psnr_{method}"] = part["psnr_db"]
        out[f"ssim_{method}"] = part["ssim"]
    part = table[table["attack"] == "reconstruction"].set_index(keys)
    out["psnr_rec"], out["ssim_rec"], out["rec_method"] = part["psnr_db"], part["ssim"], part["method"]
    part = table[table["attack"] == "recognition"].set_index(keys)
    out["accuracy"], out["chance"] = part["accuracy"], part["chance"]
    out["label_mi_nats"] = part["mi_lower_bound_nats"]
    out["label_mi_raw_nats"] = part["mi_lower_bound_raw_nats"]
    out = out.reset_index()
    return out[["scheme", "k", "seed"] + [c for c in out.columns if c not in ("scheme", "k", "seed")]].astype(
        {c: float for c in out.columns if c.startswith(("psnr", "ssim", "accuracy", "chance", "label_mi"))}
    )


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rank correlation of paired points, with a bootstrap interval.

    Attributes:
        rho: Spearman's rho of the ``n`` points (NaN when one side is constant).
        low, high: percentile interval at ``level`` of rho over ``n_boot`` resamples of the points.
        p_value: scipy's p-value of rho (t approximation; indicative only for a dozen points).
        n: number of points used (pairs where both values are not NaN).
        n_boot: resamples drawn; ``n_valid``: those where rho was defined (a resample repeating a single
            point or ties on one side has no rank correlation and is left out).
        level: confidence level.
    """

    rho: float
    low: float
    high: float
    p_value: float
    n: int
    n_boot: int
    n_valid: int
    level: float


def _rank_rows(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=-1)  # average ranks for ties; inf ranks last, as it should


def spearman_bootstrap(
    x: Any, y: Any, *, n_boot: int = 999, level: float = 0.95, seed: int = 0,
) -> RankCorrelation:
    """Spearman's rho between ``x`` and ``y`` and a percentile bootstrap interval.

    The resampled unit is the **point** (one pair ``(x_i, y_i)``, e.g. one scheme setting): ``n_boot``
    resamples of the ``n`` points with replacement (seeded by ``seed``), rho of each, and the central
    ``level`` percentile interval. Pairs with a NaN on either side are dropped first; ``±inf`` is kept
    (it ranks first or last). With few points the interval is wide, which is the honest answer.
    """
    from scipy.stats import spearmanr

    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must be paired: got {xa.size} and {ya.size} values")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    xa, ya = xa[keep], ya[keep]
    n = int(xa.size)
    nan = float("nan")
    if n < 3:
        return RankCorrelation(nan, nan, nan, nan, n, int(n_boot), 0, float(level))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant side: rho is NaN, said by the NaN itself
        res = spearmanr(xa, ya)
    rho, p = float(res.statistic), float(res.pvalue)
    idx = np.random.default_rng(seed).integers(0, n, size=(int(n_boot), n))
    rx, ry = _rank_rows(xa[idx]), _rank_rows(ya[idx])
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    valid = den > 0
    boot = (rx * ry).sum(axis=1)[valid] / den[valid]
    if boot.size:
        low, high = (float(v) for v in np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]))
    else:
        low = high = nan
    return RankCorrelation(rho, low, high, p, n, int(n_boot), int(valid.sum()), float(level))


def rank_correlations(
    points: pd.DataFrame,
    x_columns: Sequence[str],
    y_columns: Sequence[str],
    *,
    n_boot: int = 999,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`spearman_bootstrap` for every pair (x column, y column) of ``points`` (one row per point).

    Returns one tidy row per pair: ``x, y, rho, low, high, p_value, n, n_valid``. Every pair uses the
    same ``seed``, so pairs measured on the same points share their resamples.
    """
    import pandas as pd

    missing = sorted(set(x_columns) - set(points.columns) | set(y_columns) - set(points.columns))
    if missing:
        raise ValueError(f"points has no column(s) {missing}; columns: {list(points.columns)}")
    rows = []
    for xc in x_columns:
        for yc in y_columns:
            r = spearman_bootstrap(points[xc], points[yc], n_boot=n_boot, level=level, seed=seed)
            rows.append({"x": xc, "y": yc, "rho": r.rho, "low": r.low, "high": r.high, "p_value": r.p_value,
                         "n": r.n, "n_valid": r.n_valid})
    return pd.DataFrame(rows)
