"""Authentication tags: HMAC-SHA256 under a key derived from the AES key and a random salt.

:class:`~seleak.encryption.Ciphertext` and the PNG metadata of the command line bind what
decryption needs besides the key (scheme, nonces, shape) with such a tag.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

__all__ = ["SALT_BYTES", "TAG_BYTES", "auth_tag"]

SALT_BYTES = 16
"""Length of the per-ciphertext random salt of the authentication key."""
TAG_BYTES = 32
"""Length of the authentication tag (HMAC-SHA256)."""


def _mac_key(key: bytes, salt: bytes, context: bytes) -> bytes:
    """A MAC key derived from the AES key (HKDF-SHA256).

    The AES key itself never keys the MAC (one key, one purpose), and a fresh random salt per
    ciphertext makes every MAC key different: two files under one key cannot be linked by their tags.
    """
    from Crypto.Hash import SHA256
    from Crypto.Protocol.KDF import HKDF

    return HKDF(bytes(key), 32, bytes(salt), SHA256, context=context)  # type: ignore[return-value]


def auth_tag(key: bytes, salt: bytes, context: bytes, fields: Sequence[tuple[str, bytes | str]]) -> bytes:
    """HMAC-SHA256 under a key derived from ``key`` and ``salt``, over named fields.

    Each name and value is length-prefixed, so no two different field lists encode to the same bytes
    (``("ab", "c")`` and ``("a", "bc")`` differ). ``context`` separates the uses (PNG metadata,
    :class:`Ciphertext`), so a tag from one can never be replayed as the other.
    """
    import hmac
    import struct

    msg = bytearray(struct.pack(">I", len(context)) + context)
    for name, value in fields:
        v = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        n = name.encode("utf-8")
        msg += struct.pack(">I", len(n)) + n + struct.pack(">Q", len(v)) + v
    return hmac.new(_mac_key(key, salt, context), bytes(msg), hashlib.sha256).digest()
