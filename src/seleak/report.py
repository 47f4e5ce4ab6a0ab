"""The book's key results as Markdown, written from the numbers a chapter has just computed.

The top layer, beside :mod:`seleak.figures`: each function takes what a chapter computed (tables, glue
values, parameters) and returns an :class:`IPython.display.Markdown` block that the chapter glues into
the "key result" box at its top (``glue("key_result", ..., display=False)`` and a ``{glue:md}`` in the
first cell), so the box always states this run's numbers. :func:`headline` is the introduction's results
box: chapter 4 displays it in a cell tagged ``headline``, and ``seleak book`` copies that output into the
introduction.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd


def _md(text: str):
    from IPython.display import Markdown

    return Markdown(text)


def _num(value: Any, digits: int = 2) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if not math.isfinite(v) else f"{v:.{digits}f}"


def _seeds(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds ({', '.join(map(str, seeds))})"


def environment(info: Mapping[str, Any]) -> Any:
    """Chapter 0: what this copy ran on (``info``: the chapter's machine table as a mapping)."""
    gpu = info.get("GPU", "none")
    return _md(
        f"This copy of the book was run with profile **{info.get('profile')}** on device "
        f"**{info.get('device requested')}**: Python {info.get('python')}, {info.get('CPU cores')} CPU cores "
        f"({info.get('torch threads')} torch threads), " + ("no GPU." if gpu in ("none", None) else f"GPU {gpu}.")
    )


def selective_encryption(mi: pd.DataFrame, levels: pd.DataFrame, n_images: int, side: int) -> Any:
    """Chapter 1: per-pixel MI with 4 MSB against 4 LSB planes encrypted, and the image-level MI."""
    msb = mi[mi["planes"] == "MSB"].set_index("k")
    lsb = mi[mi["planes"] == "LSB"].set_index("k")
    image_mi = levels["image-level MI of the data set (nats)"]
    distinct = levels["distinct clear parts"] == n_images
    last = int(max(image_mi.index[distinct])) if distinct.any() else None
    text = (
        f"With 4 of 8 MSB planes encrypted the {side}×{side} photograph looks like noise (PSNR "
        f"{_num(msb.loc[4, 'PSNR'], 1)} dB), yet its per-pixel plug-in MI is still "
        f"**{_num(msb.loc[4, 'H(X_c)'])} bits per pixel**; with 4 LSB planes encrypted the picture is plainly "
        f"visible (PSNR {_num(lsb.loc[4, 'PSNR'], 1)} dB) and the per-pixel MI is "
        f"**{_num(lsb.loc[4, 'H(X_c)'])} bits per pixel**: counting bits ranks the schemes backwards. "
    )
    if last is not None:
        text += (
            f"Over {n_images} digits the exact image-level MI stays at log N = {_num(math.log(n_images))} nats "
            f"up to k = {last} encrypted planes."
        )
    return _md(text)


def estimators(stair: pd.DataFrame, batch_size: int, steps: int, fpr: Mapping[str, float], alpha: float) -> Any:
    """Chapter 2: the staircase (Gaussian estimator's worst error, InfoNCE at log B) and calibration."""
    g = stair[stair["estimator"] == "gaussian"]
    worst = float(g["error"].abs().max()) if len(g) else float("nan")
    inf = stair[stair["estimator"] == "infonce"]
    top = float(inf["estimate"].max()) if len(inf) else float("nan")
    rates = ", ".join(f"{k} {_num(v)}" for k, v in fpr.items())
    return _md(
        f"On 20-dimensional Gaussians with known MI of {_num(stair['true'].min(), 0)} to "
        f"{_num(stair['true'].max(), 0)} nats, the Gaussian estimator is never off by more than "
        f"**{_num(worst)} nats**; InfoNCE stops at **{_num(top)} nats**, below log {batch_size} = "
        f"{_num(math.log(batch_size))}, whatever the truth ({steps} critic steps). Under independence the "
        f"permutation tests reject at rates {rates} for a level of {alpha}."
    )


def embeddings(retrieval: pd.DataFrame, spec: str, top: int, n: int) -> Any:
    """Chapter 3: top-``top`` retrieval of the original in the trained embedding, LSB- and MSB-first."""
    r = retrieval[retrieval["space"] == spec].set_index(["order", "k"])[f"top-{top}"]

    def at(order: str, k: int) -> str:
        return _num(r.get((order, k), np.nan))

    return _md(
        f"Among {n} held-out images, an encrypted image finds its own original (top-{top}, embedding "
        f"{spec}) with accuracy **{at('LSB-first', 4)}** when its 4 least significant planes are encrypted, "
        f"but **{at('MSB-first', 1)}** when only its most significant plane is (chance {_num(top / n, 3)}): "
        "the network is derailed by one noisy plane, although the seven clear planes still hold the picture."
    )


def leakage_study(
    values: Mapping[str, Any],
    dataset: str,
    n: int,
    seeds: Sequence[int],
    embedding: str,
    estimate_seeds: Sequence[int] | None = None,
) -> Any:
    """Chapter 4: the paper's experiment with intervals, bounds and adjusted tests (``values``: the
    glue values of :func:`seleak.study.leakage_values`; ``seeds``: the paper block's, ``estimate_seeds``:
    the estimators block's, where the Gaussian estimate comes from, when they differ)."""
    other = estimate_seeds is not None and list(estimate_seeds) != list(seeds)
    seeds_text = _seeds(seeds) + (f" (the Gaussian estimate: {_seeds(estimate_seeds)})" if other else "")
    return _md(
        f"With one most significant plane encrypted, **{values['gaussian_k1']} nats** (Gaussian estimator, "
        f"95 % interval) of the plain image's embedding survive in the encrypted one; the held-out images "
        f"certify at least **{_num(values['gaussian_k1_lb'], 3)} nats**, and the paper's plug-in estimator "
        f"measures {values['plugin_k1']} nats (adjusted p = {_num(values['plugin_k1_p'], 3)}). The Gaussian "
        f"estimate stops being significant from {values['gaussian_quiet']} on; full encryption: "
        f"{values['full_quiet']} measurements without evidence of leakage. "
        f"Data: {n} held-out {dataset} images, embedding {embedding}, {seeds_text}; "
        f"{values['n_adjusted']} of {values['n_tests']} tests significant after Holm's adjustment."
    )


def headline(values: Mapping[str, Any], **facts: Any) -> Any:
    """Chapter 4's part of the introduction's results box: its key result (``facts``: the keyword
    arguments of :func:`leakage_study`) and a link to the chapter."""
    body = leakage_study(values, **facts).data
    return _md(f"{body} ({{doc}}`chapter 4 <04_leakage_study>`)\n")


def training_note(steps: int, batch_size: int, standard_steps: int = 20_000) -> Any:
    """Chapter 2: what this run's critic training is, against the standard settings."""
    if steps >= standard_steps:
        return _md(
            f"This run trains each critic for {steps} Adam steps with batch {batch_size}: the standard "
            "settings of the neural-estimator literature."
        )
    standard = f"{standard_steps:,}".replace(",", " ")
    return _md(
        f"This run trains each critic for {steps} Adam steps with batch {batch_size}, fewer than the standard "
        f"{standard} steps: the neural estimators are visibly under-trained on the larger steps of the staircase."
    )


def attack_note(n_images: int, dataset: str, n_seeds: int, epochs: int, n_schemes: int) -> Any:
    """Chapter 5: the size of this run's attacks, in words."""
    keys = "one key" if n_seeds == 1 else f"{n_seeds} keys"
    return _md(
        f"This run attacks {n_images} {dataset} images under {keys} for each of {n_schemes} schemes; the "
        f"recognition CNN trains for {epochs} epochs per scheme."
    )


def attacks_headline(values: Mapping[str, Any], level: float, n_boot: int) -> Any:
    """Chapter 5's part of the introduction's results box."""
    return _md(f"{attacks(values, level, n_boot).data} ({{doc}}`chapter 5 <05_attacks_vs_mi>`)\n")


def attacks(values: Mapping[str, Any], level: float, n_boot: int) -> Any:
    """Chapter 5: the rank correlation of the main estimator with recognition accuracy, with its interval."""
    est = values["main_est"]
    return _md(
        f"Over the {values['main_n']} schemes with k ≥ 1, the {est} estimate ranks the schemes as recognition "
        f"by a trained CNN does with Spearman ρ = **{_num(values['rho_main_accuracy_rho'])}** "
        f"({level:.0%} bootstrap interval [{_num(values['rho_main_accuracy_low'])}, "
        f"{_num(values['rho_main_accuracy_high'])}], {n_boot} resamples), and as the reconstruction's SSIM "
        f"with ρ = {_num(values['rho_main_ssim_rec_rho'])} [{_num(values['rho_main_ssim_rec_low'])}, "
        f"{_num(values['rho_main_ssim_rec_high'])}]. The per-pixel MI of the clear planes gives ρ = "
        f"{_num(values['rho_pixel_exact_accuracy_rho'])} with accuracy."
    )


def adaptive_adversary(
    verdicts: pd.DataFrame,
    joint: pd.DataFrame,
    quiet: pd.DataFrame,
    dataset: str,
    n: int,
    seed: int,
    alpha: float,
) -> Any:
    """Chapter 7: where the frozen embedding stops finding leakage and what the adaptive adversaries and
    the scheme-aware clean-up still find there (``verdicts``: :func:`seleak.leakage.adaptive_verdicts` of
    the MSB schemes; ``joint``: :func:`seleak.leakage.jointly_adjusted` of the sweep table, whose
    ``p_joint`` is the family the statement about the adaptive adversary needs; ``quiet``: the study's
    :func:`seleak.study.quiet_table` rows of the clean-up blocks, possibly empty)."""

    def upto(measure: str) -> str:
        if measure not in verdicts.index:
            return "was not measured"
        k = verdicts.loc[measure, "largest_k_with_leakage"]
        found = "finds no leakage at any k" if not math.isfinite(k) else f"finds leakage up to k = {k:.0f}"
        false = str(verdicts.loc[measure, "false_positive_at"]) if "false_positive_at" in verdicts else ""
        if false:
            found += f" (and rejects at k = {false}, where nothing is in the clear: a false positive)"
        return found

    first = verdicts.loc["frozen", "first_k_no_evidence"] if "frozen" in verdicts.index else math.nan
    there = ""
    if not math.isfinite(first):
        frozen = "The frozen CNN embedding finds leakage at every k measured"
    else:
        frozen = (
            f"The frozen CNN embedding finds no evidence of leakage from **k = {first:.0f}** encrypted MSB planes on"
        )
        row = joint[(joint["family"] == "msb") & (joint["k"] == first) & (joint["measure"] == "semantic")]
        if len(row) and float(row["p_joint"].iloc[0]) <= alpha:
            there = (
                f"; at k = {first:.0f} an adversary trained on the SE images certifies at least "
                f"**{_num(row['lower_bound_nats'].iloc[0], 2)} nats** (p = {_num(row['p_joint'].iloc[0], 3)} "
                "adjusted over all adaptive tests)"
            )
    text = (
        f"{frozen}{there}. Per measure (adjusted within it), the semantic adversary (a CNN trained on SE "
        f"images against the frozen plain embedding) {upto('semantic')}; the image-level adversary (both sides "
        f"trained) {upto('image')}."
    )
    cleaned = quiet[quiet["cleanup"] != "none"] if len(quiet) else quiet
    if len(cleaned):
        parts = [
            f"{r.dataset}, {r.cleanup}: "
            + (
                "leakage at every k before full encryption"
                if math.isfinite(r.quiet_k) and r.quiet_k >= 8
                else f"no evidence from k = {r.quiet_k:.0f}"
                if math.isfinite(r.quiet_k)
                else f"leakage at every k measured (up to {r.k_max:.0f})"
            )
            for r in cleaned.itertuples()
        ]
        text += " A scheme-aware clean-up without any training, measured by the frozen embedding: "
        text += "; ".join(parts) + "."
    return _md(
        f"{text} Lower bounds are one-sided 95 % bounds on held-out pairs; verdicts at level {alpha:g} after "
        f"Holm's adjustment. Data: {n} held-out {dataset} images, seed {seed}."
    )


def adaptive_headline(*args: Any, **kwargs: Any) -> Any:
    """Chapter 7's part of the introduction's results box: its key result (the arguments of
    :func:`adaptive_adversary`) and a link to the chapter."""
    body = adaptive_adversary(*args, **kwargs).data
    return _md(f"{body} ({{doc}}`chapter 7 <07_adaptive_adversary>`)\n")
