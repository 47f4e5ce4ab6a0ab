"""File helpers of the command line: PNG images with seleak metadata, key files, paired image sets.

Nothing here parses arguments (that is :mod:`seleak.cli`) or knows about MI.

**Encrypted PNG files.** ``seleak encrypt`` writes an ordinary, lossless 8-bit PNG whose ``tEXt``
chunks carry what decryption needs besides the key (all public):

=================== ============================================================================
``seleak:format``   ``"2"``, the version of this layout
``seleak:scheme``   the scheme's spec (``"msb:3"``), parsed back with ``parse_scheme``
``seleak:nonce``    the image's 16-byte initial counter block, hex
``seleak:mode``     the Pillow mode of the original (``L``, ``LA``, ``RGB`` or ``RGBA``)
``seleak:alpha``    ``"clear"`` for LA and RGBA files: the alpha channel is not encrypted
``seleak:salt``     16 random bytes, hex, fresh for every file
``seleak:mac``      HMAC-SHA256, hex, under a key derived from the AES key and the salt (HKDF-SHA256),
                    over the format, scheme, nonce, mode, alpha flag, width and height
=================== ============================================================================

The MAC lets ``decrypt`` refuse a wrong key, or a file whose metadata was altered, before writing
anything, instead of producing garbage. Its key is derived per file from a random salt, so two files
encrypted under one key carry unrelated values and cannot be linked by them. It does not cover the
pixel values: as in any stream cipher, a changed encrypted bit changes only the same decrypted bit.
Format ``"1"`` (a constant key check value instead of a MAC) is no longer read.

**Reading PNG files.** :func:`read_png` walks the PNG chunks itself before Pillow sees the file: it
refuses 16-bit (and 1/2/4-bit) samples, which Pillow would silently reduce to 8 bits, and animated
PNGs, of which only the first frame would be encrypted; it decodes only the ``seleak:*`` text chunks,
each bounded by what the image's size can need (so a few kilobytes of compressed text cannot expand to
gigabytes), and hands Pillow the image without its text chunks.

**Key files.** One format: a text file of two lines, ``seleak-key-v1`` and the key as 32, 48 or 64
hexadecimal digits (AES-128/192/256). ``seleak keygen`` writes it, with permissions 0600, and never
overwrites a file. Anything else (raw bytes, bare hex, a passphrase) is refused, so a key is never
read in a way its author did not mean.
"""

from __future__ import annotations

import errno
import hmac
import io
import os
import secrets
import stat
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = [
    "split_alpha",
    "join_alpha",
    "META_PREFIX",
    "FORMAT_VERSION",
    "KEY_FILE_HEADER",
    "PngImage",
    "read_png",
    "write_png",
    "check_output_path",
    "seal_png_metadata",
    "verify_png_metadata",
    "read_key_file",
    "write_key_file",
    "load_image_set",
    "IMAGE_SUFFIXES",
    "PNG_MODES",
]

