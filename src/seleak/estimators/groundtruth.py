"""Samples with known mutual information, for tests, benchmarks and chapter 2.

* :func:`correlated_gaussian` — ``x, y`` standard normal in ``d`` dimensions, coordinate ``j`` of
  ``y`` correlated with coordinate ``j`` of ``x`` only, with the same ``rho`` everywhere, so that
  ``I(X; Y) = -d/2 log(1 - rho^2)`` exactly (Cover & Thomas 2006). The standard benchmark of
  Poole et al. (2019) and Song & Ermon (2020): ``d = 20``, MI 2, 4, 6, 8, 10 nats.
* :func:`warped_gaussian` — the same with an invertible per-coordinate map applied to ``y`` (and
  optionally ``x``): MI is invariant to such maps, so the truth is unchanged while the marginals stop
  being Gaussian ("cubic" is the benchmark's variant).
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
