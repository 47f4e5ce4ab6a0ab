"""Mutual-information estimators behind one interface.

>>> from seleak.estimators import get_estimator, available_estimators
>>> est = get_estimator("ksg", k=3)
>>> r = est.estimate(x, y)          # x (N, dx), y (N, dy), paired by row   # doctest: +SKIP
>>> r.nats, r.bits                                                           # doctest: +SKIP

Names (``available_estimators()``):

========== ======================================================== =====================
name       what it is                                               use it for
========== ======================================================== =====================
plugin     histogram plug-in + Miller–Madow (the paper's estimator)  discrete or <= 3-D data
ksg        Kraskov–Stögbauer–Grassberger, algorithm 1, max-norm      low-D continuous data
gaussian   canonical correlations; PCA to N/4 columns when d > N/4   linear dependence, any D
mine       Donsker–Varadhan + moving-average gradient (PyTorch)      high-D, large MI
nwj        Nguyen–Wainwright–Jordan bound (PyTorch)                  high-D
infonce    InfoNCE / CPC bound, <= log(batch) (PyTorch)              high-D, small MI, low variance
smile      clipped DV, JS-trained (PyTorch), ``clip=``               high-D, large MI
auto       a documented rule: plug-in (discrete), KSG (mixed), the   when unsure: right across
           largest of KSG, Gaussian copula and radial KSG (low-D),   the ground-truth suite
           the larger of the last two (high-D); ``estimators.auto``
========== ======================================================== =====================

Every estimator validates its input (``check_pair``), accepts only its own settings (an unknown
one raises ``TypeError`` naming it) and returns an :class:`MIEstimate` in nats. ``project`` is the
PCA helper to apply before ``plugin``/``ksg`` on embeddings (also available as ``pca_dim=``);
``groundtruth`` holds samplers with known MI and ``suite`` the ground-truth suite built from them
(the benchmark ``benchmarks/bench_estimator_suite.py`` runs every estimator and the peers on it).
"""

from __future__ import annotations

from typing import Any

from . import groundtruth, suite
from .auto import AutoEstimator
from .base import Estimator, EstimatorDivergedError, MIEstimate, check_pair, project
from .gaussian import GaussianEstimator
from .ksg import KSGEstimator
from .neural import MINE, NWJ, SMILE, InfoNCE, NeuralEstimator
from .plugin import PluginEstimator

__all__ = [
    "get_estimator",
    "available_estimators",
    "MIEstimate",
    "Estimator",
    "NeuralEstimator",
    "EstimatorDivergedError",
    "check_pair",
    "project",
    "groundtruth",
    "suite",
    "NEURAL",
]

_REGISTRY: dict[str, type[Estimator]] = {
    "plugin": PluginEstimator,
    "ksg": KSGEstimator,
    "gaussian": GaussianEstimator,
    "mine": MINE,
    "nwj": NWJ,
    "infonce": InfoNCE,
    "smile": SMILE,
    "auto": AutoEstimator,
}

#: names of the neural (PyTorch, trained critic) estimators, as the classes declare themselves
NEURAL: tuple[str, ...] = tuple(name for name, cls in _REGISTRY.items() if cls.neural)


def available_estimators() -> list[str]:
    """The estimator names ``get_estimator`` accepts, in a fixed order."""
    return list(_REGISTRY)


def get_estimator(name: str, **settings: Any) -> Estimator:
    """A configured estimator. Unknown ``name`` -> ``ValueError`` listing the names; unknown
    setting -> ``TypeError`` naming it and listing the valid ones; bad value -> ``ValueError``."""
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"unknown estimator {name!r}; available: {', '.join(available_estimators())}")
    return _REGISTRY[name.lower()](**settings)
