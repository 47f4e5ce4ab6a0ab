"""Kraskov–Stögbauer–Grassberger estimator, algorithm 1 (Kraskov et al. 2004), max-norm.

For each sample ``i`` let ``eps_i`` be the max-norm distance to its ``k``-th nearest neighbour in
the joint space ``z = (x, y)``, and ``n_x(i)``, ``n_y(i)`` the numbers of *other* samples strictly
closer than ``eps_i`` in the ``x`` and ``y`` spaces alone. Then

    I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >.

Two exact paths, chosen by :func:`ksg_method` (``method="auto"``):

* **trees** (below 16 joint columns, and for more rows than the brute-force limit): ``eps_i`` from a
  k-d tree on ``z`` (``cKDTree`` up to 4 joint columns, scikit-learn's ``KDTree`` above, whichever is
  faster), then each marginal counted with scikit-learn's ``KDTree.query_radius(..., count_only=True)``
  ("strictly closer" = a radius one ulp below ``eps_i``) or, for a one-column marginal, by binary search
  in the sorted column.
* **brute force** (torch, float64; from 16 joint columns up to ``1000 * (dx + dy)`` rows): for 64 query
  rows at a time, the max-norm distances to every row in each marginal; their elementwise maximum is
  the joint distance, whose ``(k+1)``-th smallest (the row itself included) is ``eps_i``, and the same
  two blocks give both counts. Time ``O(N^2 (dx + dy))``; memory at most 64 MiB of distance blocks
  per thread (fewer query rows per block for N above about 44 000).

Threads (``workers``; default ``None``: every core this process may use for inputs large enough to
gain from them, see :func:`resolve_workers`, or the cap of an enclosing ``limit_threads(n, openmp=True)``,
which every study cell sets, so that cells running in parallel processes do not oversubscribe the
cores). The rows are cut into blocks and each block runs its
``k``-NN query and then its two counts, so the threads never wait for each other. Each thread queries
its own shallow copy of a scikit-learn tree: the tree writes a call counter on every distance, and
two threads sharing one tree object ran the 5 + 5 ``k``-NN query 1.05x as fast as one thread, against
1.92x with a copy each (``cKDTree``'s own threads: 1.94x). Every path and thread count gives
the same ``eps_i``, ``n_x(i)``, ``n_y(i)`` bit for bit (``tests/test_ksg_reference.py``).

Cost, measured (a 2-core AMD EPYC machine, N = 5000, k = 3, correlated Gaussians with 1 nat; best of
3-5 interleaved runs with nothing else running; ranges over four sessions, the last one being
``benchmarks/results/ksg.json``, written by ``benchmarks/bench_ksg.py``):

* 5 + 5 (trees): 133-140 ms on one thread, 75-79 ms on two (``k``-NN 49-53 / 26-33 ms, each marginal's
  counts 41-44 / 22-25 ms, tree builds 2.7 + 2 x 1.6 ms); latentmi's KSG (the same scikit-learn queries
  on one thread) 140-148 ms: 1.04-1.06x as fast on one thread, 1.80-1.91x on two. Not 2x: the two cores
  run these queries 1.92x as fast as one, and the joint tree must be built (2.7 ms, holding the GIL)
  before any query. Brute force takes 205-289 ms on one thread here.
* 10 + 10 (brute force): 276-296 ms on one thread, 167-190 ms on two; latentmi 509-534 ms: 1.76-1.92x
  and 2.75-3.20x (trees: 432-446 / 236-245 ms). 20 + 20 (brute force): 462-502 / 265-275 ms; latentmi
  1070-1127 ms: 2.24-2.33x and 3.99-4.15x (trees: 1072-1115 / 552-588 ms).
* one thread, trees against brute force (another run): 0.26 / 0.24 s at 6 + 6, 0.35 / 0.27 s at
  8 + 8, 0.48 / 0.30 s at 10 + 10, 1.18 / 0.57 s at 20 + 20. With N: at 8 + 8 1.17 / 1.09 s
  (N = 1e4) and 3.96 / 4.31 s (2e4); at 10 + 10 1.85 / 1.31 s and 6.36 / 6.10 s; at 20 + 20 5.00 /
  2.05 s and 18.5 / 8.5 s: hence brute force from 16 columns up to 1000 rows per column (counted up to
  40 columns, the widest measured).
* growth with N on one thread (log-log slope of time; ``ksg.json``): 1.07 at 1 + 1 (N = 1e3 .. 1e4),
  1.43 at 4 + 4 (1e3 .. 1e5) and 1.50 at 5 + 5 (trees), 1.99 at 10 + 10 and 20 + 20 (1e3 .. 1e4, the
  brute-force path from 16 columns; trees there 1.68-2.08 in other runs). The trees are ``O(N log N)``
  only for 1 + 1 columns: with more columns the marginal counts themselves grow with N (``eps_i``
  shrinks like ``N**(-1/(dx+dy))`` in the joint space, so a marginal ball of that radius holds
  ~``N**(dy/(dx+dy))`` points) and tree pruning weakens with the dimension; at 20 + 20 they are no
  better than quadratic, which brute force is by construction.

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

import copy
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma
from scipy.stats import norm, rankdata
from sklearn.neighbors import KDTree

from seleak._runtime import limit_threads, thread_budget

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
# Brute force from this many joint columns, up to _BRUTE_ROWS_PER_COLUMN rows per joint column (ksg_method).
_BRUTE_MIN_COLUMNS = 16
_BRUTE_ROWS_PER_COLUMN = 1000
_AUTO_ROW_COLUMNS_PER_THREAD = 8000  # workers=None: at least this many rows x joint columns per thread
_BRUTE_ROWS = 64  # query rows per brute-force distance block (three blocks of 64 x N float64 per thread)
# ... but at most this many bytes for those three blocks per thread (fewer rows per block at large N)
_BRUTE_BLOCK_BYTES = 64 << 20
# The rows-per-column rule was measured up to 20 + 20 columns: wider inputs are treated as 40 columns.
_BRUTE_MAX_MEASURED_COLUMNS = 40

__all__ = [
    "KSGEstimator",
    "count_strictly_closer",
    "ksg_counts",
    "ksg_method",
    "ksg_mi",
    "kth_neighbour_distance",
    "marginal_transform",
    "resolve_workers",
]


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


def _count_strictly_closer_1d(s: np.ndarray, a: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """For each query value ``a_i`` (itself an element of the sorted column ``s``),
    ``#{j != i : |s_j - a_i| < eps_i}``, by binary search in ``s``.

    ``a_i +- eps_i`` may round across a boundary point, so the bracket found by ``searchsorted`` is
    corrected with the same subtraction a k-d tree uses (``|s_j - a_i|``), until it is exact.
    """
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


def resolve_workers(workers: int | None, n: int = 1 << 62, columns: int = 1) -> int:
    """The number of threads a ``workers`` setting gives for ``n`` rows of ``columns`` joint columns.

    ``None`` (automatic): :func:`seleak._runtime.thread_budget` (every core, or the cap of an enclosing
    ``limit_threads(n, openmp=True)``, which a study cell runs under), but no more than one thread per
    ``_AUTO_ROW_COLUMNS_PER_THREAD`` rows x columns: handing blocks to threads costs about 0.4 ms a call,
    and below that size one thread was faster (measured at 1 + 1 with 2 000 rows, 4 + 4 and 8 + 8 with
    300; two threads were 1.2-1.6x faster at 1 + 1 with 10 000 rows and 8 + 8 with 1 000). ``-1``: every
    core; else the number asked for. Never more threads than rows.
    """
    if workers is None:
        t = min(thread_budget(), max(1, n * columns // _AUTO_ROW_COLUMNS_PER_THREAD))
    elif workers == -1:
        t = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    else:
        t = int(workers)
    return max(1, min(t, n))


def _row_blocks(n: int, threads: int) -> list[slice]:
    """Contiguous row blocks: one for one thread, else four per thread (the pool balances them)."""
    parts = 1 if threads <= 1 else min(n, 4 * threads)
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools() -> None:
    """In a forked child: the parent's pool threads do not exist there, so start afresh."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _map(fn: Callable[[slice], Any], blocks: list[slice], threads: int) -> list[Any]:
    """``fn`` over the row blocks: in the calling thread for one block, else on a pool of ``threads``
    threads kept for the next call (starting threads cost about 1 ms a call, more than a small
    estimate)."""
    if len(blocks) == 1:
        return [fn(blocks[0])]
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seleak-ksg")
    return list(pool.map(fn, blocks))


