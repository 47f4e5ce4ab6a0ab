"""Uncertainty and significance for MI estimates: permutation tests, intervals, verdicts.

* :func:`permutation_test` — is the estimate larger than it would be under independence?
  ``p = (b + 1) / (m + 1)``, ``b`` the number of the ``m`` permuted values at least as large as the
  observed one (Phipson & Smyth 2010: never zero, exact level). Non-neural estimators are re-run
  on ``(x, y[perm])``; neural ones keep their trained critic and re-evaluate it on permuted held-out
  pairs (valid because the critic never saw those pairs — see ``seleak.estimators.neural``).
* :func:`bootstrap_interval` — for the non-neural estimators: by default half-size subsamples
  without replacement (centred on the full-sample estimate), because resampling *with*
  replacement duplicates rows, and duplicated rows inflate MI estimates (zero-distance neighbours
  for KSG, fewer occupied cells for histograms); the classical percentile bootstrap on request.
* :func:`seed_interval` — for the neural ones: the spread over training seeds (split,
  initialisation, mini-batches), all seeds trained together in one batched model;
  :func:`neural_resampling` separates the two: repeated data splits (outer resampling, the corrected
  resampled t interval of Nadeau & Bengio 2003) give the interval, repeated initialisations on one
  split the seed spread.
* :func:`interval` picks the right one; :func:`verdict` turns ``p`` (and an interval) into
  ``"leaks"`` / ``"no evidence of leakage"`` at a stated level.
* :func:`adjust_p_values` adjusts a family of p-values (one per scheme or k of a study): Holm
  (family-wise error) or Benjamini–Hochberg (false discovery rate); :func:`holm` is the Holm one;
  :func:`min_permutations` says how many permutations a family needs before anything can be
  significant after Holm.
* :func:`lower_confidence_bound` — one-sided t lower bound of the mean of i.i.d. values (e.g. the
  held-out chunk bounds of a critic); :func:`clopper_pearson` — exact interval of a binomial
  proportion (e.g. the measured coverage of an interval).
* :func:`spearman_bootstrap` / :func:`rank_correlations` — Spearman's rank correlation between two
  measures over a few settings (e.g. an MI estimate and an attack's success per scheme), with a
  percentile bootstrap interval over the settings.

Nothing here knows about images.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy import stats as _sps

from seleak._validation import is_int, is_number

from .estimators import check_pair
from .estimators.base import Estimator, MIEstimate

if TYPE_CHECKING:  # pandas is imported where used
    import pandas as pd

__all__ = [
    "PermutationResult",
    "Interval",
    "Verdict",
    "permutation_test",
    "permutation_p_value",
    "significant",
    "bootstrap_interval",
    "seed_interval",
    "NeuralResampling",
    "neural_resampling",
    "resampled_t_interval",
    "interval",
    "bootstrap_min_rows",
    "verdict",
    "adjust_p_values",
    "skew_corrected_lower_bound",
    "P_ADJUST_METHODS",
    "holm",
    "min_permutations",
    "lower_confidence_bound",
    "clopper_pearson",
    "RankCorrelation",
    "spearman_bootstrap",
    "rank_correlations",
    "LEAKS",
    "NO_EVIDENCE",
]

LEAKS = "leaks"
NO_EVIDENCE = "no evidence of leakage"


def permutation_p_value(null: Any, observed: float) -> float:
    """``(b + 1) / (m + 1)`` with ``b`` of the ``m`` null values at least ``observed``: the exact
    permutation p-value (Phipson & Smyth 2010), never 0, smallest ``1 / (m + 1)``."""
    null = np.asarray(null, dtype=np.float64)
    return (int(np.sum(null >= observed)) + 1) / (null.size + 1)


def significant(p_value: float, alpha: float) -> bool:
    """The one significance rule of the project: ``p <= alpha`` (a test of level ``alpha`` rejects
    when its p-value is at most ``alpha``)."""
    return bool(p_value <= alpha)


def _check_seed(seed: Any) -> int:
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return int(seed)


def _check_seeds(seeds: Any, where: str) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, range, np.ndarray)):
        raise ValueError(f"{where}: seeds must be a sequence of ints, e.g. range(5), got {seeds!r}")
    return [_check_seed(s) for s in seeds]


def _check_count(name: str, value: Any, lo: int) -> int:
    """A count argument: an int (not a bool) ``>= lo``. Never falls back to a default silently."""
    if not is_int(value) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    return int(value)


def _check_estimator(est: Any, where: str) -> Estimator:
    if not isinstance(est, Estimator):
        raise TypeError(f"{where}: est must be an estimator, e.g. seleak.estimators.get_estimator('ksg'), got {est!r}")
    return est


def bootstrap_min_rows(est: Estimator) -> int:
    """The fewest paired rows :func:`bootstrap_interval` accepts for ``est``: twice the estimator's own
    minimum, so that the half-size subsamples (and with-replacement resamples, which hold about 63 %
    distinct rows) are still estimable."""
    return 2 * max(int(est.min_n), 2)


def _check_level(level: float) -> float:
    if not is_number(level) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return float(level)


@dataclass(frozen=True)
class PermutationResult:
    """Outcome of :func:`permutation_test`.

    ``estimate`` is the observed :class:`MIEstimate`; ``null`` the ``n_permutations`` values under
    permuted ``y``; ``p_value = (b + 1) / (m + 1)`` (one-sided: large MI is evidence of dependence);
    ``method`` is ``"re-estimate"`` or ``"fixed-critic"``.
    """

    estimate: MIEstimate
    p_value: float
    null: np.ndarray = field(repr=False)
    n_permutations: int
    method: str
    seed: int

    def significant(self, alpha: float = 0.05) -> bool:
        """``p_value <= alpha`` (:func:`significant`)."""
        return significant(self.p_value, _check_level(alpha))


def permutation_test(
    est: Estimator, x: Any, y: Any, n_permutations: int = 200, seed: int = 0, method: str = "auto"
) -> PermutationResult:
    """Permutation test of independence with estimator ``est`` as the statistic.

    ``method="auto"`` uses ``"fixed-critic"`` for neural estimators (one training, ``m`` cheap
    evaluations on permuted held-out pairs) and ``"re-estimate"`` for the others (``m`` estimates on
    ``(x, y[perm])``, each permutation drawn from ``seed``). A neural estimator can be forced to
    ``"re-estimate"`` (``m`` trainings: slow, but tests the whole procedure).
    """
    _check_estimator(est, "permutation_test")
    n_permutations = _check_count("n_permutations", n_permutations, 1)
    seed = _check_seed(seed)
    if method not in ("auto", "re-estimate", "fixed-critic"):
        raise ValueError(f"method must be 'auto', 're-estimate' or 'fixed-critic', got {method!r}")
    if method == "fixed-critic" and not est.fixed_critic_null:
        raise ValueError(f"method='fixed-critic' needs a neural estimator, not {est.name!r}")
    if method == "auto":
        method = "fixed-critic" if est.fixed_critic_null else "re-estimate"
    if method == "fixed-critic":
        obs = est.estimate_many([(x, y)], n_permutations=int(n_permutations), permutation_seed=seed)[0]  # type: ignore[attr-defined]
        assert obs.null is not None
        null = np.asarray(obs.null, dtype=np.float64)
    else:
        xa, ya = check_pair(x, y, min_n=2, name=est.name, drop_constant=est.projects)
        obs = est.estimate(xa, ya)
        rng = np.random.default_rng(seed)
        null = np.array([est.estimate(xa, ya[rng.permutation(len(ya))]).nats for _ in range(n_permutations)])
    return PermutationResult(obs, permutation_p_value(null, obs.nats), null, int(n_permutations), method, seed)


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]`` at ``level`` around ``estimate`` (nats).

    ``method`` says how it was made (``"bootstrap-percentile"``, ``"subsample"``, ``"seeds-t"``);
    ``replicates`` are the underlying values.
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    replicates: np.ndarray = field(repr=False)

    def __iter__(self):  # ``low, high = interval(...)``
        return iter((self.low, self.high))

    @property
    def bits(self) -> tuple[float, float, float]:
        """``(estimate, low, high)`` in bits."""
        return tuple(v / math.log(2) for v in (self.estimate, self.low, self.high))  # type: ignore[return-value]


def bootstrap_interval(
    est: Estimator,
    x: Any,
    y: Any,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
    scheme: str = "auto",
    estimate: MIEstimate | None = None,
) -> Interval:
    """Resampling interval for a non-neural estimator.

    ``scheme="bootstrap"``: rows drawn with replacement, percentile interval.
    ``scheme="subsample"``: half-size subsamples without replacement; the deviations from their
    mean are scaled by ``sqrt(m / (N - m))`` and added to the full-sample estimate. That is the
    delete-d jackknife factor (Shao & Wu 1989): half-samples drawn *without* replacement vary about
    the full sample by ``sigma^2 (N - m) / (m N)``, not ``sigma^2 / m``, so Politis–Romano's
    ``sqrt(m / N)`` (right when ``m << N``) would make the interval ``sqrt(2)`` too narrow at
    ``m = N/2``. Measured coverage of the nominal 95 % at ``N = 1000`` on correlated Gaussians
    (``benchmarks/bench_interval_coverage.py``): Gaussian estimator, 1 + 1 dimensions, 0.5 nat, 0.945
    over 6 000 repetitions with this factor against 0.825 with ``sqrt(m / N)``; 0.94 - 0.955 up to
    4 + 4 dimensions and 1 nat; KSG (k = 3) at 0.5 nat 0.96 (1 + 1) and 0.955 (2 + 2).
    A variance interval: it does not correct bias (centring it on the delete-d jackknife's
    bias-corrected ``2 * full - mean(subsamples)`` instead was measured to cost KSG 6 - 7 points
    of coverage, 0.89 - 0.90, for no gain on the Gaussian estimator: the extra variance of that
    correction outweighs the small bias it removes).
    ``"auto"`` (default): ``subsample`` — with-replacement resamples duplicate rows, which inflates
    MI estimates (zero-distance neighbours for KSG, fewer occupied cells for the histogram), so a
    percentile interval can even miss the estimate.
    ``estimate``: the full-sample estimate if already computed (e.g. ``permutation_test(...).estimate``).
    """
    _check_estimator(est, "bootstrap_interval")
    if est.neural:
        raise TypeError("bootstrap_interval is for non-neural estimators; use seed_interval (or interval)")
    n_boot = _check_count("n_boot", n_boot, 2)
    level = _check_level(level)
    seed = _check_seed(seed)
    if scheme not in ("auto", "bootstrap", "subsample"):
        raise ValueError(f"scheme must be 'auto', 'bootstrap' or 'subsample', got {scheme!r}")
    if scheme == "auto":
        scheme = "subsample"
    xa, ya = check_pair(x, y, min_n=2, name=est.name, drop_constant=est.projects)
    n = len(xa)
    need = bootstrap_min_rows(est)
    if n < need:
        raise ValueError(
            f"{est.name}: need at least {need} paired rows for a bootstrap interval, got {n} "
            f"(each resample must itself be estimable, and {est.name} needs {est.min_n} rows); give more data"
        )
    full = est.estimate(xa, ya).nats if estimate is None else float(estimate.nats)
    rng = np.random.default_rng(seed)
    reps = []
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    if scheme == "bootstrap":
        for _ in range(n_boot):
            idx = rng.integers(0, n, n)
            try:
                reps.append(est.estimate(xa[idx], ya[idx]).nats)
            except ValueError:  # a resample can make a column constant on tiny data; skip it
                continue
        r = _enough_resamples(est, reps, n_boot)
        low, high = np.quantile(r, [lo_q, hi_q])
        method = "bootstrap-percentile"
    else:
        m = n // 2
        for _ in range(n_boot):
            idx = rng.choice(n, m, replace=False)
            try:
                reps.append(est.estimate(xa[idx], ya[idx]).nats)
            except ValueError:
                continue
        r = _enough_resamples(est, reps, n_boot)
        dev = math.sqrt(m / (n - m)) * (r - r.mean())  # see the docstring: ~1 at m = N/2
        low, high = full + np.quantile(dev, lo_q), full + np.quantile(dev, hi_q)
        method = "subsample"
    return Interval(full, float(low), float(high), level, method, r)


def _enough_resamples(est: Estimator, reps: list[float], n_boot: int) -> np.ndarray:
    """The valid replicates, or a clear error when too many resamples could not be estimated (checked
    before any quantile: an empty array would otherwise fail inside numpy)."""
    if len(reps) < max(2, n_boot // 2):
        raise ValueError(
            f"{est.name}: too few valid resamples ({len(reps)} of {n_boot}: the others had a constant "
            "column or too few distinct rows); give more data"
        )
    return np.asarray(reps, dtype=np.float64)


def seed_interval(
    est: Estimator, x: Any, y: Any, seeds: Sequence[int] = (0, 1, 2, 3, 4), level: float = 0.95
) -> Interval:
    """Seed-repeat interval for a neural estimator: one critic per seed (different split,
    initialisation and mini-batches), trained together; ``mean ± t_{k-1} s / sqrt(k)``.

    It measures the optimisation-and-split variability of the procedure on this sample, not the
    sampling variability of the data.
    """
    if not _check_estimator(est, "seed_interval").neural:
        raise TypeError("seed_interval is for neural estimators; use bootstrap_interval (or interval)")
    level = _check_level(level)
    seeds = _check_seeds(seeds, "seed_interval")
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seed_interval needs at least 2 distinct seeds, got {seeds!r}")
    res = est.estimate_many([(x, y)] * len(seeds), seeds=seeds)
    return _t_interval(np.array([e.nats for e in res]), level)


def _t_interval(r: np.ndarray, level: float) -> Interval:
    """``mean ± t_{k-1} s / sqrt(k)`` over the seeds' estimates ``r``."""
    mean = float(r.mean())
    half = float(_sps.t.ppf(0.5 + level / 2, len(r) - 1) * r.std(ddof=1) / math.sqrt(len(r)))
    return Interval(mean, mean - half, mean + half, level, "seeds-t", r)


