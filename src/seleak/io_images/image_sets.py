"""Image sets of ``seleak leak``: an ``.npz`` file or a folder of same-sized images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from seleak.io_images.png import (
    CONVERT_HINT,
    PILLOW_DATA_ERRORS,
    PNG_MODES,
    decode_still,
    pillow_failure,
    read_png,
)

#: File suffixes ``load_image_set`` reads from a folder.
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm")


def _read_set_image(p: Path) -> np.ndarray:
    """One image of a folder for ``seleak leak``, with the checks of :func:`read_png` for PNG files."""
    from PIL import Image, UnidentifiedImageError

    if p.suffix.lower() == ".png":
        return read_png(p).pixels
    try:
        frames, mode, pixels = decode_still(p, None)
    except Image.DecompressionBombError:
        raise ValueError(f"{p} is larger than Pillow's decompression-bomb limit; downscale it first") from None
    except PermissionError:
        raise ValueError(f"cannot read {p}: permission denied; check its permissions") from None
    except (UnidentifiedImageError, *PILLOW_DATA_ERRORS) as e:
        raise pillow_failure(p, e) from None
    if frames > 1:
        raise ValueError(f"{p} holds {frames} frames; save each as its own image first")
    if mode not in PNG_MODES:
        raise ValueError(
            f"{p} has Pillow mode {mode!r}; expected 8-bit {', '.join(PNG_MODES)} "
            f"(convert it first, e.g. {CONVERT_HINT})"
        )
    return pixels


def load_image_set(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read a set of same-sized images: a ``.npz`` file (array ``images``) or a folder of image files.

    Returns ``(names, images)`` with ``images`` uint8 ``(N, H, W, C)``. A folder's files are sorted by
    name and named by file name; an ``.npz`` file's images are named by index (``"0"``, ``"1"``, ...).
    A file that cannot be read raises ``ValueError`` naming it.
    """
    import zipfile

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise ValueError(f"{path}: expected a folder of images or an .npz file with an 'images' array")
        try:
            with np.load(path, allow_pickle=False) as f:
                if "images" not in f.files:
                    raise ValueError(f"{path} has no array named 'images' (it has {', '.join(f.files) or 'none'})")
                images = f["images"]
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ValueError(
                f"{path} is not a readable .npz file ({e}); save it with numpy.savez(path, images=array)"
            ) from None
        except ValueError as e:
            if str(e).startswith(str(path)):
                raise
            raise ValueError(
                f"{path}: cannot read its 'images' array ({e}); save it with numpy.savez(path, images=array)"
            ) from None
        if images.dtype != np.uint8:
            raise TypeError(f"{path}: 'images' must be uint8, got {images.dtype}")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[0] == 0:
            raise ValueError(f"{path}: 'images' must be (N, H, W) or (N, H, W, C) with N > 0, got {images.shape}")
        return [str(i) for i in range(images.shape[0])], images
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    arrays = []
    for p in files:
        a = _read_set_image(p)
        arrays.append(a[..., None] if a.ndim == 2 else a)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(
            f"the images in {path} differ in size or channels ({sorted(shapes)[:3]}...); resize them first"
        )
    return [p.name for p in files], np.stack(arrays)
