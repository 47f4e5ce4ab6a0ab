"""File helpers of the command line: PNG images with seleak metadata, key files, paired image sets.

Nothing here parses arguments (that is :mod:`seleak.cli`) or knows about MI.

**Encrypted PNG files.** ``seleak encrypt`` writes an ordinary, lossless PNG whose ``tEXt`` chunks
carry what decryption needs besides the key (all public):

=================== ============================================================================
``seleak:format``   ``"1"``, the version of this layout
``seleak:scheme``   the scheme's spec (``"msb:3"``), parsed back with ``parse_scheme``
``seleak:nonce``    the image's 16-byte initial counter block, hex
``seleak:mode``     the Pillow mode of the original (``L``, ``RGB`` or ``RGBA``)
``seleak:alpha``    ``"clear"`` for RGBA files: the alpha channel is not encrypted
``seleak:kcv``      key check value: HMAC-SHA256(key, ``"seleak key check v1"``), hex
=================== ============================================================================

The key check value lets ``decrypt`` tell a wrong key from a right one before producing garbage. It is
a PRF output under the key, so it reveals nothing about the key; like any known plaintext it lets an
attacker test a guessed key, which is no weaker than what AES-CTR on images already allows.

**Key files.** Either the raw key bytes (16, 24 or 32 bytes) or the key as hexadecimal text (32, 48 or
64 hex digits; surrounding whitespace ignored). ``seleak keygen`` writes hex text plus a newline,
creates the file with permissions 0600 and refuses to overwrite one.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from seleak._io import atomic_write_bytes

__all__ = [
    "split_alpha",
    "join_alpha",
    "META_PREFIX",
    "FORMAT_VERSION",
    "PngImage",
    "read_png",
    "write_png",
    "key_check_value",
    "read_key_file",
    "write_key_file",
    "load_image_set",
    "IMAGE_SUFFIXES",
    "PNG_MODES",
]

META_PREFIX = "seleak:"
FORMAT_VERSION = "1"
_KCV_LABEL = b"seleak key check v1"
_KEY_SIZES = (16, 24, 32)
#: Pillow modes ``seleak encrypt`` accepts: 8 bits per sample, grey or colour, with or without alpha.
PNG_MODES = ("L", "LA", "RGB", "RGBA")
#: File suffixes ``load_image_set`` reads from a folder.
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm")


@dataclass(frozen=True)
class PngImage:
    """A decoded PNG: ``pixels`` uint8 ``(H, W)`` or ``(H, W, C)``, Pillow ``mode``, ``text`` chunks."""

    pixels: np.ndarray
    mode: str
    text: dict[str, str]

    @property
    def seleak_meta(self) -> dict[str, str]:
        """The ``seleak:*`` text chunks, without the prefix."""
        return {k[len(META_PREFIX):]: v for k, v in self.text.items() if k.startswith(META_PREFIX)}


def read_png(path: str | os.PathLike[str]) -> PngImage:
    """Read an 8-bit PNG (modes L, LA, RGB, RGBA) with its text chunks.

    Other modes (palette, 1-bit, 16-bit) raise ``ValueError``: encrypting their bits would not mean
    what the scheme says, and converting them silently would break the exact round trip.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise ValueError(f"{path} is a {im.format} file; seleak encrypt/decrypt read and write PNG only")
            im.load()
            mode = im.mode
            if mode not in PNG_MODES:
                raise ValueError(
                    f"{path} has Pillow mode {mode!r}; supported are 8-bit {', '.join(PNG_MODES)} "
                    "(convert palette or 16-bit images first, e.g. Image.open(p).convert('RGB'))"
                )
            text = {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
            pixels = np.array(im, dtype=np.uint8)
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image Pillow can read") from None
    return PngImage(pixels=pixels, mode=mode, text=text)


def write_png(path: str | os.PathLike[str], pixels: np.ndarray, mode: str, text: Mapping[str, str] | None = None) -> Path:
    """Write ``pixels`` as a lossless PNG of ``mode`` with ``text`` chunks, atomically."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    if pixels.dtype != np.uint8:
        raise TypeError(f"pixels must be uint8, got {pixels.dtype}")
    info = PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    im = Image.fromarray(np.ascontiguousarray(pixels))  # the mode follows from the shape
    if im.mode != mode:
        raise ValueError(f"pixels of shape {pixels.shape} make a {im.mode} image, not {mode}")
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info)
    return atomic_write_bytes(path, buf.getvalue())


def key_check_value(key: bytes) -> str:
    """HMAC-SHA256 of a fixed label under ``key``, hex: identifies a key without revealing it."""
    return hmac.new(bytes(key), _KCV_LABEL, hashlib.sha256).hexdigest()


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """Read a key file (raw 16/24/32 bytes, or the same as hex text); never echoes its content.

    Warns on stderr when the file is readable by group or others (it should be 0600).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such key file: {path} (create one with: seleak keygen {path})")
    data = path.read_bytes()
    key: bytes | None = None
    if len(data) in _KEY_SIZES:
        key = data
    else:
        try:
            text = data.decode("ascii").strip()
            if len(text) in (2 * n for n in _KEY_SIZES):
                key = bytes.fromhex(text)
        except (UnicodeDecodeError, ValueError):
            key = None
    if key is None:
        # the message gives sizes only: the file's content must never reach a terminal or a log
        raise ValueError(
            f"key file {path} holds {len(data)} bytes; expected a raw key of 16, 24 or 32 bytes, "
            "or 32, 48 or 64 hexadecimal digits"
        )
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"warning: key file {path} is readable by others; chmod 600 {path}", file=sys.stderr)
    return key


