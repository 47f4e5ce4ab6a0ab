"""AES-CTR keystreams (pycryptodome), keys, and the nonces (initial counter blocks) of a batch.

How nonces are chosen and why their counter ranges must be disjoint is told in the
:mod:`seleak.encryption` docstring.
"""

from __future__ import annotations

import hashlib
import operator
import secrets
from typing import Any, Iterator, Sequence

import numpy as np
from Crypto.Cipher import AES

from seleak._validation import is_int

__all__ = [
    "BLOCK_BYTES",
    "NONCE_BYTES",
    "KEY_SIZES",
    "generate_key",
    "check_key",
    "aes_ctr_keystream",
    "counter_blocks",
    "keystream_chunks",
    "check_nonces",
    "icbs_to_ints",
    "ints_to_nonces",
    "check_counter_ranges",
    "generate_icbs",
]

BLOCK_BYTES = 16
"""AES block size in bytes."""
NONCE_BYTES = 16
"""Length of one image's nonce: a full 128-bit initial counter block."""
KEY_SIZES = (16, 24, 32)
"""Accepted AES key lengths in bytes (AES-128, AES-192, AES-256)."""

_COUNTER_SPACE = 1 << 128


# --------------------------------------------------------------------------------------------
# keys and the raw keystream
# --------------------------------------------------------------------------------------------


def generate_key(nbytes: int = 16) -> bytes:
    """A fresh AES key of ``nbytes`` (16, 24 or 32) bytes from the operating system's CSPRNG."""
    if not is_int(nbytes):
        raise TypeError(f"nbytes must be an int, one of {KEY_SIZES}; got {type(nbytes).__name__}")
    if int(nbytes) not in KEY_SIZES:
        raise ValueError(f"nbytes must be one of {KEY_SIZES} (AES-128/192/256); got {nbytes}")
    return secrets.token_bytes(int(nbytes))


def check_key(key: Any) -> bytes:
    """``key`` as ``bytes`` of an AES key length; else a TypeError/ValueError that says what is expected."""
    if not isinstance(key, (bytes, bytearray, memoryview)):
        hint = " (hex text? use bytes.fromhex(...))" if isinstance(key, str) else ""
        raise TypeError(f"key must be bytes, 16, 24 or 32 of them; got {type(key).__name__}{hint}")
    key = bytes(key)
    if len(key) not in KEY_SIZES:
        raise ValueError(f"key must be 16, 24 or 32 bytes long (AES-128/192/256); got {len(key)} bytes")
    return key


def _check_icb(icb: Any) -> bytes:
    if isinstance(icb, np.ndarray):
        if icb.dtype != np.uint8 or icb.shape != (NONCE_BYTES,):
            raise ValueError(
                f"an initial counter block must be {NONCE_BYTES} bytes (uint8 array of shape "
                f"({NONCE_BYTES},)); got dtype {icb.dtype}, shape {icb.shape}"
            )
        return icb.tobytes()
    if not isinstance(icb, (bytes, bytearray, memoryview)):
        raise TypeError(f"an initial counter block must be {NONCE_BYTES} bytes; got {type(icb).__name__}")
    icb = bytes(icb)
    if len(icb) != NONCE_BYTES:
        raise ValueError(f"an initial counter block must be exactly {NONCE_BYTES} bytes; got {len(icb)}")
    return icb


def aes_ctr_keystream(key: bytes, initial_counter_block: bytes, nbytes: int) -> bytes:
    """The first ``nbytes`` of the AES-CTR keystream from one initial counter block.

    The counter is the whole 128-bit block, big-endian, incremented by one per block (the
    standard incrementing function of NIST SP 800-38A, Appendix B.1, with m = 128); this is the
    keystream that :func:`encrypt` XORs into an image whose nonce is ``initial_counter_block``.
    Ciphertext = plaintext XOR keystream, as in the SP 800-38A F.5 test vectors.

    Raises ``ValueError`` if the counter would wrap past ``2**128 - 1``.
    """
    key = check_key(key)
    icb = _check_icb(initial_counter_block)
    nbytes = operator.index(nbytes)
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0; got {nbytes}")
    nblocks = -(-nbytes // BLOCK_BYTES)
    if int.from_bytes(icb, "big") + nblocks > _COUNTER_SPACE:
        raise ValueError("the counter would wrap around 2**128: choose a smaller initial block")
    cipher = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=icb)
    return cipher.encrypt(bytes(nbytes))


