"""What is measured: one representation per comparison; dependence-seeking projections are fitted on
rows they are never measured on (seleak.representation.represent)."""

from __future__ import annotations

import numpy as np
import pytest

from seleak.estimators.groundtruth import correlated_gaussian
from seleak.representation import PRE_DIM, represent


def _first_correlation(x: np.ndarray, y: np.ndarray) -> float:
    return float(abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]))


def test_cca_on_noise_finds_dependence_only_on_the_rows_it_was_fitted_on():
    # 400 rows of independent 64-column noise. In-sample, the first canonical correlation of 16+16
    # whitened components from 200 rows is about (sqrt(16/200) + sqrt(16/200)) ~ 0.57 (the edge of the
    # Wachter law), pure overfitting; on the other 200 rows the same direction is independent noise, so
    # its correlation is ~N(0, 1/200): |r| > 0.3 is 4.2 standard deviations, probability 3e-5.
    rng = np.random.default_rng(0)
    zx, zy = rng.standard_normal((400, 64)), rng.standard_normal((400, 64))
    rep = represent(zx, zy, "cca", 2, seed=3)
    assert rep.n == 200 and rep.n_fit == 200 and rep.x.shape == (200, 2) and rep.x_fit.shape == (200, 2)
    assert _first_correlation(rep.x_fit, rep.y_fit) > 0.35
    assert _first_correlation(rep.x, rep.y) < 0.3
    assert f"PCA per side to {PRE_DIM}+{PRE_DIM}, CCA to 2+2 (fitted on 200 rows, measured on the other 200)" in (
        rep.description
    )


@pytest.mark.parametrize("projection", ["cca", "pls"])
def test_a_dependence_seeking_projection_keeps_the_shared_direction(projection):
    # one shared Gaussian direction (correlation 0.8) hidden among 10 noise columns of the same variance
    # on each side (fewer than PRE_DIM, so the per-side PCA keeps every direction): the fitted direction
    # carries it to the measured rows (sampling sd of r at 300 rows ~0.02; r = 0.8 when found exactly)
    x, y, _ = correlated_gaussian(600, 1, 0.51, seed=1)  # rho = 0.8
    rng = np.random.default_rng(2)
    zx = np.hstack([rng.standard_normal((600, 10)), x])
    zy = np.hstack([y, rng.standard_normal((600, 10))])
    rep = represent(zx, zy, projection, 1, seed=0)
    assert _first_correlation(rep.x, rep.y) > 0.65


def test_pca_and_no_projection_measure_every_row():
    rng = np.random.default_rng(1)
    zx, zy = rng.standard_normal((50, 6)), rng.standard_normal((50, 5))
    zx[:, 0] = 1.0  # a dead unit: dropped
    plain = represent(zx, zy)
    assert plain.x.shape == (50, 5) and plain.y.shape == (50, 5) and plain.n_fit == 0 and plain.projection is None
    assert plain.description == "6+5 columns, 5+5 informative"
    pca = represent(zx, zy, "pca", 3)
    assert pca.x.shape == (50, 3) and pca.n == 50 and pca.x_fit is None and "PCA per side to 3+3" in pca.description


def test_the_same_seed_gives_the_same_representation_and_another_seed_another_split():
    rng = np.random.default_rng(4)
    zx, zy = rng.standard_normal((120, 10)), rng.standard_normal((120, 10))
    a, b, c = (
        represent(zx, zy, "cca", 2, seed=1),
        represent(zx, zy, "cca", 2, seed=1),
        represent(zx, zy, "cca", 2, seed=2),
    )
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y_fit, b.y_fit)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"projection": "ica", "dim": 2}, "projection must be one of"),
        ({"dim": 2}, "dim needs a projection"),
        ({"projection": "cca"}, "dim"),
        ({"projection": "cca", "dim": 0}, "dim"),
        ({"projection": "cca", "dim": 2, "fit_fraction": 1.5}, "fit_fraction"),
        ({"projection": "cca", "dim": 8}, "too few to fit"),
    ],
)
def test_bad_representations_are_refused_with_the_fix(kwargs, message):
    rng = np.random.default_rng(0)
    zx, zy = rng.standard_normal((30, 10)), rng.standard_normal((30, 10))
    with pytest.raises(ValueError, match=message):
        represent(zx, zy, **kwargs)


def test_unpaired_or_flat_embeddings_are_refused():
    with pytest.raises(ValueError, match="paired by row"):
        represent(np.zeros((10, 3)) + np.arange(3), np.ones((9, 3)))
    with pytest.raises(ValueError, match="2-D"):
        represent(np.zeros(10), np.zeros(10))
