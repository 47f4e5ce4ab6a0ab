"""Histogram plug-in ("empirical") MI estimator, with the Miller–Madow correction.

Each coordinate is cut into ``bins`` cells (equal-width over its range, or quantile cells holding
about the same number of samples); a multivariate sample becomes one cell label per row, and

    I = H(X) + H(Y) - H(X, Y),   H = -sum_c p_c log p_c,   p_c = n_c / N

is computed from the counts. Miller–Madow adds ``(m - 1) / (2N)`` to each entropy, ``m`` being the
number of occupied cells, which removes the leading ``O(1/N)`` bias of the plug-in entropy
(Miller 1955; Paninski 2003). Columns that are already discrete (at most ``bins`` distinct values)
are used as they are, so on discrete data the plug-in value *is* the MI of the empirical joint
distribution: exact when the sample is the distribution.

The histogram needs ``bins ** (dx + dy)`` cells to stay populated, so the estimator refuses more
than ``max_dim`` columns per side: project first (``seleak.estimators.project`` or ``pca_dim=``).

Ceiling (:meth:`PluginEstimator.ceiling`). With ``K_x``, ``K_y``, ``K_xy`` occupied cells,
``H(X, Y) >= max(H(X), H(Y))`` and ``K_xy >= max(K_x, K_y)``, so the plug-in value is at most
``min(H(X), H(Y)) <= log m`` and the Miller–Madow term
``((K_x - 1) + (K_y - 1) - (K_xy - 1)) / (2N)`` is at most ``(m - 1) / (2N)``, ``m = min(K_x, K_y)``.
Both grow with ``m``, which is at most ``M = min(C_x, C_y, N)``, ``C`` the cells a side can have:
``bins ** d`` (each of ``d`` columns is cut into ``bins`` cells or kept when it has at most ``bins``
values), or ``N`` with ``discrete="always"`` (a column's own values, as many as there are rows). So

    I <= log M + (M - 1) / (2N)     (without the correction: log M),

reached by ``y = x`` spread evenly over ``M`` cells (e.g. one continuous column, quantile bins,
``N`` a multiple of ``bins``).

Sparse tables. Under independence the joint table has ``K = K_x K_y`` cells to fill (``K_x``, ``K_y``
the occupied cells of each side); with fewer pairs than that most of them stay empty and the value is
mostly bias: measured on independent Gaussians with quantile bins and the correction, about 0.03 nats
at 3 pairs per cell, 0.3 at 1, 0.6 at 1/2, 1.4 at 1/5, 2.6 at 1/20 and 3.5 at 1/50 (Student-t pairs
in 3 + 3 dimensions, 8 bins, N = 5000: 3.3 nats for a true 0.29). Below :data:`SPARSE_PAIRS_PER_CELL`
pairs per cell the estimate warns (``RuntimeWarning``) and carries a flag; below
:data:`EMPTY_PAIRS_PER_CELL` it refuses, when the cells come from the binning (``bins`` can be
lowered). A table of categorical values kept as they are (``discrete="always"``, or columns with at
most ``bins`` values) only warns: its cells are the data's own, and there its value is the MI of the
empirical distribution by definition.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from seleak.entropy import entropy_nats

from .base import (
    Estimator,
    choice_setting,
    int_setting,
    maybe_project,
    pca_setting,
    rescale_columns,
)

__all__ = [
    "PluginEstimator",
    "discretize",
    "binned_columns",
    "entropy_nats",
    "entropy_from_labels",
    "SPARSE_PAIRS_PER_CELL",
    "EMPTY_PAIRS_PER_CELL",
]

#: Fewer pairs per joint cell than this warns. Why 1/2: at least half the cells must then stay empty,
#: and the measured bias on independent data passes half a nat; the study's settings stay above it
#: (3 bins on 2 + 2 columns: 81 cells for its 125 to 2500 measured pairs and their half-samples; 2 bins
#: on 4 + 4: 256 cells for 500 and more).
SPARSE_PAIRS_PER_CELL = 0.5
#: Fewer pairs per joint cell than this refuses binned data. Why 1/32: at most one cell in 32 can hold
#: a pair, and the value on independent data is about 3 nats of pure bias, more than most dependences
#: one would measure; the book's most crowded sensible use (8 bins on 2 + 2 columns at N = 200, a
#: permutation-test exercise, about 1/20) still runs, with the warning.
EMPTY_PAIRS_PER_CELL = 1.0 / 32.0


def discretize(a: np.ndarray, bins: int, binning: str = "equal", discrete: str = "auto") -> np.ndarray:
    """Cell index per row of ``a`` (N, d): one integer label for the row's d-dimensional cell.

    ``discrete="auto"`` keeps a column's own values when it has at most ``bins`` distinct values;
    ``"always"`` always does (categorical data); ``"never"`` always bins.
    """
    # Exact power-of-two scaling per column (cells are per column, so nothing changes on ordinary
    # data): keeps ``hi - lo`` and the quantile interpolation finite for data near +-1e308.
    a = rescale_columns(a)
    cols = []
    for j in range(a.shape[1]):
        col = a[:, j]
        uniq, inv = np.unique(col, return_inverse=True)
        if discrete == "always" or (discrete == "auto" and uniq.size <= bins):
            cols.append(inv)
            continue
        if binning == "equal":
            lo, hi = col.min(), col.max()
            idx = np.floor((col - lo) / (hi - lo) * bins).astype(np.int64)
            cols.append(np.clip(idx, 0, bins - 1))  # the maximum falls in the last cell
        else:  # quantile: edges at empirical quantiles; ties may merge cells, which is harmless
            edges = np.quantile(col, np.linspace(0, 1, bins + 1)[1:-1])
            cols.append(np.searchsorted(edges, col, side="right"))
    stacked = np.stack(cols, axis=1)
    _, labels = np.unique(stacked, axis=0, return_inverse=True)
    return labels.reshape(-1)


def binned_columns(a: np.ndarray, bins: int, discrete: str = "auto") -> int:
    """How many columns of ``a`` (N, d) :func:`discretize` cuts into bins (the others keep their values)."""
    if discrete == "always":
        return 0
    if discrete == "never":
        return int(a.shape[1])
    return int(sum(np.unique(a[:, j]).size > bins for j in range(a.shape[1])))


def entropy_from_labels(labels: np.ndarray, miller_madow: bool = False) -> float:
    """Plug-in entropy (nats) of a non-negative integer label vector, optionally Miller–Madow corrected."""
    return entropy_nats(np.bincount(labels), "miller-madow" if miller_madow else None)


class PluginEstimator(Estimator):
    """Histogram plug-in estimator (settings: ``bins``, ``binning``, ``correction``, ``discrete``,
    ``max_dim``, ``pca_dim``).

    The reported number is the MI of the empirical joint distribution of the cells (plus the
    Miller–Madow term when on): an estimate of the discretised variables' MI, not a bound of the
    continuous one, at most :meth:`ceiling`.
    """

    name = "plugin"
    defaults = {
        "bins": 8,  # cells per coordinate
        "binning": "equal",  # "equal" (equal width) or "quantile" (equal mass)
        "correction": "miller-madow",  # or None: the raw plug-in value
        "discrete": "auto",  # "auto" | "always" | "never": keep discrete columns as they are
        "max_dim": 3,  # refuse more columns per side than this
        "pca_dim": None,  # project x and y separately to this many components first
    }
    min_n = 2

    def ceiling(self, n_eval: int, dx: int | None = None, dy: int | None = None) -> float:
        """``log M + (M - 1) / (2N)`` (Miller–Madow) or ``log M`` (no correction), with
        ``M = min(cells_x, cells_y, N)`` (see the module docstring). A side's number of columns is
        ``dx``/``dy`` when given, never more than ``pca_dim`` (when set) nor ``max_dim`` (more is
        refused)."""
        n = int(n_eval)
        cells = [self._cells(d, n) for d in (dx, dy)]
        m = min(cells[0], cells[1], n)
        top = math.log(m)
        if self._settings["correction"] == "miller-madow":
            top += (m - 1) / (2.0 * n)
        return top

    def _cells(self, d: int | None, n: int) -> int:
        """The most cells one side of ``d`` columns (``None``: unknown) can occupy, capped at ``n``."""
        s = self._settings
        if s["discrete"] == "always":
            return n  # every distinct value is its own cell
        limit = min(s["max_dim"], s["pca_dim"]) if s["pca_dim"] is not None else s["max_dim"]
        cols = limit if d is None else min(int(d), limit)
        return min(s["bins"] ** cols, n)

    def _validate_settings(self) -> None:
        s = self._settings
        int_setting(self.name, "bins", s["bins"], 2)
        choice_setting(self.name, "binning", s["binning"], ("equal", "quantile"))
        choice_setting(self.name, "correction", s["correction"], ("miller-madow", None))
        choice_setting(self.name, "discrete", s["discrete"], ("auto", "always", "never"))
        int_setting(self.name, "max_dim", s["max_dim"], 1)
        pca_setting(self.name, s["pca_dim"])

    def _estimate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
        s = self._settings
        x, y, details = maybe_project(x, y, s["pca_dim"])
        for label, a in (("x", x), ("y", y)):
            if a.shape[1] > s["max_dim"]:
                raise ValueError(
                    f"plugin: {label} has {a.shape[1]} columns, more than max_dim={s['max_dim']}; a "
                    f"histogram needs bins**d cells ({s['bins']}**{a.shape[1]} here) to be populated. "
                    "Project first (seleak.estimators.project(x, y, dim=2) or pca_dim=2), or use "
                    "'ksg', 'gaussian' or a neural estimator"
                )
        lx = discretize(x, s["bins"], s["binning"], s["discrete"])
        ly = discretize(y, s["bins"], s["binning"], s["discrete"])
        flags = self._check_fill(x, y, lx, ly)
        # The joint cell is the pair of marginal cells: exactly the product partition.
        lxy = lx * (ly.max() + 1) + ly
        mm = s["correction"] == "miller-madow"
        hx = entropy_from_labels(lx, mm)
        hy = entropy_from_labels(ly, mm)
        hxy = entropy_from_labels(np.unique(lxy, return_inverse=True)[1].reshape(-1), mm)
        details.update(cells_x=int(lx.max() + 1), cells_y=int(ly.max() + 1), cells_xy=int(np.unique(lxy).size))
        if flags:
            details["flags"] = flags
        return hx + hy - hxy, details

    def _check_fill(self, x: np.ndarray, y: np.ndarray, lx: np.ndarray, ly: np.ndarray) -> tuple[str, ...]:
        """Refuse (``ValueError``) or warn about (``RuntimeWarning``, and the returned flag) a joint table
        with more cells than the pairs can fill (see the module docstring); ``()`` when it is fine."""
        s = self._settings
        n = x.shape[0]
        kx, ky = int(lx.max() + 1), int(ly.max() + 1)  # occupied cells (the labels are 0..k-1)
        per_cell = n / (kx * ky)
        if per_cell >= SPARSE_PAIRS_PER_CELL:
            return ()
        dx, dy = x.shape[1], y.shape[1]
        binned = binned_columns(x, s["bins"], s["discrete"]) + binned_columns(y, s["bins"], s["discrete"])
        # the most bins per column that would leave SPARSE_PAIRS_PER_CELL pairs per cell or more
        fit = math.floor((n * SPARSE_PAIRS_PER_CELL) ** (1.0 / (dx + dy)) + 1e-9)
        fix = (
            f"use fewer bins (bins={fit}: at most {fit ** (dx + dy)} joint cells), or project first (pca_dim=1, "
            "or seleak.estimators.project(x, y, dim=1))"
            if fit >= 2
            else "project first (pca_dim=1, or seleak.estimators.project(x, y, dim=1)) or give more pairs"
        ) + ", or use 'ksg' or 'gaussian'"
        what = (
            f"plugin: {kx} x {ky} = {kx * ky} joint cells (bins={s['bins']} on {dx} + {dy} columns) for {n} "
            f"pairs, {per_cell:.3g} per cell"
        )
        if binned and per_cell < EMPTY_PAIRS_PER_CELL:
            raise ValueError(
                f"{what}: the table cannot be filled, and on independent data such a binning alone reports "
                f"about {math.log(1.0 / per_cell) - 0.4:.1f} nats. Fix: {fix}"
            )
        warnings.warn(
            f"{what}: most cells stay empty and the estimate is biased upward (on independent data about 0.6 "
            f"nats at 1/2 pair per cell, 2.6 at 1/20). Fix: {fix}",
            RuntimeWarning,
            stacklevel=4,
        )
        return (f"sparse table: {kx * ky} joint cells for {n} pairs ({per_cell:.3g} per cell), biased upward",)
