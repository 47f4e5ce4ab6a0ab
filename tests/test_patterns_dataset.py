"""The synthetic "patterns" data set and its exactly known image-level mutual information."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from seleak.data import (
    available_datasets,
    enumerate_patterns,
    generate_patterns,
    load_dataset,
    pattern_alphabet,
    patterns_images,
)
from seleak.encryption import Region, parse_scheme
from seleak.metrics import image_level_mi, patterns_label_truth, patterns_truth

SCHEMES = [f"msb:{k}" for k in range(9)] + [f"lsb:{k}" for k in range(9)]
SCHEMES += [
    "full",
    "planes:7,0",
    "planes:5,4",
    "region:box:0,0,16,16",
    "region:box:0,0,16,32@msb:4",
    "region:box:8,8,24,24@lsb:6",
    "region:center:0.25",
]


def _h(*p: float) -> float:
    return -sum(q * math.log(q) for q in p if q > 0)


def test_hand_values_of_the_truth():
    cell = math.log(4)
    assert patterns_truth("msb:0") == pytest.approx(4 * cell, abs=1e-12)
    for k in (1, 2, 3):
        assert patterns_truth(f"msb:{k}") == pytest.approx(4 * cell, abs=1e-12)
    # planes 3..0 in the clear: pattern 0, pattern 1, or one of the other two
    assert patterns_truth("msb:4") == pytest.approx(4 * _h(0.25, 0.25, 0.5), abs=1e-12)
    # planes 1..0 in the clear: pattern 0 or not
    assert patterns_truth("msb:6") == pytest.approx(4 * _h(0.25, 0.75), abs=1e-12)
    assert patterns_truth("lsb:5") == pytest.approx(4 * cell, abs=1e-12)
    assert patterns_truth("lsb:6") == pytest.approx(4 * math.log(2), abs=1e-12)
    assert patterns_truth("full") == 0.0 and patterns_truth("msb:8") == 0.0
    # a region covering the first cell hides it completely, and with it the label
    assert patterns_truth("region:box:0,0,16,16") == pytest.approx(3 * cell, abs=1e-12)
    assert patterns_label_truth("region:box:0,0,16,16") == 0.0
    assert patterns_label_truth("msb:4") == pytest.approx(_h(0.25, 0.25, 0.5), abs=1e-12)
    assert patterns_truth("msb:0", alphabet_size=3, grid=4) == pytest.approx(16 * math.log(3), abs=1e-9)


@pytest.mark.parametrize("spec", SCHEMES)
def test_truth_equals_the_mi_of_the_enumerated_population(spec):
    images, symbols = enumerate_patterns()
    assert images.shape == (256, 32, 32, 3) and len({s.tobytes() for s in symbols}) == 256
    r = image_level_mi(images, spec)
    assert r.exact and r.nats == pytest.approx(patterns_truth(spec), abs=1e-12)
    # I(label; SE(X)) = I(label; clear part), from the joint law of (label, clear part)
    keep = ~np.broadcast_to(parse_scheme(spec).bit_mask(images.shape[1:]), images.shape[1:])
    clear = [(images[i] & keep).tobytes() for i in range(len(images))]
    joint = Counter(zip(symbols[:, 0].tolist(), clear))
    lab = Counter(symbols[:, 0].tolist())
    cl = Counter(clear)
    mi = sum(w / 256 * math.log(w * 256 / (lab[a] * cl[c])) for (a, c), w in joint.items())
    assert mi == pytest.approx(patterns_label_truth(spec), abs=1e-12)


def test_other_designs_enumerate_to_their_truth():
    for a, g in [(2, 2), (3, 2), (5, 1), (8, 1)]:
        images, _ = enumerate_patterns(a, g)
        for spec in ("msb:0", "msb:5", "lsb:6", "region:box:0,0,8,8@msb:2"):
            assert image_level_mi(images, spec).nats == pytest.approx(patterns_truth(spec, a, g), abs=1e-12)


def _deviation_bound(n: int, p: np.ndarray, delta: float) -> float:
    """|H(empirical) - H(p)| for n i.i.d. draws from p exceeds this with probability <= delta.

    H(p_hat) - H(p) = L - KL(p_hat || p) with L = mean of log(1/p(X_j)) - H(p). Method of types:
    P(KL >= e) <= C(n + K - 1, K - 1) exp(-n e) (K = support size); Hoeffding for L, whose terms lie in a
    range of log(p_max / p_min). Each gets delta / 2.
    """
    k = p.size
    kl = (math.lgamma(n + k) - math.lgamma(k) - math.lgamma(n + 1) + math.log(2 / delta)) / n
    span = math.log(p.max() / p.min())
    lin = span * math.sqrt(math.log(4 / delta) / (2 * n))
    return kl + lin


def test_a_sample_of_the_data_set_converges_to_the_truth():
    population, _ = enumerate_patterns()
    checks = [(seed, spec) for seed in (0, 1) for spec in ("msb:0", "msb:4", "msb:6", "lsb:6", "region:box:0,0,16,16")]
    for seed, spec in checks:
        ds = load_dataset("patterns", split="all", seed=seed)  # 4096 i.i.d. uniform images
        keep = ~np.broadcast_to(parse_scheme(spec).bit_mask((32, 32, 3)), (32, 32, 3))
        _, counts = np.unique((population & keep).reshape(256, -1), axis=0, return_counts=True)
        tol = _deviation_bound(len(ds), counts / 256, 1e-4 / len(checks))
        assert tol < 0.25
        got = image_level_mi(ds.images, spec).nats
        assert abs(got - patterns_truth(spec)) <= tol, (seed, spec, got, tol)


def test_the_data_set_is_deterministic_and_split_by_position():
    a = load_dataset("patterns", split="all", seed=4)
    b = load_dataset("patterns", split="all", seed=4)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, load_dataset("patterns", split="all", seed=5).images)
    assert a.images.shape == (4096, 32, 32, 3) and a.images.dtype == np.uint8 and a.images.flags.c_contiguous
    assert a.labels.dtype == np.int64 and a.class_names == ("pattern 0", "pattern 1", "pattern 2", "pattern 3")
    images, symbols = generate_patterns(4096, seed=4)
    assert np.array_equal(a.images, images) and np.array_equal(a.labels, symbols[:, 0])
    train = load_dataset("patterns", seed=4)
    test = load_dataset("patterns", split="test", seed=4)
    assert (len(train), len(test)) == (3277, 819)
    assert np.array_equal(np.concatenate([train.images, test.images]), a.images)
    first = load_dataset("patterns", n=100, seed=4)
    assert np.array_equal(first.images, train.images[:100]) and np.array_equal(first.indices, np.arange(100))
    assert first.provenance["n"] == 100 and "patterns" in first.provenance["source"]
    assert available_datasets()["patterns"] == "offline"
    assert load_dataset("Patterns", n=3).name == "patterns"


def test_images_are_cells_of_the_alphabet():
    alphabet = pattern_alphabet()
    assert alphabet.shape == (4, 16, 16, 3) and len({p.tobytes() for p in alphabet}) == 4
    assert np.array_equal(alphabet, pattern_alphabet())  # fixed
    # content in every bit-plane: each plane takes both values somewhere
    for plane in range(8):
        bits = alphabet >> plane & 1
        assert bits.min() == 0 and bits.max() == 1
    ds = load_dataset("patterns", n=50, seed=2)
    for img, label in zip(ds.images, ds.labels):
        assert np.array_equal(img[:16, :16], alphabet[label])
    symbols = np.array([[0, 1, 2, 3]])
    img = patterns_images(symbols)[0]
    assert np.array_equal(img[:16, 16:], alphabet[1]) and np.array_equal(img[16:, :16], alphabet[2])


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="pixel bits"):
        patterns_truth("dct:q50:dc")
    with pytest.raises(ValueError, match="grid"):
        patterns_truth("msb:1", grid=3)
    with pytest.raises(ValueError):
        patterns_truth("msb:1", alphabet_size=1)
    with pytest.raises(ValueError):
        pattern_alphabet(9, grid=32)  # 9 patterns do not fit in 1x1x3 cells
    with pytest.raises(ValueError):
        patterns_images(np.array([[0, 4, 0, 0]]))
    with pytest.raises(ValueError):
        enumerate_patterns(4, 4)
    assert patterns_truth(Region(boxes=[(0, 0, 32, 32)])) == 0.0
