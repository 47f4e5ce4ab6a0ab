"""Attacks on selectively encrypted (SE) images: what an adversary without the key gets out of them.

Three attacks, from the crudest to the one that gives an information-theoretic number, one file each:

* :mod:`~seleak.attacks.replacement` — overwrite the encrypted bits with a constant
  (:func:`replace_constant`: the blind middle of their range, or the per-image oracle that bounds every
  constant replacement) and score attacked pictures (:func:`image_quality`, :func:`replacement_attack`);
* :mod:`~seleak.attacks.reconstruction` — predict the encrypted bits from the clear ones
  (:func:`reconstruct`: phase unwrapping for MSB schemes, Laplace smoothing for any plane set);
* :mod:`~seleak.attacks.recognition` — a small CNN trained on SE images with the labels: its test
  accuracy and the lower bound ``H(Y) - CE`` on the label-MI (:func:`recognition_attack`);

with :mod:`~seleak.attacks.masks` (which bits a scheme encrypts: :func:`encrypted_bit_mask`),
:mod:`~seleak.attacks.cleanup` (:func:`clean_up`: the scheme-aware clean-up an adversary applies before
embedding SE images, a setting of the study) and
:mod:`~seleak.attacks.table` (:func:`attack_table`, every attack over a list of schemes as one tidy
table, and :func:`attack_measures`, one row per setting).

Every function takes ``uint8`` images ``(N, H, W)`` or ``(N, H, W, C)`` and a scheme (an object of
:mod:`seleak.encryption` or its spec string such as ``"msb:3"``).

The rank correlations that set attack success against leakage estimates live in :mod:`seleak.stats`;
``seleak.attacks.rank_correlations`` (and ``spearman_bootstrap``, ``RankCorrelation``) still resolve,
loaded on first use so that importing :mod:`seleak.attacks` stays light (no torch).
"""

from __future__ import annotations

from typing import Any

from seleak.attacks.cleanup import CLEANUP_METHODS, check_cleanup, clean_up, cleanup_supported
from seleak.attacks.masks import encrypted_bit_mask
from seleak.attacks.recognition import (
    RecognitionResult,
    label_entropy,
    recognition_attack,
)
from seleak.attacks.reconstruction import reconstruct
from seleak.attacks.replacement import (
    REPLACEMENT_METHODS,
    ReplacementResult,
    image_quality,
    replace_constant,
    replacement_attack,
)
from seleak.attacks.table import attack_measures, attack_table

__all__ = [
    "ReplacementResult",
    "RecognitionResult",
    "encrypted_bit_mask",
    "CLEANUP_METHODS",
    "check_cleanup",
    "clean_up",
    "cleanup_supported",
    "replace_constant",
    "reconstruct",
    "image_quality",
    "replacement_attack",
    "recognition_attack",
    "label_entropy",
    "attack_table",
    "attack_measures",
    "RankCorrelation",
    "spearman_bootstrap",
    "rank_correlations",
    "REPLACEMENT_METHODS",
]

_FROM_STATS = ("RankCorrelation", "spearman_bootstrap", "rank_correlations")


def __getattr__(name: str) -> Any:
    # seleak.stats imports the estimators (and torch); the notebooks that use these names import it anyway
    if name in _FROM_STATS:
        from seleak import stats

        return getattr(stats, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_FROM_STATS])
