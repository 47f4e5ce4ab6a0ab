"""KSG against a brute-force O(N^2) max-norm implementation of algorithm 1, and the tree counts against
the ``cKDTree.query_ball_point`` counts the estimator used before (same semantics, exact equality).

The reference computes every pairwise max-norm distance, takes ``eps_i`` as the ``k``-th smallest
distance to another row and counts the other rows strictly closer than ``eps_i`` in each marginal:
the definition in the module docstring, with no tree and no radius arithmetic.
"""

from __future__ import annotations

import os
import select
import signal

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.special import digamma

from seleak.estimators import get_estimator
from seleak.estimators.ksg import (
    count_strictly_closer,
    ksg_counts,
    ksg_method,
    ksg_mi,
    kth_neighbour_distance,
    resolve_workers,
)

TOL = 1e-9


def max_norm_distances(a: np.ndarray) -> np.ndarray:
    """All pairwise max-norm distances of the rows of ``a`` (same subtraction as the trees)."""
    return np.abs(a[:, None, :] - a[None, :, :]).max(axis=2)


def brute_force_ksg(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """KSG algorithm 1 by brute force; every ``eps_i`` must be > 0 (no ``k + 1`` identical rows)."""
    n = x.shape[0]
    off_diagonal = ~np.eye(n, dtype=bool)
    dz = max_norm_distances(np.hstack([x, y]))
    eps = np.sort(np.where(off_diagonal, dz, np.inf), axis=1)[:, k - 1]
    assert (eps > 0).all(), "the reference's strict counts need eps_i > 0"
    nx = ((max_norm_distances(x) < eps[:, None]) & off_diagonal).sum(axis=1)
    ny = ((max_norm_distances(y) < eps[:, None]) & off_diagonal).sum(axis=1)
    return float(digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1)))


