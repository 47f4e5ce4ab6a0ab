"""Samples with known mutual information, for tests, benchmarks and chapter 2.

* :func:`correlated_gaussian` — ``x, y`` standard normal in ``d`` dimensions, coordinate ``j`` of
  ``y`` correlated with coordinate ``j`` of ``x`` only, with the same ``rho`` everywhere, so that
  ``I(X; Y) = -d/2 log(1 - rho^2)`` exactly (Cover & Thomas 2006). The standard benchmark of
  Poole et al. (2019) and Song & Ermon (2020): ``d = 20``, MI 2, 4, 6, 8, 10 nats.
* :func:`warped_gaussian` — the same with an invertible per-coordinate map applied to ``y`` (and
  optionally ``x``): MI is invariant to such maps, so the truth is unchanged while the marginals stop
  being Gaussian ("cubic" is the benchmark's variant).
* :func:`student_t` — a multivariate Student-t ``(X, Y)`` (``nu`` degrees of freedom, the correlated
  Gaussian's dispersion): heavy tails and a dependence no correlation sees (the shared scale), with
  ``I = I_Gauss + t_correction(nu, dx, dy)`` exactly (Arellano-Valle, Contreras-Reyes & Genton 2013).
* :func:`sparse_gaussian` — many independent noise columns, the dependence in a few of them.
* :func:`spiral_gaussian` — the correlated Gaussian with ``y`` (2 columns) turned by an angle that grows
  with its radius: an invertible, non-linear map of ``y``, so the MI is unchanged.
* :func:`discrete_continuous` — a uniform class ``X`` and ``Y = shift * X + U``, ``U`` uniform on
  ``[0, 1)``: a discrete–continuous pair whose MI (``h(Y)``, as ``h(Y | X) = 0``) is exact.
* :func:`discrete_pair` — integer pairs drawn from a random joint pmf whose MI is computed exactly;
  with ``exact=True`` the sample reproduces the pmf's counts exactly (its empirical distribution
  *is* the pmf), so a plug-in estimate must equal the truth to rounding error.

Every sampler returns a :class:`GroundTruthSample` ``(x, y, mi)`` — a named tuple, so
``x, y, mi = correlated_gaussian(2000, 5, 1.0, seed=0)`` works.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

__all__ = [
    "GroundTruthSample",
    "rho_for_mi",
    "gaussian_mi",
    "correlated_gaussian",
    "WARPS",
    "warp",
    "warped_gaussian",
    "discrete_mi",
    "random_pmf",
    "discrete_pair",
    "t_correction",
    "student_t",
    "sparse_gaussian",
    "spiral",
    "spiral_gaussian",
    "discrete_continuous_mi",
    "discrete_continuous",
]


class GroundTruthSample(NamedTuple):
    x: np.ndarray  #: (n, dx) float64
    y: np.ndarray  #: (n, dy) float64
    mi: float  #: the true MI of the generating distribution, nats


def rho_for_mi(mi_nats: float, dim: int) -> float:
    """Per-coordinate correlation giving total MI ``mi_nats`` over ``dim`` independent coordinates."""
    if mi_nats < 0:
        raise ValueError(f"mi_nats must be >= 0, got {mi_nats}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return math.sqrt(1.0 - math.exp(-2.0 * mi_nats / dim))


def gaussian_mi(rho: float, dim: int) -> float:
    """``-dim/2 log(1 - rho^2)``: MI of ``dim`` independent coordinate pairs of correlation ``rho``."""
    if not -1 < rho < 1:
        raise ValueError(f"rho must be in (-1, 1), got {rho}")
    return -0.5 * dim * math.log1p(-rho * rho)


def correlated_gaussian(n: int, dim: int, mi_nats: float, seed: int = 0) -> GroundTruthSample:
    """``n`` pairs of ``dim``-dimensional Gaussians with ``I(X; Y) = mi_nats`` exactly."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rho = rho_for_mi(mi_nats, dim)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1.0 - rho * rho) * rng.standard_normal((n, dim))
    return GroundTruthSample(x, y, float(mi_nats))


#: Invertible, strictly increasing maps of the real line (MI-preserving per coordinate).
WARPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "cubic": lambda a: a**3,
    "exp": np.exp,  # log-normal marginals, heavy right tail
    "sinh": np.sinh,  # heavy tails both sides
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),  # bounded
    "tanh-linear": lambda a: np.tanh(a) + 0.1 * a,  # flat middle then linear tails
}


