"""The learned sides of the adaptive estimators: a small convolutional encoder of images and an MLP
encoder of embedding vectors, and how an image batch becomes what the encoder reads.

The critic of :mod:`seleak.leakage.adaptive` is separable, ``T(a, b) = t * cos(g(a), h(b))`` with a
learned scale ``t`` (:class:`ScaledSE`; unit-length codes keep both sides' variation from vanishing
at initialisation, where two unnormalised random encoders sit at a saddle): each side is encoded
once, and a batch of ``B`` pairs gives the ``B x B`` score matrix of every pairing by one matrix
product (what InfoNCE, the permutation test and the maps need).

Two input features for images (``features``):

* ``"bits"`` (default): the 8 bit-planes of every channel as ``+-1`` channels (``8 C`` channels). An
  adversary who knows the format reads the planes separately: a plane left in the clear is then a
  clean input, however random the encrypted planes above it make the pixel values;
* ``"pixels"``: the pixel values scaled to ``[-1, 1]`` (what a plain CNN reads).

No batch normalisation: statistics shared across a batch would let the critic's score of one pair
depend on the other pairs of the batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = [
    "FEATURES",
    "image_features",
    "feature_channels",
    "ConvEncoder",
    "VectorEncoder",
    "Normalised",
    "ScaledSE",
    "separable_scores",
]

#: The input features an image encoder can read (see the module docstring).
FEATURES = ("bits", "pixels")


def feature_channels(channels: int, features: str) -> int:
    """Channels the encoder reads for ``channels`` image channels."""
    return 8 * channels if features == "bits" else channels


def image_features(images: np.ndarray, features: str) -> torch.Tensor:
    """``uint8 (N, H, W, C)`` -> ``float32 (N, C', H, W)`` tensor on the CPU (``C' = feature_channels``)."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.permute(0, 3, 1, 2)  # (N, C, H, W)
    if features == "pixels":
        return x.float().div_(127.5).sub_(1.0)
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8).view(1, 1, 8, 1, 1)
    bits = (x.unsqueeze(2) >> shifts) & 1  # (N, C, 8, H, W), plane 7 first
    n, c, _, h, w = bits.shape
    return bits.reshape(n, c * 8, h, w).float().mul_(2.0).sub_(1.0)


class ConvEncoder(nn.Module):
    """Three strided convolutions (each halving the side), a 4 x 4 adaptive average pool that keeps
    where things are, and a two-layer head to ``out_dim`` dimensions (about 1 M multiply-adds for a
    32 x 32 image: trains in seconds on a CPU)."""

    def __init__(self, in_channels: int, out_dim: int = 32, width: int = 16, hidden: int = 128):
        super().__init__()
        w = int(width)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(2 * w * 16, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class VectorEncoder(nn.Module):
    """A two-layer ReLU MLP from ``in_dim`` standardised coordinates to ``out_dim``."""

    def __init__(self, in_dim: int, out_dim: int = 32, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Normalised(nn.Module):
    """An encoder whose codes have unit length (the plain side of the critic)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.encoder(x), dim=-1)


class ScaledSE(nn.Module):
    """The SE side of the critic: unit-length codes times the learned scale ``t`` (initially
    ``scale``), so that the score of a pair is the plain code's dot product with it."""

    def __init__(self, encoder: nn.Module, scale: float = 10.0):
        super().__init__()
        self.encoder = encoder
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.encoder(x), dim=-1) * self.log_scale.exp()


def separable_scores(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``S[..., i, j] = a_i . b_j`` for the codes of the two sides, ``a (..., B, d)`` and ``b (..., B, d)``."""
    return a @ b.transpose(-1, -2)
