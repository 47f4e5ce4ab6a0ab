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
Inputs are standardised with the training part's mean and standard deviation.

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
checkpoint exists, :class:`~seleak.estimators.base.EstimatorDivergedError` is raised.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from .base import (
    Estimator,
    EstimatorDivergedError,
    MIEstimate,
    _choice_setting,
    _int_setting,
    check_pair,
    rescale_columns,
)

__all__ = ["NeuralEstimator", "MINE", "NWJ", "InfoNCE", "SMILE", "bound_value"]


# --- the bounds, on score matrices S[..., i, j] = T(x_i, y_j) -----------------------------------

def _offdiag_logmeanexp(s: Tensor) -> Tensor:
    b = s.shape[-1]
    eye = torch.eye(b, dtype=torch.bool, device=s.device)
    off = s.masked_fill(eye, float("-inf"))
    return torch.logsumexp(off.flatten(-2), dim=-1) - math.log(b * (b - 1))


def _diag_mean(s: Tensor) -> Tensor:
    return torch.diagonal(s, dim1=-2, dim2=-1).mean(-1)


def bound_value(kind: str, s: Tensor, clip: float | None = None) -> Tensor:
    """The reported value of a bound on score matrices ``s`` (..., B, B) -> (...)."""
    if kind == "infonce":
        b = s.shape[-1]
        return (torch.diagonal(s, dim1=-2, dim2=-1) - torch.logsumexp(s, dim=-1)).mean(-1) + math.log(b)
    if kind == "nwj":
        return _diag_mean(s) - torch.exp(_offdiag_logmeanexp(s) - 1.0)
    if kind == "mine":
        return _diag_mean(s) - _offdiag_logmeanexp(s)
    if kind == "smile":
        neg = s if clip is None else torch.clamp(s, -clip, clip)
        return _diag_mean(s) - _offdiag_logmeanexp(neg)
    raise ValueError(kind)


def _js_fgan(s: Tensor) -> Tensor:
    """Jensen–Shannon f-GAN objective (SMILE's training objective)."""
    b = s.shape[-1]
    eye = torch.eye(b, dtype=torch.bool, device=s.device)
    pos = -torch.nn.functional.softplus(-torch.diagonal(s, dim1=-2, dim2=-1)).mean(-1)
    neg = torch.nn.functional.softplus(s).masked_fill(eye, 0.0).sum((-2, -1)) / (b * (b - 1))
    return pos - neg


# --- batched critics ------------------------------------------------------------------------------

class _BatchedMLP(torch.nn.Module):
    """M independent MLPs evaluated together: input (M, R, d_in) -> (M, R, d_out)."""

    def __init__(self, in_dims: Sequence[int], in_pad: int, hidden: Sequence[int], out: int,
                 gens: Sequence[torch.Generator], in_slices: Sequence[Sequence[slice]] | None = None):
        super().__init__()
        sizes = [in_pad, *hidden, out]
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        m = len(gens)
        for layer, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
            w = torch.zeros(m, fi, fo)
            b = torch.zeros(m, 1, fo)
            for p, g in enumerate(gens):
                true_fi = in_dims[p] if layer == 0 else fi
                bound = 1.0 / math.sqrt(true_fi)  # torch.nn.Linear's default initialisation
                wp = (torch.rand(true_fi, fo, generator=g) * 2 - 1) * bound
                if layer == 0:
                    # scatter the problem's real input rows into the padded layout
                    rows = torch.cat([torch.arange(sl.start, sl.stop) for sl in in_slices[p]])  # type: ignore[index]
                    w[p, rows] = wp
                else:
                    w[p] = wp
                b[p, 0] = (torch.rand(fo, generator=g) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))

    def forward(self, h: Tensor, start: int = 0) -> Tensor:
        n = len(self.weights)
        for i in range(start, n):
            h = torch.baddbmm(self.biases[i], h, self.weights[i])
            if i < n - 1:
                h = torch.relu(h)
        return h


