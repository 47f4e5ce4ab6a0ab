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

Real data sets in their official on-disk format, read from ``root`` (downloaded only with
``download=True``, through torchvision): ``"cifar10"``, ``"cifar100"``, ``"mnist"``,
``"fashionmnist"``, ``"kmnist"``, ``"svhn"``.

The offline sets have no official split, so a fixed stratified 80/20 split is made here (independent of
``seed``, so a model trained on ``split="train"`` never sees ``split="test"``); ``split="all"`` returns
everything.

This module imports nothing from seleak but :mod:`seleak._io` (it is the bottom layer).
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from seleak._io import CACHE_ENV

__all__ = [
    "ImageDataset",
    "available_datasets",
    "load_dataset",
    "resize_images",
    "subsample_indices",
    "default_data_root",
    "DATA_ENV",
]

#: Environment variable naming the default root folder for torchvision data sets.
DATA_ENV = "SELEAK_DATA"

#: Fraction of each class held out as ``split="test"`` in the offline data sets.
_TEST_FRACTION = 0.2
#: Seed of the fixed offline train/test split (deliberately not the user's ``seed``).
_SPLIT_SEED = 20250808

_SPLITS = ("train", "test", "all")


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


# --------------------------------------------------------------------------------------------------
# helpers (public: the embedding layer and the notebooks reuse them)
# --------------------------------------------------------------------------------------------------


def default_data_root() -> Path:
    """Default folder for torchvision data sets: ``$SELEAK_DATA``, else ``<seleak cache>/data``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    cache_root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "seleak")
    return cache_root / "data"


def resize_images(images: np.ndarray, size: int | Sequence[int]) -> np.ndarray:
    """Resize a ``uint8 (N, H, W, C)`` batch to ``size`` (an int for square, or ``(H, W)``).

    Bilinear with anti-aliasing (so downscaling does not alias), done in one batched torch call and
    rounded back to ``uint8``. Deterministic on CPU.
    """
    import torch
    import torch.nn.functional as F

    h, w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    if images.shape[1:3] == (h, w):
        return images
    out = np.empty((images.shape[0], h, w, images.shape[3]), dtype=np.uint8)
    # chunks bound the float32 working memory for large data sets (50 000 CIFAR images would be ~600 MB)
    for start in range(0, images.shape[0], 4096):
        x = torch.from_numpy(np.ascontiguousarray(images[start : start + 4096])).permute(0, 3, 1, 2)
        y = F.interpolate(x.float(), size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        out[start : start + 4096] = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def subsample_indices(n_total: int, n: int, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """``n`` of ``n_total`` indices, chosen by ``seed``, sorted; stratified by ``labels`` when given.

    Stratified draws give each class ``n * share`` images (largest-remainder rounding), so a small
    subsample keeps the class balance of the full set.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of images, got {n}")
    if n >= n_total:
        return np.arange(n_total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.choice(n_total, size=n, replace=False)).astype(np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / n_total
    take = np.floor(quota).astype(int)
    # hand the remaining images to the classes with the largest fractional parts (ties: larger class)
    rest = n - int(take.sum())
    order = np.lexsort((-counts, -(quota - take)))
    take[order[:rest]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=t, replace=False) for c, t in zip(classes, take)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _fixed_split(labels: np.ndarray, split: str) -> np.ndarray:
    """Indices of a fixed stratified train/test split (independent of the user's seed)."""
    if split == "all":
        return np.arange(labels.shape[0], dtype=np.int64)
    rng = np.random.default_rng(_SPLIT_SEED)
    test = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n_test = int(round(_TEST_FRACTION * idx.size))
        test.append(rng.permutation(idx)[:n_test])
    mask = np.zeros(labels.shape[0], dtype=bool)
    mask[np.concatenate(test)] = True
    return np.flatnonzero(mask if split == "test" else ~mask).astype(np.int64)


def _as_nhwc(images: np.ndarray) -> np.ndarray:
    return images[..., None] if images.ndim == 3 else images


# --------------------------------------------------------------------------------------------------
# offline data sets
# --------------------------------------------------------------------------------------------------


def _load_digits() -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) * (255.0 / 16.0))[:, None]  # 0..16 -> 0..255
    # bicubic upsampling gives smooth strokes whose low bit-planes are not constant, like a real scan;
    # the overshoot of the cubic kernel is clipped back into 0..255
    y = F.interpolate(x, size=(32, 32), mode="bicubic", align_corners=False)
    images = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    prov = {
        "source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
        "citation": "Alpaydin & Kaynak (1998), UCI Machine Learning Repository",
        "license": "CC BY 4.0",
        "preprocessing": "8x8 0..16 -> x*255/16, bicubic upsampling to 32x32, rounded to uint8",
    }
    return images, d.target.astype(np.int64), tuple(str(i) for i in range(10)), prov


#: The photographs bundled in the scikit-image wheel that ``"photos"`` is cut from (file, class name).
PHOTO_FILES: tuple[tuple[str, str], ...] = (
    ("astronaut.png", "astronaut"),
    ("brick.png", "brick"),
    ("camera.png", "camera"),
    ("cell.png", "cell"),
    ("chelsea.png", "chelsea"),
    ("clock_motion.png", "clock"),
    ("coffee.png", "coffee"),
    ("coins.png", "coins"),
    ("grass.png", "grass"),
    ("gravel.png", "gravel"),
    ("hubble_deep_field.jpg", "hubble"),
    ("ihc.png", "ihc"),
    ("moon.png", "moon"),
    ("motorcycle_left.png", "motorcycle"),
    ("retina.jpg", "retina"),
    ("rocket.jpg", "rocket"),
)
_PHOTO_SIDE = 320
_TILE = 32


def _skimage_data_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def _load_photos() -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    from PIL import Image

    data_dir = _skimage_data_dir()
    tiles, labels = [], []
    for label, (fname, _) in enumerate(PHOTO_FILES):
        path = data_dir / fname
        if not path.exists():  # never fall back to skimage's pooch download: this set must be offline
            raise FileNotFoundError(
                f"{path} is missing: the 'photos' data set uses only the photographs bundled in the "
                "scikit-image wheel; reinstall scikit-image (pip install --force-reinstall scikit-image)"
            )
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = _PHOTO_SIDE / min(w, h)
            # Lanczos downscaling (a real camera-like low-pass), then the central square
            im = im.resize((max(_PHOTO_SIDE, round(w * scale)), max(_PHOTO_SIDE, round(h * scale))),
                           Image.Resampling.LANCZOS)
            w, h = im.size
            left, top = (w - _PHOTO_SIDE) // 2, (h - _PHOTO_SIDE) // 2
            arr = np.asarray(im.crop((left, top, left + _PHOTO_SIDE, top + _PHOTO_SIDE)), dtype=np.uint8)
        g = _PHOTO_SIDE // _TILE
        # (g*T, g*T, 3) -> (g, T, g, T, 3) -> (g, g, T, T, 3): row-major tiles, deterministic order
        t = arr.reshape(g, _TILE, g, _TILE, 3).transpose(0, 2, 1, 3, 4).reshape(-1, _TILE, _TILE, 3)
        tiles.append(t)
        labels.append(np.full(t.shape[0], label, dtype=np.int64))
    prov = {
        "source": "scikit-image bundled photographs (skimage/data): "
        + ", ".join(f for f, _ in PHOTO_FILES),
        "citation": "van der Walt et al. (2014), scikit-image: image processing in Python, PeerJ 2:e453",
        "license": "see skimage/data/README.txt (public domain / CC0 / CC BY per image)",
        "preprocessing": f"RGB, Lanczos to shorter side {_PHOTO_SIDE}, centre crop {_PHOTO_SIDE}^2, "
        f"non-overlapping {_TILE}x{_TILE} tiles in row-major order; label = source photograph",
    }
    return np.concatenate(tiles), np.concatenate(labels), tuple(n for _, n in PHOTO_FILES), prov


def _load_faces() -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    path = _skimage_data_dir() / "lfw_subset.npy"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall scikit-image")
    a = np.load(path, allow_pickle=False)
    images = np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)[..., None]
    labels = np.repeat(np.array([0, 1], dtype=np.int64), [100, 100])  # first 100 are faces
    prov = {
        "source": "skimage.data.lfw_subset (Labeled Faces in the Wild, 25x25 crops)",
        "citation": "Huang, Ramesh, Berg & Learned-Miller (2007), Labeled Faces in the Wild, UMass TR 07-49",
        "license": "LFW: research use; see http://vis-www.cs.umass.edu/lfw/",
        "preprocessing": "float [0,1] -> round(x*255) uint8",
    }
    return images, labels, ("face", "non-face"), prov


