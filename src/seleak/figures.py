"""Figures of the book: the study's tidy table drawn the same way in every chapter.

The top layer: it reads tables from :mod:`seleak.study` (or any frame with the same columns) and
draws on matplotlib axes; nothing here computes an estimate.

Figures are drawn for the book's text column (about 700 px wide): :func:`use_book_style` sets a figure
width of :data:`COLUMN_INCHES` at :data:`BOOK_DPI`, so a figure is shown at its natural size and its
10 pt type stays 10 pt on the page; legends sit beside the axes, off the data (:func:`legend_outside`).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

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


#: Width of a figure that fills the book's text column, in inches at :data:`BOOK_DPI`.
COLUMN_INCHES = 6.8
#: Pixels per inch of the book's figures (the PNG's natural width is inches x dpi).
BOOK_DPI = 100

#: matplotlib settings of the book's figures: column-wide, 10 pt type or larger everywhere.
BOOK_STYLE = {
    "figure.figsize": (COLUMN_INCHES, 3.6),
    "figure.dpi": BOOK_DPI,
    "savefig.dpi": BOOK_DPI,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 11,
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib (call it once, after importing pyplot)."""
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)


def legend_outside(ax, **kwargs):
    """The axes' legend to the right of the plot, off the data (nothing drawn when there is nothing to label)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    options = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, "frameon": False}
    return ax.legend(handles, labels, **{**options, **kwargs})


def figure_legend(fig, *, ncol: int = 2):
    """One legend for all panels of ``fig``, below them (off the data); the panels' own legends go.

    Entries with the same label are shown once. The figure switches to matplotlib's constrained layout,
    which makes room for the legend (do not call ``tight_layout`` afterwards)."""
    seen: dict[str, object] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_"):
                seen.setdefault(label, handle)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.set_layout_engine("constrained")
    if not seen:
        return None
    return fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncol=ncol, frameon=False)


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str], *, ncols: int = 3, inches: float | None = None):
    """Images on a grid of ``ncols`` columns (grey or colour), titled, without axes; returns the figure.

    The grid fills the text column: each image is ``COLUMN_INCHES / ncols`` wide unless ``inches`` says."""
    import matplotlib.pyplot as plt

    n = len(images)
    if n == 0 or len(titles) != n:
        raise ValueError(f"image_grid needs one title per image and at least one image, got {n} and {len(titles)}")
    nrows = math.ceil(n / ncols)
    side = inches or COLUMN_INCHES / ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(side * ncols, (side + 0.3) * nrows), squeeze=False)
    image_row(axes.ravel()[:n], images, titles)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def colour(estimator: str) -> str:
    return COLOURS.get(estimator, "#333333")


def _significant(d: pd.DataFrame, alpha: float) -> pd.Series:
    """The study's verdict (``significant``, from the adjusted p-value) when the table has it, else
    ``p_value <= alpha`` (the rule of :func:`seleak.stats.significant`)."""
    if "significant" in d:
        return d["significant"].astype(bool)
    return d["p_value"] <= alpha


def mi_vs_k(
    ax,
    summary: pd.DataFrame,
    estimators: Sequence[str] | None = None,
    *,
    family: str = "msb",
    alpha: float = 0.05,
    show_bound: bool = True,
    title: str | None = None,
):
    """MI (nats) against the number k of encrypted planes, one line per estimator.

    The band is each point's interval; a filled marker is significant (the study's adjusted verdict), a
    hollow one is not; a triangle marks a saturated estimate, drawn at its lower bound (a floor, not a
    value). k = 0 (nothing encrypted) carries the exact value ``H(f(X))`` of the sample. Dashed lines are
    the estimators' ceilings when they fall inside the plot.
    """
    data = summary[summary["family"] == family]
    estimators = list(estimators) if estimators is not None else sorted(data["estimator"].unique())
    top_seen = 0.0
    for est in estimators:
        d = data[data["estimator"] == est].sort_values("k")
        if d.empty:
            continue
        c = colour(str(d["estimator_name"].iloc[0]) if "estimator_name" in d else est)
        has_ci = d["ci_low"].notna()
        ax.fill_between(d["k"][has_ci], d["ci_low"][has_ci], d["ci_high"][has_ci], color=c, alpha=0.15, lw=0)
        ax.plot(d["k"], d["mi_nats"], "-", color=c, label=est)
        sig = _significant(d, alpha)
        sat = d["saturated"].astype(bool) if "saturated" in d else pd.Series(False, index=d.index)
        ax.plot(d["k"][sig & ~sat], d["mi_nats"][sig & ~sat], "o", color=c)
        ax.plot(d["k"][~sig & ~sat], d["mi_nats"][~sig & ~sat], "o", mfc="white", color=c)
        # a saturated estimate is a floor: drawn at its lower bound, not at its value
        floor = d["lower_bound_nats"] if "lower_bound_nats" in d else d["mi_nats"]
        ax.plot(d["k"][sat], floor[sat], "^", color=c, ms=8)
        top_seen = max(top_seen, float(np.nanmax(d[["mi_nats", "ci_high"]].to_numpy(dtype=float))))
    top = top_seen * 1.1 if top_seen > 0 else 1.0
    if show_bound:
        col = "ceiling_nats" if "ceiling_nats" in data else None
        for est in estimators if col else []:
            b = data[data["estimator"] == est][col].dropna()
            if len(b) and float(b.iloc[0]) < top:
                ax.axhline(float(b.iloc[0]), ls="--", lw=0.8, color=colour(est))
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel(f"k ({family.upper()} planes encrypted)")
    ax.set_ylabel("MI estimate (nats)")
    ax.set_xticks(sorted(data["k"].dropna().unique()))
    if title:
        ax.set_title(title)
    legend_outside(ax)
    return ax


def sandwich_plot(ax, summary: pd.DataFrame, estimator: str, *, family: str = "msb", title: str | None = None):
    """The sandwich against k for one estimator: the certified lower bound (filled), the estimate with
    its interval, and the image-level upper bound of the data set (line), on a log-free nats axis."""
    d = summary[(summary["family"] == family) & (summary["estimator"] == estimator)].sort_values("k")
    c = colour(str(d["estimator_name"].iloc[0]) if len(d) else estimator)
    ax.fill_between(
        d["k"], 0, d["lower_bound_nats"].fillna(0), color=c, alpha=0.3, lw=0, label="certified (95 % lower bound)"
    )
    # a saturated estimate is a floor, not a value: drawn as an upward triangle at its lower bound
    sat = d["saturated"].astype(bool) & ~d["degenerate"].astype(bool)
    if sat.any():
        ax.plot(d["k"][sat], d["lower_bound_nats"][sat], "^", color=c, ms=9, label="saturated: >= lower bound")
    has_ci = d["ci_low"].notna() & ~sat
    ax.errorbar(
        d["k"][has_ci],
        d["mi_nats"][has_ci],
        yerr=[(d["mi_nats"] - d["ci_low"])[has_ci].clip(lower=0), (d["ci_high"] - d["mi_nats"])[has_ci].clip(lower=0)],
        fmt="o",
        color=c,
        capsize=3,
        label=f"{estimator} estimate, 95 % interval",
    )
    ax.plot(d["k"], d["upper_bound_nats"], "k--", lw=1, label="image-level I(X; SE(X)), upper bound")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel(f"k ({family.upper()} planes encrypted)")
    ax.set_ylabel("nats")
    ax.set_xticks(sorted(d["k"].dropna().unique()))
    if title:
        ax.set_title(title)
    legend_outside(ax)
    return ax


def sample_size_plot(ax, curve: pd.DataFrame, scheme: str, *, title: str | None = None):
    """Estimate (with interval) and certified lower bound of each estimator against N for one scheme."""
    d = curve[curve["scheme"] == scheme]
    for est, e in d.groupby("estimator", sort=True):
        e = e.sort_values("n")
        c = colour(est)
        ax.fill_between(e["n"], e["ci_low"], e["ci_high"], color=c, alpha=0.15, lw=0)
        ax.plot(e["n"], e["mi_nats"], "o-", color=c, label=f"{est} estimate")
        ax.plot(e["n"], e["lower_bound_nats"], "v:", color=c, label=f"{est} lower bound")
    ax.set_xscale("log")
    ax.set_xticks(sorted(d["n"].unique()))
    ax.set_xticklabels([str(int(v)) for v in sorted(d["n"].unique())])
    ax.xaxis.set_minor_formatter(NullFormatter())  # the log axis' own minor labels would overprint the sizes
    ax.set_xlabel("N (images)")
    ax.set_ylabel("nats")
    ax.set_title(title or scheme)
    legend_outside(ax)
    return ax


def interval_bars(
    ax,
    summary: pd.DataFrame,
    estimator: str,
    schemes: Sequence[str],
    *,
    alpha: float = 0.05,
    labels: Sequence[str] | None = None,
    title: str | None = None,
):
    """Horizontal bars of one estimator's MI for a list of schemes, with intervals and significance."""
    d = summary[summary["estimator"] == estimator].set_index("scheme").reindex(list(schemes))
    y = np.arange(len(schemes))
    vals = d["mi_nats"].to_numpy(dtype=float)
    lo = vals - d["ci_low"].to_numpy(dtype=float)
    hi = d["ci_high"].to_numpy(dtype=float) - vals
    c = colour(estimator)
    sig = _significant(d, alpha).to_numpy()
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
        ax.annotate(lab, (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=10)
    return ax


def image_row(axes, images: Sequence[np.ndarray], titles: Sequence[str]):
    """Images side by side (grey or colour), titled, without axes."""
    for ax, im, t in zip(axes, images, titles):
        im = np.asarray(im)
        if im.ndim == 3 and im.shape[-1] == 1:
            im = im[..., 0]
        ax.imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(t)
        ax.axis("off")
    return axes


def npcr_uaci_vs_expected(ax, table: pd.DataFrame, *, xlabel: str = "k MSB planes encrypted", title: str | None = None):
    """Plain-vs-cipher NPCR and UACI (markers) against their exact expected values (lines), per scheme.

    ``table``: one row per scheme, indexed by what the x axis shows (the number ``k`` of encrypted
    planes, say), with the columns ``npcr``, ``uaci``, ``npcr_expected`` and ``uaci_expected`` (percent)
    of :func:`seleak.metrics.classic_metrics` called with ``scheme=``. The expectation is that of *this*
    plain image under the scheme with a uniform keystream (:func:`seleak.metrics.expected_npcr_uaci`),
    not the values of two independent uniform images, which are the reference of a cipher-vs-cipher test.
    """
    x = table.index.to_numpy()
    for i, name in enumerate(("NPCR", "UACI")):
        col = name.lower()
        ax.plot(x, table[f"{col}_expected"].to_numpy(dtype=float), "-", color=f"C{i}", label=f"{name} expected")
        ax.plot(x, table[col].to_numpy(dtype=float), "os"[i], color=f"C{i}", mfc="none", label=f"{name} measured")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("plain vs cipher (%)")
    legend_outside(ax)
    if title:
        ax.set_title(title)
    return ax


def lsb_msb_plot(axes, lsb_msb: pd.DataFrame):
    """LSB against MSB encryption: the per-pixel MI of the clear planes (bits per pixel, left) and each
    estimator's embedding MI (nats, right) against k; a saturated estimate is a floor, drawn as an
    upward triangle at its lower bound, never as a value."""
    for fam, style in (("msb", "-"), ("lsb", "--")):
        marker = "o" if fam == "msb" else "s"
        d = lsb_msb[lsb_msb["family"] == fam].drop_duplicates(["scheme"]).sort_values("k")
        axes[0].plot(d["k"], d["pixel_mi_exact_bits"], marker + style, label=f"{fam.upper()} planes encrypted")
        for est in sorted(set(lsb_msb["estimator"])):
            e = lsb_msb[(lsb_msb["family"] == fam) & (lsb_msb["estimator"] == est)].sort_values("k")
            sat = e["saturated"].astype(bool) & ~e["degenerate"].astype(bool)
            shown = e["mi_nats"].where(~sat, e["lower_bound_nats"])
            c = colour(est)
            axes[1].plot(e["k"], shown, style, color=c, label=f"{est}, {fam.upper()}")
            axes[1].plot(e["k"][~sat], shown[~sat], marker, color=c, ls="none")
            if sat.any():
                axes[1].plot(e["k"][sat], shown[sat], "^", color=c, ms=9, ls="none")
    axes[0].set(xlabel="k planes encrypted", ylabel="per-pixel MI (bits per pixel)", title="pixel space")
    axes[1].set(
        xlabel="k planes encrypted",
        ylabel="MI (nats; triangles: saturated, >= lower bound)",
        title="embedding space",
        yscale="symlog",
    )
    for ax in axes:
        legend_outside(ax)
    return axes


#: One colour per measure of the adaptive sweep (:func:`seleak.leakage.adaptive_sweep`).
MEASURE_COLOURS = {"frozen": "#9467bd", "semantic": "#ff7f0e", "image": "#2ca02c"}


def adaptive_vs_k(ax, table: pd.DataFrame, *, family: str = "msb", title: str | None = None):
    """Frozen against adaptive lower bounds (nats) against k, one line per measure of
    :func:`seleak.leakage.adaptive_sweep`: filled markers are significant after adjustment, hollow ones
    are not; the black dashed line is the image-level MI for an image drawn uniformly from these images
    under the scheme (exact for bit-plane schemes; ``log n`` when all clear parts differ), which bounds
    the measures' population values on that draw, not the estimates; dotted lines are the adaptive
    bounds' ceilings."""
    d = table[table["family"] == family]
    for m in [m for m in ("frozen", "semantic", "image") if m in set(d["measure"])]:
        e = d[d["measure"] == m].sort_values("k")
        c = MEASURE_COLOURS[m]
        sig = e["significant"].astype(bool)
        ax.plot(e["k"], e["lower_bound_nats"], "-", color=c, label=f"{m} (lower bound)")
        ax.plot(e["k"][sig], e["lower_bound_nats"][sig], "o", color=c, ls="none")
        ax.plot(e["k"][~sig], e["lower_bound_nats"][~sig], "o", color=c, mfc="white", ls="none")
        if m != "frozen":
            ax.axhline(float(e["ceiling_nats"].max()), color=c, ls=":", lw=1)
    u = d.drop_duplicates("scheme").sort_values("k")
    ax.plot(u["k"], u["upper_bound_nats"], "k--", lw=1, label="image-level MI of the sample")
    ax.set(xlabel=f"k {family.upper()} planes encrypted", ylabel="nats (filled: significant, adjusted)")
    ax.set_ylim(bottom=-0.05)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def leakage_maps(axes, maps, *, cmap: str = "magma"):
    """One occlusion map per panel (:func:`seleak.leakage.leakage_map`), titled by its key (e.g. the
    scheme): how many nats of the held-out bound are lost when that square of the SE images is
    replaced by random bytes. ``maps``: a mapping name -> :class:`~seleak.leakage.LeakageMap`."""
    for ax, (name, m) in zip(np.ravel(axes), maps.items()):
        im = ax.imshow(m.occlusion, cmap=cmap, vmin=min(0.0, float(m.occlusion.min())), interpolation="nearest")
        ax.set_title(f"{name}\n(bound {m.baseline:.2f} nats)", fontsize="small")
        ax.axis("off")
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="nats lost")
    return axes


