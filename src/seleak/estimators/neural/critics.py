"""Critics ``T(x, y)``: ``M`` independent problems' networks held in one batched model.

Weights have shape ``(M, fan_in, fan_out)`` and are applied with ``torch.baddbmm``. The problems
share no parameter, so each critic computes what it would alone. Inputs of different widths are
zero-padded to the widest; a narrower problem's padded weights start at zero and stay there (their
gradient is zero), so padding changes nothing.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from .baseline import QuadraticRatio

__all__ = ["BatchedMLP", "Critic"]


class BatchedMLP(torch.nn.Module):
    """M independent ReLU MLPs evaluated together: input (M, R, d_in) -> (M, R, d_out).

    Problem ``p`` is initialised from its own generator ``gens[p]`` as ``torch.nn.Linear`` would be
    for its true input width ``in_dims[p]``; ``in_slices[p]`` says where its real input columns sit
    in the padded layout of width ``in_pad``.
    """

    def __init__(
        self,
        in_dims: Sequence[int],
        in_pad: int,
        hidden: Sequence[int],
        out: int,
        gens: Sequence[torch.Generator],
        in_slices: Sequence[Sequence[slice]],
    ):
        super().__init__()
        sizes = [in_pad, *hidden, out]
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        m = len(gens)
        for layer, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
            w = torch.zeros(m, fi, fo)
            b = torch.zeros(m, 1, fo)
            for p, g in enumerate(gens):
                true_fi = in_dims[p] if layer == 0 else fi
                bound = 1.0 / math.sqrt(true_fi)  # torch.nn.Linear's default initialisation
                wp = (torch.rand(true_fi, fo, generator=g) * 2 - 1) * bound
                if layer == 0:
                    # scatter the problem's real input rows into the padded layout
                    rows = torch.cat([torch.arange(sl.start, sl.stop) for sl in in_slices[p]])
                    w[p, rows] = wp
                else:
                    w[p] = wp
                b[p, 0] = (torch.rand(fo, generator=g) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))

    def forward(self, h: Tensor, start: int = 0) -> Tensor:
        """Apply layers ``start``.. (``start=1`` when the caller computed the first layer itself)."""
        n = len(self.weights)
        for i in range(start, n):
            h = torch.baddbmm(self.biases[i], h, self.weights[i])
            if i < n - 1:
                h = torch.relu(h)
        return h


class Critic(torch.nn.Module):
    """Separable ``f(x)·g(y)`` or joint ``h([x, y])`` critics (``structure``), M of them at once.

    ``dxs[p]``, ``dys[p]`` are problem ``p``'s input widths; ``dx``, ``dy`` the padded ones. With
    ``start`` (one :class:`~.baseline.QuadraticRatio` per problem) each critic adds a trainable quadratic
    part ``x'Ax + x'Wy + y'By + c`` that starts at it, and its network's output layer starts at zero:
    the critic starts as that quadratic form and the network learns the rest.
    """

    def __init__(
        self,
        structure: str,
        dxs: Sequence[int],
        dys: Sequence[int],
        hidden: Sequence[int],
        embed_dim: int,
        gens: Sequence[torch.Generator],
        start: Sequence[QuadraticRatio] | None = None,
    ):
        super().__init__()
        self.separable = structure == "separable"
        self.dx, self.dy = max(dxs), max(dys)
        if self.separable:
            self.f = BatchedMLP(dxs, self.dx, hidden, embed_dim, gens, [[slice(0, d)] for d in dxs])
            self.g = BatchedMLP(dys, self.dy, hidden, embed_dim, gens, [[slice(0, d)] for d in dys])
        else:
            dims = [a + b for a, b in zip(dxs, dys)]
            slices = [[slice(0, a), slice(self.dx, self.dx + b)] for a, b in zip(dxs, dys)]
            self.h = BatchedMLP(dims, self.dx + self.dy, hidden, 1, gens, slices)
        self.quadratic = start is not None
        if start is not None:
            self._start_quadratic(start)

    def _start_quadratic(self, start: Sequence[QuadraticRatio]) -> None:
        m = len(start)
        a, w = torch.zeros(m, self.dx, self.dx), torch.zeros(m, self.dx, self.dy)
        b, c = torch.zeros(m, self.dy, self.dy), torch.zeros(m)
        for p, q in enumerate(start):  # a narrower problem's padded rows stay zero (zero inputs: zero gradient)
            dx, dy = q.w.shape
            a[p, :dx, :dx], w[p, :dx, :dy] = torch.from_numpy(q.a), torch.from_numpy(q.w)
            b[p, :dy, :dy], c[p] = torch.from_numpy(q.b), q.c
        self.qa, self.qw, self.qb, self.qc = (torch.nn.Parameter(t) for t in (a, w, b, c))
        last = self.f if self.separable else self.h  # f = 0 makes f(x)·g(y) = 0
        with torch.no_grad():
            last.weights[-1].zero_()
            last.biases[-1].zero_()

    def quadratic_scores(self, x: Tensor, y: Tensor, p: int | None = None) -> Tensor:
        """The quadratic part on all pairs: x (M, ..., b, dx), y (M, ..., b, dy) -> (M, ..., b, b); with
        ``p``, problem ``p``'s alone on x (..., b, dx), y (..., b, dy)."""
        sl = slice(None) if p is None else p
        a, w, b, c = self.qa[sl], self.qw[sl], self.qb[sl], self.qc[sl]
        if p is None:  # one matrix per problem, broadcast over the middle dimensions
            extra = x.dim() - 3
            a, w, b = (t.reshape(t.shape[0], *([1] * extra), *t.shape[1:]) for t in (a, w, b))
            c = c.reshape(-1, *([1] * (extra + 2)))
        xa = ((x @ a) * x).sum(-1)
        yb = ((y @ b) * y).sum(-1)
        return (x @ w) @ y.transpose(-1, -2) + xa[..., :, None] + yb[..., None, :] + c

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        """x (M, C, b, dx), y (M, C, b, dy) -> scores (M, C, b, b), S[..., i, j] = T(x_i, y_j)."""
        m, c, b, _ = x.shape
        if self.separable:
            fx = self.f(x.reshape(m, c * b, -1)).reshape(m, c, b, -1)
            gy = self.g(y.reshape(m, c * b, -1)).reshape(m, c, b, -1)
            s = fx @ gy.transpose(-1, -2)
            return s + self.quadratic_scores(x, y) if self.quadratic else s
        # Joint critic: the first layer is affine in [x, y], so W1 [x_i; y_j] = W1x x_i + W1y y_j;
        # computing the two halves once per sample saves the (b*b, dx+dy) concatenation.
        w1, b1 = self.h.weights[0], self.h.biases[0]
        ax = torch.bmm(x.reshape(m, c * b, -1), w1[:, : self.dx]).reshape(m, c, b, 1, -1)
        ay = torch.bmm(y.reshape(m, c * b, -1), w1[:, self.dx :]).reshape(m, c, 1, b, -1)
        h1 = torch.relu(ax + ay + b1.reshape(m, 1, 1, 1, -1))
        out = self.h(h1.reshape(m, c * b * b, -1), start=1).reshape(m, c, b, b)
        return out + self.quadratic_scores(x, y) if self.quadratic else out
