"""The neural estimator classes: their settings, the bound each reports, and one batched call."""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from seleak._runtime import limit_threads
from seleak._validation import is_int, is_number

from ..base import (
    Estimator,
    EstimatorDivergedError,
    MIEstimate,
    check_pair,
    choice_setting,
    int_setting,
)
from .bounds import bound_value, mine_objective, smile_objective
from .evaluation import held_out_chunks, permutation_nulls
from .training import RUNAWAY_NATS, Split, TrainedCritics, held_out_ran_away, split_pairs, train_critics

__all__ = ["NeuralEstimator", "MINE", "NWJ", "InfoNCE", "SMILE"]


def _infonce(s: Tensor) -> Tensor:
    """InfoNCE on scores (..., B, B): a lower bound of ``I(X; Y)`` in expectation for any critic."""
    return bound_value("infonce", s)


#: A held-out value this many nats above log n_eval is not a loose estimate but a critic that ran away
#: (seen on Cauchy data: SMILE returned 1.5e7 nats for a true 0.72); it raises like a divergence. Between
#: log n_eval and this margin the value is only flagged: no held-out sample certifies more than log n_eval.
RUNAWAY_ABOVE_LOG_N = 5.0


class NeuralEstimator(Estimator):
    """Common machinery of ``mine``, ``nwj``, ``infonce`` and ``smile`` (see :mod:`seleak.estimators.neural`).

    A subclass sets ``name``, which also selects the bound (:func:`~.bounds.bound_value`), and
    overrides ``_objective`` when it trains on something other than the bound it reports.

    What a result holds: ``nats`` is the mean of the reported bound over the held-out chunks of
    ``eval_batch_size`` pairs, ``n_eval`` the number of held-out pairs (all of them are evaluated), and
    ``details`` adds ``chunk_size``, ``chunk_values`` (float64, the reported bound on each chunk: their
    mean is ``nats``) and ``chunk_infonce`` (float64, the InfoNCE bound of the same critic on the same
    chunks: each at most ``log chunk_size``, and in expectation at most ``I(X; Y)`` whatever the
    critic). The chunks are i.i.d. given the critic, so a t bound over ``chunk_infonce`` is a one-sided
    lower confidence bound of ``I(X; Y)``, and the spread of ``chunk_values`` the sampling error of
    ``nats`` given the critic.
    """

    fixed_critic_null = True
    neural = True
    min_n = 20
    #: the bound's optimal critic minus the log density ratio (NWJ's is 1 + log r): the Gaussian start adds it
    start_offset = 0.0
    defaults: dict[str, Any] = {
        "steps": 2000,  # Adam steps
        "batch_size": 64,  # pairs per mini-batch (B)
        "lr": 5e-4,  # Adam learning rate
        "seed": 0,  # split, initialisation and mini-batches
        "device": "cpu",  # "cpu" or "cuda" (never required)
        "critic": "separable",  # "separable" f(x)·g(y), or "joint" h([x, y])
        # "gaussian": the critic is a trainable quadratic form started at the Gaussian log ratio of the
        # training pairs plus the network (started at 0); "random": the network alone, randomly started
        "init": "gaussian",
        "hidden": (256, 256),  # hidden layer widths of each MLP
        "embed_dim": 32,  # separable critic: width of f(x) and g(y)
        "val_fraction": 0.25,  # held-out test pairs: the estimate and permutation nulls are computed there
        "monitor_fraction": 0.1,  # of the remaining pairs, watched for early stopping
        "early_stopping": True,  # keep the best checkpoint on the monitor pairs; stop when the wait is over
        "patience": 20,  # evaluations without improvement before a critic stops being checkpointed (at most)
        # a critic best at its e-th evaluation, at least 0.1 nat and at most 0.05 above its first, stops after
        # max(min_patience, e) evaluations without improvement (capped at patience); any other after
        # patience (training.patience_now). None: 5 from the Gaussian start, patience from a random one.
        # Counted in evaluations, like patience: the steps are these times eval_every
        "min_patience": None,
        # steps between monitor evaluations. A fixed number, so that the kept checkpoint does not depend
        # on ``steps``: with it, a longer run evaluates the same steps as a shorter one, and more. None:
        # the step-proportional rule ``max(10, steps // 50)`` (before 20 was the default: then ``steps``
        # moved the evaluated steps, and with them the checkpoint kept)
        "eval_every": 20,
        "eval_batch_size": None,  # chunk size of held-out evaluation (None: batch_size)
        "progress": False,  # tqdm progress bar
        "threads": 1,  # CPU threads for torch during the call (None: leave torch's setting)
    }

    def _validate_settings(self) -> None:
        s = self._settings
        int_setting(self.name, "steps", s["steps"], 1)
        int_setting(self.name, "batch_size", s["batch_size"], 2)
        int_setting(self.name, "seed", s["seed"], 0)
        if not is_number(s["lr"]) or not s["lr"] > 0:
            raise ValueError(f"{self.name}: lr must be a positive float, got {s['lr']!r}")
        dev = s["device"]
        if not isinstance(dev, str) or not (dev == "cpu" or dev.startswith("cuda")):
            raise ValueError(f"{self.name}: device must be 'cpu' or 'cuda' (or 'cuda:N'), got {dev!r}")
        choice_setting(self.name, "critic", s["critic"], ("separable", "joint"))
        choice_setting(self.name, "init", s["init"], ("gaussian", "random"))
        s["hidden"] = self._hidden_widths(s["hidden"])
        int_setting(self.name, "embed_dim", s["embed_dim"], 1)
        for key, hi in (("val_fraction", 0.9), ("monitor_fraction", 0.9)):
            v = s[key]
            if not is_number(v) or not 0 < v <= hi:
                raise ValueError(f"{self.name}: {key} must be in (0, {hi}], got {v!r}")
        if not isinstance(s["early_stopping"], bool):
            raise TypeError(f"{self.name}: early_stopping must be True or False, got {s['early_stopping']!r}")
        int_setting(self.name, "patience", s["patience"], 1)
        if s["min_patience"] is not None:
            int_setting(self.name, "min_patience", s["min_patience"], 1)
            if s["min_patience"] > s["patience"]:
                raise ValueError(
                    f"{self.name}: min_patience={s['min_patience']} is above patience={s['patience']}; "
                    "give min_patience <= patience (or None)"
                )
        for key, lo in (("eval_every", 1), ("eval_batch_size", 2), ("threads", 1)):
            if s[key] is not None:
                int_setting(self.name, key, s[key], lo)
        if not isinstance(s["progress"], bool):
            raise TypeError(f"{self.name}: progress must be True or False, got {s['progress']!r}")

    def _hidden_widths(self, hid: Any) -> tuple[int, ...]:
        if isinstance(hid, (int, np.integer)):
            hid = (int(hid),)
        if not isinstance(hid, (tuple, list)) or not all(isinstance(h, (int, np.integer)) and h >= 1 for h in hid):
            raise ValueError(f"{self.name}: hidden must be a tuple of positive ints, got {self._settings['hidden']!r}")
        return tuple(int(h) for h in hid)

    @property
    def _eval_batch(self) -> int:
        """Pairs per held-out chunk: each chunk's bound is the training functional at that size."""
        return int(self._settings["eval_batch_size"] or self._settings["batch_size"])

    def _value(self, s: Tensor) -> Tensor:
        """The reported bound per problem on scores (M, ..., B, B)."""
        return bound_value(self.name, s)

    def _objective(self, s: Tensor, state: dict[str, Tensor]) -> Tensor:
        """The training objective per problem (M,), to be maximised; ``state`` persists across steps."""
        return self._value(s)

    # ---------------------------------------------------------------------------------------------
    def estimate(self, x: Any, y: Any) -> MIEstimate:
        """Train a critic on part of the pairs and report the bound on the held-out part."""
        return self.estimate_many([(x, y)])[0]

    def estimate_many(
        self,
        pairs: Sequence[tuple[Any, Any]],
        *,
        seeds: Sequence[int] | None = None,
        split_seeds: Sequence[int] | None = None,
        n_permutations: int = 0,
        permutation_seed: int = 0,
    ) -> list[MIEstimate]:
        """Estimate MI for several ``(x, y)`` pairs with one critic each, trained together.

        ``seeds`` gives each problem its own seed (default: the ``seed`` setting for all), so
        ``estimate_many([(x, y)] * 5, seeds=range(5))`` is a seed-repeat study in one training.
        ``split_seeds`` (default: ``seeds``) seeds the train / monitor / test split apart from the
        initialisation and mini-batches, so that repeated data splits (outer resampling) and repeated
        initialisations on one split can be told apart.
        With ``n_permutations > 0`` every result carries ``null``: the bound of its fixed trained
        critic on its test pairs with ``y`` permuted (see :mod:`seleak.estimators.neural` for why that
        is a valid permutation null). Results are in the order of ``pairs``.
        """
        t0 = time.perf_counter()
        seeds, device = self._check_call(pairs, seeds, n_permutations)
        split_seeds = seeds if split_seeds is None else [int(v) for v in split_seeds]
        if len(split_seeds) != len(seeds):
            raise ValueError(f"{self.name}: {len(split_seeds)} split seeds for {len(pairs)} pairs")
        data = [check_pair(x, y, min_n=self.min_n, name=self.name) for x, y in pairs]
        with self._torch_threads():
            splits = [self._split(xa, ya, seed) for (xa, ya), seed in zip(data, split_seeds)]
            run = train_critics(
                splits,
                seeds,
                self._settings,
                self._objective,
                self._value,
                self._eval_batch,
                device,
                self.name,
                self.start_offset,
            )
            self._check_runaway(run, seeds)
            test_x, test_y = zip(*(sp.pairs(sp.test) for sp in splits))
            # per problem (2, chunks): the reported bound and InfoNCE, same critic, same chunks
            chunks = held_out_chunks(run.critic, (self._value, _infonce), test_x, test_y, self._eval_batch, device)
            self._check_held_out(chunks, seeds)
            nulls: list[np.ndarray | None] = [None] * len(splits)
            if n_permutations:
                null_vals = permutation_nulls(
                    run.critic, self._value, test_x, test_y, self._eval_batch, device, n_permutations, permutation_seed
                )
                if not np.isfinite(null_vals).all():
                    raise EstimatorDivergedError(f"{self.name}: non-finite bound under permutation")
                nulls = list(null_vals)
        elapsed = (time.perf_counter() - t0) / len(splits)
        return [
            self._result(p, xa.shape[0], splits[p], run, chunks[p], nulls[p], seeds[p], elapsed, split_seeds[p])
            for p, (xa, _) in enumerate(data)
        ]

    def _check_call(
        self, pairs: Sequence[Any], seeds: Sequence[int] | None, n_permutations: Any
    ) -> tuple[list[int], torch.device]:
        """The problems' seeds and the device, after checking ``estimate_many``'s arguments."""
        if len(pairs) == 0:
            raise ValueError(f"{self.name}: estimate_many needs at least one (x, y) pair")
        seeds = [self._settings["seed"]] * len(pairs) if seeds is None else [int(v) for v in seeds]
        if len(seeds) != len(pairs):
            raise ValueError(f"{self.name}: {len(seeds)} seeds for {len(pairs)} pairs")
        if not is_int(n_permutations) or n_permutations < 0:
            raise ValueError(f"{self.name}: n_permutations must be an int >= 0, got {n_permutations!r}")
        device = torch.device(self._settings["device"])
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{self.name}: device='cuda' asked but no CUDA device is available; use device='cpu'")
        return seeds, device

    def _check_runaway(self, run: TrainedCritics, seeds: Sequence[int]) -> None:
        """Raise :class:`EstimatorDivergedError` when a critic's training bound ran away: a stretch of
        steps whose median bound is below ``-RUNAWAY_NATS`` (see :data:`~.training.RUNAWAY_NATS`).

        Such a value stays finite, so the non-finite check never sees it, yet the optimiser is moving
        away from every critic worth having; whichever checkpoint early stopping kept comes from that
        trajectory and its held-out value is not an estimate (MINE reported -14.8 nats for a true 0.29
        on Student-t data, NWJ -89384).
        """
        bad = [(p, st) for p in range(len(run.progress)) if (st := run.lowest_stretch(p)) is not None and st.ran_away]
        if not bad:
            return
        where = "; ".join(
            f"problem {p} (seed {seeds[p]}): median {st.median:.4g} nats over steps {st.first_step}-{st.last_step}"
            for p, st in bad
        )
        raise EstimatorDivergedError(
            f"{self.name}: the training bound ran away ({where}), below -{RUNAWAY_NATS:g} nats where a critic "
            f"that outputs a constant scores about 0: the optimisation diverged and no checkpoint of it is an "
            f"estimate. {self._runaway_advice()}"
        )

    def _check_held_out(self, chunks: Sequence[np.ndarray], seeds: Sequence[int]) -> None:
        """Raise :class:`EstimatorDivergedError` when a problem's held-out value is one catastrophic
        batch (:func:`~.training.held_out_ran_away`)."""
        bad = []
        for p, c in enumerate(chunks):
            if held_out_ran_away(c[0]):
                bad.append(
                    f"problem {p} (seed {seeds[p]}): {float(np.mean(c[0])):.4g} nats, median chunk "
                    f"{float(np.median(c[0])):.4g}, lowest {float(np.min(c[0])):.4g}"
                )
        if bad:
            raise EstimatorDivergedError(
                f"{self.name}: the held-out bound ran away ({'; '.join(bad)}): one batch of held-out pairs "
                f"dominates the value, so it is not an estimate. {self._runaway_advice()}"
            )

    def _runaway_advice(self) -> str:
        """What to change after a runaway (measured on Student-t pairs, df = 2, 3 + 3 dimensions, MI 0.29:
        after a Gaussian-rank map MINE gave 0.19-0.24 and NWJ 0.22-0.24; a tenth of the learning rate
        alone did not help)."""
        lr = float(self._settings["lr"])
        return (
            "Map heavy-tailed columns to Gaussian ranks first (seleak.estimators.ksg.marginal_transform(a, "
            "'gauss-rank') on x and on y: MI is unchanged by a monotone map of each column); or use 'infonce' "
            "or 'smile', which stayed stable on heavy-tailed data where 'mine' and 'nwj' ran away; if the "
            f"inputs are not heavy-tailed, use a smaller learning rate (lr={lr / 10:g} instead of {lr:g}) or more data"
        )

    def _torch_threads(self) -> Any:
        # Critics of this size are overhead- and memory-bound on CPU: one intra-op thread is as
        # fast on an idle machine and up to tens of times faster on a busy one (thread
        # oversubscription). A GPU run leaves the CPU threads alone.
        threads = None if str(self._settings["device"]).startswith("cuda") else self._settings["threads"]
        return limit_threads(threads, blas=False)

    def _split(self, x: np.ndarray, y: np.ndarray, seed: int) -> Split:
        s = self._settings
        return split_pairs(
            x,
            y,
            seed,
            val_fraction=s["val_fraction"],
            monitor_fraction=s["monitor_fraction"],
            early_stopping=s["early_stopping"],
            name=self.name,
            chunk=self._eval_batch,
        )

    def _result(
        self,
        p: int,
        n: int,
        split: Split,
        run: TrainedCritics,
        chunks: np.ndarray,
        null: np.ndarray | None,
        seed: int,
        elapsed: float,
        split_seed: int,
    ) -> MIEstimate:
        """Problem ``p``'s estimate, reported as if it had been trained alone; ``chunks`` (2, c) holds
        the reported bound and InfoNCE on each held-out chunk."""
        value = float(np.mean(chunks[0]))
        if not np.isfinite(value):
            raise EstimatorDivergedError(f"{self.name}: problem {p} gave a non-finite held-out bound")
        progress, n_te, eb = run.progress[p], split.test.size, self._eval_batch
        flags = []
        if progress.diverged_at is not None:
            flags.append(f"diverged at step {progress.diverged_at}; checkpoint of step {progress.best_step} used")
        if n_te < eb:
            flags.append(f"test split ({n_te} pairs) smaller than eval_batch_size={eb}: one chunk of {n_te}")
        if run.monitor_curve is not None and not progress.best_value > 0:
            # Not raised: on independent data (a fully encrypted image, say) a healthy critic's monitor
            # bound hovers about 0 and is often never positive; the reader must still know that no
            # dependence was found that holds on unseen pairs.
            flags.append(
                f"monitor bound never positive (best {progress.best_value:.3g} nats, step {progress.best_step}): "
                "no dependence the critic learned held on unseen pairs; expected under independence, "
                "otherwise train longer, on more data or with another lr"
            )
        log_n = math.log(max(n_te, 2))
        if value > log_n + RUNAWAY_ABOVE_LOG_N:
            raise EstimatorDivergedError(
                f"{self.name}: held-out value {value:.4g} nats, more than {RUNAWAY_ABOVE_LOG_N:g} nats above "
                f"log n_eval = {log_n:.3g}, the most {n_te} held-out pairs can certify: the critic ran away "
                "(heavy tails?). "
                "Gauss-rank the columns (normal scores of their ranks), or use get_estimator('auto') or 'ksg'"
            )
        if value > log_n:
            # No distribution-free lower bound certifies more than log N nats from N held-out pairs
            # (McAllester & Stratos, 2020): a value above it is an artefact of the critic (heavy tails,
            # an unbounded DV/NWJ term), not a measurement.
            flags.append(
                f"held-out value {value:.3g} nats above log n_eval = {log_n:.3g}: more than "
                f"{n_te} held-out pairs can certify; gauss-rank heavy-tailed columns or use auto/ksg"
            )
        settings = self.settings
        settings["seed"] = seed
        return MIEstimate(
            nats=float(value),
            name=self.name,
            settings=settings,
            n=n,
            wall_time_s=elapsed,
            n_eval=int(n_te),  # the test split is whole chunks (or one short chunk): every pair counts
            curve=run.curve(p),
            flags=tuple(flags),
            null=null,
            details=dict(
                n_train=int(split.train.size),
                n_monitor=int(split.monitor.size),
                n_test=int(n_te),
                split_seed=int(split_seed),
                chunk_size=int(min(eb, n_te)),
                chunk_values=np.array(chunks[0], dtype=np.float64),
                chunk_infonce=np.array(chunks[1], dtype=np.float64),
                best_step=progress.best_step,
                steps_run=run.steps_run(p),
                batched_with=len(run.progress),
            ),
        )