def leakage_gallery(axes, plain: np.ndarray, lmap, *, n: int = 4):
    """The ``n`` most and ``n`` least leaking held-out images by pointwise score (top row: plain
    images, bottom row: their SE images; left the most, right the least leaking). ``axes``: a
    ``(2, 2 n)`` grid; ``plain``: the images the map's ``rows`` index (the SE images come with the map)."""
    order = np.argsort(-lmap.pointwise, kind="stable")
    picks = np.concatenate([order[:n], order[-n:]])
    for j, i in enumerate(picks):
        which = "most" if j < n else "least"
        image_row(
            axes[:, j], [plain[int(lmap.rows[i])], lmap.se_images[i]], [f"{which}\n{lmap.pointwise[i]:.2f} nats", "SE"]
        )
    return axes


def layer_sweep_plot(ax, sweep: pd.DataFrame, *, title: str | None = None):
    """The layer sweep (:func:`seleak.study.layer_sweep`): per scheme, the certified lower bound (solid,
    filled where the sweep's adjusted test is significant) and the estimate with its interval (thin)
    against the depth of the layer, the layers' names as the x labels. A saturated estimate is a floor,
    drawn as an upward triangle at its lower bound."""
    layers = sweep.drop_duplicates("depth").sort_values("depth")
    for i, (scheme, d) in enumerate(sweep.groupby("scheme", sort=False)):
        d = d.sort_values("depth")
        c = f"C{i % 10}"
        x = d["depth"].to_numpy(dtype=float)
        lb = d["lower_bound_nats"].to_numpy(dtype=float)
        sig = d["significant"].astype(bool).to_numpy()
        sat = (d["saturated"].astype(bool) & ~d["degenerate"].astype(bool)).to_numpy()
        ax.plot(x, lb, "-", color=c, label=f"{scheme}: lower bound")
        ax.plot(x[sig], lb[sig], "o", color=c, ls="none")
        ax.plot(x[~sig], lb[~sig], "o", color=c, mfc="none", ls="none")
        est = d["mi_nats"].to_numpy(dtype=float)
        live = ~sat
        low = d["ci_low"].to_numpy(dtype=float)
        high = d["ci_high"].to_numpy(dtype=float)
        ax.errorbar(
            x[live] + 0.08, est[live], yerr=[np.maximum(est - low, 0)[live], np.maximum(high - est, 0)[live]],
            fmt="_", color=c, alpha=0.6, lw=1,
        )  # fmt: skip
        if sat.any():
            ax.plot(x[sat], lb[sat], "^", color=c, ms=9, ls="none")
    ax.set_xticks(layers["depth"].to_numpy(dtype=float))
    ax.set_xticklabels(
        [f"{n}\n({int(d)} dims)" if d == d else str(n) for n, d in zip(layers["layer"], layers["dim"])],
        fontsize="small",
    )
    ax.set(xlabel="layer (shallow to deep)", ylabel="MI (nats): lower bound (line), estimate [interval]")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def cleanup_plot(ax, rows: pd.DataFrame, *, family: str = "msb", title: str | None = None):
    """Raw against cleaned up (:func:`seleak.study.cleanup_table` rows of one data set, embedding and
    estimator): per clean-up, the certified lower bound against k (solid; filled markers where the
    adjusted test is significant, hollow where not) and the estimate (dotted). A saturated estimate is a
    floor, drawn as an upward triangle at its lower bound."""
    d = rows[(rows["family"] == family) & (rows["k"] >= 1)]
    styles = {"none": ("C0", "o"), "replace": ("C1", "s"), "reconstruct": ("C2", "D")}
    for i, (cleanup, g) in enumerate(d.groupby("cleanup", sort=False)):
        g = g.sort_values("k")
        c, m = styles.get(cleanup, (f"C{i + 3}", "o"))
        k = g["k"].to_numpy(dtype=float)
        lb = g["lower_bound_nats"].to_numpy(dtype=float)
        sig = g["significant"].astype(bool).to_numpy()
        sat = (g["saturated"].astype(bool) & ~g["degenerate"].astype(bool)).to_numpy()
        label = "as encrypted (frozen CNN)" if cleanup == "none" else f"cleaned up: {cleanup}"
        ax.plot(k, lb, "-", color=c, label=f"{label}: lower bound")
        ax.plot(k[sig & ~sat], lb[sig & ~sat], m, color=c, ls="none")
        ax.plot(k[~sig], lb[~sig], m, color=c, mfc="none", ls="none")
        if sat.any():
            ax.plot(k[sat], lb[sat], "^", color=c, ms=9, ls="none")
        est = g["mi_nats"].to_numpy(dtype=float)
        ax.plot(k[~sat], est[~sat], ":", color=c, alpha=0.7)
    ax.set(xlabel=f"k planes encrypted ({family.upper()})", ylabel="MI (nats): lower bound (solid), estimate (dotted)")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax
