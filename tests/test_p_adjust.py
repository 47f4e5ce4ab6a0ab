"""seleak.stats.adjust_p_values (Holm, Benjamini–Hochberg) and min_permutations.

Everything here is deterministic (no sampling), so no assertion can fail by chance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seleak.stats import adjust_p_values, holm, min_permutations, permutation_p_value, significant

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_by_hand():
    # sorted: 0.005 (index 3), 0.01 (0), 0.03 (2), 0.04 (1); multipliers n - j + 1 = 4, 3, 2, 1:
    # 4 * 0.005 = 0.02, 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, 1 * 0.04 = 0.04; running max: 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(adjust_p_values(P, "holm"), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_p_values(P), [0.03, 0.06, 0.06, 0.02])  # holm is the default
    np.testing.assert_allclose(holm(P), [0.03, 0.06, 0.06, 0.02])
    # capped at 1: 2 * 0.5 = 1.0, 1 * 0.6 = 0.6, running max 1.0, 1.0
    np.testing.assert_allclose(holm([0.6, 0.5]), [1.0, 1.0])
    # a family of one is not adjusted
    np.testing.assert_allclose(holm([0.2]), [0.2])


def test_bh_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 (ranks j = 1..4, n = 4); n p / j: 0.02, 0.02, 0.04, 0.04;
    # running min from the largest: 0.02, 0.02, 0.04, 0.04
    np.testing.assert_allclose(adjust_p_values(P, "bh"), [0.02, 0.04, 0.04, 0.02])
    # the step-up lowers a small p to a later one's value: n p / j = 4 * 0.02 / 1 = 0.08, 4 * 0.03 / 2 =
    # 0.06, 4 * 0.04 / 3 = 0.0533.., 4 * 0.5 / 4 = 0.5; running min from the largest: 0.0533.. for the
    # first three, 0.5 for the last
    np.testing.assert_allclose(adjust_p_values([0.02, 0.03, 0.04, 0.5], "bh"), [0.16 / 3] * 3 + [0.5])
    # capped at 1: n p / j = 2 * 0.6 / 1 = 1.2, 2 * 0.9 / 2 = 0.9; running min 0.9, 0.9
    np.testing.assert_allclose(adjust_p_values([0.6, 0.9], "bh"), [0.9, 0.9])
    # 3 * 0.6 / 1 = 1.8, 3 * 0.7 / 2 = 1.05, 3 * 0.8 / 3 = 0.8; running min 0.8, 0.8, 0.8
    np.testing.assert_allclose(adjust_p_values([0.6, 0.7, 0.8], "bh"), [0.8, 0.8, 0.8])
    # BH never exceeds Holm: here 0.0533 < Holm's 4 * 0.02 = 0.08
    np.testing.assert_allclose(holm([0.02, 0.03, 0.04, 0.5]), [0.08, 0.09, 0.09, 0.5])


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_nan_is_left_out_of_the_family(method):
    with_nan = adjust_p_values([0.01, np.nan, 0.04, 0.03], method)
    without = adjust_p_values([0.01, 0.04, 0.03], method)  # Holm: 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, 0.06
    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2, 3]], without)
    if method == "holm":
        np.testing.assert_allclose(without, [0.03, 0.06, 0.06])
    else:  # BH: 3 * 0.01 / 1 = 0.03, 3 * 0.03 / 2 = 0.045, 3 * 0.04 / 3 = 0.04 -> 0.03, 0.04, 0.04
        np.testing.assert_allclose(without, [0.03, 0.04, 0.04])
    assert np.isnan(adjust_p_values([np.nan, np.nan], method)).all()
    assert adjust_p_values([], method).shape == (0,)


def _holm_by_definition(p: np.ndarray) -> np.ndarray:
    n = p.size
    s = np.sort(p)
    adj_sorted = [min(1.0, max((n - j) * s[j] for j in range(i + 1))) for i in range(n)]
    rank = np.argsort(np.argsort(p, kind="stable"), kind="stable")
    return np.array(adj_sorted)[rank]


def _bh_by_definition(p: np.ndarray) -> np.ndarray:
    n = p.size
    s = np.sort(p)
    adj_sorted = [min(1.0, min(n * s[j] / (j + 1) for j in range(i, n))) for i in range(n)]
    rank = np.argsort(np.argsort(p, kind="stable"), kind="stable")
    return np.array(adj_sorted)[rank]


def test_matches_the_definitions_and_is_monotone():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 7, 30):
        for _ in range(20):
            # mixture of small and uniform p-values, some tied (rounded), as a study produces
            p = np.where(rng.random(n) < 0.3, rng.random(n) * 0.01, rng.random(n))
            p = np.clip(np.round(p, 3), 0.001, 1.0)
            h, b = adjust_p_values(p, "holm"), adjust_p_values(p, "bh")
            np.testing.assert_allclose(h, _holm_by_definition(p), rtol=1e-12)
            np.testing.assert_allclose(b, _bh_by_definition(p), rtol=1e-12)
            for adj in (h, b):
                assert (adj >= p - 1e-15).all() and (adj <= 1).all()
                # monotone: a smaller raw p never gets a larger adjusted p
                o = np.argsort(p, kind="stable")
                assert (np.diff(adj[o]) >= -1e-15).all()
            assert (b <= h + 1e-15).all()  # BH rejects at least what Holm rejects


def test_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(1)
    for n in (1, 4, 25):
        p = rng.random(n) ** 3 + 1e-6
        for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
            expected = multitest.multipletests(p, method=theirs)[1]
            np.testing.assert_allclose(adjust_p_values(p, ours), expected, rtol=1e-12)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, np.inf])
def test_out_of_range_values_are_refused_by_value(bad):
    with pytest.raises(ValueError, match=rf"p_values\[1\] = {bad!r}"):
        adjust_p_values([0.5, bad, 0.2])
    with pytest.raises(ValueError, match="p_values"):
        holm([0.5, bad])


def test_bad_method_and_shape():
    with pytest.raises(ValueError, match="bonferroni"):
        adjust_p_values([0.1], "bonferroni")
    with pytest.raises(ValueError, match="1-D"):
        adjust_p_values([[0.1, 0.2]])


@pytest.mark.parametrize(
    "family_size, alpha, expected",
    [
        (1, 0.05, 19),  # 1 / 20 = 0.05 <= 0.05; 1 / 19 = 0.0526 > 0.05
        (3, 0.05, 59),  # 3 / 60 = 0.05; 3 / 59 = 0.0508
        (5, 0.05, 99),  # 5 / 100 = 0.05; 5 / 99 = 0.0505
        (7, 0.05, 139),  # 7 / 140 = 0.05; 7 / 139 = 0.0504
        (10, 0.01, 999),  # 10 / 1000 = 0.01
        (4, 0.03, 133),  # 4 / 134 = 0.02985 <= 0.03; 4 / 133 = 0.03008 > 0.03
        (1, 0.6, 1),  # 1 / 2 = 0.5 already: m is at least 1
    ],
)
def test_min_permutations_by_hand(family_size, alpha, expected):
    assert min_permutations(family_size, alpha) == expected


def test_min_permutations_is_where_holm_first_reaches_alpha():
    for family_size in (1, 2, 3, 5, 6, 12, 40):
        for alpha in (0.1, 0.05, 0.03, 0.01, 0.001):
            m = min_permutations(family_size, alpha)
            assert m == max(1, math.ceil(family_size / alpha - 1e-9) - 1)

            def best_adjusted(perms: int) -> float:  # every test beats all its permuted values
                p = permutation_p_value(np.zeros(perms), 1.0)
                assert p == 1 / (perms + 1)
                return float(adjust_p_values([p] * family_size).min())

            assert significant(best_adjusted(m), alpha)
            if m > 1:
                assert not significant(best_adjusted(m - 1), alpha)


@pytest.mark.parametrize("args", [(0, 0.05), (2.0, 0.05), (True, 0.05), (3, 0.0), (3, 1.0)])
def test_min_permutations_refuses_bad_arguments(args):
    with pytest.raises(ValueError):
        min_permutations(*args)