def neural_test(
    est: Estimator,
    x: Any,
    y: Any,
    n_permutations: int = 200,
    seeds: Sequence[int] = (0, 1, 2),
    level: float = 0.95,
) -> tuple[PermutationResult, Interval]:
    """Permutation test and seed interval of a neural estimator from **one** batched training.

    The critics of all ``seeds`` are trained together; the first seed's critic gives the estimate and
    its fixed-critic permutation null (as :func:`permutation_test`), all of them give the interval (as
    :func:`seed_interval`). Same numbers as calling the two separately, at the cost of one training.
    """
    if not _check_estimator(est, "neural_test").neural:
        raise TypeError("neural_test is for neural estimators; use permutation_test and bootstrap_interval")
    n_permutations = _check_count("n_permutations", n_permutations, 1)
    level = _check_level(level)
    seeds = _check_seeds(seeds, "neural_test")
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"neural_test needs at least 2 distinct seeds, got {seeds!r}")
    res = est.estimate_many(
        [(x, y)] * len(seeds), seeds=seeds, n_permutations=int(n_permutations), permutation_seed=seeds[0]
    )
    obs = res[0]
    null = np.asarray(obs.null, dtype=np.float64)
    p = permutation_p_value(null, obs.nats)
    test = PermutationResult(obs, p, null, int(n_permutations), "fixed-critic", seeds[0])
    return test, _t_interval(np.array([e.nats for e in res]), level)


