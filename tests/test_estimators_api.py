"""The estimator interface: registry, settings, input checks, result type, PCA helper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.estimators import (
    EstimatorDivergedError,
    MIEstimate,
    available_estimators,
    get_estimator,
    project,
)
from seleak.estimators.groundtruth import correlated_gaussian

ALL = ["plugin", "ksg", "gaussian", "mine", "nwj", "infonce", "smile", "auto"]
NEURAL = ["mine", "nwj", "infonce", "smile"]
FAST_NEURAL = dict(steps=5, batch_size=16, hidden=(8,), embed_dim=4)


def fast(name: str):
    return get_estimator(name, **FAST_NEURAL) if name in NEURAL else get_estimator(name)


@pytest.fixture(scope="module")
def xy():
    x, y, _ = correlated_gaussian(200, 2, 0.5, seed=0)
    return x, y


def test_available_estimators_lists_the_binding_names():
    assert available_estimators() == ALL


def test_unknown_estimator_name_lists_the_names():
    with pytest.raises(ValueError) as e:
        get_estimator("kraskov")
    for name in ALL:
        assert name in str(e.value)


@pytest.mark.parametrize("name", ALL)
def test_unknown_setting_is_named(name):
    with pytest.raises(TypeError, match="'colour'"):
        get_estimator(name, colour="red")


@pytest.mark.parametrize(
    "name, settings",
    [
        ("plugin", {"bins": 1}),
        ("plugin", {"binning": "log"}),
        ("plugin", {"bins": 2.5}),
        ("ksg", {"k": 0}),
        ("ksg", {"transform": "boxcox"}),
        ("ksg", {"jitter": -1.0}),
        ("gaussian", {"shrinkage": 1.5}),
        ("gaussian", {"shrinkage": "oas"}),
        ("infonce", {"steps": 0}),
        ("infonce", {"batch_size": 1}),
        ("infonce", {"lr": -1.0}),
        ("infonce", {"device": "tpu"}),
        ("infonce", {"critic": "bilinear"}),
        ("infonce", {"hidden": (0, 4)}),
        ("infonce", {"val_fraction": 0.0}),
        ("mine", {"ema": 0.0}),
        ("smile", {"clip": -1.0}),
    ],
)
def test_bad_setting_values_raise(name, settings):
    with pytest.raises((ValueError, TypeError)):
        get_estimator(name, **settings)


def test_settings_are_recorded_with_defaults(xy):
    r = get_estimator("ksg", k=5).estimate(*xy)
    assert r.settings["k"] == 5 and r.settings["transform"] == "standardize"
    assert r.name == "ksg" and r.n == 200 and r.wall_time_s >= 0


@pytest.mark.parametrize("name", ALL)
def test_result_is_finite_nats_and_bits(name, xy):
    r = fast(name).estimate(*xy)
    assert isinstance(r, MIEstimate)
    assert math.isfinite(r.nats)
    assert r.bits == pytest.approx(r.nats / math.log(2))


@pytest.mark.parametrize("name", ALL)
def test_one_dimensional_input_is_one_column(name):
    x, y, _ = correlated_gaussian(200, 1, 0.5, seed=0)
    a = fast(name).estimate(x[:, 0], y[:, 0]).nats
    b = fast(name).estimate(x, y).nats
    assert a == pytest.approx(b)


def _bad_inputs():
    x, y, _ = correlated_gaussian(100, 2, 0.5, seed=0)
    nan = x.copy()
    nan[3, 1] = np.nan
    inf = y.copy()
    inf[7, 0] = np.inf
    const = x.copy()
    const[:, 1] = 4.0
    return [
        ("nan", nan, y, ValueError, "NaN"),
        ("inf", x, inf, ValueError, "infinite"),
        ("mismatched N", x, y[:90], ValueError, "paired"),
        ("constant column", const, y, ValueError, "constant"),
        ("3-D", x.reshape(100, 2, 1), y, ValueError, "shape"),
        ("strings", np.array(["a"] * 100), y, TypeError, "numeric"),
        ("none", None, y, TypeError, "numeric"),
        ("complex", x.astype(complex), y, TypeError, "real"),
        ("no columns", np.empty((100, 0)), y, ValueError, "no columns"),
    ]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("case", _bad_inputs(), ids=lambda c: c[0])
def test_bad_inputs_raise_clear_errors(name, case):
    _, x, y, exc, words = case
    with pytest.raises(exc, match=words):
        fast(name).estimate(x, y)


@pytest.mark.parametrize("name, n", [("plugin", 1), ("ksg", 4), ("gaussian", 2), ("infonce", 10)])
def test_too_few_samples(name, n):
    x, y, _ = correlated_gaussian(n, 1, 0.5, seed=0)
    with pytest.raises(ValueError, match="at least"):
        fast(name).estimate(x, y)


def test_plugin_refuses_high_dimension_with_advice():
    x, y, _ = correlated_gaussian(500, 8, 1.0, seed=0)
    with pytest.raises(ValueError, match="project"):
        get_estimator("plugin").estimate(x, y)
    # and works after projecting, as advised
    assert math.isfinite(get_estimator("plugin", pca_dim=2).estimate(x, y).nats)


def test_mi_estimate_refuses_non_finite():
    with pytest.raises(EstimatorDivergedError):
        MIEstimate(nats=float("nan"), name="x", settings={}, n=1, wall_time_s=0.0, n_eval=1)


def test_project_is_separate_pca_and_a_lower_bound():
    # 10-D Gaussians whose dependence sits in the first 3 (highest-variance) coordinates
    rng = np.random.default_rng(0)
    x, y, mi = correlated_gaussian(3000, 3, 1.5, seed=1)
    x = np.hstack([3 * x, rng.standard_normal((3000, 7))])
    y = np.hstack([3 * y, rng.standard_normal((3000, 7))])
    px, py = project(x, y, 3)
    assert px.shape == (3000, 3) and py.shape == (3000, 3)
    np.testing.assert_allclose(px.std(0), 1.0)
    g = get_estimator("gaussian")
    assert g.estimate(px, py).nats == pytest.approx(mi, abs=0.11)  # error sd 0.024 over 200 seeds: 4.5 sd
    # fewer components can only lose information (data-processing inequality)
    assert g.estimate(*project(x, y, 1)).nats < g.estimate(px, py).nats
    with pytest.raises(ValueError):
        project(x, y, 0)
    assert project(x, y, (2, 4))[1].shape == (3000, 4)


def test_constant_columns_are_dropped_when_the_estimator_projects_first() -> None:
    """Dead units of an embedding are harmless before a PCA projection: dropped, same estimate."""
    from seleak.estimators import get_estimator
    from seleak.estimators.groundtruth import correlated_gaussian
    from seleak.stats import permutation_test

    x, y, _ = correlated_gaussian(400, 3, 0.5, seed=4)
    xc = np.hstack([x, np.zeros((400, 2))])  # two dead units
    yc = np.hstack([np.full((400, 1), 7.0), y])
    est = get_estimator("gaussian", pca_dim=2)
    assert est.estimate(xc, yc).nats == pytest.approx(est.estimate(x, y).nats, abs=1e-9)
    assert permutation_test(est, xc, yc, n_permutations=19, seed=0).p_value == pytest.approx(
        permutation_test(est, x, y, n_permutations=19, seed=0).p_value
    )
    with pytest.raises(ValueError, match="constant column"):  # no projection: still refused
        get_estimator("gaussian").estimate(xc, yc)
    with pytest.raises(ValueError, match="every column of x is constant"):
        est.estimate(np.zeros((400, 2)), y)
