"""Coverage of ``seleak.stats.bootstrap_interval`` on data with a known MI.

Run on demand (not in CI):  python benchmarks/bench_interval_coverage.py [--reps 200] [--jobs 2]

For every (estimator, task) below, ``--reps`` repetitions each draw N = 1000 rows of correlated
Gaussians with the task's true MI (``seleak.estimators.groundtruth.correlated_gaussian``) and compute
the nominal 95 % subsample interval (``scheme="subsample"``, ``--n-boot`` half-size subsamples). The
coverage is the fraction of repetitions whose interval holds the true MI, with its Clopper–Pearson
95 % interval; also the mean width, the bias (mean estimate - truth), the standard deviation of the
estimate over repetitions against the one implied by the interval (width / (2 * 1.96)), and the
coverage the same subsamples would have had with the old ``sqrt(m / N)`` scaling.

* Gaussian estimator: 1 + 1, 2 + 2 and 4 + 4 dimensions, MI 0.5 and 1 nat.
* KSG (k = 3): 1 + 1 and 2 + 2 dimensions, MI 0.5 nat (its bias there is below 0.01 nat).

Results go to ``benchmarks/results/interval_coverage.json``; a table is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.stats import bootstrap_interval, clopper_pearson

OUT = Path(__file__).resolve().parent / "results" / "interval_coverage.json"
N_ROWS = 1000
LEVEL = 0.95
TASKS = [
    ("gaussian", 1, 0.5),
    ("gaussian", 2, 0.5),
    ("gaussian", 2, 1.0),
    ("gaussian", 4, 0.5),
    ("gaussian", 4, 1.0),
    ("ksg", 1, 0.5),
    ("ksg", 2, 0.5),
]


def run_reps(name: str, dim: int, mi: float, reps: list[int], n_boot: int) -> list[tuple[float, ...]]:
    """One row per repetition: estimate, low, high, old-scaling low and high."""
    est = get_estimator(name, **({"k": 3} if name == "ksg" else {}))
    half = N_ROWS // 2
    rows = []
    for rep in reps:
        x, y, _ = correlated_gaussian(N_ROWS, dim, mi, seed=1_000_000 + rep)
        ci = bootstrap_interval(est, x, y, n_boot=n_boot, level=LEVEL, seed=rep, scheme="subsample")
        r = ci.replicates
        q = np.quantile(r - r.mean(), [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
        old = ci.estimate + math.sqrt(half / N_ROWS) * q
        rows.append((ci.estimate, ci.low, ci.high, float(old[0]), float(old[1])))
    return rows


def measure(name: str, dim: int, mi: float, reps: int, n_boot: int, jobs: int) -> dict:
    t0 = time.perf_counter()
    chunks = [list(range(j, reps, jobs)) for j in range(jobs)]
    parts = Parallel(n_jobs=jobs)(delayed(run_reps)(name, dim, mi, c, n_boot) for c in chunks)
    est, low, high, old_low, old_high = np.array([row for part in parts for row in part]).T
    k = int(np.sum((low <= mi) & (mi <= high)))
    k_old = int(np.sum((old_low <= mi) & (mi <= old_high)))
    cp = clopper_pearson(k, reps, 0.95)
    return dict(
        estimator=name,
        dims=f"{dim}+{dim}",
        true_mi=mi,
        n_rows=N_ROWS,
        reps=reps,
        n_boot=n_boot,
        level=LEVEL,
        covered=k,
        coverage=k / reps,
        coverage_cp95=list(cp),
        mean_width=float(np.mean(high - low)),
        bias=float(np.mean(est) - mi),
        sd_estimate=float(np.std(est, ddof=1)),
        sd_implied_by_width=float(np.mean(high - low) / (2 * 1.959964)),
        miss_below=int(np.sum(high < mi)),
        miss_above=int(np.sum(low > mi)),
        old_sqrt_m_over_n_coverage=k_old / reps,
        old_coverage_cp95=list(clopper_pearson(k_old, reps, 0.95)),
        seconds=time.perf_counter() - t0,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="repetitions per (estimator, task)")
    ap.add_argument("--n-boot", type=int, default=200, help="subsamples per interval")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    ap.add_argument("--only", choices=["gaussian", "ksg"], help="one estimator only")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = []
    header = (
        f"{'estimator':9s} {'dims':5s} {'MI':>4s} {'coverage':>8s} {'CP 95 %':>15s} {'width':>6s} "
        f"{'bias':>7s} {'sd est':>6s} {'sd CI':>6s} {'below':>5s} {'above':>5s} {'old':>5s}"
    )
    print(header)
    for name, dim, mi in TASKS:
        if args.only and name != args.only:
            continue
        r = measure(name, dim, mi, args.reps, args.n_boot, args.jobs)
        rows.append(r)
        lo, hi = r["coverage_cp95"]
        print(
            f"{name:9s} {r['dims']:5s} {mi:4.1f} {r['coverage']:8.3f} [{lo:.3f}, {hi:.3f}] "
            f"{r['mean_width']:6.3f} {r['bias']:+7.4f} {r['sd_estimate']:6.4f} {r['sd_implied_by_width']:6.4f} "
            f"{r['miss_below']:5d} {r['miss_above']:5d} {r['old_sqrt_m_over_n_coverage']:5.3f}",
            flush=True,
        )
    result = dict(
        machine=dict(
            platform=platform.platform(),
            python=sys.version.split()[0],
            cpus=os.cpu_count(),
            load_average=os.getloadavg(),
            numpy=np.__version__,
        ),
        settings=dict(reps=args.reps, n_boot=args.n_boot, jobs=args.jobs, n_rows=N_ROWS, level=LEVEL),
        columns=dict(
            coverage="fraction of repetitions whose interval holds the true MI",
            coverage_cp95="Clopper-Pearson 95 % interval of the coverage",
            bias="mean estimate - true MI (nats)",
            sd_estimate="standard deviation of the estimate over repetitions",
            sd_implied_by_width="mean width / (2 * 1.96): the standard deviation the interval assumes",
            miss_below="repetitions whose interval lies entirely below the truth",
            miss_above="repetitions whose interval lies entirely above the truth",
            old_sqrt_m_over_n_coverage="coverage of the same subsamples scaled by sqrt(m / N)",
        ),
        results=rows,
    )
    result["total_s"] = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} ({result['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
