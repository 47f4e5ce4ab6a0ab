"""Which images a data set keeps: a seeded (stratified) subsample and the fixed offline train/test split."""

from __future__ import annotations

import numpy as np

from seleak._validation import check_int

#: Fraction of each class held out as ``split="test"`` in the offline data sets.
TEST_FRACTION = 0.2
#: Data sets that hold out more: the study measures 1 000 images the shipped CNN never saw, so the
#: digits keep 60 % (1 078 images) for testing and train on the other 719 (held-out accuracy ~0.98), and
#: the photos keep 63 of the 100 tiles of every photograph (1 008 tiles) and train on the other 592.
TEST_FRACTIONS = {"digits": 0.6, "photos": 0.63}


def held_out_share(name: str) -> float:
    """The held-out fraction of offline data set ``name``."""
    return TEST_FRACTIONS.get(name, TEST_FRACTION)


#: Seed of the fixed offline train/test split (deliberately not the user's ``seed``).
SPLIT_SEED = 20250808


def subsample_indices(n_total: int, n: int, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """``n`` of ``n_total`` indices, chosen by ``seed``, sorted; stratified by ``labels`` when given.

    Stratified draws give each class ``n * share`` images (largest-remainder rounding), so a small
    subsample keeps the class balance of the full set.
    """
    check_int(n, "n (images to keep)", minimum=1)
    check_int(seed, "seed (of the subsample)", minimum=0)
    if n >= n_total:
        return np.arange(n_total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.choice(n_total, size=n, replace=False)).astype(np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / n_total
    take = np.floor(quota).astype(int)
    # hand the remaining images to the classes with the largest fractional parts (ties: larger class)
    rest = n - int(take.sum())
    order = np.lexsort((-counts, -(quota - take)))
    take[order[:rest]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=t, replace=False) for c, t in zip(classes, take)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def fixed_split(labels: np.ndarray, split: str, fraction: float = TEST_FRACTION) -> np.ndarray:
    """Indices of a fixed stratified train/test split (independent of the user's seed).

    ``split``: ``"test"`` (``fraction`` of each class, drawn with :data:`SPLIT_SEED`),
    ``"train"`` (the rest) or ``"all"``. The offline data sets have no official split; this one never
    changes, so a model trained on ``"train"`` never sees ``"test"``.
    """
    if split == "all":
        return np.arange(labels.shape[0], dtype=np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n_test = int(round(fraction * idx.size))
        test.append(rng.permutation(idx)[:n_test])
    mask = np.zeros(labels.shape[0], dtype=bool)
    mask[np.concatenate(test)] = True
    return np.flatnonzero(mask if split == "test" else ~mask).astype(np.int64)