META_PREFIX = "seleak:"
FORMAT_VERSION = "2"
#: First line of every key file.
KEY_FILE_HEADER = "seleak-key-v1"
#: A key file is two short lines; anything bigger is not one, and is not read.
MAX_KEY_FILE_BYTES = 1024
_KEY_SIZES = (16, 24, 32)
#: Pillow modes ``seleak encrypt`` accepts: 8 bits per sample, grey or colour, with or without alpha.
PNG_MODES = ("L", "LA", "RGB", "RGBA")
#: File suffixes ``load_image_set`` reads from a folder.
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm")
#: The metadata fields a format-2 file must carry.
META_FIELDS = ("format", "scheme", "nonce", "mode", "salt", "mac")
_PNG_MAC_CONTEXT = b"seleak png metadata mac v2"
_SALT_BYTES = 16
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_COLOUR_TYPES = {0: "grey", 2: "RGB", 3: "palette", 4: "grey+alpha (LA)", 6: "RGBA"}
# the longest value a metadata field other than the scheme can legitimately hold
_SHORT_FIELD_LIMIT = 256
_CONVERT_HINT = "Image.open(p).convert('RGB').save(q)"


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
        return {k[len(META_PREFIX):]: v for k, v in self.text.items() if k.startswith(META_PREFIX)}


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
        raise ValueError(f"{what} expands to more than {limit} bytes, more than any seleak metadata of this "
                         "image needs; the file is damaged or was crafted. Refusing it")
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
                        raise ValueError(f"{path}: metadata field {key!r} is {length} bytes, more than the {limit} "
                                         f"a {width}x{height} image can need; the file is damaged or was crafted")
                    rest = fh.read(length - len(peek) + 4)
                    data = peek + rest[:-4]
                    if len(rest) < length - len(peek) + 4 or zlib.crc32(ctype + data) != struct.unpack(">I", rest[-4:])[0]:
                        raise ValueError(f"{damaged} (a bad {ctype.decode()} chunk); re-export it from the original")
                    key, value = _decode_text_chunk(ctype, data, limit, f"{path}: metadata field {key!r}")
                    if len(value) > limit:
                        raise ValueError(f"{path}: metadata field {key!r} holds {len(value)} characters, more than "
                                         f"the {limit} a {width}x{height} image can need; the file is damaged or "
                                         "was crafted")
                    if key in text:
                        raise ValueError(f"{path} carries the metadata field {key!r} twice; it was altered after "
                                         "encryption and cannot be trusted")
                    text[key] = value
                else:
                    fh.seek(length - len(peek) + 4, os.SEEK_CUR)
                continue
            if ctype == b"acTL":
                data = fh.read(length + 4)
                frames = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else 0
                if frames > 1:
                    raise ValueError(f"{path} is an animated PNG (APNG) with {frames} frames; seleak encrypts one "
                                     "still image and would drop every frame but the first. Extract the frames "
                                     "first (e.g. with Pillow's ImageSequence) and encrypt each as its own PNG")
                out += head + data
                continue
            data = fh.read(length + 4)
            if len(data) < length + 4:
                raise ValueError(f"{damaged} (it ends inside its {ctype.decode('latin-1')} chunk); "
                                 "re-export it from the original")
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
    return ValueError(f"{path} is {kind}; seleak encrypt/decrypt read and write PNG only "
                      f"(convert it first, e.g. {_CONVERT_HINT} with q ending in .png)")


def _check_header(path: Path, width: int, height: int, depth: int, colour: int) -> None:
    """Refuse what seleak cannot encrypt exactly: palette, non-8-bit samples, bomb-sized images."""
    from PIL import Image

    kind = _COLOUR_TYPES.get(colour)
    if kind is None:
        raise ValueError(f"{path} is damaged (unknown PNG colour type {colour}); re-export it from the original")
    if colour == 3:
        raise ValueError(f"{path} has Pillow mode 'P' (palette); supported are 8-bit {', '.join(PNG_MODES)} "
                         f"(convert it first, e.g. {_CONVERT_HINT})")
    if depth != 8:
        target = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}[colour]
        loss = ("reading it as 8-bit would silently drop the low byte of every sample" if depth == 16 else
                "seleak's bit-planes are those of 8-bit samples")
        raise ValueError(f"{path} is a {depth}-bit {kind} PNG; seleak encrypts 8-bit samples only and {loss}. "
                         f"Convert it to 8-bit {target} first (e.g. ImageMagick: magick IN.png -depth 8 OUT.png) "
                         "and encrypt that")
    if width == 0 or height == 0:
        raise ValueError(f"{path} is damaged (width or height 0); re-export it from the original")
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > 2 * limit:
        raise _bomb_error(path, width, height)


def _bomb_error(path: Path, width: int, height: int) -> ValueError:
    from PIL import Image

    return ValueError(f"{path} is {width}x{height} = {width * height} pixels, more than twice Pillow's "
                      f"decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS}); "
                      "split or downscale it, or, for a file you trust, raise that limit in Python")


