"""Nearest-neighbour retrieval: an intuitive view of leakage in embedding space."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["neighbour_label_accuracy", "retrieval_accuracy"]


def _in_metric(q: np.ndarray, g: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Queries and gallery ready for squared Euclidean distances: unit rows for ``"cosine"``."""
    if metric == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    elif metric != "euclidean":
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    return q, g


def retrieval_accuracy(
    queries: np.ndarray, gallery: np.ndarray, top: Sequence[int] | int = 1, metric: str = "cosine", chunk: int = 1024
) -> dict[int, float]:
    """Fraction of queries whose own gallery row (row i for query i) is among their ``top`` nearest.

    ``queries`` are, e.g., embeddings of encrypted images and ``gallery`` those of the plain originals;
    chance level is ``top / N``. Ties with the true match are counted in the query's favour (a strict
    "closer than" rank), so identical embeddings give accuracy 1.

    Returns ``{k: accuracy}`` for each ``k`` in ``top``.
    """
    q = np.asarray(queries, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64)
    if q.ndim != 2 or q.shape != g.shape:
        raise ValueError(f"queries and gallery must be paired (N, D) arrays, got {q.shape} and {g.shape}")
    ks = [top] if isinstance(top, (int, np.integer)) else list(top)
    q, g = _in_metric(q, g, metric)
    g2 = (g * g).sum(1)
    ranks = np.empty(q.shape[0], dtype=np.int64)
    for s in range(0, q.shape[0], chunk):
        qs = q[s : s + chunk]
        d = g2[None, :] - 2.0 * qs @ g.T  # squared distance up to a per-row constant
        own = d[np.arange(qs.shape[0]), np.arange(s, s + qs.shape[0])]
        # tolerance: rounding in the expansion must not rank a duplicate "closer" than the match itself
        ranks[s : s + chunk] = (d < own[:, None] - 1e-9 * (1.0 + np.abs(own[:, None]))).sum(1)
    return {int(k): float((ranks < k).mean()) for k in ks}


def neighbour_label_accuracy(
    queries: np.ndarray, gallery: np.ndarray, labels: np.ndarray, metric: str = "cosine"
) -> float:
    """Class-level retrieval: how often the nearest *other* gallery row has query i's label.

    Query i's own original (gallery row i) is excluded, so the score says whether an encrypted image
    still lands among plain images of its class (what a trained CNN is built to keep), not whether it
    is recognised individually (:func:`retrieval_accuracy`). Chance is the label distribution's
    collision probability (about 1 / n_classes when balanced).
    """
    q = np.asarray(queries, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64)
    y = np.asarray(labels)
    if q.ndim != 2 or q.shape != g.shape or y.shape != (q.shape[0],):
        raise ValueError(f"need paired (N, D) queries/gallery and (N,) labels, got {q.shape}, {g.shape}, {y.shape}")
    if q.shape[0] < 2:
        raise ValueError("need at least two rows")
    q, g = _in_metric(q, g, metric)
    d = (g * g).sum(1)[None, :] - 2.0 * q @ g.T
    np.fill_diagonal(d, np.inf)
    return float((y[d.argmin(1)] == y).mean())
