"""Classic image-encryption metrics, pixel-level mutual information and the image-level MI.

The numbers the selective-encryption literature reports for a plain/cipher pair: Shannon
entropy of the pixel values, adjacent-pixel correlation, NPCR and UACI with their ideal values,
the Wu--Noonan--Agaian critical values (cipher against cipher) and their exact expectations for
a given plain image (:func:`expected_npcr_uaci`, plain against cipher), PSNR and SSIM, plus the
pixel-level mutual information between plain and cipher values -- a plug-in estimate and, for
bit-plane schemes, its exact value. These pixel quantities are per pixel and position-pooled;
the information an image-level estimator can find is bounded by :func:`image_level_mi`, the
exact ``I(X; SE(X))`` of whole images.

Single-image functions take one image, ``(H, W)`` or ``(H, W, C)`` uint8; :func:`classic_metrics`
takes a pair of batches ``(N, H, W[, C])`` and averages per-image values. Information is in
**bits** unless ``unit="nats"``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import norm

from seleak._validation import is_int
from seleak.encryption import BitPlanes, Full, Scheme, as_scheme, check_images
from seleak.entropy import entropy_nats  # re-exported: seleak.metrics.entropy_nats

__all__ = [
    "patterns_truth",
    "patterns_label_truth",
    "NPCR_IDEAL",
    "UACI_IDEAL",
    "NPCRUACI",
    "ExpectedNPCRUACI",
    "ImageLevelMI",
    "entropy",
    "entropy_nats",
    "adjacent_correlation",
    "npcr_uaci",
    "npcr_uaci_critical",
    "expected_npcr_uaci",
    "psnr",
    "ssim",
    "pixel_mi_plugin",
    "pixel_mi_exact",
    "image_level_mi",
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
    """NPCR and UACI (percent) of two images, with the number of values compared.

    :meth:`critical` and :meth:`passes` are Wu et al.'s tests, which answer "do these two images
    look like two *independent uniform* images?" -- the right question for two ciphers of one
    plain image under two keys, the wrong one for a plain image against its cipher (compare that
    pair with :func:`expected_npcr_uaci` instead).
    """

    npcr: float
    uaci: float
    n: int

    def critical(self, alpha: float = 0.05) -> tuple[float, float, float]:
        """Wu et al.'s ``(npcr_min, uaci_low, uaci_high)`` for this many values at level ``alpha``."""
        return npcr_uaci_critical(self.n, alpha)

    def passes(self, alpha: float = 0.05) -> tuple[bool, bool]:
        """Whether NPCR and UACI pass Wu et al.'s randomness tests at level ``alpha`` (cipher vs cipher)."""
        n_star, u_lo, u_hi = self.critical(alpha)
        return self.npcr >= n_star, u_lo <= self.uaci <= u_hi


