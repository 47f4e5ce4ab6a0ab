"""Reading and writing 8-bit PNG files with their ``seleak:*`` text chunks, safely.

:func:`read_png` walks the PNG chunks itself before Pillow sees the file: it refuses 16-bit (and
1/2/4-bit) samples, which Pillow would silently reduce to 8 bits, and animated PNGs, of which only the
first frame would be encrypted; it decodes only the ``seleak:*`` text chunks, each bounded by what the
image's size can need (so a few kilobytes of compressed text cannot expand to gigabytes), and hands
Pillow the image without its text chunks. :func:`write_png` writes through
:func:`seleak.io_images.outputs.write_new_file`, so it never replaces a file unless asked.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from seleak.io_images.metadata import META_PREFIX
from seleak.io_images.outputs import write_new_file

#: Pillow modes ``seleak encrypt`` accepts: 8 bits per sample, grey or colour, with or without alpha.
PNG_MODES = ("L", "LA", "RGB", "RGBA")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_COLOUR_TYPES = {0: "grey", 2: "RGB", 3: "palette", 4: "grey+alpha (LA)", 6: "RGBA"}
# the longest value a metadata field other than the scheme can legitimately hold
_SHORT_FIELD_LIMIT = 256
#: How the refusals suggest converting an image Pillow can read into one seleak accepts.
CONVERT_HINT = "Image.open(p).convert('RGB').save(q)"


# --------------------------------------------------------------------------------------------------
# reading PNG files
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PngImage:
    """A decoded PNG: ``pixels`` uint8 ``(H, W)`` or ``(H, W, C)``, Pillow ``mode``, and its
    ``seleak:*`` ``text`` chunks (other text chunks are neither decoded nor kept)."""

    pixels: np.ndarray
    mode: str
    text: dict[str, str]

    @property
    def seleak_meta(self) -> dict[str, str]:
        """The ``seleak:*`` text chunks, without the prefix."""
        return {k[len(META_PREFIX) :]: v for k, v in self.text.items() if k.startswith(META_PREFIX)}


def _text_limit(key: str, width: int, height: int) -> int:
    """The longest value ``key`` can need for a ``width x height`` image: a region-mask scheme spec
    holds about H*W/6 base64 characters of compressed mask bits, everything else is short."""
    if key == META_PREFIX + "scheme":
        return 512 + -(-width * height // 4)
    return _SHORT_FIELD_LIMIT


def _inflate_bounded(data: bytes, limit: int, what: str) -> bytes:
    """zlib-decompress at most ``limit`` bytes; more is refused without producing it."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise ValueError(f"{what}: the compressed text is damaged ({e})") from None
    if len(out) > limit or d.unconsumed_tail:
        raise ValueError(
            f"{what} expands to more than {limit} bytes, more than any seleak metadata of this "
            "image needs; the file is damaged or was crafted. Refusing it"
        )
    return out


