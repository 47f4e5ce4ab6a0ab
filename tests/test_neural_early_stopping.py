"""Early stopping of the neural critics: the wait a critic earns (``patience``, ``min_patience``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.estimators.neural.training import (
    MIN_PATIENCE_GAUSSIAN_START,
    SHORT_WAIT_GAIN_NATS,
    SHORT_WAIT_MIN_NATS,
    CriticProgress,
    patience_now,
    resolved_min_patience,
)


@pytest.mark.parametrize(
    "min_patience, best_evaluation, best_value, first_value, expected",
    [
        (None, 1, 2.0, 2.0, 20),  # no min_patience: the fixed wait
        (5, 1, 2.0, 2.0, 5),  # best at the first evaluation: the shortest wait
        (5, 12, 2.0, 1.99, 12),  # best at the 12th, hardly above the start: as long as it took to get there
        (5, 30, 2.0, 1.99, 20),  # ... but never more than patience
        (5, 1, SHORT_WAIT_MIN_NATS - 1e-9, SHORT_WAIT_MIN_NATS - 1e-9, 20),  # the start found next to nothing
        (5, 1, SHORT_WAIT_MIN_NATS, SHORT_WAIT_MIN_NATS, 5),
        (5, 3, 1.0, 1.0 - SHORT_WAIT_GAIN_NATS / 2, 5),  # gained less than SHORT_WAIT_GAIN_NATS on its start
        (5, 3, 1.0, 1.0 - SHORT_WAIT_GAIN_NATS - 1e-6, 20),  # gained more: it is learning, the full wait
        (5, 0, -math.inf, math.nan, 20),  # no finite best yet
    ],
)
def test_the_wait_follows_the_documented_rule(min_patience, best_evaluation, best_value, first_value, expected):
    assert patience_now(20, min_patience, best_evaluation, best_value, first_value) == expected


def feed(values: list[float], patience: int, min_patience: int | None) -> int:
    """How many monitor values a critic takes before it stops (len(values) + 1 when it never does)."""
    c = CriticProgress()
    for i, v in enumerate(values, start=1):
        c.observe(v, patience, min_patience)
        if not c.active:
            return i
    return len(values) + 1


def test_a_critic_best_at_once_stops_after_min_patience_and_a_late_best_earns_a_longer_wait():
    flat = [1.0] + [0.9] * 30
    assert feed(flat, 20, 5) == 1 + 5
    assert feed(flat, 20, None) == 1 + 20
    creeping = [0.2 + 0.005 * i for i in range(9)] + [0.0] * 30  # best at the 9th evaluation, 0.04 up
    assert feed(creeping, 20, 5) == 9 + 9
    learning = [0.2, 0.5, 0.6] + [0.3] * 30  # gained 0.4 on its start, then dipped
    assert feed(learning, 20, 5) == 3 + 20
    assert feed([0.05] + [0.0] * 30, 20, 5) == 1 + 20  # a best below SHORT_WAIT_MIN_NATS waits fully


def replay(monitor, settings) -> int:
    """The evaluation at which the documented rule stops a critic with this monitor curve (0: never)."""
    c = CriticProgress()
    mp = settings["min_patience"]
    if mp is None and settings["init"] == "gaussian":
        mp = MIN_PATIENCE_GAUSSIAN_START
    for i, v in enumerate(monitor, start=1):
        c.observe(float(v), settings["patience"], mp)
        if not c.active:
            return i
    return 0


@pytest.mark.parametrize("init", ["gaussian", "random"])
def test_a_trained_critic_stops_where_the_rule_says_on_its_own_monitor_curve(init):
    # a property of the recorded run, so it holds whatever the machine's float rounding does to the curve
    x, y, _ = correlated_gaussian(2000, 3, 1.0, seed=5)
    r = get_estimator("infonce", steps=1500, hidden=(32,), init=init).estimate(x, y)
    stop = replay(r.curve["monitor"], r.settings)
    if stop:
        assert r.details["steps_run"] == r.curve["eval_step"][stop - 1]
    else:
        assert r.details["steps_run"] == 1500
    assert r.details["best_step"] <= r.details["steps_run"]


def test_min_patience_is_checked():
    with pytest.raises(ValueError, match="min_patience=30 is above patience=20"):
        get_estimator("smile", min_patience=30)
    with pytest.raises(ValueError, match="min_patience"):
        get_estimator("mine", min_patience=0)
    with pytest.raises(TypeError, match="min_patience"):
        get_estimator("infonce", min_patience=2.5)
    assert get_estimator("nwj", min_patience=20, patience=20).settings["min_patience"] == 20


def waited(r) -> int:
    """Evaluations a stopped critic waited after its best (from its own recorded steps)."""
    every = int(r.curve["eval_step"][0])
    return (r.details["steps_run"] - r.details["best_step"]) // every


def test_batched_critics_each_wait_their_own_time():
    # a Gaussian pair (from the Gaussian start its best is 0.9 nat, 0.007 above its first evaluation: the
    # short wait) batched with a linear plus quadratic coupling (it gains over 0.2 nat on its start: the
    # full wait); both classifications hold with a wide margin, so rounding cannot flip them
    rng = np.random.default_rng(3)
    x2, y2 = rng.standard_normal((1500, 3)), rng.standard_normal((1500, 3))
    y2[:, 0] = 0.5 * x2[:, 0] + math.sqrt(0.75) * rng.standard_normal(1500)
    y2[:, 1] = x2[:, 1] ** 2 - 1 + 0.5 * rng.standard_normal(1500)
    pairs = [correlated_gaussian(2000, 3, 1.0, seed=5)[:2], (x2, y2)]
    kw = dict(steps=2000, hidden=(32,))
    together = get_estimator("smile", **kw).estimate_many(pairs, seeds=[0, 1])
    alone = [get_estimator("smile", seed=s, **kw).estimate(*p) for s, p in zip([0, 1], pairs)]
    for a, b in zip(together, alone):
        assert a.nats == pytest.approx(b.nats, abs=1e-4)  # same trajectory up to float rounding
        assert a.details["steps_run"] == b.details["steps_run"]
        stop = replay(a.curve["monitor"], a.settings)
        assert a.details["steps_run"] == (a.curve["eval_step"][stop - 1] if stop else 2000)
    short, full = together
    best_eval = short.details["best_step"] // int(short.curve["eval_step"][0])
    assert waited(short) == min(20, max(MIN_PATIENCE_GAUSSIAN_START, best_eval))
    assert full.details["steps_run"] == 2000 or waited(full) == 20


def test_an_explicit_min_patience_is_used_from_either_start():
    assert resolved_min_patience({"init": "random", "min_patience": 3}) == 3
    assert resolved_min_patience({"init": "gaussian", "min_patience": 8}) == 8
    assert resolved_min_patience({"init": "gaussian", "min_patience": None}) == MIN_PATIENCE_GAUSSIAN_START
    assert resolved_min_patience({"init": "random", "min_patience": None}) is None
    assert feed([1.0] + [0.9] * 30, 20, 3) == 1 + 3
