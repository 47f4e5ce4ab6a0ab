"""Reading the study's table: summaries, the expected findings, and the views the book draws.

Everything here takes the tidy table of :func:`seleak.study.run_study` (or its :func:`summarize`) and
returns frames, numbers or text; nothing plots. Chapter 4 reads the table through the block helpers
(:func:`block_summary`, :func:`reference_summary`, ...) and quotes it through :func:`leakage_values`;
chapter 5 selects what it compares with :func:`select_attack_comparison` and quotes the comparison
through :func:`attack_values`. Each ``*_values`` function returns every number a chapter's prose glues,
keyed by the name the prose uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binom

from seleak.study.cell import grid_dataset
from seleak.study.config import Grid, StudyConfig

KEYS = ["block", "dataset", "embedding", "scheme", "cleanup", "family", "k", "estimator"]

#: Confidence level of the study's lower bounds (``seleak.leakage.measure_leakage``'s ``bound_level``).
BOUND_LEVEL = 0.95
#: Chance that the sandwich check of one group fails although every bound holds at its level.
SANDWICH_FALSE_FAILURE = 1e-6


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per setting, aggregated over seeds.

    ``mi_nats`` is the mean over seeds; ``ci_low``/``ci_high`` the widest of the per-seed intervals and
    the seed spread (min/max of the seeds' estimates), so the interval covers both the sampling error and
    the key/initialisation randomness; ``p_value`` and ``p_adjusted`` the largest over seeds and
    ``significant`` only if every seed is (conservative); ``lower_bound_nats`` the smallest of the seeds'
    lower bounds (each is a 95 % bound, so the smallest is one too); ``upper_bound_nats`` the largest of
    the seeds' image-level bounds; ``saturated`` if any seed is.
    """
    # a table written before a pixel column existed gives NaN there, not an error
    optional = [c for c in ("npcr_expected", "uaci_expected") if c not in table.columns]
    table = table.assign(**{c: math.nan for c in optional})
    # a table written before clean-ups existed (no column, or NaN): the SE images as they are
    table = table.assign(cleanup=table["cleanup"].fillna("none") if "cleanup" in table.columns else "none")
    grouped = table.groupby(KEYS, dropna=False, sort=False)
    out = grouped.agg(
        estimator_name=("estimator_name", "first"),
        mi_nats=("mi_nats", "mean"),
        mi_sd=("mi_nats", "std"),
        mi_min=("mi_nats", "min"),
        mi_max=("mi_nats", "max"),
        ci_low=("ci_low", "min"),
        ci_high=("ci_high", "max"),
        p_value=("p_value", "max"),
        p_adjusted=("p_adjusted", "max"),
        significant=("significant", "all"),
        lower_bound_nats=("lower_bound_nats", "min"),
        upper_bound_nats=("upper_bound_nats", "max"),
        upper_bound_kind=("upper_bound_kind", "first"),
        ceiling_nats=("ceiling_nats", "min"),
        saturated=("saturated", "any"),
        degenerate=("degenerate", "all"),
        split=("split", "first"),
        representation=("representation", "first"),
        interval=("interval", "first"),
        n_eval=("n_eval", "first"),
        pixel_mi_bits=("pixel_mi_bits", "mean"),
        pixel_mi_exact_bits=("pixel_mi_exact_bits", "mean"),
        entropy_bits=("entropy_bits", "mean"),
        corr_h=("corr_h", "mean"),
        npcr=("npcr", "mean"),
        uaci=("uaci", "mean"),
        npcr_expected=("npcr_expected", "mean"),
        uaci_expected=("uaci_expected", "mean"),
        psnr_db=("psnr_db", "mean"),
        ssim=("ssim", "mean"),
        seeds=("seed", "nunique"),
        n=("n", "first"),
        wall_s=("wall_s", "sum"),
    ).reset_index()
    out["ci_low"] = np.minimum(out["ci_low"], out["mi_min"])
    out["ci_high"] = np.maximum(out["ci_high"], out["mi_max"])
    out["mi_bits"] = out["mi_nats"] / math.log(2)
    return out