def _pillow_failure(path: Path | str, err: BaseException) -> ValueError:
    """One message for what Pillow raises on a broken file (OSError, SyntaxError, ...)."""
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(f"{path} is damaged or truncated and cannot be decoded ({detail}); "
                      "re-export it from the original or remove it")


# what Pillow raises for a damaged file; anything else (AttributeError, ...) is a bug and stays one
_PILLOW_DATA_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error)


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
        frames, mode, pixels = _decode_still(io.BytesIO(filtered), ["PNG"])
    except Image.DecompressionBombError:
        raise _bomb_error(path, width, height) from None
    except (UnidentifiedImageError, *_PILLOW_DATA_ERRORS) as e:
        raise _pillow_failure(path, e) from None
    if frames > 1:
        raise ValueError(f"{path} is an animated PNG with {frames} frames; seleak encrypts one still image. "
                         "Extract the frames first and encrypt each as its own PNG")
    if mode not in PNG_MODES:
        raise ValueError(f"{path} has Pillow mode {mode!r}; supported are 8-bit {', '.join(PNG_MODES)} "
                         f"(convert it first, e.g. {_CONVERT_HINT})")
    return PngImage(pixels=pixels, mode=mode, text=text)


# --------------------------------------------------------------------------------------------------
# writing output files: never over an existing file unless asked, never over a key, atomically
# --------------------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (through links, relative paths, hard links)."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(
    output: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
    keys: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Refuse an output path before any work: a key file (always, ``force`` or not), an input file,
    a folder, a missing or unwritable folder, or an existing file unless ``force``."""
    out = Path(output)
    for k in keys:
        if _same_file(out, Path(k)):
            raise ValueError(f"the output {out} is the key file {k}; refusing to write over a key (the ciphertext "
                             "could then never be decrypted). Give another output path")
    for i in inputs:
        if _same_file(out, Path(i)):
            raise ValueError(f"the output {out} is the input file; write to a new file (e.g. add .se or .out "
                             "before .png)")
    if out.is_dir():
        raise ValueError(f"the output {out} is a folder; give a file path, e.g. {out / 'image.png'}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ValueError(f"cannot write {out}: {parent} {what}; create the folder or choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {out}: the folder {parent} is not writable; choose another output path")
    if os.path.lexists(out) and not force:
        raise ValueError(f"{out} already exists; pass --force to overwrite it (or choose another output path)")
    return out


def _os_error(path: Path, err: OSError) -> ValueError:
    """A one-line message for a failed write of ``path``."""
    if isinstance(err, PermissionError):
        why = "permission denied; choose a folder you can write to"
    elif isinstance(err, IsADirectoryError):
        why = "it is a folder; give a file path"
    elif isinstance(err, NotADirectoryError):
        why = f"{path.parent} is not a folder; choose another output path"
    elif err.errno == errno.ENOSPC:
        why = "no space left on the device; free some space and retry"
    elif err.errno == errno.EROFS:
        why = "the file system is read-only; choose another output path"
    else:
        why = f"{err.strerror or err}; choose another output path"
    return ValueError(f"cannot write {path}: {why}")


def write_new_file(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool, protect: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder (mode 0600), synced,
    then published with a hard link (fails if ``path`` exists: no check-then-write race) or, when
    ``overwrite``, with ``os.replace``. ``protect``: files that must never be replaced, ``overwrite``
    or not. After a failure no file is left behind."""
    path = Path(path)
    protect = [Path(p) for p in protect]
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _os_error(path, e) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if any(_same_file(path, p) for p in protect):
            raise ValueError(f"{path} is a key or input file; refusing to write over it. Give another output path")
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ValueError(f"{path} already exists; pass --force to overwrite it "
                                 "(or choose another output path)") from None
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                # a file system without hard links: the next best, check then rename
                if os.path.lexists(path):
                    raise ValueError(f"{path} already exists; pass --force to overwrite it") from None
                os.replace(tmp, path)
    except OSError as e:
        raise _os_error(path, e) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


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
# authenticated metadata
# --------------------------------------------------------------------------------------------------


