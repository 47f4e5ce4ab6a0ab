"""Training M critics together: splits, mini-batches, Adam steps, checkpoints and early stopping.

Each problem has its own seed, split, initialisation and mini-batches, and its own early stopping
(:class:`EarlyStopping` keeps one :class:`CriticProgress` per critic), so a critic trained in a batch
follows the trajectory it would follow alone; only float rounding differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from ..base import EstimatorDivergedError, rescale_columns
from .baseline import gaussian_log_ratio
from .critics import Critic
from .evaluation import BoundFn, evaluate_bound

__all__ = [
    "Split",
    "split_pairs",
    "held_out_size",
    "CriticProgress",
    "EarlyStopping",
    "TrainedCritics",
    "Objective",
    "train_critics",
    "RUNAWAY_NATS",
    "TrainingStretch",
    "held_out_ran_away",
    "patience_now",
    "resolved_min_patience",
    "MIN_PATIENCE_GAUSSIAN_START",
    "SHORT_WAIT_MIN_NATS",
    "SHORT_WAIT_GAIN_NATS",
]

#: A stretch of training whose median training bound is below ``-RUNAWAY_NATS`` nats is a runaway.
#: Why 1 nat: a constant critic scores 0 on every bound (NWJ's ``T = 0`` scores ``-1/e``), and the
#: optimiser maximises the bound on the very batches it is scored on, so a healthy critic, even one
#: overfitting or trained on independent data, scores about 0 or more there. Measured over about 150
#: healthy critics (the four bounds; Gaussians with MI 0, 0.5, 2 nats in 2 + 2 and 3 + 3 dimensions
#: at N = 125 to 5000, the 20-dimensional staircase to 10 nats, default and study settings) the lowest
#: stretch median was -0.10 nats. MINE and NWJ on Student-t pairs (df = 2, 3 + 3 dimensions, MI 0.29)
#: went to -2 to -380 nats: the optimiser going the wrong way, not a small sample.
RUNAWAY_NATS = 1.0

#: ``min_patience`` (see :func:`patience_now`) of a critic started at the Gaussian log ratio. Measured on the
#: ground-truth suite (15 tasks, N = 1 000 and 5 000, data seed 101) and the four Gaussian speed tasks,
#: against the fixed wait of 20: the steps of the Gaussian tasks fell about threefold (120 to 240 instead of
#: 420 to 780); of the suite's 90 estimates (3 bounds) none got worse and four moved, each for the better.
#: A random start keeps the fixed ``patience``: it rises from 0, so an early best there is noise, not an optimum.
MIN_PATIENCE_GAUSSIAN_START = 5
#: the best monitor bound (nats) from which ``min_patience`` applies (see :func:`patience_now`). Measured
#: (SMILE, suite tasks, fixed wait): on Student-t 1 + 1 pairs (df 1, N = 1 000, data seed 101) the monitor
#: bound stayed within 0.005 of 0 for 14 evaluations before it rose, and on the 4 x 5 discrete table (MI
#: 0.076, N = 5 000, data seed 102) it crept from 0.040 to 0.093 over 27.
SHORT_WAIT_MIN_NATS = 0.1
#: the most (nats) a critic's best monitor bound may exceed its first one and still earn the short wait
#: (see :func:`patience_now`). Measured from the Gaussian start (suite, data seed 101, N = 1 000 and 5 000,
#: and the speed tasks): on the Gaussian tasks the best was within 0.022 of the first evaluation (36 runs),
#: on the sparse 20 + 20 Gaussian within 0.047; SMILE on warped marginals (exp/sinh/sigmoid 3 + 3,
#: N = 5 000) gained 0.09 within three evaluations and 0.14 in all, and the three bounds on a linear plus
#: quadratic coupling (6 + 6 columns, N = 3 000, two data seeds) 0.29 to 0.59.
SHORT_WAIT_GAIN_NATS = 0.05

#: scores (M, B, B) and a state carried across steps -> the objective to maximise (M,)
Objective = Callable[[Tensor, dict[str, Tensor]], Tensor]


@dataclass(frozen=True)
class Split:
    """One problem's standardised pairs and the rows of its three parts.

    ``monitor`` is only watched for early stopping (empty without it); ``test`` is never seen in
    training, which is what makes the fixed-critic permutation null valid.
    """

    x: np.ndarray  # float32 (N, dx), standardised with the training part's mean and sd
    y: np.ndarray  # float32 (N, dy), likewise
    train: np.ndarray
    monitor: np.ndarray
    test: np.ndarray

    def pairs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.x[rows], self.y[rows]


def held_out_size(n: int, val_fraction: float, chunk: int | None = None) -> int:
    """Held-out pairs out of ``n`` for ``val_fraction``, evaluated in chunks of ``chunk`` pairs.

    Without ``chunk``: ``round(val_fraction * n)`` (at least 2). With it, a whole number of chunks,
    so that no held-out pair goes unevaluated: ``val_fraction * n`` rounded to the nearest multiple
    of ``chunk`` (halves up), at least one chunk (the pairs this moves go to or come from training),
    and at most as many chunks as leave ``min(chunk, n - round(val_fraction * n))`` pairs outside the
    test split (one batch for training, or what ``val_fraction`` would leave if that is less). When
    not even one chunk fits (``n`` below about ``2 * chunk``) the test split stays
    ``round(val_fraction * n)`` pairs, fewer than ``chunk``, evaluated as one chunk.
    """
    plain = max(2, int(round(val_fraction * n)))
    if chunk is None:
        return plain
    nearest = max(1, math.floor(val_fraction * n / chunk + 0.5))
    fits = (n - min(chunk, n - plain)) // chunk
    k = min(nearest, fits)
    return k * chunk if k >= 1 else plain


def split_pairs(
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    *,
    val_fraction: float,
    monitor_fraction: float,
    early_stopping: bool,
    name: str,
    chunk: int | None = None,
) -> Split:
    """Split ``(x, y)`` once (seeded) into train / monitor / test parts and standardise both sides.

    The test part has :func:`held_out_size` pairs (a multiple of ``chunk`` when given and it fits),
    or fewer whole chunks when that would leave fewer than two training pairs.
    """
    # exact power-of-two scaling first: a variance of data near 1e300 overflows (and one near 1e-300
    # underflows), which would standardise every input to 0 or NaN
    x, y = rescale_columns(x), rescale_columns(y)
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    n = x.shape[0]

    def n_train(n_test: int) -> int:
        rest = n - n_test
        return rest - (max(2, int(round(monitor_fraction * rest))) if early_stopping else 0)

    n_test = held_out_size(n, val_fraction, chunk)
    if chunk is not None and n_train(n_test) < 2:
        # tiny data: fewer whole chunks, or the plain split as one short chunk, whichever still
        # leaves two training pairs (never a failure where the plain split would have worked)
        plain = held_out_size(n, val_fraction)
        smaller = [k * chunk for k in range(n_test // chunk - 1, 0, -1)] + ([plain] if plain < chunk else [])
        n_test = next((t for t in smaller if n_train(t) >= 2), n_test)
    rest = perm[n_test:]
    n_mon = max(2, int(round(monitor_fraction * rest.size))) if early_stopping else 0
    train = rest[n_mon:]
    if train.size < 2:
        raise ValueError(f"{name}: only {train.size} training pairs left after the splits; give more data")
    return Split(_standardised(x, train), _standardised(y, train), train, rest[:n_mon], perm[:n_test])


def _standardised(a: np.ndarray, train: np.ndarray) -> np.ndarray:
    mu, sd = a[train].mean(0), a[train].std(0)
    sd[sd == 0] = 1.0  # a column constant on the training part only
    return ((a - mu) / sd).astype(np.float32)


@dataclass
class CriticProgress:
    """Where one critic's training stands."""

    best_value: float = -math.inf  # best monitor bound so far
    best_step: int | None = None  # step of the kept checkpoint (None: none yet)
    since_best: int = 0  # evaluations without improvement
    evaluations: int = 0  # monitor evaluations seen while active
    best_evaluation: int = 0  # how many of them it took to reach the best (1: the first)
    first_value: float = math.nan  # the first finite monitor bound: what the start scored
    active: bool = True  # still being checkpointed
    diverged_at: int | None = None  # first step with a non-finite training bound
    stopped_at: int | None = None  # evaluation step at which it stopped (None: ran to the end)

    def observe(self, value: float, patience: int, min_patience: int | None = None) -> bool:
        """Record a monitor bound; True when it is a new best (to be checkpointed).

        The critic stops after :func:`patience_now` evaluations without improvement.
        """
        if self.active:
            self.evaluations += 1
        improved = self.active and math.isfinite(value) and value > self.best_value
        if improved:
            self.best_value, self.since_best, self.best_evaluation = value, 0, self.evaluations
            if math.isnan(self.first_value):
                self.first_value = value
        elif self.active:
            self.since_best += 1
        wait = patience_now(patience, min_patience, self.best_evaluation, self.best_value, self.first_value)
        self.active = self.active and self.since_best < wait
        return improved


def patience_now(
    patience: int, min_patience: int | None, best_evaluation: int, best_value: float, first_value: float
) -> int:
    """Evaluations without improvement that stop a critic whose best monitor bound, ``best_value`` nats,
    came at its ``best_evaluation``-th evaluation, its first finite one having been ``first_value``.

    The short wait ``min(patience, max(min_patience, best_evaluation))`` (as long as it took to reach the
    best, at least ``min_patience``, at most ``patience``) applies when the start was already about as good
    as the critic got: ``best_value >= SHORT_WAIT_MIN_NATS`` and ``best_value - first_value <=
    SHORT_WAIT_GAIN_NATS``. Otherwise, and always with ``min_patience=None``, the wait is ``patience``.

    Why: from the Gaussian start on Gaussian pairs the first evaluation already scores the optimum and the
    monitor bound only falls after it, as the network overfits; waiting ``patience`` evaluations there is
    pure cost. A critic that has gained more than ``SHORT_WAIT_GAIN_NATS`` over its start is learning what
    the Gaussian start missed (warped marginals, a non-linear coupling), and its monitor bound can dip for
    a few evaluations before it climbs again, so it keeps the full wait. A best below
    ``SHORT_WAIT_MIN_NATS`` means the start found next to nothing (independent pairs; Student-t pairs, whose
    dependence is a shared scale, not a correlation; a weak discrete table), where the monitor bound can
    stay flat for hundreds of steps before the network finds the dependence: the full wait too.
    """
    started_near_best = best_value >= SHORT_WAIT_MIN_NATS and best_value - first_value <= SHORT_WAIT_GAIN_NATS
    if min_patience is None or not started_near_best:
        return patience
    return min(patience, max(min_patience, best_evaluation))


class EarlyStopping:
    """Checkpoints and stopping decisions of M critics held in one batched model's ``params``.

    Given monitor bounds, a critic is checkpointed when its bound improves and stops after
    :func:`patience_now` evaluations without improvement (``patience``, or fewer with ``min_patience``);
    without them (no early stopping), every evaluation checkpoints the last finite state. A critic whose
    training bound turns non-finite stops being checkpointed, so its last good checkpoint is the one used.
    """

    def __init__(self, params: Iterable[Tensor], n_critics: int, patience: int, min_patience: int | None = None):
        self.params = list(params)
        self.best = [w.detach().clone() for w in self.params]
        self.critics = [CriticProgress() for _ in range(n_critics)]
        self.patience, self.min_patience = patience, min_patience

    @property
    def any_active(self) -> bool:
        return any(c.active for c in self.critics)

    def note_finite(self, finite: np.ndarray, step: int) -> None:
        """Stop the critics whose training bound is not finite at ``step``."""
        for c, ok in zip(self.critics, finite):
            if not ok and c.diverged_at is None:
                c.diverged_at, c.active = step, False

    def evaluate(self, step: int, monitor: np.ndarray | None) -> None:
        """The decisions of an evaluation step, ``monitor`` holding each critic's monitor bound."""
        if monitor is None:
            keep = [c.active for c in self.critics]
        else:
            keep = [c.observe(float(v), self.patience, self.min_patience) for c, v in zip(self.critics, monitor)]
        self._checkpoint(keep, step)
        # a critic stops at the evaluation where a run of its own would have left its loop
        for c in self.critics:
            if not c.active and c.stopped_at is None:
                c.stopped_at = step

    def _checkpoint(self, keep: list[bool], step: int) -> None:
        if not any(keep):
            return
        sel = torch.tensor(keep, device=self.params[0].device)
        with torch.no_grad():
            for kept, w in zip(self.best, self.params):
                kept[sel] = w.detach()[sel]
        for c, k in zip(self.critics, keep):
            if k:
                c.best_step = step

    def restore_best(self, name: str) -> None:
        """Load every critic's kept checkpoint; raise if a critic has none."""
        missing = [p for p, c in enumerate(self.critics) if c.best_step is None]
        if missing:
            raise EstimatorDivergedError(
                f"{name}: the critic of problem(s) {missing} diverged before any finite checkpoint "
                f"(step {[self.critics[p].diverged_at for p in missing]}); lower lr, use 'smile' or "
                "'infonce', or standardise inputs"
            )
        with torch.no_grad():
            for w, kept in zip(self.params, self.best):
                w.copy_(kept)