def findings(table: pd.DataFrame, *, family: str = "msb", block: str | None = None) -> pd.DataFrame:
    """The study's expected findings, checked per (block, data set, embedding, estimator).

    1. leakage is significant (the adjusted verdict) at k = 1 of ``family`` unless the estimate is
       saturated there (then it is a floor: nothing to test);
    2. no evidence of leakage under full encryption (adjusted verdict);
    3. the estimates do not increase with k, within their intervals (the mean at k+1 is at most the upper
       end of the interval at k);
    4. the sandwich holds: the certified lower bounds lie below the image-level upper bound, but for as
       many as chance allows at their 95 % level (see :data:`SANDWICH_FALSE_FAILURE`).

    Cleaned-up settings (``cleanup`` other than ``"none"``) are checked apart (their ``embedding`` reads
    ``"SPEC (CLEANUP)"``), for 1, 2 and 4 only: how well a clean-up works may change with k either way.

    Returns one row per check with ``passed`` and a ``detail`` that quotes the numbers.
    """
    s = summarize(table if block is None else table[table["block"] == block])
    checks = []
    for (blk, ds, emb, cleanup, est), g in s.groupby(
        ["block", "dataset", "embedding", "cleanup", "estimator"], sort=True
    ):
        # a cleaned-up setting is its own curve; its checks say so (the columns stay those of the SE images')
        if cleanup != "none":
            emb = f"{emb} ({cleanup})"
        fam = g[g["family"] == family].sort_values("k")
        row = fam[fam["k"] == 1]
        if not row.empty:
            r = row.iloc[0]
            if bool(r["saturated"]):
                passed, detail = True, f"skipped: saturated ({r['mi_nats']:.2f} of {r['ceiling_nats']:.2f} nats)"
            else:
                passed = bool(r["significant"])
                detail = f"p_adj = {r['p_adjusted']:.4f}, I = {r['mi_nats']:.3f} nats"
            checks.append((blk, ds, emb, est, f"significant at {family}:1", passed, detail))
        full = g[g["family"] == "full"]
        if not full.empty:
            r = full.iloc[0]
            detail = f"p_adj = {r['p_adjusted']:.3f}, I = {r['mi_nats']:.3f} nats"
            checks.append((blk, ds, emb, est, "no evidence under full", not bool(r["significant"]), detail))
        fam = fam[fam["k"] >= 1]  # k = 0: nothing encrypted, the exact H(f(X))
        # a clean-up's success depends on k in its own way (a reconstruction from fewer clear planes may
        # fit the frozen CNN better): monotonicity is expected of the SE images only
        if len(fam) >= 2 and cleanup == "none":
            mean, high, ks = fam["mi_nats"].to_numpy(), fam["ci_high"].to_numpy(), fam["k"].to_numpy()
            bad = [
                f"k={int(ks[i])}->{int(ks[i + 1])}: {mean[i + 1]:.3f} > {high[i]:.3f}"
                for i in range(len(ks) - 1)
                if mean[i + 1] > high[i] + 1e-9
            ]
            checks.append(
                (
                    blk,
                    ds,
                    emb,
                    est,
                    f"non-increasing in k ({family})",
                    not bad,
                    "; ".join(bad) or f"{len(ks)} values, k={int(ks[0])}..{int(ks[-1])}",
                )
            )
        # each lower bound is a 95 % bound, so it may exceed the exact upper bound by chance (where that
        # bound is below what the lower bound can reach, e.g. 0 under full encryption): allow the count
        # that Binomial(n, 0.05) exceeds with probability <= 1e-6 (then a false failure of this check over
        # a hundred groups has probability <= 1e-4); more is a bug, not chance
        bounded = g[g["lower_bound_nats"].notna()]
        over = bounded[bounded["lower_bound_nats"] > bounded["upper_bound_nats"] + 1e-9]
        allowed = int(binom.isf(SANDWICH_FALSE_FAILURE, len(bounded), 1 - BOUND_LEVEL)) if len(bounded) else 0
        detail = ", ".join(
            f"{r.scheme}: {r.lower_bound_nats:.3f} > {r.upper_bound_nats:.3f}" for r in over.itertuples()
        )
        detail = (f"{len(over)} above (chance allows {allowed}): " + detail) if len(over) else f"{len(g)} schemes"
        checks.append((blk, ds, emb, est, "lower bound <= upper bound", len(over) <= allowed, detail))
    return pd.DataFrame(checks, columns=["block", "dataset", "embedding", "estimator", "check", "passed", "detail"])


# --------------------------------------------------------------------------------------------------
# chapter 4: the study's blocks
# --------------------------------------------------------------------------------------------------

#: The schemes the region and DCT comparison draws beside its own, as MSB and full-encryption anchors.
REFERENCE_SCHEMES = ("msb:1", "msb:4", "full")


def grid_table(config: StudyConfig) -> pd.DataFrame:
    """One row per block: what it measures (data sets, N, embeddings, how many schemes, estimators,
    how many seeds), the representation every estimator of the block measures, the images measured, the
    permutations of its tests and its error control (each block is one family). Short cells, so that the
    table fits a book's column: a block that reads several layers of one network names it once."""
    return pd.DataFrame(
        [
            {
                "block": g.block,
                "data": ", ".join(d for d, _ in g.datasets) + f" ({g.split})",
                "N": g.n,
                "embeddings": embeddings_label(g.embeddings),
                "schemes": len(g.schemes),
                "estimators": ", ".join(e.label for e in g.estimators),
                "seeds": len(g.seeds),
                "measured": ", ".join(f"{v}" for v in (dict(g.representation) or {"projection": "none"}).values()),
                "cleanup": ", ".join(g.cleanup),
                "permutations": g.permutations,
                "adjust": f"{g.adjust}, {g.alpha:g}",
            }
            for g in config.grids
        ]
    ).set_index("block")


def embeddings_label(specs: Sequence[str]) -> str:
    """Embedding specs for a table cell: layers of one network as ``"trained:digits (4 layers)"``."""
    bases: dict[str, int] = {}
    for spec in specs:
        base = spec.split("@", 1)[0]
        bases[base] = bases.get(base, 0) + 1
    return ", ".join(base if count == 1 else f"{base} ({count} layers)" for base, count in bases.items())