def resampled_t_interval(values: Any, test_train_ratio: float, level: float = 0.95) -> Interval:
    """The corrected resampled t interval of the mean of ``values``, one held-out value per random
    train / test split of the same rows (Nadeau & Bengio 2003).

    The splits share rows, so their values are positively correlated and the naive ``s / sqrt(R)``
    understates the error; the correction replaces ``1 / R`` by ``1 / R + n_test / n_train``
    (``test_train_ratio``). The target is the expected held-out value of the procedure trained on
    ``n_train`` rows of this population.
    """
    r = np.asarray(values, dtype=np.float64)
    level = _check_level(level)
    if r.ndim != 1 or r.size < 2 or not np.isfinite(r).all():
        raise ValueError(f"resampled_t_interval needs at least 2 finite values, got {r!r}")
    if not is_number(test_train_ratio) or not test_train_ratio >= 0:
        raise ValueError(f"test_train_ratio must be a number >= 0 (n_test / n_train), got {test_train_ratio!r}")
    mean = float(r.mean())
    se = float(r.std(ddof=1) * math.sqrt(1.0 / r.size + float(test_train_ratio)))
    half = float(_sps.t.ppf(0.5 + level / 2, r.size - 1) * se)
    return Interval(mean, mean - half, mean + half, level, "resampled-t", r)


