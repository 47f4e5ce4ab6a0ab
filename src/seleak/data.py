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
import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from seleak._io import CACHE_ENV
from seleak._validation import check_bool, check_int, is_int

__all__ = [
    "ImageDataset",
    "available_datasets",
    "load_dataset",
    "resample_matrix",
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


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution weights (a = -0.75, torch's and OpenCV's bicubic) of the 4 neighbours."""
    a = -0.75

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def resample_matrix(n_in: int, n_out: int, kernel: str) -> np.ndarray:
    """The ``(n_out, n_in)`` float64 weights of a 1-D resampling with half-pixel centres.

    ``"bicubic"``: Keys' cubic kernel, edges replicated (torch's ``bicubic``, ``align_corners=False``).
    ``"triangle"``: the anti-aliased bilinear filter of PIL and torch (``antialias=True``): a triangle
    stretched over the input pixels that one output pixel covers, normalised to sum 1.

    Images are resampled with these weights in exact integer arithmetic (:func:`_resample`) rather than
    with torch's float32 kernels because the rounding back to ``uint8`` must not depend on the processor:
    torch's kernels differ between AVX-512 and portable builds by float32 noise, enough to flip pixels
    that sit near a half level, and so to change the data set (and every number downstream).
    """
    scale = n_in / n_out
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    if kernel == "bicubic":
        src = (rows + 0.5) * scale - 0.5
        x0 = np.floor(src).astype(np.int64)
        w = _cubic_weights(src - x0)
        for k in range(4):
            np.add.at(m, (rows, np.clip(x0 - 1 + k, 0, n_in - 1)), w[:, k])
        return m
    if kernel == "triangle":
        support = max(scale, 1.0)
        for r in rows:
            centre = scale * (r + 0.5)
            lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
            j = np.arange(lo, hi)
            w = np.maximum(0.0, 1.0 - np.abs((j - centre + 0.5) / support))
            m[r, lo:hi] = w / w.sum()
        return m
    raise ValueError(f"kernel must be 'bicubic' or 'triangle', got {kernel!r}")


#: Bits of the fixed-point weights images are resampled with (:func:`_resample`).
_WEIGHT_BITS = 16


def _integer_weights(m: np.ndarray) -> np.ndarray:
    """The rows of ``m`` as integers over ``2**_WEIGHT_BITS`` that sum to exactly that (the largest
    weight of a row absorbs the rounding); weights that are short binary fractions stay exact."""
    scale = 1 << _WEIGHT_BITS
    w = np.rint(m * scale).astype(np.int64)
    w[np.arange(len(w)), np.abs(w).argmax(1)] += scale - w.sum(1)
    return w


def _resample(images: np.ndarray, h: int, w: int, kernel: str, denominator: int = 1) -> np.ndarray:
    """Resample integer-valued ``(N, H, W, C)`` images (pixel = value / ``denominator``) to
    ``(N, h, w, C)`` uint8, rounding half to even.

    Everything is integer arithmetic: fixed-point weights, exact int64 sums, and the final rounding
    on the exact quotient. Float arithmetic would leave pixels that sit on a half level to the order of
    the additions, which BLAS chooses by processor: the same image would round differently on another
    machine.
    """
    a_h = _integer_weights(resample_matrix(images.shape[1], h, kernel))
    a_w = _integer_weights(resample_matrix(images.shape[2], w, kernel))
    den = int(denominator) << (2 * _WEIGHT_BITS)
    out = np.empty((images.shape[0], h, w, images.shape[3]), dtype=np.uint8)
    # chunks bound the int64 working memory for large data sets (50 000 CIFAR images)
    for start in range(0, images.shape[0], 1024):
        x = np.moveaxis(images[start : start + 1024].astype(np.int64), -1, 1)  # (n, C, H, W)
        y = a_h @ x @ a_w.T  # (n, C, h, w), exact: integer matmul
        q, r = np.divmod(y, den)
        q += (2 * r > den) | ((2 * r == den) & (q % 2 == 1))
        out[start : start + 1024] = np.moveaxis(np.clip(q, 0, 255), 1, -1)
    return out


def resize_images(images: np.ndarray, size: int | Sequence[int]) -> np.ndarray:
    """Resize a ``uint8 (N, H, W, C)`` batch to ``size`` (an int for square, or ``(H, W)``).

    Bilinear with anti-aliasing (so downscaling does not alias), with the weights of
    :func:`resample_matrix` in exact integer arithmetic, rounded back to ``uint8``: the same pixels on
    every machine.
    """
    h, w = _check_size(size)
    if images.shape[1:3] == (h, w):
        return images
    return _resample(images, h, w, "triangle")


def _check_size(size: Any) -> tuple[int, int]:
    """``size`` as ``(H, W)``: a positive int (square) or a pair of positive ints."""
    allowed = "a positive integer (square) or a pair (HEIGHT, WIDTH) of positive integers"
    if is_int(size):
        if size < 1:
            raise ValueError(f"size must be {allowed}, got {size!r}")
        return int(size), int(size)
    if isinstance(size, (str, bytes)) or not isinstance(size, (Sequence, np.ndarray)) or len(size) != 2:
        raise ValueError(f"size must be {allowed}, got {size!r}")
    if not all(is_int(s) and s >= 1 for s in size):
        raise ValueError(f"size must be {allowed}, got {size!r}")
    return int(size[0]), int(size[1])


def subsample_indices(n_total: int, n: int, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """``n`` of ``n_total`` indices, chosen by ``seed``, sorted; stratified by ``labels`` when given.

    Stratified draws give each class ``n * share`` images (largest-remainder rounding), so a small
    subsample keeps the class balance of the full set.
    """
    check_int(n, "n (images to keep)", minimum=1)
    check_int(seed, "seed (of the subsample)", minimum=0)
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
    from sklearn.datasets import load_digits

    d = load_digits()
    # 0..16 -> 0..255 as k * 255 / 16; bicubic upsampling gives smooth strokes whose low bit-planes are
    # not constant, like a real scan; the overshoot of the cubic kernel is clipped back into 0..255
    x = (d.images.astype(np.int64) * 255)[..., None]
    images = _resample(x, 32, 32, "bicubic", denominator=16)
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


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only globals a CIFAR batch may name: what rebuilds numpy arrays, dtypes and scalars.

    Python 2 pickles (the official files) name ``numpy.core.*``; files written under numpy 2 name
    ``numpy._core.*``. Each name maps to the object itself, so numpy 2's ``numpy.core`` shim is never
    imported. None of these runs arbitrary code: they allocate arrays from bytes.
    """
    from numpy._core import multiarray, numeric

    allowed: dict[tuple[str, str], Any] = {}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # pickle protocol 5
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    # bytes pickled by Python 3 with protocol < 3 are rebuilt as _codecs.encode(text, "latin1")
    allowed[("_codecs", "encode")] = __import__("_codecs").encode
    return allowed


