"""The study's analysis helpers: block fallbacks, the views the chapters draw, and the values their prose
quotes, checked on small synthetic tables whose answers are known by construction (nothing random)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seleak import study
from seleak.study import (
    ATTACK_MEASURES,
    PIXEL_COLUMNS,
    attack_values,
    block_summary,
    classic_table,
    complete_estimators,
    config_from_mapping,
    disagreements,
    embedding_comparison,
    first_quiet,
    grid_table,
    leakage_values,
    lsb_against_msb,
    main_estimator,
    mi_table,
    other_schemes,
    p_value_table,
    pixel_against_embedding,
    rank_gaps,
    rank_table,
    reference_summary,
    scheme_points,
    seed_means,
    select_attack_comparison,
    shared_k,
    summarize,
    value,
)

BOOK = Path(__file__).resolve().parents[1] / "book"


def _row(block: str, scheme: str, estimator: str, mi: float, p: float, **extra) -> dict:
    fam, _, k = scheme.partition(":")
    return {
        "block": block,
        "dataset": "digits",
        "embedding": "trained:digits",
        "scheme": scheme,
        "family": fam,
        "k": float(k) if k.isdigit() else float("nan"),
        "estimator": estimator,
        "estimator_name": estimator,
        "seed": 0,
        "n": 100,
        "mi_nats": mi,
        "ci_low": mi - 0.05,
        "ci_high": mi + 0.05,
        "p_value": p,
        # the block's adjusted verdict, here the raw p against alpha = 0.01 (run_study adds it)
        "p_adjusted": p,
        "significant": p <= 0.01,
        "lower_bound_nats": max(0.0, mi - 0.1),
        "upper_bound_nats": math.log(100),
        "upper_bound_kind": "exact",
        "ceiling_nats": 10.0,
        "saturated": False,
        "degenerate": False,
        "split": "test",
        "representation": "cca 2+2",
        "interval": "subsample",
        "n_eval": 50,
        "pixel_mi_bits": 1.0,
        "pixel_mi_exact_bits": 8.0 - (int(k) if k.isdigit() else 0),
        **extra,
    }


def _table() -> pd.DataFrame:
    """The book's blocks at toy size: paper (plugin, mine), estimators (gaussian, mine), schemes, embeddings."""
    rows = []
    for est, scale in (("plugin", 1.0), ("mine", 2.0)):
        for k, p in ((1, 0.001), (2, 0.5), (3, 0.001), (4, 0.5)):  # quiet from k = 4 on, not from 2
            rows.append(_row("paper", f"msb:{k}", est, scale / k, p))
        rows.append(_row("paper", "full", est, 0.0, 0.6))
    for k in (1, 2, 4):
        rows.append(_row("estimators", f"msb:{k}", "gaussian", 3.0 / k, 0.001))
        rows.append(_row("estimators", f"msb:{k}", "mine", 99.0, 0.001))  # the paper block's mine wins
    rows.append(_row("estimators", "full", "gaussian", 0.01, 0.9))
    for k in (2, 4):
        rows.append(_row("schemes", f"lsb:{k}", "gaussian", 5.0 / k, 0.001, pixel_mi_exact_bits=8.0 - k))
    rows.append(
        _row(
            "schemes", "region:center:0.5", "gaussian", 0.7, 0.001, pixel_mi_exact_bits=float("nan"), pixel_mi_bits=2.5
        )
    )
    rows.append(_row("embeddings", "msb:1", "gaussian", 0.2, 0.02, embedding="random:small"))
    return study.tidy(rows)


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return summarize(_table())


def test_block_summary_gives_the_named_block_or_the_first_by_name(summary) -> None:
    assert set(block_summary(summary, "schemes")["block"]) == {"schemes"}
    assert set(block_summary(summary, "no-such-block")["block"]) == {"embeddings"}  # first of the sorted names
    with pytest.raises(ValueError, match="no rows"):
        block_summary(summary.iloc[:0], "paper")


