"""The study grid: profiles are validated, runs resume, Dask gives the local table, findings hold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seleak import study
from seleak.stats import adjust_p_values
from seleak.study import (
    StudyConfigError,
    cell,  # the estimation is patched where compute_cell looks it up
    config_from_mapping,
    load_study,
    read_results,
    run_study,
)

REPO = Path(__file__).resolve().parents[1]

# Small and fast: random-weight CNN (no training), Gaussian + KSG, two seeds.
SMALL = {
    "datasets": ["digits"],
    "n": 160,
    "embeddings": ["random:small"],
    "schemes": ["msb:1", "msb:4", "full"],
    "estimators": {"gaussian": {"pca_dim": 4}, "ksg": {"k": 3, "pca_dim": 2}},
    "seeds": [0, 1],
    "permutations": 19,
    "bootstrap": 10,
}

VOLATILE = ["wall_s"]


def _stable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=VOLATILE).reset_index(drop=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, r"unknown key\(s\) \['colour'\]; valid keys: adjust, alpha, blocks"),
        ({"schemes": ["msb:9"]}, r"bad scheme 'msb:9'"),
        ({"schemes": ["rot13"]}, r"bad scheme 'rot13'"),
        ({"estimators": {"mystery": {}}}, r"unknown estimator 'mystery'.*valid: .*ksg"),
        ({"estimators": {"ksg": {"kk": 3}}}, r"estimator 'ksg'.*kk"),
        ({"datasets": ["imagenet-21k"]}, r"unknown data set 'imagenet-21k'; valid: .*digits"),
        ({"blocks": [{"name": "b", "workers": 2}]}, r"block 'b' has unknown or misplaced key\(s\) \['workers'\]"),
        ({"seeds": []}, r"'seeds' is empty"),
    ],
)
def test_bad_profiles_are_rejected_with_the_valid_names(change: dict, message: str) -> None:
    with pytest.raises(StudyConfigError, match=message):
        config_from_mapping({**SMALL, **change})


def test_unknown_profile_lists_profiles() -> None:
    with pytest.raises(FileNotFoundError, match="Profiles that exist: .*quick"):
        load_study("no-such-profile", REPO)


def test_scheme_ranges_expand() -> None:
    config = config_from_mapping({**SMALL, "schemes": ["msb:0..2", "lsb:1"]})
    assert config.grids[0].schemes == ("msb:0", "msb:1", "msb:2", "lsb:1")


def test_table_is_tidy_and_has_the_binding_columns(tmp_path: Path) -> None:
    run = run_study(config_from_mapping(SMALL), tmp_path, progress=False)
    table = read_results(tmp_path)
    for col in ["dataset", "embedding", "scheme", "k", "estimator", "seed", "mi_nats", "ci_low", "ci_high", "p_value"]:
        assert col in table.columns
    assert len(table) == 3 * 2 * 2  # schemes x estimators x seeds
    assert not table.duplicated(["dataset", "embedding", "scheme", "estimator", "seed"]).any()
    assert np.isfinite(table["mi_nats"]).all()
    assert (table["ci_low"] <= table["ci_high"]).all()
    assert ((table["p_value"] > 0) & (table["p_value"] <= 1)).all()
    assert run.computed == 6 and run.cached == 0
    # the binding columns of the sandwich and the verdicts
    for col in ["p_adjusted", "significant", "lower_bound_nats", "upper_bound_nats", "ceiling_nats", "saturated"]:
        assert col in table.columns
    assert (table["p_adjusted"] >= table["p_value"]).all()  # an adjustment never lowers a p-value
    assert (table["significant"] == (table["p_adjusted"] <= 0.05)).all()
    # the study measures the held-out images by default, and says so in every row
    assert (table["split"] == "test").all() and table["representation"].str.contains("PCA per side").all()
    assert not np.isinf(table.select_dtypes("number").to_numpy()).any()


def test_resume_after_interruption_recomputes_only_missing_cells(tmp_path: Path, monkeypatch) -> None:
    config = config_from_mapping(SMALL)
    real = cell._estimate_row
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:  # the machine "dies" in the middle of the third cell
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cell, "_estimate_row", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, tmp_path, progress=False)
    assert not (tmp_path / "results.csv").exists()
    written = sorted((tmp_path / "cells").glob("[!p]*.json"))
    assert len(written) == 5  # every finished estimate was kept, atomically

    counted = {"n": 0}

    def counting(*args, **kwargs):
        counted["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(cell, "_estimate_row", counting)
    run = run_study(config, tmp_path, progress=False)
    assert counted["n"] == 12 - 5  # only the missing estimates
    assert run.computed == 4 and run.cached == 2

    # a changed setting touches only its own rows
    counted["n"] = 0
    changed = config_from_mapping({**SMALL, "estimators": {"gaussian": {"pca_dim": 4}, "ksg": {"k": 5, "pca_dim": 2}}})
    run_study(changed, tmp_path, progress=False)
    assert counted["n"] == 6  # ksg in every cell; gaussian read from the cache

    # a damaged cache file is recomputed, not fatal
    # a file the changed settings read (a Gaussian estimate: its settings did not change)
    victim = next(
        p
        for p in sorted((tmp_path / "cells").glob("[!p]*.json"))
        if json.loads(p.read_text())["row"]["estimator_name"] == "gaussian"
    )
    victim.write_text("{truncated")
    counted["n"] = 0
    with pytest.warns(RuntimeWarning, match=rf"{victim.name} is not valid JSON"):
        run_study(changed, tmp_path, progress=False)
    assert counted["n"] == 1


def test_same_seed_gives_the_same_table(tmp_path: Path) -> None:
    config = config_from_mapping({**SMALL, "seeds": [3]})
    a = run_study(config, tmp_path / "a", progress=False).table
    b = run_study(config, tmp_path / "b", progress=False).table
    pd.testing.assert_frame_equal(_stable(a), _stable(b))


def test_dask_cluster_gives_the_local_table(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    config = config_from_mapping({**SMALL, "seeds": [0]})
    local = run_study(config, tmp_path / "local", progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = run_study(config, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert remote.executor.startswith("dask tcp://127.0.0.1")
    pd.testing.assert_frame_equal(_stable(local.table), _stable(remote.table))


def test_local_processes_give_the_serial_table(tmp_path: Path) -> None:
    config = config_from_mapping({**SMALL, "seeds": [0]})
    serial = run_study(config, tmp_path / "serial", progress=False)
    parallel = run_study(config, tmp_path / "parallel", workers=2, progress=False)
    pd.testing.assert_frame_equal(_stable(serial.table), _stable(parallel.table))


def _synthetic(
    values: dict[str, tuple[float, float]], estimator: str = "gaussian", alpha: float = 0.05
) -> pd.DataFrame:
    """A study table with one seed: scheme -> (estimate, p-value); intervals of +-0.05, a lower bound
    0.1 below the estimate, the image-level upper bound log 1000, a ceiling of 10 nats, and the block's
    Holm-adjusted verdicts as :func:`seleak.study.run_study` adds them."""
    rows = []
    for scheme, (mi, p) in values.items():
        fam, _, k = scheme.partition(":")
        rows.append(
            {
                "block": "b",
                "dataset": "d",
                "embedding": "e",
                "scheme": scheme,
                "family": fam,
                "k": float(k) if k else float("nan"),
                "estimator": estimator,
                "estimator_name": estimator,
                "seed": 0,
                "n": 100,
                "mi_nats": mi,
                "ci_low": mi - 0.05,
                "ci_high": mi + 0.05,
                "p_value": p,
                "lower_bound_nats": max(0.0, mi - 0.1),
                "upper_bound_nats": math.log(1000),
                "ceiling_nats": 10.0,
                "saturated": mi >= 9.0,
                "degenerate": False,
            }
        )
    table = study.tidy(rows)
    table["p_adjusted"] = adjust_p_values(table["p_value"].to_numpy(), method="holm")
    table["significant"] = table["p_adjusted"] <= alpha
    return table


def test_findings_pass_on_a_table_that_shows_them() -> None:
    # Holm over the four: 0.005 * 4 = 0.02 and 0.005 * 3 -> 0.02 are significant, 0.2 and 0.6 are not
    table = _synthetic({"msb:1": (1.0, 0.005), "msb:2": (0.4, 0.005), "msb:3": (0.1, 0.2), "full": (0.0, 0.6)})
    checks = study.findings(table)
    # significant at msb:1, no evidence under full, non-increasing in k, lower bound <= upper bound
    assert checks["passed"].all() and len(checks) == 4


def test_findings_fail_where_the_table_contradicts_them() -> None:
    # full: p = 0.01, adjusted 0.02 (Holm over four) -> significant; msb:3 above msb:2's interval
    table = _synthetic({"msb:1": (1.0, 0.005), "msb:2": (0.4, 0.2), "msb:3": (0.9, 0.005), "full": (0.3, 0.01)})
    failed = set(study.findings(table).query("not passed")["check"])
    assert failed == {"no evidence under full", "non-increasing in k (msb)"}


def test_the_sandwich_check_allows_what_chance_allows_and_no_more() -> None:
    # 12 schemes; a 95 % lower bound above the exact upper bound happens by chance, so one such row of
    # twelve passes, while all twelve (Binomial(12, 0.05) >= 12: probability 2e-16) is a bug
    values = {f"msb:{k}": (1.0 / k, 0.001) for k in range(1, 9)} | {f"lsb:{k}": (1.0, 0.001) for k in range(1, 5)}
    table = _synthetic(values)
    one = table.copy()
    one.loc[one["scheme"] == "msb:1", "lower_bound_nats"] = 7.5
    checks = study.findings(one).set_index("check")
    assert checks.loc["lower bound <= upper bound", "passed"]
    assert checks.loc["lower bound <= upper bound", "detail"].startswith("1 above (chance allows")
    table["lower_bound_nats"] = 7.5
    assert not study.findings(table).set_index("check").loc["lower bound <= upper bound", "passed"]


def test_an_unadjusted_p_value_is_not_a_verdict() -> None:
    # raw p = 0.02 at msb:1, but Holm over the family of four makes it 0.08 > alpha: not significant
    table = _synthetic({"msb:1": (0.2, 0.02), "msb:2": (0.1, 0.5), "msb:3": (0.05, 0.6), "full": (0.0, 0.7)})
    checks = study.findings(table).set_index("check")
    assert not checks.loc["significant at msb:1", "passed"]
    assert "p_adj = 0.0800" in checks.loc["significant at msb:1", "detail"]


def test_saturated_estimators_are_exempt_from_the_significance_check() -> None:
    table = _synthetic({"msb:1": (9.8, 0.5), "msb:2": (0.4, 0.005)})  # ceiling 10: saturated at k=1
    checks = study.findings(table).set_index("check")
    assert checks.loc["significant at msb:1", "passed"] and "saturated" in checks.loc["significant at msb:1", "detail"]


def test_summary_interval_covers_every_seed() -> None:
    rows = _synthetic({"msb:1": (1.0, 0.005)})
    other = rows.assign(seed=1, mi_nats=1.5, ci_low=1.45, ci_high=1.55, p_value=0.02)
    s = study.summarize(pd.concat([rows, other]))
    r = s.iloc[0]
    assert r["mi_nats"] == pytest.approx(1.25) and r["ci_low"] == pytest.approx(0.95)
    assert r["ci_high"] == pytest.approx(1.55) and r["p_value"] == pytest.approx(0.02) and r["seeds"] == 2


def test_msb_findings_hold_on_a_small_study(tmp_path: Path) -> None:
    """The expected findings at CI size: MSB leakage significant at k = 1 after Holm's adjustment, none
    under full encryption, estimates non-increasing in k, every lower bound below the image-level upper
    bound (Gaussian and KSG estimators, random-weight CNN).

    Each check holds with false-failure probability well below 1e-4, on any machine and seed:
    - significance at msb:1: the estimates (Gaussian 2.1, KSG 0.86 nats at seed 0) lie 9 or more null
      standard deviations (under 0.02 nats, seen under full encryption) above zero, so none of the 199
      permutations reaches them: p = 1/200, and Holm over the block's 6 tests gives at most 0.03;
    - non-increasing in k over k = 1..3 only: at k = 3 and 4 both true values are near zero, where
      "estimate at k+1 <= upper end of the interval at k" fails by chance a few per cent of the time;
      from k = 2 to 3 the margin is over 4 standard deviations;
    - no evidence under full encryption: the summary's p-value is the largest over four seeds (four
      independent keys), and under independence each is <= 0.05 with probability <= 0.05, so a false
      failure needs all four: 0.05**4 = 6e-6 per estimator (1.3e-5 for both); adjustment only raises p;
    - lower bound <= upper bound: where the upper bound is log 400 = 5.99 nats (400 distinct digits) it
      holds always (a held-out InfoNCE bound from batches of B rows never exceeds log B < log 400); under
      full encryption (upper bound 0) each 95 % bound exceeds it with probability <= 0.05, and the check
      allows the count Binomial(n, 0.05) exceeds with probability 1e-6.
    """
    config = config_from_mapping(
        {
            "datasets": ["digits"],
            "n": 400,
            "embeddings": ["random:small"],
            "seeds": [0],
            "schemes": ["msb:1..3"],
            "permutations": 199,
            "bootstrap": 20,
            "estimators": {"gaussian": {"pca_dim": 8}, "ksg": {"k": 3, "pca_dim": 4}},
            "blocks": [{"name": "paper"}, {"name": "null", "schemes": ["full"], "seeds": [0, 1, 2, 3]}],
        }
    )
    checks = study.findings(run_study(config, tmp_path, progress=False).table)
    # per estimator: msb:1, monotone, sandwich (paper); full, sandwich (null)
    assert len(checks) == 2 * 5
    assert checks["passed"].all(), checks.query("not passed").to_string()


# Significance checks the quick profile's effect sizes decide with margin: at msb:1 every estimator's
# estimate lies many null standard deviations above 0 (0.05-2.9 nats against null spreads of 0.01-0.04);
# at msb:2 only the Gaussian estimator's (0.28 nats, about 10 null standard deviations). The others find
# 0.02-0.07 nats there, within a few null standard deviations: one of the 119 permutations reaching them
# is a matter of chance (KSG: p = 0.0167 on this machine, 0.0083 on another), so they are reported, not
# asserted.
ASSERTED_QUICK_CHECKS = {"significant at msb:1", "lower bound <= upper bound"}


@pytest.mark.slow
def test_quick_profile_findings(tmp_path: Path) -> None:
    """The findings on the quick profile (the book's main job), for every estimator.

    Asserted: the significance checks whose effects are many null standard deviations large (see
    ASSERTED_QUICK_CHECKS); the rest are chance-level at this N and only reported.
    Reported but not asserted: "no evidence under full" and "non-increasing in k". Most blocks of the
    quick profile have one seed, so each null check is a single 5 % test, and the adjacent near-zero
    estimates at large k cross each other's intervals a few per cent of the time: asserting them would
    fail by chance far more often than 1e-4. test_msb_findings_hold_on_a_small_study checks both with
    enough seeds and margin.
    """
    run = run_study(load_study("quick", REPO), tmp_path, progress=False)
    checks = study.findings(run.table)
    asserted = checks[checks["check"].isin(ASSERTED_QUICK_CHECKS)]
    assert len(checks) > 20 and len(asserted) >= 8
    assert asserted["passed"].all(), asserted.query("not passed").to_string()
