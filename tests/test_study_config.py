"""Study settings are checked by type and range where they are written: each refusal names the key,
the bad value and what is allowed; nothing is coerced (0.5 is not seed 0, 'no' is not true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seleak import cli
from seleak.study import StudyConfigError, config_from_mapping, expand_schemes, load_study

REPO = Path(__file__).resolve().parents[1]

BASE = {
    "datasets": ["digits"],
    "n": 100,
    "embeddings": ["random:small"],
    "schemes": ["msb:1"],
    "estimators": {"gaussian": {}},
    "seeds": [0],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": [0.5]}, r"'seeds': every seed must be an integer >= 0, got 0\.5 \(float\)"),
        ({"seeds": [True]}, r"'seeds': every seed must be an integer >= 0, got True \(bool\)"),
        ({"seeds": [-1]}, r"'seeds': every seed must be an integer >= 0, got -1"),
        ({"seeds": [0, 0]}, r"'seeds' repeats a seed"),
        ({"seeds": 2.0}, r"'seeds' must be a list of integers >= 0 or a count >= 1, got 2\.0"),
        ({"seeds": 0}, r"'seeds' \(a count\) must be an integer >= 1, got 0"),
        (
            {"schemes": ["msb:3..1"]},
            r"'schemes': range 'msb:3\.\.1' is empty \(3 > 1\); write it ascending, msb:1\.\.3",
        ),
        ({"schemes": ["msb:a..b"]}, r"'schemes': bad range 'msb:a\.\.b'; write msb:LOW\.\.HIGH"),
        ({"schemes": []}, r"'schemes' must be a non-empty list"),
        ({"schemes": [3]}, r"'schemes': every scheme is a string"),
        ({"pixel_metrics": "no"}, r"'pixel_metrics' must be true or false, got 'no' \(str\)"),
        ({"pixel_metrics": 0}, r"'pixel_metrics' must be true or false, got 0 \(int\)"),
        ({"n": True}, r"'n' must be an integer >= 1, got True \(bool\)"),
        ({"n": 100.0}, r"'n' must be an integer >= 1, got 100\.0 \(float\)"),
        ({"n": 0}, r"'n' must be an integer >= 1, got 0"),
        ({"level": "high"}, r"'level' must be a number strictly between 0 and 1, got 'high' \(str\)"),
        ({"level": 1.5}, r"'level' must be a number strictly between 0 and 1, got 1\.5"),
        ({"alpha": True}, r"'alpha' must be a number strictly between 0 and 1, got True \(bool\)"),
        ({"data_seed": "x"}, r"'data_seed' must be an integer >= 0, got 'x' \(str\)"),
        ({"data_seed": -1}, r"'data_seed' must be an integer >= 0, got -1"),
        ({"embedding_seed": 1.5}, r"'embedding_seed' must be an integer >= 0, got 1\.5"),
        ({"permutations": "many"}, r"'permutations' must be an integer >= 1, got 'many'"),
        ({"bootstrap": 1}, r"'bootstrap' must be an integer >= 2, got 1"),
        ({"device": "banana"}, r"'device' must be a torch device: 'cpu', 'cuda', 'cuda:N'.*got 'banana'"),
        ({"workers": 0}, r"'workers' must be an integer >= 1, got 0"),
        ({"workers": True}, r"'workers' must be an integer >= 1, got True \(bool\)"),
        ({"embeddings": []}, r"'embeddings' must be a non-empty list of strings"),
        ({"embeddings": [1]}, r"'embeddings': every entry must be a non-empty string, got 1"),
        ({"estimators": {"ksg": 3}}, r"'estimators': the settings of 'ksg' must be a mapping"),
        ({"estimators": {"ksg": {"pca_dim": "x"}}}, r"'ksg': 'pca_dim' must be an integer >= 1, got 'x'"),
        ({"estimators": {}}, r"'estimators' must be a non-empty mapping"),
        (
            {"datasets": {"digits": {"size": [4]}}},
            r"'datasets': 'digits': 'size' must be an integer or \[HEIGHT, WIDTH\]",
        ),
        ({"datasets": {"digits": {"size": True}}}, r"'size' must be an integer >= 1, got True"),
        ({"datasets": {"digits": {"split": "val"}}}, r"'split' must be one of 'train', 'test', 'all', got 'val'"),
        ({"datasets": {"digits": {"download": "yes"}}}, r"'download' must be true or false, got 'yes'"),
        ({"datasets": {"digits": 3}}, r"the options of 'digits' must be a mapping"),
        ({"datasets": []}, r"'datasets' is empty"),
        ({"scheduler": 5}, r"'scheduler' must be a non-empty string, got 5"),
        ({"blocks": 3}, r"'blocks' must be a non-empty list of mappings"),
        ({"blocks": [3]}, r"'blocks' entry 0 must be a mapping"),
        ({"blocks": [{"name": 1}]}, r"'blocks' entry 0: 'name' must be a non-empty string, got 1"),
        ({"blocks": [{"name": "a"}, {"name": "a"}]}, r"two blocks are named 'a'"),
        # a value set in a block is named with its block
        ({"blocks": [{"name": "b", "n": True}]}, r"block 'b': 'n' must be an integer >= 1, got True"),
        ({"blocks": [{"name": "b", "level": "x"}]}, r"block 'b': 'level' must be a number"),
        ({"blocks": [{"name": "b", "seeds": [0.5]}]}, r"block 'b': 'seeds': every seed must be an integer"),
    ],
)
def test_bad_values_are_refused_naming_key_value_and_what_is_allowed(change: dict, message: str) -> None:
    with pytest.raises(StudyConfigError, match=message):
        config_from_mapping({**BASE, **change})


def test_good_values_are_kept_exactly() -> None:
    config = config_from_mapping(
        {
            **BASE,
            "seeds": 3,
            "level": 0.9,
            "alpha": 0.05,
            "pixel_metrics": False,
            "datasets": {"digits": {"size": [16, 16], "split": "test"}},
            "schemes": ["msb:2..2", "lsb:1..3"],
        }
    )
    g = config.grids[0]
    assert g.seeds == (0, 1, 2) and g.level == 0.9 and g.alpha == 0.05 and g.pixel_metrics is False
    assert g.schemes == ("msb:2", "lsb:1", "lsb:2", "lsb:3")
    assert dict(g.datasets[0][1]) == {"size": (16, 16), "split": "test"}
    assert config_from_mapping({**BASE, "level": 1 / 2}).grids[0].level == 0.5


def test_expand_schemes_refuses_a_descending_range() -> None:
    with pytest.raises(StudyConfigError, match="empty"):
        expand_schemes(["lsb:8..0"])


@pytest.mark.parametrize("profile", sorted(p.stem for p in (REPO / "profiles").glob("*.yaml")))
def test_real_profiles_pass_the_checks(profile: str) -> None:
    assert load_study(profile, REPO).n_cells > 0


def _write_profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles" / "p.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("study:\n  seeds: [0.5]\n", r"'seeds': every seed must be an integer >= 0, got 0\.5"),
        ("study:\n  schemes: ['msb:3..1']\n", r"range 'msb:3\.\.1' is empty"),
        ("study:\n  seeds: [0\n  n: 3\n", r"p\.yaml is not valid YAML at line \d+, column \d+"),
    ],
)
def test_the_command_line_reports_a_bad_study_in_one_line(tmp_path: Path, capsys, text: str, message: str) -> None:
    path = _write_profile(tmp_path, text)
    assert cli.main(["study", "--profile", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not (tmp_path / "out" / "cells").exists()


def test_a_bad_device_option_is_refused(tmp_path: Path, capsys) -> None:
    path = _write_profile(tmp_path, "study:\n  n: 10\n")
    assert cli.main(["study", "--profile", str(path), "--out", str(tmp_path / "o"), "--device", "banana"]) == 2
    assert "'device' must be a torch device" in capsys.readouterr().err
