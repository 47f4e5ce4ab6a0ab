"""What is measured: the representation of two paired embeddings that an estimator sees.

Every estimator of one comparison must measure the same quantity, so the representation is chosen
once per comparison (a study block) and recorded with every number:

* ``None`` — the embeddings themselves, minus the columns that (almost) never vary;
* ``"pca"`` — each side projected on its own first ``dim`` principal components, fitted on all rows
  (a function of one side only, so the permutation test stays valid and ``I(Px; Qy) <= I(x; y)``);
  it keeps the high-variance directions of each side, which for an encrypted side may be the ones
  the keystream drives;
* ``"cca"`` / ``"pls"`` — directions that *seek* dependence (canonical correlation, partial least
  squares), after a per-side PCA to at most :data:`PRE_DIM` components. They are fitted on one part
  of the rows (``fit_fraction``, drawn by ``seed``) and the estimators measure only the other part:
  directions fitted on the very rows they are measured on would find dependence in pure noise.

By the data-processing inequality every representation is a function of each side alone (fitted
parameters aside), so the MI it carries is at most the MI of the embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seleak._validation import check_float, check_int
from seleak.embedding.features import informative_columns
from seleak.estimators import project

__all__ = ["Representation", "represent", "PROJECTIONS", "PRE_DIM"]

#: The projections :func:`represent` knows (``None``: no projection).
PROJECTIONS = ("pca", "cca", "pls")
#: Components kept on each side before a dependence-seeking projection (CCA on hundreds of columns
#: from a few hundred rows finds perfect correlations in noise).
PRE_DIM = 16


@dataclass(frozen=True)
class Representation:
    """Paired rows to measure (``x``, ``y``) and, for a fitted projection, the rows it was fitted on
    (``x_fit``, ``y_fit``: never measured; ``None`` when nothing was fitted on a separate part).

    ``description`` says what was measured, e.g. ``"128+128 columns, 97+101 informative, CCA to 2+2
    (fitted on 500 rows, measured on the other 500)"``.
    """

    x: np.ndarray
    y: np.ndarray
    description: str
    projection: str | None
    dim: int | None
    x_fit: np.ndarray | None = None
    y_fit: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Rows measured."""
        return int(self.x.shape[0])

    @property
    def n_fit(self) -> int:
        """Rows the projection was fitted on and that are not measured (0 for none or PCA)."""
        return 0 if self.x_fit is None else int(self.x_fit.shape[0])


def represent(
    z_plain: np.ndarray,
    z_se: np.ndarray,
    projection: str | None = None,
    dim: int | None = None,
    *,
    seed: int = 0,
    fit_fraction: float = 0.5,
) -> Representation:
    """The representation of ``(z_plain, z_se)`` that the estimators will measure (see the module).

    Raises:
        ValueError: unpaired rows, an unknown projection, a missing or bad ``dim``, too few rows.
    """
    z_plain, z_se = np.asarray(z_plain), np.asarray(z_se)
    if z_plain.ndim != 2 or z_se.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (N, D), got shapes {z_plain.shape} and {z_se.shape}")
    if z_plain.shape[0] != z_se.shape[0]:
        raise ValueError(f"z_plain and z_se must be paired by row, got {z_plain.shape[0]} and {z_se.shape[0]} rows")
    if projection is not None and projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS} or None, got {projection!r}")
    if projection is not None:
        check_int(dim, f"dim (components of the {projection} projection)", minimum=1)
    elif dim is not None:
        raise ValueError("dim needs a projection: give projection='pca', 'cca' or 'pls' (or no dim)")
    x, y = informative_columns(z_plain), informative_columns(z_se)
    text = f"{z_plain.shape[1]}+{z_se.shape[1]} columns, {x.shape[1]}+{y.shape[1]} informative"
    if projection is None:
        return Representation(x, y, text, None, None)
    if projection == "pca":
        px, py = project(x, y, int(dim))
        return Representation(px, py, f"{text}, PCA per side to {px.shape[1]}+{py.shape[1]}", "pca", int(dim))
    check_float(fit_fraction, "fit_fraction", low=0.0, high=1.0)
    return _fitted(x, y, text, projection, int(dim), seed, float(fit_fraction))


def _fitted(x: np.ndarray, y: np.ndarray, text: str, projection: str, dim: int, seed: int, frac: float):
    from sklearn.cross_decomposition import CCA, PLSCanonical
    from sklearn.decomposition import PCA

    n = x.shape[0]
    n_fit = int(round(frac * n))
    if n_fit < 2 * dim + 2 or n - n_fit < 10:
        raise ValueError(
            f"{projection}: {n} rows are too few to fit a {dim}-component projection on {frac:.0%} of them "
            "and measure on the rest; give more rows or a smaller dim"
        )
    perm = np.random.default_rng(seed).permutation(n)
    fit, meas = np.sort(perm[:n_fit]), np.sort(perm[n_fit:])
    sides = []
    for a in (x, y):
        k = min(PRE_DIM, a.shape[1], n_fit - 1)
        pca = PCA(n_components=k, whiten=True, svd_solver="full").fit(a[fit])
        sides.append((pca.transform(a[fit]), pca.transform(a[meas])))
    (xf, xm), (yf, ym) = sides
    d = min(dim, xf.shape[1], yf.shape[1])
    model = (CCA if projection == "cca" else PLSCanonical)(n_components=d, scale=True, max_iter=2000)
    model.fit(xf, yf)
    xf2, yf2 = model.transform(xf, yf)
    xm2, ym2 = model.transform(xm, ym)
    # unit scale on the fitted part: KSG's max-norm and the histogram's bins expect comparable columns
    sx, sy = xf2.std(axis=0), yf2.std(axis=0)
    sx[sx == 0], sy[sy == 0] = 1.0, 1.0
    name = projection.upper()
    desc = (
        f"{text}, PCA per side to {xf.shape[1]}+{yf.shape[1]}, {name} to {d}+{d} "
        f"(fitted on {n_fit} rows, measured on the other {n - n_fit})"
    )
    return Representation(xm2 / sx, ym2 / sy, desc, projection, dim, xf2 / sx, yf2 / sy)
