"""The Gaussian log density ratio fitted to training pairs: the starting point of a critic.

For jointly Gaussian ``z = [x, y]`` with covariance ``S`` the log ratio ``log p(x, y) / p(x) p(y)`` is a
quadratic form, ``x'Ax + x'Wy + y'By + c`` with ``P = S^-1 - diag(Sxx^-1, Syy^-1)``, ``A = -Pxx/2``,
``W = -Pxy``, ``B = -Pyy/2`` and ``c = (log|Sxx| + log|Syy| - log|S|) / 2``. A critic that starts there
(NWJ's one nat higher: its optimal critic is ``1 + log r``) scores its bound at about the Gaussian MI of
the fitted covariance from its first step, and training only has to learn what that misses. The
covariance is scikit-learn's Ledoit–Wolf estimate, never singular, so the fit exists for any training
split (constant columns, more columns than pairs); its shrinkage pulls strong correlations towards 0,
so with few columns and a high MI the start is below the Gaussian MI (1 + 1 columns, 6 000 pairs: 3.7
nats for a true 4, and for a true 6) and training has more to do.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.covariance import LedoitWolf

__all__ = ["QuadraticRatio", "gaussian_log_ratio"]


class QuadraticRatio(NamedTuple):
    """``T(x, y) = x'Ax + x'Wy + y'By + c`` (float64)."""

    a: np.ndarray  # (dx, dx)
    w: np.ndarray  # (dx, dy)
    b: np.ndarray  # (dy, dy)
    c: float


def gaussian_log_ratio(x: np.ndarray, y: np.ndarray) -> QuadraticRatio:
    """The Gaussian log ratio of the pairs ``(x, y)`` (rows are pairs), Ledoit–Wolf covariance."""
    dx = x.shape[1]
    s = LedoitWolf().fit(np.hstack([x, y]).astype(np.float64)).covariance_
    s = s + 1e-9 * max(1.0, float(np.trace(s)) / s.shape[0]) * np.eye(s.shape[0])  # all-constant columns
    sxx, syy = s[:dx, :dx], s[dx:, dx:]
    p = np.linalg.inv(s)
    p[:dx, :dx] -= np.linalg.inv(sxx)
    p[dx:, dx:] -= np.linalg.inv(syy)
    c = 0.5 * (np.linalg.slogdet(sxx)[1] + np.linalg.slogdet(syy)[1] - np.linalg.slogdet(s)[1])
    return QuadraticRatio(-0.5 * p[:dx, :dx], -p[:dx, dx:], -0.5 * p[dx:, dx:], float(c))
