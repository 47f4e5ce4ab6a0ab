"""``"patterns"``: a synthetic data set whose image-level mutual information is known exactly.

Every image is 32x32x3 and made of a ``grid x grid`` array of square cells (default 2 x 2 cells of
16x16 pixels); each cell shows one of ``alphabet_size`` fixed patterns (default 4), chosen
independently and uniformly. The label of an image is the symbol of its first (top-left) cell.

The patterns are generated once, deterministically (a fixed seed, :data:`PATTERNS_ALPHABET_SEED`),
with content in every bit-plane. Each plane of a pattern is a fixed random 0/1 texture chosen by a key
of the symbol ``a`` (different keys, different textures), so the clear planes of a cell tell apart
exactly the symbols their keys separate:

====================  ==============  ==============================================
planes                key             what a clear plane reveals
====================  ==============  ==============================================
7, 6 (MSB)            ``a // 2``      which pair of patterns
5, 4                  ``a``           the pattern
3, 2                  ``min(a, 2)``   pattern 0, pattern 1, or one of the others
1, 0 (LSB)            ``min(a, 1)``   pattern 0 or not
====================  ==============  ==============================================

With the default 4 patterns one cell holds, in bits: 2 in the clear and under ``msb:1..3`` and
``lsb:1..5``; 1.5 under ``msb:4..5``; 0.811 under ``msb:6..7``; 1 under ``lsb:6..7``; 0 under full
encryption (times 4 cells for the image).

For ``X`` uniform over all ``A**(g*g)`` images and a scheme that XORs keystream into a fixed set of
pixel bits, ``I(X; SE(X)) = H(clear part of X)`` and, the cells being independent, it is the sum over
the cells of the entropy of the clear part of one uniformly drawn pattern
(``seleak.metrics.patterns_truth``, from :func:`patterns_cell_entropies`); the label's share is
``seleak.metrics.patterns_label_truth``.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import numpy as np

from seleak._validation import check_int

__all__ = [
    "PATTERNS_SIDE",
    "PATTERNS_TOTAL",
    "PATTERNS_ALPHABET_SEED",
    "pattern_alphabet",
    "patterns_images",
    "generate_patterns",
    "enumerate_patterns",
    "patterns_cell_entropies",
    "load_patterns",
]

#: Side of every ``"patterns"`` image (pixels); the images are ``(32, 32, 3)``.
PATTERNS_SIDE = 32
#: Images :func:`load_patterns` draws for ``split="all"`` (train: the first 80 %, test: the rest).
PATTERNS_TOTAL = 4096
#: Seed of the fixed textures the patterns are made of (never the user's seed).
PATTERNS_ALPHABET_SEED = 20250901
_CHANNELS = 3
_MAX_ALPHABET = 256
_MAX_ENUMERATED = 1 << 14


def _check_design(alphabet_size: Any, grid: Any) -> tuple[int, int]:
    a = check_int(alphabet_size, "alphabet_size", minimum=2)
    g = check_int(grid, "grid", minimum=1)
    if a > _MAX_ALPHABET:
        raise ValueError(f"alphabet_size must be at most {_MAX_ALPHABET}; got {a}")
    if PATTERNS_SIDE % g:
        raise ValueError(f"grid must divide {PATTERNS_SIDE} (1, 2, 4, 8, 16 or 32 cells a side); got {g}")
    return a, g


#: What each bit-plane of a pattern tells about its symbol ``a`` (plane 7 = MSB .. 0 = LSB): the plane's
#: bits are a fixed random texture chosen by this key, different textures for different keys.
_PLANE_KEYS = (
    ("a // 2", lambda a: a // 2),  # plane 7
    ("a // 2", lambda a: a // 2),
    ("a", lambda a: a),
    ("a", lambda a: a),
    ("min(a, 2)", lambda a: np.minimum(a, 2)),
    ("min(a, 2)", lambda a: np.minimum(a, 2)),
    ("min(a, 1)", lambda a: np.minimum(a, 1)),
    ("min(a, 1)", lambda a: np.minimum(a, 1)),  # plane 0
)


def _binary_textures(rng: np.random.Generator, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """``count`` pairwise different random 0/1 textures of ``shape`` (uint8)."""
    out: list[np.ndarray] = []
    seen: set[bytes] = set()
    while len(out) < count:
        t = rng.integers(0, 2, size=shape, dtype=np.uint8)
        if t.tobytes() not in seen:
            seen.add(t.tobytes())
            out.append(t)
    return np.stack(out)


@functools.lru_cache(maxsize=32)
def _alphabet(a: int, g: int) -> np.ndarray:
    cell = PATTERNS_SIDE // g
    if a > 2 ** (cell * cell * _CHANNELS):
        raise ValueError(f"{a} patterns do not fit in cells of {cell}x{cell} pixels; use a smaller grid")
    rng = np.random.default_rng([PATTERNS_ALPHABET_SEED, a, g])
    shape = (cell, cell, _CHANNELS)
    sym = np.arange(a)
    pats = np.zeros((a,) + shape, dtype=np.uint8)
    for plane, (_, key) in zip(range(7, -1, -1), _PLANE_KEYS):
        k = np.asarray(key(sym))
        textures = _binary_textures(rng, int(k.max()) + 1, shape)
        pats |= textures[k] << plane
    pats.setflags(write=False)
    return pats


def pattern_alphabet(alphabet_size: int = 4, grid: int = 2) -> np.ndarray:
    """The ``alphabet_size`` patterns of one cell, uint8 ``(A, 32 // grid, 32 // grid, 3)`` (a copy).

    Fixed for a given ``(alphabet_size, grid)`` (generated from :data:`PATTERNS_ALPHABET_SEED`), all
    distinct; see the module docstring for their structure.
    """
    a, g = _check_design(alphabet_size, grid)
    return _alphabet(a, g).copy()


def patterns_images(symbols: np.ndarray, alphabet_size: int = 4, grid: int = 2) -> np.ndarray:
    """The images of ``symbols``, an integer array ``(N, grid*grid)`` of cell symbols in row-major cell
    order (0 .. ``alphabet_size - 1``): uint8 ``(N, 32, 32, 3)``."""
    a, g = _check_design(alphabet_size, grid)
    s = np.asarray(symbols)
    if s.ndim != 2 or s.shape[1] != g * g or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"symbols must be an integer array (N, {g * g}); got {s.dtype} {s.shape}")
    if s.size and (s.min() < 0 or s.max() >= a):
        raise ValueError(f"symbols must lie in 0..{a - 1}")
    pats = _alphabet(a, g)
    n = s.shape[0]
    # (N, g, g, cell, cell, C) -> (N, g, cell, g, cell, C) -> (N, 32, 32, C)
    tiles = pats[s.reshape(n, g, g)]
    return np.ascontiguousarray(tiles.transpose(0, 1, 3, 2, 4, 5).reshape(n, PATTERNS_SIDE, PATTERNS_SIDE, _CHANNELS))


def generate_patterns(n: int, seed: int = 0, alphabet_size: int = 4, grid: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images with i.i.d. uniform cell symbols drawn by ``seed``: ``(images, symbols)``, uint8
    ``(n, 32, 32, 3)`` and int64 ``(n, grid*grid)``. Any ``n`` (unlike :func:`load_patterns`)."""
    n = check_int(n, "n", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    a, g = _check_design(alphabet_size, grid)
    symbols = np.random.default_rng(seed).integers(0, a, size=(n, g * g), dtype=np.int64)
    return patterns_images(symbols, a, g), symbols


def enumerate_patterns(alphabet_size: int = 4, grid: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Every one of the ``A**(grid*grid)`` images once, ``(images, symbols)`` in lexicographic symbol
    order: the population :func:`patterns_truth` describes (at most 16 384 images)."""
    a, g = _check_design(alphabet_size, grid)
    if a ** (g * g) > _MAX_ENUMERATED:
        raise ValueError(f"{a}**{g * g} images is more than the {_MAX_ENUMERATED} this enumerates")
    symbols = np.array(list(itertools.product(range(a), repeat=g * g)), dtype=np.int64)
    return patterns_images(symbols, a, g), symbols


def patterns_cell_entropies(mask: np.ndarray, alphabet_size: int = 4, grid: int = 2) -> np.ndarray:
    """Per cell, the entropy (nats) of the clear part of a uniformly drawn pattern, ``mask`` being the
    encrypted bits of every pixel (uint8, broadcastable to ``(32, 32, 3)``; 1 bits are encrypted).

    ``seleak.metrics.patterns_truth`` turns a scheme into its mask and sums these (this layer knows no
    schemes)."""
    a, g = _check_design(alphabet_size, grid)
    shape = (PATTERNS_SIDE, PATTERNS_SIDE, _CHANNELS)
    try:
        mask = np.broadcast_to(np.asarray(mask, dtype=np.uint8), shape)
    except ValueError as err:
        raise ValueError(f"mask must broadcast to {shape}, got shape {np.shape(mask)}") from err
    pats = _alphabet(a, g)
    cell = PATTERNS_SIDE // g
    out = np.empty(g * g)
    for i in range(g):
        for j in range(g):
            keep = ~mask[i * cell : (i + 1) * cell, j * cell : (j + 1) * cell]
            clear = (pats & keep[None]).reshape(a, -1)
            _, counts = np.unique(clear.view(np.dtype((np.void, clear.shape[1]))).reshape(-1), return_counts=True)
            p = counts / a
            out[i * g + j] = max(0.0, float(-(p * np.log(p)).sum()))
    return out


def load_patterns(seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    """The ``"patterns"`` pool for :func:`seleak.data.load_dataset`: :data:`PATTERNS_TOTAL` images
    of the default design (4 patterns, 2 x 2 cells) with i.i.d. uniform symbols drawn by ``seed``;
    ``(images, labels, class_names, provenance)``, labels = symbol of the first cell."""
    images, symbols = generate_patterns(PATTERNS_TOTAL, seed)
    a, g = 4, 2
    prov = {
        "source": "generated by seleak.data.patterns (synthetic, no files)",
        "citation": "none (synthetic)",
        "license": "none (synthetic)",
        "preprocessing": (
            f"{g}x{g} cells of {PATTERNS_SIDE // g}x{PATTERNS_SIDE // g} px, each one of {a} fixed patterns "
            f"(texture seed {PATTERNS_ALPHABET_SEED}), symbols i.i.d. uniform drawn with seed {seed}; "
            "label = symbol of the top-left cell"
        ),
        "alphabet_size": a,
        "grid": g,
        "symbols_seed": seed,
        "truth": "seleak.metrics.patterns_truth(scheme) nats, for X uniform over the 4**4 images",
        "h_x_nats": g * g * math.log(a),
    }
    return images, symbols[:, 0].copy(), tuple(f"pattern {i}" for i in range(a)), prov
