"""Evaluating trained critics on held-out pairs, and the fixed-critic permutation nulls.

A split of ``n`` pairs is cut into chunks of ``eb`` consecutive pairs and the bound is averaged over
the chunks: the same functional as in training when ``eb`` is the batch size (InfoNCE's ceiling stays
``log eb``). A split shorter than ``eb`` is one chunk. The held-out test split is a multiple of
``eb`` (or one short chunk: see :func:`~.training.held_out_size`), so every test pair is evaluated;
on the monitor split (early stopping only) a remainder shorter than ``eb`` is dropped.

The test split's pairs are in a random order (the split is a seeded permutation), so its chunks are
i.i.d. batches given the critic: the chunk values are i.i.d. draws of the bound's batch statistic,
and a caller can build a t interval (or a one-sided lower bound) from them.

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

__all__ = ["BoundFn", "evaluate_bound", "chunk_bounds", "held_out_chunks", "permutation_nulls"]

#: scores (..., B, B) -> the reported bound (...)
BoundFn = Callable[[Tensor], Tensor]

# Joint critics score b*b pair rows per chunk: at most this many rows go through the model at once.
_JOINT_ROWS = 1 << 16


def evaluate_bound(
    critic: Critic, value: BoundFn, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], eb: int, device: torch.device
) -> np.ndarray:
    """Mean chunk bound per problem on its own pairs ``(xs[p], ys[p])`` -> (M,) (float32 scores: the
    monitor evaluation of early stopping)."""
    return chunk_bounds(critic, value, xs, ys, eb, device, [None] * len(xs))[:, 0]


def held_out_chunks(
    critic: Critic,
    values: Sequence[BoundFn],
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    eb: int,
    device: torch.device,
) -> list[np.ndarray]:
    """Each bound of ``values`` on each chunk of each problem's pairs -> per problem a float64 array
    ``(len(values), chunks)``. The scores are computed once per chunk and the bounds in float64."""
    tensors = _chunk_tensors(critic, values, xs, ys, eb, device, [None] * len(xs), torch.float64)
    return [t[0].cpu().numpy() for t in tensors]


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
    """The bound of each fixed critic with ``ys[p]`` permuted, ``n_permutations`` times -> (M, R):
    the mean over chunks, computed as :func:`held_out_chunks` computes the estimate (float64)."""
    perms = []
    for x in xs:  # one generator per problem: the same seed gives the same permutations whatever the batching
        rng = np.random.default_rng(seed)
        perms.append(np.stack([rng.permutation(x.shape[0]) for _ in range(n_permutations)]))
    tensors = _chunk_tensors(critic, [value], xs, ys, eb, device, perms, torch.float64)
    return np.stack([t[:, 0].cpu().numpy().mean(axis=-1) for t in tensors])


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
    permutation, or an array (R, n_p) of them; every problem has the same R. Returns (M, R).
    Computed in the scores' precision (float32)."""
    tensors = _chunk_tensors(critic, [value], xs, ys, eb, device, perms, None)
    return np.stack([[float(t[i, 0].mean()) for i in range(t.shape[0])] for t in tensors])


def _chunk_tensors(
    critic: Critic,
    values: Sequence[BoundFn],
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    eb: int,
    device: torch.device,
    perms: Sequence[Any],
    dtype: torch.dtype | None,
) -> list[Tensor]:
    """Per problem, the bounds ``values`` on each chunk, for each permutation -> (R, len(values),
    chunks). Scores are cast to ``dtype`` (``None``: kept as they are) before the bounds."""
    ns = [a.shape[0] for a in xs]
    sizes = [min(eb, n) for n in ns]
    chunks = [max(1, n // eb) for n in ns]
    xin, yin = _padded(critic, xs, ys, device)
    plist = [np.atleast_2d(np.asarray(np.arange(n)[None] if pp is None else pp)) for pp, n in zip(perms, ns)]
    r = plist[0].shape[0]
    with torch.no_grad():
        if critic.separable:
            return _separable_chunks(critic, values, xin, yin, sizes, chunks, plist, r, device, dtype)
        if any(sz != sizes[0] for sz in sizes):  # a split shorter than eb: one problem at a time
            out = []
            for p in range(len(xs)):
                only = [None if q != p else plist[p] for q in range(len(xs))]
                t = _joint_chunks(critic, values, xin, yin, sizes[p], chunks, only, r, device, dtype)[p]
                assert t is not None
                out.append(t)
            return out
        every = _joint_chunks(critic, values, xin, yin, sizes[0], chunks, plist, r, device, dtype)
        return [t for t in every if t is not None]  # every problem is evaluated: none is None


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


def _apply(values: Sequence[BoundFn], s: Tensor, dtype: torch.dtype | None) -> Tensor:
    """The bounds ``values`` on scores ``s`` (..., b, b) -> (len(values), ...)."""
    s = s if dtype is None else s.to(dtype)
    return torch.stack([value(s) for value in values])


def _separable_chunks(
    critic: Critic,
    values: Sequence[BoundFn],
    xin: Tensor,
    yin: Tensor,
    sizes: list[int],
    chunks: list[int],
    plist: list[np.ndarray],
    r: int,
    device: torch.device,
    dtype: torch.dtype | None,
) -> list[Tensor]:
    # embeddings once; a permutation only reorders g(y)'s rows
    fx = critic.f(xin[:, 0])  # (M, nmax, e)
    gy = critic.g(yin[:, 0])
    out = []
    for p, (c, size) in enumerate(zip(chunks, sizes)):
        f_p = fx[p, : c * size].reshape(c, size, -1)
        per_perm = []
        x_p = xin[p, 0, : c * size].reshape(c, size, -1)
        for i in range(r):
            perm = torch.from_numpy(plist[p][i]).to(device)
            g_p = gy[p, perm][: c * size].reshape(c, size, -1)
            s = f_p @ g_p.transpose(-1, -2)
            if critic.quadratic:
                s = s + critic.quadratic_scores(x_p, yin[p, 0, perm][: c * size].reshape(c, size, -1), p)
            per_perm.append(_apply(values, s, dtype))  # (F, c)
        out.append(torch.stack(per_perm))
    return out


def _joint_chunks(
    critic: Critic,
    values: Sequence[BoundFn],
    xin: Tensor,
    yin: Tensor,
    size: int,
    chunks: list[int],
    plist: list[np.ndarray | None],
    r: int,
    device: torch.device,
    dtype: torch.dtype | None,
) -> list[Tensor | None]:
    """Joint-critic chunk bounds (chunks of ``size``) for the problems whose ``plist`` entry is not
    None -> per problem (R, F, chunks), None for the others.

    All problems go through the batched model together, chunk-group by chunk-group to bound memory;
    a problem with fewer chunks gets zero chunks that are ignored.
    """
    m = xin.shape[0]
    cmax = max(c for c, pp in zip(chunks, plist) if pp is not None)
    group = max(1, _JOINT_ROWS // (size * size))
    per_perm = []
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
        per_perm.append(
            torch.cat(
                [
                    _apply(values, critic.scores(xs[:, g0 : g0 + group], ys[:, g0 : g0 + group]), dtype)
                    for g0 in range(0, cmax, group)
                ],
                dim=-1,
            )
        )  # (F, M, cmax)
    vals = torch.stack(per_perm)  # (R, F, M, cmax)
    return [None if plist[p] is None else vals[:, :, p, : chunks[p]] for p in range(m)]