def write_key_file(path: str | os.PathLike[str], key: bytes, *, raw: bool = False) -> Path:
    """Create a key file with permissions 0600 (hex text unless ``raw``); an existing file is an error."""
    path = Path(path)
    if len(key) not in _KEY_SIZES:
        raise ValueError(f"a key has 16, 24 or 32 bytes, got {len(key)}")
    data = key if raw else key.hex().encode("ascii") + b"\n"
    try:
        # O_EXCL: never truncate someone's existing key; mode 0600 from the start, no chmod race
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValueError(f"{path} already exists; remove it first (seleak never overwrites a key)") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def load_image_set(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read a set of same-sized images: a ``.npz`` file (array ``images``) or a folder of image files.

    Returns ``(names, images)`` with ``images`` uint8 ``(N, H, W, C)``. A folder's files are sorted by
    name and named by file name; an ``.npz`` file's images are named by index (``"0"``, ``"1"``, ...).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise ValueError(f"{path}: expected a folder of images or an .npz file with an 'images' array")
        with np.load(path, allow_pickle=False) as f:
            if "images" not in f.files:
                raise ValueError(f"{path} has no array named 'images' (it has {', '.join(f.files) or 'none'})")
            images = f["images"]
        if images.dtype != np.uint8:
            raise TypeError(f"{path}: 'images' must be uint8, got {images.dtype}")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[0] == 0:
            raise ValueError(f"{path}: 'images' must be (N, H, W) or (N, H, W, C) with N > 0, got {images.shape}")
        return [str(i) for i in range(images.shape[0])], images
    from PIL import Image

    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    arrays = []
    for p in files:
        with Image.open(p) as im:
            if im.mode not in PNG_MODES:
                raise ValueError(f"{p} has Pillow mode {im.mode!r}; expected 8-bit {', '.join(PNG_MODES)}")
            a = np.array(im, dtype=np.uint8)
        arrays.append(a[..., None] if a.ndim == 2 else a)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"the images in {path} differ in size or channels ({sorted(shapes)[:3]}...); resize them first")
    return [p.name for p in files], np.stack(arrays)


def split_alpha(pixels: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Colour samples as a batch of one image, and the alpha channel (kept in the clear) if any."""
    if mode in ("LA", "RGBA"):
        colour, alpha = pixels[..., :-1], pixels[..., -1:]
        return (colour[..., 0] if mode == "LA" else colour)[None], alpha
    return pixels[None], None


def join_alpha(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """The inverse of :func:`split_alpha`: one image with its alpha channel put back."""
    img = colour[0]
    if alpha is None:
        return img
    return np.concatenate([img if img.ndim == 3 else img[..., None], alpha], axis=-1)