class InfoNCE(NeuralEstimator):
    """InfoNCE / CPC bound; never above ``log(eval_batch_size)``.

    The reported number is the mean over held-out chunks of ``B`` pairs of
    ``1/B sum_i [T(x_i, y_i) - log 1/B sum_j e^{T(x_i, y_j)}]``: each chunk value is an unbiased
    estimate of a variational lower bound of ``I(X; Y)`` (for any fixed critic), and at most ``log B``.
    """

    name = "infonce"
    is_bound = True

    def ceiling(self, n_eval: int, dx: int | None = None, dy: int | None = None) -> float:
        # each held-out chunk of B pairs contributes at most log B (a split shorter than B is one
        # chunk of n_eval pairs: at most log n_eval)
        return math.log(min(self._eval_batch, n_eval))


class NWJ(NeuralEstimator):
    """NWJ (f-divergence / "f-GAN KL") bound.

    The reported number is the mean over held-out chunks of ``E_P[T] - e^{-1} E_Q[e^T]`` with both
    expectations replaced by chunk means (positives on the diagonal, negatives off it): an unbiased
    estimate of a variational lower bound of ``I(X; Y)`` for the fixed critic. No finite ceiling.
    """

    name = "nwj"
    is_bound = True
    start_offset = 1.0  # E_P[T] - e^-1 E_Q[e^T] is largest at T = 1 + log r


