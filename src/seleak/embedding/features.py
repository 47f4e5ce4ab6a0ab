"""Which coordinates of an embedding carry anything at all."""

from __future__ import annotations

import numpy as np

__all__ = ["informative_columns"]


def informative_columns(z: np.ndarray, min_fraction: float = 0.02) -> np.ndarray:
    """``z`` without the columns that (almost) never vary: dead ReLU units carry no information, the
    estimators refuse constant columns, and a unit that fires on a handful of images becomes constant in
    a resample. A column is kept when at least ``min_fraction`` of the rows differ from its median."""
    varied = (z != np.median(z, axis=0)).mean(axis=0) >= min_fraction
    if not varied.any():
        varied[:1] = True  # an all-constant embedding stays one column; the estimator then says why
    return z[:, varied]
