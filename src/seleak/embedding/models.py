"""The small CNN trained in this project, and the one training loop every such model goes through.

Two callers train a :class:`SmallCNN`: the ``"trained:<dataset>"`` embedder (:func:`train_small_cnn`:
AdamW with a one-cycle schedule, random translations, a fixed number of epochs) and the recognition
attack of :mod:`seleak.attacks` (Adam, early stopping on a validation split, its own input features).
They differ in those settings and share the rest: the architecture (:class:`SmallCNN`), seeding and
thread pinning (:func:`seleak._runtime.seeded`, :func:`seleak._runtime.limit_threads`), the seeded
minibatch loop (:func:`fit`) and batched prediction (:func:`predict_logits`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from seleak._runtime import limit_threads, seeded
from seleak.embedding.images import adapt_channels, check_images, to_tensor

__all__ = [
    "SmallCNN",
    "TrainConfig",
    "TRAIN_THREADS",
    "fit",
    "predict_logits",
    "small_cnn_preprocess",
    "train_small_cnn",
]


class SmallCNN(nn.Module):
    """A stack of conv blocks, a global average pool and a linear head (default: four blocks for 32×32).

    Each block is conv 3×3 → batch norm → ReLU, every block but the last followed by 2×2 max pooling
    (32 → 16 → 8 → 4 with the default ``widths``); the global average pool gives the embedding
    (``layer="flatten"``, ``widths[-1]`` dimensions) and the linear layer the class scores. The default
    (≈0.1 M parameters, ≈4 M multiply-adds per image) trains in seconds on a CPU.

    ``conv_bias`` gives the convolutions a bias (redundant before batch norm, kept where a caller's
    numbers were made with one); ``ceil_mode`` pools a border row or column of an odd-sized map instead
    of dropping it, so any image size works.
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_classes: int = 10,
        widths: Sequence[int] = (16, 32, 64, 128),
        *,
        conv_bias: bool = False,
        ceil_mode: bool = False,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            block: list[nn.Module] = [
                nn.Conv2d(c, w, 3, padding=1, bias=conv_bias),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            if i < len(widths) - 1:
                block.append(nn.MaxPool2d(2, ceil_mode=ceil_mode))
            layers.append(nn.Sequential(*block))
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c, n_classes)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.features(x))))


@dataclass(frozen=True)
class TrainConfig:
    """How ``"trained:<dataset>"`` trains its :class:`SmallCNN` (all of it enters the weight-cache hash).

    ``n_train`` caps the training images (stratified subsample by the embedder's seed; ``None`` = all),
    which keeps big data sets such as CIFAR-10 within a CPU budget. ``shift`` is the random translation
    (pixels) used as augmentation.
    """

    epochs: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    size: int = 32
    n_train: int | None = None
    shift: int = 2
    widths: tuple[int, ...] = (16, 32, 64, 128)


#: Threads torch uses while training. Convolution gradients are summed in a different order with
#: another thread count (measured: 1 vs 2 threads give different weights from the same seed), so
#: training always runs on this many threads, whatever the machine has: one machine, one model.
TRAIN_THREADS = 1


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    rows: torch.Tensor | None = None,
    scheduler: Any = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    min_batch: int = 1,
    device: str | torch.device | None = None,
    after_epoch: Callable[[nn.Module], None] | None = None,
    progress: bool = False,
    desc: str = "training",
) -> None:
    """Minimise the cross-entropy of ``model`` on ``(x[rows], y[rows])`` in shuffled minibatches.

    The data order comes from ``generator`` alone (one permutation per epoch), so a seeded generator,
    a seeded model (:func:`seleak._runtime.seeded`) and a fixed thread count give the same
    weights on every run. ``x`` may stay on the CPU: each batch is moved to ``device`` (default: where
    ``x`` is). ``augment`` transforms each input batch; ``scheduler`` steps after every optimiser step;
    batches smaller than ``min_batch`` are skipped; ``after_epoch`` sees the model after each epoch
    (e.g. to keep the best one on a validation split).
    """
    from tqdm.auto import tqdm

    dev = x.device if device is None else torch.device(device)
    n = x.shape[0] if rows is None else rows.numel()
    for _ in tqdm(range(epochs), desc=desc, disable=not progress, unit="epoch"):
        model.train()
        perm = torch.randperm(n, generator=generator)
        order = (perm if rows is None else rows[perm]).to(x.device)
        for s in range(0, n, batch_size):
            b = order[s : s + batch_size]
            if b.numel() < min_batch:
                continue
            xb = x[b].to(dev)
            if augment is not None:
                xb = augment(xb)
            loss = F.cross_entropy(model(xb), y[b].to(dev))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        if after_epoch is not None:
            after_epoch(model)


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    x: torch.Tensor,
    rows: Any = None,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 512,
) -> torch.Tensor:
    """Class scores of ``x[rows]`` (all of ``x`` by default) in eval mode, batch by batch, on the CPU."""
    model.eval()
    dev = x.device if device is None else torch.device(device)
    n = x.shape[0] if rows is None else len(rows)
    out = []
    for s in range(0, n, batch_size):
        xb = x[s : s + batch_size] if rows is None else x[rows[s : s + batch_size]]
        out.append(model(xb.to(dev)).cpu())
    return torch.cat(out)