@dataclass(frozen=True)
class NeuralResampling:
    """What :func:`neural_resampling` measured.

    ``test``: the permutation test of the first critic (first split, first initialisation);
    ``interval``: the corrected resampled t interval over the splits (its ``estimate`` is their mean);
    ``split_results``: one estimate per split (same initialisation seed); ``seed_results``: one per
    initialisation on the first split (the first is ``split_results[0]``); ``seed_sd``: the standard
    deviation of those (NaN with one initialisation).
    """

    test: PermutationResult
    interval: Interval
    split_results: tuple[MIEstimate, ...]
    seed_results: tuple[MIEstimate, ...]
    seed_sd: float


def neural_resampling(
    est: Estimator,
    x: Any,
    y: Any,
    *,
    n_permutations: int = 199,
    splits: int = 5,
    inits: int = 2,
    level: float = 0.95,
    seed: int = 0,
) -> NeuralResampling:
    """Outer resampling of a neural estimator, all critics trained in one batch.

    ``splits`` critics are trained on ``splits`` random train / test splits of the rows (split seeds
    ``seed, seed + 1, ...``, initialisation seed ``seed``): their held-out values give the sampling
    interval (:func:`resampled_t_interval`). ``inits - 1`` more critics are trained on the first split
    from other initialisation seeds: their spread, reported apart, is the optimisation noise. The first
    critic's fixed-critic permutation null gives the test. Cost: ``splits + inits - 1`` critics.
    """
    if not _check_estimator(est, "neural_resampling").neural:
        raise TypeError("neural_resampling is for neural estimators; use permutation_test and bootstrap_interval")
    n_permutations = _check_count("n_permutations", n_permutations, 1)
    splits = _check_count("splits", splits, 2)
    inits = _check_count("inits", inits, 1)
    level = _check_level(level)
    seed = _check_seed(seed)
    split_seeds = [seed + i for i in range(splits)] + [seed] * (inits - 1)
    init_seeds = [seed] * splits + [seed + j for j in range(1, inits)]
    res = est.estimate_many(
        [(x, y)] * len(init_seeds),
        seeds=init_seeds,
        split_seeds=split_seeds,
        n_permutations=int(n_permutations),
        permutation_seed=seed,
    )
    first = res[0]
    null = np.asarray(first.null, dtype=np.float64)
    test = PermutationResult(
        first, permutation_p_value(null, first.nats), null, int(n_permutations), "fixed-critic", seed
    )
    d = first.details
    ratio = d["n_test"] / max(1, d["n_train"] + d["n_monitor"])
    iv = resampled_t_interval([e.nats for e in res[:splits]], ratio, level)
    on_first = (first, *res[splits:])
    sd = float(np.std([e.nats for e in on_first], ddof=1)) if len(on_first) > 1 else math.nan
    return NeuralResampling(test, iv, tuple(res[:splits]), on_first, sd)