def npcr_uaci(a: np.ndarray, b: np.ndarray) -> NPCRUACI:
    """Number of pixels change rate and unified average changing intensity, in percent.

    NPCR = share of positions where the values differ; UACI = mean |a - b| / 255. For two
    independent uniform images they are :data:`NPCR_IDEAL` and :data:`UACI_IDEAL`
    (Wu, Noonan & Agaian 2011). Accepts one image or a batch (all values pooled).

    Which reference answers which question:

    * **cipher against cipher** (one plain image encrypted under two keys): both should look like
      independent uniform images, so compare with Wu et al.'s critical values
      (:func:`npcr_uaci_critical`, :meth:`NPCRUACI.passes`);
    * **plain against cipher**: the plain image is not uniform (a dark digit against a uniform
      cipher has an expected UACI near 50 %, not 33.46 %), and a selective scheme keeps some bits,
      so compare with the exact expectation for *this* plain image and scheme,
      :func:`expected_npcr_uaci` (:meth:`ExpectedNPCRUACI.passes`).
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

    The null hypothesis is "two independent uniform images": use it for **cipher against cipher**
    (the same plain image under two keys, or two plain images differing in one pixel). It is not a
    test of a plain image against its cipher -- a non-uniform plain image fails it even under
    perfect encryption; test that pair against :func:`expected_npcr_uaci`.
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


@dataclass(frozen=True)
class ExpectedNPCRUACI:
    """Exact expected NPCR and UACI (percent) of a plain image against its encryption.

    ``npcr_sd`` and ``uaci_sd`` are the exact standard deviations (percent) of the observed NPCR and
    UACI of one encryption: the keystream bytes are independent, so the compared values are
    independent given the plain image. ``n`` is the number of values compared.
    """

    npcr: float
    uaci: float
    n: int
    npcr_sd: float
    uaci_sd: float

    def passes(self, observed: NPCRUACI, alpha: float = 0.05) -> tuple[bool, bool]:
        """Whether an observed plain-vs-cipher NPCR and UACI lie within the two-sided level-``alpha``
        normal interval ``expected +- z * sd`` (a normal approximation, good for hundreds of values
        or more; with ``sd = 0`` -- nothing encrypted -- only the expected value itself passes)."""
        if not isinstance(observed, NPCRUACI):
            raise TypeError(f"observed must be an NPCRUACI (from npcr_uaci); got {type(observed).__name__}")
        if observed.n != self.n:
            raise ValueError(f"observed compares {observed.n} values but the expectation is for {self.n}")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1); got {alpha}")
        z = float(norm.isf(alpha / 2))
        tol = 1e-9  # rounding of the percentages
        return (
            abs(observed.npcr - self.npcr) <= z * self.npcr_sd + tol,
            abs(observed.uaci - self.uaci) <= z * self.uaci_sd + tol,
        )


@functools.lru_cache(maxsize=256)
def _byte_change_moments(mask: int) -> tuple[np.ndarray, np.ndarray]:
    """For each plain value ``v`` (0..255) and cipher ``c = v xor s`` with ``s`` uniform over the
    ``2**popcount(mask)`` sub-masks of ``mask``: ``E|c - v|`` and ``E (c - v)**2``."""
    v = np.arange(256, dtype=np.int64)
    subs = v[(v & ~mask & 0xFF) == 0]
    d = np.abs((v[:, None] ^ subs[None, :]) - v[:, None]).astype(np.float64)
    first, second = d.mean(axis=1), (d * d).mean(axis=1)
    first.setflags(write=False)
    second.setflags(write=False)
    return first, second


def _pixel_scheme_mask(scheme: Scheme, image_shape: tuple[int, ...]) -> np.ndarray | None:
    """The encrypted bits of one image (uint8, ``image_shape``) when ``scheme`` XORs keystream into a
    fixed set of pixel bits; ``None`` for any other scheme (DCT, or one without a bit mask)."""
    if not scheme.is_pixel_scheme:
        return None
    try:
        m = scheme.bit_mask(image_shape)
    except (NotImplementedError, TypeError):
        return None
    return np.broadcast_to(np.asarray(m, dtype=np.uint8), image_shape)


def _expected_change(batch: np.ndarray, mask: np.ndarray) -> ExpectedNPCRUACI:
    """:func:`expected_npcr_uaci` of a batch ``(N,) + image_shape`` under the per-value bit ``mask``."""
    n = int(batch.size)
    npcr = npcr_var = uaci = uaci_var = 0.0
    for m in np.unique(mask):
        m = int(m)
        values = batch if mask.size == 1 or (mask == m).all() else batch[:, mask == m]
        hist = np.bincount(values.reshape(-1), minlength=256).astype(np.float64)
        count = float(hist.sum())
        q = 1.0 - 2.0 ** -int(m).bit_count()  # P(c != v): every non-zero keystream sub-mask changes v
        first, second = _byte_change_moments(m)
        npcr += q * count
        npcr_var += q * (1.0 - q) * count
        uaci += float(hist @ first)
        uaci_var += float(hist @ (second - first * first))
    return ExpectedNPCRUACI(
        npcr=100.0 * npcr / n,
        uaci=100.0 * uaci / (_F * n),
        n=n,
        npcr_sd=100.0 * math.sqrt(max(npcr_var, 0.0)) / n,
        uaci_sd=100.0 * math.sqrt(max(uaci_var, 0.0)) / (_F * n),
    )


def expected_npcr_uaci(plain: np.ndarray, scheme: Scheme | str | None = None) -> ExpectedNPCRUACI:
    """Exact expected NPCR and UACI (percent) between ``plain`` and its encryption.

    The encrypted bits of each value are uniform and independent (the keystream), the clear bits
    equal the plain ones: with ``m`` the value's encrypted bits (``k`` of them) the cipher value is
    ``c = v xor s``, ``s`` uniform over the ``2**k`` sub-masks of ``m``. So each value changes with
    probability ``1 - 2**-k`` and ``E|c - v|`` is the mean over the ``2**k`` ciphers; both are
    averaged with the value histogram of ``plain`` (per distinct mask, for a region scheme).
    ``scheme=None`` (or :class:`Full`) is a uniform cipher (expected NPCR 99.609 % whatever the
    image, expected UACI 50 % for an all-black one); ``msb:0`` gives 0 and 0.

    This is the reference for a **plain against cipher** comparison (:func:`npcr_uaci` of the two,
    checked with :meth:`ExpectedNPCRUACI.passes`); Wu et al.'s :func:`npcr_uaci_critical` is the
    reference for **cipher against cipher**.

    ``plain``: one image ``(H, W)`` or ``(H, W, C)``, or a batch ``(N, H, W, C)`` (values pooled;
    pass a grey batch as ``(N, H, W, 1)``). ``scheme``: ``None``, or a scheme that XORs keystream into
    a fixed set of pixel bits (:class:`BitPlanes`, :class:`Full`, :class:`~seleak.encryption.Region`,
    or a spec string); a DCT scheme raises ``TypeError``.
    """
    plain = _check_uint8(plain, "plain", ndims=(2, 3, 4))
    batch = plain if plain.ndim == 4 else plain[None]
    image_shape = tuple(batch.shape[1:])
    scheme = Full() if scheme is None else as_scheme(scheme)
    mask = _pixel_scheme_mask(scheme, image_shape)
    if mask is None:
        raise TypeError(
            f"expected_npcr_uaci needs a scheme that encrypts a fixed set of pixel bits; got {scheme.spec!r}"
        )
    return _expected_change(batch, mask)


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

    A **per-pixel, position-pooled** quantity in bits per pixel (by default): the MI between the
    value of a single pixel, drawn from all positions (and channels) of all images, and its cipher
    value -- **not** an image-level MI, and **not** an upper bound on the MI an estimator can find
    between embeddings of whole images (pixels are not independent, and positions are pooled). The
    image-level quantity, which does bound any embedding MI, is :func:`image_level_mi`.

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

    A **per-pixel, position-pooled** quantity in bits per pixel (by default): ``X`` is the value of
    a single pixel drawn from all positions and channels of all ``images``, ``Y`` its cipher value.
    With ``Y = X xor (K and m)`` and the keystream ``K`` uniform and independent of ``X``, the
    encrypted bits of ``Y`` are uniform noise and the clear bits equal those of ``X``, so
    ``I(X; Y) = H(X and not m)``: the entropy of the clear bit values of one pixel, under the
    empirical value distribution of ``images`` (all pixels and channels pooled). 0 for
    :class:`Full`. Only defined for :class:`BitPlanes` and :class:`Full` (a region mixes pixel
    positions).

    It is **not** an image-level MI and **not** an upper bound on the MI between embeddings of
    whole images (for that, :func:`image_level_mi`: the entropy of the clear parts of whole images,
    which bounds ``I(f(X); f(SE(X)))`` for any embedder ``f``).
    """
    scheme = as_scheme(scheme)
    if not isinstance(scheme, (BitPlanes, Full)):
        raise TypeError(f"pixel_mi_exact is defined for BitPlanes and Full schemes; got {scheme.spec!r}")
    images = _check_uint8(images, "images", ndims=(1, 2, 3, 4, 5))
    clear = images & np.uint8(~scheme.mask & 0xFF)
    return entropy(clear, unit)


