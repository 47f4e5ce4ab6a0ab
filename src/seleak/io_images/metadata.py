"""The ``seleak:*`` metadata of an encrypted PNG and the MAC that authenticates it.

``seleak encrypt`` writes an ordinary, lossless 8-bit PNG whose ``tEXt`` chunks carry what decryption
needs besides the key (all public):

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
"""

from __future__ import annotations

import hmac
import secrets
from typing import Mapping

#: Prefix of the PNG text keywords seleak writes and reads (``seleak:scheme``, ...).
META_PREFIX = "seleak:"
#: Version of the metadata layout written by ``seleak encrypt``.
FORMAT_VERSION = "2"
#: The metadata fields a format-2 file must carry.
META_FIELDS = ("format", "scheme", "nonce", "mode", "salt", "mac")
_PNG_MAC_CONTEXT = b"seleak png metadata mac v2"
_SALT_BYTES = 16


def _png_fields(meta: Mapping[str, str], mode: str, width: int, height: int) -> list[tuple[str, str]]:
    """What the MAC covers: every metadata field decryption reads, and the image's mode and size."""
    return [
        ("format", meta["format"]),
        ("scheme", meta["scheme"]),
        ("nonce", meta["nonce"]),
        ("mode", mode),
        ("alpha", meta.get("alpha", "")),
        ("width", str(int(width))),
        ("height", str(int(height))),
    ]


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
        raise ValueError(
            f"{name}: the seleak metadata is damaged (salt or mac is not hexadecimal of the "
            "right length); the file was altered after encryption"
        )
    if not hmac.compare_digest(_png_mac(key, salt, meta, mode, width, height), mac):
        raise ValueError(
            f"{name}: authentication failed: wrong key, or the scheme/nonce/mode/size in its metadata "
            "were altered after encryption; use the key it was encrypted with"
        )