def _decode_text_chunk(ctype: bytes, data: bytes, limit: int, what: str) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk, the text bounded by ``limit`` bytes."""
    key_raw, sep, rest = data.partition(b"\0")
    if not sep:
        raise ValueError(f"{what}: text chunk without a keyword; the file is damaged")
    key = key_raw.decode("latin-1")
    if ctype == b"tEXt":
        return key, rest.decode("latin-1")
    if ctype == b"zTXt":
        if rest[:1] != b"\0":
            raise ValueError(f"{what}: unknown compression method in a zTXt chunk; the file is damaged")
        # a seleak field is short or base64 of compressed bits, which does not compress below ~3/4:
        # text more than twice its compressed size plus a little is a bomb, whatever the image size
        return key, _inflate_bounded(rest[1:], min(limit, 2 * len(rest) + 4096), what).decode("latin-1")
    # iTXt: flag, method, language \0, translated keyword \0, UTF-8 text
    if len(rest) < 2:
        raise ValueError(f"{what}: truncated iTXt chunk; the file is damaged")
    flag, method = rest[0], rest[1]
    parts = rest[2:].split(b"\0", 2)
    if len(parts) != 3:
        raise ValueError(f"{what}: malformed iTXt chunk; the file is damaged")
    body = parts[2]
    if flag:
        if method != 0:
            raise ValueError(f"{what}: unknown compression method in an iTXt chunk; the file is damaged")
        body = _inflate_bounded(body, min(limit, 2 * len(body) + 4096), what)
    try:
        return key, body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what}: iTXt text is not UTF-8; the file is damaged") from None


def _scan_png(path: Path) -> tuple[bytes, dict[str, str], tuple[int, int]]:
    """Walk the chunks of a PNG file: check the header, decode the bounded ``seleak:*`` text chunks.

    Returns the file without its text chunks (for Pillow), the seleak text, and (width, height).
    Raises ``ValueError`` for what seleak cannot encrypt exactly or safely.
    """
    out = bytearray(_PNG_SIGNATURE)
    text: dict[str, str] = {}
    damaged = f"{path} is damaged or truncated"
    with open(path, "rb") as fh:
        if fh.read(8) != _PNG_SIGNATURE:
            raise _not_png(path)
        width = height = -1
        first = True
        while True:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError(f"{damaged} (it ends before the IEND chunk); re-export it from the original")
            length, ctype = struct.unpack(">I4s", head)
            if length > 0x7FFFFFFF:
                raise ValueError(f"{damaged} (a chunk length is out of range); re-export it from the original")
            if first:
                if ctype != b"IHDR" or length != 13:
                    raise ValueError(f"{damaged} (no IHDR header chunk); re-export it from the original")
                data = fh.read(length + 4)
                if len(data) < length + 4 or zlib.crc32(head[4:] + data[:13]) != struct.unpack(">I", data[13:])[0]:
                    raise ValueError(f"{damaged} (bad IHDR header chunk); re-export it from the original")
                width, height, depth, colour = struct.unpack(">IIBB", data[:10])
                _check_header(path, width, height, depth, colour)
                out += head + data
                first = False
                continue
            if ctype in _TEXT_CHUNKS:
                # read the keyword only; a non-seleak text chunk is skipped without being decoded
                peek = fh.read(min(length, 80))
                if peek.startswith(META_PREFIX.encode()):
                    key = peek.partition(b"\0")[0].decode("latin-1")
                    limit = _text_limit(key, width, height)
                    # the compressed form is never much longer than the text it holds
                    if length > limit + 1024:
                        raise ValueError(
                            f"{path}: metadata field {key!r} is {length} bytes, more than the {limit} "
                            f"a {width}x{height} image can need; the file is damaged or was crafted"
                        )
                    rest = fh.read(length - len(peek) + 4)
                    data = peek + rest[:-4]
                    if (
                        len(rest) < length - len(peek) + 4
                        or zlib.crc32(ctype + data) != struct.unpack(">I", rest[-4:])[0]
                    ):
                        raise ValueError(f"{damaged} (a bad {ctype.decode()} chunk); re-export it from the original")
                    key, value = _decode_text_chunk(ctype, data, limit, f"{path}: metadata field {key!r}")
                    if len(value) > limit:
                        raise ValueError(
                            f"{path}: metadata field {key!r} holds {len(value)} characters, more than "
                            f"the {limit} a {width}x{height} image can need; the file is damaged or "
                            "was crafted"
                        )
                    if key in text:
                        raise ValueError(
                            f"{path} carries the metadata field {key!r} twice; it was altered after "
                            "encryption and cannot be trusted"
                        )
                    text[key] = value
                else:
                    fh.seek(length - len(peek) + 4, os.SEEK_CUR)
                continue
            if ctype == b"acTL":
                data = fh.read(length + 4)
                frames = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else 0
                if frames > 1:
                    raise ValueError(
                        f"{path} is an animated PNG (APNG) with {frames} frames; seleak encrypts one "
                        "still image and would drop every frame but the first. Extract the frames "
                        "first (e.g. with Pillow's ImageSequence) and encrypt each as its own PNG"
                    )
                out += head + data
                continue
            data = fh.read(length + 4)
            if len(data) < length + 4:
                raise ValueError(
                    f"{damaged} (it ends inside its {ctype.decode('latin-1')} chunk); re-export it from the original"
                )
            out += head + data
            if ctype == b"IEND":
                break
    return bytes(out), text, (width, height)


def _not_png(path: Path) -> ValueError:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            kind = f"a {im.format} file"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = "not an image Pillow can read"
    except Image.DecompressionBombError:
        kind = "a very large image, and not a PNG"
    return ValueError(
        f"{path} is {kind}; seleak encrypt/decrypt read and write PNG only "
        f"(convert it first, e.g. {CONVERT_HINT} with q ending in .png)"
    )


def _check_header(path: Path, width: int, height: int, depth: int, colour: int) -> None:
    """Refuse what seleak cannot encrypt exactly: palette, non-8-bit samples, bomb-sized images."""
    from PIL import Image

    kind = _COLOUR_TYPES.get(colour)
    if kind is None:
        raise ValueError(f"{path} is damaged (unknown PNG colour type {colour}); re-export it from the original")
    if colour == 3:
        raise ValueError(
            f"{path} has Pillow mode 'P' (palette); supported are 8-bit {', '.join(PNG_MODES)} "
            f"(convert it first, e.g. {CONVERT_HINT})"
        )
    if depth != 8:
        target = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}[colour]
        loss = (
            "reading it as 8-bit would silently drop the low byte of every sample"
            if depth == 16
            else "seleak's bit-planes are those of 8-bit samples"
        )
        raise ValueError(
            f"{path} is a {depth}-bit {kind} PNG; seleak encrypts 8-bit samples only and {loss}. "
            f"Convert it to 8-bit {target} first (e.g. ImageMagick: magick IN.png -depth 8 OUT.png) "
            "and encrypt that"
        )
    if width == 0 or height == 0:
        raise ValueError(f"{path} is damaged (width or height 0); re-export it from the original")
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > 2 * limit:
        raise _bomb_error(path, width, height)


def _bomb_error(path: Path, width: int, height: int) -> ValueError:
    from PIL import Image

    return ValueError(
        f"{path} is {width}x{height} = {width * height} pixels, more than twice Pillow's "
        f"decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS}); "
        "split or downscale it, or, for a file you trust, raise that limit in Python"
    )


def pillow_failure(path: Path | str, err: BaseException) -> ValueError:
    """One message for what Pillow raises on a broken file (OSError, SyntaxError, ...)."""
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(
        f"{path} is damaged or truncated and cannot be decoded ({detail}); re-export it from the original or remove it"
    )


#: What Pillow raises for a damaged file; anything else (AttributeError, ...) is a bug and stays one.
PILLOW_DATA_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error)


def decode_still(source: Any, formats: list[str] | None) -> tuple[int, str, np.ndarray | None]:
    """Frame count, Pillow mode and, for a single frame of a supported mode, its pixels (else ``None``).

    ``source``: a path or a binary file object; ``formats``: the Pillow formats to try (``None``: all).
    Pillow's own exceptions (:data:`PILLOW_DATA_ERRORS`, decompression bombs) pass through to the caller.
    """
    from PIL import Image

    with Image.open(source, formats=formats) as im:
        frames, mode = int(getattr(im, "n_frames", 1)), im.mode
        if frames != 1 or mode not in PNG_MODES:
            return frames, mode, None
        im.load()
        return frames, mode, np.array(im, dtype=np.uint8)


def read_png(path: str | os.PathLike[str]) -> PngImage:
    """Read an 8-bit PNG (modes L, LA, RGB, RGBA) with its ``seleak:*`` text chunks.

    Refused with ``ValueError`` (a message naming the problem and the fix): other modes (palette,
    1/2/4/16-bit samples: encrypting their bits would not mean what the scheme says, and converting
    them silently would break the exact round trip), animated PNGs, damaged or truncated files,
    images above Pillow's decompression-bomb limit, and metadata larger than the image can need.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not an image file; give a .png file")
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        filtered, text, (width, height) = _scan_png(path)
    except PermissionError:
        raise ValueError(f"cannot read {path}: permission denied; check its permissions") from None
    try:
        frames, mode, pixels = decode_still(io.BytesIO(filtered), ["PNG"])
    except Image.DecompressionBombError:
        raise _bomb_error(path, width, height) from None
    except (UnidentifiedImageError, *PILLOW_DATA_ERRORS) as e:
        raise pillow_failure(path, e) from None
    if frames > 1:
        raise ValueError(
            f"{path} is an animated PNG with {frames} frames; seleak encrypts one still image. "
            "Extract the frames first and encrypt each as its own PNG"
        )
    if mode not in PNG_MODES:
        raise ValueError(
            f"{path} has Pillow mode {mode!r}; supported are 8-bit {', '.join(PNG_MODES)} "
            f"(convert it first, e.g. {CONVERT_HINT})"
        )
    return PngImage(pixels=pixels, mode=mode, text=text)


# --------------------------------------------------------------------------------------------------
# writing PNG files
# --------------------------------------------------------------------------------------------------


def write_png(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    mode: str,
    text: Mapping[str, str] | None = None,
    *,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``pixels`` as a lossless PNG of ``mode`` with ``text`` chunks, atomically.

    An existing ``path`` is an error unless ``overwrite``; files in ``protect`` (the key, the input)
    are never written over.
    """
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
    return write_new_file(path, buf.getvalue(), overwrite=overwrite, protect=protect)


# --------------------------------------------------------------------------------------------------
# the alpha channel, which is kept in the clear
# --------------------------------------------------------------------------------------------------


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
