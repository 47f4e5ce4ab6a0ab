"""Kraskov–Stögbauer–Grassberger estimator, algorithm 1 (Kraskov et al. 2004), max-norm.

For each sample ``i`` let ``eps_i`` be the max-norm distance to its ``k``-th nearest neighbour in
the joint space ``z = (x, y)``, and ``n_x(i)``, ``n_y(i)`` the numbers of *other* samples strictly
closer than ``eps_i`` in the ``x`` and ``y`` spaces alone. Then

    I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >.

Implementation: one ``cKDTree`` on ``z`` (k-NN query) and, for each marginal, either one tree
counted with ``query_ball_point(..., return_length=True)`` ("strictly closer" = a radius one ulp
below ``eps_i``) or, for a one-column marginal, a binary search in the sorted column — all
vectorised, ``O(N log N)`` in low dimension.

Preprocessing (``transform``): KSG's max-norm is not invariant to rescaling a coordinate although MI
is, so each column is standardised by default; ``"rank"`` maps each column to its normalised ranks
(a copula transform) and ``"gauss-rank"`` to standard-normal scores of the ranks, which makes the
finite-sample estimate invariant to any monotone warp of a coordinate. A tiny seeded jitter breaks
ties (duplicate points make ``eps_i = 0``).

The value is reported as is, negative values included: clipping at zero would bias the estimate
and its permutation null.

Ceiling (:meth:`KSGEstimator.ceiling`). The estimate is largest when the marginal counts are
smallest. The ``k - 1`` nearest joint neighbours of a point are strictly inside ``eps_i`` in the
joint max-norm, hence in both marginals, so ``n_x, n_y >= k - 1`` whenever no two distances tie.
The ``k``-th neighbour sets ``eps_i`` in one coordinate of one side; with the rows in general
position its distance on the other side is strictly smaller, so it is counted there:
``n_x + n_y >= 2k - 1`` and

    I <= psi(k) + psi(N) - psi(k) - psi(k + 1) = psi(N) - psi(k + 1),

which ``y = x`` reaches exactly (with the jitter on, ``x`` and ``y`` receive independent jitter,
so the copy is in general position). Without jitter, ties are possible: an exact copy ``y = x``
puts the ``k``-th neighbour at ``eps_i`` on both sides (``n_x = n_y = k - 1``, value
``psi(N) - psi(k)``), and points whose ``k`` nearest neighbours all lie at the same max-norm distance
(the vertices of a cube, a grid) have ``n_x = n_y = 0``. Since the counts are never negative in a
finite estimate, the bound without jitter is ``psi(N) + psi(k) - 2 psi(1)``, reached by ``y = x`` =
the ``2**d`` vertices of a ``d``-cube. (The jitter's general position holds with probability one;
only a jitter below the data's float resolution, e.g. ``jitter=1e-20`` or ``transform="none"`` on a
column with a huge offset, leaves ties, and then the no-jitter bound is the one that holds.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma
from scipy.stats import norm, rankdata

from .base import (
    Estimator,
    choice_setting,
    int_setting,
    maybe_project,
    pca_setting,
    pow2_exponent,
    standardize,
)

__all__ = ["KSGEstimator", "ksg_mi", "marginal_transform"]


def marginal_transform(a: np.ndarray, kind: str) -> np.ndarray:
    """Per-column transform: ``"standardize"``, ``"rank"``, ``"gauss-rank"`` or ``"none"``."""
    if kind == "none":
        return a
    if kind == "standardize":
        return standardize(a)  # safe for data near 1e200 or 1e-300 (a plain variance overflows)
    r = rankdata(a, axis=0, method="average")
    u = r / (a.shape[0] + 1.0)  # in (0, 1)
    if kind == "rank":
        return u
    return norm.ppf(u)


def _count_strictly_closer_1d(a: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """For each i, #{j != i : |a_j - a_i| < eps_i}, by binary search in the sorted column.

    ``a_i +- eps_i`` may round across a boundary point, so the bracket found by ``searchsorted`` is
    corrected with the same subtraction a k-d tree uses (``|a_j - a_i|``), until it is exact.
    """
    s = np.sort(a)
    n = s.size
    hi = np.searchsorted(s, a + eps, side="left")  # first index not strictly closer above
    lo = np.searchsorted(s, a - eps, side="right")  # first index strictly closer below
    while True:
        dec = (hi > 0) & (s[np.maximum(hi - 1, 0)] - a >= eps)
        inc = (hi < n) & (s[np.minimum(hi, n - 1)] - a < eps)
        if not (dec.any() or inc.any()):
            break
        hi = hi - dec + inc
    while True:
        inc = (lo < n) & (a - s[np.minimum(lo, n - 1)] >= eps)
        dec = (lo > 0) & (a - s[np.maximum(lo - 1, 0)] < eps)
        if not (dec.any() or inc.any()):
            break
        lo = lo + inc - dec
    return hi - lo - 1  # minus the point itself


def _count_strictly_closer(a: np.ndarray, eps: np.ndarray, workers: int) -> np.ndarray:
    if a.shape[1] == 1:  # one column: sorting beats a tree by ~10x
        return _count_strictly_closer_1d(a[:, 0], eps)
    radius = np.nextafter(eps, 0.0)  # query_ball_point counts <= r; one ulp below eps is "< eps"
    return cKDTree(a).query_ball_point(a, radius, p=np.inf, return_length=True, workers=workers) - 1


def ksg_mi(x: np.ndarray, y: np.ndarray, k: int = 3, workers: int = 1) -> float:
    """KSG algorithm-1 estimate (nats) on already prepared float arrays, no checks."""
    n = x.shape[0]
    z = np.hstack([x, y])
    # k+1 neighbours: the first is the point itself (distance 0).
    dist, _ = cKDTree(z).query(z, k=k + 1, p=np.inf, workers=workers)
    eps = dist[:, -1]
    nx = _count_strictly_closer(x, eps, workers)
    ny = _count_strictly_closer(y, eps, workers)
    return float(digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1)))


class KSGEstimator(Estimator):
    """KSG estimator (settings: ``k``, ``transform``, ``jitter``, ``seed``, ``pca_dim``, ``workers``).

    The reported number is the KSG algorithm-1 estimate of ``I(X; Y)`` itself (not a bound; it can
    be negative, and it is biased downwards at large MI), at most :meth:`ceiling`.
    """

    name = "ksg"
    defaults = {
        "k": 3,  # neighbours; 3-10 is the usual range (bias falls, variance rises with k)
        "transform": "standardize",  # "standardize" | "rank" | "gauss-rank" | "none"
        "jitter": 1e-10,  # relative noise that breaks ties (scaled by each column's std)
        "seed": 0,  # seeds the jitter
        "pca_dim": None,  # project x and y separately to this many components first
        "workers": 1,  # threads for the k-d tree queries (-1: all cores)
    }

    def ceiling(self, n_eval: int, dx: int | None = None, dy: int | None = None) -> float:
        """``psi(N) - psi(k + 1)`` with the jitter on (rows in general position; reached by ``y = x``),
        ``psi(N) + psi(k) - 2 psi(1)`` with ``jitter=0`` (ties allowed); see the module docstring.
        The number of columns does not enter."""
        k = self._settings["k"]
        if self._settings["jitter"] > 0:
            return float(digamma(n_eval) - digamma(k + 1))
        return float(digamma(n_eval) + digamma(k) - 2.0 * digamma(1))

    def _validate_settings(self) -> None:
        s = self._settings
        int_setting(self.name, "k", s["k"], 1)
        choice_setting(self.name, "transform", s["transform"], ("standardize", "rank", "gauss-rank", "none"))
        if not isinstance(s["jitter"], (int, float)) or s["jitter"] < 0:
            raise ValueError(f"ksg: jitter must be a float >= 0, got {s['jitter']!r}")
        int_setting(self.name, "seed", s["seed"], 0)
        pca_setting(self.name, s["pca_dim"])
        if not isinstance(s["workers"], int) or s["workers"] == 0 or s["workers"] < -1:
            raise ValueError(f"ksg: workers must be a positive int or -1, got {s['workers']!r}")

    @property
    def min_n(self) -> int:  # type: ignore[override]
        return self._settings["k"] + 2

    def _estimate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
        s = self._settings
        x, y, details = maybe_project(x, y, s["pca_dim"])
        rng = np.random.default_rng(s["seed"])
        if s["transform"] == "none":
            # One power of two for both sides: exact, keeps every max-norm distance's ordering (so
            # the estimate is unchanged), and keeps distances and the jitter's scale finite and
            # normal for data near 1e300 or 1e-300.
            e = int(max(pow2_exponent(x, axis=None), pow2_exponent(y, axis=None)))
            x, y = np.ldexp(x, -e), np.ldexp(y, -e)
        prepared = []
        for a in (x, y):
            a = marginal_transform(a, s["transform"])
            if s["jitter"] > 0:
                a = a + s["jitter"] * a.std(axis=0) * rng.standard_normal(a.shape)
            prepared.append(a)
        return ksg_mi(prepared[0], prepared[1], s["k"], s["workers"]), details