def held_out_ran_away(chunk_values: np.ndarray) -> bool:
    """True when held-out chunk values average below ``-RUNAWAY_NATS`` and more than ``RUNAWAY_NATS``
    below their median.

    The chunks are i.i.d. batches given the critic, so a mean that far below their median is one
    catastrophic batch (on heavy-tailed data a single extreme pair makes ``e^T`` astronomical: MINE
    reported -2.9 nats and NWJ -2e18 with every other chunk near 0), and the mean is that one batch,
    not an estimate. A single chunk (mean = median) never counts: a small test split's value can be a
    nat or two below 0 on independent data by chance alone (measured down to -1.96 at N = 125).
    """
    v = np.asarray(chunk_values, dtype=np.float64)
    mean, med = float(np.mean(v)), float(np.median(v))
    return mean < -RUNAWAY_NATS and mean < med - RUNAWAY_NATS


@dataclass(frozen=True)
class TrainingStretch:
    """The stretch of steps (between two monitor evaluations) where a critic's training bound had its
    lowest median: a runaway when ``median < -RUNAWAY_NATS``."""

    median: float  # nats
    first_step: int
    last_step: int

    @property
    def ran_away(self) -> bool:
        return self.median < -RUNAWAY_NATS


@dataclass
class TrainedCritics:
    """The outcome of :func:`train_critics`: the critics at their kept checkpoints and their curves."""

    critic: Critic
    progress: list[CriticProgress]
    steps: int
    train_curve: np.ndarray  # (steps, M) training bound per step; NaN after the loop ended
    monitor_curve: list[np.ndarray] | None  # (M,) per evaluation step; None without early stopping
    eval_steps: list[int] = field(default_factory=list)

    def steps_run(self, p: int) -> int:
        """Steps critic ``p`` ran, as if it had been trained alone."""
        stopped = self.progress[p].stopped_at
        return self.steps if stopped is None else stopped

    def lowest_stretch(self, p: int) -> TrainingStretch | None:
        """Critic ``p``'s lowest median training bound over the stretches of steps between two monitor
        evaluations (finite steps before any divergence only: a non-finite bound is flagged as a
        divergence instead); ``None`` when no step is finite.

        Why medians of stretches: the mini-batch value of MINE and NWJ jumps by tens of nats on single
        batches (one large ``e^T``) in healthy training; a stretch whose median is far below 0 means that
        most batches of it scored far worse than a constant critic would.
        """
        last = self.steps_run(p)
        diverged = self.progress[p].diverged_at
        if diverged is not None:
            last = min(last, diverged - 1)
        bounds = [0] + [e for e in self.eval_steps if e <= last]
        if bounds[-1] < last:
            bounds.append(last)
        lowest: TrainingStretch | None = None
        for a, b in zip(bounds[:-1], bounds[1:]):
            vals = self.train_curve[a:b, p]
            vals = vals[np.isfinite(vals)]
            if vals.size and (lowest is None or float(np.median(vals)) < lowest.median):
                lowest = TrainingStretch(float(np.median(vals)), a + 1, b)
        return lowest

    def curve(self, p: int) -> dict[str, np.ndarray]:
        """Critic ``p``'s curves up to its own stop."""
        last = self.steps_run(p)
        out = {
            "step": np.arange(1, last + 1),
            "train": self.train_curve[:last, p].copy(),
            "eval_step": np.asarray([e for e in self.eval_steps if e <= last]),
        }
        if self.monitor_curve is not None:
            out["monitor"] = np.asarray([v[p] for v, e in zip(self.monitor_curve, self.eval_steps) if e <= last])
        return out


class _TrainingPairs:
    """Every problem's training pairs, zero-padded to one tensor, and its mini-batch draws."""

    def __init__(
        self,
        splits: Sequence[Split],
        gens: Sequence[torch.Generator],
        batch_size: int,
        dx: int,
        dy: int,
        device: torch.device,
    ):
        m, nmax = len(splits), max(sp.train.size for sp in splits)
        xs = np.zeros((m, nmax, dx), np.float32)
        ys = np.zeros((m, nmax, dy), np.float32)
        for p, sp in enumerate(splits):
            xs[p, : sp.train.size, : sp.x.shape[1]], ys[p, : sp.train.size, : sp.y.shape[1]] = sp.pairs(sp.train)
        self.x, self.y = torch.from_numpy(xs).to(device), torch.from_numpy(ys).to(device)
        self.sizes = [sp.train.size for sp in splits]
        self.gens, self.batch_size, self.device = gens, batch_size, device
        self.rows = torch.arange(m, device=device)[:, None]

    def draw(self) -> tuple[Tensor, Tensor]:
        """One mini-batch per problem (from its own generator): x (M, 1, B, dx), y (M, 1, B, dy)."""
        idx = torch.stack(
            [torch.randint(n, (self.batch_size,), generator=g) for n, g in zip(self.sizes, self.gens)]
        ).to(self.device)
        return self.x[self.rows, idx].unsqueeze(1), self.y[self.rows, idx].unsqueeze(1)