def interval(
    est: Estimator,
    x: Any,
    y: Any,
    level: float = 0.95,
    seed: int = 0,
    n: int | None = None,
    *,
    estimate: MIEstimate | None = None,
    n_boot: int | None = None,
    n_seeds: int | None = None,
) -> Interval:
    """The interval that fits ``est``: :func:`seed_interval` (``n_seeds`` seeds from ``seed``,
    default 5) for neural estimators, :func:`bootstrap_interval` (``n_boot`` resamples, default 200,
    re-using ``estimate`` when given) otherwise. ``n`` sets whichever count applies (``n_boot`` /
    ``n_seeds``, when given, take precedence). A count that is given must be an int >= 2: 0, a
    negative number, a bool or a float raises ``ValueError`` naming it rather than falling back to the
    default. The result unpacks as ``low, high = interval(...)``.

    A neural estimator's seed interval mixes the split's and the optimisation's randomness; the interval
    of the sampling error, by repeated data splits with the seed spread apart, is
    :func:`neural_resampling` (what :func:`seleak.leakage.measure_leakage` reports)."""
    _check_estimator(est, "interval")
    counts = {
        k: _check_count(k, v, 2) for k, v in (("n", n), ("n_boot", n_boot), ("n_seeds", n_seeds)) if v is not None
    }
    seed = _check_seed(seed)
    if est.neural:
        k = counts.get("n_seeds", counts.get("n", 5))
        return seed_interval(est, x, y, seeds=range(seed, seed + k), level=level)
    b = counts.get("n_boot", counts.get("n", 200))
    return bootstrap_interval(est, x, y, n_boot=b, level=level, seed=seed, estimate=estimate)


@dataclass(frozen=True)
class Verdict:
    """``label`` is ``"leaks"`` or ``"no evidence of leakage"``; ``text`` says why, with the level."""

    label: str
    leaks: bool
    alpha: float
    p_value: float
    text: str

    def __str__(self) -> str:
        return self.label


