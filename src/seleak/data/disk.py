"""The torchvision data sets in their official on-disk formats: CIFAR, MNIST-like (IDX) and SVHN readers.

Files are read from a root folder in torchvision's layout and downloaded (through torchvision) only
when asked.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from seleak._io import CACHE_ENV
from seleak.data.pickles import read_cifar_pickle

#: Environment variable naming the default root folder for torchvision data sets.
DATA_ENV = "SELEAK_DATA"


def default_data_root() -> Path:
    """Default folder for torchvision data sets: ``$SELEAK_DATA``, else ``<seleak cache>/data``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    cache_root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "seleak")
    return cache_root / "data"


@dataclass(frozen=True)
class _DiskSpec:
    folder: str  # sub-folder of root in torchvision's layout
    files: dict[str, tuple[str, ...]]  # split -> files needed
    reader: Callable[[Path, str], tuple[np.ndarray, np.ndarray]]
    class_names: Callable[[Path], tuple[str, ...]]
    torchvision_class: str
    url: str
    citation: str


def _read_cifar(folder: Path, split: str, files: tuple[str, ...], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for f in files:
        path = folder / f
        d = read_cifar_pickle(path)
        try:
            x = np.asarray(d["data"])
            y = np.asarray(d[label_key])
            if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
                raise ValueError(f"'data' is {x.dtype} {x.shape}, expected uint8 (N, 3072)")
            if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"{label_key!r} has shape {y.shape}, expected {x.shape[0]} integer labels")
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"CIFAR file {path} is not a valid batch ({err}); re-download it") from None
        xs.append(x.reshape(-1, 3, 32, 32))
        ys.append(y.astype(np.int64))
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
        return tuple(read_cifar_pickle(p)[key]) if p.exists() else ()

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


_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_KMNIST = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")

#: How each torchvision data set is laid out on disk, read and cited, by the name
#: :func:`seleak.data.load_dataset` accepts.
DISK_DATASETS: dict[str, _DiskSpec] = {
    "cifar10": _DiskSpec(
        "cifar-10-batches-py",
        _CIFAR10_FILES,
        _cifar10_reader,
        _cifar_names("label_names", "batches.meta"),
        "CIFAR10",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "Krizhevsky (2009), Learning multiple layers of features from tiny images",
    ),
    "cifar100": _DiskSpec(
        "cifar-100-python",
        _CIFAR100_FILES,
        _cifar100_reader,
        _cifar_names("fine_label_names", "meta"),
        "CIFAR100",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "Krizhevsky (2009), Learning multiple layers of features from tiny images",
    ),
    "mnist": _DiskSpec(
        "MNIST/raw",
        _MNIST_FILES,
        _mnist_reader,
        _fixed_names([str(i) for i in range(10)]),
        "MNIST",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "LeCun, Bottou, Bengio & Haffner (1998), Proc. IEEE 86(11)",
    ),
    "fashionmnist": _DiskSpec(
        "FashionMNIST/raw",
        _MNIST_FILES,
        _mnist_reader,
        _fixed_names(_FASHION),
        "FashionMNIST",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747",
    ),
    "kmnist": _DiskSpec(
        "KMNIST/raw",
        _MNIST_FILES,
        _mnist_reader,
        _fixed_names(_KMNIST),
        "KMNIST",
        "http://codh.rois.ac.jp/kmnist/",
        "Clanuwat et al. (2018), arXiv:1812.01718",
    ),
    "svhn": _DiskSpec(
        "",
        {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)},
        _svhn_reader,
        _fixed_names([str(i) for i in range(10)]),
        "SVHN",
        "http://ufldl.stanford.edu/housenumbers/",
        "Netzer et al. (2011), Reading digits in natural images with unsupervised feature learning",
    ),
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


def load_disk(
    name: str, root: str | os.PathLike[str] | None, split: str, download: bool
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    """``(images, labels, class_names, provenance)`` of the ``split`` of the torchvision data set ``name``
    (a key of :data:`DISK_DATASETS`), read from ``root`` (default :func:`default_data_root`).

    Missing files are downloaded through torchvision only when ``download``; otherwise
    ``FileNotFoundError`` says where it looked and how to get them. Arguments are those of
    :func:`seleak.data.load_dataset`, already normalised and checked there.
    """
    spec = DISK_DATASETS[name]
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
            + (
                " The CIFAR files are Python pickles: use files from the official source; seleak reads them "
                "with a restricted unpickler that refuses any file asking to run code."
                if name.startswith("cifar")
                else ""
            )
        )
    images, labels = spec.reader(folder, split)
    prov = {
        "source": f"{spec.torchvision_class} official files in {folder}",
        "url": spec.url,
        "citation": spec.citation,
    }
    return images, labels, spec.class_names(folder), prov