class _Critic(torch.nn.Module):
    """Separable ``f(x)·g(y)`` or joint ``h([x, y])`` critics, M of them at once."""

    def __init__(self, kind: str, dxs: Sequence[int], dys: Sequence[int], hidden: Sequence[int],
                 embed_dim: int, gens: Sequence[torch.Generator]):
        super().__init__()
        self.kind = kind
        self.dx, self.dy = max(dxs), max(dys)
        if kind == "separable":
            self.f = _BatchedMLP(dxs, self.dx, hidden, embed_dim, gens, [[slice(0, d)] for d in dxs])
            self.g = _BatchedMLP(dys, self.dy, hidden, embed_dim, gens, [[slice(0, d)] for d in dys])
        else:
            dims = [a + b for a, b in zip(dxs, dys)]
            slices = [[slice(0, a), slice(self.dx, self.dx + b)] for a, b in zip(dxs, dys)]
            self.h = _BatchedMLP(dims, self.dx + self.dy, hidden, 1, gens, slices)

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        """x (M, C, b, dx), y (M, C, b, dy) -> scores (M, C, b, b), S[..., i, j] = T(x_i, y_j)."""
        m, c, b, _ = x.shape
        if self.kind == "separable":
            fx = self.f(x.reshape(m, c * b, -1)).reshape(m, c, b, -1)
            gy = self.g(y.reshape(m, c * b, -1)).reshape(m, c, b, -1)
            return fx @ gy.transpose(-1, -2)
        # Joint critic: the first layer is affine in [x, y], so W1 [x_i; y_j] = W1x x_i + W1y y_j;
        # computing the two halves once per sample saves the (b*b, dx+dy) concatenation.
        w1, b1 = self.h.weights[0], self.h.biases[0]
        ax = torch.bmm(x.reshape(m, c * b, -1), w1[:, : self.dx]).reshape(m, c, b, 1, -1)
        ay = torch.bmm(y.reshape(m, c * b, -1), w1[:, self.dx :]).reshape(m, c, 1, b, -1)
        h1 = torch.relu(ax + ay + b1.reshape(m, 1, 1, 1, -1))
        out = self.h(h1.reshape(m, c * b * b, -1), start=1)
        return out.reshape(m, c, b, b)


# --- the estimator -------------------------------------------------------------------------------

