"""The :class:`ImageDataset` type and the front end :func:`load_dataset` / :func:`available_datasets`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from seleak._validation import check_bool, check_int, is_int
from seleak.data.disk import DISK_DATASETS, load_disk
from seleak.data.offline import OFFLINE_DATASETS
from seleak.data.patterns import PATTERNS_TOTAL, load_patterns
from seleak.data.resample import check_size, resize_images
from seleak.data.sampling import SPLIT_SEED, TEST_FRACTION, fixed_split, held_out_share, subsample_indices

_SPLITS = ("train", "test", "all")
#: Generated data sets: offline too, but drawn by the user's seed (see :func:`load_dataset`).
_GENERATED = ("patterns",)


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A labelled (or unlabelled) set of 8-bit images with its provenance.

    Attributes:
        images: ``uint8`` array ``(N, H, W, C)``, channels last, ``C`` in {1, 3}.
        labels: ``int64`` array ``(N,)`` or ``None``; ``class_names[labels[i]]`` names image i's class.
        name: the data set's name as given to :func:`load_dataset`.
        class_names: one name per class (empty when unlabelled).
        split: ``"train"``, ``"test"`` or ``"all"``.
        indices: position of each image in the full split before subsampling (``int64 (N,)``).
        provenance: where the pictures come from and what was done to them (source, citation,
            licence, preprocessing, subsampling), JSON-serialisable.
    """

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    class_names: tuple[str, ...]
    split: str
    indices: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``images``."""
        return tuple(self.images.shape)

    @property
    def n_classes(self) -> int:
        """Number of classes (0 when unlabelled)."""
        return len(self.class_names)

    def __repr__(self) -> str:
        lab = f", {self.n_classes} classes" if self.labels is not None else ", unlabelled"
        return f"ImageDataset({self.name!r}, split={self.split!r}, images={self.shape} uint8{lab})"


def _as_nhwc(images: np.ndarray) -> np.ndarray:
    return images[..., None] if images.ndim == 3 else images


# --------------------------------------------------------------------------------------------------
# the entry point
# --------------------------------------------------------------------------------------------------


def available_datasets() -> dict[str, str]:
    """Names accepted by :func:`load_dataset` → ``"offline"`` (bundled or generated, no network) or
    ``"disk"`` (needs ``root`` or download)."""
    return {
        **{k: "offline" for k in OFFLINE_DATASETS},
        **{k: "offline" for k in _GENERATED},
        **{k: "disk" for k in DISK_DATASETS},
    }


def load_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    n: int | None = None,
    size: int | Sequence[int] | None = None,
    seed: int = 0,
    download: bool = False,
) -> ImageDataset:
    """Load a data set as ``uint8 (N, H, W, C)`` images with ``int64`` labels.

    Args:
        name: ``"digits"``, ``"photos"``, ``"faces"`` (offline, bundled), ``"patterns"`` (offline,
            generated, with exactly known MI: :mod:`seleak.data.patterns`) or ``"cifar10"``,
            ``"cifar100"``, ``"mnist"``, ``"fashionmnist"``, ``"kmnist"``, ``"svhn"`` (read from ``root``).
            Case and ``-``/``_`` are ignored.
        root: folder holding the torchvision data sets in torchvision's layout (e.g.
            ``root/cifar-10-batches-py``, ``root/MNIST/raw``); default ``$SELEAK_DATA`` or
            ``<seleak cache>/data``. Ignored by the offline sets.
        split: ``"train"`` or ``"test"`` (offline sets: a fixed stratified 80/20 split, or ``"all"``).
        n: keep ``n`` images, drawn without replacement by ``seed`` and stratified by label, in their
            original order; ``None`` or ``n >= len`` keeps all.
        size: resize to ``size×size`` (int) or ``(H, W)`` (bilinear, anti-aliased); ``None`` keeps the
            native size.
        seed: seed of the subsample (the split never depends on it). ``"patterns"`` is different: its
            images are i.i.d. draws, so ``seed`` draws them (a pool of 4096 images, symbols uniform),
            ``split`` takes fixed positions of that pool (``"train"``: the first 3277, ``"test"``: the
            last 819, ``"all"``: all) and ``n`` keeps the first ``n`` of the split -- every choice is
            an i.i.d. uniform sample, and train and test are independent draws.
        download: for the torchvision sets, download into ``root`` when the files are missing.

    Security: the official CIFAR-10/100 python files are *pickles*, and an ordinary ``pickle.load`` of a
    crafted file runs arbitrary code. seleak reads them with a restricted unpickler that rebuilds only
    dicts, lists, strings, numbers and numpy arrays and refuses anything else (nothing in a refused file
    runs), but still treat a data root from someone else as untrusted input: prefer files you downloaded
    yourself from the official source. MNIST (IDX) and SVHN (MATLAB) files are plain data.

    Raises:
        ValueError: unknown name or split, bad ``n``/``size``/``seed``; a damaged data file (the message
            names it: re-download it); a CIFAR file that asks to run code (``UnsafePickleError``).
        FileNotFoundError: a torchvision set is not under ``root`` and ``download`` is false; the message
            says where it looked and how to get the files.
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in OFFLINE_DATASETS and key not in DISK_DATASETS and key not in _GENERATED:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(available_datasets())}")
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    if n is not None and (not is_int(n) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    check_int(seed, "seed (of the subsample)", minimum=0)
    check_bool(download, "download")
    if size is not None:
        check_size(size)

    if key in _GENERATED:
        return _load_generated(key, split, n, size, seed)
    if key in OFFLINE_DATASETS:
        images, labels, class_names, prov = OFFLINE_DATASETS[key]()
        frac = held_out_share(key)
        split_idx = fixed_split(labels, split, frac)
        images, labels = images[split_idx], labels[split_idx]
        prov["split"] = f"fixed stratified {1 - frac:.0%}/{frac:.0%} (seed {SPLIT_SEED})"
    else:
        images, labels, class_names, prov = load_disk(key, root, split, download)

    images = _as_nhwc(images)
    n_available = int(images.shape[0])
    idx = np.arange(n_available, dtype=np.int64)
    if n is not None and n < n_available:
        idx = subsample_indices(n_available, int(n), seed, labels)
        images, labels = images[idx], (labels[idx] if labels is not None else None)
    subsample_seed = seed if n is not None and n < n_available else None
    return _finished(key, split, images, labels, class_names, idx, prov, n_available, size, subsample_seed)


def _load_generated(key: str, split: str, n: int | None, size: int | Sequence[int] | None, seed: int) -> ImageDataset:
    """``"patterns"``: the pool drawn by ``seed``, fixed positions per split, the first ``n`` kept."""
    images, labels, class_names, prov = load_patterns(seed)
    n_test = int(round(TEST_FRACTION * PATTERNS_TOTAL))
    split_idx = {
        "train": np.arange(PATTERNS_TOTAL - n_test),
        "test": np.arange(PATTERNS_TOTAL - n_test, PATTERNS_TOTAL),
        "all": np.arange(PATTERNS_TOTAL),
    }[split]
    images, labels = images[split_idx], labels[split_idx]
    prov["split"] = f"positions of the i.i.d. pool: train first {PATTERNS_TOTAL - n_test}, test last {n_test}"
    n_available = int(images.shape[0])
    idx = np.arange(n_available, dtype=np.int64)
    if n is not None and n < n_available:
        idx = idx[: int(n)]
        images, labels = images[idx], labels[idx]
    return _finished(key, split, images, labels, class_names, idx, prov, n_available, size, None)


def _finished(
    key: str,
    split: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    class_names: Sequence[Any],
    idx: np.ndarray,
    prov: dict[str, Any],
    n_available: int,
    size: int | Sequence[int] | None,
    subsample_seed: int | None,
) -> ImageDataset:
    """The selected images, resized when asked, as an :class:`ImageDataset` with its provenance."""
    if size is not None:
        images = resize_images(images, size)
        prov["resized_to"] = list(images.shape[1:3])
    prov.update(
        {
            "name": key,
            "split_name": split,
            "n_available": n_available,
            "n": int(images.shape[0]),
            "subsample_seed": subsample_seed,
        }
    )
    return ImageDataset(
        images=np.ascontiguousarray(images, dtype=np.uint8),
        labels=None if labels is None else np.ascontiguousarray(labels, dtype=np.int64),
        name=key,
        class_names=tuple(str(c) for c in class_names),
        split=split,
        indices=idx,
        provenance=prov,
    )
