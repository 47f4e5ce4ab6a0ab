"""Held-out variational lower bounds of MI: what a sample can *certify*, whatever the estimator.

InfoNCE (van den Oord et al. 2018; Poole et al. 2019) is a lower bound of ``I(X; Y)`` for **any**
critic ``T``: for a batch of ``B`` independent pairs,

    E[ (1/B) sum_i ( T(x_i, y_i) - log( (1/B) sum_j exp T(x_i, y_j) ) ) ]  <=  I(X; Y),

and every batch value is at most ``log B`` (so no batch of ``B`` pairs certifies more than ``log B``:
McAllester & Stratos 2020). A critic fitted on rows that are then never used, evaluated on disjoint
batches of held-out rows, gives i.i.d. batch values whose mean estimates a quantity ``<= I``; a
one-sided t bound over the batches (:func:`seleak.stats.lower_confidence_bound`) is then a lower
confidence bound of ``I``.

Critics here (the neural estimators bring their own trained critic):

* :func:`gaussian_critic_chunks` — the log density ratio of a Gaussian fitted (Ledoit–Wolf shrinkage)
  on the fitting rows: exact for jointly Gaussian data, a valid (looser) bound otherwise;
* :func:`identity_critic_chunks` — ``T = +inf`` on identical rows: for ``x == y`` row by row (nothing
  encrypted), each batch certifies ``log B`` minus what duplicated rows take away.

Nothing here knows about images.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["chunk_count", "gaussian_critic_chunks", "identity_critic_chunks", "CHUNKS"]

#: Held-out batches a lower bound is computed from (fewer when the rows are few): more batches give a
#: tighter t bound, bigger batches a higher ceiling ``log B``; ten balances both at N = 100-2000.
CHUNKS = 10


def chunk_count(n: int, chunks: int = CHUNKS, min_size: int = 5) -> int:
    """Batches of at least ``min_size`` rows, at most ``chunks``, at least 2 (0 when ``n`` cannot hold 2)."""
    return 0 if n < 2 * min_size else max(2, min(chunks, n // min_size))


def _chunks(n: int, chunks: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(c) for c in np.array_split(perm, chunks)]


def _infonce(scores: np.ndarray) -> float:
    """InfoNCE of one batch from its score matrix ``S[i, j] = T(x_i, y_j)``."""
    b = scores.shape[0]
    m = scores.max(axis=1, keepdims=True)
    lse = (m[:, 0] + np.log(np.exp(scores - m).sum(axis=1))) - math.log(b)
    return float(np.mean(np.diag(scores) - lse))


def gaussian_critic_chunks(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_eval: np.ndarray,
    y_eval: np.ndarray,
    *,
    chunks: int = CHUNKS,
    seed: int = 0,
) -> np.ndarray:
    """InfoNCE of the Gaussian critic fitted on ``(x_fit, y_fit)``, on ``chunks`` disjoint random batches
    of ``(x_eval, y_eval)`` -> one value per batch (nats), each at most ``log`` of its size.

    The critic is ``log p(x, y) - log p(x) - log p(y)`` for the Gaussian with the fitted means and a
    shrunk covariance; in a batch only its terms in ``(x_i, y_j)`` and ``y_j`` matter (those in
    ``x_i`` alone cancel in the softmax over ``j``).
    """
    from sklearn.covariance import LedoitWolf

    xf, yf = np.asarray(x_fit, np.float64), np.asarray(y_fit, np.float64)
    dx = xf.shape[1]
    joint = np.hstack([xf, yf])
    mu, sd = joint.mean(axis=0), joint.std(axis=0)
    sd[sd == 0] = 1.0
    cov = LedoitWolf().fit((joint - mu) / sd).covariance_
    inv = np.linalg.inv(cov)
    a = inv.copy()
    a[:dx, :dx] -= np.linalg.inv(cov[:dx, :dx])
    a[dx:, dx:] -= np.linalg.inv(cov[dx:, dx:])
    axy, ayy = a[:dx, dx:], a[dx:, dx:]
    xe = (np.asarray(x_eval, np.float64) - mu[:dx]) / sd[:dx]
    ye = (np.asarray(y_eval, np.float64) - mu[dx:]) / sd[dx:]
    out = []
    for idx in _chunks(xe.shape[0], chunks, seed):
        xc, yc = xe[idx], ye[idx]
        # T(x_i, y_j) = -1/2 [x;y]' A [x;y] + const, keeping the terms that depend on j
        s = -(xc @ axy @ yc.T) - 0.5 * np.einsum("jd,de,je->j", yc, ayy, yc)[None, :]
        out.append(_infonce(s))
    return np.asarray(out)


def identity_critic_chunks(x: np.ndarray, y: np.ndarray, *, chunks: int = CHUNKS, seed: int = 0) -> np.ndarray:
    """InfoNCE of the critic that is ``+inf`` where ``y_j == x_i`` (row for row) and finite elsewhere,
    on ``chunks`` disjoint random batches: for ``x == y`` a batch of ``B`` rows gives
    ``log B - mean_i log #{j: y_j == x_i}`` (``log B`` when its rows are distinct)."""
    xa, ya = np.asarray(x), np.asarray(y)
    out = []
    for idx in _chunks(xa.shape[0], chunks, seed):
        eq = (xa[idx][:, None, :] == ya[idx][None, :, :]).all(axis=2)
        if not eq.diagonal().all():
            raise ValueError("identity_critic_chunks: the rows of x and y are not identical")
        out.append(float(math.log(len(idx)) - np.log(eq.sum(axis=1)).mean()))
    return np.asarray(out)
