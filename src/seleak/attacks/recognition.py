"""Recognition: a small CNN trained on SE images with the data set's labels, and the label-MI bound it gives.

Its test accuracy, and its test cross-entropy turned into a lower bound on the mutual information
between the label and the SE image:

    I(Y; X) = H(Y) - H(Y | X)  >=  H(Y) - CE,    CE = E[-log q(Y | X)]  for ANY model q,

because ``E[-log q(Y|X)] - H(Y|X) = E_X[KL(p(.|X) || q(.|X))] >= 0`` (Gibbs' inequality). The CNN is
one such ``q``; a better model only tightens the bound. ``CE`` is measured on test images the model
never saw, so it is an unbiased estimate of the cross-entropy of that fixed ``q`` (the bound is thus an
estimate too, with the sampling error of a mean over the test set); ``H(Y)`` is the empirical entropy of
the labels (the plug-in entropy is biased low, which only makes the bound more conservative). The bound
can come out negative (a poor or over-confident ``q``), which says nothing beyond ``I >= 0``, so it is
reported clipped at 0 next to the raw value.

The CNN and its training loop are those of the embedder (:mod:`seleak.embedding.models`), with this
attack's own settings: three narrower blocks, bit-plane input channels on request, Adam at a constant
rate, the best epoch on a validation split, and a temperature fitted there.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from seleak._validation import is_int
from seleak.attacks.masks import plane_count, scheme_spec, to_nhwc
from seleak.encryption import as_scheme, check_images
from seleak.entropy import entropy_nats

__all__ = ["FEATURES", "RecognitionResult", "label_entropy", "recognition_attack"]

#: What the CNN of :func:`recognition_attack` may read.
FEATURES = ("both", "bitplanes", "pixels")

# three small conv blocks and a global average pool: ~15k weights, ~3 M multiply-adds per 32×32
# image, so 1-2k images train in seconds per epoch on a shared CPU; pooling keeps odd borders
# (ceil_mode), so any image size works
_WIDTHS = (16, 32, 32)


def label_entropy(labels: np.ndarray) -> float:
    """Empirical (plug-in) Shannon entropy of integer labels, in nats."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-D integer array, got dtype {lab.dtype}, shape {lab.shape}")
    return entropy_nats(np.unique(lab, return_counts=True)[1])


@dataclass(frozen=True)
class RecognitionResult:
    """A classifier trained on SE images, and the label-MI lower bound it gives.

    Attributes:
        scheme: the scheme's spec, or ``""`` when not given.
        k: number of encrypted planes, or ``None``.
        accuracy: test accuracy.
        chance: accuracy of always answering the training set's most frequent class, on the test set.
        cross_entropy_nats: mean test cross-entropy ``-log q(y|x)`` after temperature calibration.
        label_entropy_nats: empirical entropy of all the labels, ``H(Y)``.
        mi_lower_bound_nats: ``max(0, H(Y) - CE)``, the reported bound on ``I(label; SE image)``.
        mi_lower_bound_raw_nats: ``H(Y) - CE`` before clipping (negative: the bound says nothing).
        temperature: the softmax temperature fitted on the validation split.
        n_train, n_val, n_test: split sizes; features: ``"both"``, ``"bitplanes"`` or ``"pixels"``;
        epochs, seed, wall_time_s: how it was run.
    """

    scheme: str
    k: int | None
    accuracy: float
    chance: float
    cross_entropy_nats: float
    label_entropy_nats: float
    mi_lower_bound_nats: float
    mi_lower_bound_raw_nats: float
    temperature: float
    n_train: int
    n_val: int
    n_test: int
    features: str
    epochs: int
    seed: int
    wall_time_s: float

    @property
    def mi_lower_bound_bits(self) -> float:
        """The clipped bound in bits."""
        return self.mi_lower_bound_nats / math.log(2.0)

    def to_row(self) -> dict[str, Any]:
        """A flat dict for a tidy table."""
        return asdict(self)


def _features(images: np.ndarray, features: str) -> np.ndarray:
    """float32 (N, C', H, W): centred pixels, every bit-plane as a ±1 channel, or both.

    Bit-planes let the network read a clear plane directly. A CNN on raw values would have to learn a
    parity-like function to separate a clear LSB from the noise of encrypted MSBs, which small networks
    do badly; an attacker who knows the scheme would not make it that hard for himself.
    """
    x = to_nhwc(images)
    if features not in FEATURES:
        raise ValueError(f"features must be one of {list(FEATURES)!r}, got {features!r}")
    parts = []
    if features in ("pixels", "both"):
        parts.append(x.astype(np.float32) / 127.5 - 1.0)
    if features in ("bitplanes", "both"):
        bits = (x[..., None] >> np.arange(8, dtype=np.uint8)) & 1  # (N, H, W, C, 8)
        parts.append(bits.reshape(*x.shape[:3], -1).astype(np.float32) * 2.0 - 1.0)
    f = np.concatenate(parts, axis=-1)
    return np.ascontiguousarray(f.transpose(0, 3, 1, 2))


