"""seleak.ceilings: the tables of chapter 2 agree with the estimators' own ceilings, exactly.

No sampling error is involved: the ceilings are arithmetic, and KSG (with its jitter) and a histogram
of one column with N a multiple of the bins reach theirs on y = x exactly (tests/test_estimator_ceilings.py).
"""

from __future__ import annotations

import math

import pytest

from seleak.ceilings import ceiling_table, saturation_table
from seleak.estimators import get_estimator

TOL = 1e-9  # float rounding of sums of N terms


def _estimators():
    return {
        "plugin": get_estimator("plugin", bins=8, binning="quantile"),
        "ksg": get_estimator("ksg", k=3),
        "gaussian": get_estimator("gaussian"),
    }


def test_ceiling_table_is_the_estimators_ceilings():
    ests = _estimators()
    table = ceiling_table(ests, [100, 1000, 10_000], dx=1, dy=1)
    assert list(table.index) == [100, 1000, 10_000] and list(table.columns) == list(ests)
    for label, est in ests.items():
        for n in table.index:
            assert table.loc[n, label] == est.ceiling(n, 1, 1)
    assert table["gaussian"].eq(math.inf).all()
    assert table["ksg"].is_monotonic_increasing  # psi(N) grows with N


def test_saturation_table_reaches_the_ceilings():
    sat = saturation_table(_estimators(), n=1000, dim=1, seed=3)
    for label in ("plugin", "ksg"):
        assert abs(sat.loc[label, "estimate"] - sat.loc[label, "ceiling"]) < TOL
        assert sat.loc[label, "fraction"] == pytest.approx(1.0, abs=TOL)
        assert sat.loc[label, "refused"] == ""
    # the Gaussian estimator refuses an exact copy (singular covariance) and has no finite ceiling
    g = sat.loc["gaussian"]
    assert math.isnan(g["estimate"]) and g["ceiling"] == math.inf and math.isnan(g["fraction"])
    assert "singular" in g["refused"]
    assert not sat["is_bound"].any()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ceiling_table({}, [100]), "non-empty mapping"),
        (lambda: ceiling_table({"ksg": "ksg"}, [100]), r"estimators\['ksg'\] must be an estimator"),
        (lambda: ceiling_table(_estimators(), [1]), "ints >= 2"),
        (lambda: ceiling_table(_estimators(), 100), "sequence of ints"),
        (lambda: ceiling_table(_estimators(), [100], dx=0), "dx must be None"),
        (lambda: saturation_table(_estimators(), n=3), "n must be an int >= 4"),
        (lambda: saturation_table(_estimators(), dim=0), "dim must be an int >= 1"),
        (lambda: saturation_table(_estimators(), seed=-1), "seed must be an int >= 0"),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
