"""The scheme-aware clean-up (seleak.attacks.clean_up) as a study setting, and the layer sweep.

Every assertion here is exact (bit operations, table shapes, determinism for one seed) or about an
exact special case (a constant side gives I = 0): none depends on a random draw, so none can fail by
chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seleak.attacks import CLEANUP_METHODS, clean_up, encrypted_bit_mask
from seleak.data import load_dataset
from seleak.encryption import encrypt, parse_scheme
from seleak.study import (
    LAYER_COLUMNS,
    StudyConfigError,
    cleanup_table,
    config_from_mapping,
    layer_sweep,
    quiet_table,
    run_study,
    study_embedder,
    study_key,
    sweep_layers,
)

KEY = study_key(0)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_dataset("digits", split="test", n=120, seed=0).images


@pytest.mark.parametrize("spec", ["msb:1", "msb:3", "lsb:2", "region:center:0.5"])
def test_replace_keeps_the_clear_part_and_puts_one_constant_in_every_encrypted_part(digits, spec):
    scheme = parse_scheme(spec)
    se = encrypt(digits, KEY, scheme, seed=0).images
    out = clean_up(se, spec, "replace")
    mask = encrypted_bit_mask(scheme, se.shape)
    clear = (se & ~mask).astype(np.int32)
    hidden = out.astype(np.int32) - clear  # what the clean-up put in the encrypted part of every pixel
    const = np.rint(mask / 2.0).astype(np.int32)  # the blind best constant: the middle of the part's range
    np.testing.assert_array_equal(hidden, np.broadcast_to(const, se.shape))
    if spec.startswith("lsb"):  # no carry out of the low planes: the clear bits themselves are untouched
        np.testing.assert_array_equal(out & ~mask, se & ~mask)
    # the key is gone: SE images under another key clean up to the same pictures
    other = encrypt(digits, study_key(1), scheme, seed=1).images
    np.testing.assert_array_equal(clean_up(other, spec, "replace"), out)


@pytest.mark.parametrize("spec", ["msb:2", "lsb:3"])
def test_reconstruct_keeps_every_clear_bit(digits, spec):
    scheme = parse_scheme(spec)
    se = encrypt(digits[:20], KEY, scheme, seed=0).images
    out = clean_up(se, scheme, "reconstruct")
    mask = encrypted_bit_mask(scheme, se.shape)
    np.testing.assert_array_equal(out & ~mask, se & ~mask)


def test_full_encryption_cleans_up_to_one_constant_image(digits):
    se = encrypt(digits, KEY, parse_scheme("full"), seed=0).images
    for method in ("replace", "reconstruct"):
        out = clean_up(se, "full", method)
        assert out.shape == se.shape and out.dtype == np.uint8
        assert (out == out.flat[0]).all(), method


def test_none_returns_the_images_and_bad_settings_say_what_to_do(digits):
    np.testing.assert_array_equal(clean_up(digits, "msb:2", "none"), digits)
    with pytest.raises(ValueError, match="none, replace, reconstruct"):
        clean_up(digits, "msb:2", "blur")
    with pytest.raises(ValueError, match="does not encrypt pixel bits"):
        clean_up(digits, "dct:q50:dc", "replace")
    assert CLEANUP_METHODS == ("none", "replace", "reconstruct")


def _study(**over):
    base = {
        "datasets": ["digits"],
        "n": 120,
        "embeddings": ["trained:digits"],
        "schemes": ["msb:1", "full"],
        "estimators": {"gaussian": {}},
        "representation": {"projection": "cca", "dim": 2},
        "permutations": 19,
        "bootstrap": 10,
        "pixel_metrics": False,
    }
    return config_from_mapping({**base, **over})


def test_bad_cleanup_settings_are_refused_with_the_choices():
    with pytest.raises(StudyConfigError, match="none, replace, reconstruct"):
        _study(cleanup=["none", "blur"])
    with pytest.raises(StudyConfigError, match="repeats"):
        _study(cleanup=["replace", "replace"])
    with pytest.raises(StudyConfigError, match="do not encrypt pixel bits"):
        _study(schemes=["msb:1", "dct:q50:dc"], cleanup=["none", "replace"])
    assert _study().grids[0].cleanup == ("none",)  # the default: the SE images as they are


def test_the_table_has_a_row_per_cleanup_and_the_raw_rows_keep_their_cache(tmp_path):
    both = run_study(_study(cleanup=["none", "replace"]), tmp_path, progress=False).table
    # the same study without the setting reads every row from the cache: its rows keep their keys
    again = run_study(_study(), tmp_path, progress=False)
    assert again.computed == 0 and again.cached == 2
    raw = again.table
    assert sorted(zip(both["scheme"], both["cleanup"])) == [
        ("full", "none"), ("full", "replace"), ("msb:1", "none"), ("msb:1", "replace"),
    ]  # fmt: skip
    assert set(raw["cleanup"]) == {"none"}
    # rows of SE images as they are have the keys they had before clean-ups existed: caches stay valid
    none = both[both["cleanup"] == "none"].set_index("scheme")
    assert (none["cell_key"] == raw.set_index("scheme")["cell_key"]).all()
    np.testing.assert_allclose(none["mi_nats"], raw.set_index("scheme")["mi_nats"])
    # full encryption cleaned up is one constant picture: exactly no information, p = 1
    full = both[(both["scheme"] == "full") & (both["cleanup"] == "replace")].iloc[0]
    assert full["mi_nats"] == 0.0 and full["p_value"] == 1.0 and full["interval"] == "exact"
    assert full["lower_bound_nats"] == 0.0 and not full["significant"]
    # the two are side by side in the chapter's tables
    side = cleanup_table(both)
    assert list(side["cleanup"]) == ["none", "replace", "none", "replace"]
    assert list(side["scheme"]) == ["msb:1", "msb:1", "full", "full"]
    assert quiet_table(both).empty  # one k of the msb family: no curve to stop on
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seleak import figures

    fig, ax = plt.subplots()
    figures.cleanup_plot(ax, side)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["as encrypted (frozen CNN): lower bound", "cleaned up: replace: lower bound"]
    plt.close(fig)
    # the cleaned-up rows are checked as their own setting, never mixed with the SE images' rows
    from seleak.study import findings

    checks = findings(both)
    assert set(checks["embedding"]) == {"trained:digits", "trained:digits (replace)"}
    # per setting: significant at msb:1, no evidence under full, the sandwich (no monotonicity: one k).
    # With 19 permutations in a family of 4, Holm's p is at least 4/20 > alpha, so msb:1 cannot be
    # significant here: only the other two are asserted (exact: 0 nats under cleaned full, bounds by data)
    assert len(checks) == 2 * 3, checks.to_string()
    assert checks[checks["check"] != "significant at msb:1"]["passed"].all(), checks.to_string()


def test_layer_sweep_rows_names_order_and_determinism(digits):
    emb = study_embedder("trained:digits", 0, "cpu")
    layers = sweep_layers(emb)
    assert layers == ["features.0.2", "features.1.2", "features.2.2", "flatten"]
    kw = dict(permutations=19, n_boot=10, seed=3)
    a = layer_sweep(digits, ["msb:1", "full"], "trained:digits", **kw)
    b = layer_sweep(digits, ["msb:1", "full"], emb, **kw)
    assert list(a.columns) == LAYER_COLUMNS and len(a) == 8
    assert list(a["scheme"]) == ["msb:1"] * 4 + ["full"] * 4
    assert list(a["layer"]) == layers * 2 and list(a["depth"]) == [1, 2, 3, 4] * 2
    assert list(a["dim"]) == [16, 32, 64, 128] * 2
    assert (a["p_adjusted"] >= a["p_value"]).all()
    pd.testing.assert_frame_equal(a.drop(columns="wall_s"), b.drop(columns="wall_s"))
    with pytest.raises(ValueError, match="not layers of"):
        layer_sweep(digits, ["msb:1"], "trained:digits", layers=["nope"], **kw)


def test_a_study_block_of_layers_reads_as_the_same_sweep(tmp_path, digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seleak import figures
    from seleak.study import layer_table

    config = _study(
        schemes=["msb:2"],
        blocks=[{"name": "layers", "embeddings": ["trained:digits@features.1.2", "trained:digits"]}],
    )
    from_study = layer_table(run_study(config, tmp_path, progress=False).table, config)
    direct = layer_sweep(digits, ["msb:2"], layers=["features.1.2", "flatten"], permutations=19, n_boot=10, seed=0)
    assert list(from_study["layer"]) == ["features.1.2", "flatten"] and list(from_study["depth"]) == [1, 2]
    # the same images, key, representation and seed: the study's cells and the sweep measure the same numbers
    np.testing.assert_allclose(from_study["mi_nats"], direct["mi_nats"], rtol=1e-9)
    np.testing.assert_allclose(from_study["p_value"], direct["p_value"], rtol=1e-12)
    fig, ax = plt.subplots()
    figures.layer_sweep_plot(ax, direct, title="sweep")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["features.1.2\n(32 dims)", "flatten\n(128 dims)"]
    plt.close(fig)


def test_attack_comparisons_leave_out_cleaned_up_and_layer_blocks():
    from seleak.study import select_attack_comparison

    config = _study(
        blocks=[
            {"name": "paper"},
            {"name": "cleanup", "cleanup": ["none", "replace"]},
            {"name": "layers", "embeddings": ["trained:digits@features.0.2", "trained:digits"]},
        ]
    )
    # the attacks are run on the SE images of each scheme once: a cleaned-up or layer block would
    # measure the same schemes a second time and double the comparison's rows
    assert select_attack_comparison(config).blocks == ["paper"]
    assert select_attack_comparison(config, blocks=["cleanup"]).blocks == ["cleanup"]