def counter_blocks(nbytes: int) -> int:
    """Counter blocks one image needing ``nbytes`` of keystream owns.

    At least one, even for a scheme that uses no keystream, so that every image still has its
    own counter range and the nonce checks stay meaningful.
    """
    return max(1, -(-nbytes // BLOCK_BYTES))


def keystream_chunks(
    key: bytes, icbs: Sequence[int], nbytes: int, images_per_chunk: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(i, j, ks)`` with ``ks[r]`` the first ``nbytes`` keystream bytes of image ``i + r``.

    Images whose counter ranges follow one another (the default nonces) share one pycryptodome
    stream, so a whole batch costs a handful of C calls. ``ks`` is a view of a reused buffer:
    the caller must consume it before asking for the next chunk.
    """
    nblocks = counter_blocks(nbytes)
    stride = nblocks * BLOCK_BYTES
    per_chunk = max(1, images_per_chunk)
    buf = np.empty(min(per_chunk, max(1, len(icbs))) * stride, dtype=np.uint8)
    zeros = memoryview(bytes(buf.size))
    cipher = None
    next_counter = -1
    i, n = 0, len(icbs)
    while i < n:
        j = i + 1
        limit = min(n, i + per_chunk)
        while j < limit and icbs[j] == icbs[j - 1] + nblocks:
            j += 1
        if cipher is None or icbs[i] != next_counter:
            cipher = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=icbs[i].to_bytes(16, "big"))
        size = (j - i) * stride
        cipher.encrypt(zeros[:size], output=memoryview(buf)[:size])
        next_counter = icbs[j - 1] + nblocks
        yield i, j, buf[:size].reshape(j - i, stride)[:, :nbytes]
        i = j


# --------------------------------------------------------------------------------------------
# nonces: one initial counter block per image
# --------------------------------------------------------------------------------------------


def check_nonces(nonces: Any, n: int) -> np.ndarray:
    """``nonces`` (a uint8 array or a list of byte strings) as a contiguous ``(n, 16)`` uint8 array;
    else a TypeError/ValueError that says what is expected."""
    if isinstance(nonces, np.ndarray):
        arr = nonces
        if arr.dtype != np.uint8:
            raise TypeError(f"nonces must be a uint8 array of shape ({n}, {NONCE_BYTES}); got dtype {arr.dtype}")
    elif isinstance(nonces, (list, tuple)):
        rows = []
        for k, item in enumerate(nonces):
            if not isinstance(item, (bytes, bytearray, memoryview)):
                raise TypeError(f"nonces[{k}] must be {NONCE_BYTES} bytes; got {type(item).__name__}")
            if len(bytes(item)) != NONCE_BYTES:
                raise ValueError(
                    f"each nonce must be {NONCE_BYTES} bytes (a full initial counter block); "
                    f"nonces[{k}] has {len(bytes(item))}"
                )
            rows.append(np.frombuffer(bytes(item), dtype=np.uint8))
        arr = np.stack(rows) if rows else np.zeros((0, NONCE_BYTES), np.uint8)
    else:
        raise TypeError(
            f"nonces must be a ({n}, {NONCE_BYTES}) uint8 array or a list of {n} {NONCE_BYTES}-byte "
            f"strings; got {type(nonces).__name__}"
        )
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] != NONCE_BYTES:
        raise ValueError(
            f"nonces must have shape ({n}, {NONCE_BYTES}): one {NONCE_BYTES}-byte nonce per image; "
            f"got shape {arr.shape}"
        )
    return np.ascontiguousarray(arr)


def icbs_to_ints(nonces: np.ndarray) -> list[int]:
    """The rows of an ``(N, 16)`` nonce array as 128-bit big-endian counters."""
    return [int.from_bytes(row.tobytes(), "big") for row in nonces]


def check_counter_ranges(icbs: Sequence[int], nblocks: int, allow_reuse: bool) -> None:
    """Counter ranges ``[icb, icb + nblocks)`` must fit below 2**128 and, unless allowed, be disjoint."""
    for k, c in enumerate(icbs):
        if c + nblocks > _COUNTER_SPACE:
            raise ValueError(
                f"nonce {k} leaves too little counter space: an image needs {nblocks} counter "
                "blocks and the 128-bit counter must not wrap"
            )
    if allow_reuse or len(icbs) < 2:
        return
    order = sorted(range(len(icbs)), key=icbs.__getitem__)
    for a, b in zip(order, order[1:]):
        if icbs[a] == icbs[b]:
            raise ValueError(
                f"nonces {min(a, b)} and {max(a, b)} are equal: reusing a nonce under one key reuses "
                "keystream and leaks the XOR of the two images. Give every image its own nonce, "
                "or pass allow_nonce_reuse_unsafe=True for a demonstration"
            )
        if icbs[b] < icbs[a] + nblocks:
            raise ValueError(
                f"nonces {min(a, b)} and {max(a, b)} give overlapping counter ranges (each image "
                f"uses {nblocks} consecutive counter blocks), so keystream would be reused. Space "
                "nonces at least that far apart, or pass allow_nonce_reuse_unsafe=True"
            )


def generate_icbs(n: int, nblocks: int, seed: int | None) -> list[int]:
    """Consecutive, non-overlapping counters for ``n`` images of ``nblocks`` blocks each.

    The first is drawn from the OS CSPRNG, or derived from ``seed`` (SHA-256) in the study-only
    reproducible mode.
    """
    total = max(1, n) * nblocks
    space = _COUNTER_SPACE - total + 1
    if seed is None:
        start = int.from_bytes(secrets.token_bytes(24), "big") % space
    else:
        seed = operator.index(seed)
        digest = hashlib.sha256(f"seleak/encryption/nonce/v1/{seed}".encode()).digest()
        start = int.from_bytes(digest[:24], "big") % space
    return [start + i * nblocks for i in range(n)]


def ints_to_nonces(icbs: Sequence[int]) -> np.ndarray:
    """Counters as an ``(N, 16)`` uint8 nonce array, the inverse of :func:`icbs_to_ints`."""
    if not icbs:
        return np.zeros((0, NONCE_BYTES), np.uint8)
    return np.frombuffer(b"".join(c.to_bytes(16, "big") for c in icbs), np.uint8).reshape(-1, 16).copy()
