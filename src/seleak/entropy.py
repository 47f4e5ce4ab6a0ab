"""The one plug-in Shannon entropy of the package, numpy only.

Its own module because three layers need it — the plug-in MI estimator, the pixel metrics and the
recognition attack's label entropy — and none of them should import another just for it (the
estimators must not depend on image code, nor the metrics on torch).
"""

from __future__ import annotations

import numpy as np

__all__ = ["entropy_nats"]


def entropy_nats(counts: np.ndarray, correction: str | None = None) -> float:
    """Plug-in Shannon entropy (nats) of a histogram ``counts`` (empty cells are ignored).

    ``correction="miller-madow"`` adds ``(m - 1) / (2N)``, ``m`` the number of occupied cells. This
    is the one plug-in entropy of the package (the plug-in estimator and the pixel metrics use it).
    """
    if correction not in (None, "miller-madow"):
        raise ValueError(f"correction must be None or 'miller-madow', got {correction!r}")
    c = np.asarray(counts)
    c = c[c > 0]
    n = c.sum()
    p = c / n
    h = max(0.0, float(-(p * np.log(p)).sum()))  # max: 0.0, not -0.0, for a single occupied cell
    if correction == "miller-madow":
        h += (c.size - 1) / (2.0 * n)
    return h