def _random_shift(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random offset in [-shift, shift] (edge-replicated), vectorised."""
    if shift <= 0:
        return x
    b, _, h, w = x.shape
    xp = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    oy = torch.randint(0, 2 * shift + 1, (b,), generator=gen).to(x.device)
    ox = torch.randint(0, 2 * shift + 1, (b,), generator=gen).to(x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (b, h, 1)
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (b, 1, w)
    bi = torch.arange(b, device=x.device)[:, None, None]
    return xp.permute(0, 2, 3, 1)[bi, rows, cols].permute(0, 3, 1, 2)


def small_cnn_preprocess(
    size: int, mean: Sequence[float], std: Sequence[float], in_channels: int, device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``uint8 (N, C, H, W)`` → what a trained :class:`SmallCNN` reads: ``[0, 1]``, its channel count,
    ``size × size`` (antialiased bilinear), standardised by the training pixels' ``mean`` and ``std``."""
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)

    def prep(x: torch.Tensor) -> torch.Tensor:
        x = adapt_channels(x.float().div(255.0), in_channels)
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return (x - m) / s

    return prep


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return int((predict_logits(model, x).argmax(1) == y.cpu()).sum()) / max(1, x.shape[0])


def train_small_cnn(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    config: TrainConfig = TrainConfig(),
    seed: int = 0,
    device: str | torch.device = "cpu",
    eval_images: np.ndarray | None = None,
    eval_labels: np.ndarray | None = None,
    progress: bool = False,
) -> tuple[SmallCNN, dict[str, Any]]:
    """Train a :class:`SmallCNN` on labelled ``uint8`` images.

    Deterministic on one machine for a ``seed`` (fixed data order, :data:`TRAIN_THREADS` threads);
    another processor's kernels give slightly different weights, hence
    :data:`seleak.embedding.SHIPPED_MODELS`.

    Returns the model (eval mode, on ``device``) and an info dict: training seconds, train accuracy,
    held-out accuracy on ``eval_images`` (if given), the input normalisation (``mean``, ``std``).
    """
    images = check_images(images)
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape ({images.shape[0]},), got {labels.dtype} {labels.shape}")
    n_classes = int(labels.max()) + 1
    dev = torch.device(device)
    in_channels = images.shape[-1]
    # per-channel statistics of the training pixels: the model sees standardised inputs
    flat = images.reshape(-1, in_channels).astype(np.float64) / 255.0
    mean = torch.tensor(flat.mean(0), dtype=torch.float32)
    std = torch.tensor(np.maximum(flat.std(0), 1e-3), dtype=torch.float32)
    prep = small_cnn_preprocess(config.size, mean.tolist(), std.tolist(), in_channels, dev)
    x = prep(to_tensor(images, dev))
    y = torch.from_numpy(labels.astype(np.int64)).to(dev)

    t0 = time.perf_counter()
    with seeded(seed, deterministic=dev.type == "cuda"), limit_threads(TRAIN_THREADS, blas=False):
        model = SmallCNN(in_channels, n_classes, config.widths).to(dev)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps_per_epoch = -(-x.shape[0] // config.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch
        )
        fit(
            model,
            x,
            y,
            optimizer=opt,
            scheduler=sched,
            epochs=config.epochs,
            batch_size=config.batch_size,
            generator=gen,
            augment=lambda xb: _random_shift(xb, config.shift, gen),
            progress=progress,
            desc="training SmallCNN",
        )
    model.eval()
    info: dict[str, Any] = {
        "train_seconds": round(time.perf_counter() - t0, 3),
        "n_train": int(x.shape[0]),
        "n_classes": n_classes,
        "train_accuracy": _accuracy(model, x, y),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "in_channels": in_channels,
    }
    if eval_images is not None and eval_labels is not None:
        ex = prep(to_tensor(check_images(eval_images), dev))
        ey = torch.from_numpy(np.asarray(eval_labels, dtype=np.int64)).to(dev)
        info["test_accuracy"] = _accuracy(model, ex, ey)
        info["n_test"] = int(ex.shape[0])
    return model, info
