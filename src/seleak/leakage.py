"""The one leakage pipeline: from two paired embeddings to a :class:`LeakageResult`.

Every number the study, ``seleak leak`` and the exercises report comes from :func:`measure_leakage`:

1. drop the embedding columns that (almost) never vary (dead units; :func:`informative_columns`);
2. project each side on its own principal components when ``pca_dim`` is given (fitted on that side's
   rows only, so the projection does not depend on the pairing and the permutation test stays valid,
   and no permutation pays for an SVD);
3. hand the pipeline's ``seed`` and ``device`` to the estimator where it takes them
   (:meth:`~seleak.estimators.Estimator.with_context`);
4. test independence by permutations, and put a sampling interval around the estimate: for a neural
   estimator both come from one batched training (fixed-critic null, seed interval), for the others
   from re-estimation on permuted pairs and half-sample subsampling;
5. say what can be read from the number: the estimator's ceiling at this N, and whether the estimate
   sits at it (``saturated``: then it is a floor, not a measurement).

Layering: this module uses :mod:`seleak.estimators` and :mod:`seleak.stats` and is used by
:mod:`seleak.study`, :mod:`seleak.cli` and the book.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from seleak import stats
from seleak._runtime import limit_threads
from seleak.embedding.features import informative_columns
from seleak.estimators import Estimator, get_estimator, project

__all__ = ["LeakageResult", "informative_columns", "measure_leakage", "SATURATION"]

#: An estimate at or above this fraction of its estimator's ceiling is reported as saturated.
SATURATION = 0.9


@dataclass(frozen=True)
class LeakageResult:
    """What :func:`measure_leakage` measured.

    ``nats``: the estimate; ``ci_low``/``ci_high``: its interval (``interval`` names the method:
    ``"subsample"``, ``"seeds"``, or ``"none"`` when no interval was asked for, then both are NaN);
    ``p_value``: the permutation p-value of independence (smallest possible ``1 / (permutations + 1)``);
    ``ceiling``: the most this estimator can report at this N and setting (``inf`` if unbounded);
    ``saturated``: the estimate is within :data:`SATURATION` of the ceiling, so it says "at least this
    much", not how much; ``representation``: what was measured (columns kept, projection, dimensions).
    """

    estimator: str
    nats: float
    ci_low: float
    ci_high: float
    p_value: float
    permutations: int
    interval: str
    ceiling: float
    saturated: bool
    representation: str
    n: int
    n_eval: int
    settings: Mapping[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    wall_s: float = 0.0

    @property
    def bits(self) -> float:
        return self.nats / math.log(2)


def _as_estimator(estimator: str | Estimator, settings: Mapping[str, Any] | None) -> Estimator:
    if isinstance(estimator, Estimator):
        if settings:
            raise TypeError("give settings either in the estimator instance or in `settings`, not both")
        return estimator
    if isinstance(estimator, str):
        return get_estimator(estimator, **dict(settings or {}))
    raise TypeError(f"estimator must be a name such as 'ksg' or an Estimator, got {type(estimator).__name__}")


def measure_leakage(
    z_plain: np.ndarray,
    z_se: np.ndarray,
    estimator: str | Estimator,
    settings: Mapping[str, Any] | None = None,
    *,
    pca_dim: int | None = None,
    permutations: int = 199,
    n_boot: int = 200,
    neural_seeds: int = 3,
    level: float = 0.95,
    seed: int = 0,
    device: str = "cpu",
) -> LeakageResult:
    """Estimate I(f(X); f(SE(X))) from paired embeddings, with a permutation p-value and an interval.

    Args:
        z_plain, z_se: ``(N, D)`` embeddings of the plain and the SE images, row i of both is image i.
        estimator: a name of :func:`seleak.estimators.get_estimator` (with ``settings``) or an instance.
        pca_dim: project each side to this many principal components first (``None``: no projection).
        permutations: permutations of the independence test.
        n_boot: half-sample subsamples of a non-neural estimator's interval (0: no interval).
        neural_seeds: critics (seeds) of a neural estimator's interval, trained in one batch (0 or 1:
            no interval).
        level: confidence level of the interval.
        seed: seed of the permutations, the resampling and (where not set) the estimator.
        device: torch device of a neural estimator (where not set).

    Raises:
        ValueError: unusable input (too few rows, no informative column, bad counts);
        seleak.estimators.EstimatorDivergedError: a neural estimate that diverged.
    """
    # the matrices are small: one BLAS thread is faster, and does not fight torch's threads for the cores
    with limit_threads(1, torch=False):
        return _measure(
            z_plain,
            z_se,
            _as_estimator(estimator, settings).with_context(seed=seed, device=device),
            pca_dim,
            permutations,
            n_boot,
            neural_seeds,
            level,
            seed,
        )


def _measure(
    z_plain: np.ndarray,
    z_se: np.ndarray,
    est: Estimator,
    pca_dim: int | None,
    permutations: int,
    n_boot: int,
    neural_seeds: int,
    level: float,
    seed: int,
) -> LeakageResult:
    t0 = time.perf_counter()
    x, y = informative_columns(z_plain), informative_columns(z_se)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"z_plain and z_se must be paired by row, got {x.shape[0]} and {y.shape[0]} rows")
    representation = f"{np.shape(z_plain)[1]}+{np.shape(z_se)[1]} columns, {x.shape[1]}+{y.shape[1]} informative"
    if pca_dim is not None:
        x, y = project(x, y, int(pca_dim))
        representation += f", PCA per side to {x.shape[1]}+{y.shape[1]}"
    if est.neural and neural_seeds >= 2:
        # estimate, fixed-critic null and seed interval from one batched training
        test, iv = stats.neural_test(
            est, x, y, n_permutations=permutations, level=level, seeds=range(seed, seed + neural_seeds)
        )
        low, high, how = iv.low, iv.high, "seeds"
    else:
        test = stats.permutation_test(est, x, y, n_permutations=permutations, seed=seed)
        low = high = math.nan
        how = "none"
        if n_boot and not est.neural:
            iv = stats.bootstrap_interval(
                est, x, y, n_boot=n_boot, level=level, seed=seed, scheme="subsample", estimate=test.estimate
            )
            low, high, how = iv.low, iv.high, "subsample"
    r = test.estimate
    ceiling = est.ceiling(r.n_eval)
    settings_out = {**dict(r.settings), "pca_dim": pca_dim} if pca_dim else dict(r.settings)
    return LeakageResult(
        estimator=est.name,
        nats=r.nats,
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(test.p_value),
        permutations=int(permutations),
        interval=how,
        ceiling=ceiling,
        saturated=bool(math.isfinite(ceiling) and r.nats >= SATURATION * ceiling),
        representation=representation,
        n=r.n,
        n_eval=r.n_eval,
        settings=settings_out,
        flags=tuple(r.flags),
        wall_s=time.perf_counter() - t0,
    )