def warp(a: np.ndarray, kind: str | list[str] = "cubic") -> np.ndarray:
    """Apply a strictly increasing map to each column of ``a``.

    ``kind`` is a name of :data:`WARPS` for all columns, or a list cycled over the columns (each
    coordinate its own map: still invertible per coordinate, so MI is still unchanged).
    """
    kinds = [kind] if isinstance(kind, str) else list(kind)
    for k in kinds:
        if k not in WARPS:
            raise ValueError(f"unknown warp {k!r}; available: {sorted(WARPS)}")
    a = np.asarray(a, dtype=np.float64)
    out = np.empty_like(a)
    for j in range(a.shape[1]):
        out[:, j] = WARPS[kinds[j % len(kinds)]](a[:, j])
    return out


def warped_gaussian(
    n: int, dim: int, mi_nats: float, kind: str | list[str] = "cubic", seed: int = 0, warp_x: bool = False
) -> GroundTruthSample:
    """:func:`correlated_gaussian` with ``y`` (and ``x`` if ``warp_x``) warped per coordinate."""
    x, y, mi = correlated_gaussian(n, dim, mi_nats, seed)
    return GroundTruthSample(warp(x, kind) if warp_x else x, warp(y, kind), mi)


def discrete_mi(pmf: np.ndarray) -> float:
    """Exact MI (nats) of a 2-D joint probability table."""
    p = np.asarray(pmf, dtype=np.float64)
    if p.ndim != 2 or (p < 0).any() or not math.isclose(p.sum(), 1.0, rel_tol=0, abs_tol=1e-9):
        raise ValueError("pmf must be a non-negative 2-D table summing to 1")
    px = p.sum(axis=1, keepdims=True)
    py = p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / (px @ py)[nz])))


def random_pmf(kx: int, ky: int, seed: int = 0, dependence: float = 1.0) -> np.ndarray:
    """A random ``kx x ky`` joint pmf; ``dependence`` in [0, 1] mixes independence (0) with a random
    Dirichlet table (1)."""
    rng = np.random.default_rng(seed)
    joint = rng.dirichlet(np.ones(kx * ky)).reshape(kx, ky)
    indep = joint.sum(axis=1, keepdims=True) @ joint.sum(axis=0, keepdims=True)
    return (1.0 - dependence) * indep + dependence * joint


def discrete_pair(
    n: int, kx: int = 4, ky: int = 5, seed: int = 0, dependence: float = 1.0, exact: bool = False
) -> GroundTruthSample:
    """Integer-valued pairs (as float columns) with the exact MI of their generating pmf.

    ``exact=False``: ``n`` i.i.d. draws from :func:`random_pmf`; ``mi`` is the pmf's MI.
    ``exact=True``: the pmf is first rounded to multiples of ``1/n`` and the sample holds exactly
    ``n * p(a, b)`` copies of each ``(a, b)`` (shuffled); ``mi`` is the MI of that rounded pmf, which
    is the sample's own empirical MI.
    """
    pmf = random_pmf(kx, ky, seed, dependence)
    rng = np.random.default_rng(seed + 1)
    if exact:
        counts = np.floor(pmf * n).astype(np.int64)
        # distribute the remainder to the largest fractional parts, so counts sum to n exactly
        rest = n - counts.sum()
        frac = (pmf * n - counts).ravel()
        counts.ravel()[np.argsort(-frac)[:rest]] += 1
        cells = np.repeat(np.arange(kx * ky), counts.ravel())
        rng.shuffle(cells)
        mi = discrete_mi(counts / n)
    else:
        cells = rng.choice(kx * ky, size=n, p=pmf.ravel())
        mi = discrete_mi(pmf)
    a, b = np.divmod(cells, ky)
    return GroundTruthSample(a[:, None].astype(np.float64), b[:, None].astype(np.float64), mi)


def _t_entropy_shape(nu: float, k: int) -> float:
    """The part of a ``k``-dimensional Student-t's differential entropy that depends on ``nu`` and ``k``
    beyond the Gaussian-like ``1/2 log det`` term, less ``k/2 log(nu pi)`` (it cancels in the MI)."""
    a, b = nu / 2.0, (nu + k) / 2.0
    return float(gammaln(a) - gammaln(b) + b * (digamma(b) - digamma(a)))


def t_correction(nu: float, dx: int, dy: int) -> float:
    """``I_t - I_Gauss`` (nats, > 0) for a Student-t with ``nu`` degrees of freedom split into ``dx`` and
    ``dy`` columns: ``c(dx) + c(dy) - c(dx + dy)``, ``c(k) = log G(nu/2) - log G((nu+k)/2) + (nu+k)/2
    (psi((nu+k)/2) - psi(nu/2))``, from the entropy of the multivariate t (Arellano-Valle et al. 2013).
    It is the MI of the shared scale: positive even when the dispersion is block-diagonal."""
    if not nu > 0:
        raise ValueError(f"nu must be > 0, got {nu}")
    return _t_entropy_shape(nu, dx) + _t_entropy_shape(nu, dy) - _t_entropy_shape(nu, dx + dy)


