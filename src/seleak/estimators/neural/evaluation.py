"""Evaluating trained critics on held-out pairs, and the fixed-critic permutation nulls.

A split of ``n`` pairs is cut into chunks of ``eb`` consecutive pairs and the bound is averaged over
the chunks: the same functional as in training when ``eb`` is the batch size (InfoNCE's ceiling stays
``log eb``). A remainder shorter than ``eb`` is dropped, unless the split is shorter than one chunk
(then it is one chunk).

Why a permuted re-evaluation is a valid null: the critic never saw the test pairs, so given the
training data it is a fixed function, and under independence ``(x_i, y_i)`` and ``(x_i, y_pi(i))``
have the same distribution; the bound with ``y`` permuted within the test part is an exact draw from
the null distribution of the reported statistic.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from .critics import Critic

__all__ = ["BoundFn", "evaluate_bound", "chunk_bounds", "permutation_nulls"]

#: scores (..., B, B) -> the reported bound (...)
BoundFn = Callable[[Tensor], Tensor]

# Joint critics score b*b pair rows per chunk: at most this many rows go through the model at once.
_JOINT_ROWS = 1 << 16


def evaluate_bound(
    critic: Critic, value: BoundFn, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], eb: int, device: torch.device
) -> np.ndarray:
    """Mean chunk bound per problem on its own pairs ``(xs[p], ys[p])`` -> (M,)."""
    return chunk_bounds(critic, value, xs, ys, eb, device, [None] * len(xs))[:, 0]


def permutation_nulls(
    critic: Critic,
    value: BoundFn,
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    eb: int,
    device: torch.device,
    n_permutations: int,
    seed: int,
) -> np.ndarray:
    """The bound of each fixed critic with ``ys[p]`` permuted, ``n_permutations`` times -> (M, R)."""
    perms = []
    for x in xs:  # one generator per problem: the same seed gives the same permutations whatever the batching
        rng = np.random.default_rng(seed)
        perms.append(np.stack([rng.permutation(x.shape[0]) for _ in range(n_permutations)]))
    return chunk_bounds(critic, value, xs, ys, eb, device, perms)


def chunk_bounds(
    critic: Critic,
    value: BoundFn,
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    eb: int,
    device: torch.device,
    perms: Sequence[Any],
) -> np.ndarray:
    """Mean chunk bound per problem and permutation: ``perms[p]`` is ``None`` (identity), one
    permutation, or an array (R, n_p) of them; every problem has the same R. Returns (M, R)."""
    ns = [a.shape[0] for a in xs]
    sizes = [min(eb, n) for n in ns]
    chunks = [max(1, n // eb) for n in ns]
    xin, yin = _padded(critic, xs, ys, device)
    plist = [np.atleast_2d(np.asarray(np.arange(n)[None] if pp is None else pp)) for pp, n in zip(perms, ns)]
    r = plist[0].shape[0]
    with torch.no_grad():
        if critic.separable:
            return _separable_bounds(critic, value, xin, yin, sizes, chunks, plist, r, device)
        if any(sz != sizes[0] for sz in sizes):  # a split shorter than eb: one problem at a time
            out = np.empty((len(xs), r))
            for p in range(len(xs)):
                only = [None if q != p else plist[p] for q in range(len(xs))]
                out[p] = _joint_bounds(critic, value, xin, yin, sizes[p], chunks, only, r, device)[p]
            return out
        return _joint_bounds(critic, value, xin, yin, sizes[0], chunks, plist, r, device)


def _padded(
    critic: Critic, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], device: torch.device
) -> tuple[Tensor, Tensor]:
    """The problems' pairs zero-padded to (M, 1, n_max, d) in the critic's input layout."""
    m, nmax = len(xs), max(a.shape[0] for a in xs)
    xin = torch.zeros(m, 1, nmax, critic.dx, device=device)
    yin = torch.zeros(m, 1, nmax, critic.dy, device=device)
    for p in range(m):
        xin[p, 0, : xs[p].shape[0], : xs[p].shape[1]] = torch.from_numpy(xs[p]).to(device)
        yin[p, 0, : ys[p].shape[0], : ys[p].shape[1]] = torch.from_numpy(ys[p]).to(device)
    return xin, yin


def _separable_bounds(
    critic: Critic,
    value: BoundFn,
    xin: Tensor,
    yin: Tensor,
    sizes: list[int],
    chunks: list[int],
    plist: list[np.ndarray],
    r: int,
    device: torch.device,
) -> np.ndarray:
    # embeddings once; a permutation only reorders g(y)'s rows
    fx = critic.f(xin[:, 0])  # (M, nmax, e)
    gy = critic.g(yin[:, 0])
    out = np.empty((len(plist), r))
    for p, (c, size) in enumerate(zip(chunks, sizes)):
        f_p = fx[p, : c * size].reshape(c, size, -1)
        for i in range(r):
            g_p = gy[p, torch.from_numpy(plist[p][i]).to(device)][: c * size].reshape(c, size, -1)
            out[p, i] = float(value(f_p @ g_p.transpose(-1, -2)).mean())
    return out


def _joint_bounds(
    critic: Critic,
    value: BoundFn,
    xin: Tensor,
    yin: Tensor,
    size: int,
    chunks: list[int],
    plist: list[np.ndarray | None],
    r: int,
    device: torch.device,
) -> np.ndarray:
    """Joint-critic chunk bounds (chunks of ``size``) for the problems whose ``plist`` entry is not
    None -> (M, R), NaN for the others.

    All problems go through the batched model together, chunk-group by chunk-group to bound memory;
    a problem with fewer chunks gets zero chunks that are ignored.
    """
    m = xin.shape[0]
    cmax = max(c for c, pp in zip(chunks, plist) if pp is not None)
    group = max(1, _JOINT_ROWS // (size * size))
    out = np.full((m, r), np.nan)
    for i in range(r):
        xs = torch.zeros(m, cmax, size, critic.dx, device=device)
        ys = torch.zeros(m, cmax, size, critic.dy, device=device)
        for p in range(m):
            if plist[p] is None:
                continue
            c = chunks[p]
            perm = torch.from_numpy(plist[p][i]).to(device)
            xs[p, :c] = xin[p, 0, : c * size].reshape(c, size, -1)
            ys[p, :c] = yin[p, 0, perm][: c * size].reshape(c, size, -1)
        vals = torch.cat(
            [value(critic.scores(xs[:, g0 : g0 + group], ys[:, g0 : g0 + group])) for g0 in range(0, cmax, group)],
            dim=1,
        )  # (M, cmax)
        for p in range(m):
            if plist[p] is not None:
                out[p, i] = float(vals[p, : chunks[p]].mean())
    return out
