"""The study's cache: every cached row is validated when read, derived columns never go stale, and the
summary counts the cells that were really recomputed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from seleak import cli
from seleak.study import (
    cell,  # the estimation is patched where compute_cell looks it up
    config_from_mapping,
    run_study,
)

# One cell (one scheme, one seed), one estimator: the smallest study that exercises the cache.
TINY = {
    "datasets": ["digits"],
    "n": 120,
    "embeddings": ["random:small"],
    "schemes": ["msb:1"],
    "estimators": {"gaussian": {"pca_dim": 2}},
    "seeds": [0],
    "permutations": 19,
    "bootstrap": 4,
}


@pytest.fixture()
def fake_estimates(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Replace the estimation by a fixed row (p = 0.3) and count the calls: what these tests check is the
    cache around the estimate, and a fixed p-value puts it between the two alphas used below whatever
    the machine."""
    calls = {"n": 0}

    def fixed(cell, spec, zx, zy):
        calls["n"] += 1
        return {
            "estimator_name": spec.name,
            "mi_nats": 0.25,
            "ci_low": 0.2,
            "ci_high": 0.3,
            "interval": "subsample",
            "p_value": 0.3,
            "lower_bound_nats": 0.1,
            "lower_bound_method": "fixed",
            "ceiling_nats": math.log(120),
            "saturated": False,
            "degenerate": False,
            "is_bound": False,
            "seed_sd": math.nan,
            "representation": "fixed",
            "n_eval": 120,
            "settings": "{}",
            "flags": "",
            "wall_s": 0.01,
        }

    monkeypatch.setattr(cell, "_estimate_row", fixed)
    return calls


def _estimate_file(out: Path) -> Path:
    (path,) = [p for p in (out / "cells").glob("*.json") if not p.name.startswith("pixel-")]
    return path


def _pixel_file(out: Path) -> Path:
    (path,) = (out / "cells").glob("pixel-*.json")
    return path


def test_changing_alpha_rederives_significance_without_recomputing(tmp_path: Path, fake_estimates) -> None:
    strict = run_study(config_from_mapping({**TINY, "alpha": 0.01}), tmp_path, progress=False)
    assert fake_estimates["n"] == 1 and not strict.table["significant"].any()  # p = 0.3 > 0.01
    loose = run_study(config_from_mapping({**TINY, "alpha": 0.5}), tmp_path, progress=False)
    assert fake_estimates["n"] == 1 and loose.computed == 0 and loose.cached == 1
    assert loose.table["significant"].all()  # p = 0.3 < 0.5: derived now, not read from the cache
    assert loose.table["mi_bits"].iloc[0] == pytest.approx(0.25 / math.log(2))
    # the cache holds the estimate, not the columns derived from it
    row = json.loads(_estimate_file(tmp_path).read_text())["row"]
    assert "significant" not in row and "mi_bits" not in row and "estimator" not in row


def test_a_label_is_applied_at_table_time(tmp_path: Path, fake_estimates) -> None:
    """Two labels with the same estimator and settings share one cached row, each under its own label."""
    config = config_from_mapping(
        {
            **TINY,
            "estimators": {
                "g1": {"estimator": "gaussian", "pca_dim": 2},
                "g2": {"estimator": "gaussian", "pca_dim": 2},
            },
        }
    )
    table = run_study(config, tmp_path, progress=False).table
    assert sorted(table["estimator"]) == ["g1", "g2"]


def _entry(out: Path) -> dict:
    return json.loads(_estimate_file(out).read_text())


BAD_ESTIMATE_FILES = {
    "empty object": lambda e: {},
    "a list": lambda e: [],
    "an old bare row": lambda e: {"mi_nats": 99},
    "not JSON": lambda e: "{truncated",
    "another setting's key": lambda e: {**e, "key": "0" * 64},
    "another cache format": lambda e: {**e, "format": "cell-v3"},
    "a row without p_value": lambda e: {**e, "row": {k: v for k, v in e["row"].items() if k != "p_value"}},
    "a NaN estimate": lambda e: {**e, "row": {**e["row"], "mi_nats": math.nan}},
    "an infinite estimate of a non-degenerate cell": lambda e: {**e, "row": {**e["row"], "mi_nats": math.inf}},
    "a text estimate": lambda e: {**e, "row": {**e["row"], "mi_nats": "99"}},
    "a bool estimate": lambda e: {**e, "row": {**e["row"], "mi_nats": True}},
    "a p-value above 1": lambda e: {**e, "row": {**e["row"], "p_value": 7.0}},
    "a reversed interval": lambda e: {**e, "row": {**e["row"], "ci_low": 1.0, "ci_high": 0.0}},
    "another estimator's row": lambda e: {**e, "row": {**e["row"], "estimator_name": "ksg"}},
    "a text 'degenerate'": lambda e: {**e, "row": {**e["row"], "degenerate": "no"}},
    "a negative lower bound": lambda e: {**e, "row": {**e["row"], "lower_bound_nats": -0.5}},
    "an infinite ceiling": lambda e: {**e, "row": {**e["row"], "ceiling_nats": math.inf}},
    "no image-level upper bound": lambda e: {
        **e,
        "row": {k: v for k, v in e["row"].items() if k != "upper_bound_nats"},
    },
    "a text 'saturated'": lambda e: {**e, "row": {**e["row"], "saturated": "yes"}},
}


