"""Kraskov–Stögbauer–Grassberger estimator, algorithm 1 (Kraskov et al. 2004), max-norm.

For each sample ``i`` let ``eps_i`` be the max-norm distance to its ``k``-th nearest neighbour in
the joint space ``z = (x, y)``, and ``n_x(i)``, ``n_y(i)`` the numbers of *other* samples strictly
closer than ``eps_i`` in the ``x`` and ``y`` spaces alone. Then

    I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >.

Implementation: one k-d tree on ``z`` for the k-NN query (``cKDTree`` up to 4 joint columns,
scikit-learn's ``KDTree`` above, whichever is faster) and, for each marginal, either a scikit-learn
``KDTree`` counted with ``query_radius(..., count_only=True)`` ("strictly closer" = a radius one ulp
below ``eps_i``) or, for a one-column marginal, a binary search in the sorted column — all
vectorised, single-threaded unless ``workers`` asks for more.

Cost: ``O(N log N)`` only for 1 + 1 columns (measured log-log slope of time against N: 1.08 over
N = 1e3 .. 1e4). With more columns it grows faster, because the marginal counts themselves grow with
N (``eps_i`` shrinks like ``N**(-1/(dx+dy))`` in the joint space, so a marginal ball of that radius
holds ~``N**(dy/(dx+dy))`` points) and tree pruning weakens with the dimension: measured slopes 1.55
at 4 + 4 (N = 1e3 .. 1e5), 1.53 at 5 + 5, 1.68 at 10 + 10 and 1.86 at 20 + 20 (N = 1e3 .. 1e4);
``benchmarks/bench_ksg.py`` on a shared 2-core machine, which also times the previous ``cKDTree``
counting (2.3-4.6x slower from 4 + 4 columns up, unchanged at 1 + 1; identical estimates).

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

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma
from scipy.stats import norm, rankdata
from sklearn.neighbors import KDTree

from .base import (
    Estimator,
    choice_setting,
    int_setting,
    maybe_project,
    pca_setting,
    pow2_exponent,
    standardize,
)

# The joint k-NN query uses cKDTree up to this many columns and scikit-learn's KDTree above: measured
# crossover at 5 columns (N = 1e4, single thread), where both take the same time.
_CKDTREE_MAX_COLUMNS = 4

__all__ = ["KSGEstimator", "count_strictly_closer", "ksg_mi", "kth_neighbour_distance", "marginal_transform"]


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


def _threads(workers: int) -> int:
    """The number of threads a ``workers`` setting asks for (``-1``: every core)."""
    return (os.cpu_count() or 1) if workers == -1 else workers


def _by_row_blocks(fn: Callable[[slice], np.ndarray], n: int, workers: int) -> np.ndarray:
    """``fn`` over ``n`` query rows, split into one contiguous block per thread and concatenated.

    scikit-learn's tree queries release the GIL but take no thread count, so threads come from here.
    Each row's query is independent, so the result does not depend on the split. One worker (the
    default) runs in the calling thread: the study runs its cells in parallel processes already.
    """
    threads = min(_threads(workers), n)
    if threads <= 1:
        return fn(slice(0, n))
    bounds = np.linspace(0, n, threads + 1).astype(int)
    blocks = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return np.concatenate(list(pool.map(fn, blocks)))


def count_strictly_closer(a: np.ndarray, eps: np.ndarray, workers: int = 1) -> np.ndarray:
    """For each row ``i`` of ``a`` (shape ``(n, d)``), ``#{j != i : max_c |a_jc - a_ic| < eps_i}``.

    One column: a binary search in the sorted column (about 5x faster than a tree). More columns:
    scikit-learn's ``KDTree.query_radius(..., count_only=True)``, which counts a whole node at once
    when the node lies inside the radius (3-7x faster than ``cKDTree.query_ball_point`` with
    ``return_length=True``, which is what this used before; the counts are identical). Both trees
    count ``dist <= r`` and compute ``|a_jc - a_ic|`` by the same float subtraction, so a radius one
    ulp below ``eps_i`` counts exactly the points strictly closer than ``eps_i``; the point itself
    (distance 0) is always inside and is subtracted.

    ``eps_i`` must be > 0 for the counts to mean "strictly closer" (the jitter makes it so). At
    ``eps_i = 0`` (``k + 1`` identical rows without jitter) the two paths differ, as they did before:
    the tree counts the other copies at distance 0, the binary search returns a negative count.
    """
    if a.shape[1] == 1:
        return _count_strictly_closer_1d(a[:, 0], eps)
    radius = np.nextafter(eps, 0.0)
    tree = KDTree(a, metric="chebyshev")
    counts = _by_row_blocks(lambda b: tree.query_radius(a[b], radius[b], count_only=True), a.shape[0], workers)
    return counts - 1


def kth_neighbour_distance(z: np.ndarray, k: int, workers: int = 1) -> np.ndarray:
    """For each row of ``z``, the max-norm distance to its ``k``-th nearest other row.

    ``k + 1`` neighbours are asked for because the row itself is among them at distance 0 (with
    duplicate rows another copy may be returned first; the sorted distances are the same). Both trees
    return the same distances; which is faster depends on the columns: ``cKDTree`` up to
    ``_CKDTREE_MAX_COLUMNS`` (0.7-0.9x the time of scikit-learn's ``KDTree`` at 2-4 columns), scikit-learn's
    ``KDTree`` above (1.1x at 6 columns, 1.2-1.6x at 8-20).
    """
    if z.shape[1] <= _CKDTREE_MAX_COLUMNS:
        return cKDTree(z).query(z, k=k + 1, p=np.inf, workers=workers)[0][:, -1]
    tree = KDTree(z, metric="chebyshev")
    dist = _by_row_blocks(lambda b: tree.query(z[b], k=k + 1, return_distance=True)[0], z.shape[0], workers)
    return dist[:, -1]


def ksg_mi(x: np.ndarray, y: np.ndarray, k: int = 3, workers: int = 1) -> float:
    """KSG algorithm-1 estimate (nats) on already prepared float arrays, no checks.

    ``workers``: threads for the tree queries (``-1``: every core); the default 1 stays in the
    calling thread.
    """
    n = x.shape[0]
    eps = kth_neighbour_distance(np.hstack([x, y]), k, workers)
    nx = count_strictly_closer(x, eps, workers)
    ny = count_strictly_closer(y, eps, workers)
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