def verdict(
    estimate: float | MIEstimate,
    p_value: float,
    alpha: float = 0.05,
    interval: Interval | None = None,
    require_positive_interval: bool = False,
) -> Verdict:
    """``"leaks"`` when ``p_value <= alpha`` (and, if ``require_positive_interval``, the interval's
    lower end is above 0); else ``"no evidence of leakage"``.

    The permutation p-value is the decision: it has exact level ``alpha`` whatever the estimator's
    bias. The interval is reported; demanding it to exclude 0 is stricter and only meaningful for
    estimators whose bias under independence is ~0 (Gaussian with bias correction, KSG).
    "No evidence" is not evidence of no leakage: it is relative to this estimator and sample size.
    """
    alpha = _check_level(alpha)
    if not (isinstance(p_value, (int, float)) and 0 < p_value <= 1):
        raise ValueError(f"p_value must be in (0, 1], got {p_value!r}")
    nats = float(estimate.nats if isinstance(estimate, MIEstimate) else estimate)
    if require_positive_interval and interval is None:
        raise ValueError("require_positive_interval=True needs an interval")
    leaks = significant(p_value, alpha) and (not require_positive_interval or interval.low > 0)  # type: ignore[union-attr]
    ci = f", {interval.level:.0%} interval [{interval.low:.3g}, {interval.high:.3g}]" if interval is not None else ""
    label = LEAKS if leaks else NO_EVIDENCE
    text = f"{label} at level {alpha:g}: estimate {nats:.3g} nats{ci}, permutation p = {p_value:.3g}"
    return Verdict(label, leaks, alpha, float(p_value), text)


P_ADJUST_METHODS = ("holm", "bh")


def adjust_p_values(p_values: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjusted p-values of a family of tests: reject test ``i`` at level ``alpha`` when
    ``adjusted[i] <= alpha``.

    ``method="holm"`` — Holm's step-down (1979): with the ``n`` p-values sorted,
    ``p_(1) <= ... <= p_(n)``, ``adjusted_(i) = max_{j <= i} min(1, (n - j + 1) p_(j))``. Controls the
    **family-wise error rate** (the probability of even one false "leaks" in the family) at ``alpha``
    under any dependence between the tests. Use it when every claim must hold on its own — "scheme
    A leaks", "scheme B leaks" each stated as a finding — and the family is small (a few schemes or
    settings). Uniformly more powerful than Bonferroni (``n p``), never less.

    ``method="bh"`` — Benjamini–Hochberg's step-up (1995):
    ``adjusted_(i) = min_{j >= i} min(1, n p_(j) / j)``. Controls the **false discovery rate** (the
    expected fraction of false ones among the rejected) at ``alpha``, for independent or positively
    dependent tests (Benjamini & Yekutieli 2001; tests sharing the same data through permutations are
    usually taken as such). Use it to screen a larger family (many keys, layers or settings) where a
    few false positives among many true ones are acceptable; it rejects more than Holm.

    NaN entries (tests that were not run) are left NaN and are not counted in the family: ``n`` is
    the number of non-NaN values. Every other value must lie in ``(0, 1]`` (a permutation p-value is
    never 0), else ``ValueError`` naming it. Ties keep their order; the result has the input's order.
    """
    if method not in P_ADJUST_METHODS:
        raise ValueError(f"method must be one of {P_ADJUST_METHODS}, got {method!r}")
    p = np.array(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be a 1-D sequence, got an array of shape {p.shape}")
    known = ~np.isnan(p)
    bad = known & ~((p > 0) & (p <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"p_values must lie in (0, 1] (or be NaN for a test not run); p_values[{i}] = {float(p[i])!r}")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(known)
    n = idx.size
    if n == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    ps = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((n - np.arange(n)) * ps)
    else:
        adj = np.minimum.accumulate((n * ps / np.arange(1, n + 1))[::-1])[::-1]
    out[order] = np.minimum(adj, 1.0)
    return out


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error):
    ``adjust_p_values(p_values, "holm")``."""
    return adjust_p_values(p_values, "holm")