def _leaf_size(columns: int, knn: bool) -> int:
    """scikit-learn ``KDTree`` leaf size: 16 for a k-NN query on up to 10 columns, else its default 40
    (measured best at N = 5000: 10-column k-NN 49 ms at 12-16 against 55 ms at 40; 5-column counts 40 ms
    at 40 against 42 ms at 20, 46 ms at 12)."""
    return 16 if knn and columns <= 10 else 40


def _knn_tree(z: np.ndarray) -> Any:
    """The tree for the ``k``-NN query on ``z``: ``cKDTree`` up to ``_CKDTREE_MAX_COLUMNS``, else scikit-learn's."""
    if z.shape[1] <= _CKDTREE_MAX_COLUMNS:
        return cKDTree(z)
    return KDTree(z, leaf_size=_leaf_size(z.shape[1], knn=True), metric="chebyshev")


def _knn_query(tree: Any, q: np.ndarray, k: int) -> np.ndarray:
    """Max-norm distance from each row of ``q`` (rows of the tree's data) to its ``k``-th nearest other row.

    A scikit-learn tree is queried through a shallow copy (same read-only arrays, its own call counters):
    the tree writes a counter on every distance, and threads sharing one tree object stall on that write.
    """
    if isinstance(tree, cKDTree):
        return tree.query(q, k=k + 1, p=np.inf)[0][:, -1]
    return copy.copy(tree).query(q, k=k + 1, return_distance=True)[0][:, -1]


