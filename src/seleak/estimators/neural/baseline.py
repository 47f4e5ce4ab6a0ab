"""The Gaussian log density ratio fitted to training pairs: the starting point of a critic.

For jointly Gaussian ``z = [x, y]`` with covariance ``S`` the log ratio ``log p(x, y) / p(x) p(y)`` is a
quadratic form, ``x'Ax + x'Wy + y'By + c`` with ``P = S^-1 - diag(Sxx^-1, Syy^-1)``, ``A = -Pxx/2``,
``W = -Pxy``, ``B = -Pyy/2`` and ``c = (log|Sxx| + log|Syy| - log|S|) / 2``. A critic that starts there
scores every bound at about the Gaussian MI of the pairs from its first step (a lower bound of the true MI
when the pairs are not Gaussian; the exact log ratio when they are), and training only has to learn what
the Gaussian misses. The covariance is scikit-learn's Ledoit–Wolf estimate, never singular, so the
fit exists for any training split (constant columns, more columns than pairs).
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
