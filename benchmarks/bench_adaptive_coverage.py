"""Coverage of the adaptive estimators' one-sided lower bound (``LeakageResult.lower_bound`` of
``seleak.leakage.fit_adaptive``), for one trained critic.

Run on demand (not in CI):  python benchmarks/bench_adaptive_coverage.py [--reps 40000]

The bound is about the trained critic's expected held-out InfoNCE over a batch of ``b`` pairs. For
each (scheme, b) below one critic is trained (image mode, 3 000 ``patterns`` images, 80 % held out);
its held-out rows are the population: 20 000 random batches of ``b`` of them give the batch values and
their mean is the target. Each repetition draws ``m`` batch values from them and computes

* ``t``: the one-sided t bound (``seleak.stats.lower_confidence_bound``), over m = 10 (the former
  default) and m = 20 batches;
* ``skew``: the skewness-corrected bound (``seleak.stats.skew_corrected_lower_bound``), m = 20 (the
  default ``chunks``);

and the non-coverage is the share of repetitions whose bound is above the target (nominal
``1 - level``), with its Clopper–Pearson 95 % interval. ``msb:2`` puts the critic near its ceiling
``log b`` (left-skewed batch values), ``full`` at the null (value 0).

Results go to ``benchmarks/results/adaptive_coverage.json``; a table is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from _timing import machine_info  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from scipy import stats as sps

from seleak.data.patterns import generate_patterns
from seleak.encryption import encrypt
from seleak.leakage import fit_adaptive
from seleak.stats import clopper_pearson, lower_confidence_bound, skew_corrected_lower_bound

OUT = Path(__file__).resolve().parent / "results" / "adaptive_coverage.json"
KEY = bytes(range(16))
N_IMAGES = 3000
TEST_FRACTION = 0.8
POPULATION = 20000
CASES = [("msb:2", 15), ("msb:2", 30), ("full", 15), ("full", 30)]
LEVELS = (0.95, 0.99, 0.999, 0.9999)
METHODS = [
    ("t", 10, lower_confidence_bound),
    ("t", 20, lower_confidence_bound),
    ("skew", 20, skew_corrected_lower_bound),
]


def batch_population(scheme: str, b: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    x = generate_patterns(N_IMAGES, seed=5)[0]
    se = encrypt(x, KEY, scheme, seed=0).images
    n_test = int(round(N_IMAGES * TEST_FRACTION))
    t0 = time.perf_counter()
    fit = fit_adaptive(
        x, se, None, "image", steps=100, width=8, permutations=9, test_fraction=TEST_FRACTION,
        chunks=n_test // b, seed=0,
    )  # fmt: skip
    a, s = fit.plain_codes, fit.encode_se()
    assert fit.chunk_size == b, (fit.chunk_size, b)
    idx = torch.from_numpy(np.stack([rng.choice(a.shape[0], b, replace=False) for _ in range(POPULATION)]))
    scores = torch.einsum("kid,kjd->kij", a[idx], s[idx])
    v = (torch.diagonal(scores, dim1=-2, dim2=-1) - torch.logsumexp(scores, -1)).mean(-1).add(math.log(b)).numpy()
    info = dict(fit_s=round(time.perf_counter() - t0, 1), reported_nats=fit.result.nats, log_b=math.log(b),
                mean=float(v.mean()), sd=float(v.std()), skewness=float(sps.skew(v)))  # fmt: skip
    return v, info


def vectorised(name: str, draws: np.ndarray, level: float) -> np.ndarray:
    """The bounds of every row of ``draws`` at once, by the formulas of the package's functions (checked
    against them on the first rows)."""
    m = draws.shape[1]
    s = draws.std(1, ddof=1)
    q = sps.t.ppf(level, m - 1)
    if name == "t":
        return draws.mean(1) - q * s / math.sqrt(m)
    g = np.minimum(0.0, sps.skew(draws, axis=1, bias=False))
    return draws.mean(1) - s / math.sqrt(m) * (q - 2.0 * g * (2.0 * q * q + 1.0) / (6.0 * math.sqrt(m)))


def non_coverage(v: np.ndarray, name: str, m: int, fn, level: float, reps: int, rng: np.random.Generator) -> dict:
    draws = v[rng.integers(0, v.size, size=(reps, m))]
    bounds = vectorised(name, draws, level)
    np.testing.assert_allclose(bounds[:50], [fn(row, level) for row in draws[:50]], rtol=1e-9, atol=1e-12)
    misses = int((bounds > v.mean()).sum())
    lo, hi = clopper_pearson(int(misses), reps)
    return dict(non_coverage=misses / reps, ci95=[lo, hi], nominal=1 - level, reps=reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40000, help="repetitions per level (x10 at 0.999 and above)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rng = np.random.default_rng(0)
    rows = []
    for scheme, b in CASES:
        v, info = batch_population(scheme, b, rng)
        print(f"{scheme} b={b}: " + ", ".join(f"{k} {val:.4g}" for k, val in info.items()), flush=True)
        for name, m, fn in METHODS:
            for level in LEVELS:
                reps = args.reps * (10 if level >= 0.999 else 1)
                r = non_coverage(v, name, m, fn, level, reps, rng)
                rows.append(dict(scheme=scheme, b=b, method=name, batches=m, level=level, **r, population=info))
                print(f"  {name:4s} m={m:2d} level {level}: non-coverage {r['non_coverage']:.5f} "
                      f"(CI {r['ci95'][0]:.5f}-{r['ci95'][1]:.5f}; nominal {1 - level:.4f})", flush=True)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(machine=machine_info(), results=rows), indent=2) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
