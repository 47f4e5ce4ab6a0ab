"""The adaptive adversary: MI lower bounds from encoders *trained* on the SE images.

Every number of :func:`seleak.leakage.measure_leakage` is ``I(f(X); f(SE(X)))`` for a frozen CNN
``f`` trained on plain images. By data processing it is at most what an adversary who adapts to SE
images can extract, and it can be far below: a network trained on plain images ignores exactly the
low planes an MSB scheme leaves in the clear. :func:`adaptive_leakage` trains the SE side instead:

* ``mode="semantic"``: the plain side stays the reference embedding ``f(X)`` (through a small MLP
  ``g``), the SE side is a small CNN ``h`` on ``SE(X)``: a lower bound of ``I(f(X); SE(X))``, which is
  ``>= I(f(X); f(SE(X)))`` since ``f`` is one possible ``h``;
* ``mode="image"``: both sides are CNNs, on ``X`` and on ``SE(X)``: a lower bound of ``I(X; SE(X))``,
  the image-level MI (:func:`seleak.metrics.image_level_mi` gives it exactly for bit-plane, region and
  full schemes).

The critic ``T(a, b) = t cos(g(a), h(b))`` (:mod:`seleak.leakage.encoders`) is trained to maximise
a variational bound (InfoNCE, or NWJ) on a training split of the pairs and **evaluated on pairs it
never saw**: the held-out rows are cut into ``chunks`` disjoint random batches of ``b`` pairs, and

* ``nats``: the mean held-out bound over the batches (a lower bound of the MI in expectation);
* ``ci_low``/``ci_high``: its t interval over the batches (``interval="held-out"``: the sampling
  error of the evaluation, given the trained critic);
* ``lower_bound``: a one-sided lower confidence bound of the mean of the batches' InfoNCE values
  (valid for any critic), clipped at 0: the t bound widened for their skewness
  (:func:`seleak.stats.skew_corrected_lower_bound`). Near the ceiling ``log b`` the batch values are
  bounded above and left-skewed, and the plain t bound over 10 batches under-covers. Measured for one
  fixed critic near the ceiling (``benchmarks/bench_adaptive_coverage.py``, patterns at msb:2, batch
  values of skewness -0.68 at ``b = 30`` and -1.44 at ``b = 15``): the t bound over 10 batches misses
  the critic's expected value 7.2 % / 10.1 % of the time at level 0.95 and 2.1 % / 5.5 % at 0.99; the
  default here, 20 batches and the skewness-corrected bound, misses 4.6 % / 3.5 % and 1.0 % / 0.24 %;
  at full encryption 4.3 % and 0.7 % (the t bound 4.9 % and 1.0 %). Beyond level 0.99 the correction
  does not reach far enough into the tail: at 0.999 it misses up to 0.14 %, at 0.9999 up to 0.02 %
  (the t bound: up to 1.4 % and 1.3 %). The price is power at high levels with few batches: the
  skewness term grows with the level's quantile, and at level 0.9999 over 10 batches a critic whose
  0.95 bound is 1.4 nats can be given 0;
* ``p_value``: a permutation test with the trained critic fixed: the held-out pairing is permuted
  and the bound recomputed (the critic never saw those pairs, so under independence every pairing is
  equally likely: an exact test, smallest p ``1 / (permutations + 1)``);
* ``ceiling``: ``log b`` for InfoNCE (no batch of ``b`` pairs certifies more), ``log n_eval`` for NWJ;
  ``saturated``: the estimate within :data:`SATURATION` of it, or (NWJ) the InfoNCE lower bound within
  :data:`SATURATION` of ``log b`` (report ``>= lower_bound``);
* ``flags``: training diagnostics: the best monitored step was the last check (still improving: raise
  ``steps``), no monitor split (too few training pairs for one batch: the last critic is kept), a
  held-out bound below 0.

:func:`fit_adaptive` returns the trained critic with the result (:class:`AdaptiveFit`), for the maps
of :mod:`seleak.leakage.maps`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import stats as sps

from seleak import stats
from seleak._runtime import limit_threads, seeded
from seleak._validation import check_device, check_float, check_int, check_str, is_number
from seleak.encryption import check_images
from seleak.estimators import EstimatorDivergedError
from seleak.estimators.neural.bounds import bound_value
from seleak.heldout import chunk_count

from .encoders import (
    FEATURES,
    ConvEncoder,
    Normalised,
    ScaledSE,
    VectorEncoder,
    feature_channels,
    image_features,
    separable_scores,
)
from .measure import SATURATION, LeakageResult

__all__ = ["MODES", "BOUNDS", "AdaptiveFit", "fit_adaptive", "adaptive_leakage", "is_saturated"]

#: What the plain side is: the frozen embedding ``f(X)`` ("semantic") or the image itself ("image").
MODES = ("semantic", "image")
#: The variational bounds the critic can be trained on.
BOUNDS = ("infonce", "nwj")

# Threads torch trains on (CPU): a fixed count, so one seed gives one critic on one machine (kernels of
# other machines may differ in the last digits).
_TRAIN_THREADS = 1
# Permutations scored at once (memory: block x n_eval x d floats).
_PERM_BLOCK = 128
# A held-out bound this far below 0 is rounding (e.g. constant images: all scores equal), not a failure.
_TOLERANCE = 1e-9
# The monitor bound is computed in float32 (scores near 10): a change below this is rounding.
_MONITOR_TOLERANCE = 1e-5


@dataclass
class AdaptiveFit:
    """A trained adaptive critic, the rows it was evaluated on, and its :class:`LeakageResult`.

    ``test_rows``: the input rows evaluated, in batch order (batch ``c`` is rows ``c*b .. (c+1)*b - 1``
    of it, ``b = chunk_size``); ``plain_codes``: the plain side's encoding of those rows, ``(n_eval, d)``;
    ``se_images``: the SE images of those rows (uint8), what :meth:`pointwise` re-encodes.
    """

    result: LeakageResult
    mode: str
    bound: str
    features: str
    se_encoder: torch.nn.Module
    plain_codes: torch.Tensor
    se_images: np.ndarray
    test_rows: np.ndarray
    chunk_size: int
    device: str
    train_curve: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_eval(self) -> int:
        return int(self.test_rows.size)

    def encode_se(self, se_images: np.ndarray | None = None, batch: int = 512) -> torch.Tensor:
        """The SE side's codes of ``se_images`` (default: the evaluated rows' own), ``(n, d)`` on the CPU."""
        ims = self.se_images if se_images is None else se_images
        dev = torch.device(self.device)
        self.se_encoder.eval()
        out = []
        with torch.inference_mode(), limit_threads(_TRAIN_THREADS if dev.type == "cpu" else None):
            for s in range(0, ims.shape[0], batch):
                out.append(self.se_encoder(image_features(ims[s : s + batch], self.features).to(dev)).cpu())
        return torch.cat(out).double()

    def pointwise(self, se_images: np.ndarray | None = None) -> np.ndarray:
        """Each evaluated pair's InfoNCE term ``T(a_i, b_i) - log mean_j exp T(a_i, b_j)`` within its batch
        (nats; their mean over a batch is the batch's InfoNCE value) -> ``(n_eval,)``, in the order of
        ``test_rows``. With ``se_images`` (same rows, e.g. occluded), those are scored instead."""
        if se_images is not None:
            if not isinstance(se_images, np.ndarray) or se_images.dtype != np.uint8:
                raise TypeError(
                    "se_images must be a uint8 numpy array of the evaluated rows' SE images, got "
                    f"{type(se_images).__name__} {getattr(se_images, 'dtype', '')}"
                )
            if se_images.shape != self.se_images.shape:
                raise ValueError(
                    f"se_images must have the shape of the evaluated SE images {self.se_images.shape} (same rows, "
                    f"same order as test_rows), got {se_images.shape}"
                )
        s = _chunk_scores(self.plain_codes, self.encode_se(se_images), self.chunk_size)
        terms = torch.diagonal(s, dim1=-2, dim2=-1) - torch.logsumexp(s, dim=-1) + math.log(self.chunk_size)
        return terms.reshape(-1).numpy()


def _chunk_scores(a: torch.Tensor, b: torch.Tensor, size: int) -> torch.Tensor:
    """Codes ``(..., n, d)`` of both sides -> score matrices ``(..., n // size, size, size)`` of the batches."""
    *lead, n, d = b.shape
    c = n // size
    aa = a[..., : c * size, :].reshape(*a.shape[:-2], c, size, d)
    bb = b[..., : c * size, :].reshape(*lead, c, size, d)
    return separable_scores(aa, bb)


def is_saturated(nats: float, lower_bound: float, ceiling: float, batch: int) -> bool:
    """Whether an adaptive result says "at least", not how much: the reported value within
    :data:`SATURATION` of its ``ceiling``, or the lower bound (held-out InfoNCE, whatever bound was
    trained) within :data:`SATURATION` of ``log batch``, the most a batch of ``batch`` pairs certifies."""
    return bool(nats >= SATURATION * ceiling or lower_bound >= SATURATION * math.log(batch))


def _batch_values(a: torch.Tensor, b: torch.Tensor, size: int, bound: str) -> torch.Tensor:
    """The held-out bound of each batch of ``size`` pairs, codes ``(..., n, d)`` of both sides ->
    ``(..., n // size)``: the observed statistic is their mean, and so is every permuted one."""
    return bound_value(bound, _chunk_scores(a, b, size))


def _plain_vectors(plain_images: np.ndarray, embedder: Any, device: str) -> tuple[np.ndarray, str]:
    """The plain side of the semantic mode: ``f(X)`` as float32 ``(N, D)`` and its description."""
    n = plain_images.shape[0]
    if isinstance(embedder, np.ndarray):
        z = embedder
        name = "given plain embeddings"
    elif isinstance(embedder, str) or hasattr(embedder, "embed"):
        from seleak.embedding import get_embedder

        emb = get_embedder(embedder, device=device) if isinstance(embedder, str) else embedder
        z = emb.embed(plain_images, progress=False)
        name = str(getattr(emb, "name", embedder))
    else:
        raise TypeError(
            "embedder must be an embedder spec such as 'trained:digits', an Embedder, or an (N, D) array of "
            f"plain embeddings; got {type(embedder).__name__}"
        )
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] != n or not np.issubdtype(z.dtype, np.floating):
        raise ValueError(
            f"the plain embeddings must be a float array (N, D) with N = {n} rows; got {z.shape} {z.dtype}"
        )
    if not np.isfinite(z).all():
        raise ValueError("the plain embeddings hold NaN or inf")
    return z.astype(np.float32), f"{name} ({z.shape[1]} dims)"


def _check_settings(**kw: Any) -> dict[str, Any]:
    out = dict(kw)
    out["mode"] = check_str(kw["mode"], "mode", choices=MODES)
    out["bound"] = check_str(kw["bound"], "bound", choices=BOUNDS)
    out["features"] = check_str(kw["features"], "features", choices=FEATURES)
    out["device"] = check_device(kw["device"], "device")
    for name, lo in (("steps", 1), ("batch_size", 2), ("permutations", 1), ("chunks", 2), ("seed", 0)):
        out[name] = check_int(kw[name], name, minimum=lo)
    for name, lo in (("embed_dim", 1), ("width", 1), ("eval_every", 1)):
        out[name] = check_int(kw[name], name, minimum=lo)
    out["lr"] = check_float(kw["lr"], "lr", low=0.0)
    out["test_fraction"] = check_float(kw["test_fraction"], "test_fraction", low=0.0, high=1.0)
    for name in ("monitor_fraction", "weight_decay"):
        v = kw[name]
        if not is_number(v) or not math.isfinite(float(v)) or float(v) < 0:
            raise ValueError(f"{name} must be a finite number >= 0 (not a bool or a string), got {v!r}")
        out[name] = float(v)
    if out["monitor_fraction"] >= 1:
        raise ValueError(f"monitor_fraction must be below 1 (0: no early stopping), got {kw['monitor_fraction']!r}")
    for name in ("level", "bound_level"):
        out[name] = check_float(kw[name], name, low=0.0, high=1.0)
    return out


def fit_adaptive(
    plain_images: np.ndarray,
    se_images: np.ndarray,
    embedder: Any = "trained:digits",
    mode: str = "semantic",
    *,
    bound: str = "infonce",
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    test_fraction: float = 0.3,
    monitor_fraction: float = 0.2,
    eval_every: int = 10,
    chunks: int = 20,
    permutations: int = 999,
    features: str = "bits",
    embed_dim: int = 32,
    width: int = 16,
    level: float = 0.95,
    bound_level: float = 0.95,
    seed: int = 0,
    device: str = "cpu",
) -> AdaptiveFit:
    """Train an adaptive critic on ``(X, SE(X))`` pairs and evaluate it on held-out pairs.

    Args:
        plain_images, se_images: uint8 ``(N, H, W[, C])`` batches of the same shape, row i of both is
            image i (``se_images`` may be any transform of the plain images, not only an encryption).
        embedder: mode ``"semantic"``: the frozen plain-side embedding, as a spec of
            :func:`seleak.embedding.get_embedder`, an ``Embedder``, or an ``(N, D)`` float array of
            plain embeddings; ignored by mode ``"image"``.
        mode: ``"semantic"`` (plain side ``f(X)``) or ``"image"`` (plain side a CNN on ``X``).
        bound: the trained and reported bound, ``"infonce"`` or ``"nwj"`` (the lower bound is always the
            held-out InfoNCE of the trained critic).
        steps, batch_size, lr, weight_decay: Adam on mini-batches of training pairs.
        test_fraction: share of the pairs held out for evaluation; chunks: held-out batches (at most;
            each of at least 5 pairs). 20 by default: the skewness-corrected lower bound needs that many
            to cover near the ceiling; the ceiling is ``log b`` with ``b`` the batch size this leaves, so
            more chunks or fewer held-out pairs lower it.
        monitor_fraction, eval_every: early stopping: this share of the training pairs is set aside and
            the bound on it computed every ``eval_every`` steps; the critic of the best value is kept
            (0: no early stopping, the last critic is kept). The test pairs are never looked at.
        permutations: permuted pairings of the fixed-critic test (Holm over a family of ``m`` tests at
            level ``alpha`` needs ``permutations + 1 >= m / alpha``).
        features: what the image encoders read, ``"bits"`` (bit-planes) or ``"pixels"``.
        embed_dim, width: the encoders' code dimension and convolution width.
        level: of the two-sided held-out interval; bound_level: of the one-sided lower bound (its
            measured coverage is nominal at 0.95 and 0.99; above, see the module docstring).
        seed: initialisation, split, mini-batches and permutations; device: ``"cpu"`` or ``"cuda"``.

    Raises:
        TypeError / ValueError: images that are not paired uint8 batches, too few pairs for the split,
            a setting out of range (the message names it);
        seleak.estimators.EstimatorDivergedError: a held-out bound that is not finite.
    """
    t0 = time.perf_counter()
    cfg = _check_settings(
        mode=mode, bound=bound, steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        test_fraction=test_fraction, monitor_fraction=monitor_fraction, eval_every=eval_every, chunks=chunks,
        permutations=permutations, features=features, embed_dim=embed_dim,
        width=width, level=level, bound_level=bound_level, seed=seed, device=device,
    )  # fmt: skip
    plain = check_images(plain_images, "plain_images")
    se = check_images(se_images, "se_images")
    if plain.shape != se.shape:
        raise ValueError(
            f"plain_images and se_images must have the same shape (paired rows); got {plain.shape} and {se.shape}"
        )
    if plain.ndim == 3:
        plain, se = plain[..., None], se[..., None]
    n = plain.shape[0]
    n_test = int(round(n * cfg["test_fraction"]))
    c = chunk_count(n_test, cfg["chunks"])
    n_train = n - n_test
    if c < 2 or n_train < cfg["batch_size"]:
        raise ValueError(
            f"too few pairs: {n} pairs with test_fraction={cfg['test_fraction']} give {n_test} held-out pairs "
            f"(need at least 10) and {n_train} training pairs (need at least batch_size={cfg['batch_size']}); "
            "give more images, or lower batch_size"
        )
    b = n_test // c
    rng = np.random.default_rng([cfg["seed"], 7])
    perm = rng.permutation(n)
    test_rows, train_rows = perm[: c * b], perm[n_test:]
    # early stopping watches a monitor part of the training pairs (never the test pairs)
    n_mon = (int(round(n_train * cfg["monitor_fraction"])) // b) * b
    if n_mon >= b and n_train - n_mon >= cfg["batch_size"]:
        monitor_rows, train_rows = train_rows[:n_mon], train_rows[n_mon:]
    else:
        monitor_rows = train_rows[:0]
    n_train = train_rows.size

    dev = torch.device(cfg["device"])
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch sees no CUDA device; use device='cpu'")
    if cfg["mode"] == "semantic":
        z, plain_name = _plain_vectors(plain, embedder, cfg["device"])
        mu, sd = z[train_rows].mean(axis=0), z[train_rows].std(axis=0)
        sd[sd == 0] = 1.0
        plain_in = torch.from_numpy((z - mu) / sd)
        representation = (
            f"semantic: {plain_name} of X vs a CNN trained on SE(X) ({cfg['features']} input); "
            f"{n_train} training pairs, {c} held-out batches of {b}"
        )
    else:
        plain_in = None
        representation = (
            f"image: a CNN on X vs a CNN on SE(X) ({cfg['features']} input); "
            f"{n_train} training pairs, {c} held-out batches of {b}"
        )
    chans = feature_channels(plain.shape[-1], cfg["features"])

    def encode_plain(enc: torch.nn.Module, rows: np.ndarray) -> torch.Tensor:
        if plain_in is not None:
            return enc(plain_in[rows].to(dev))
        return enc(image_features(plain[rows], cfg["features"]).to(dev))

    threads = _TRAIN_THREADS if dev.type == "cpu" else None
    with limit_threads(threads), seeded(cfg["seed"], deterministic=dev.type == "cuda"):
        if plain_in is not None:
            enc_p: torch.nn.Module = Normalised(VectorEncoder(plain_in.shape[1], cfg["embed_dim"]))
        else:
            enc_p = Normalised(ConvEncoder(chans, cfg["embed_dim"], cfg["width"]))
        enc_s = ScaledSE(ConvEncoder(chans, cfg["embed_dim"], cfg["width"]))
        enc_p.to(dev)
        enc_s.to(dev)
        params = [*enc_p.parameters(), *enc_s.parameters()]
        opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        gen = torch.Generator().manual_seed(cfg["seed"])
        order = np.zeros(0, dtype=np.int64)
        curve = np.zeros(cfg["steps"])
        bs = cfg["batch_size"]
        best = (-math.inf, -1, None)

        def watch(step: int) -> tuple[float, int, Any]:
            if not monitor_rows.size:
                return best
            with torch.inference_mode():
                a = encode_plain(enc_p, monitor_rows)
                bb = enc_s(image_features(se[monitor_rows], cfg["features"]).to(dev))
                v = float(bound_value(cfg["bound"], _chunk_scores(a, bb, b)).mean())
            if v > best[0] + _MONITOR_TOLERANCE:  # a real improvement, not float32 rounding (constant images)
                state = [{k: t.detach().clone() for k, t in m.state_dict().items()} for m in (enc_p, enc_s)]
                return v, step, state
            return best

        for step in range(cfg["steps"]):
            if order.size < bs:
                order = train_rows[torch.randperm(n_train, generator=gen).numpy()]
            rows, order = order[:bs], order[bs:]
            s = separable_scores(encode_plain(enc_p, rows), enc_s(image_features(se[rows], cfg["features"]).to(dev)))
            value = bound_value(cfg["bound"], s)
            opt.zero_grad(set_to_none=True)
            (-value).backward()
            opt.step()
            curve[step] = float(value.detach())
            if (step + 1) % cfg["eval_every"] == 0 or step + 1 == cfg["steps"]:
                best = watch(step + 1)
        if best[2] is not None:
            for m, state in zip((enc_p, enc_s), best[2]):
                m.load_state_dict(state)
        enc_p.eval()
        enc_s.eval()
        with torch.inference_mode():
            codes_p = torch.cat([encode_plain(enc_p, test_rows[i : i + 512]).cpu() for i in range(0, c * b, 512)])
    codes_p = codes_p.double()
    fit = AdaptiveFit(
        result=None,  # type: ignore[arg-type]  # filled in below
        mode=cfg["mode"], bound=cfg["bound"], features=cfg["features"], se_encoder=enc_s, plain_codes=codes_p,
        se_images=se[test_rows], test_rows=test_rows, chunk_size=b, device=cfg["device"], train_curve=curve,
    )  # fmt: skip
    codes_s = fit.encode_se()
    values = _batch_values(codes_p, codes_s, b, cfg["bound"]).numpy()
    infonce = _batch_values(codes_p, codes_s, b, "infonce").numpy()
    if not (np.isfinite(values).all() and np.isfinite(infonce).all()):
        raise EstimatorDivergedError(
            f"adaptive {cfg['mode']} critic: a held-out {cfg['bound']} value is not finite; lower lr "
            f"(now {cfg['lr']}) or use bound='infonce'"
        )
    nats = float(values.mean())
    null = _permutation_null(codes_p, codes_s, b, cfg["bound"], cfg["permutations"], cfg["seed"])
    p = stats.permutation_p_value(null, nats)
    half = float(sps.t.ppf(0.5 + cfg["level"] / 2, c - 1) * values.std(ddof=1) / math.sqrt(c))
    lb = max(0.0, stats.skew_corrected_lower_bound(infonce, level=cfg["bound_level"]))
    ceiling = math.log(b) if cfg["bound"] == "infonce" else math.log(c * b)
    # NWJ reports its own value, capped at log n_eval, but its lower bound is InfoNCE, capped at log b
    saturated = is_saturated(nats, lb, ceiling, b)
    flags: list[str] = []
    if nats < -_TOLERANCE:
        flags.append("held-out bound below 0: the trained critic does not generalise to unseen pairs")
    if not monitor_rows.size:
        flags.append(
            f"no early stopping: {n_train} training pairs leave no monitor batch of {b} (monitor_fraction="
            f"{cfg['monitor_fraction']}); the last critic is kept"
        )
    elif best[1] == cfg["steps"]:
        flags.append(
            f"still improving: the best monitored value was at the last check (step {best[1]}); raise steps"
            + (
                f" (near the ceiling log {b}: larger held-out batches, i.e. fewer chunks or more held-out pairs, "
                "would show more than more steps)"
                if saturated
                else ""
            )
        )
    names = ("mode", "bound", "steps", "batch_size", "lr", "weight_decay", "test_fraction", "monitor_fraction",
             "eval_every", "chunks", "features", "embed_dim", "width", "seed", "device")  # fmt: skip
    settings: dict[str, Any] = {k: cfg[k] for k in names}
    settings["best_step"] = best[1]
    if cfg["mode"] == "semantic":
        settings["embedder"] = embedder if isinstance(embedder, str) else plain_name
    fit.result = LeakageResult(
        estimator=f"adaptive:{cfg['mode']}", nats=nats, ci_low=nats - half, ci_high=nats + half, p_value=float(p),
        permutations=cfg["permutations"], interval="held-out", ceiling=float(ceiling), saturated=bool(saturated),
        representation=representation, n=n, n_eval=c * b, lower_bound=lb,
        lower_bound_method=f"InfoNCE of the trained critic on {c} held-out batches of {b}, one-sided t bound "
        "widened for skewness",
        degenerate=False, is_bound=True, seed_sd=math.nan, level=cfg["level"], bound_level=cfg["bound_level"],
        settings=settings, flags=tuple(flags), wall_s=time.perf_counter() - t0,
    )  # fmt: skip
    return fit


def _permutation_null(
    a: torch.Tensor, b: torch.Tensor, size: int, bound: str, permutations: int, seed: int
) -> np.ndarray:
    """The held-out bound of the fixed critic with the pairing permuted over all evaluated rows, computed
    exactly as the estimate is (same batches of positions) -> ``(permutations,)``."""
    rng = np.random.default_rng([seed, 11])
    n = b.shape[0]
    out = []
    for s in range(0, permutations, _PERM_BLOCK):
        r = min(_PERM_BLOCK, permutations - s)
        idx = torch.from_numpy(np.stack([rng.permutation(n) for _ in range(r)]))
        out.append(_batch_values(a, b[idx], size, bound).mean(-1).numpy())  # (r, c) -> (r,)
    return np.concatenate(out)


def adaptive_leakage(
    plain_images: np.ndarray,
    se_images: np.ndarray,
    embedder: Any = "trained:digits",
    mode: str = "semantic",
    seed: int = 0,
    **settings: Any,
) -> LeakageResult:
    """The adaptive adversary's leakage, as a :class:`LeakageResult` of the same shape as
    :func:`~seleak.leakage.measure_leakage`'s: ``fit_adaptive(...).result`` (see :func:`fit_adaptive`
    for the settings: ``bound``, ``steps``, ``batch_size``, ``lr``, ``test_fraction``, ``chunks``,
    ``permutations``, ``features``, ``device`` ...)."""
    return fit_adaptive(plain_images, se_images, embedder, mode, seed=seed, **settings).result