def _split(labels: np.ndarray, test_fraction: float, val_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Stratified train/val/test indices (every class in every split when it has enough images)."""
    rng = np.random.default_rng(seed)
    tr, va, te = [], [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_te = int(round(test_fraction * idx.size))
        n_va = int(round(val_fraction * idx.size))
        te.append(idx[:n_te])
        va.append(idx[n_te : n_te + n_va])
        tr.append(idx[n_te + n_va :])
    return tuple(np.sort(np.concatenate(s)) for s in (tr, va, te))


def recognition_attack(
    se_images: np.ndarray,
    labels: np.ndarray,
    *,
    scheme: Any = None,
    features: str = "pixels",
    test_fraction: float = 0.3,
    val_fraction: float = 0.15,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    threads: int | None = None,
) -> RecognitionResult:
    """Train a small CNN to recognise the label of SE images; test accuracy and the label-MI bound.

    The images are split (stratified, by ``seed``) into train / validation / test. The CNN is trained on
    the train split (Adam, ``epochs`` passes); the epoch with the lowest validation cross-entropy is kept
    and its softmax temperature is fitted on the validation split — both choices of ``q`` use no test
    image, so the test cross-entropy stays an honest estimate. ``scheme`` only labels the result.

    ``features``: what the CNN reads — ``"pixels"`` (the SE image as is; default), ``"bitplanes"`` (each
    plane as a channel: an attacker who knows the scheme reads the clear planes directly) or ``"both"``.
    Every choice is a function of the SE image, so the bound holds for all three. The richer inputs can
    only tighten it in principle, but with a few hundred training images they train worse: on 400 plain
    digits the defaults (pixels, lr 3e-3, batch 32, 20 epochs) reach 0.84 test accuracy where ``"both"``
    with lr 1e-2, batch 64, 12 epochs reached 0.54.

    ``threads`` sets torch's CPU threads for the call (restored afterwards); ``None`` leaves them. On a
    shared machine one thread is often faster than two.
    """
    from seleak._runtime import limit_threads

    imgs = check_images(se_images, "se_images")
    lab = np.asarray(labels)
    if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got dtype {lab.dtype}, shape {lab.shape}")
    if lab.shape[0] != imgs.shape[0]:
        raise ValueError(f"{imgs.shape[0]} images but {lab.shape[0]} labels; they must be paired")
    if lab.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    if not 0 < test_fraction < 1 or not 0 < val_fraction < 1 or test_fraction + val_fraction >= 1:
        raise ValueError(
            f"test_fraction ({test_fraction}) and val_fraction ({val_fraction}) must be in (0, 1) with a sum < 1"
        )
    if not is_int(epochs) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    classes, y_all = np.unique(lab, return_inverse=True)
    if classes.size < 2:
        raise ValueError("the recognition attack needs at least two classes")
    tr, va, te = _split(y_all, test_fraction, val_fraction, seed)
    if min(tr.size, va.size, te.size) == 0:
        raise ValueError(f"too few images ({imgs.shape[0]}) for a train/validation/test split")

    if threads is not None and (not is_int(threads) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    with limit_threads(threads, blas=False):
        return _train_and_score(
            imgs, lab, y_all, classes, (tr, va, te), scheme, features, epochs, batch_size, lr, seed, device
        )


def _train_and_score(
    imgs: np.ndarray,
    lab: np.ndarray,
    y_all: np.ndarray,
    classes: np.ndarray,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
    scheme: Any,
    features: str,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str,
) -> RecognitionResult:
    import torch
    import torch.nn.functional as F

    from seleak._runtime import seeded
    from seleak.embedding.models import SmallCNN, fit, predict_logits

    tr, va, te = splits
    t0 = time.perf_counter()
    x_all = torch.from_numpy(_features(imgs, features))
    y_t = torch.from_numpy(y_all.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):
        model = SmallCNN(x_all.shape[1], classes.size, _WIDTHS, conv_bias=True, ceil_mode=True).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def logits_of(idx: np.ndarray) -> torch.Tensor:
        return predict_logits(model, x_all, idx, device=device)

    best_val, best_state = math.inf, None

    def keep_best(m: torch.nn.Module) -> None:
        # the epoch with the lowest validation cross-entropy is the q that gets scored
        nonlocal best_val, best_state
        val_ce = float(F.cross_entropy(logits_of(va), y_t[va]))
        if val_ce < best_val:
            best_val = val_ce
            best_state = {k: v.detach().clone() for k, v in m.state_dict().items()}

    # batches of one are skipped: BatchNorm needs two samples
    fit(
        model,
        x_all,
        y_t,
        optimizer=opt,
        epochs=int(epochs),
        batch_size=batch_size,
        generator=gen,
        rows=torch.from_numpy(tr),
        min_batch=2,
        device=device,
        after_epoch=keep_best,
    )
    assert best_state is not None
    model.load_state_dict(best_state)

    # temperature scaling on the validation split: a 1-D convex problem in log T
    from scipy.optimize import minimize_scalar

    lv, yv = logits_of(va).double(), y_t[va]
    calib = minimize_scalar(
        lambda lt: float(F.cross_entropy(lv / math.exp(lt), yv)), bounds=(-3.0, 5.0), method="bounded"
    )
    temperature = float(math.exp(calib.x))
    lt_ = logits_of(te).double()
    ce = float(F.cross_entropy(lt_ / temperature, y_t[te]))
    acc = float((lt_.argmax(1) == y_t[te]).double().mean())
    majority = np.bincount(y_all[tr], minlength=classes.size).argmax()
    chance = float(np.mean(y_all[te] == majority))
    h = label_entropy(lab)
    raw = h - ce
    sch = as_scheme(scheme) if scheme is not None else None
    return RecognitionResult(
        scheme=scheme_spec(sch) if sch is not None else "",
        k=plane_count(sch) if sch is not None else None,
        accuracy=acc,
        chance=chance,
        cross_entropy_nats=ce,
        label_entropy_nats=h,
        mi_lower_bound_nats=max(0.0, raw),
        mi_lower_bound_raw_nats=raw,
        temperature=temperature,
        n_train=int(tr.size),
        n_val=int(va.size),
        n_test=int(te.size),
        features=features,
        epochs=int(epochs),
        seed=int(seed),
        wall_time_s=time.perf_counter() - t0,
    )
