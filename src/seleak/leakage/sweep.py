"""Frozen against adaptive: the leakage of a family of schemes measured three ways, as a tidy table.

For every scheme of ``schemes`` the images are encrypted under the key of ``seed`` and measured by

* ``"frozen"`` — :func:`~seleak.leakage.measure_leakage` on ``f(X)`` and ``f(SE(X))`` (the paper's
  measure, the reference embedding ``f`` frozen);
* ``"semantic"`` — :func:`~seleak.leakage.adaptive_leakage` with ``mode="semantic"`` (``f(X)`` against
  a CNN trained on ``SE(X)``);
* ``"image"`` — :func:`~seleak.leakage.adaptive_leakage` with ``mode="image"`` (a lower bound of
  ``I(X; SE(X))``);

next to the image-level MI of the images under the scheme (:func:`seleak.metrics.image_level_mi`, column
``upper_bound_nats``: exact for bit-plane, region and full schemes, an upper bound ``H(X)`` otherwise).
It is the MI for an image drawn uniformly from *these* ``n`` images (``log n`` when all their clear
parts differ), a property of the sample, not of the scheme; by data processing it bounds the
population value of every measure on that draw. p-values are adjusted within each measure over the
schemes (:func:`seleak.stats.adjust_p_values`). :func:`adaptive_verdicts` says where each measure
stops finding leakage; :func:`overturned_verdicts` where an adaptive measure finds leakage the frozen
one does not (adjusted over all adaptive tests together).

What the numbers are: ``mi_nats`` of an adaptive measure is the trained critic's mean held-out bound,
a lower bound of the MI *in expectation* only; ``ci_low``/``ci_high`` the interval of that critic's
expected held-out value (the sampling error of the evaluation), not an interval of the leakage (its
upper end is no upper bound on what leaks); ``lower_bound_nats`` the one-sided lower confidence bound.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import pandas as pd

from seleak import stats
from seleak._validation import check_float, check_int
from seleak.encryption import as_scheme, check_images, encrypt
from seleak.metrics import image_level_mi

from .adaptive import AdaptiveFit, fit_adaptive
from .measure import LeakageResult, measure_leakage

__all__ = [
    "MEASURES",
    "sweep_key",
    "scheme_family",
    "adaptive_sweep",
    "adaptive_verdicts",
    "overturned_verdicts",
    "above_image_level",
    "jointly_adjusted",
    "is_exactly_zero",
    "EXACT_KIND",
]

#: The measures of :func:`adaptive_sweep`, weakest adversary first.
MEASURES = ("frozen", "semantic", "image")


def sweep_key(seed: int) -> bytes:
    """The AES key of a sweep seed. Reproducible by design: for measuring leakage, never for secrecy."""
    return hashlib.sha256(f"seleak-adaptive-key:{check_int(seed, 'seed', minimum=0)}".encode()).digest()[:16]


def scheme_family(spec: str) -> tuple[str, float]:
    """``"msb:3"`` -> ``("msb", 3)``, ``"lsb:2"`` -> ``("lsb", 2)``, ``"full"`` -> ``("full", 8)``, anything
    else -> ``(spec, nan)``."""
    head, _, tail = spec.partition(":")
    if head in ("msb", "lsb") and tail.isdigit():
        return head, float(tail)
    if spec == "full":
        return "full", 8.0
    return spec, math.nan


def _row(measure: str, spec: str, r: LeakageResult, upper: Any) -> dict[str, Any]:
    family, k = scheme_family(spec)
    return {
        "scheme": spec, "family": family, "k": k, "measure": measure, "estimator": r.estimator, **r.columns(),
        "upper_bound_nats": upper.nats, "upper_bound_kind": upper.kind, "n": r.n,
        "best_step": r.settings.get("best_step", math.nan),
    }  # fmt: skip


def adaptive_sweep(
    images: np.ndarray,
    schemes: Sequence[str],
    *,
    embedder: str = "trained:digits",
    measures: Sequence[str] = MEASURES,
    frozen_estimator: str = "gaussian",
    projection: str | None = "cca",
    dim: int | None = 2,
    permutations: int = 999,
    alpha: float = 0.05,
    adjust: str = "holm",
    seed: int = 0,
    device: str = "cpu",
    return_fits: bool = False,
    **adaptive: Any,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[tuple[str, str], AdaptiveFit]]:
    """One row per (scheme, measure): estimate, interval, lower bound, p-value, adjusted p-value and
    verdict, ceiling, the image-level MI of the sample, the critic's best monitored step (``best_step``;
    -1 without early stopping), its flags, wall time (see the module docstring).

    Args:
        images: uint8 ``(N, H, W[, C])`` plain images.
        schemes: scheme specs, e.g. ``["msb:1", ..., "msb:8"]``.
        embedder: the frozen reference embedding (frozen and semantic measures).
        measures: a subset of :data:`MEASURES`.
        frozen_estimator, projection, dim: what :func:`measure_leakage` runs for ``"frozen"``.
        permutations: of every test (Holm over ``m`` schemes at ``alpha`` needs ``>= m / alpha - 1``).
        alpha, adjust: the verdict's level and the adjustment within each measure (``"holm"``/``"bh"``).
        seed: the encryption key, the splits and every critic; device: of the trained critics.
        return_fits: also return the trained critics, ``{(scheme, mode): AdaptiveFit}`` (for the maps).
        **adaptive: settings of :func:`seleak.leakage.fit_adaptive` (``steps``, ``batch_size`` ...).
    """
    images = check_images(images)
    if isinstance(schemes, str) or not schemes:
        raise ValueError(
            f"schemes must be a non-empty list of scheme specs such as ['msb:1', 'msb:2'], got {schemes!r}"
        )
    bad = [m for m in measures if m not in MEASURES]
    if bad or not measures:
        raise ValueError(f"measures must be a non-empty subset of {MEASURES}, got {list(measures)!r}")
    alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
    if adjust not in stats.P_ADJUST_METHODS:
        raise ValueError(f"adjust must be one of {tuple(stats.P_ADJUST_METHODS)}, got {adjust!r}")
    for s in schemes:
        as_scheme(s)  # refuse a bad spec before any training
    key = sweep_key(seed)
    emb = None
    z_plain = None
    if "frozen" in measures or "semantic" in measures:
        from seleak.embedding import get_embedder

        emb = get_embedder(embedder, device=device)
        z_plain = emb.embed(images, progress=False)
    rows: list[dict[str, Any]] = []
    fits: dict[tuple[str, str], AdaptiveFit] = {}
    for spec in schemes:
        se = encrypt(images, key, spec, seed=seed).images
        upper = image_level_mi(images, spec)
        if "frozen" in measures:
            z_se = emb.embed(se, progress=False)
            r = measure_leakage(
                z_plain, z_se, frozen_estimator, projection=projection, dim=dim, permutations=permutations, seed=seed
            )
            rows.append(_row("frozen", spec, r, upper))
        for mode in ("semantic", "image"):
            if mode not in measures:
                continue
            plain_side = z_plain if mode == "semantic" else None
            fit = fit_adaptive(
                images, se, plain_side, mode, permutations=permutations, seed=seed, device=device, **adaptive
            )
            if mode == "semantic":  # the array given is the embedder's: record its name, not "given embeddings"
                rep = fit.result.representation.replace("given plain embeddings", f"{embedder} embeddings of X", 1)
                fit.result = replace(
                    fit.result, representation=rep, settings={**fit.result.settings, "embedder": embedder}
                )
            rows.append(_row(mode, spec, fit.result, upper))
            if return_fits:
                fits[(spec, mode)] = fit
    table = pd.DataFrame(rows)
    table["p_adjusted"] = np.nan
    for _, idx in table.groupby("measure").groups.items():
        table.loc[idx, "p_adjusted"] = stats.adjust_p_values(table.loc[idx, "p_value"].to_numpy(), adjust)
    table["significant"] = table["p_adjusted"] <= alpha
    table.attrs.update(alpha=alpha, adjust=adjust, embedder=embedder, seed=seed)
    return (table, fits) if return_fits else table


def adaptive_verdicts(table: pd.DataFrame, family: str = "msb") -> pd.DataFrame:
    """Per measure, the smallest ``k`` of ``family`` from which it finds no leakage (adjusted verdicts):
    ``first_k_no_evidence`` is the smallest ``k`` above the largest ``k`` with significant leakage (so a
    non-significant ``k`` below a significant one does not count; the smallest ``k`` when none is
    significant, NaN when the largest ``k`` is significant). At that ``k``:

    * ``critic_ci_high_there``: the upper end of the interval of the critic's expected held-out value
      (frozen: of the estimate) — how large the *measured* quantity may be, not an upper bound on leakage;
    * ``sample_image_mi_there``: the image-level MI for an image drawn uniformly from these ``n`` images
      (``log n`` when all clear parts differ), a property of the sample, not of the scheme.

    A significant test where the exact image-level MI is 0 (full encryption: nothing in the clear) is a
    false positive by data processing: it is left out of the verdicts and listed in
    ``false_positive_at`` (the k values, comma-separated; empty when none).
    """
    d = table[table["family"] == family].sort_values("k")
    if d.empty:
        raise ValueError(f"the table has no scheme of family {family!r}; families: {sorted(set(table['family']))}")
    impossible = d.apply(is_exactly_zero, axis=1).astype(bool) & d["significant"].astype(bool)
    out = []
    for m in [m for m in MEASURES if m in set(d["measure"])]:
        e = d[(d["measure"] == m) & ~impossible]
        false_alarms = d.loc[(d["measure"] == m) & impossible, "k"]
        sig = e["significant"].astype(bool)
        largest = float(e.loc[sig, "k"].max()) if sig.any() else -math.inf
        above = e[e["k"] > largest]
        first = above.iloc[0] if len(above) else None
        out.append({
            "measure": m,
            "first_k_no_evidence": float(first["k"]) if first is not None else math.nan,
            "critic_ci_high_there": float(first["ci_high"]) if first is not None else math.nan,
            "sample_image_mi_there": float(first["upper_bound_nats"]) if first is not None else math.nan,
            "largest_k_with_leakage": largest if sig.any() else math.nan,
            "false_positive_at": ", ".join(f"{k:g}" for k in false_alarms),
        })  # fmt: skip
    return pd.DataFrame(out).set_index("measure")


def jointly_adjusted(table: pd.DataFrame) -> pd.DataFrame:
    """The adaptive rows of a sweep table with ``p_joint``: their p-values adjusted over *all* adaptive
    tests of the table together (both modes, every scheme; the table's method), the family a statement
    about "the adaptive adversary" as a whole needs."""
    adaptive = table[table["measure"] != "frozen"].copy()
    adaptive["p_joint"] = (
        stats.adjust_p_values(adaptive["p_value"].to_numpy(), table.attrs.get("adjust", "holm"))
        if len(adaptive)
        else []
    )
    return adaptive


def overturned_verdicts(table: pd.DataFrame) -> str:
    """A plain statement, from the numbers, of the schemes where the frozen embedding finds no evidence
    of leakage (its adjusted verdict) and an adaptive measure does. The adaptive p-values are adjusted
    over *all* adaptive tests of the table together (both modes, every scheme, with the table's method),
    so the statement as a whole errs with probability at most ``alpha`` (adjusting each mode alone would
    allow up to ``2 alpha``). ``ValueError`` when the table has no frozen measure."""
    alpha = table.attrs.get("alpha", 0.05)
    if "frozen" not in set(table["measure"]):
        raise ValueError(
            'overturned_verdicts needs the frozen measure in the table (adaptive_sweep(..., measures=["frozen", '
            f"...])); its measures are {sorted(set(table['measure']))}"
        )
    frozen = table[table["measure"] == "frozen"].set_index("scheme")
    adaptive = jointly_adjusted(table)
    lines: list[str] = []
    false_alarms: list[str] = []
    for spec, f in frozen.iterrows():
        if bool(f["significant"]):
            continue
        found = adaptive[(adaptive["scheme"] == spec) & (adaptive["p_joint"] <= alpha)]
        if found.empty:
            continue
        if is_exactly_zero(f):
            # nothing is in the clear: every dependence test must be a false positive (data processing)
            false_alarms.append(
                f"{spec}: the image-level MI is exactly 0 (nothing is left in the clear), so the rejection by "
                + ", ".join(f"the {r.measure} adversary (p adjusted = {r.p_joint:.3g})" for r in found.itertuples())
                + f" is a false positive, one of those the level {alpha:g} allows; it overturns nothing."
            )
            continue
        parts = [
            f"the {r.measure} adversary certifies at least {r.lower_bound_nats:.2f} nats "
            f"(p adjusted over all adaptive tests = {r.p_joint:.3g})"
            if r.lower_bound_nats > 0
            else f"the {r.measure} adversary detects a dependence (p adjusted over all adaptive tests = "
            f"{r.p_joint:.3g}) without "
            "certifying a positive amount"
            for r in found.itertuples()
        ]
        lines.append(
            f"{spec}: the frozen embedding finds no evidence of leakage (adjusted p = {f['p_adjusted']:.3g}), but "
            + "; ".join(parts)
            + "."
        )
    if not lines:
        lines = [
            f"At level {alpha:g} (adjusted), no adaptive measure finds leakage where the frozen embedding finds none: "
            "no 'no evidence' verdict is overturned here."
        ]
    return "\n".join(lines + false_alarms)


#: ``upper_bound_kind`` of an exact image-level MI (:func:`seleak.metrics.image_level_mi`).
EXACT_KIND = "H(clear part)"


def is_exactly_zero(row: pd.Series) -> bool:
    """Whether the row's image-level upper bound is an exact 0 (full encryption): then I(X; SE(X)) = 0 and
    any significant dependence test on that scheme is a false positive."""
    if "upper_bound_nats" not in row.index:
        return False
    return str(row.get("upper_bound_kind", "")) == EXACT_KIND and float(row["upper_bound_nats"]) == 0.0


def above_image_level(table: pd.DataFrame) -> pd.DataFrame:
    """The rows whose lower bound exceeds the image-level MI of the images under the scheme (which bounds
    every measure by data processing): empty unless a one-sided bound erred (each may, with probability
    at most 1 - its level, e.g. at full encryption where the value is 0)."""
    return table[table["lower_bound_nats"] > table["upper_bound_nats"] + 1e-9]
