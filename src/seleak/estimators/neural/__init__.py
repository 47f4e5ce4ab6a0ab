r"""Neural variational MI estimators: MINE, NWJ, InfoNCE, SMILE (PyTorch).

All four train a *critic* ``T(x, y)`` to maximise a variational lower bound of ``I(X; Y)`` on
mini-batches of ``B`` pairs. In a batch, ``T(x_i, y_i)`` are samples of the joint ``P`` and
``T(x_i, y_j), i != j``, of the product of marginals ``Q`` (Poole et al. 2019):

* ``mine`` — Donsker–Varadhan: ``I >= E_P[T] - log E_Q[e^T]`` (Belghazi et al. 2018). The gradient
  of ``log E_Q[e^T]`` over a mini-batch is biased; MINE replaces the denominator of
  ``grad E_Q[e^T] / E_Q[e^T]`` by an exponential moving average (rate ``ema``).
* ``nwj`` — ``I >= E_P[T] - e^{-1} E_Q[e^T]`` (Nguyen, Wainwright & Jordan 2010): unbiased
  mini-batch gradients, high variance at large MI.
* ``infonce`` — ``I >= E[ T(x_i, y_i) - log (1/B) sum_j e^{T(x_i, y_j)} ]`` (van den Oord et al.
  2018): low variance but never above ``log B`` — it saturates at ``log 64 = 4.16`` nats for batch 64.
* ``smile`` — DV with the negatives' critic clipped to ``[-clip, clip]`` (Song & Ermon 2020):
  trained with the Jensen–Shannon (f-GAN) objective, reported as the clipped DV value. Clipping
  bounds the variance of the partition term at the price of a bias that grows as ``clip`` shrinks.

Protocol (what the reported number means). The ``N`` pairs are split once (seeded) into a training
part, a *monitor* part (``monitor_fraction`` of the training part, used only for early stopping and
checkpoint choice) and a held-out *test* part (``val_fraction``). The critic is trained with Adam on
random mini-batches of the training part; the reported estimate is the bound evaluated with the
chosen critic on the test pairs, in chunks of ``eval_batch_size`` pairs (default ``batch_size``, so
the bound is the same functional as in training — InfoNCE's ceiling stays ``log batch_size``).
The test part is a whole number of chunks (``val_fraction`` of the pairs rounded to the nearest
multiple of ``eval_batch_size``; one shorter chunk, flagged, when the data are too few for a full
one), so every held-out pair is evaluated and ``n_eval`` is their number. ``details["chunk_values"]``
holds the bound on each chunk and ``details["chunk_infonce"]`` the InfoNCE bound of the same critic
on the same chunks (a lower bound of ``I(X; Y)`` in expectation for any critic; ``is_bound`` says
whether the reported value itself is one: ``infonce`` and ``nwj``).
Inputs are standardised with the training part's mean and standard deviation.

Where the critic starts (``init``). By default (``"gaussian"``) each critic is the sum of a trainable
quadratic form ``x'Ax + x'Wy + y'By + c``, started at the Gaussian log density ratio of its training pairs
(``baseline``: Ledoit–Wolf covariance; NWJ's one nat higher, where its optimum lies), and of the
network, whose output layer starts at zero. From the first step every bound is then about the Gaussian MI
of the fitted covariance (shrinkage pulls it down when few columns carry a high MI), and training learns
what that misses. On Gaussian pairs (5 + 5 and 20 + 20 columns, 1 and 4 nats, N = 5 000) this took MINE's
held-out errors at the defaults from 0.13 to 1.67 nats with a random start to 0.004 to 0.094, in 0.6 to
0.9 s on one CPU thread (with the stopping rule below), where torch-mist's MINE took 31 to 34 s and met
0.1 on one task of the four (``benchmarks/bench_neural.py``, ``benchmarks/results/neural.json``).
``"random"`` is the literature's start: the network alone, randomly initialised (the study pins it, so
that its numbers stay those of the paper's protocol). Only what the critic is changes: the bound, the
held-out evaluation and the permutation null are the same, so every reported value means what it meant.

When a critic stops (``patience``, ``min_patience``). The monitor bound is evaluated every ``eval_every``
steps; the checkpoint with the best one is kept. A critic stops after ``patience`` (20) evaluations without
a better one, except one that was started at about the best it reaches: best at least 0.1 nat and at most
0.05 nat above its first evaluation. That one, best at its ``e``-th evaluation, stops after
``min(patience, max(min_patience, e))``: it waits as long as it took to get there, at least
``min_patience``. By default (``min_patience=None``) that is 5 from the Gaussian start, and a random start
keeps the fixed wait (the comments on ``training.MIN_PATIENCE_GAUSSIAN_START``, ``SHORT_WAIT_MIN_NATS``
and ``SHORT_WAIT_GAIN_NATS`` give the measurements). Why: from the Gaussian start on
Gaussian pairs the first evaluation already scores the optimum and the monitor bound only falls after it,
as the network overfits; a critic that gains on its start is learning what the Gaussian start missed, and
keeps the full wait.

Cheap, valid permutation tests. Because the critic never saw the test pairs (not even for early
stopping), it is a fixed function given the training data. Under independence the test pairs
``(x_i, y_i)`` and ``(x_i, y_{pi(i)})`` have the same distribution for any permutation ``pi``, so the
bound re-evaluated with ``y`` permuted *within the test part* is an exact draw from the null
distribution of the reported statistic, conditional on the critic. ``estimate_many(...,
n_permutations=m)`` returns these ``m`` values in ``MIEstimate.null`` at the cost of ``m``
evaluations instead of ``m`` trainings; ``seleak.stats.permutation_test`` uses it.

Batched training. ``estimate_many(pairs)`` trains one critic per pair inside one batched model
(weights of shape ``(M, fan_in, fan_out)``, ``torch.baddbmm``). The problems share no parameters and
Adam is element-wise, so each critic follows the same trajectory as if trained alone with its own
seed (same split, same initialisation, same mini-batches); only float rounding differs. Pairs may
differ in ``N`` and in width: narrower inputs are zero-padded and their padded weights start at
zero and stay there (their gradient is zero).

Divergence is never silent: a problem whose training bound becomes non-finite stops being
checkpointed, its last good checkpoint is used and the estimate carries a flag; if no finite
checkpoint exists, :class:`~seleak.estimators.base.EstimatorDivergedError` is raised. A bound can
also run away while staying finite (MINE and NWJ on heavy-tailed data: thousands of nats below 0):
when the median training bound over the steps between two monitor evaluations falls below
``-RUNAWAY_NATS`` (1 nat; a constant critic scores about 0) the same error is raised, saying what to
change. A monitor bound that was never positive is flagged, not raised: on independent data a healthy
critic's monitor bound hovers about 0.

Where things are: ``bounds`` (the bounds and training objectives on score matrices), ``baseline``
(the Gaussian log ratio a critic starts at), ``critics`` (the batched MLPs and the separable/joint
critic), ``training`` (splits, the training loop, early
stopping), ``evaluation`` (held-out chunk evaluation and fixed-critic permutation nulls),
``estimators`` (the estimator classes).
"""

from .baseline import QuadraticRatio, gaussian_log_ratio
from .bounds import bound_value
from .estimators import MINE, NWJ, SMILE, InfoNCE, NeuralEstimator

__all__ = ["NeuralEstimator", "MINE", "NWJ", "InfoNCE", "SMILE", "bound_value", "gaussian_log_ratio", "QuadraticRatio"]
