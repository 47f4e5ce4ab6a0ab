"""Leakage: from paired embeddings (or paired images, for the adaptive adversary) to a verdict.

One file per idea:

* :mod:`~seleak.leakage.measure` — :func:`measure_leakage` and :class:`LeakageResult`: the one pipeline
  from two frozen embeddings to an estimate, interval, p-value, lower bound and ceiling;
* :mod:`~seleak.leakage.encoders` — the learned sides of the adaptive estimators (a small CNN on
  images, an MLP on embeddings) and the bit-plane input features;
* :mod:`~seleak.leakage.adaptive` — :func:`adaptive_leakage` / :func:`fit_adaptive`: encoders trained on
  the SE images to maximise a held-out variational bound (modes ``"semantic"`` and ``"image"``);
* :mod:`~seleak.leakage.maps` — :func:`leakage_map`: where in the image a trained critic finds the
  leakage (occlusion sensitivity) and which images leak most (pointwise scores);
* :mod:`~seleak.leakage.sweep` — :func:`adaptive_sweep`: frozen vs adaptive measures against the
  schemes of a family, with adjusted p-values and the exact image-level bound, as a tidy table.

Layering: uses :mod:`seleak.representation`, :mod:`seleak.estimators`, :mod:`seleak.heldout`,
:mod:`seleak.stats`, :mod:`seleak.embedding`, :mod:`seleak.encryption` and :mod:`seleak.metrics`; used
by :mod:`seleak.study`, :mod:`seleak.cli`, :mod:`seleak.figures` and the book.
"""

from seleak.embedding.features import informative_columns
from seleak.leakage.adaptive import BOUNDS, MODES, AdaptiveFit, adaptive_leakage, fit_adaptive
from seleak.leakage.maps import LeakageMap, leakage_map
from seleak.leakage.measure import SATURATION, LeakageResult, measure_leakage
from seleak.leakage.sweep import (
    above_image_level,
    adaptive_sweep,
    adaptive_verdicts,
    is_exactly_zero,
    jointly_adjusted,
    overturned_verdicts,
)

__all__ = [
    "above_image_level",
    "AdaptiveFit",
    "BOUNDS",
    "LeakageMap",
    "LeakageResult",
    "MODES",
    "SATURATION",
    "adaptive_leakage",
    "adaptive_sweep",
    "adaptive_verdicts",
    "fit_adaptive",
    "informative_columns",
    "leakage_map",
    "measure_leakage",
    "is_exactly_zero",
    "jointly_adjusted",
    "overturned_verdicts",
]