def min_permutations(family_size: int, alpha: float = 0.05) -> int:
    """The fewest permutations ``m`` for which a Holm-adjusted permutation p-value can reach ``alpha``
    in a family of ``family_size`` tests.

    The smallest permutation p-value is ``1 / (m + 1)`` (:func:`permutation_p_value`), and Holm
    multiplies the smallest p of the family by ``family_size``, so nothing can be significant unless
    ``family_size / (m + 1) <= alpha``: this returns the smallest such ``m`` (at least 1), compared
    exactly as :func:`adjust_p_values` and :func:`significant` compute it, e.g. 19 for one test at
    0.05, 99 for five. It is a floor, not a recommendation: at that ``m`` only a test whose observed
    value beats *every* permuted one survives; a few times more gives power.
    """
    if not is_int(family_size) or family_size < 1:
        raise ValueError(f"family_size must be an int >= 1, got {family_size!r}")
    alpha = _check_level(alpha)

    def reaches(m: int) -> bool:  # the smallest Holm-adjusted p, as computed, is <= alpha
        return significant(min(family_size * (1 / (m + 1)), 1.0), alpha)

    m = max(1, math.ceil(family_size / alpha) - 1)
    while m > 1 and reaches(m - 1):
        m -= 1
    while not reaches(m):
        m += 1
    return m


