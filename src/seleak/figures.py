"""Figures of the book: the study's tidy table drawn the same way in every chapter.

The top layer: it reads tables from :mod:`seleak.study` (or any frame with the same columns) and
draws on matplotlib axes; nothing here computes an estimate.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

#: One colour per estimator, stable across figures.
COLOURS = {
    "plugin": "#1f77b4",
    "ksg": "#2ca02c",
    "gaussian": "#9467bd",
    "mine": "#d62728",
    "nwj": "#8c564b",
    "infonce": "#ff7f0e",
    "smile": "#e377c2",
}


def colour(estimator: str) -> str:
    return COLOURS.get(estimator, "#333333")


def mi_vs_k(
    ax,
    summary: pd.DataFrame,
    estimators: Sequence[str] | None = None,
    *,
    family: str = "msb",
    alpha: float = 0.01,
    show_bound: bool = True,
    title: str | None = None,
):
    """MI (nats) against the number k of encrypted planes, one line per estimator.

    The band is each point's interval; a filled marker is significant at ``alpha`` (permutation test),
    a hollow one is not. k = 0 (nothing encrypted, f(X) = f(SE(X))) has infinite MI: an estimator that
    returns +inf there is drawn as an arrow at the top. Dashed lines are the estimators' ceilings
    (log N for KSG and the plug-in, log batch for InfoNCE) when they fall inside the plot.
    """
    data = summary[summary["family"] == family]
    estimators = list(estimators) if estimators is not None else sorted(data["estimator"].unique())
    finite_top = 0.0
    for est in estimators:
        d = data[data["estimator"] == est].sort_values("k")
        if d.empty:
            continue
        c = colour(str(d["estimator_name"].iloc[0]) if "estimator_name" in d else est)
        fin = d[np.isfinite(d["mi_nats"])]
        ax.fill_between(fin["k"], fin["ci_low"], fin["ci_high"], color=c, alpha=0.15, lw=0)
        ax.plot(fin["k"], fin["mi_nats"], "-", color=c, label=est)
        sig = fin["p_value"] <= alpha  # the rule of seleak.stats.significant
        ax.plot(fin["k"][sig], fin["mi_nats"][sig], "o", color=c)
        ax.plot(fin["k"][~sig], fin["mi_nats"][~sig], "o", mfc="white", color=c)
        finite_top = max(finite_top, float(fin["ci_high"].max()) if len(fin) else 0.0)
        inf = d[~np.isfinite(d["mi_nats"])]
        for k in inf["k"]:
            ax.annotate("∞", (k, 1.0), xycoords=("data", "axes fraction"), ha="center", va="top", color=c)
    top = finite_top * 1.1 if finite_top > 0 else 1.0
    if show_bound:
        for est in estimators:
            d = data[data["estimator"] == est]
            b = d["bound_nats"].replace(np.inf, np.nan).dropna()
            if len(b) and float(b.iloc[0]) < top:
                ax.axhline(float(b.iloc[0]), ls="--", lw=0.8, color=colour(est))
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel(f"k ({family.upper()} planes encrypted)")
    ax.set_ylabel("MI estimate (nats)")
    ax.set_xticks(sorted(data["k"].dropna().unique()))
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def interval_bars(
    ax,
    summary: pd.DataFrame,
    estimator: str,
    schemes: Sequence[str],
    *,
    alpha: float = 0.01,
    labels: Sequence[str] | None = None,
    title: str | None = None,
):
    """Horizontal bars of one estimator's MI for a list of schemes, with intervals and significance."""
    d = summary[summary["estimator"] == estimator].set_index("scheme").reindex(list(schemes))
    y = np.arange(len(schemes))
    vals = d["mi_nats"].replace(np.inf, np.nan).to_numpy(dtype=float)
    lo = vals - d["ci_low"].to_numpy(dtype=float)
    hi = d["ci_high"].to_numpy(dtype=float) - vals
    c = colour(estimator)
    sig = (d["p_value"] <= alpha).to_numpy()
    ax.barh(
        y,
        vals,
        xerr=[np.clip(lo, 0, None), np.clip(hi, 0, None)],
        color=[c if s else "white" for s in sig],
        edgecolor=c,
        capsize=3,
    )
    ax.set_yticks(y)
    ax.set_yticklabels(list(labels) if labels is not None else list(schemes))
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel(f"MI estimate, {estimator} (nats)")
    if title:
        ax.set_title(title)
    return ax


def labelled_scatter(ax, x: Sequence[float], y: Sequence[float], labels: Sequence[str], *, colour_of=None):
    """A scatter plot whose points carry their labels (schemes, say)."""
    for xi, yi, lab in zip(x, y, labels):
        if not (math.isfinite(xi) and math.isfinite(yi)):
            continue
        c = colour_of(lab) if colour_of else "#333333"
        ax.plot([xi], [yi], "o", color=c)
        ax.annotate(lab, (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize="x-small")
    return ax


def image_row(axes, images: Sequence[np.ndarray], titles: Sequence[str]):
    """Images side by side (grey or colour), titled, without axes."""
    for ax, im, t in zip(axes, images, titles):
        im = np.asarray(im)
        if im.ndim == 3 and im.shape[-1] == 1:
            im = im[..., 0]
        ax.imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(t, fontsize="small")
        ax.axis("off")
    return axes