class _Counter:
    """``#{j != i : max_c |a_jc - a_ic| < eps_i}`` for rows ``i`` of one marginal ``a``, block by block."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a
        if a.shape[1] == 1:
            self.sorted: np.ndarray | None = np.sort(a[:, 0])
            self.tree = None
        else:
            self.sorted = None
            self.tree = KDTree(a, leaf_size=_leaf_size(a.shape[1], knn=False), metric="chebyshev")

    def count(self, rows: slice, eps: np.ndarray) -> np.ndarray:
        if self.sorted is not None:
            return _count_strictly_closer_1d(self.sorted, self.a[rows, 0], eps)
        radius = np.nextafter(eps, 0.0)
        return copy.copy(self.tree).query_radius(self.a[rows], radius, count_only=True) - 1


class _Lazy:
    """A value made once, by the first thread that asks for it (the others wait for it)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._value, self._lock = make, None, threading.Lock()

    def get(self) -> Any:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
        return self._value


def _tree_counts(x: np.ndarray, y: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``eps``, ``n_x``, ``n_y`` by trees. Each row block runs its k-NN query and then its two counts, so
    the threads never wait for each other; the marginal trees are built by the first block that needs
    them, while the other threads run their k-NN queries (a build holds the GIL, a query does not)."""
    n = x.shape[0]
    z = np.hstack([x, y])
    joint = _knn_tree(z)
    counters = [_Lazy(lambda: _Counter(x)), _Lazy(lambda: _Counter(y))]

    def block(rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        eps = _knn_query(joint, z[rows], k)
        return eps, counters[0].get().count(rows, eps), counters[1].get().count(rows, eps)

    parts = _map(block, _row_blocks(n, threads), threads)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def _brute_counts(x: np.ndarray, y: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``eps``, ``n_x``, ``n_y`` by brute force (torch, float64), ``_BRUTE_ROWS`` query rows at a time.

    The joint max-norm distance is the larger of the two marginal ones, so the two marginal distance
    blocks give the ``k``-NN distance and both counts at once. Every distance is ``max_c |a_jc - a_ic|``
    by the same float subtraction as in the trees, and a row counts when its distance is at most one ulp
    below ``eps_i``, as in the trees: the results are identical to the tree path's, bit for bit.
    """
    import torch

    n = x.shape[0]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    eps, nx, ny = np.empty(n), np.empty(n, dtype=np.intp), np.empty(n, dtype=np.intp)

    step = max(1, min(_BRUTE_ROWS, _BRUTE_BLOCK_BYTES // (3 * 8 * n)))  # memory per thread stays bounded

    def block(rows: slice) -> None:
        for s in range(rows.start, rows.stop, step):
            e = min(s + step, rows.stop)
            dx = torch.cdist(xt[s:e], xt, p=math.inf)
            dy = torch.cdist(yt[s:e], yt, p=math.inf)
            kth = torch.topk(torch.maximum(dx, dy), k + 1, dim=1, largest=False, sorted=False).values.amax(dim=1)
            radius = torch.nextafter(kth, torch.zeros_like(kth))[:, None]
            eps[s:e] = kth.numpy()
            nx[s:e] = (dx <= radius).sum(dim=1).numpy() - 1
            ny[s:e] = (dy <= radius).sum(dim=1).numpy() - 1

    # torch's own pool on one thread: the blocks are the parallelism (the caller's setting is restored)
    with limit_threads(1, blas=False):
        _map(block, _row_blocks(n, threads), threads)
    return eps, nx, ny


def ksg_method(dx: int, dy: int, n: int) -> str:
    """The path :func:`ksg_counts` takes with ``method="auto"``: ``"brute"`` from ``_BRUTE_MIN_COLUMNS``
    joint columns up to ``_BRUTE_ROWS_PER_COLUMN * (dx + dy)`` rows, else ``"tree"`` (measured
    crossovers in the module docstring)."""
    columns = dx + dy
    measured = min(columns, _BRUTE_MAX_MEASURED_COLUMNS)
    return "brute" if columns >= _BRUTE_MIN_COLUMNS and n <= _BRUTE_ROWS_PER_COLUMN * measured else "tree"


def ksg_counts(
    x: np.ndarray, y: np.ndarray, k: int = 3, workers: int | None = None, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(eps, n_x, n_y)`` of KSG algorithm 1 (module docstring) on prepared float arrays, no checks.

    ``workers``: threads (``None``: :func:`resolve_workers`); ``method``: ``"tree"``, ``"brute"`` or
    ``"auto"`` (:func:`ksg_method`). Every path and thread count gives the same arrays, bit for bit,
    whenever every ``eps_i > 0``. (At ``eps_i = 0``, ``k + 1`` identical rows without jitter, a one-column
    marginal counted by the tree path's binary search returns ``-1`` where trees and brute force count
    the other copies.)
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    n = x.shape[0]
    if method == "auto":
        method = ksg_method(x.shape[1], y.shape[1], n)
    threads = resolve_workers(workers, n, x.shape[1] + y.shape[1])
    if method == "brute":
        return _brute_counts(x, y, k, threads)
    if method == "tree":
        return _tree_counts(x, y, k, threads)
    raise ValueError(f"ksg_counts: method must be 'auto', 'tree' or 'brute', got {method!r}")


def count_strictly_closer(a: np.ndarray, eps: np.ndarray, workers: int | None = 1) -> np.ndarray:
    """For each row ``i`` of ``a`` (shape ``(n, d)``), ``#{j != i : max_c |a_jc - a_ic| < eps_i}``.

    One column: a binary search in the sorted column (about 5x faster than a tree). More columns:
    scikit-learn's ``KDTree.query_radius(..., count_only=True)``, which counts a whole node at once
    when the node lies inside the radius (3-7x faster than ``cKDTree.query_ball_point`` with
    ``return_length=True``; the counts are identical). Both trees count ``dist <= r`` and compute
    ``|a_jc - a_ic|`` by the same float subtraction, so a radius one ulp below ``eps_i`` counts exactly
    the points strictly closer than ``eps_i``; the point itself (distance 0) is always inside and is
    subtracted.

    ``eps_i`` must be > 0 for the counts to mean "strictly closer" (the jitter makes it so). At
    ``eps_i = 0`` (``k + 1`` identical rows without jitter) the two paths differ: the tree counts the
    other copies at distance 0, the binary search returns a negative count.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    n = a.shape[0]
    threads = resolve_workers(workers, n, a.shape[1])
    counter = _Counter(a)
    return np.concatenate(_map(lambda b: counter.count(b, eps[b]), _row_blocks(n, threads), threads))


def kth_neighbour_distance(z: np.ndarray, k: int, workers: int | None = 1) -> np.ndarray:
    """For each row of ``z``, the max-norm distance to its ``k``-th nearest other row.

    ``k + 1`` neighbours are asked for because the row itself is among them at distance 0 (with
    duplicate rows another copy may be returned first; the sorted distances are the same). Both trees
    return the same distances; ``cKDTree`` up to ``_CKDTREE_MAX_COLUMNS`` (0.7-0.9x the time of
    scikit-learn's ``KDTree`` at 2-4 columns), scikit-learn's ``KDTree`` above (1.1x at 6 columns,
    1.2-1.6x at 8-20).
    """
    z = np.ascontiguousarray(z, dtype=np.float64)
    n = z.shape[0]
    threads = resolve_workers(workers, n, z.shape[1])
    tree = _knn_tree(z)
    return np.concatenate(_map(lambda b: _knn_query(tree, z[b], k), _row_blocks(n, threads), threads))


def ksg_mi(x: np.ndarray, y: np.ndarray, k: int = 3, workers: int | None = None, method: str = "auto") -> float:
    """KSG algorithm-1 estimate (nats) on already prepared float arrays, no checks.

    ``workers``: threads (``None``: :func:`resolve_workers` decides from the size and the cores, or the
    cap a study cell sets; ``-1``: every core; 1: the calling thread only); ``method``: :func:`ksg_counts`.
    The value does not depend on either.

    Raises ``ValueError`` when some ``eps_i = 0`` (``k + 1`` identical rows, possible only without
    jitter): nothing is strictly closer than 0, the paths would disagree there (a one-column binary
    search returns ``-1``, trees and brute force count the copies), and the estimate is undefined.
    """
    n = x.shape[0]
    eps, nx, ny = ksg_counts(x, y, k, workers, method)
    zero = int(np.count_nonzero(eps <= 0))
    if zero:
        raise ValueError(
            f"ksg: {zero} of {n} rows have k + 1 = {k + 1} or more identical copies (k-th neighbour at distance "
            "0), where KSG is undefined; keep the jitter on (jitter > 0, default 1e-10) or remove duplicate rows"
        )
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
        "workers": None,  # threads (None: automatic, see resolve_workers; -1: every core; 1: no threads)
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
        w = s["workers"]
        if w is not None and (not isinstance(w, int) or isinstance(w, bool) or w == 0 or w < -1):
            raise ValueError(f"ksg: workers must be None, a positive int or -1, got {w!r}")

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