def ckdtree_counts(a: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The marginal counts as the estimator computed them before: ``cKDTree`` ball counts."""
    return cKDTree(a).query_ball_point(a, np.nextafter(eps, 0.0), p=np.inf, return_length=True) - 1


def samples(d: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Dependent pairs with ``d + d`` columns: continuous, tied (rounded), tied with a tiny jitter."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200, d))
    y = 0.8 * x + 0.6 * rng.standard_normal((200, d))
    xt, yt = np.round(x, 2), np.round(y, 2)  # many tied coordinates and distances, no tied rows
    return {
        "continuous": (x, y),
        "ties": (xt, yt),
        "ties+jitter": (xt + 1e-10 * rng.standard_normal(xt.shape), yt + 1e-10 * rng.standard_normal(yt.shape)),
    }


@pytest.mark.parametrize("d", [1, 3, 8])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_ksg_equals_the_brute_force_reference(d, k):
    for label, (x, y) in samples(d, seed=10 * d + k).items():
        ref = brute_force_ksg(x, y, k)
        assert abs(ksg_mi(x, y, k) - ref) < TOL, label
        assert abs(ksg_mi(x, y, k, workers=2) - ref) < TOL, label  # the row split changes nothing
        # through the estimator: "none" scales by a power of two (exact) and jitter 0 adds nothing
        est = get_estimator("ksg", k=k, transform="none", jitter=0.0)
        assert abs(est.estimate(x, y).nats - ref) < TOL, label


@pytest.mark.parametrize("d", [2, 3, 8])
def test_tree_counts_equal_the_previous_ckdtree_counts(d):
    rng = np.random.default_rng(d)
    for a in (rng.standard_normal((500, d)), np.round(rng.standard_normal((500, d)), 1), np.ones((50, d))):
        eps = kth_neighbour_distance(np.hstack([a, rng.standard_normal(a.shape)]), 3)
        # radii equal to actual distances (boundary cases), zero (duplicates without jitter) and plain
        radii = (eps, np.abs(a - a[rng.permutation(len(a))]).max(axis=1), np.zeros(len(a)))
        for r in radii:
            expected = ckdtree_counts(a, r)
            np.testing.assert_array_equal(count_strictly_closer(a, r), expected)
            np.testing.assert_array_equal(count_strictly_closer(a, r, workers=3), expected)


@pytest.mark.parametrize("columns", [2, 4, 8])  # cKDTree up to 4 joint columns, scikit-learn's KDTree above
def test_kth_neighbour_distance_equals_ckdtree_with_ties(columns):
    rng = np.random.default_rng(columns)
    z = np.round(rng.standard_normal((400, columns)), 1)
    z[:20] = z[0]  # twenty identical rows: some k-th distances are 0
    for k in (1, 3, 25):
        expected = cKDTree(z).query(z, k=k + 1, p=np.inf)[0][:, -1]
        np.testing.assert_array_equal(kth_neighbour_distance(z, k), expected)
        np.testing.assert_array_equal(kth_neighbour_distance(z, k, workers=-1), expected)


def path_samples(dx: int, dy: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Dependent pairs: continuous; tied coordinates and distances (rounded); and, with two or more
    columns per side, thirty identical rows (``eps_i = 0`` for them, since ``k < 30``)."""
    rng = np.random.default_rng(100 * dx + dy)
    x = rng.standard_normal((600, dx))
    y = 0.7 * x[:, :1] + rng.standard_normal((600, dy))
    out = {"continuous": (x, y), "ties": (np.round(x, 2), np.round(y, 2))}
    if min(dx, dy) > 1:  # a one-column marginal's binary search differs at eps = 0 (module docstring)
        xd, yd = np.round(x, 1), np.round(y, 1)
        xd[:30], yd[:30] = xd[0], yd[0]
        out["duplicates"] = (xd, yd)
    return out


@pytest.mark.parametrize("dx, dy", [(1, 1), (1, 4), (3, 3), (2, 9), (8, 8)])
def test_every_path_and_thread_count_gives_identical_eps_and_counts(dx, dy):
    # exact equality (no tolerance): every path computes each distance by the same float subtraction and
    # counts against the same one-ulp-smaller radius, so any difference is a bug, not rounding
    for label, (x, y) in path_samples(dx, dy).items():
        for k in (3, 5):
            ref = ksg_counts(x, y, k, workers=1, method="tree")
            if label != "duplicates":
                assert (ref[0] > 0).all(), (label, k)  # what the one-column binary search needs
            else:
                assert (ref[0] == 0).any(), (label, k)  # the tie case is really exercised
            for method, workers in (("tree", 2), ("tree", 3), ("brute", 1), ("brute", 2), ("auto", None)):
                got = ksg_counts(x, y, k, workers=workers, method=method)
                for name, r, g in zip(("eps", "n_x", "n_y"), ref, got):
                    np.testing.assert_array_equal(g, r, err_msg=f"{label} k={k} {method} workers={workers} {name}")


def test_method_choice_and_workers():
    assert ksg_method(5, 5, 5000) == "tree" and ksg_method(8, 8, 5000) == "brute"
    assert ksg_method(8, 8, 16_000) == "brute" and ksg_method(8, 8, 16_001) == "tree"  # O(N^2): trees for large N
    assert resolve_workers(1) == 1 and resolve_workers(None) >= 1 and resolve_workers(-1) >= 1
    assert resolve_workers(8, n=3) == 3  # never more threads than rows
    # automatic: one thread for a small input (threads cost more than they save), the budget for a large one
    assert resolve_workers(None, n=100, columns=2) == 1 and resolve_workers(2, n=100, columns=2) == 2
    assert resolve_workers(None, n=10**6, columns=10) == resolve_workers(None)
    with pytest.raises(ValueError, match="method"):
        ksg_counts(np.zeros((10, 1)), np.zeros((10, 1)), method="kd")
    for bad in (0, -2, True, 1.5):
        with pytest.raises(ValueError, match="workers"):
            get_estimator("ksg", workers=bad)


def test_brute_force_leaves_torch_threads_as_they_were():
    import torch

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 8))
    was = torch.get_num_threads()
    ksg_counts(x, y, 3, workers=2, method="brute")
    assert torch.get_num_threads() == was


@pytest.mark.parametrize("method", ["tree", "brute"])
@pytest.mark.parametrize("dy", [1, 15])
def test_identical_rows_without_jitter_raise_on_every_path(method, dy):
    """k + 1 identical rows put the k-th neighbour at distance 0, where nothing is strictly closer and the
    paths would disagree (the one-column binary search gives -1): every path refuses the same way."""
    x = np.repeat(np.arange(3.0), 40)[:, None]  # 40 copies of each value
    y = np.hstack([x] * dy)
    with pytest.raises(ValueError, match="identical copies"):
        ksg_mi(x, y, 3, 1, method)
    with pytest.raises(ValueError, match="jitter"):
        get_estimator("ksg", jitter=0.0).estimate(x, y)
    assert np.isfinite(get_estimator("ksg").estimate(x, y).nats)  # the default jitter breaks the ties


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_threaded_counts_work_in_a_forked_child():
    """A pool made before a fork has no threads in the child: the child must start its own, not wait for
    the parent's forever (the child answers through a pipe; 120 s without an answer is a hang)."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 3))
    expected = ksg_counts(x, y, 3, workers=2, method="tree")  # the pool exists in this process now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its answer, then leave at once (no pytest teardown in the child)
        code = 1
        try:
            got = ksg_counts(x, y, 3, workers=2, method="tree")
            same = all(np.array_equal(g, e) for g, e in zip(got, expected))
            os.write(write, b"same" if same else b"differ")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 120.0)
        answer = os.read(read, 16) if ready else b"hang"
    finally:
        os.close(read)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert answer == b"same"