def _adam_step(
    critic: Critic,
    opt: torch.optim.Optimizer,
    objective: Objective,
    value: BoundFn,
    xb: Tensor,
    yb: Tensor,
    state: dict[str, Tensor],
) -> tuple[np.ndarray, np.ndarray]:
    """One step on every problem's objective -> (training bound (M,), finite mask (M,))."""
    sc = critic.scores(xb, yb)[:, 0]
    obj = objective(sc, state)
    with torch.no_grad():
        val = value(sc).detach().cpu().numpy()
    finite = np.isfinite(val) & np.isfinite(obj.detach().cpu().numpy())
    opt.zero_grad(set_to_none=False)
    loss = -torch.where(torch.from_numpy(finite).to(obj.device), obj, torch.zeros_like(obj)).sum()
    loss.backward()
    for w in critic.parameters():  # a diverged problem's NaNs stay in its own slice, never in others'
        if w.grad is not None:
            torch.nan_to_num_(w.grad, nan=0.0, posinf=0.0, neginf=0.0)
    opt.step()
    return val, finite


def train_critics(
    splits: Sequence[Split],
    seeds: Sequence[int],
    settings: Mapping[str, Any],
    objective: Objective,
    value: BoundFn,
    eval_batch: int,
    device: torch.device,
    name: str,
    start_offset: float = 0.0,
) -> TrainedCritics:
    """Train one critic per split (the estimator's ``settings``), each from its own seed, together.

    With ``init="gaussian"`` each critic starts at the Gaussian log ratio of its training pairs plus
    ``start_offset`` (the constant by which the bound's optimal critic exceeds the log ratio: 1 for NWJ).

    Returns the critics loaded with their kept checkpoints; raises
    :class:`~seleak.estimators.base.EstimatorDivergedError` when a critic has no finite checkpoint.
    """
    gens = [torch.Generator().manual_seed(sd) for sd in seeds]  # initialisation, then mini-batches
    # init "gaussian": each critic starts at the Gaussian log ratio of its own training pairs
    start = None
    if settings["init"] == "gaussian":
        start = [gaussian_log_ratio(*sp.pairs(sp.train)) for sp in splits]
        start = [q._replace(c=q.c + start_offset) for q in start]
    critic = Critic(
        settings["critic"],
        [sp.x.shape[1] for sp in splits],
        [sp.y.shape[1] for sp in splits],
        settings["hidden"],
        settings["embed_dim"],
        gens,
        start,
    ).to(device)
    opt = torch.optim.Adam(critic.parameters(), lr=settings["lr"], foreach=True)  # one fused update for all tensors
    stopper = EarlyStopping(critic.parameters(), len(splits), settings["patience"], resolved_min_patience(settings))
    steps = settings["steps"]
    eval_every = settings["eval_every"] or max(10, steps // 50)
    run = TrainedCritics(
        critic,
        stopper.critics,
        steps,
        np.full((steps, len(splits)), np.nan, np.float32),
        [] if settings["early_stopping"] else None,
    )
    batches = _TrainingPairs(splits, gens, settings["batch_size"], critic.dx, critic.dy, device)
    mon_x, mon_y = zip(*(sp.pairs(sp.monitor) for sp in splits))
    state: dict[str, Tensor] = {}
    for step in _steps(steps, settings["progress"], name):
        run.train_curve[step - 1], finite = _adam_step(critic, opt, objective, value, *batches.draw(), state)
        stopper.note_finite(finite, step)
        if step % eval_every == 0 or step == steps:
            run.eval_steps.append(step)
            mv = None
            if run.monitor_curve is not None:
                mv = evaluate_bound(critic, value, mon_x, mon_y, eval_batch, device)
                run.monitor_curve.append(mv)
            stopper.evaluate(step, mv)
            if not stopper.any_active:
                break
    stopper.restore_best(name)
    return run


def resolved_min_patience(settings: Mapping[str, Any]) -> int | None:
    """The ``min_patience`` a critic trained with ``settings`` uses (see :func:`patience_now`): the setting,
    or when it is ``None``, ``MIN_PATIENCE_GAUSSIAN_START`` from the Gaussian start and none (the fixed
    ``patience``) from a random one."""
    if settings.get("min_patience") is not None:
        return int(settings["min_patience"])
    return MIN_PATIENCE_GAUSSIAN_START if settings["init"] == "gaussian" else None


def _steps(steps: int, progress: bool, name: str) -> Iterable[int]:
    if not progress:
        return range(1, steps + 1)
    from tqdm.auto import tqdm  # only imported when a bar is asked for

    return tqdm(range(1, steps + 1), desc=name, leave=False)
