"""Neural critics started at the Gaussian log ratio (``init="gaussian"``, the default)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian, rho_for_mi
from seleak.estimators.neural.baseline import gaussian_log_ratio
from seleak.estimators.neural.bounds import bound_value
from seleak.estimators.neural.critics import Critic
from seleak.estimators.neural.evaluation import held_out_chunks


def test_the_fit_recovers_the_analytic_gaussian_log_ratio():
    # log p(x, y) / p(x) p(y) for coordinate pairs of correlation rho: -d/2 log q + rho/q x.y
    # - rho^2/(2q) (|x|^2 + |y|^2), q = 1 - rho^2. From 2e5 pairs the covariance entries have sd ~0.002;
    # the coefficients (at most 1/q = 1.6 times that) are checked to 0.03, more than 10 sd.
    d, mi = 2, 0.5
    x, y, _ = correlated_gaussian(200_000, d, mi, seed=3)
    rho = rho_for_mi(mi, d)
    q = 1 - rho * rho
    fit = gaussian_log_ratio(x, y)
    np.testing.assert_allclose(fit.w, rho / q * np.eye(d), atol=0.03)
    np.testing.assert_allclose(fit.a, -rho * rho / (2 * q) * np.eye(d), atol=0.03)
    np.testing.assert_allclose(fit.b, -rho * rho / (2 * q) * np.eye(d), atol=0.03)
    assert fit.c == pytest.approx(-d / 2 * math.log(q), abs=0.03)


def test_the_fit_exists_for_constant_columns_and_more_columns_than_pairs():
    rng = np.random.default_rng(0)
    x = np.hstack([rng.standard_normal((10, 30)), np.zeros((10, 1))])
    fit = gaussian_log_ratio(x, rng.standard_normal((10, 5)))
    assert all(np.isfinite(np.asarray(t)).all() for t in fit)


@pytest.mark.parametrize("structure", ["separable", "joint"])
def test_a_started_critic_is_the_quadratic_form_and_evaluates_as_it_scores(structure):
    rng = np.random.default_rng(1)
    dxs, dys = [3, 2], [2, 4]  # two problems of different widths: padding must change nothing
    starts = [gaussian_log_ratio(rng.standard_normal((50, a)), rng.standard_normal((50, b))) for a, b in zip(dxs, dys)]
    critic = Critic(structure, dxs, dys, (16,), 8, [torch.Generator().manual_seed(s) for s in (0, 1)], starts)
    x = torch.zeros(2, 1, 6, 3)
    y = torch.zeros(2, 1, 6, 4)
    xs = [rng.standard_normal((6, a)).astype(np.float32) for a in dxs]
    ys = [rng.standard_normal((6, b)).astype(np.float32) for b in dys]
    for p in range(2):
        x[p, 0, :, : dxs[p]], y[p, 0, :, : dys[p]] = torch.from_numpy(xs[p]), torch.from_numpy(ys[p])
    with torch.no_grad():
        s = critic.scores(x, y)[:, 0].double()
    for p, st in enumerate(starts):  # the network starts at 0: the scores are the quadratic form
        xa, ya = xs[p].astype(np.float64), ys[p].astype(np.float64)
        expected = xa @ st.w @ ya.T + ((xa @ st.a) * xa).sum(1)[:, None] + ((ya @ st.b) * ya).sum(1)[None, :] + st.c
        np.testing.assert_allclose(s[p].numpy(), expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # move the network off 0: the evaluation path must still score as scores() does
        for w in critic.parameters():
            w.add_(0.1 * torch.randn(w.shape, generator=torch.Generator().manual_seed(2)))
        s = critic.scores(x, y)[:, 0].double()
    chunks = held_out_chunks(critic, [lambda t: bound_value("mine", t)], xs, ys, 6, torch.device("cpu"))
    for p in range(2):
        assert chunks[p][0, 0] == pytest.approx(float(bound_value("mine", s[p])), abs=1e-5)


def test_gaussian_start_reaches_high_mi_where_a_random_start_does_not():
    # 20 + 20 columns, 4 nats, N = 5000, defaults otherwise. Measured (data seed 7): MINE 3.91 from the
    # Gaussian start, 2.54 from a random one. The held-out estimate (1250 pairs) has a sampling sd of about
    # 0.05 nats here; 0.4 is 8 sd from the Gaussian start's error and 1 nat short of the random start's.
    x, y, truth = correlated_gaussian(5000, 20, 4.0, seed=11)
    r = get_estimator("mine").estimate(x, y)
    assert r.nats == pytest.approx(truth, abs=0.4)
    assert r.settings["init"] == "gaussian"


def test_an_unknown_start_is_refused():
    with pytest.raises(ValueError, match="init"):
        get_estimator("mine", init="zeros")


def test_every_bound_starts_near_the_gaussian_mi():
    # One step at a negligible learning rate: the critic is its start. 2 + 2 columns, 1 nat, 5 000 pairs;
    # the held-out values (1 250 pairs) have sampling sd of about 0.05 nats (NWJ's a little more), and the
    # Ledoit-Wolf start is within 0.02 of the log ratio here, so 0.25 is 5 sd. NWJ without its +1 offset
    # would start 1/e = 0.37 nats low; InfoNCE sits below log(64) by its own bias (about 0.02 at 1 nat).
    x, y, truth = correlated_gaussian(5000, 2, 1.0, seed=5)
    for name in ("mine", "nwj", "infonce", "smile"):
        r = get_estimator(name, steps=1, lr=1e-12).estimate(x, y)
        assert r.nats == pytest.approx(truth, abs=0.25), name
