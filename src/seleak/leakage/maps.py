"""Where the leakage lives: occlusion maps and pointwise scores of a trained adaptive critic.

Given an :class:`~seleak.leakage.adaptive.AdaptiveFit` (a critic trained on ``(X, SE(X))`` pairs and the
held-out pairs it never saw):

* **occlusion sensitivity** — each ``patch x patch`` square of the SE images (all channels, all
  planes) is replaced by fresh uniform random bytes, as if it were encrypted too, in every held-out
  image at once; the drop of the held-out InfoNCE (nats per image, averaged over the held-out pairs)
  is that square's value. A square the critic does not use scores about 0; a square whose clear
  content the critic reads scores the information it loses. The result is an ``(H, W)`` map (each
  pixel carries its square's value), whose positive part says where the leakage is;
* **pointwise scores** — each held-out pair's InfoNCE term ``T(a_i, b_i) - log mean_j exp T(a_i, b_j)``
  within its batch (their batch means are the batch bounds): which images the adversary matches
  best (most leaking) and worst.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seleak._validation import check_int

from .adaptive import AdaptiveFit

__all__ = ["LeakageMap", "leakage_map"]


@dataclass(frozen=True)
class LeakageMap:
    """``occlusion``: ``(H, W)`` drop of the held-out InfoNCE (nats per image) when the square holding the
    pixel is replaced by random bytes; ``pointwise``: ``(n_eval,)`` InfoNCE terms of the held-out pairs;
    ``rows``: the input rows they belong to (``pointwise[i]`` is row ``rows[i]``); ``patch``: the side
    of the squares; ``baseline``: the mean of ``pointwise`` (the held-out InfoNCE); ``se_images``: the
    held-out SE images, in the order of ``pointwise``."""

    occlusion: np.ndarray
    pointwise: np.ndarray
    rows: np.ndarray
    patch: int
    baseline: float
    se_images: np.ndarray

    def ranking(self) -> np.ndarray:
        """Input rows from the most to the least leaking (by pointwise score)."""
        return self.rows[np.argsort(-self.pointwise, kind="stable")]

    def share(self, mask: np.ndarray) -> float:
        """The share of the map's positive mass inside ``mask`` (boolean ``(H, W)``): 1 when all the
        leakage the critic uses sits there, the mask's area fraction when it is spread evenly."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != self.occlusion.shape:
            raise ValueError(f"mask must have the map's shape {self.occlusion.shape}; got {m.shape}")
        pos = np.clip(self.occlusion, 0, None)
        total = float(pos.sum())
        return float(pos[m].sum() / total) if total > 0 else float("nan")


def leakage_map(fit: AdaptiveFit, patch: int = 4, seed: int = 0) -> LeakageMap:
    """Occlusion map and pointwise scores of a trained adaptive critic (see the module docstring).

    ``patch``: side of the occluded squares (pixels; the last row/column of squares may be smaller);
    ``seed``: of the random bytes that replace a square.
    """
    if not isinstance(fit, AdaptiveFit):
        raise TypeError(
            "fit must be an AdaptiveFit, from seleak.leakage.fit_adaptive(...) (adaptive_leakage returns only "
            f"the result); got {type(fit).__name__}"
        )
    p = check_int(patch, "patch", minimum=1)
    s = check_int(seed, "seed", minimum=0)
    ims = fit.se_images
    h, w = ims.shape[1], ims.shape[2]
    if p > min(h, w):
        raise ValueError(f"patch must be at most the image side ({min(h, w)}); got {p}")
    base = fit.pointwise()
    rng = np.random.default_rng([s, 13])
    occ = np.zeros((h, w))
    for y0 in range(0, h, p):
        for x0 in range(0, w, p):
            noisy = ims.copy()
            block = noisy[:, y0 : y0 + p, x0 : x0 + p]
            noisy[:, y0 : y0 + p, x0 : x0 + p] = rng.integers(0, 256, size=block.shape, dtype=np.uint8)
            occ[y0 : y0 + p, x0 : x0 + p] = float(np.mean(base - fit.pointwise(noisy)))
    return LeakageMap(occ, base, fit.test_rows.copy(), p, float(base.mean()), ims)
