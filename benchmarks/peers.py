"""The peer libraries the benchmarks compare seleak with, loaded from a benchmark-only folder.

Setup (once; the project's own requirements do not change, and no second torch is installed: the peers
use the project's own torch, numpy, scipy, scikit-learn and pandas)::

    python -m pip install --no-deps --target benchmarks/.peers -r benchmarks/requirements-peers.txt

``benchmarks/.peers`` is git-ignored. :func:`load` puts it on ``sys.path`` and imports each peer; a peer
that is missing or fails to import is reported by name and left out (the benchmark still writes
seleak's own results). scikit-learn is a dependency of seleak itself, so it is always there.

How each peer is called (read from their code, nothing changed):

* scikit-learn ``mutual_info_regression(x, y, n_neighbors=3)``: KSG between *each column* of ``x`` and
  a one-column ``y``, so it estimates ``I(X; Y)`` only when both sides have one column; it is run on
  those tasks only.
* latentmi ``ksg.mi(x, y, k=3, base=e)``: its KSG (NPEET's), returning per-point values, averaged.
* latentmi ``lmi.estimate(x, y, epochs=...)``: latent MI (an autoencoder to 8 dimensions per side, then
  KSG on a held-out half); the per-point values are in bits, averaged over the held-out half and
  converted to nats. At its default 300 epochs one 5 + 5 task at N = 5 000 took 506 s here (2 shared
  cores), so the suite runs it only when asked (``--lmi``).
* torch-mist ``estimate_mi((x, y), estimator=NAME, hidden_dims=[256, 256], test_data=...)``: its
  defaults otherwise (joint critic, batch 128, 5 000 iterations with early stopping on 10 % of the
  training pairs), scored on the same held-out 25 % of pairs as seleak's neural estimators.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
SETUP = "python -m pip install --no-deps --target benchmarks/.peers -r benchmarks/requirements-peers.txt"

Fn = Callable[[np.ndarray, np.ndarray], float]


def load(log: Callable[[str], None] = print) -> dict[str, object]:
    """The importable peer modules by name (``"latentmi"``, ``"torch_mist"``); missing ones are reported."""
    if PEERS_DIR.is_dir() and str(PEERS_DIR) not in sys.path:
        sys.path.insert(0, str(PEERS_DIR))
    # torch-mist 0.2.17 keeps its best checkpoint in the temp folder under a name made of the iteration only
    # (``model_{iteration}_{time.time}.pyt``: the function, not its value), so two processes running it at
    # once overwrite and delete each other's checkpoints. A temp folder of this process's own avoids that.
    tempfile.tempdir = tempfile.mkdtemp(prefix="seleak-peers-")
    if not hasattr(np, "NaN"):
        # latentmi 0.1.3 pins numpy < 2 and writes ``np.NaN`` (removed in numpy 2): the alias, for it alone
        np.NaN = np.nan  # type: ignore[attr-defined]
    found: dict[str, object] = {}
    for name in ("latentmi", "torch_mist"):
        try:
            found[name] = __import__(name)
        except Exception as e:  # noqa: BLE001 - any failure to import means: no such peer here
            log(f"peer {name} not available ({type(e).__name__}: {e}); skipped. Set it up with: {SETUP}")
    return found


def sklearn_mi(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.feature_selection import mutual_info_regression

    if x.shape[1] != 1 or y.shape[1] != 1:
        raise ValueError("mutual_info_regression estimates I(X; Y) only for one column per side")
    return float(mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0)[0])


def latentmi_ksg(x: np.ndarray, y: np.ndarray, k: int = 3, seed: int = 0) -> float:
    from latentmi import ksg

    np.random.seed(seed)  # its tie-breaking noise comes from numpy's global generator
    return float(np.mean(ksg.mi(x, y, k=k, base=math.e)))


def latentmi_lmi(x: np.ndarray, y: np.ndarray, seed: int = 0, epochs: int = 300) -> float:
    import torch
    from latentmi import lmi

    np.random.seed(seed)
    torch.manual_seed(seed)
    pmi, _, _ = lmi.estimate(x, y, quiet=True, device="cpu", epochs=epochs)
    return float(np.nanmean(pmi) * math.log(2.0))  # its KSG step reports bits


def heldout_split(n: int, seed: int = 0, val_fraction: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out rows (the held-out 25 % scored as seleak's neural estimators score theirs)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(val_fraction * n))
    return perm[n_test:], perm[:n_test]


def torch_mist(name: str, seed: int = 0, **kwargs: object) -> Fn:
    def run(x: np.ndarray, y: np.ndarray) -> float:
        import torch
        from torch_mist import estimate_mi

        torch.manual_seed(seed)
        train, test = heldout_split(x.shape[0], seed)
        f32 = [a.astype(np.float32) for a in (x, y)]
        value = estimate_mi(
            (f32[0][train], f32[1][train]),
            estimator=name,
            hidden_dims=[256, 256],
            test_data=(f32[0][test], f32[1][test]),
            verbose=False,
            **kwargs,
        )
        return float(value[0] if isinstance(value, tuple) else value)  # (value, log) with test_data

    return run
