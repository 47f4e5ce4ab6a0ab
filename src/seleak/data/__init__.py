"""Image data sets: offline defaults shipped inside installed packages, and torchvision data read from disk.

Every loader returns an :class:`ImageDataset` whose ``images`` are ``uint8`` ``(N, H, W, C)``
(channels last, ``C`` is 1 or 3) and whose ``labels`` are ``int64`` ``(N,)`` or ``None``.

Offline data sets (no network, ever; the files ship inside the scikit-learn and scikit-image wheels):

``"digits"``
    scikit-learn's 1 797 handwritten digits (8×8, 17 grey levels), upsampled to 32×32 (bicubic) and
    rescaled to the full 8-bit range, one channel, labelled 0–9.
``"photos"``
    16 photographs bundled with scikit-image, each downscaled so its shorter side is 320 px,
    centre-cropped to 320×320 and cut into 100 non-overlapping 32×32 RGB tiles (1 600 tiles); the label
    is the source photograph. Grey photographs are repeated over the three channels.
``"faces"``
    scikit-image's LFW subset: 100 faces and 100 non-face patches, 25×25, one channel (only 200 images:
    too few for a leakage study, handy for a privacy example).
``"patterns"``
    synthetic, generated here (no files): 32×32 RGB images of 2×2 cells, each cell one of 4 fixed
    patterns drawn i.i.d. uniformly by ``seed``; label = the top-left cell's pattern. Its image-level
    MI under a bit-plane or region scheme is known exactly: ``seleak.metrics.patterns_truth`` (nats).

Real data sets in their official on-disk format, read from ``root`` (downloaded only with
``download=True``, through torchvision): ``"cifar10"``, ``"cifar100"``, ``"mnist"``,
``"fashionmnist"``, ``"kmnist"``, ``"svhn"``.

The offline sets have no official split, so a fixed stratified split is made here (80/20; 40/60 for the
digits, whose 1 078 held-out images the study measures) (independent of
``seed``, so a model trained on ``split="train"`` never sees ``split="test"``); ``split="all"`` returns
everything. ``"patterns"`` is drawn by ``seed`` (4096 i.i.d. images; train = the first 80 %, test = the
rest, ``n`` keeps the first ``n``).

Layout, one file per idea (the public names are re-exported here: import them from :mod:`seleak.data`):

:mod:`~seleak.data.dataset`
    :class:`ImageDataset`, :func:`load_dataset` and :func:`available_datasets`, the front end.
:mod:`~seleak.data.sampling`
    the seeded stratified subsample and the fixed offline train/test split.
:mod:`~seleak.data.resample`
    exact integer resampling (:func:`resample_matrix`, :func:`resize_images`).
:mod:`~seleak.data.offline`
    the digits, photos and faces sets read from the scikit-learn and scikit-image wheels.
:mod:`~seleak.data.patterns`
    the synthetic ``"patterns"`` set and the per-cell entropies behind its exact mutual information.
:mod:`~seleak.data.disk`
    the CIFAR, MNIST-like and SVHN readers, the data root and the download through torchvision.
:mod:`~seleak.data.pickles`
    the restricted unpickler the CIFAR files are read with.

This subpackage imports nothing from seleak but :mod:`seleak._io` and :mod:`seleak._validation` (it is
the bottom layer).
"""

from seleak.data.dataset import ImageDataset, available_datasets, load_dataset
from seleak.data.disk import DATA_ENV, default_data_root
from seleak.data.offline import PHOTO_FILES
from seleak.data.patterns import (
    enumerate_patterns,
    generate_patterns,
    pattern_alphabet,
    patterns_cell_entropies,
    patterns_images,
)
from seleak.data.pickles import UnsafePickleError
from seleak.data.resample import resample_matrix, resize_images
from seleak.data.sampling import subsample_indices

__all__ = [
    "ImageDataset",
    "available_datasets",
    "load_dataset",
    "resample_matrix",
    "resize_images",
    "subsample_indices",
    "default_data_root",
    "DATA_ENV",
    "PHOTO_FILES",
    "UnsafePickleError",
    "pattern_alphabet",
    "patterns_images",
    "generate_patterns",
    "enumerate_patterns",
    "patterns_cell_entropies",
]