def student_t(
    n: int, dim: int, gauss_mi: float, nu: float, seed: int = 0, dim_y: int | None = None
) -> GroundTruthSample:
    """``n`` draws of a Student-t ``(X, Y)`` with ``nu`` degrees of freedom: the correlated Gaussian of
    :func:`correlated_gaussian` (``dim`` pairs of coordinates carrying ``gauss_mi`` nats; ``dim_y`` >
    ``dim`` adds independent-dispersion columns to ``y``) divided by one shared ``sqrt(chi2_nu / nu)``.
    ``mi = gauss_mi + t_correction(nu, dim, dim_y)``."""
    dy = dim if dim_y is None else int(dim_y)
    if dy < dim:
        raise ValueError(f"dim_y must be >= dim, got {dy} < {dim}")
    x, y, _ = correlated_gaussian(n, dim, gauss_mi, seed)
    rng = np.random.default_rng([seed, 1])
    if dy > dim:
        y = np.hstack([y, rng.standard_normal((n, dy - dim))])
    scale = np.sqrt(rng.chisquare(nu, size=(n, 1)) / nu)
    return GroundTruthSample(x / scale, y / scale, float(gauss_mi) + t_correction(nu, dim, dy))


def sparse_gaussian(n: int, dim: int, informative: int, mi_nats: float, seed: int = 0) -> GroundTruthSample:
    """``dim`` columns per side of which only ``informative`` (placed at random, per side) carry the
    ``mi_nats`` of :func:`correlated_gaussian`; the others are independent standard normals."""
    if not 1 <= informative <= dim:
        raise ValueError(f"informative must be in [1, dim], got {informative}")
    x0, y0, mi = correlated_gaussian(n, informative, mi_nats, seed)
    rng = np.random.default_rng([seed, 2])
    x, y = rng.standard_normal((n, dim)), rng.standard_normal((n, dim))
    x[:, rng.choice(dim, informative, replace=False)] = x0
    y[:, rng.choice(dim, informative, replace=False)] = y0
    return GroundTruthSample(x, y, mi)


def spiral(a: np.ndarray, speed: float = 1.0) -> np.ndarray:
    """Turn each row of ``a`` (N, 2) by ``speed * |row|**2`` radians: a bijection of the plane (the radius
    is kept, so the turn can be undone), hence MI-preserving."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"spiral needs an (N, 2) array, got shape {a.shape}")
    t = speed * np.sum(a * a, axis=1)
    c, s = np.cos(t), np.sin(t)
    return np.stack([c * a[:, 0] - s * a[:, 1], s * a[:, 0] + c * a[:, 1]], axis=1)


def spiral_gaussian(n: int, mi_nats: float, speed: float = 1.0, seed: int = 0) -> GroundTruthSample:
    """:func:`correlated_gaussian` in 2 + 2 columns with ``y`` passed through :func:`spiral`."""
    x, y, mi = correlated_gaussian(n, 2, mi_nats, seed)
    return GroundTruthSample(x, spiral(y, speed), mi)


def discrete_continuous_mi(classes: int, shift: float) -> float:
    """Exact ``I(X; Y)`` for ``X`` uniform on ``{0, ..., classes-1}`` and ``Y = shift * X + U``, ``U`` uniform
    on ``[0, 1)``: ``h(Y | X) = 0`` (a unit interval), so it is ``h(Y)``, the entropy of a piecewise
    constant density (``m / classes`` where ``m`` of the shifted intervals overlap)."""
    if classes < 1 or not shift > 0:
        raise ValueError(f"classes must be >= 1 and shift > 0, got {classes}, {shift}")
    edges = np.unique(np.concatenate([shift * np.arange(classes), shift * np.arange(classes) + 1.0]))
    mid = (edges[:-1] + edges[1:]) / 2.0
    start = shift * np.arange(classes)
    m = ((mid[:, None] >= start) & (mid[:, None] < start + 1.0)).sum(axis=1)
    f = m / classes
    keep = f > 0
    return float(-np.sum(np.diff(edges)[keep] * f[keep] * np.log(f[keep])))


def discrete_continuous(
    n: int, classes: int = 4, shift: float = 0.5, noise_dims: int = 0, seed: int = 0
) -> GroundTruthSample:
    """``x`` the class (one integer column), ``y = shift * x + U`` plus ``noise_dims`` independent normal
    columns (which change nothing); ``mi`` from :func:`discrete_continuous_mi`."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, classes, size=n).astype(np.float64)
    y = shift * x + rng.random(n)
    y2 = np.hstack([y[:, None], rng.standard_normal((n, noise_dims))])
    return GroundTruthSample(x[:, None], y2, discrete_continuous_mi(classes, shift))