def test_reference_keeps_one_row_per_setting_and_prefers_the_paper_block(summary) -> None:
    ref = reference_summary(summary)
    assert not ref.duplicated(["scheme", "estimator"]).any()
    assert set(ref["estimator"]) == {"plugin", "mine", "gaussian"}
    assert value(ref, "msb:1", "mine") == pytest.approx(2.0)  # not the estimators block's 99


def test_p_value_table_orders_schemes_by_length_with_full_last() -> None:
    rows = pd.DataFrame(
        {"estimator": ["a"] * 4, "scheme": ["full", "msb:10", "msb:2", "msb:2"], "p_value": [0.5, 0.1, 0.01, 0.03]}
    )
    table = p_value_table(rows)
    assert list(table.columns) == ["msb:2", "msb:10", "full"]
    assert table.loc["a", "msb:2"] == pytest.approx(0.03)  # the larger p of a setting measured twice


def test_first_quiet_is_the_k_after_which_nothing_is_significant(summary) -> None:
    paper = block_summary(summary, "paper")
    plugin = paper[paper["estimator"] == "plugin"]
    assert first_quiet(plugin) == 4  # k = 2 is quiet, but k = 3 is significant again
    assert first_quiet(plugin.assign(significant=False)) == 1  # nothing is significant
    assert first_quiet(plugin[plugin["k"] <= 3]) is None  # significant at the largest k
    assert first_quiet(plugin, family="lsb") is None  # no such family
    # the verdict is the adjusted one: a raw p below alpha whose adjusted p is not does not count
    assert first_quiet(plugin.assign(significant=plugin["k"] == 1)) == 2


def test_value_is_nan_for_a_setting_not_measured(summary) -> None:
    assert value(summary, "lsb:2", "gaussian") == pytest.approx(2.5)
    assert value(summary, "lsb:2", "gaussian", "p_value") == pytest.approx(0.001)
    assert math.isnan(value(summary, "lsb:7", "gaussian"))


def test_lsb_against_msb_pairs_the_schemes_block_with_the_reference(summary) -> None:
    d = lsb_against_msb(summary)
    assert set(d["estimator"]) == {"gaussian"}  # the schemes block's estimators only
    assert set(d["scheme"]) == {"lsb:2", "lsb:4", "msb:1", "msb:2", "msb:4"}
    assert (d["k"] >= 1).all()


def test_other_schemes_lists_the_blocks_own_then_the_references(summary) -> None:
    rows, order = other_schemes(summary)
    assert order == ["region:center:0.5", "msb:1", "msb:4", "full"]
    assert set(rows["estimator"]) == {"gaussian"} and set(rows["scheme"]) == set(order)


def test_embedding_comparison_adds_the_reference_of_its_estimators(summary) -> None:
    d = embedding_comparison(summary)
    assert set(d["embedding"]) == {"random:small", "trained:digits"} and set(d["estimator"]) == {"gaussian"}


def test_pixel_view_uses_the_exact_mi_where_it_exists(summary) -> None:
    view = pixel_against_embedding(summary).set_index("scheme")
    assert view.loc["lsb:2", "pixel_bits"] == pytest.approx(6.0)
    assert view.loc["region:center:0.5", "pixel_bits"] == pytest.approx(2.5)  # no closed form: the plug-in
    assert "msb:0" not in view.index and view.index.is_unique


def test_classic_table_names_the_estimator_column(summary) -> None:
    table = classic_table(summary, "gaussian")
    assert "MI gaussian (nats)" in table.columns and table.index.is_unique and "ssim" in table.columns


def test_grid_table_has_one_row_per_block() -> None:
    config = config_from_mapping({"schemes": ["msb:1..2"], "blocks": [{"name": "a"}, {"name": "b", "seeds": 3}]})
    table = grid_table(config)
    assert list(table.index) == ["a", "b"] and list(table["seeds"]) == [1, 3] and list(table["schemes"]) == [2, 2]


