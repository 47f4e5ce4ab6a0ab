"""The offline data sets: files that ship inside the scikit-learn and scikit-image wheels (no network, ever).

Each loader returns ``(images, labels, class_names, provenance)`` for the whole set; the split,
subsample and resize are applied by :func:`seleak.data.load_dataset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from seleak.data.resample import resample_exact


def _load_digits() -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    # 0..16 -> 0..255 as k * 255 / 16; bicubic upsampling gives smooth strokes whose low bit-planes are
    # not constant, like a real scan; the overshoot of the cubic kernel is clipped back into 0..255
    x = (d.images.astype(np.int64) * 255)[..., None]
    images = resample_exact(x, 32, 32, "bicubic", denominator=16)
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
            im = im.resize(
                (max(_PHOTO_SIDE, round(w * scale)), max(_PHOTO_SIDE, round(h * scale))), Image.Resampling.LANCZOS
            )
            w, h = im.size
            left, top = (w - _PHOTO_SIDE) // 2, (h - _PHOTO_SIDE) // 2
            arr = np.asarray(im.crop((left, top, left + _PHOTO_SIDE, top + _PHOTO_SIDE)), dtype=np.uint8)
        g = _PHOTO_SIDE // _TILE
        # (g*T, g*T, 3) -> (g, T, g, T, 3) -> (g, g, T, T, 3): row-major tiles, deterministic order
        t = arr.reshape(g, _TILE, g, _TILE, 3).transpose(0, 2, 1, 3, 4).reshape(-1, _TILE, _TILE, 3)
        tiles.append(t)
        labels.append(np.full(t.shape[0], label, dtype=np.int64))
    prov = {
        "source": "scikit-image bundled photographs (skimage/data): " + ", ".join(f for f, _ in PHOTO_FILES),
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


#: Loader of each offline data set, by the name :func:`seleak.data.load_dataset` accepts.
OFFLINE_DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]]] = {
    "digits": _load_digits,
    "photos": _load_photos,
    "faces": _load_faces,
}