class MINE(NeuralEstimator):
    """Donsker–Varadhan bound with MINE's moving-average gradient correction (setting ``ema``).

    The reported number is the mean over held-out chunks of ``E_P[T] - log E_Q[e^T]`` with chunk
    means: the log of a sample mean is biased upwards (Jensen), so on finite chunks it is *not* a
    lower bound of ``I(X; Y)`` (``is_bound`` is False); ``details["chunk_infonce"]`` is one.
    """

    name = "mine"
    defaults = {**NeuralEstimator.defaults, "ema": 0.01}

    def _validate_settings(self) -> None:
        super()._validate_settings()
        a = self._settings["ema"]
        if not is_number(a) or not 0 < a <= 1:
            raise ValueError(f"mine: ema must be in (0, 1], got {a!r}")

    def _objective(self, s: Tensor, state: dict[str, Tensor]) -> Tensor:
        return mine_objective(s, state, float(self._settings["ema"]))


class SMILE(NeuralEstimator):
    """SMILE: trained on the JS objective, reported as DV with negatives clipped to ``[-clip, clip]``.

    The reported number is the mean over held-out chunks of the clipped DV value: clipping trades
    variance for a bias of either sign, so it is *not* a lower bound of ``I(X; Y)`` (``is_bound`` is
    False); ``details["chunk_infonce"]`` is one.
    """

    name = "smile"
    defaults = {**NeuralEstimator.defaults, "clip": 5.0}

    def _validate_settings(self) -> None:
        super()._validate_settings()
        c = self._settings["clip"]
        if c is not None and (not is_number(c) or not c > 0):
            raise ValueError(f"smile: clip must be a positive float or None, got {c!r}")

    def _value(self, s: Tensor) -> Tensor:
        return bound_value(self.name, s, self._settings["clip"])

    def _objective(self, s: Tensor, state: dict[str, Tensor]) -> Tensor:
        return smile_objective(s, self._settings["clip"])