@pytest.mark.parametrize("damage", list(BAD_ESTIMATE_FILES), ids=list(BAD_ESTIMATE_FILES))
def test_an_invalid_cached_estimate_is_named_and_recomputed(tmp_path: Path, fake_estimates, damage: str) -> None:
    config = config_from_mapping(TINY)
    first = run_study(config, tmp_path, progress=False).table
    path = _estimate_file(tmp_path)
    bad = BAD_ESTIMATE_FILES[damage](_entry(tmp_path))
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.warns(RuntimeWarning, match=rf"cache file {path}.*recomputing it"):
        again = run_study(config, tmp_path, progress=False)
    assert fake_estimates["n"] == 2  # recomputed once, not read
    assert again.computed == 1 and again.cached == 0
    assert again.table["mi_nats"].tolist() == first["mi_nats"].tolist() == [0.25]
    # the file now holds a valid entry again: the next run reads it without a warning
    third = run_study(config, tmp_path, progress=False)
    assert third.computed == 0 and fake_estimates["n"] == 2


@pytest.mark.parametrize("content", ["{}", "[]", '{"format": "cell-v4", "key": "x", "row": {}}'])
def test_an_invalid_pixel_row_is_named_and_recomputed(tmp_path: Path, fake_estimates, content: str) -> None:
    config = config_from_mapping(TINY)
    first = run_study(config, tmp_path, progress=False).table
    path = _pixel_file(tmp_path)
    path.write_text(content)
    with pytest.warns(RuntimeWarning, match=rf"cache file {path}"):
        again = run_study(config, tmp_path, progress=False)
    assert again.computed == 1
    assert again.table["npcr"].tolist() == first["npcr"].tolist()
    assert fake_estimates["n"] == 1  # the estimate itself was valid and read from the cache


def test_a_pixel_row_with_a_bad_value_is_recomputed(tmp_path: Path, fake_estimates) -> None:
    config = config_from_mapping(TINY)
    first = run_study(config, tmp_path, progress=False).table
    path = _pixel_file(tmp_path)
    entry = json.loads(path.read_text())
    entry["row"]["npcr"] = None
    path.write_text(json.dumps(entry))
    with pytest.warns(RuntimeWarning, match="'npcr'"):
        again = run_study(config, tmp_path, progress=False)
    assert again.table["npcr"].tolist() == first["npcr"].tolist()


def test_a_file_copied_from_another_cell_is_refused(tmp_path: Path, fake_estimates) -> None:
    """A valid entry under the wrong name (copied or renamed from another setting) fails the key check."""
    config = config_from_mapping({**TINY, "seeds": [0, 1]})
    run_study(config, tmp_path, progress=False)
    a, b = sorted(p for p in (tmp_path / "cells").glob("*.json") if not p.name.startswith("pixel-"))
    b.write_text(a.read_text())
    with pytest.warns(RuntimeWarning, match=rf"{b.name}.*other settings"):
        again = run_study(config, tmp_path, progress=False)
    assert again.computed == 1 and again.cached == 1


def test_cli_summary_counts_recomputed_cells(tmp_path: Path, fake_estimates, capsys) -> None:
    profile = tmp_path / "profiles" / "tiny.yaml"
    profile.parent.mkdir()
    profile.write_text(json.dumps({"study": {**TINY, "seeds": [0, 1]}}))  # JSON is YAML
    out = tmp_path / "out"
    assert cli.main(["study", "--profile", str(profile), "--out", str(out)]) == 0
    assert "2 rows, 2 cells computed, 0 read from cache" in capsys.readouterr().out
    _pixel_file_of_seed = sorted((out / "cells").glob("pixel-*.json"))[0]
    _pixel_file_of_seed.write_text("[]")
    with pytest.warns(RuntimeWarning, match="recomputing it"):
        assert cli.main(["study", "--profile", str(profile), "--out", str(out)]) == 0
    assert "2 rows, 1 cells computed, 1 read from cache" in capsys.readouterr().out


def test_real_estimates_round_trip_through_the_cache(tmp_path: Path) -> None:
    """Without the fake: computed rows pass the same validation when read back, including the
    degenerate cell msb:0 (f(X) = f(SE(X)): the exact H(f(X)) of the sample, never inf)."""
    config = config_from_mapping({**TINY, "schemes": ["msb:0", "msb:1"]})
    first = run_study(config, tmp_path, progress=False)
    k0 = first.table.set_index("scheme").loc["msb:0"]
    assert k0["degenerate"] and k0["interval"] == "exact"
    # I(f(X); f(X)) = H(f(X)) <= H(X) = the image-level bound <= log N, and it was tested, not assumed
    assert k0["mi_nats"] <= k0["upper_bound_nats"] + 1e-12 <= math.log(120) + 2e-12
    assert k0["p_value"] == pytest.approx(1 / 20)  # no permutation of 120 distinct rows matches all of them
    assert not np.isinf(first.table.select_dtypes("number").to_numpy()).any()  # no inf anywhere
    again = run_study(config, tmp_path, progress=False)
    assert first.computed == 2 and again.computed == 0 and again.cached == 2
    assert again.table.drop(columns="wall_s").equals(first.table.drop(columns="wall_s"))
