"""Key files: the ``seleak-key-v1`` format that ``seleak keygen`` writes and every command reads.

One format: a text file of two lines, ``seleak-key-v1`` and the key as 32, 48 or 64 hexadecimal
digits (AES-128/192/256). ``seleak keygen`` writes it, with permissions 0600, and never overwrites a
file. Anything else (raw bytes, bare hex, a passphrase) is refused, so a key is never read in a way its
author did not mean.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from seleak.io_images.outputs import write_new_file

#: First line of every key file.
KEY_FILE_HEADER = "seleak-key-v1"
#: A key file is two short lines; anything bigger is not one, and is not read.
MAX_KEY_FILE_BYTES = 1024
_KEY_SIZES = (16, 24, 32)


def _key_file_error(path: Path, data: bytes) -> ValueError:
    """Why ``data`` is not a key file, from its size and shape only: the content is never shown."""
    how = (
        f"expected the line '{KEY_FILE_HEADER}' and then the key as 32, 48 or 64 hexadecimal digits. "
        "Make a key file with: seleak keygen NEW.key"
    )
    stripped = data.strip()
    if len(stripped) in (32, 48, 64) and all(c in b"0123456789abcdefABCDEF" for c in stripped):
        return ValueError(
            f"key file {path} holds a bare hexadecimal key (the format of older seleak versions); "
            f"add the line '{KEY_FILE_HEADER}' above the key to use it, or make a new key with: "
            "seleak keygen NEW.key"
        )
    if len(data) in _KEY_SIZES:
        return ValueError(
            f"key file {path} holds {len(data)} bytes, not a seleak key file (raw key bytes are not "
            f"accepted: a {len(data)}-character passphrase would pass for a key); {how}"
        )
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
        raise ValueError(
            f"key file {path} is not a regular file (a folder, device or pipe); give the file seleak keygen wrote"
        )
    if st.st_size > MAX_KEY_FILE_BYTES:
        raise ValueError(
            f"key file {path} is {st.st_size} bytes, far more than a key file (under "
            f"{MAX_KEY_FILE_BYTES} bytes); is it the right file? Make a key file with: seleak keygen NEW.key"
        )
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
        raise ValueError(
            f"key file {path}: the line after '{KEY_FILE_HEADER}' must be 32, 48 or 64 hexadecimal "
            f"digits (AES-128/192/256), it has {len(hexkey)} characters; make a new key with: "
            "seleak keygen NEW.key"
        )
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
        raise ValueError(
            f"{path} already exists; remove it first or choose another name (seleak never overwrites a key)"
        )
    if path.parent != Path("") and not path.parent.is_dir():
        raise ValueError(f"cannot create {path}: the folder {path.parent} does not exist; create it first")
    data = f"{KEY_FILE_HEADER}\n{bytes(key).hex()}\n".encode("ascii")
    try:
        return write_new_file(path, data, overwrite=False)
    except ValueError as e:
        if "already exists" in str(e):
            raise ValueError(f"{path} already exists; remove it first (seleak never overwrites a key)") from None
        raise
