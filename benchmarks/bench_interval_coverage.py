"""Coverage of ``seleak.stats.bootstrap_interval`` on data with a known MI.

Run on demand (not in CI):  python benchmarks/bench_interval_coverage.py [--reps 200] [--jobs 2]

For every (estimator, task) below, ``seleak.coverage.interval_coverage`` (seed 0) runs ``--reps``
repetitions, each drawing N = 1000 rows of correlated Gaussians with the task's true MI
(``seleak.estimators.groundtruth.correlated_gaussian``) and computing the nominal 95 % subsample
interval (``scheme="subsample"``, ``--n-boot`` half-size subsamples). The coverage is the fraction of
repetitions whose interval holds the true MI, with its Clopper–Pearson 95 % interval; also the mean
width, the bias (mean estimate - truth), the standard deviation of the estimate over repetitions
against the one implied by the interval (width / (2 * 1.96)), and the coverage the same subsamples
would have had with the old ``sqrt(m / N)`` scaling.

* Gaussian estimator: 1 + 1, 2 + 2 and 4 + 4 dimensions, MI 0.5 and 1 nat.
* KSG (k = 3): 1 + 1 and 2 + 2 dimensions, MI 0.5 nat (its bias there is below 0.01 nat).

Results go to ``benchmarks/results/interval_coverage.json``; a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from _timing import machine_info  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from seleak.coverage import interval_coverage
from seleak.estimators import get_estimator
from seleak.stats import clopper_pearson

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


def measure(name: str, dim: int, mi: float, reps: int, n_boot: int, jobs: int) -> dict:
    t0 = time.perf_counter()
    est = get_estimator(name, **({"k": 3} if name == "ksg" else {}))
    cov = interval_coverage(est, dim, mi, n=N_ROWS, reps=reps, level=LEVEL, n_boot=n_boot, seed=0, n_jobs=jobs)
    k_old = round(cov.old_scaling_rate * reps)  # the same subsamples under the old sqrt(m / N) scaling
    width = cov.highs - cov.lows
    return dict(
        estimator=name,
        dims=f"{dim}+{dim}",
        true_mi=mi,
        n_rows=N_ROWS,
        reps=reps,
        n_boot=n_boot,
        level=LEVEL,
        covered=cov.covered,
        coverage=cov.rate,
        coverage_cp95=[cov.cp_low, cov.cp_high],
        mean_width=cov.mean_width,
        bias=cov.bias,
        sd_estimate=cov.sd_estimate,
        sd_implied_by_width=float(np.mean(width) / (2 * 1.959964)),
        miss_below=cov.miss_below,
        miss_above=cov.miss_above,
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
        machine=machine_info(),
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