def _png_fields(meta: Mapping[str, str], mode: str, width: int, height: int) -> list[tuple[str, str]]:
    """What the MAC covers: every metadata field decryption reads, and the image's mode and size."""
    return [("format", meta["format"]), ("scheme", meta["scheme"]), ("nonce", meta["nonce"]),
            ("mode", mode), ("alpha", meta.get("alpha", "")), ("width", str(int(width))),
            ("height", str(int(height)))]


def _png_mac(key: bytes, salt: bytes, meta: Mapping[str, str], mode: str, width: int, height: int) -> bytes:
    from seleak.encryption import auth_tag

    return auth_tag(key, salt, _PNG_MAC_CONTEXT, _png_fields(meta, mode, width, height))


def seal_png_metadata(key: bytes, meta: Mapping[str, str], mode: str, width: int, height: int) -> dict[str, str]:
    """``meta`` plus a fresh random ``salt`` and the ``mac`` over it, the mode and the size."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return {**meta, "salt": salt.hex(), "mac": _png_mac(key, salt, meta, mode, width, height).hex()}


def verify_png_metadata(key: bytes, meta: Mapping[str, str], mode: str, width: int, height: int, name: str) -> None:
    """Check the metadata's MAC; ``ValueError`` ("authentication failed ...") for a wrong key or any
    altered field. ``mode``, ``width``, ``height``: of the image as read, not as claimed."""
    try:
        salt, mac = bytes.fromhex(meta["salt"]), bytes.fromhex(meta["mac"])
    except ValueError:
        salt = mac = b""
    if len(salt) != _SALT_BYTES or len(mac) != 32:
        raise ValueError(f"{name}: the seleak metadata is damaged (salt or mac is not hexadecimal of the "
                         "right length); the file was altered after encryption")
    if not hmac.compare_digest(_png_mac(key, salt, meta, mode, width, height), mac):
        raise ValueError(f"{name}: authentication failed: wrong key, or the scheme/nonce/mode/size in its metadata "
                         "were altered after encryption; use the key it was encrypted with")


# --------------------------------------------------------------------------------------------------
# key files
# --------------------------------------------------------------------------------------------------


def _key_file_error(path: Path, data: bytes) -> ValueError:
    """Why ``data`` is not a key file, from its size and shape only: the content is never shown."""
    how = (f"expected the line '{KEY_FILE_HEADER}' and then the key as 32, 48 or 64 hexadecimal digits. "
           "Make a key file with: seleak keygen NEW.key")
    stripped = data.strip()
    if len(stripped) in (32, 48, 64) and all(c in b"0123456789abcdefABCDEF" for c in stripped):
        return ValueError(f"key file {path} holds a bare hexadecimal key (the format of older seleak versions); "
                          f"add the line '{KEY_FILE_HEADER}' above the key to use it, or make a new key with: "
                          "seleak keygen NEW.key")
    if len(data) in _KEY_SIZES:
        return ValueError(f"key file {path} holds {len(data)} bytes, not a seleak key file (raw key bytes are not "
                          f"accepted: a {len(data)}-character passphrase would pass for a key); {how}")
    return ValueError(f"key file {path} ({len(data)} bytes) is not a seleak key file; {how}")


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """Read a key file (``seleak-key-v1`` and the key in hex); never echoes its content.

    The size is checked before reading (a key file is under 1 KB), so pointing ``--key-file`` at a
    large file costs nothing. Warns on stderr when the file is readable by group or others.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such key file: {path} (create one with: seleak keygen {path})") from None
    except OSError as e:
        raise ValueError(f"cannot read key file {path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"key file {path} is not a regular file (a folder, device or pipe); give the file "
                         "seleak keygen wrote")
    if st.st_size > MAX_KEY_FILE_BYTES:
        raise ValueError(f"key file {path} is {st.st_size} bytes, far more than a key file (under "
                         f"{MAX_KEY_FILE_BYTES} bytes); is it the right file? Make a key file with: seleak keygen NEW.key")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except PermissionError:
        raise ValueError(f"cannot read key file {path}: permission denied") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise ValueError(f"key file {path} is more than {MAX_KEY_FILE_BYTES} bytes; not a key file")
    lines = [ln.strip() for ln in data.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != 2 or lines[0] != KEY_FILE_HEADER.encode():
        raise _key_file_error(path, data)
    hexkey = lines[1]
    if len(hexkey) not in (2 * n for n in _KEY_SIZES) or not all(c in b"0123456789abcdefABCDEF" for c in hexkey):
        raise ValueError(f"key file {path}: the line after '{KEY_FILE_HEADER}' must be 32, 48 or 64 hexadecimal "
                         f"digits (AES-128/192/256), it has {len(hexkey)} characters; make a new key with: "
                         "seleak keygen NEW.key")
    key = bytes.fromhex(hexkey.decode("ascii"))
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"warning: key file {path} is readable by others; chmod 600 {path}", file=sys.stderr)
    return key