def lower_confidence_bound(values: Any, level: float = 0.95) -> float:
    """One-sided lower confidence bound of the mean of ``m`` i.i.d. ``values``:
    ``mean - t_{level, m-1} s / sqrt(m)`` (``s`` the sample standard deviation, ``t_{level, m-1}`` the
    ``level`` quantile of Student's t with ``m - 1`` degrees of freedom).

    Exact for normal values; for skewed ones the t bound is conservative when the values have a
    long *upper* tail and liberal when they have a long *lower* tail (measured at ``m = 10``, level
    0.95: 0.986 coverage for exponential values, 0.867 for negated exponential ones). Meant for a few
    independent values of one quantity, e.g. a critic's bound on disjoint held-out chunks: values
    that share data (overlapping chunks, seeds on the same split) are not independent and make the
    bound too high. ``ValueError`` for fewer than 2 values or a non-finite one.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    level = _check_level(level)
    if v.size < 2:
        raise ValueError(f"lower_confidence_bound needs at least 2 values, got {v.size}")
    if not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ValueError(f"values must be finite; value {i} is {float(v[i])!r}")
    m = v.size
    return float(v.mean() - _sps.t.ppf(level, m - 1) * v.std(ddof=1) / math.sqrt(m))


def skew_corrected_lower_bound(values: Any, level: float = 0.95) -> float:
    """One-sided lower confidence bound of the mean of ``m`` i.i.d. ``values`` that may have a long
    *lower* tail: the t bound widened by a Cornish–Fisher (Hall 1983) term for the values' skewness,
    ``mean - s / sqrt(m) * (t + 2 g- (2 t^2 + 1) / (6 sqrt(m)))`` with ``t = t_{level, m-1}`` and
    ``g- = min(0, g)`` the negative part of the sample skewness ``g`` (adjusted Fisher–Pearson).

    A positive skewness is ignored (the t bound is already conservative then), so the bound is never
    above :func:`lower_confidence_bound`. The correction is doubled because the sample skewness of a
    few values is shrunk toward 0 (measured: with the single correction, 20 values of skewness -0.85
    still gave 5.5 % non-coverage at level 0.95; doubled 4.5 %; for negated exponential values, skewness
    -2, 5.8 % against the t bound's 10.6 %). Meant for values bounded above, such
    as held-out InfoNCE batch values near their ceiling ``log b``; the measured coverage of the
    adaptive estimators is in ``benchmarks/results/adaptive_coverage.json``. With 2 values it is the
    t bound (no skewness to estimate). ``ValueError`` for fewer than 2 values or a non-finite one.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    level = _check_level(level)
    if v.size < 2:
        raise ValueError(f"skew_corrected_lower_bound needs at least 2 values, got {v.size}")
    if not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ValueError(f"values must be finite; value {i} is {float(v[i])!r}")
    m = v.size
    s = v.std(ddof=1)
    if s == 0:
        return float(v.mean())
    g = min(0.0, float(_sps.skew(v, bias=False))) if m >= 3 else 0.0  # no skewness from 2 values
    q = _sps.t.ppf(level, m - 1)
    return float(v.mean() - s / math.sqrt(m) * (q - 2.0 * g * (2.0 * q * q + 1.0) / (6.0 * math.sqrt(m))))


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson (exact, central) interval of a binomial proportion: ``successes`` of ``trials``.

    ``[B(a/2; k, n - k + 1), B(1 - a/2; k + 1, n - k)]`` with ``B(q; a, b)`` the beta quantile and
    ``a = 1 - level``; the low end is 0 when ``k = 0`` and the high end 1 when ``k = n``. Its coverage
    is at least ``level`` for every true proportion.
    """
    trials = _check_count("trials", trials, 1)
    if not is_int(successes) or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an int in [0, trials = {trials}], got {successes!r}")
    a = 1 - _check_level(level)
    k, n = int(successes), trials
    low = 0.0 if k == 0 else float(_sps.beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(_sps.beta.ppf(1 - a / 2, k + 1, n - k))
    return low, high


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rank correlation of paired points, with a bootstrap interval.

    Attributes:
        rho: Spearman's rho of the ``n`` points (NaN when one side is constant).
        low, high: percentile interval at ``level`` of rho over ``n_boot`` resamples of the points.
        p_value: scipy's p-value of rho (t approximation; indicative only for a dozen points).
        n: number of points used (pairs where both values are not NaN).
        n_boot: resamples drawn; ``n_valid``: those where rho was defined (a resample repeating a single
            point or ties on one side has no rank correlation and is left out).
        level: confidence level.
    """

    rho: float
    low: float
    high: float
    p_value: float
    n: int
    n_boot: int
    n_valid: int
    level: float


def _rank_rows(a: np.ndarray) -> np.ndarray:
    return _sps.rankdata(a, axis=-1)  # average ranks for ties; inf ranks last, as it should


def spearman_bootstrap(
    x: Any,
    y: Any,
    *,
    n_boot: int = 999,
    level: float = 0.95,
    seed: int = 0,
) -> RankCorrelation:
    """Spearman's rho between ``x`` and ``y`` and a percentile bootstrap interval.

    The resampled unit is the **point** (one pair ``(x_i, y_i)``, e.g. one scheme setting): ``n_boot``
    resamples of the ``n`` points with replacement (seeded by ``seed``), rho of each, and the central
    ``level`` percentile interval. Pairs with a NaN on either side are dropped first; ``±inf`` is kept
    (it ranks first or last). With few points the interval is wide, which is the honest answer.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must be paired: got {xa.size} and {ya.size} values")
    n_boot = _check_count("n_boot", n_boot, 1)
    level = _check_level(level)
    keep = ~(np.isnan(xa) | np.isnan(ya))
    xa, ya = xa[keep], ya[keep]
    n = int(xa.size)
    nan = float("nan")
    if n < 3:
        return RankCorrelation(nan, nan, nan, nan, n, n_boot, 0, level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant side: rho is NaN, said by the NaN itself
        res = _sps.spearmanr(xa, ya)
    rho, p = float(res.statistic), float(res.pvalue)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    rx, ry = _rank_rows(xa[idx]), _rank_rows(ya[idx])
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    valid = den > 0
    boot = (rx * ry).sum(axis=1)[valid] / den[valid]
    if boot.size:
        low, high = (float(v) for v in np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]))
    else:
        low = high = nan
    return RankCorrelation(rho, low, high, p, n, n_boot, int(valid.sum()), level)


def rank_correlations(
    points: pd.DataFrame,
    x_columns: Sequence[str],
    y_columns: Sequence[str],
    *,
    n_boot: int = 999,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`spearman_bootstrap` for every pair (x column, y column) of ``points`` (one row per point).

    Returns one tidy row per pair: ``x, y, rho, low, high, p_value, n, n_valid``. Every pair uses the
    same ``seed``, so pairs measured on the same points share their resamples.
    """
    import pandas as pd

    missing = sorted(set(x_columns) - set(points.columns) | set(y_columns) - set(points.columns))
    if missing:
        raise ValueError(f"points has no column(s) {missing}; columns: {list(points.columns)}")
    rows = []
    for xc in x_columns:
        for yc in y_columns:
            r = spearman_bootstrap(points[xc], points[yc], n_boot=n_boot, level=level, seed=seed)
            rows.append(
                {
                    "x": xc,
                    "y": yc,
                    "rho": r.rho,
                    "low": r.low,
                    "high": r.high,
                    "p_value": r.p_value,
                    "n": r.n,
                    "n_valid": r.n_valid,
                }
            )
    return pd.DataFrame(rows)
