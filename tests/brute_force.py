"""Exhaustive enumerations the exact-value tests compare against (tiny images only)."""

from __future__ import annotations

from typing import Iterator

import numpy as np


def all_keystreams(mask: np.ndarray) -> Iterator[np.ndarray]:
    """Every keystream restricted to the encrypted bits of ``mask`` (uint8, one image's shape): each of
    the ``2**(set bits)`` patterns once, so averages over them are exact expectations."""
    flat = mask.reshape(-1)
    bits = [(i, b) for i in range(flat.size) for b in range(8) if flat[i] >> b & 1]
    for code in range(1 << len(bits)):
        r = np.zeros(flat.size, dtype=np.uint8)
        for j, (i, b) in enumerate(bits):
            if code >> j & 1:
                r[i] |= 1 << b
        yield r.reshape(mask.shape)