class UnsafePickleError(ValueError):
    """A data file asks to run code that a plain data pickle never contains; it was not loaded."""


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds dicts, lists, strings, numbers and numpy arrays, and nothing else.

    A pickle is a program: ``pickle.load`` of a crafted file runs whatever function it names (e.g.
    ``os.system``). Every global a pickle names goes through :meth:`find_class`, so refusing all but
    numpy's array reconstructors means a malicious batch file cannot execute code here.
    """

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if _DataUnpickler._allowed is None:
            _DataUnpickler._allowed = _allowed_globals()
        try:
            return _DataUnpickler._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"{module}.{name}") from None


def _unpickle(path: Path) -> dict[str, Any]:
    """Read one file of the official CIFAR python format (a pickled dict) without running its code.

    The official format is Python pickles, and an ordinary ``pickle.load`` of a crafted file executes
    code; this reader allows only the numpy array reconstructors (see :class:`_DataUnpickler`).
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read CIFAR file {path}: {err}") from None
    try:
        obj = _DataUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except UnsafePickleError as err:
        raise UnsafePickleError(
            f"refused to load {path}: it asks to run {err} when unpickled, which an official CIFAR batch "
            "never does (only numpy arrays, lists and strings). Nothing in it was executed. Delete the file "
            "and re-download it from the official source (load_dataset(..., download=True))"
        ) from None
    except Exception as err:  # truncated or corrupt: EOFError, UnpicklingError, ValueError, ...
        raise ValueError(
            f"CIFAR file {path} is damaged and cannot be read ({type(err).__name__}: {err}); delete it and "
            "re-download it (load_dataset(..., download=True) or the official archive)"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"CIFAR file {path} holds a {type(obj).__name__}, not the official dict of a "
                         "batch; re-download it")
    return obj


def _read_cifar(folder: Path, split: str, files: tuple[str, ...], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for f in files:
        path = folder / f
        d = _unpickle(path)
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
            + (" The CIFAR files are Python pickles: use files from the official source; seleak reads them "
               "with a restricted unpickler that refuses any file asking to run code."
               if name.startswith("cifar") else "")
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
    if key not in _OFFLINE and key not in _DISK:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(available_datasets())}")
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    if n is not None and (not is_int(n) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    check_int(seed, "seed (of the subsample)", minimum=0)
    check_bool(download, "download")
    if size is not None:
        _check_size(size)

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
