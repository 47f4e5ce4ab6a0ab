"""Gaussian (canonical-correlation) MI: exact for jointly Gaussian data, a baseline otherwise.

For a jointly Gaussian ``(X, Y)`` with joint covariance ``S = [[Sxx, Sxy], [Syx, Syy]]``,

    I(X; Y) = 1/2 log( det Sxx det Syy / det S ) = -1/2 sum_i log(1 - rho_i^2),

``rho_i`` being the canonical correlations. For non-Gaussian data with the same covariance it is
the MI of the Gaussian with that covariance — a lower bound of the true MI when the marginals are
Gaussian, and in general the "linear-dependence" part only.

Computation. Each column is standardised (safely: first scaled by a power of two, so data near
1e200 or 1e-300 give the same estimate as the unscaled data), each side is reduced to an orthonormal
basis of its column space by a thin SVD, and the canonical correlations are the singular values of
``Ux^T Uy``. Nothing of size ``d x d`` is ever formed: memory is ``O(N d)`` and time ``O(N d min(N, d))``.
The estimate is invariant to any invertible affine map of each column.

Finite-sample bias. The plug-in value is biased upwards by about ``dx dy / (2N)``. With
``bias_correction=True`` (default) each log-determinant is corrected by its exact expectation under
Gaussian sampling, ``E[log det S_d] - log det Sigma_d = sum_{i=1..d} psi((N-i)/2) + d log(2/N)``
(``N - 1`` degrees of freedom after centring), which makes the estimate nearly unbiased for Gaussians
(under independence its standard deviation is about ``sqrt(dx dy / 2) / N``).

High dimension (``shrinkage="auto"``, default). When ``dx + dy > N / 4`` the sample canonical
correlations are dominated by noise: with ``d >= N`` some of them are exactly 1 whatever the data.
Each side is then projected **separately** onto its first principal components (of the standardised
columns), ``floor(N / 4)`` components in all, shared between the sides (a side with fewer columns
keeps them all), and the bias-corrected estimate is computed on that. The projection of ``x`` is a
function of ``x`` alone (and likewise for ``y``), so under independence the projected sides are
still independent and the bias-corrected estimate stays centred on 0 (standard deviation about
0.1 nats at this budget, whatever ``N`` and ``d``), and by the data-processing inequality the
projected MI never exceeds the full one. ``details["projected_dims"]`` records what was kept.

Shrinkage (explicit only). ``shrinkage="ledoit-wolf"`` or a float ``a`` in ``(0, 1)`` estimates
with the shrunk correlation matrix ``(1 - a) R + a I`` instead (computed from the ``N``-dimensional
span, without ``d x d`` arrays). It keeps the value finite but it is **not** conservative: the
bias correction does not apply to a shrunk matrix, and with ``d >> N`` the many small shrunk
cross-correlations add up to several nats on independent data. It is kept for comparison; the
default never uses it. ``shrinkage=0`` disables both shrinkage and the projection (the plain
estimate, which refuses ``dx + dy >= N - 1``).

Exact linear relations and the ceiling. When ``y`` is an exact linear function of ``x`` (``x == y``,
a column shared by both sides, ``y = A x + b``) a canonical correlation is 1 and the Gaussian MI is
infinite: the estimator (unshrunk, the default) raises a ``ValueError`` that says so (``"... singular (an exact linear
relation between x and y) ..."``) rather than returning a number. Short of that, the value grows
without limit as a canonical correlation approaches 1 (``-1/2 log(1 - rho^2)``), whatever ``N``;
the only cap is numerical (a canonical correlation within ``64`` ulps of 1 is treated as exact, about
15.6 nats per canonical pair), which is no property of the sample, so the ceiling is ``inf``.
(With an explicit ``shrinkage`` the shrunk matrix is never singular and ``x == y`` gives a finite,
shrinkage-dependent number.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma

from seleak._validation import is_number

from .base import Estimator, maybe_project, pca_setting, standardize

__all__ = ["GaussianEstimator", "gaussian_mi_from_cov"]

_SINGULAR = (
    "gaussian: the joint covariance is singular ({why}): canonical correlations of 1 make the "
    "Gaussian MI infinite; use shrinkage='auto' (the default: it projects to N/4 components in high "
    "dimension) or project first (pca_dim=), and drop duplicated columns shared by x and y"
)


def gaussian_mi_from_cov(cov: np.ndarray, dx: int) -> float:
    """Gaussian MI (nats) between the first ``dx`` and the remaining coordinates of ``cov``."""
    _, ld_x = np.linalg.slogdet(cov[:dx, :dx])
    _, ld_y = np.linalg.slogdet(cov[dx:, dx:])
    sign, ld = np.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError(_SINGULAR.format(why="collinear columns or d >= N"))
    return 0.5 * float(ld_x + ld_y - ld)


def _logdet_bias(d: int, n: int) -> float:
    """``E[log det S] - log det Sigma`` for the ML covariance ``S`` of ``n`` Gaussian samples in
    ``d`` dimensions after centring (``n - 1`` degrees of freedom)."""
    i = np.arange(1, d + 1)
    return float(np.sum(digamma((n - i) / 2.0)) + d * np.log(2.0 / n))


def _basis(z: np.ndarray) -> np.ndarray:
    """Orthonormal basis (N, rank) of the column space of centred ``z``, principal axes first.

    Directions with a singular value below numpy's rank tolerance are exact collinearities among
    the columns: a side that lives in a subspace has the MI of its coordinates in that subspace.
    """
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    keep = s > s[0] * max(z.shape) * np.finfo(np.float64).eps
    return u[:, keep]


def _budget(kx: int, ky: int, total: int) -> tuple[int, int]:
    """Components per side when ``total`` are shared: half each, a narrower side keeps all it has."""
    rx = min(kx, max(1, total // 2))
    ry = min(ky, max(1, total - rx))
    rx = min(kx, max(1, total - ry))
    return rx, ry


def _ledoit_wolf_intensity(z: np.ndarray) -> float:
    """Ledoit–Wolf (2004) shrinkage intensity towards ``mu * I`` for centred data ``z`` (N, d),
    from the smaller of the two Gram matrices (the Frobenius norm of ``z^T z`` equals that of
    ``z z^T``), so memory stays ``O(N^2 + N d)``."""
    n, d = z.shape
    g = z @ z.T if d > n else z.T @ z
    fro2 = float(np.sum(g**2)) / n**2  # ||S||_F^2, S = z^T z / n
    mu = float(np.sum(z**2)) / (n * d)  # trace(S) / d
    delta = (fro2 - mu**2 * d) / d  # ||S - mu I||_F^2 / d
    # beta = 1/n^2 sum_k || z_k z_k^T - S ||_F^2 / d, computed without forming the outer products
    sq = (z**2).sum(axis=1)
    beta = (float(np.sum(sq**2)) / n - fro2) / (n * d)
    return float(min(max(beta / delta, 0.0), 1.0)) if delta > 0 else 1.0


def _shrunk_logdet(z: np.ndarray, a: float) -> float:
    """``log det((1 - a) z^T z / N + a I_d)`` for ``0 < a <= 1`` from the singular values of ``z``:
    the ``min(N, d)`` eigenvalues of ``z^T z / N`` and ``d - min(N, d)`` zeros."""
    n, d = z.shape
    lam = np.linalg.svd(z, compute_uv=False) ** 2 / n
    return float(np.sum(np.log((1.0 - a) * lam + a)) + (d - lam.size) * np.log(a))


class GaussianEstimator(Estimator):
    """Canonical-correlation MI (settings: ``shrinkage``, ``bias_correction``, ``pca_dim``).

    The reported number is the MI of the Gaussian with the sample's covariance (bias-corrected by
    default): exact in the limit for Gaussian data, the linear part of the dependence otherwise; an
    estimate, not a bound. Its ceiling is ``inf``: an exact linear relation between ``x`` and ``y``
    is a ``ValueError`` (infinite Gaussian MI), anything short of it a finite, unbounded value.
    """

    name = "gaussian"
    defaults = {
        "shrinkage": "auto",  # "auto" (project to N/4 components in high dimension), "ledoit-wolf", float in [0, 1)
        "bias_correction": True,  # subtract the exact Gaussian log-det bias (unshrunk only)
        "pca_dim": None,  # project x and y separately to this many components first
    }
    min_n = 3

    def _validate_settings(self) -> None:
        sh = self._settings["shrinkage"]
        if sh not in ("auto", "ledoit-wolf"):
            if not is_number(sh) or not 0 <= sh < 1:
                raise ValueError(f"gaussian: shrinkage must be 'auto', 'ledoit-wolf' or a float in [0, 1), got {sh!r}")
        if not isinstance(self._settings["bias_correction"], bool):
            raise TypeError("gaussian: bias_correction must be True or False")
        pca_setting(self.name, self._settings["pca_dim"])

    def _estimate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
        x, y, details = maybe_project(x, y, self._settings["pca_dim"])
        zx, zy = standardize(x), standardize(y)  # correlation scale: MI is invariant to it
        n = zx.shape[0]
        sh = self._settings["shrinkage"]
        if sh == "auto":
            a = 0.0
        elif sh == "ledoit-wolf":
            a = _ledoit_wolf_intensity(np.hstack([zx, zy]))
        else:
            a = float(sh)
        if a > 0:
            z = np.hstack([zx, zy])
            mi = 0.5 * (_shrunk_logdet(zx, a) + _shrunk_logdet(zy, a) - _shrunk_logdet(z, a))
            details.update(shrinkage=a, bias_corrected=False)
            return mi, details

        ux, uy = _basis(zx), _basis(zy)
        if (ux.shape[1], uy.shape[1]) != (zx.shape[1], zy.shape[1]):
            # fewer directions than columns (collinear columns, or d >= N): their span is what counts
            details["rank"] = (ux.shape[1], uy.shape[1])
        if sh == "auto" and ux.shape[1] + uy.shape[1] > n / 4:
            # the principal axes come first in the SVD basis: truncating it is the PCA projection
            rx, ry = _budget(ux.shape[1], uy.shape[1], max(2, n // 4))
            ux, uy = ux[:, :rx], uy[:, :ry]
            details.update(projected_dims=(rx, ry), projection="auto: first principal components, N/4 in all")
        kx, ky = ux.shape[1], uy.shape[1]
        if kx + ky > n - 1:  # two subspaces of the (N-1)-dim centred space that must intersect
            raise ValueError(_SINGULAR.format(why=f"dx + dy = {kx + ky} > N - 1 = {n - 1}"))
        rho = np.clip(np.linalg.svd(ux.T @ uy, compute_uv=False), 0.0, 1.0)
        if rho.size and 1.0 - rho[0] < 64 * np.finfo(np.float64).eps:
            raise ValueError(
                _SINGULAR.format(why="an exact linear relation between x and y, e.g. x == y or a shared column")
            )
        # -1/2 sum log(1 - rho^2), with 1 - rho^2 = (1 - rho)(1 + rho) kept accurate near rho = 1
        mi = -0.5 * float(np.sum(np.log1p(-rho) + np.log1p(rho)))
        corrected = bool(self._settings["bias_correction"] and kx + ky < n - 1)
        if corrected:
            mi -= 0.5 * (_logdet_bias(kx, n) + _logdet_bias(ky, n) - _logdet_bias(kx + ky, n))
        details.update(shrinkage=0.0, bias_corrected=corrected)
        return mi, details