_OFFLINE: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]]] = {
    "digits": _load_digits,
    "photos": _load_photos,
    "faces": _load_faces,
}


# --------------------------------------------------------------------------------------------------
# torchvision data sets in their official on-disk formats
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DiskSpec:
    folder: str  # sub-folder of root in torchvision's layout
    files: dict[str, tuple[str, ...]]  # split -> files needed
    reader: Callable[[Path, str], tuple[np.ndarray, np.ndarray]]
    class_names: Callable[[Path], tuple[str, ...]]
    torchvision_class: str
    url: str
    citation: str


def _unpickle(path: Path) -> dict[str, Any]:
    # The official CIFAR format is Python pickles; read only files you trust (as torchvision does).
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="latin1")


def _read_cifar(folder: Path, split: str, files: tuple[str, ...], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for f in files:
        d = _unpickle(folder / f)
        xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(d[label_key], dtype=np.int64))
    return np.concatenate(xs).transpose(0, 2, 3, 1).copy(), np.concatenate(ys)


_CIFAR10_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_CIFAR100_FILES = {"train": ("train",), "test": ("test",)}


def _cifar10_reader(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    return _read_cifar(folder, split, _CIFAR10_FILES[split], "labels")


def _cifar100_reader(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    return _read_cifar(folder, split, _CIFAR100_FILES[split], "fine_labels")


def _cifar_names(key: str, meta: str) -> Callable[[Path], tuple[str, ...]]:
    def names(folder: Path) -> tuple[str, ...]:
        p = folder / meta
        return tuple(_unpickle(p)[key]) if p.exists() else ()

    return names


def _open_maybe_gz(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes()
    return gzip.decompress(Path(str(path) + ".gz").read_bytes())


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format: big-endian magic, dims, then the data)."""
    raw = _open_maybe_gz(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code != 0x08:
        raise ValueError(f"{path}: only unsigned-byte IDX files are supported (type code {code:#x})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated IDX file ({data.size} bytes for shape {dims})")
    return data.reshape(dims)


_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _mnist_reader(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    img, lab = _MNIST_FILES[split]
    images = _read_idx(folder / img)
    labels = _read_idx(folder / lab).astype(np.int64)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    return images[..., None].copy(), labels


def _svhn_reader(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat

    m = loadmat(folder / f"{split}_32x32.mat")
    labels = m["y"].astype(np.int64).ravel()
    labels[labels == 10] = 0  # the .mat files store digit 0 as class 10 (as torchvision maps it)
    return np.ascontiguousarray(m["X"].transpose(3, 0, 1, 2)), labels


def _fixed_names(names: Sequence[str]) -> Callable[[Path], tuple[str, ...]]:
    return lambda folder: tuple(names)


_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
            "Ankle boot")
_KMNIST = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")

_DISK: dict[str, _DiskSpec] = {
    "cifar10": _DiskSpec("cifar-10-batches-py", _CIFAR10_FILES, _cifar10_reader,
                         _cifar_names("label_names", "batches.meta"), "CIFAR10",
                         "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                         "Krizhevsky (2009), Learning multiple layers of features from tiny images"),
    "cifar100": _DiskSpec("cifar-100-python", _CIFAR100_FILES, _cifar100_reader,
                          _cifar_names("fine_label_names", "meta"), "CIFAR100",
                          "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                          "Krizhevsky (2009), Learning multiple layers of features from tiny images"),
    "mnist": _DiskSpec("MNIST/raw", _MNIST_FILES, _mnist_reader, _fixed_names([str(i) for i in range(10)]),
                       "MNIST", "https://ossci-datasets.s3.amazonaws.com/mnist/",
                       "LeCun, Bottou, Bengio & Haffner (1998), Proc. IEEE 86(11)"),
    "fashionmnist": _DiskSpec("FashionMNIST/raw", _MNIST_FILES, _mnist_reader, _fixed_names(_FASHION),
                              "FashionMNIST", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                              "Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747"),
    "kmnist": _DiskSpec("KMNIST/raw", _MNIST_FILES, _mnist_reader, _fixed_names(_KMNIST), "KMNIST",
                        "http://codh.rois.ac.jp/kmnist/", "Clanuwat et al. (2018), arXiv:1812.01718"),
    "svhn": _DiskSpec("", {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)}, _svhn_reader,
                      _fixed_names([str(i) for i in range(10)]), "SVHN",
                      "http://ufldl.stanford.edu/housenumbers/",
                      "Netzer et al. (2011), Reading digits in natural images with unsupervised feature learning"),
}


def _has_files(folder: Path, files: Sequence[str]) -> bool:
    return all((folder / f).exists() or Path(str(folder / f) + ".gz").exists() for f in files)


def _find_folder(name: str, spec: _DiskSpec, root: Path, split: str) -> Path | None:
    # torchvision's layout first (root/<folder>), then root itself (someone pointed at the folder)
    for cand in (root / spec.folder, root):
        if _has_files(cand, spec.files[split]):
            return cand
    return None


def _download(name: str, spec: _DiskSpec, root: Path, split: str) -> None:
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec.torchvision_class)
    root.mkdir(parents=True, exist_ok=True)
    if name == "svhn":
        cls(str(root), split=split, download=True)
    else:
        cls(str(root), train=(split == "train"), download=True)


def _load_disk(name: str, root: str | os.PathLike[str] | None, split: str, download: bool
               ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    spec = _DISK[name]
    if split not in ("train", "test"):
        raise ValueError(f"{name!r} has splits 'train' and 'test', got split={split!r}")
    root_path = Path(root).expanduser() if root is not None else default_data_root()
    folder = _find_folder(name, spec, root_path, split)
    if folder is None and download:
        _download(name, spec, root_path, split)
        folder = _find_folder(name, spec, root_path, split)
    if folder is None:
        looked = sorted({str(root_path / spec.folder), str(root_path)})
        raise FileNotFoundError(
            f"{name!r} ({split}) not found: looked for {', '.join(spec.files[split])} in "
            f"{' and '.join(looked)}. Get it with load_dataset({name!r}, root={str(root_path)!r}, "
            f"download=True) (uses torchvision.datasets.{spec.torchvision_class}), or download it from "
            f"{spec.url} and unpack it under that root in torchvision's layout. "
            f"The default root is ${DATA_ENV} or <seleak cache>/data."
        )
    images, labels = spec.reader(folder, split)
    prov = {"source": f"{spec.torchvision_class} official files in {folder}", "url": spec.url,
            "citation": spec.citation}
    return images, labels, spec.class_names(folder), prov


# --------------------------------------------------------------------------------------------------
# the entry point
# --------------------------------------------------------------------------------------------------


def available_datasets() -> dict[str, str]:
    """Names accepted by :func:`load_dataset` → ``"offline"`` or ``"disk"`` (needs ``root`` or download)."""
    return {**{k: "offline" for k in _OFFLINE}, **{k: "disk" for k in _DISK}}


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
        name: ``"digits"``, ``"photos"``, ``"faces"`` (offline, bundled) or ``"cifar10"``,
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
        seed: seed of the subsample (the split never depends on it).
        download: for the torchvision sets, download into ``root`` when the files are missing.

    Raises:
        ValueError: unknown name or split, bad ``n``/``size``.
        FileNotFoundError: a torchvision set is not under ``root`` and ``download`` is false; the message
            says where it looked and how to get the files.
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in _OFFLINE and key not in _DISK:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(available_datasets())}")
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")

    if key in _OFFLINE:
        images, labels, class_names, prov = _OFFLINE[key]()
        split_idx = _fixed_split(labels, split)
        images, labels = images[split_idx], labels[split_idx]
        prov["split"] = f"fixed stratified {1 - _TEST_FRACTION:.0%}/{_TEST_FRACTION:.0%} (seed {_SPLIT_SEED})"
    else:
        images, labels, class_names, prov = _load_disk(key, root, split, download)

    images = _as_nhwc(images)
    n_available = int(images.shape[0])
    idx = np.arange(n_available, dtype=np.int64)
    if n is not None and n < n_available:
        idx = subsample_indices(n_available, int(n), seed, labels)
        images, labels = images[idx], (labels[idx] if labels is not None else None)
    if size is not None:
        images = resize_images(images, size)
        prov["resized_to"] = list(images.shape[1:3])
    prov.update({"name": key, "split_name": split, "n_available": n_available, "n": int(images.shape[0]),
                 "subsample_seed": seed if n is not None and n < n_available else None})
    return ImageDataset(
        images=np.ascontiguousarray(images, dtype=np.uint8),
        labels=None if labels is None else np.ascontiguousarray(labels, dtype=np.int64),
        name=key,
        class_names=tuple(str(c) for c in class_names),
        split=split,
        indices=idx,
        provenance=prov,
    )