def _glued(notebook: str) -> set[str]:
    nb = json.loads((BOOK / notebook).read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return set(re.findall(r"\{glue:text\}`([^`:]+)", text))


def test_leakage_values_quote_the_table_under_every_name_chapter_4_uses() -> None:
    table = _table()
    values = leakage_values(table)
    assert _glued("04_leakage_study.ipynb") <= set(values)
    assert values["n_rows"] == len(table) and values["n_tests"] == len(table)  # nothing degenerate
    assert values["n_adjusted"] == int(table["significant"].sum())
    assert values["plugin_k1_lb"] == pytest.approx(0.9) and values["upper_k1"] == pytest.approx(math.log(100))
    # estimates are quoted as a reader may read them: value [interval], or ">= lower bound" if saturated
    assert values["plugin_k1"] == "1.000 [0.950, 1.050]" and values["mine_k1"] == "2.000 [1.950, 2.050]"
    assert values["plugin_quiet"] == "k = 4" and values["mine_quiet"] == "k = 4"
    assert values["full_quiet"] == "3 of 3"
    assert values["lsb4"] == "1.250 [1.200, 1.300]" and values["msb4"] == "0.750 [0.700, 0.800]"
    assert values["px_lsb4"] == pytest.approx(4.0) and values["px_msb4"] == pytest.approx(4.0)
    assert 0 <= values["n_passed"] <= values["n_checks"]


# --------------------------------------------------------------------------------------------------
# chapter 5
# --------------------------------------------------------------------------------------------------

STUDY = {
    "schemes": ["msb:0..2"],
    "seeds": [0, 1],
    "estimators": {"gaussian": {}},
    "blocks": [
        {"name": "paper"},
        {"name": "full-keys", "schemes": ["full"], "seeds": [0, 1, 2, 3]},
        {"name": "schemes", "schemes": ["lsb:1..2", "full"], "seeds": [5]},
        {"name": "embeddings", "embeddings": ["random:small"]},
        {"name": "size-250", "n": 250, "schemes": ["msb:1"]},
    ],
}


def test_comparison_leaves_out_the_control_and_sample_size_blocks_and_other_embeddings() -> None:
    c = select_attack_comparison(config_from_mapping(STUDY))
    assert c.blocks == ["paper", "schemes"] and c.embedding == "trained:digits" and c.dataset == "digits"
    assert c.schemes == ["msb:0", "msb:1", "msb:2", "lsb:1", "lsb:2", "full"]
    assert c.seeds == [0, 1, 5] and c.grid.block == "paper" and c.dataset_opts == ()


def test_comparison_follows_the_parameters() -> None:
    config = config_from_mapping(STUDY)
    c = select_attack_comparison(config, blocks=["embeddings", "paper"], embedding="random:small", seeds=[1], seed=10)
    assert c.blocks == ["embeddings"] and c.seeds == [11]
    with pytest.raises(ValueError, match=r"blocks \['nope'\] are not in profile"):
        select_attack_comparison(config, blocks=["nope"])
    with pytest.raises(ValueError, match="measures embedding 'torchvision:resnet18'"):
        select_attack_comparison(config, embedding="torchvision:resnet18")


SCHEMES = ["msb:0", "msb:1", "msb:2", "lsb:1", "lsb:2", "full"]


def _compared() -> pd.DataFrame:
    """A chapter-5 summary: ksg on every scheme, gaussian on the MSB schemes only."""
    rows = []
    mi = {"msb:0": 9.0, "msb:1": 2.0, "msb:2": 0.5, "lsb:1": 3.5, "lsb:2": 3.0, "full": 0.0}
    p = {"msb:0": 0.005, "msb:1": 0.005, "msb:2": 0.5, "lsb:1": 0.005, "lsb:2": 0.005, "full": 0.6}
    for s in SCHEMES:
        fam, _, k = s.partition(":")
        for est in ("ksg", "gaussian") if fam == "msb" else ("ksg",):
            rows.append(
                {
                    "scheme": s,
                    "family": fam,
                    "k": float(k) if k else 8.0,
                    "estimator": est,
                    "mi_nats": mi[s] * (2 if est == "gaussian" else 1),
                    "p_value": p[s],
                    "p_adjusted": p[s],  # the verdicts chapter 5 reads (here equal to the raw p)
                    "pixel_mi_bits": 1.0,
                    "pixel_mi_exact_bits": 8.0 - float(k or 8),
                    "degenerate": s == "msb:0",
                    "saturated": s in ("msb:0", "lsb:1"),
                }
            )
    return pd.DataFrame(rows)


def _measures() -> pd.DataFrame:
    """Attack measures of two seeds; accuracy falls with the MI, except that msb:2 (not significant)
    is still recognised and lsb:2 (significant) is not."""
    acc = {"msb:0": 0.95, "msb:1": 0.6, "msb:2": 0.5, "lsb:1": 0.9, "lsb:2": 0.12, "full": 0.1}
    rows = []
    for seed, shift in ((0, -0.01), (1, 0.01)):
        for i, s in enumerate(SCHEMES):
            rows.append(
                {
                    "scheme": s,
                    "k": 0.0,
                    "seed": seed,
                    "rec_method": f"m{seed}",
                    "accuracy": acc[s] + shift,
                    "chance": 0.1,
                    "ssim_rec": 1.0 - i / 10,
                    "ssim_mid": 0.5,
                    "psnr_rec": 30.0 - i,
                    "psnr_mid": 20.0 - i,
                    "label_mi_nats": acc[s],
                    "psnr_oracle": 1.0,
                    "ssim_oracle": 1.0,
                }
            )
    return pd.DataFrame(rows)


def test_seed_means_average_over_seeds_in_the_schemes_order() -> None:
    m = seed_means(_measures(), SCHEMES[::-1])
    assert list(m.index) == SCHEMES[::-1]
    assert m.loc["msb:1", "accuracy"] == pytest.approx(0.6) and m.loc["msb:1", "rec_method"] == "m0"


def test_mi_table_has_pixel_mi_in_nats_and_one_column_per_estimator() -> None:
    mi = mi_table(_compared(), SCHEMES)
    assert list(mi.index) == SCHEMES and {"ksg", "gaussian", *PIXEL_COLUMNS} <= set(mi.columns)
    assert mi.loc["msb:1", "pixel_exact"] == pytest.approx(7 * math.log(2))
    assert math.isnan(mi.loc["lsb:1", "gaussian"]) and mi.loc["msb:1", "gaussian"] == pytest.approx(4.0)


def _points() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    compared = _compared()
    mi = mi_table(compared, SCHEMES)
    measures = seed_means(_measures(), SCHEMES)
    return compared, mi, measures


def test_points_leave_out_the_degenerate_scheme_unless_asked() -> None:
    _, mi, measures = _points()
    assert "msb:0" not in scheme_points(mi, measures).index
    assert "msb:0" in scheme_points(mi, measures, degenerate=True).index


def test_the_quoted_estimator_is_the_one_measured_on_most_points() -> None:
    _, mi, measures = _points()
    points = scheme_points(mi, measures)
    assert main_estimator(points, ["gaussian", "ksg"]) == "ksg"
    assert complete_estimators(points, ["gaussian", "ksg"]) == ["ksg"]
    assert complete_estimators(points[["gaussian"]].assign(gaussian=np.nan), ["gaussian"]) == ["gaussian"]
    tie = pd.DataFrame({"a": [1.0], "gaussian": [1.0], "ksg": [1.0]})
    assert main_estimator(tie, ["a", "gaussian", "ksg"]) == "ksg"
    assert main_estimator(tie, ["a", "gaussian"]) == "gaussian"


def test_disagreements_follow_their_definitions() -> None:
    compared, mi, measures = _points()
    points = scheme_points(mi, measures)
    d = disagreements(points, compared, "ksg", alpha=0.01, margin=0.1)
    assert d.survive == ["msb:2"]  # p = 0.5, accuracy 0.5 > 0.1 + 0.1
    assert d.silent == ["lsb:2"]  # p = 0.005, accuracy 0.12 <= 0.2
    assert d.saturated == [("ksg", "lsb:1")]  # msb:0 is degenerate, not counted
    unscored = points.assign(accuracy=np.nan)
    assert disagreements(unscored, compared, "ksg", alpha=0.01) == type(d)([], [], d.saturated)


def test_rank_gaps_name_the_scheme_ranked_most_differently() -> None:
    points = pd.DataFrame(
        {
            "x": [5.0, 4.0, 3.0, 2.0, 1.0],
            "accuracy": [1.0, 0.9, 0.8, 0.7, 0.95],
            "ssim_rec": [1.0, 0.9, np.nan, np.nan, np.nan],
        },
        index=list("abcde"),
    )
    (gap,) = rank_gaps(points, ["x"])  # ssim_rec has 2 points only: skipped
    assert gap.startswith("x MI vs recognition accuracy: e (rank 5 by MI, 2 by the attack, of 5)")


def test_rank_table_ranks_one_as_the_largest() -> None:
    compared, mi, measures = _points()
    points = scheme_points(mi, measures)
    ranks = rank_table(points, compared, "ksg")
    assert list(ranks.columns[:2]) == ["ksg MI (nats)", "adjusted p (study)"]
    assert ranks.loc["lsb:1", "ksg"] == 1 and ranks.loc["full", "ksg"] == len(points)
    assert ranks.loc["msb:2", "adjusted p (study)"] == pytest.approx(0.5)


def test_shared_k_is_the_largest_k_of_both_orders() -> None:
    _, mi, _ = _points()
    assert shared_k(mi) == 2
    assert shared_k(mi[mi["family"] != "lsb"]) is None


def test_attack_values_quote_every_name_chapter_5_uses() -> None:
    from seleak import attacks

    compared, mi, measures = _points()
    points = scheme_points(mi, measures)
    mi_cols = ["ksg", "gaussian", *PIXEL_COLUMNS]
    corr = attacks.rank_correlations(points, mi_cols, list(ATTACK_MEASURES), n_boot=50, seed=0)
    comparison = select_attack_comparison(config_from_mapping(STUDY))
    labels = np.array([0, 1] * 10)
    values = attack_values(comparison, compared, mi, measures, corr, labels, n_boot=50, level=0.9, seed=0)
    assert _glued("05_attacks_vs_mi.ipynb") <= set(values)
    assert values["main_est"] == "ksg" and values["main_n"] == len(points) == 5
    assert values["k_hi"] == 2 and values["accuracy_lsb_hi"] == pytest.approx(0.12)
    assert values["label_entropy"] == pytest.approx(math.log(2))
    assert values["few_est"] == "gaussian" and values["few_n"] == 2
    assert values["max_est"] == "gaussian" and values["max_scheme"] == "msb:1"
    assert values["survive"] == "msb:2" and values["saturated"] == "ksg at lsb:1"
    assert values["alpha"] == comparison.grid.alpha and values["n_measures"] == len(ATTACK_MEASURES)
    # the quoted estimator's correlations are repeated under "main"
    assert values["rho_main_accuracy_rho"] == values["rho_ksg_accuracy_rho"]
    assert all(isinstance(v, (int, float, str)) and not isinstance(v, np.generic) for v in values.values())


def test_an_estimate_above_the_exact_upper_bound_is_marked_biased() -> None:
    from seleak.study import shown_estimate, verdict_text

    row = pd.Series({**_row("paper", "msb:1", "gaussian", 3.0, 0.5), "upper_bound_nats": 2.5})
    assert shown_estimate(row) == "3.00 (above the upper bound 2.50: biased)"
    # a non-significant verdict quotes the tighter of the interval's end and the exact bound
    assert verdict_text(row, 0.01) == "< 2.50 nats here (p_adj = 0.5)"


def test_a_scheme_with_nothing_in_the_clear_reads_as_exactly_none() -> None:
    from seleak.study import verdict_text

    # full encryption: the exact image-level bound is 0, so the verdict needs no interval
    row = pd.Series({**_row("paper", "full", "gaussian", 0.01, 0.6), "upper_bound_nats": 0.0})
    assert verdict_text(row, 0.01) == "none: nothing in the clear (p_adj = 0.6)"