@dataclass(frozen=True)
class ImageLevelMI:
    """The image-level mutual information ``I(X; SE(X))`` of a set of images under a scheme.

    Attributes:
        nats: the value, in nats (:attr:`bits` converts).
        exact: True when ``nats`` is the exact ``I(X; SE(X))`` (a scheme that XORs keystream into a
            fixed set of pixel bits); False when it is the upper bound ``H(X)``.
        kind: ``"H(clear part)"`` (exact) or ``"H(X)"`` (upper bound).
        n_images: number of images ``N``.
        n_distinct: number of distinct clear parts (exact) or distinct images (bound).
    """

    nats: float
    exact: bool
    kind: str
    n_images: int
    n_distinct: int

    @property
    def bits(self) -> float:
        """The value in bits."""
        return self.nats / math.log(2)


def _distinct_row_counts(rows: np.ndarray) -> np.ndarray:
    """How often each distinct row of a 2-D uint8 array occurs (rows compared as byte strings)."""
    rows = np.ascontiguousarray(rows)
    view = rows.view(np.dtype((np.void, rows.shape[1]))).reshape(-1)
    _, counts = np.unique(view, return_counts=True)
    return counts


def image_level_mi(images: np.ndarray, scheme: Scheme | str) -> ImageLevelMI:
    """``I(X; SE(X))`` in nats for ``X`` drawn uniformly from the rows (images) of ``images``.

    ``SE(X)`` is the encryption of ``X`` under ``scheme`` with a uniform keystream independent of
    ``X``. For a scheme that XORs keystream into a fixed, image-independent set of pixel bits
    (:class:`BitPlanes`, :class:`Full`, :class:`~seleak.encryption.Region`, any pixel scheme whose
    ``bit_mask`` says what is encrypted), ``SE(X)`` is ``(clear part of X, uniform noise
    independent of X)``, so ``I(X; SE(X)) = H(X and not mask)``: the entropy of the empirical
    distribution of the distinct clear parts over the ``N`` rows (``exact=True``, ``kind="H(clear
    part)"``). Nothing encrypted (``msb:0``) gives ``H(X)``, full encryption 0. For any other scheme
    (DCT, where the clear/encrypted split is not a fixed bit mask) the result is ``H(X)``, the
    entropy of the distinct images, an upper bound (``exact=False``, ``kind="H(X)"``).

    By data processing, ``I(f(X); f(SE(X))) <= I(X; SE(X))`` for any deterministic embedder ``f``:
    this is the ceiling of what an MI estimator on embeddings of these images may find. It is at
    most ``log N`` (the images are the whole population). Unlike :func:`pixel_mi_exact` it is an
    image-level quantity, in nats per image.

    ``images``: uint8 ``(N, H, W)`` or ``(N, H, W, C)``, ``N >= 1``.
    """
    images = check_images(images)
    n = int(images.shape[0])
    if n == 0:
        raise ValueError("images is empty (N = 0)")
    scheme = as_scheme(scheme)
    image_shape = tuple(images.shape[1:])
    mask = _pixel_scheme_mask(scheme, image_shape)
    rows = images.reshape(n, -1)
    if mask is None:
        counts = _distinct_row_counts(rows)
        return ImageLevelMI(entropy_nats(counts), False, "H(X)", n, int(counts.size))
    clear = np.ascontiguousarray(~mask).reshape(1, -1)
    if not clear.any():  # everything encrypted: one clear part, nothing to hash
        return ImageLevelMI(0.0, True, "H(clear part)", n, 1)
    counts = _distinct_row_counts(rows & clear if clear.min() != 0xFF else rows)
    return ImageLevelMI(entropy_nats(counts), True, "H(clear part)", n, int(counts.size))


def classic_metrics(
    plain: np.ndarray,
    cipher: np.ndarray,
    *,
    n_pairs: int | None = None,
    seed: int = 0,
    scheme: Scheme | str | None = None,
) -> dict[str, float]:
    """The usual table for a batch ``(N, H, W[, C])`` of pairs (or one grey ``(H, W)`` pair;
    pass one colour image as ``x[None]``, since 3-D arrays are ``(N, H, W)`` batches).

    Per-image values (entropy, adjacent correlations, NPCR, UACI, PSNR, SSIM) are averaged over
    the batch (a PSNR of ``inf`` -- identical images -- stays ``inf``); ``mi_plugin_bits`` pools
    all pixel pairs of the batch, ``mi_plugin_mm_bits`` adds the Miller--Madow correction.

    The observed plain-vs-cipher ``npcr`` and ``uaci`` come with their exact expectations
    (:func:`expected_npcr_uaci` of the plain batch): ``npcr_expected_full`` and
    ``uaci_expected_full`` for a uniform cipher (ideal full encryption of these plain images), and
    ``npcr_expected`` / ``uaci_expected`` (with ``npcr_expected_sd`` / ``uaci_expected_sd``, the
    standard deviation of one batch's pooled value) under ``scheme`` -- ``nan`` when ``scheme`` is not
    given or does not encrypt a fixed set of pixel bits (DCT).
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
    mask_shape = tuple(plain.shape[1:])
    full = _expected_change(plain, np.full(mask_shape, 0xFF, dtype=np.uint8))
    out["npcr_expected_full"] = full.npcr
    out["uaci_expected_full"] = full.uaci
    mask = None if scheme is None else _pixel_scheme_mask(as_scheme(scheme), mask_shape)
    exp = None if mask is None else _expected_change(plain, mask)
    nan = float("nan")
    out["npcr_expected"] = exp.npcr if exp else nan
    out["uaci_expected"] = exp.uaci if exp else nan
    out["npcr_expected_sd"] = exp.npcr_sd if exp else nan
    out["uaci_expected_sd"] = exp.uaci_sd if exp else nan
    out["mi_plugin_bits"] = pixel_mi_plugin(plain, cipher)
    out["mi_plugin_mm_bits"] = pixel_mi_plugin(plain, cipher, correction="miller-madow")
    out["n_images"] = float(plain.shape[0])
    return out


def _pattern_mask(scheme: Scheme | str) -> np.ndarray:
    """The encrypted bits of every pixel of a ``patterns`` image under ``scheme`` (fixed bit sets only)."""
    from seleak.data.patterns import PATTERNS_SIDE

    scheme = as_scheme(scheme)
    shape = (PATTERNS_SIDE, PATTERNS_SIDE, 3)
    if scheme.is_pixel_scheme:
        try:
            return np.broadcast_to(np.asarray(scheme.bit_mask(shape), dtype=np.uint8), shape)
        except (NotImplementedError, TypeError):
            pass
    raise TypeError(
        f"the exact MI of 'patterns' is known for schemes that encrypt a fixed set of pixel bits; got {scheme.spec!r}"
    )


def patterns_truth(scheme: Scheme | str, alphabet_size: int = 4, grid: int = 2) -> float:
    """``I(X; SE(X))`` in nats for ``X`` uniform over all ``alphabet_size**(grid*grid)`` images of the
    synthetic ``"patterns"`` design (:mod:`seleak.data.patterns`).

    ``SE`` is ``scheme`` (a :class:`~seleak.encryption.Scheme` or spec string) with a uniform
    keystream. For schemes that XOR keystream into a fixed set of pixel bits (bit-planes, full,
    regions) ``I = H(clear part of X) = sum over cells c of H(P_S and not mask_c)``, ``S`` uniform over
    the alphabet and ``mask_c`` the scheme's bit mask restricted to cell ``c``: ``grid**2 * log(A)`` in
    the clear, 0 under full encryption. Other schemes (DCT) raise ``TypeError``: their MI is not known
    in closed form. The truth is for the native 32x32 images (not after ``size=`` resizing).
    """
    from seleak.data.patterns import patterns_cell_entropies

    return float(patterns_cell_entropies(_pattern_mask(scheme), alphabet_size, grid).sum())


def patterns_label_truth(scheme: Scheme | str, alphabet_size: int = 4, grid: int = 2) -> float:
    """``I(label; SE(X))`` in nats on the ``"patterns"`` design, the label being the symbol of the first
    cell: the clear part of that cell is a function of the label and the other cells are independent
    of it, so this is ``H(clear part of cell 0)`` (``log A`` in the clear, 0 when cell 0 is encrypted)."""
    from seleak.data.patterns import patterns_cell_entropies

    return float(patterns_cell_entropies(_pattern_mask(scheme), alphabet_size, grid)[0])