class NeuralEstimator(Estimator):
    """Common machinery of ``mine``, ``nwj``, ``infonce`` and ``smile`` (see the module docstring)."""

    kind: str = "infonce"
    fixed_critic_null = True
    neural = True
    min_n = 20
    defaults: dict[str, Any] = {
        "steps": 2000,  # Adam steps
        "batch_size": 64,  # pairs per mini-batch (B)
        "lr": 5e-4,  # Adam learning rate
        "seed": 0,  # split, initialisation and mini-batches
        "device": "cpu",  # "cpu" or "cuda" (never required)
        "critic": "separable",  # "separable" f(x)·g(y), or "joint" h([x, y])
        "hidden": (256, 256),  # hidden layer widths of each MLP
        "embed_dim": 32,  # separable critic: width of f(x) and g(y)
        "val_fraction": 0.25,  # held-out test pairs: the estimate and permutation nulls are computed there
        "monitor_fraction": 0.1,  # of the remaining pairs, watched for early stopping
        "early_stopping": True,  # keep the best checkpoint on the monitor pairs; stop after `patience`
        "patience": 20,  # evaluations without improvement before a critic stops being checkpointed
        "eval_every": None,  # steps between monitor evaluations (None: max(10, steps // 50))
        "eval_batch_size": None,  # chunk size of held-out evaluation (None: batch_size)
        "progress": False,  # tqdm progress bar
        "threads": 1,  # CPU threads for torch during the call (None: leave torch's setting)
    }

    def _validate_settings(self) -> None:
        s = self._settings
        _int_setting(self.name, "steps", s["steps"], 1)
        _int_setting(self.name, "batch_size", s["batch_size"], 2)
        _int_setting(self.name, "seed", s["seed"], 0)
        if not isinstance(s["lr"], (int, float)) or isinstance(s["lr"], bool) or not s["lr"] > 0:
            raise ValueError(f"{self.name}: lr must be a positive float, got {s['lr']!r}")
        dev = s["device"]
        if not isinstance(dev, str) or not (dev == "cpu" or dev.startswith("cuda")):
            raise ValueError(f"{self.name}: device must be 'cpu' or 'cuda' (or 'cuda:N'), got {dev!r}")
        _choice_setting(self.name, "critic", s["critic"], ("separable", "joint"))
        hid = s["hidden"]
        if isinstance(hid, (int, np.integer)):
            hid = (int(hid),)
        if not isinstance(hid, (tuple, list)) or not all(isinstance(h, (int, np.integer)) and h >= 1 for h in hid):
            raise ValueError(f"{self.name}: hidden must be a tuple of positive ints, got {s['hidden']!r}")
        s["hidden"] = tuple(int(h) for h in hid)
        _int_setting(self.name, "embed_dim", s["embed_dim"], 1)
        for key, hi in (("val_fraction", 0.9), ("monitor_fraction", 0.9)):
            v = s[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= hi:
                raise ValueError(f"{self.name}: {key} must be in (0, {hi}], got {v!r}")
        if not isinstance(s["early_stopping"], bool):
            raise TypeError(f"{self.name}: early_stopping must be True or False, got {s['early_stopping']!r}")
        _int_setting(self.name, "patience", s["patience"], 1)
        if s["eval_every"] is not None:
            _int_setting(self.name, "eval_every", s["eval_every"], 1)
        if s["eval_batch_size"] is not None:
            _int_setting(self.name, "eval_batch_size", s["eval_batch_size"], 2)
        if s["threads"] is not None:
            _int_setting(self.name, "threads", s["threads"], 1)
        if not isinstance(s["progress"], bool):
            raise TypeError(f"{self.name}: progress must be True or False, got {s['progress']!r}")

    # the training objective per problem (M,), to be maximised; MINE overrides it
    def _objective(self, s: Tensor, state: dict[str, Tensor]) -> Tensor:
        return bound_value(self.kind, s)

    def _value(self, s: Tensor) -> Tensor:
        return bound_value(self.kind, s)

    # ---------------------------------------------------------------------------------------------
    def estimate(self, x: Any, y: Any) -> MIEstimate:
        """Train a critic on part of the pairs and report the bound on the held-out part."""
        return self.estimate_many([(x, y)])[0]

    def estimate_many(
        self,
        pairs: Sequence[tuple[Any, Any]],
        *,
        seeds: Sequence[int] | None = None,
        n_permutations: int = 0,
        permutation_seed: int = 0,
    ) -> list[MIEstimate]:
        """Estimate MI for several ``(x, y)`` pairs with one critic each, trained together.

        ``seeds`` gives each problem its own seed (default: the ``seed`` setting for all), so
        ``estimate_many([(x, y)] * 5, seeds=range(5))`` is a seed-repeat study in one training.
        With ``n_permutations > 0`` every result carries ``null``: the bound of its fixed trained
        critic on its test pairs with ``y`` permuted (see the module docstring for why that is a
        valid permutation null). Results are in the order of ``pairs``.
        """
        # Critics of this size are overhead- and memory-bound on CPU: one intra-op thread is as
        # fast on an idle machine and up to tens of times faster on a busy one (thread
        # oversubscription). The previous setting is restored afterwards.
        threads = self._settings["threads"]
        if threads is None or str(self._settings["device"]).startswith("cuda"):
            return self._estimate_many(pairs, seeds, n_permutations, permutation_seed)
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return self._estimate_many(pairs, seeds, n_permutations, permutation_seed)
        finally:
            torch.set_num_threads(old)

    def _estimate_many(
        self,
        pairs: Sequence[tuple[Any, Any]],
        seeds: Sequence[int] | None,
        n_permutations: int,
        permutation_seed: int,
    ) -> list[MIEstimate]:
        """The work of :meth:`estimate_many`, under the thread setting."""
        t0 = time.perf_counter()
        if len(pairs) == 0:
            raise ValueError(f"{self.name}: estimate_many needs at least one (x, y) pair")
        s = self._settings
        seeds = [s["seed"]] * len(pairs) if seeds is None else [int(v) for v in seeds]
        if len(seeds) != len(pairs):
            raise ValueError(f"{self.name}: {len(seeds)} seeds for {len(pairs)} pairs")
        if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)) or n_permutations < 0:
            raise ValueError(f"{self.name}: n_permutations must be an int >= 0, got {n_permutations!r}")
        device = torch.device(s["device"])
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{self.name}: device='cuda' asked but no CUDA device is available; use device='cpu'")
        data = [check_pair(x, y, min_n=self.min_n, name=self.name) for x, y in pairs]
        m = len(data)
        b = s["batch_size"]
        eb = s["eval_batch_size"] or b

        # --- splits and standardisation, per problem, seeded by the problem's seed
        splits = []
        for (xa, ya), seed in zip(data, seeds):
            # exact power-of-two scaling first: a variance of data near 1e300 overflows (and one near
            # 1e-300 underflows), which would standardise every input to 0 or NaN
            xa, ya = rescale_columns(xa), rescale_columns(ya)
            n = xa.shape[0]
            perm = np.random.default_rng(seed).permutation(n)
            n_test = max(2, int(round(s["val_fraction"] * n)))
            rest = perm[n_test:]
            n_mon = max(2, int(round(s["monitor_fraction"] * rest.size))) if s["early_stopping"] else 0
            tr, mon, te = rest[n_mon:], rest[:n_mon], perm[:n_test]
            if tr.size < 2:
                raise ValueError(f"{self.name}: only {tr.size} training pairs left after the splits; give more data")
            mu_x, sd_x = xa[tr].mean(0), xa[tr].std(0)
            mu_y, sd_y = ya[tr].mean(0), ya[tr].std(0)
            sd_x[sd_x == 0] = 1.0  # a column constant on the training part only
            sd_y[sd_y == 0] = 1.0
            zx = ((xa - mu_x) / sd_x).astype(np.float32)
            zy = ((ya - mu_y) / sd_y).astype(np.float32)
            splits.append(dict(x=zx, y=zy, tr=tr, mon=mon, te=te))
        dxs = [d["x"].shape[1] for d in splits]
        dys = [d["y"].shape[1] for d in splits]
        dx, dy = max(dxs), max(dys)

        def padded(part: str, lens: list[int]) -> tuple[Tensor, Tensor]:
            nmax = max(lens)
            xs = np.zeros((m, nmax, dx), np.float32)
            ys = np.zeros((m, nmax, dy), np.float32)
            for p, d in enumerate(splits):
                idx = d[part]
                xs[p, : idx.size, : dxs[p]] = d["x"][idx]
                ys[p, : idx.size, : dys[p]] = d["y"][idx]
            return torch.from_numpy(xs).to(device), torch.from_numpy(ys).to(device)

        n_tr = [d["tr"].size for d in splits]
        xtr, ytr = padded("tr", n_tr)

        # --- model, optimiser, per-problem generators (init and mini-batches)
        gens = [torch.Generator().manual_seed(sd) for sd in seeds]
        critic = _Critic(s["critic"], dxs, dys, s["hidden"], s["embed_dim"], gens).to(device)
        params = list(critic.parameters())
        opt = torch.optim.Adam(params, lr=s["lr"], foreach=True)  # one fused update for all tensors
        state: dict[str, Tensor] = {}
        steps = s["steps"]
        eval_every = s["eval_every"] or max(10, steps // 50)
        rows = torch.arange(m, device=device)[:, None]

        train_curve = np.full((steps, m), np.nan, np.float32)
        eval_steps: list[int] = []
        mon_curve: list[np.ndarray] = []
        best = [p.detach().clone() for p in params]
        best_val = np.full(m, -np.inf)
        best_step = np.zeros(m, dtype=np.int64)
        since_best = np.zeros(m, dtype=np.int64)
        active = np.ones(m, dtype=bool)  # still being checkpointed
        stopped_at = np.full(m, steps, dtype=np.int64)  # step at which each problem stopped
        stop_recorded = np.zeros(m, dtype=bool)
        diverged_at = np.full(m, -1, dtype=np.int64)
        has_ckpt = np.zeros(m, dtype=bool)

        if s["early_stopping"]:
            mon_x = [d["x"][d["mon"]] for d in splits]
            mon_y = [d["y"][d["mon"]] for d in splits]

        def checkpoint(mask: np.ndarray, step: int) -> None:
            with torch.no_grad():
                sel = torch.from_numpy(mask).to(device)
                for bp, p in zip(best, params):
                    bp[sel] = p.detach()[sel]
            best_step[mask] = step
            has_ckpt[mask] = True

        iterator: Any = range(1, steps + 1)
        if s["progress"]:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc=self.name, leave=False)
        for step in iterator:
            idx = torch.stack([torch.randint(n_tr[p], (b,), generator=gens[p]) for p in range(m)]).to(device)
            xb = xtr[rows, idx].unsqueeze(1)
            yb = ytr[rows, idx].unsqueeze(1)
            sc = critic.scores(xb, yb)[:, 0]
            obj = self._objective(sc, state)  # (M,)
            with torch.no_grad():
                val = self._value(sc).detach().cpu().numpy()
            train_curve[step - 1] = val
            finite = np.isfinite(val) & np.isfinite(obj.detach().cpu().numpy())
            newly = (~finite) & (diverged_at < 0)
            if newly.any():
                diverged_at[newly] = step
                active[newly] = False
            opt.zero_grad(set_to_none=False)
            loss = -torch.where(torch.from_numpy(finite).to(device), obj, torch.zeros_like(obj)).sum()
            loss.backward()
            for p in params:  # a diverged problem's NaNs stay in its own slice, never in others'
                if p.grad is not None:
                    torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
            opt.step()

            if step % eval_every == 0 or step == steps:
                eval_steps.append(step)
                if s["early_stopping"]:
                    mv = self._evaluate(critic, mon_x, mon_y, eb, device)
                    mon_curve.append(mv)
                    improved = active & np.isfinite(mv) & (mv > best_val)
                    best_val[improved] = mv[improved]
                    since_best[improved] = 0
                    since_best[active & ~improved] += 1
                    checkpoint(improved, step)
                    active &= since_best < s["patience"]
                else:
                    checkpoint(active.copy(), step)  # the last finite state
                # a problem stops (patience exhausted, or diverged) at the evaluation where a
                # sequential run would have left its loop
                just = ~active & ~stop_recorded
                stopped_at[just] = step
                stop_recorded |= just
                if not active.any():
                    break

        if (~has_ckpt).any():
            bad = np.flatnonzero(~has_ckpt).tolist()
            raise EstimatorDivergedError(
                f"{self.name}: the critic of problem(s) {bad} diverged before any finite checkpoint "
                f"(step {diverged_at[bad].tolist()}); lower lr, use 'smile' or 'infonce', or standardise inputs"
            )
        with torch.no_grad():
            for p, bp in zip(params, best):
                p.copy_(bp)

        te_x = [d["x"][d["te"]] for d in splits]
        te_y = [d["y"][d["te"]] for d in splits]
        values = self._evaluate(critic, te_x, te_y, eb, device)
        nulls: list[np.ndarray | None] = [None] * m
        if n_permutations:
            perms = []
            for p in range(m):  # the same seed gives the same permutations whatever the batching
                rng = np.random.default_rng(permutation_seed)
                perms.append(np.stack([rng.permutation(te_x[p].shape[0]) for _ in range(n_permutations)]))
            null_vals = self._evaluate_null(critic, te_x, te_y, eb, device, perms)
            if not np.isfinite(null_vals).all():
                raise EstimatorDivergedError(f"{self.name}: non-finite bound under permutation")
            nulls = list(null_vals)

        elapsed = (time.perf_counter() - t0) / m
        results = []
        for p in range(m):
            flags = []
            if diverged_at[p] >= 0:
                flags.append(f"diverged at step {diverged_at[p]}; checkpoint of step {best_step[p]} used")
            n_te = splits[p]["te"].size
            if n_te < eb:
                flags.append(f"test split ({n_te} pairs) smaller than eval_batch_size={eb}: one chunk of {n_te}")
            if not np.isfinite(values[p]):
                raise EstimatorDivergedError(f"{self.name}: problem {p} gave a non-finite held-out bound")
            settings = self.settings
            settings["seed"] = seeds[p]
            last = int(stopped_at[p])  # this problem's own stop (as if it had been trained alone)
            curve = {
                "step": np.arange(1, last + 1),
                "train": train_curve[:last, p].copy(),
                "eval_step": np.asarray([e for e in eval_steps if e <= last]),
            }
            if s["early_stopping"]:
                curve["monitor"] = np.asarray([v[p] for v, e in zip(mon_curve, eval_steps) if e <= last])
            results.append(
                MIEstimate(
                    nats=float(values[p]),
                    name=self.name,
                    settings=settings,
                    n=data[p][0].shape[0],
                    wall_time_s=elapsed,
                    n_eval=(n_te // min(eb, n_te)) * min(eb, n_te),
                    curve=curve,
                    flags=tuple(flags),
                    null=nulls[p],
                    details=dict(
                        n_train=int(splits[p]["tr"].size), n_monitor=int(splits[p]["mon"].size),
                        n_test=int(n_te), best_step=int(best_step[p]), steps_run=last,
                        batched_with=m,
                    ),
                )
            )
        return results

    # --- held-out evaluation ---------------------------------------------------------------------
    def _evaluate(self, critic: _Critic, xs: list[np.ndarray], ys: list[np.ndarray], eb: int,
                  device: torch.device, perms: list[np.ndarray] | None = None) -> np.ndarray:
        """Mean chunk bound per problem on its own pairs ``(xs[p], ys[p])`` (``ys[p]`` permuted by
        ``perms[p]`` when given).

        Each split is cut into chunks of ``eb`` consecutive pairs; a remainder shorter than ``eb`` is
        dropped, unless the split is shorter than one chunk (then it is one chunk).
        """
        return self._evaluate_null(critic, xs, ys, eb, device, [None] * len(xs) if perms is None else perms)[:, 0]

    def _evaluate_null(self, critic: _Critic, xs: list[np.ndarray], ys: list[np.ndarray], eb: int,
                       device: torch.device, perms: Sequence[Any]) -> np.ndarray:
        """Like ``_evaluate`` for a list of permutation sets: ``perms[p]`` is ``None`` (identity), one
        permutation, or an array (R, n_p) of them. Returns (M, R)."""
        m = len(xs)
        ns = [a.shape[0] for a in xs]
        sizes = [min(eb, n) for n in ns]
        chunks = [max(1, n // eb) for n in ns]
        nmax = max(ns)
        xin = torch.zeros(m, 1, nmax, critic.dx, device=device)
        yin = torch.zeros(m, 1, nmax, critic.dy, device=device)
        for p in range(m):
            xin[p, 0, : ns[p], : xs[p].shape[1]] = torch.from_numpy(xs[p]).to(device)
            yin[p, 0, : ns[p], : ys[p].shape[1]] = torch.from_numpy(ys[p]).to(device)
        plist = []
        for p in range(m):
            pp = perms[p]
            if pp is None:
                pp = np.arange(ns[p])[None]
            pp = np.atleast_2d(np.asarray(pp))
            plist.append(pp)
        r = plist[0].shape[0]
        out = np.empty((m, r))
        with torch.no_grad():
            if critic.kind == "separable":
                # embeddings once; a permutation only reorders g(y)'s rows
                fx = critic.f(xin[:, 0])  # (M, nmax, e)
                gy = critic.g(yin[:, 0])
                for p in range(m):
                    c, size = chunks[p], sizes[p]
                    f_p = fx[p, : c * size].reshape(c, size, -1)
                    for i in range(r):
                        g_p = gy[p, torch.from_numpy(plist[p][i]).to(device)][: c * size].reshape(c, size, -1)
                        out[p, i] = float(self._value(f_p @ g_p.transpose(-1, -2)).mean())
                return out
            # joint critic (b*b pair rows per chunk): all problems go through the batched model
            # together, chunk-group by chunk-group to bound memory; a problem with fewer chunks
            # gets zero chunks that are ignored.
            size = sizes[0]
            if any(sz != size for sz in sizes):  # a split shorter than eb: one problem at a time
                for p in range(m):
                    only = [None if q != p else plist[p] for q in range(m)]
                    sub = self._joint_eval(critic, xin, yin, [sizes[p]] * m, chunks, only, r, device)
                    out[p] = sub[p]
                return out
            return self._joint_eval(critic, xin, yin, sizes, chunks, plist, r, device)

    def _joint_eval(self, critic: _Critic, xin: Tensor, yin: Tensor, sizes: list[int], chunks: list[int],
                    plist: list[np.ndarray | None], r: int, device: torch.device) -> np.ndarray:
        """Joint-critic chunk bounds for the problems whose ``plist`` entry is not None -> (M, R)."""
        m = xin.shape[0]
        size = sizes[0]
        cmax = max(c for c, pp in zip(chunks, plist) if pp is not None)
        group = max(1, (1 << 16) // (size * size))
        out = np.full((m, r), np.nan)
        for i in range(r):
            xs = torch.zeros(m, cmax, size, critic.dx, device=device)
            ys = torch.zeros(m, cmax, size, critic.dy, device=device)
            for p in range(m):
                if plist[p] is None:
                    continue
                c = chunks[p]
                perm = torch.from_numpy(plist[p][i]).to(device)
                xs[p, :c] = xin[p, 0, : c * size].reshape(c, size, -1)
                ys[p, :c] = yin[p, 0, perm][: c * size].reshape(c, size, -1)
            vals = torch.cat([self._value(critic.scores(xs[:, g0 : g0 + group], ys[:, g0 : g0 + group]))
                              for g0 in range(0, cmax, group)], dim=1)  # (M, cmax)
            for p in range(m):
                if plist[p] is not None:
                    out[p, i] = float(vals[p, : chunks[p]].mean())
        return out


class InfoNCE(NeuralEstimator):
    """InfoNCE / CPC bound; never above ``log(eval_batch_size)``."""

    name = "infonce"
    kind = "infonce"

    def ceiling(self, n_eval: int) -> float:
        # each held-out chunk of B pairs contributes at most log B
        return math.log(int(self._settings["eval_batch_size"] or self._settings["batch_size"]))


class NWJ(NeuralEstimator):
    """NWJ (f-divergence / "f-GAN KL") bound."""

    name = "nwj"
    kind = "nwj"


class MINE(NeuralEstimator):
    """Donsker–Varadhan bound with MINE's moving-average gradient correction (setting ``ema``)."""

    name = "mine"
    kind = "mine"
    defaults = {**NeuralEstimator.defaults, "ema": 0.01}

    def _validate_settings(self) -> None:
        super()._validate_settings()
        a = self._settings["ema"]
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a <= 1:
            raise ValueError(f"mine: ema must be in (0, 1], got {a!r}")

    def _objective(self, s: Tensor, state: dict[str, Tensor]) -> Tensor:
        lme = _offdiag_logmeanexp(s)  # log of the batch mean of e^T over negatives
        a = float(self._settings["ema"])
        cur = lme.detach()
        if "log_ema" not in state:
            state["log_ema"] = cur.clone()
        else:  # the moving average of E_Q[e^T], kept in log space (no overflow)
            state["log_ema"] = torch.logaddexp(state["log_ema"] + math.log1p(-a), cur + math.log(a))
            state["log_ema"] = torch.where(torch.isfinite(state["log_ema"]), state["log_ema"], cur)
        # d/dθ of exp(lme - log_ema) = grad E_Q[e^T] / EMA: MINE's bias-corrected gradient of log E_Q[e^T]
        return _diag_mean(s) - torch.exp(lme - state["log_ema"])


class SMILE(NeuralEstimator):
    """SMILE: trained on the JS objective, reported as DV with negatives clipped to ``[-clip, clip]``."""

    name = "smile"
    kind = "smile"
    defaults = {**NeuralEstimator.defaults, "clip": 5.0}

    def _validate_settings(self) -> None:
        super()._validate_settings()
        c = self._settings["clip"]
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0):
            raise ValueError(f"smile: clip must be a positive float or None, got {c!r}")

    def _objective(self, s: Tensor, state: dict[str, Tensor]) -> Tensor:
        # value = clipped DV, gradient = JS (Song & Ermon's implementation): js + (dv - js).detach()
        js = _js_fgan(s)
        return js + (self._value(s) - js).detach()

    def _value(self, s: Tensor) -> Tensor:
        return bound_value("smile", s, self._settings["clip"])
