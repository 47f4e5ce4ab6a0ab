"""The one leakage pipeline: from two paired embeddings to a :class:`LeakageResult`.

Every number the study, ``seleak leak`` and the exercises report comes from :func:`measure_leakage`:

1. **what is measured** — the representation (:func:`seleak.representation.represent`): the
   informative columns, optionally projected (per-side PCA, or CCA/PLS fitted on one part of the rows
   and measured on the other), recorded in ``representation``;
2. **the estimate and its test** — the estimator on the measured rows, a permutation p-value of
   independence (re-estimation on permuted pairs; a neural estimator's fixed trained critic on
   permuted held-out pairs);
3. **a sampling interval** — non-neural: half-sample subsampling at the delete-d jackknife scale
   (:func:`seleak.stats.bootstrap_interval`, coverage verified by simulation); neural: outer
   resampling, one critic per random data split, with the corrected resampled t interval
   (:func:`seleak.stats.neural_resampling`), and the spread over initialisations on one split
   reported apart (``seed_sd``);
4. **what the data certify** — ``lower_bound``: a one-sided lower confidence bound of the MI of the
   representation, from a *bound* evaluated on rows no fitting saw (InfoNCE of the estimator's own
   critic for a neural estimator, of a fitted Gaussian critic otherwise; :mod:`seleak.heldout`);
5. **what the number can mean** — ``ceiling`` (the most this estimator can report here) and
   ``saturated`` (at it: a floor, shown as ">= lower_bound", never as a value); ``degenerate`` when
   both embeddings are identical (nothing encrypted): then the exact value ``I = H(f(X))`` of the sample
   is reported, tested by an exact-match permutation test, never ``inf``.

Layering: this module uses :mod:`seleak.representation`, :mod:`seleak.estimators`,
:mod:`seleak.heldout` and :mod:`seleak.stats`; it is used by :mod:`seleak.study`, :mod:`seleak.cli` and
the book.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
from scipy import stats as sps

from seleak import stats
from seleak._runtime import limit_threads
from seleak.embedding.features import informative_columns
from seleak.entropy import entropy_nats
from seleak.estimators import Estimator, get_estimator
from seleak.heldout import chunk_count, gaussian_critic_chunks, identity_critic_chunks
from seleak.representation import Representation, represent

__all__ = ["LeakageResult", "informative_columns", "measure_leakage", "SATURATION"]

#: An estimate at or above this fraction of its estimator's ceiling is reported as saturated.
SATURATION = 0.9


@dataclass(frozen=True)
class LeakageResult:
    """What :func:`measure_leakage` measured (all values in nats).

    ``nats``: the point estimate; ``ci_low``/``ci_high``: its sampling interval at ``level`` (``interval``
    names the method: ``"subsample"``, ``"resampled"`` (neural, repeated splits), ``"held-out"`` (neural,
    one split), ``"exact"`` for a degenerate pair, ``"none"``: then
    both are NaN); ``p_value``: the permutation p-value of independence (smallest ``1 / (permutations +
    1)``); ``lower_bound``: a one-sided lower confidence bound (level ``bound_level``) of the MI of the
    measured representation, from a held-out variational bound (``lower_bound_method`` says which; NaN
    when the rows are too few); ``ceiling``: the most this estimator can report at this N and setting
    (``inf`` if unbounded); ``saturated``: the estimate is within :data:`SATURATION` of the ceiling, so it
    says "at least ``lower_bound``", not how much; ``degenerate``: both embeddings are identical (then
    ``nats`` is the exact ``H(f(X))`` of the sample); ``is_bound``: the estimator's value itself estimates
    a lower bound (InfoNCE, NWJ); ``seed_sd``: neural only, the spread of the estimate over training
    seeds (NaN otherwise); ``representation``: what was measured; ``n``: rows given; ``n_eval``: rows the
    estimate is computed on.
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
    lower_bound: float = math.nan
    lower_bound_method: str = ""
    degenerate: bool = False
    is_bound: bool = False
    seed_sd: float = math.nan
    level: float = 0.95
    bound_level: float = 0.95
    settings: Mapping[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    wall_s: float = 0.0

    @property
    def bits(self) -> float:
        return self.nats / math.log(2)

    def columns(self) -> dict[str, Any]:
        """The result as the columns of the package's results tables (the study's rows, the layer sweep,
        the adaptive sweep): the one place where a field becomes a column name."""
        return {
            "mi_nats": self.nats,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "interval": self.interval,
            "p_value": self.p_value,
            "lower_bound_nats": self.lower_bound,
            "lower_bound_method": self.lower_bound_method,
            "ceiling_nats": self.ceiling,
            "saturated": self.saturated,
            "degenerate": self.degenerate,
            "is_bound": self.is_bound,
            "seed_sd": self.seed_sd,
            "representation": self.representation,
            "n_eval": self.n_eval,
            "flags": "; ".join(self.flags),
            "wall_s": self.wall_s,
        }

    def shown(self, digits: int = 3) -> str:
        """The estimate as a reader should see it: ``">= LB"`` when saturated, else the value with its
        interval."""
        if self.saturated:
            if math.isnan(self.lower_bound):
                return f"{self.nats:.{digits}f} (saturated: a floor)"
            return f">= {self.lower_bound:.{digits}f}"
        if math.isnan(self.ci_low):
            return f"{self.nats:.{digits}f}"
        return f"{self.nats:.{digits}f} [{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"


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
    projection: str | None = None,
    dim: int | None = None,
    pca_dim: int | None = None,
    fit_fraction: float = 0.5,
    permutations: int = 199,
    n_boot: int = 200,
    neural_seeds: int = 2,
    neural_splits: int = 5,
    level: float = 0.95,
    bound_level: float = 0.95,
    seed: int = 0,
    device: str = "cpu",
) -> LeakageResult:
    """Estimate I(f(X); f(SE(X))) from paired embeddings, with a p-value, an interval and a lower bound.

    Args:
        z_plain, z_se: ``(N, D)`` embeddings of the plain and the SE images, row i of both is image i.
        estimator: a name of :func:`seleak.estimators.get_estimator` (with ``settings``) or an instance.
        projection, dim: the representation measured (:func:`seleak.representation.represent`):
            ``None`` (the informative columns), ``"pca"`` (per side), ``"cca"`` or ``"pls"`` (fitted on
            ``fit_fraction`` of the rows, measured on the others), to ``dim`` components.
        pca_dim: shorthand for ``projection="pca", dim=pca_dim``.
        permutations: permutations of the independence test.
        n_boot: half-sample subsamples of a non-neural estimator's interval (0: no interval).
        neural_splits: for a neural estimator, random train / test splits of the measured rows, one
            critic each (outer resampling): the estimate is the mean of their held-out values and the
            interval the corrected resampled t interval (:func:`seleak.stats.neural_resampling`);
            0 or 1: one split, and the interval is that of its held-out evaluation only.
        neural_seeds: initialisations of a neural estimator on the first split; their spread is
            ``seed_sd`` (1: none). All critics are trained in one batch; the first critic (first split,
            first initialisation) gives the permutation test and the lower bound.
        level: confidence level of the two-sided interval; bound_level: of the one-sided lower bound.
        seed: seed of the projection split, permutations, resampling and (where not set) the estimator.
        device: torch device of a neural estimator (where not set).

    Raises:
        ValueError: unusable input (too few rows, no informative column, bad counts, both ``pca_dim``
            and ``projection``);
        seleak.estimators.EstimatorDivergedError: a neural estimate that diverged.
    """
    if pca_dim is not None:
        if projection is not None or dim is not None:
            raise ValueError("give either pca_dim or projection/dim, not both")
        projection, dim = "pca", pca_dim
    for name, v in (("neural_splits", neural_splits), ("neural_seeds", neural_seeds)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    for name, v in (("level", level), ("bound_level", bound_level)):
        if not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ValueError(f"{name} must be in (0, 1), got {v!r}")
    est = _as_estimator(estimator, settings).with_context(seed=seed, device=device)
    t0 = time.perf_counter()
    # the matrices are small: one BLAS thread is faster, and does not fight torch's threads for the cores
    with limit_threads(1, torch=False):
        zx, zy = np.asarray(z_plain), np.asarray(z_se)
        if zx.shape == zy.shape and np.array_equal(zx, zy):
            r = _degenerate(zx, est, permutations, bound_level, seed)
        else:
            rep = represent(zx, zy, projection, dim, seed=seed, fit_fraction=fit_fraction)
            if est.neural:
                r = _neural(rep, est, permutations, neural_splits, neural_seeds, level, bound_level, seed)
            else:
                r = _classical(rep, est, permutations, n_boot, level, bound_level, seed)
    settings_out = dict(r.settings)
    if projection is not None:
        settings_out.update(projection=projection, dim=dim)
    return replace(r, settings=settings_out, level=level, bound_level=bound_level, wall_s=time.perf_counter() - t0)


def _lower_bound(chunks: np.ndarray, level: float) -> float:
    """The one-sided lower confidence bound of the mean of i.i.d. batch bounds, never below 0 (MI is
    not negative, so clipping keeps the bound valid)."""
    if chunks.size < 2 or not np.isfinite(chunks).all():
        return math.nan
    return max(0.0, stats.lower_confidence_bound(chunks, level=level))


def _ceiling(est: Estimator, n_eval: int, dx: int, dy: int) -> float:
    """The estimator's own ceiling, and never above ``log n_eval``: no estimate from ``n_eval`` pairs can
    be certified above it (McAllester & Stratos 2020), so a parametric estimate beyond it (Gaussian,
    MINE) is reported as saturated too."""
    return float(min(est.ceiling(n_eval, dx, dy), math.log(n_eval)))


def _saturated(nats: float, ceiling: float) -> bool:
    return bool(math.isfinite(ceiling) and nats >= SATURATION * ceiling)


def _classical(
    rep: Representation, est: Estimator, permutations: int, n_boot: int, level: float, bound_level: float, seed: int
) -> LeakageResult:
    x, y = rep.x, rep.y
    test = stats.permutation_test(est, x, y, n_permutations=permutations, seed=seed)
    low = high = math.nan
    how = "none"
    if n_boot:
        iv = stats.bootstrap_interval(
            est, x, y, n_boot=n_boot, level=level, seed=seed, scheme="subsample", estimate=test.estimate
        )
        low, high, how = iv.low, iv.high, "subsample"
    r = test.estimate
    lb, lb_how = _gaussian_bound(rep, bound_level, seed)
    ceiling = _ceiling(est, r.n_eval, x.shape[1], y.shape[1])
    return LeakageResult(
        est.name, r.nats, float(low), float(high), float(test.p_value), int(permutations), how, ceiling,
        _saturated(r.nats, ceiling), rep.description, rep.n + rep.n_fit, r.n_eval, lb, lb_how, False,
        bool(est.is_bound), math.nan, settings=dict(r.settings), flags=tuple(r.flags),
    )  # fmt: skip


def _gaussian_bound(rep: Representation, level: float, seed: int) -> tuple[float, str]:
    """InfoNCE lower bound of a Gaussian critic: fitted on the projection's fitting rows when it has
    them, else on a random half of the measured rows, and evaluated on rows it never saw."""
    if rep.x_fit is not None:
        xf, yf, xe, ye = rep.x_fit, rep.y_fit, rep.x, rep.y
        where = "the projection's fitting rows"
    else:
        perm = np.random.default_rng([seed, 1]).permutation(rep.n)
        fit, ev = perm[: rep.n // 2], perm[rep.n // 2 :]
        xf, yf, xe, ye = rep.x[fit], rep.y[fit], rep.x[ev], rep.y[ev]
        where = "a random half"
    m = chunk_count(xe.shape[0])
    if m == 0 or xf.shape[0] < xf.shape[1] + yf.shape[1] + 2:
        return math.nan, "none (too few rows)"
    chunks = gaussian_critic_chunks(xf, yf, xe, ye, chunks=m, seed=seed)
    return _lower_bound(chunks, level), (
        f"InfoNCE of a Gaussian critic fitted on {where} ({xf.shape[0]} rows), {m} held-out batches of "
        f"~{xe.shape[0] // m}, one-sided t bound"
    )


def _neural(
    rep: Representation,
    est: Estimator,
    permutations: int,
    neural_splits: int,
    neural_seeds: int,
    level: float,
    bound_level: float,
    seed: int,
) -> LeakageResult:
    x, y = rep.x, rep.y
    seed_sd = math.nan
    low = high = math.nan
    how = "none"
    if neural_splits >= 2:
        # outer resampling: the interval from repeated data splits, the seed spread apart
        rs = stats.neural_resampling(
            est, x, y, n_permutations=permutations, splits=neural_splits, inits=max(1, neural_seeds),
            level=level, seed=seed,
        )  # fmt: skip
        test, seed_sd = rs.test, rs.seed_sd
        nats, low, high, how = rs.interval.estimate, rs.interval.low, rs.interval.high, "resampled"
    else:
        if neural_seeds >= 2:
            test, iv = stats.neural_test(
                est, x, y, n_permutations=permutations, level=level, seeds=range(seed, seed + neural_seeds)
            )
            seed_sd = float(np.std(iv.replicates, ddof=1))
        else:
            test = stats.permutation_test(est, x, y, n_permutations=permutations, seed=seed)
        nats = test.estimate.nats
        values = np.asarray(test.estimate.details.get("chunk_values", ()), dtype=np.float64)
        if values.size >= 2:
            # the sampling error of the held-out evaluation, conditional on the trained critic
            half = float(sps.t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
            low, high, how = nats - half, nats + half, "held-out"
    r = test.estimate
    bound_chunks = np.asarray(r.details.get("chunk_infonce", ()), dtype=np.float64)
    lb = _lower_bound(bound_chunks, bound_level)
    lb_how = (
        f"InfoNCE of the trained critic on {bound_chunks.size} held-out batches, one-sided t bound"
        if math.isfinite(lb)
        else "none (fewer than 2 held-out batches)"
    )
    ceiling = _ceiling(est, r.n_eval, x.shape[1], y.shape[1])
    return LeakageResult(
        est.name, float(nats), float(low), float(high), float(test.p_value), int(permutations), how, ceiling,
        _saturated(nats, ceiling), rep.description, rep.n + rep.n_fit, r.n_eval, lb, lb_how, False,
        bool(est.is_bound), seed_sd, settings=dict(r.settings), flags=tuple(r.flags),
    )  # fmt: skip


def _degenerate(z: np.ndarray, est: Estimator, permutations: int, bound_level: float, seed: int) -> LeakageResult:
    """Both embeddings identical: ``I(f(X); f(X)) = H(f(X))``, exactly, for X uniform over the sample.

    The test is still a test: the statistic is the number of rows whose two embeddings are equal, its
    permutation null the same count with one side permuted (exact, never below ``1 / (m + 1)``).
    """
    n = z.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 paired rows, got {n}")
    _, ids, counts = np.unique(z.reshape(n, -1), axis=0, return_inverse=True, return_counts=True)
    ids = ids.ravel()
    value = entropy_nats(counts)
    rng = np.random.default_rng(seed)
    null = np.array([np.count_nonzero(ids[rng.permutation(n)] == ids) for _ in range(permutations)])
    p = stats.permutation_p_value(null, float(n))
    m = chunk_count(n)
    lb = _lower_bound(identity_critic_chunks(ids[:, None], ids[:, None], chunks=m, seed=seed), bound_level)
    flags = (f"degenerate: f(X) = f(SE(X)) on all {n} rows; the value is the exact H(f(X)) of the sample",)
    return LeakageResult(
        est.name, value, value, value, p, int(permutations), "exact", math.log(n), False,
        f"{z.shape[1]} columns, identical on both sides", n, n,
        lb, f"InfoNCE of the identity critic on {m} batches of ~{n // max(m, 1)}", True,
        bool(est.is_bound), math.nan, settings={}, flags=flags,
    )  # fmt: skip