def block_summary(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of block ``name`` of a :func:`summarize` table.

    A study without that block gives its first block (by name) instead, so a chapter written for the
    book's profiles (blocks ``paper``, ``estimators``, ``schemes``, ``embeddings``) still shows a
    custom profile's results.
    """
    blocks = set(summary["block"])
    if not blocks:
        raise ValueError("the summary has no rows: run the study first")
    return summary[summary["block"] == (name if name in blocks else sorted(blocks)[0])]


def reference_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The MSB reference of the comparisons: every estimator of the ``paper`` and ``estimators`` blocks,
    one row per (scheme, estimator), the ``paper`` block's row where both measured it."""
    both = pd.concat([block_summary(summary, "paper"), block_summary(summary, "estimators")])
    return both.drop_duplicates(["scheme", "estimator"])


def scheme_order(scheme: str) -> tuple[bool, int, str]:
    """Sort key of scheme specs: shorter specs first (so ``msb:2`` before ``msb:10``), ``full`` last."""
    return scheme == "full", len(scheme), scheme


def p_value_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The p-value of every (estimator, scheme) of ``summary``, estimators as rows, schemes as columns
    in :func:`scheme_order`; a setting measured twice shows its larger (more conservative) p-value."""
    pvals = summary.pivot_table(index="estimator", columns="scheme", values="p_value", aggfunc="max")
    return pvals[sorted(pvals.columns, key=scheme_order)]


def lsb_against_msb(summary: pd.DataFrame) -> pd.DataFrame:
    """LSB schemes of the ``schemes`` block beside the MSB schemes of the reference, for the estimators
    of the ``schemes`` block and ``k >= 1`` (``k = 0`` encrypts nothing)."""
    sch = block_summary(summary, "schemes")
    ref = reference_summary(summary)
    rows = pd.concat([sch[sch["family"] == "lsb"], ref[ref["family"] == "msb"]])
    return rows[rows["estimator"].isin(set(sch["estimator"])) & (rows["k"] >= 1)]


def other_schemes(
    summary: pd.DataFrame, references: Sequence[str] = REFERENCE_SCHEMES
) -> tuple[pd.DataFrame, list[str]]:
    """The ``schemes`` block's schemes that are neither LSB nor MSB (regions, DCT) with the reference
    schemes ``references`` that the study measured, for the estimators of the ``schemes`` block.

    Returns the rows and the schemes in drawing order (the block's own first, then the references).
    """
    sch = block_summary(summary, "schemes")
    ref = reference_summary(summary)
    other = [s for s in dict.fromkeys(sch["scheme"]) if not s.startswith(("lsb", "msb"))]
    refs = [s for s in references if s in set(ref["scheme"])]
    rows = pd.concat([sch[sch["scheme"].isin(other)], ref[ref["scheme"].isin(refs)]])
    return rows[rows["estimator"].isin(set(sch["estimator"]))], other + refs


def embedding_comparison(summary: pd.DataFrame) -> pd.DataFrame:
    """The ``embeddings`` block with the reference rows of its estimators: one embedding per instrument."""
    emb = block_summary(summary, "embeddings")
    ref = reference_summary(summary)
    return pd.concat([emb, ref[ref["estimator"].isin(set(emb["estimator"]))]])


def pixel_against_embedding(summary: pd.DataFrame, estimator: str = "gaussian") -> pd.DataFrame:
    """One row per scheme with ``k != 0``: its pixel-level MI (exact where a closed form exists, else the
    plug-in estimate; bits) as ``pixel_bits`` beside ``estimator``'s embedding MI (``mi_nats``)."""
    sch = block_summary(summary, "schemes")
    rows = pd.concat([sch, reference_summary(summary)])
    # k is NaN for schemes without planes (regions, DCT): kept, since NaN != 0
    view = rows[(rows["estimator"] == estimator) & (rows["k"] != 0)].drop_duplicates("scheme")
    exact = view["pixel_mi_exact_bits"]
    return pd.DataFrame(
        {
            "scheme": view["scheme"],
            "pixel_bits": exact.where(np.isfinite(exact), view["pixel_mi_bits"]),
            "mi_nats": view["mi_nats"],
        }
    ).reset_index(drop=True)


#: The classic SE metrics of chapter 1, as :func:`classic_table` lists them.
CLASSIC_COLUMNS = [
    "pixel_mi_exact_bits", "pixel_mi_bits", "entropy_bits", "corr_h", "npcr", "npcr_expected", "uaci", "uaci_expected",
    "psnr_db", "ssim",
]  # fmt: skip


def verdict_text(row: Any, alpha: float) -> str:
    """What a row lets a reader say: ``"leaks"`` with its adjusted p when significant, else an upper
    confidence statement from the interval's upper end, never "no leakage". That statement is about
    the measured representation (``"< X nats here"``): by data processing the full embedding may carry
    more, and only the image-level ``upper_bound_nats`` bounds it."""
    if bool(row["degenerate"]):
        return "identical (nothing encrypted)"
    if bool(row["significant"]):
        return f"leaks (p_adj = {row['p_adjusted']:.3g})"
    high = row["ci_high"]
    # only an interval of an estimate of the MI itself bounds the MI from above; a neural held-out
    # value estimates a lower bound (or is biased), so its interval says nothing about how large I is
    upper = row.get("upper_bound_nats", math.nan)
    if upper == 0:  # the exact image-level bound: nothing of the image is left in the clear
        return f"none: nothing in the clear (p_adj = {row['p_adjusted']:.2g})"
    if row.get("interval") == "subsample" and high == high:
        high = min(high, upper) if upper == upper else high  # the exact bound, when it is tighter
        return f"< {max(high, 0.0):.2f} nats here (p_adj = {row['p_adjusted']:.2g})"
    return f"no evidence (p_adj = {row['p_adjusted']:.2g}); no upper bound"


def shown_estimate(row: Any, digits: int = 2) -> str:
    """The estimate as a reader may read it: ``">= LB"`` when saturated (a floor, not a value), else the
    value with its interval, marked when it lies above the exact image-level upper bound (then the
    estimator is biased upwards on these data: the value is not a measurement)."""
    if bool(row["saturated"]) and not bool(row["degenerate"]):
        lb = row["lower_bound_nats"]
        return f">= {lb:.{digits}f}" if lb == lb else f"{row['mi_nats']:.{digits}f} (saturated: a floor)"
    upper = row.get("upper_bound_nats", math.nan)
    if not bool(row["degenerate"]) and upper == upper and row["mi_nats"] > upper + 1e-9:
        return f"{row['mi_nats']:.{digits}f} (above the upper bound {upper:.{digits}f}: biased)"
    if row["ci_low"] == row["ci_low"] and not bool(row["degenerate"]):
        return f"{row['mi_nats']:.{digits}f} [{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]"
    return f"{row['mi_nats']:.{digits}f}"


def sandwich(
    summary: pd.DataFrame, block: str, estimator: str, alpha: float, family: str | None = None
) -> pd.DataFrame:
    """Per scheme of ``block``: the certified lower bound, ``estimator``'s estimate (or ">= lower bound"
    when saturated), the image-level upper bound of the data set, the adjusted p-value and the verdict.

    ``lower bound <= I(f(X); f(SE(X))) <= upper bound``: the lower bound is a 95 % confidence bound of the
    measured representation's MI (which data processing puts below the embedding's), the upper bound the
    exact ``I(X; SE(X))`` of the sample (or ``H(X)`` where the scheme's clear part is not a fixed set of
    bits, see ``upper_bound_kind``).
    """
    d = summary[(summary["block"] == block) & (summary["estimator"] == estimator)]
    if family is not None:
        d = d[d["family"] == family]
    if d.empty:
        raise ValueError(f"the study has no rows of estimator {estimator!r} in block {block!r}")
    d = d.sort_values(["family", "k", "scheme"])
    return pd.DataFrame(
        {
            "scheme": d["scheme"].to_numpy(),
            "lower bound": d["lower_bound_nats"].round(3).to_numpy(),
            f"{estimator} [95 % CI]": [shown_estimate(r) for _, r in d.iterrows()],
            "upper bound": d["upper_bound_nats"].round(3).to_numpy(),
            "verdict": [verdict_text(r, alpha) for _, r in d.iterrows()],
        }
    ).set_index("scheme")


#: Blocks whose name starts with this prefix measure the headline schemes at another sample size.
SIZE_PREFIX = "size-"


def sample_size_table(summary: pd.DataFrame, blocks: Sequence[str] | None = None) -> pd.DataFrame:
    """The sample-size curve: estimate, interval, lower bound and adjusted p per (scheme, estimator, N).

    ``blocks``: the blocks to read (default: every ``size-*`` block, plus the ``paper`` and
    ``estimators`` blocks at the study's main N), restricted to the schemes and estimators the ``size-*``
    blocks measure. Empty when the profile has no ``size-*`` block.
    """
    sized = [b for b in summary["block"].unique() if str(b).startswith(SIZE_PREFIX)]
    cols = ["scheme", "estimator", "n", "n_eval", "mi_nats", "ci_low", "ci_high", "lower_bound_nats", "p_adjusted"]
    if blocks is None:
        if not sized:
            return pd.DataFrame(columns=cols)
        blocks = [*sized, "paper", "estimators"]
    d = summary[summary["block"].isin(blocks)]
    ref = summary[summary["block"].isin(sized)] if sized else d
    d = d[d["scheme"].isin(set(ref["scheme"])) & d["estimator"].isin(set(ref["estimator"]))]
    return d[cols].sort_values(["scheme", "estimator", "n"]).reset_index(drop=True)


def adjustment_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per block: the family size, how many tests reject at the block's raw level and after adjustment."""
    rows = []
    for blk, g in table.groupby("block", sort=False):
        live = g[g["p_value"].notna()]
        rows.append(
            {
                "block": blk,
                "tests": len(live),
                "smallest p": float(live["p_value"].min()),
                "p <= 0.05 (raw)": int((live["p_value"] <= 0.05).sum()),
                "significant (adjusted)": int(live["significant"].sum()),
            }
        )
    return pd.DataFrame(rows).set_index("block")


def classic_table(summary: pd.DataFrame, estimator: str = "gaussian") -> pd.DataFrame:
    """One row per scheme (reference schemes first): ``estimator``'s embedding MI beside the pixel MI and
    the classic SE metrics of the same encrypted images."""
    rows = pd.concat([reference_summary(summary), block_summary(summary, "schemes")])
    rows = rows[rows["estimator"] == estimator].drop_duplicates("scheme")
    return (
        rows[["scheme", "mi_nats", *CLASSIC_COLUMNS]]
        .set_index("scheme")
        .rename(columns={"mi_nats": f"MI {estimator} (nats)"})
    )


def first_quiet(summary: pd.DataFrame, family: str = "msb") -> int | None:
    """The smallest ``k >= 1`` of ``family`` from which no estimate in ``summary`` is significant (the
    adjusted verdict) any more (``None``: a significant estimate at the largest k). Pass one estimator's
    rows."""
    d = summary[(summary["family"] == family) & (summary["k"] >= 1)].sort_values("k")
    quiet = [int(k) for k in d["k"] if not d[d["k"] >= k]["significant"].astype(bool).any()]
    return quiet[0] if quiet else None


def value(summary: pd.DataFrame, scheme: str, estimator: str, column: str = "mi_nats") -> float:
    """``column`` of the first row of (``scheme``, ``estimator``); NaN when the study did not measure it."""
    v = summary[(summary["scheme"] == scheme) & (summary["estimator"] == estimator)][column]
    return float(v.iloc[0]) if len(v) else float("nan")


def leakage_values(table: pd.DataFrame) -> dict[str, Any]:
    """Every number chapter 4's prose quotes, from the study's table, keyed by its glue name."""
    summary = summarize(table)
    paper = block_summary(summary, "paper")
    ref = reference_summary(summary)
    sch = block_summary(summary, "schemes")
    est_block = block_summary(summary, "estimators")

    def quiet(frame: pd.DataFrame, estimator: str) -> str:
        k = first_quiet(frame[frame["estimator"] == estimator])
        return f"k = {k}" if k is not None else "no k in the grid"

    def upper_at_quiet(frame: pd.DataFrame, estimator: str) -> str:
        d = frame[frame["estimator"] == estimator]
        k = first_quiet(d)
        if k is None:
            return "no k in the grid"
        rows = d[d["scheme"] == f"msb:{k}"]
        if rows.empty or rows.iloc[0]["interval"] != "subsample":
            return "no upper bound (a neural estimate)"
        return verdict_text(rows.iloc[0], 0.0).split(" (")[0].lstrip("< ").replace(" here", "")

    def shown(frame: pd.DataFrame, scheme: str, estimator: str) -> str:
        rows = frame[(frame["scheme"] == scheme) & (frame["estimator"] == estimator)]
        return shown_estimate(rows.iloc[0], 3) if len(rows) else "not measured"

    # full encryption wherever it was measured: the reference blocks and the control block of more keys
    # (looked up by name: block_summary would fall back to another block when a study has none)
    full_rows = pd.concat([ref[ref["scheme"] == "full"], summary[summary["block"].isin(CONTROL_BLOCKS)]])
    px = lsb_against_msb(summary).drop_duplicates("scheme").set_index("scheme")["pixel_mi_exact_bits"]
    checks = findings(table)
    return {
        "n_rows": len(table),
        # every row is a test, k = 0 included (an exact-match permutation test): the adjusted families
        "n_tests": len(table),
        "n_raw": int((table["p_value"] <= 0.05).sum()),
        "n_adjusted": int(table["significant"].astype(bool).sum()),
        "n_blocks": int(table["block"].nunique()),
        # estimates as a reader may read them: ">= lower bound" when saturated, else value [interval]
        "plugin_k1": shown(paper, "msb:1", "plugin"),
        "plugin_k1_lb": value(paper, "msb:1", "plugin", "lower_bound_nats"),
        "plugin_k1_p": value(paper, "msb:1", "plugin", "p_adjusted"),
        "mine_k1_p": value(paper, "msb:1", "mine", "p_adjusted"),
        "mine_k1": shown(paper, "msb:1", "mine"),
        "mine_k1_lb": value(paper, "msb:1", "mine", "lower_bound_nats"),
        "upper_k1": value(paper, "msb:1", "plugin", "upper_bound_nats"),
        "plugin_quiet": quiet(paper, "plugin"),
        "mine_quiet": quiet(paper, "mine"),
        "plugin_quiet_ub": upper_at_quiet(paper, "plugin"),
        "gaussian_k1": shown(est_block, "msb:1", "gaussian"),
        "gaussian_k1_lb": value(est_block, "msb:1", "gaussian", "lower_bound_nats"),
        "gaussian_quiet": quiet(est_block, "gaussian"),
        "gaussian_quiet_ub": upper_at_quiet(est_block, "gaussian"),
        "full_quiet": f"{int((~full_rows['significant'].astype(bool)).sum())} of {len(full_rows)}",
        "lsb4": shown(sch, "lsb:4", "gaussian"),
        "msb4": shown(ref, "msb:4", "gaussian"),
        "px_lsb4": float(px.get("lsb:4", np.nan)),
        "px_msb4": float(px.get("msb:4", np.nan)),
        "n_checks": len(checks),
        "n_passed": int(checks["passed"].sum()),
    }


# --------------------------------------------------------------------------------------------------
# chapter 5: the study's estimates against the attacks
# --------------------------------------------------------------------------------------------------

#: Blocks that repeat a scheme to check the study's calibration (full encryption under more keys): not
#: schemes to attack.
CONTROL_BLOCKS = ("full-keys",)

#: The attack measures compared with the estimates, and how figures and prose name them.
ATTACK_MEASURES = {
    "psnr_mid": "PSNR, replacement (dB)",
    "ssim_mid": "SSIM, replacement",
    "psnr_rec": "PSNR, reconstruction (dB)",
    "ssim_rec": "SSIM, reconstruction",
    "accuracy": "recognition accuracy",
    "label_mi_nats": "label-MI bound (nats)",
}

#: The pixel-level views compared beside the estimators (columns of :func:`mi_table`, nats).
PIXEL_COLUMNS = ["pixel_exact", "pixel_plugin"]

#: Accuracy above chance by more than this counts as "recognition survives".
RECOGNITION_MARGIN = 0.1


@dataclass(frozen=True)
class AttackComparison:
    """What chapter 5 compares: blocks of the study measuring ``embedding`` on ``dataset``, their schemes
    (in the study's order) and the study seeds whose keys and nonces are attacked."""

    grids: list[Grid]
    dataset: str
    embedding: str
    schemes: list[str]
    seeds: list[int]

    @property
    def grid(self) -> Grid:
        """The first compared block: its sample (``n``, ``data_seed``, data set options) is the one every
        compared block measured, since they share the data set."""
        return self.grids[0]

    @property
    def blocks(self) -> list[str]:
        return [g.block for g in self.grids]

    @property
    def dataset_opts(self) -> tuple[tuple[str, Any], ...]:
        return dict(self.grid.datasets)[self.dataset]


def select_attack_comparison(
    config: StudyConfig,
    *,
    blocks: Sequence[str] = (),
    dataset: str = "",
    embedding: str = "",
    seeds: Iterable[int] = (),
    seed: int = 0,
) -> AttackComparison:
    """The blocks, data set, embedding, schemes and seeds chapter 5 compares, from its parameters.

    ``blocks``: empty for every block but the :data:`CONTROL_BLOCKS`, the sample-size blocks
    (:data:`SIZE_PREFIX`: the same schemes at another N, not other schemes), the blocks with a clean-up
    and the blocks of layers (embeddings ``"SPEC@LAYER"``); ``dataset`` and ``embedding``: empty
    for the first of the first selected block, and only blocks measuring both are kept; ``seeds``: study
    seeds before the shift by ``seed`` (the shift :func:`seleak.study.load_study` applied), empty for
    every seed of the kept blocks.
    """
    grids = [
        g
        for g in config.grids
        if (
            g.block in blocks
            if blocks
            else g.block not in CONTROL_BLOCKS
            and not g.block.startswith(SIZE_PREFIX)
            # cleaned-up rows measure the adversary's pictures, not the SE ones; a block of layers
            # ("SPEC@LAYER") measures the same schemes again at other depths
            and tuple(g.cleanup) == ("none",)
            and not any("@" in e for e in g.embeddings)
        )
    ]
    if not grids:
        raise ValueError(f"blocks {list(blocks)} are not in profile {config.name!r}: {[g.block for g in config.grids]}")
    ds_name = dataset or grids[0].datasets[0][0]
    emb_spec = embedding or grids[0].embeddings[0]
    grids = [g for g in grids if emb_spec in g.embeddings and ds_name in dict(g.datasets)]
    if not grids:
        raise ValueError(f"no block of profile {config.name!r} measures embedding {emb_spec!r} on data set {ds_name!r}")
    schemes = list(dict.fromkeys(s for g in grids for s in g.schemes))
    chosen = [int(s) + seed for s in seeds] or sorted({s for g in grids for s in g.seeds})
    return AttackComparison(grids, ds_name, emb_spec, schemes, chosen)


def attacked_dataset(comparison: AttackComparison):
    """The study's images of the comparison (same sample, same order) with their labels, which the
    recognition attack needs."""
    ds = grid_dataset(comparison.grid, comparison.dataset)
    if ds.labels is None:
        raise ValueError(f"data set {comparison.dataset!r} has no labels: the recognition attack needs them")
    return ds


def attacker_prior(comparison: AttackComparison, prior_mean: float = -1.0) -> float:
    """The brightness the attacker assumes: ``prior_mean`` when it is >= 0, else the mean pixel of the
    data set's *other* split, learnt from other pictures of the kind and never from the attacked ones."""
    if prior_mean >= 0:
        return prior_mean
    from seleak.data import load_dataset

    opts = comparison.dataset_opts
    other_split = "test" if dict(opts).get("split", comparison.grid.split) != "test" else "train"
    return float(
        load_dataset(comparison.dataset, split=other_split, **{k: v for k, v in opts if k != "split"}).images.mean()
    )


def compared_summary(summary: pd.DataFrame, comparison: AttackComparison) -> pd.DataFrame:
    """The rows of a :func:`summarize` table that the comparison covers."""
    cleanup = summary["cleanup"].fillna("none") if "cleanup" in summary.columns else pd.Series("none", summary.index)
    return summary[
        summary["block"].isin(comparison.blocks)
        & (cleanup == "none")
        & (summary["dataset"] == comparison.dataset)
        & (summary["embedding"] == comparison.embedding)
        & summary["scheme"].isin(comparison.schemes)
    ]


def estimator_labels(summary: pd.DataFrame) -> list[str]:
    """The estimator labels of ``summary``, in the order the study lists them."""
    return list(dict.fromkeys(summary["estimator"]))


def mi_table(compared: pd.DataFrame, schemes: Sequence[str]) -> pd.DataFrame:
    """One row per scheme (in ``schemes`` order): the pixel-level MI (plug-in and exact, in nats like the
    embedding estimates), ``family``, ``k``, ``degenerate``, and one column per estimator (mean MI)."""
    estimators = estimator_labels(compared)
    mi = compared.pivot_table(index="scheme", columns="estimator", values="mi_nats", aggfunc="mean")[estimators]
    pixel = compared.groupby("scheme").agg(
        pixel_plugin=("pixel_mi_bits", "mean"),
        pixel_exact=("pixel_mi_exact_bits", "mean"),
        family=("family", "first"),
        k=("k", "first"),
        degenerate=("degenerate", "all"),
    )
    pixel[PIXEL_COLUMNS] *= math.log(2)  # bits -> nats, like the embedding estimates
    return pixel.join(mi).reindex(list(schemes))


def seed_means(per_seed: pd.DataFrame, schemes: Sequence[str]) -> pd.DataFrame:
    """Attack measures (one row per scheme and seed, as ``seleak.attacks.attack_measures`` gives them)
    averaged over seeds, one row per scheme in ``schemes`` order; ``rec_method`` is the first seed's."""
    measures = per_seed.drop(columns=["k", "seed", "rec_method"]).groupby("scheme", sort=False).mean()
    measures["rec_method"] = per_seed.groupby("scheme", sort=False)["rec_method"].first()
    return measures.reindex(list(schemes))


def scheme_points(mi: pd.DataFrame, measures: pd.DataFrame, *, degenerate: bool = False) -> pd.DataFrame:
    """One point per scheme: its estimates (:func:`mi_table`) beside its attack measures (:func:`seed_means`).

    The degenerate point (``k = 0``: nothing encrypted, the exact H(f(X)), perfect attacks) agrees with
    everything and teaches nothing, so it is left out unless ``degenerate``.
    """
    points = mi.join(measures.drop(columns=["rec_method"]))
    return points if degenerate else points[~points["degenerate"].astype(bool)]


def complete_estimators(points: pd.DataFrame, estimators: Sequence[str]) -> list[str]:
    """The estimators measured on every point (at least the first estimator, so a figure has a row)."""
    return [e for e in estimators if points[e].notna().all()] or list(estimators[:1])


def main_estimator(points: pd.DataFrame, estimators: Sequence[str]) -> str:
    """The estimator the prose quotes: the one measured on the most points (KSG, then Gaussian, first
    among equals)."""
    coverage = points[list(estimators)].notna().sum()
    return sorted(estimators, key=lambda e: (-coverage[e], e != "ksg", e != "gaussian"))[0]


def _p_values(compared: pd.DataFrame, estimator: str) -> pd.Series:
    """The adjusted p-values (the study's verdicts) of ``estimator`` by scheme."""
    return compared[compared["estimator"] == estimator].set_index("scheme")["p_adjusted"]


def rank_table(points: pd.DataFrame, compared: pd.DataFrame, estimator: str) -> pd.DataFrame:
    """Per scheme, the ranks (1 = leaks most) that ``estimator``, the per-pixel MI of the clear planes and
    the attacks give, after the estimate and its adjusted p-value, so disagreements can be read off."""
    columns = [estimator, "pixel_exact", "ssim_rec", "psnr_mid", "accuracy", "label_mi_nats"]
    ranks = points[columns].rank(ascending=False, method="min").astype("Int64")
    ranks.insert(0, f"{estimator} MI (nats)", points[estimator].round(3))
    ranks.insert(1, "adjusted p (study)", _p_values(compared, estimator).reindex(ranks.index))
    return ranks


@dataclass(frozen=True)
class Disagreements:
    """Where the estimate and the recognition attack disagree, and which estimates are saturated."""

    survive: list[str]  # recognition beats chance + margin although the estimate is not significant
    silent: list[str]  # a significant estimate although recognition is within margin of chance
    saturated: list[tuple[str, str]]  # (estimator, scheme) at its ceiling, k = 0 excluded


def disagreements(
    points: pd.DataFrame, compared: pd.DataFrame, estimator: str, *, alpha: float, margin: float = RECOGNITION_MARGIN
) -> Disagreements:
    """Schemes where ``estimator``'s verdict at ``alpha`` (its adjusted p-value) and the recognition attack
    disagree.

    A scheme the estimator did not measure, or the attack did not score (NaN), is in neither list.
    """
    p = _p_values(compared, estimator)
    bar = points["chance"] + margin
    survive = [s for s in points.index if p.get(s, 0) > alpha and points.loc[s, "accuracy"] > bar[s]]
    silent = [s for s in points.index if p.get(s, 1) <= alpha and points.loc[s, "accuracy"] <= bar[s]]
    sat = compared[compared["saturated"] & ~compared["degenerate"].astype(bool)]
    return Disagreements(survive, silent, list(zip(sat["estimator"], sat["scheme"])))


def rank_gaps(
    points: pd.DataFrame, estimates: Sequence[str], measures: Sequence[str] = ("ssim_rec", "accuracy")
) -> list[str]:
    """Per estimate and attack measure, the scheme whose two ranks differ most (1 = leaks most), as text;
    pairs with fewer than 3 points are skipped."""
    gaps = []
    for est in estimates:
        for col in measures:
            both = points[[est, col]].dropna()
            if len(both) < 3:
                continue
            by_mi, by_attack = both[est].rank(ascending=False), both[col].rank(ascending=False)
            worst = (by_mi - by_attack).abs().idxmax()
            gaps.append(
                f"{est} MI vs {ATTACK_MEASURES[col]}: {worst} (rank {int(by_mi[worst])} by MI, "
                f"{int(by_attack[worst])} by the attack, of {len(both)})"
            )
    return gaps


def shared_k(mi: pd.DataFrame) -> int | None:
    """The largest ``k >= 1`` that both the MSB-first and the LSB-first order measured (``None``: none)."""
    ks = {fam: {int(k) for k in mi.loc[mi["family"] == fam, "k"] if k >= 1} for fam in ("msb", "lsb")}
    return max(ks["msb"] & ks["lsb"], default=None)


def _at(frame: pd.DataFrame, scheme: str, column: str) -> float:
    return float(frame.loc[scheme, column]) if scheme in frame.index else float("nan")


def _correlation(corr: pd.DataFrame, x: str, y: str) -> pd.Series | None:
    r = corr[(corr["x"] == x) & (corr["y"] == y)]
    return r.iloc[0] if len(r) else None


def attack_values(
    comparison: AttackComparison,
    compared: pd.DataFrame,
    mi: pd.DataFrame,
    measures: pd.DataFrame,
    corr: pd.DataFrame,
    labels: np.ndarray,
    *,
    n_boot: int,
    level: float,
    seed: int,
    margin: float = RECOGNITION_MARGIN,
) -> dict[str, Any]:
    """Every number chapter 5's prose quotes, keyed by its glue name.

    ``compared``, ``mi`` and ``measures`` are :func:`compared_summary`, :func:`mi_table` and
    :func:`seed_means`; ``corr`` the rank correlations of the points (``seleak.stats.rank_correlations``
    over the estimates and :data:`ATTACK_MEASURES`); ``labels`` those of the attacked images. The rank
    correlations with the ``k = 0`` point put back are computed here with ``n_boot``, ``level`` and
    ``seed``, as ``corr`` was.
    """
    from seleak import attacks, stats

    estimators = estimator_labels(compared)
    points = scheme_points(mi, measures)
    main = main_estimator(points, estimators)
    complete = complete_estimators(points, estimators)
    alpha = comparison.grid.alpha
    k_hi = shared_k(mi)
    values: dict[str, Any] = {
        "acc_plain": _at(measures, "msb:0", "accuracy"),
        "acc_full": _at(measures, "full", "accuracy"),
        "chance": _at(measures, "full", "chance"),
        "acc_msb1": _at(measures, "msb:1", "accuracy"),
        "ssim_rec_msb1": _at(measures, "msb:1", "ssim_rec"),
        "ssim_mid_msb1": _at(measures, "msb:1", "ssim_mid"),
        "psnr_rec_msb1": _at(measures, "msb:1", "psnr_rec"),
        "psnr_mid_msb1": _at(measures, "msb:1", "psnr_mid"),
        "ssim_rec_msb2": _at(measures, "msb:2", "ssim_rec"),
        "label_plain": _at(measures, "msb:0", "label_mi_nats"),
        "label_entropy": float(attacks.label_entropy(labels)),
    }
    if k_hi is not None:
        values["k_hi"] = k_hi
        for fam in ("msb", "lsb"):
            for col in ("accuracy", "psnr_mid", "ssim_mid", "label_mi_nats"):
                values[f"{col}_{fam}_hi"] = _at(measures, f"{fam}:{k_hi}", col)
            values[f"pixel_exact_{fam}_hi"] = _at(mi, f"{fam}:{k_hi}", "pixel_exact")

    # the rank correlations, per estimate and measure, and again under "main" for the quoted estimator
    values["main_est"] = main
    values["main_n"] = int(points[main].notna().sum())
    mi_cols = estimators + PIXEL_COLUMNS
    for y in ATTACK_MEASURES:
        for x in mi_cols:
            r = _correlation(corr, x, y)
            if r is None:
                continue
            for name in [x, "main"] if x == main else [x]:
                for part in ("rho", "low", "high"):
                    values[f"rho_{name}_{y}_{part}"] = float(r[part])
                values[f"rho_{name}_{y}_n"] = int(r["n"])
    # the k = 0 point put back in: it is the best attack result and the largest MI (the exact H(f(X))) at once
    corr_k0 = stats.rank_correlations(
        scheme_points(mi, measures, degenerate=True),
        [main],
        ["accuracy", "ssim_rec"],
        n_boot=n_boot,
        level=level,
        seed=seed,
    )
    for y in ("accuracy", "ssim_rec"):
        r = _correlation(corr_k0, main, y)
        values[f"k0_rho_{y}"] = float(r["rho"])
        values[f"k0_low_{y}"] = float(r["low"])
    # how many attack measures each estimate predicts with an interval that excludes 0
    excl = corr.assign(excl=(corr["low"] > 0) | (corr["high"] < 0)).groupby("x")["excl"].sum()
    for x in mi_cols:
        values[f"excl_{x}"] = int(excl.get(x, 0))
    values["excl_main"] = int(excl.get(main, 0))
    values["n_measures"] = len(ATTACK_MEASURES)
    few = [e for e in estimators if e not in complete]
    values["few_est"] = ", ".join(few) or "none"
    values["few_n"] = int(points[few].notna().sum().min()) if few else 0
    live = mi[~mi["degenerate"].astype(bool)]
    big = live[estimators].max()
    values["max_est"] = str(big.idxmax())
    values["max_mi"] = float(big.max())
    values["max_scheme"] = str(live[big.idxmax()].idxmax())

    # where the estimate and the attacks disagree
    d = disagreements(points, compared, main, alpha=alpha, margin=margin)

    def reconstruction(s: str) -> str:
        v = points.loc[s, "ssim_rec"]
        return f"reconstruction SSIM {v:.2f}" if np.isfinite(v) else "no pixel attack"

    values["survive"] = ", ".join(d.survive) or "none of the schemes here"
    values["silent"] = (
        ", ".join(f"{s} (accuracy {points.loc[s, 'accuracy']:.2f}, {reconstruction(s)})" for s in d.silent)
        or "none of the schemes here"
    )
    values["alpha"] = alpha
    values["margin"] = margin
    values["saturated"] = ", ".join(f"{e} at {s}" for e, s in d.saturated) or "no estimate"
    if k_hi is not None:
        values["main_msb_hi"] = _at(mi, f"msb:{k_hi}", main)
        values["main_lsb_hi"] = _at(mi, f"lsb:{k_hi}", main)
    values["discord"] = "; ".join(rank_gaps(points, complete + ["pixel_exact"]))
    return values


# --------------------------------------------------------------------------------------------------
# beyond the paper: the scheme-aware clean-up (chapter 7 reads these)
# --------------------------------------------------------------------------------------------------


def cleanup_table(summary: pd.DataFrame, estimator: str | None = None, family: str | None = None) -> pd.DataFrame:
    """The settings measured both as they are and cleaned up, side by side: one row per (block, data set,
    embedding, estimator, scheme, clean-up) of the blocks that measure a clean-up, from a
    :func:`summarize` table (or the study's table itself, which is summarised first).

    Columns: the keys, ``mi_nats`` and its interval, ``lower_bound_nats`` (the certified 95 % floor),
    ``upper_bound_nats`` (the image-level bound of the SE images, which no clean-up can exceed),
    ``p_adjusted``, ``significant``, ``shown`` (the estimate as a reader may read it) and ``verdict``
    (:func:`verdict_text` at the block's adjusted level). ``estimator`` and ``family`` filter the rows.
    Empty when no block measures a clean-up.
    """
    summary = summarize(summary) if "mi_sd" not in summary.columns else summary  # the table: one row per seed
    cleanup = summary["cleanup"].fillna("none") if "cleanup" in summary.columns else pd.Series("none", summary.index)
    blocks = set(summary.loc[cleanup != "none", "block"])
    d = summary[summary["block"].isin(blocks)]
    if estimator is not None:
        d = d[d["estimator"] == estimator]
    if family is not None:
        d = d[d["family"] == family]
    cols = [
        "block", "dataset", "embedding", "estimator", "scheme", "family", "k", "cleanup", "mi_nats", "ci_low",
        "ci_high", "lower_bound_nats", "upper_bound_nats", "p_adjusted", "significant", "saturated", "degenerate",
    ]  # fmt: skip
    if d.empty:
        return pd.DataFrame(columns=[*cols, "shown", "verdict"])
    d = d.assign(_full=d["family"] == "full")  # full encryption last, as in every table of the book
    d = d.sort_values(["block", "dataset", "embedding", "estimator", "_full", "family", "k", "scheme", "cleanup"])
    out = d[cols].reset_index(drop=True)
    # the verdict's alpha: 'significant' is p_adjusted <= alpha, so any alpha it was made with agrees
    out["shown"] = [shown_estimate(r, 3) for _, r in d.iterrows()]
    out["verdict"] = [
        # a clean-up that gives back the very embeddings of the plain images recovered them: not "nothing encrypted"
        "identical: the clean-up recovers what the embedding sees"
        if r["cleanup"] != "none" and bool(r["degenerate"]) and not r["k"] == 0
        else verdict_text(r, 0.05)
        for _, r in d.iterrows()
    ]
    return out


def quiet_table(summary: pd.DataFrame, family: str = "msb") -> pd.DataFrame:
    """Where each measure stops finding leakage: per (block, data set, embedding, clean-up, estimator)
    that measured ``family`` at two k or more, the smallest ``k >= 1`` from which no estimate is
    significant (:func:`first_quiet`; NaN when some estimate is significant at the largest k), and at
    that k the upper end of the interval (``ci_high``: an upper confidence statement about the measured
    representation when the interval is a subsampling one), the image-level upper bound and the
    adjusted p-value. Accepts the study's table or its :func:`summarize`."""
    if "mi_sd" not in summary.columns:
        summary = summarize(summary)
    summary = summary.assign(cleanup=summary["cleanup"].fillna("none") if "cleanup" in summary.columns else "none")
    rows = []
    keys = ["block", "dataset", "embedding", "cleanup", "estimator"]
    for key, g in summary[summary["family"] == family].groupby(keys, sort=True):
        if (g["k"] >= 1).sum() < 2:
            continue
        k = first_quiet(g, family)
        at = g[g["k"] == k].iloc[0] if k is not None else None
        rows.append(
            {
                **dict(zip(keys, key)),
                "quiet_k": k if k is not None else math.nan,
                "ci_high": float(at["ci_high"]) if at is not None else math.nan,
                "interval": at["interval"] if at is not None else "",
                "upper_bound_nats": float(at["upper_bound_nats"]) if at is not None else math.nan,
                "p_adjusted": float(at["p_adjusted"]) if at is not None else math.nan,
                "k_max": float(g["k"].max()),
            }
        )
    return pd.DataFrame(
        rows, columns=[*keys, "quiet_k", "ci_high", "interval", "upper_bound_nats", "p_adjusted", "k_max"]
    )
