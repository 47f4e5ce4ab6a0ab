"""The estimator interface, the result type and the checks every input goes through.

An estimator is configured once (``get_estimator(name, **settings)``) and then called on paired
samples ``estimate(x, y)``: ``x`` is ``(N, dx)``, ``y`` is ``(N, dy)``, row ``i`` of both is one draw
of the pair; a 1-D array is read as one column. Every estimator returns an :class:`MIEstimate` in
nats. Nothing here knows about images: estimators see float arrays only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from seleak._runtime import limit_threads
from seleak._validation import is_int

__all__ = [
    "MIEstimate",
    "Estimator",
    "EstimatorDivergedError",
    "check_pair",
    "project",
    "int_setting",
    "choice_setting",
]

LN2 = math.log(2.0)


class EstimatorDivergedError(RuntimeError):
    """A neural estimator's training produced no finite estimate (the critic diverged)."""


@dataclass(frozen=True)
class MIEstimate:
    """One mutual-information estimate, in nats.

    Attributes:
        nats: the estimate (natural log). Never NaN or infinite: an estimator that cannot produce a
            finite number raises instead.
        name: the estimator's registry name (``"ksg"``, ``"infonce"``, ...).
        settings: every setting the estimator ran with, defaults included.
        n: number of paired samples given to ``estimate``.
        wall_time_s: seconds spent in ``estimate`` (for one of ``estimate_many``'s results, the
            batch's time divided by the number of problems).
        n_eval: number of pairs the reported number is computed on (``n`` for the non-neural
            estimators, the held-out test split for the neural ones).
        curve: neural estimators only: ``{"step", "train"}`` (the training bound at every step) and
            ``{"eval_step", "monitor"}`` (the early-stopping bound on the monitor split).
        flags: notes a reader must see, e.g. ``"diverged at step 812; best checkpoint used"``.
        null: values of the estimate under permuted ``y`` when asked for (``estimate_many(...,
            n_permutations=m)``), else ``None``.
        details: anything else worth keeping (bins used, projection dimension, step of the best
            checkpoint, the neural estimators' per-chunk held-out values ``chunk_values`` and
            ``chunk_infonce``, ...).
    """

    nats: float
    name: str
    settings: Mapping[str, Any]
    n: int
    wall_time_s: float
    n_eval: int
    curve: Mapping[str, np.ndarray] | None = None
    flags: tuple[str, ...] = ()
    null: np.ndarray | None = field(default=None, repr=False)
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.nats):
            raise EstimatorDivergedError(
                f"{self.name}: the estimate is {self.nats!r}; seleak never returns a non-finite MI"
            )

    @property
    def bits(self) -> float:
        """The estimate in bits (``nats / ln 2``)."""
        return self.nats / LN2

    def __float__(self) -> float:
        return float(self.nats)

    def summary(self) -> str:
        """One line for logs: name, value in nats and bits, N, time, flags."""
        flag = f" [{'; '.join(self.flags)}]" if self.flags else ""
        return f"{self.name}: {self.nats:.4f} nats ({self.bits:.4f} bits), N={self.n}, {self.wall_time_s:.2f}s{flag}"


def _as_2d_float(a: Any, label: str) -> np.ndarray:
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{label} must be a numeric array of shape (N,) or (N, d), got {type(a).__name__}")
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{label} must be a numeric array of shape (N,) or (N, d), got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{label} must be real-valued, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{label} must have shape (N,) or (N, d), got shape {arr.shape}; "
            "flatten each sample into one row (e.g. a.reshape(len(a), -1))"
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{label} has no columns (shape {arr.shape})")
    return arr.astype(np.float64, copy=False)


def check_pair(
    x: Any, y: Any, *, min_n: int = 2, name: str = "estimator", drop_constant: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a paired sample and return float64 ``(N, dx)``, ``(N, dy)`` copies-or-views.

    Raises ``TypeError`` for non-numeric input, ``ValueError`` for a wrong shape, NaN/inf, a
    different number of rows in ``x`` and ``y``, fewer than ``min_n`` rows, or a constant column
    (a constant carries no information and breaks every scale-based estimator). With
    ``drop_constant`` (used when the data are projected first, where a constant column is harmless:
    the dead units of a CNN embedding, say) constant columns are dropped instead; a side left with no
    column is still an error.
    """
    xa = _as_2d_float(x, "x")
    ya = _as_2d_float(y, "y")
    if xa.shape[0] != ya.shape[0]:
        raise ValueError(f"x and y must be paired row by row: x has {xa.shape[0]} rows, y has {ya.shape[0]}")
    n = xa.shape[0]
    if n < min_n:
        raise ValueError(f"{name} needs at least {min_n} paired samples, got {n}")
    for label, arr in (("x", xa), ("y", ya)):
        bad = ~np.isfinite(arr)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            raise ValueError(
                f"{label} contains NaN or infinite values ({int(bad.sum())} entries, first in row "
                f"{int(rows[0])}); remove or impute them before estimating MI"
            )
        # max == min rather than ptp == 0: a range of values near +-1e308 overflows (with a warning)
        const = np.flatnonzero(arr.max(axis=0) == arr.min(axis=0))
        if drop_constant and const.size == arr.shape[1]:
            raise ValueError(f"every column of {label} is constant: it carries no information about anything")
        if const.size and not drop_constant:
            raise ValueError(
                f"{label} has constant column(s) {const[:10].tolist()}: a constant carries no "
                "information; drop it before estimating MI (or set pca_dim=, which drops it)"
            )
    if drop_constant:
        xa, ya = (a[:, a.max(axis=0) > a.min(axis=0)] for a in (xa, ya))
    return xa, ya


def pow2_exponent(a: np.ndarray, axis: int | None = 0) -> np.ndarray:
    """Exponent ``e`` with ``max|a| = f 2**e``, ``f`` in ``[0.5, 1)`` (per column for ``axis=0``,
    one for the whole array for ``axis=None``; 0 for an all-zero column)."""
    return np.frexp(np.max(np.abs(a), axis=axis))[1]


def rescale_columns(a: np.ndarray) -> np.ndarray:
    """``a`` (N, d) with each column multiplied by a power of two so its largest magnitude lies in
    ``[0.5, 1)``.

    Why: a variance squares the data, so columns near 1e200 overflow to ``inf`` and columns near
    1e-300 underflow to 0, and the standardised values become NaN or 0 although every entry is an
    ordinary finite float. Scaling by a power of two is exact (no rounding: only the exponent
    changes), so on ordinary data the result is bit-for-bit what it was, and MI is invariant to
    rescaling a column.
    """
    return np.ldexp(a, -pow2_exponent(a, axis=0))


def standardize(a: np.ndarray) -> np.ndarray:
    """Columns of ``a`` (N, d) centred and scaled to unit standard deviation, safely for any finite
    magnitude (see :func:`rescale_columns`). Constant columns must have been removed."""
    a = rescale_columns(a)
    a = a - a.mean(axis=0)
    return a / a.std(axis=0)


def _pca(a: np.ndarray, dim: int, whiten: bool) -> np.ndarray:
    # One power of two for the whole side (not per column: PCA depends on the columns' relative
    # scales): exact, and it keeps the SVD's sums of squares finite for data near 1e200 or 1e-300.
    e = int(pow2_exponent(a, axis=None))
    a = np.ldexp(a, -e)
    a = a - a.mean(axis=0)
    # Thin SVD: the right singular vectors are the principal axes. Deterministic up to sign, and
    # signs do not matter to MI (a sign flip is an invertible map of one coordinate).
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    out = u[:, :dim] * s[:dim]
    if whiten:
        return out / np.maximum(out.std(axis=0), 1e-300)
    return np.ldexp(out, e)  # back to the data's own scale


def project(x: Any, y: Any, dim: int | tuple[int, int], *, whiten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Project ``x`` and ``y`` **separately** onto their first ``dim`` principal components.

    Use it before ``plugin`` or ``ksg`` on embeddings (``D`` up to 512): both degrade quickly with
    dimension. ``dim`` is one number for both sides or ``(dim_x, dim_y)``; a side that already has
    at most that many columns is returned as is (centred, whitened if asked).

    Why separately and not on the joint ``[x, y]``: the projection of ``x`` is then a function of
    ``x`` alone and that of ``y`` of ``y`` alone, so by the data-processing inequality
    ``I(Px; Qy) <= I(x; y)``: the projected MI is a lower bound of the full one and never invents
    dependence. A joint PCA mixes coordinates of ``x`` into those of ``y`` and has no such guarantee.
    (The axes are fitted on the sample itself; that dependence on the data is of order 1/N and
    shared by the permuted samples of a permutation test, which re-use the same projection.)

    ``whiten`` scales each component to unit variance (MI is invariant to it; KSG's max-norm and
    plug-in bins are not, and unit scale is what they expect).
    """
    xa, ya = check_pair(x, y, min_n=2, name="project", drop_constant=True)
    dx, dy = (dim, dim) if isinstance(dim, (int, np.integer)) else dim
    if int(dx) < 1 or int(dy) < 1:
        raise ValueError(f"project: dim must be >= 1, got {dim!r}")
    out = []
    with limit_threads(1, torch=False):
        for a, d in ((xa, int(dx)), (ya, int(dy))):
            d = min(d, a.shape[1], a.shape[0])
            out.append(_pca(a, d, whiten))
    return out[0], out[1]


class Estimator:
    """Base class: holds validated settings, checks input, times the call.

    Subclasses set ``name``, ``defaults`` (every setting with its default, the only names accepted)
    and ``min_n``, and implement ``_validate_settings`` and ``_estimate`` (which returns the value in
    nats and a ``details`` dict; a ``"flags"`` entry of it, a tuple of strings, becomes the result's
    ``flags``).
    """

    name: ClassVar[str] = "base"
    defaults: ClassVar[Mapping[str, Any]] = {}
    min_n: ClassVar[int] = 2
    #: neural estimators evaluate a fixed trained critic on permuted held-out pairs (see stats)
    fixed_critic_null: ClassVar[bool] = False
    #: a trained critic (PyTorch): takes ``seed`` and ``device``, and its interval is a seed interval
    neural: ClassVar[bool] = False
    #: the reported value estimates a lower bound of ``I(X; Y)`` without bias (its expectation is at
    #: most the true MI, for any critic): True for ``infonce`` and ``nwj`` only. False says nothing
    #: about the sign of the error: ``mine`` (log of a sample mean, biased upwards) and ``smile``
    #: (clipped) are not bounds, and ``ksg``, ``gaussian`` and ``plugin`` are estimates.
    is_bound: ClassVar[bool] = False

    def __init__(self, **settings: Any) -> None:
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            raise TypeError(
                f"{self.name}: unknown setting(s) {', '.join(map(repr, unknown))}; "
                f"valid settings are {', '.join(sorted(self.defaults))}"
            )
        merged = dict(self.defaults)
        merged.update(settings)
        self._explicit = dict(settings)
        self._settings = merged
        self._validate_settings()

    def with_context(self, *, seed: int, device: str) -> "Estimator":
        """This estimator with ``seed`` and ``device`` filled in where it takes them and they were not
        set explicitly: what a pipeline hands down without having to know the estimator."""
        extra = {
            k: v for k, v in (("seed", seed), ("device", device)) if k in self.defaults and k not in self._explicit
        }
        return type(self)(**self._explicit, **extra) if extra else self

    def ceiling(self, n_eval: int, dx: int | None = None, dy: int | None = None) -> float:
        """The largest value (nats) this estimator can report from ``n_eval`` evaluated pairs with
        ``dx`` and ``dy`` columns (after its own projection; ``None``: unknown, and the value is then
        valid for any number of columns); ``inf`` where it has no such limit.

        An estimate at or near its ceiling is a floor, not a measurement: the estimator could not
        have reported more whatever the dependence.
        """
        return math.inf

    @property
    def projects(self) -> bool:
        """True when the estimator projects its input with PCA first (``pca_dim`` set)."""
        return self._settings.get("pca_dim") is not None

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting (defaults included), as a new dict."""
        return dict(self._settings)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings.items())
        return f"get_estimator({self.name!r}, {args})"

    def _validate_settings(self) -> None:  # pragma: no cover - overridden
        pass

    def _estimate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
        raise NotImplementedError

    def estimate(self, x: Any, y: Any) -> MIEstimate:
        """Estimate ``I(X; Y)`` in nats from paired rows of ``x`` and ``y``."""
        t0 = time.perf_counter()
        xa, ya = check_pair(x, y, min_n=self.min_n, name=self.name, drop_constant=self.projects)
        with limit_threads(1, torch=False):
            value, details = self._estimate(xa, ya)
        if not math.isfinite(value):
            raise EstimatorDivergedError(f"{self.name}: produced {value!r} on this input")
        flags = tuple(details.pop("flags", ()))  # notes the estimator wants the reader to see
        return MIEstimate(
            nats=float(value),
            name=self.name,
            settings=self.settings,
            n=xa.shape[0],
            wall_time_s=time.perf_counter() - t0,
            n_eval=xa.shape[0],
            flags=flags,
            details=details,
        )

    def estimate_many(self, pairs: Sequence[tuple[Any, Any]]) -> list[MIEstimate]:
        """Estimate several pairs; for the non-neural estimators simply one after the other."""
        return [self.estimate(x, y) for x, y in pairs]


# --- small shared validators -------------------------------------------------------------------


def int_setting(est: str, key: str, value: Any, lo: int, hi: int | None = None) -> int:
    """An estimator's integer setting ``key``, checked against ``[lo, hi]`` (bool is not an int)."""
    if not is_int(value):
        raise TypeError(f"{est}: {key} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{est}: {key} must be {rng}, got {value}")
    return int(value)


def choice_setting(est: str, key: str, value: Any, choices: Sequence[Any]) -> Any:
    """An estimator's setting ``key``, one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{est}: {key} must be one of {list(choices)!r}, got {value!r}")
    return value


def pca_setting(est: str, value: Any) -> int | None:
    """The ``pca_dim`` setting: ``None`` (no projection) or an integer >= 1."""
    if value is None:
        return None
    return int_setting(est, "pca_dim", value, 1)


def maybe_project(x: np.ndarray, y: np.ndarray, pca_dim: int | None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``x, y`` projected to ``pca_dim`` components per side (unchanged when ``None``), and the details."""
    if pca_dim is None:
        return x, y, {}
    px, py = project(x, y, pca_dim)
    return px, py, {"projected_dims": (px.shape[1], py.shape[1])}