def write_key_file(path: str | os.PathLike[str], key: bytes) -> Path:
    """Create a key file (``seleak-key-v1`` and the key in hex) with permissions 0600.

    An existing file is an error: seleak never overwrites a key. The file appears complete or not at
    all (written to a 0600 temporary file, then linked to ``path``, which fails if it exists).
    """
    path = Path(path)
    if len(key) not in _KEY_SIZES:
        raise ValueError(f"a key has 16, 24 or 32 bytes, got {len(key)}")
    if os.path.lexists(path):
        raise ValueError(f"{path} already exists; remove it first or choose another name (seleak never "
                         "overwrites a key)")
    if path.parent != Path("") and not path.parent.is_dir():
        raise ValueError(f"cannot create {path}: the folder {path.parent} does not exist; create it first")
    data = f"{KEY_FILE_HEADER}\n{bytes(key).hex()}\n".encode("ascii")
    try:
        return write_new_file(path, data, overwrite=False)
    except ValueError as e:
        if "already exists" in str(e):
            raise ValueError(f"{path} already exists; remove it first (seleak never overwrites a key)") from None
        raise


# --------------------------------------------------------------------------------------------------
# image sets of `seleak leak`
# --------------------------------------------------------------------------------------------------


def _decode_still(source: Any, formats: list[str] | None) -> tuple[int, str, np.ndarray | None]:
    """Frame count, Pillow mode and, for a single frame of a supported mode, its pixels (else ``None``)."""
    from PIL import Image

    with Image.open(source, formats=formats) as im:
        frames, mode = int(getattr(im, "n_frames", 1)), im.mode
        if frames != 1 or mode not in PNG_MODES:
            return frames, mode, None
        im.load()
        return frames, mode, np.array(im, dtype=np.uint8)


def _read_set_image(p: Path) -> np.ndarray:
    """One image of a folder for ``seleak leak``, with the checks of :func:`read_png` for PNG files."""
    from PIL import Image, UnidentifiedImageError

    if p.suffix.lower() == ".png":
        return read_png(p).pixels
    try:
        frames, mode, pixels = _decode_still(p, None)
    except Image.DecompressionBombError:
        raise ValueError(f"{p} is larger than Pillow's decompression-bomb limit; downscale it first") from None
    except PermissionError:
        raise ValueError(f"cannot read {p}: permission denied; check its permissions") from None
    except (UnidentifiedImageError, *_PILLOW_DATA_ERRORS) as e:
        raise _pillow_failure(p, e) from None
    if frames > 1:
        raise ValueError(f"{p} holds {frames} frames; save each as its own image first")
    if mode not in PNG_MODES:
        raise ValueError(f"{p} has Pillow mode {mode!r}; expected 8-bit {', '.join(PNG_MODES)} "
                         f"(convert it first, e.g. {_CONVERT_HINT})")
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
            raise ValueError(f"{path} is not a readable .npz file ({e}); save it with "
                             "numpy.savez(path, images=array)") from None
        except ValueError as e:
            if str(e).startswith(str(path)):
                raise
            raise ValueError(f"{path}: cannot read its 'images' array ({e}); save it with "
                             "numpy.savez(path, images=array)") from None
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
