"""Speed benchmarks of seleak.estimators, each against a baseline measured in the same run.

Run on demand (not in CI):  python benchmarks/bench_estimators.py [--quick]

1. KSG wall time against N (1e3 .. 1e5) at d = 1, against scikit-learn's
   ``mutual_info_regression`` (also KSG algorithm 1, k = 3) on the same data: ratio sklearn / seleak.
2. Neural per-step time of the standard critic (2 x 256), separable and joint, batch 64 and 256.
3. ``estimate_many`` (M critics in one batched model) against M sequential ``estimate`` calls, for the
   standard critic and a small one: ratio sequential / batched.

Results go to ``benchmarks/results/estimators.json``; the ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from _timing import best_of  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.feature_selection import mutual_info_regression

from seleak._io import atomic_write_text
from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.estimators.ksg import resolve_workers

OUT = Path(__file__).resolve().parent / "results" / "estimators.json"


def bench_ksg(ns: list[int], repeats: int) -> list[dict]:
    rows = []
    for n in ns:
        x, y, truth = correlated_gaussian(n, 1, 1.0, seed=0)
        ours = get_estimator("ksg", k=3)
        t_ours = best_of(lambda: ours.estimate(x, y), repeats)
        t_sk = best_of(lambda: mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0), repeats)
        v_ours = ours.estimate(x, y).nats
        v_sk = float(mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0)[0])
        rows.append(
            dict(
                n=n,
                seleak_s=t_ours,
                seleak_workers=resolve_workers(None, n, 2),  # the default's threads (sklearn: one)
                sklearn_s=t_sk,
                ratio=t_sk / t_ours,
                seleak_nats=v_ours,
                sklearn_nats=v_sk,
                true_nats=truth,
            )
        )
        print(
            f"KSG d=1 N={n:>6}: seleak {t_ours * 1e3:8.1f} ms, sklearn {t_sk * 1e3:8.1f} ms, "
            f"sklearn/seleak = {t_sk / t_ours:5.2f}x  (estimates {v_ours:.3f} vs {v_sk:.3f}, truth {truth})"
        )
    return rows


def per_step(name: str, critic: str, batch: int, dim: int, steps: tuple[int, int], repeats: int) -> float:
    """Seconds per training step: best-of-``repeats`` times at two step counts, differenced (removes
    the fixed costs: split, initialisation, held-out evaluation)."""
    x, y, _ = correlated_gaussian(4000, dim, 2.0, seed=0)
    ts = []
    for s in steps:
        est = get_estimator(
            name,
            steps=s,
            batch_size=batch,
            critic=critic,
            hidden=(256, 256),
            early_stopping=False,
            eval_every=10**9,
            val_fraction=0.05,
        )
        ts.append(best_of(lambda: est.estimate(x, y), repeats))
    return max(ts[1] - ts[0], 0.0) / (steps[1] - steps[0])


def bench_steps(quick: bool) -> list[dict]:
    rows = []
    for critic in ("separable", "joint"):
        for batch in (64, 256):
            heavy = critic == "joint" and batch == 256
            steps = (2, 6) if heavy else ((10, 60) if quick else (20, 220))
            t = per_step("infonce", critic, batch, 20, steps, 2 if heavy else 3)
            rows.append(
                dict(
                    estimator="infonce", critic=critic, hidden=[256, 256], batch_size=batch, dim=20, ms_per_step=t * 1e3
                )
            )
            print(
                f"neural step, {critic:9s} 2x256, batch {batch:3d}, d=20: {t * 1e3:8.2f} ms/step "
                f"({t * 20000 / 60:.1f} min for 20 000 steps)"
            )
    return rows


def bench_batched(m: int, steps: int, threads: int) -> list[dict]:
    rows = []
    pairs = [correlated_gaussian(2000, 20, 1.0 + i, seed=i)[:2] for i in range(m)]
    # (label, hidden, batch, torch threads of the batched run); sequential runs use 1 thread.
    # ``--threads 2`` adds a batched run on 2 threads: only meaningful on an otherwise idle machine
    # (on a shared one, OpenMP threads spin against the neighbours' and the run slows down ~10x).
    configs = [("standard 2x256", (256, 256), 64, 1), ("small 2x64", (64, 64), 64, 1), ("tiny 1x32", (32,), 64, 1)]
    if threads > 1:
        configs.insert(1, (f"standard 2x256, batched on {threads} threads", (256, 256), 64, threads))
    for label, hidden, batch, threads in configs:
        kw = dict(steps=steps, hidden=hidden, batch_size=batch, eval_every=max(10, steps // 20))
        est = get_estimator("infonce", threads=1, **kw)
        est_b = get_estimator("infonce", threads=threads, **kw)
        est.estimate_many(pairs[:1])  # warm-up (imports, allocator)
        t_seq = best_of(lambda: [est.estimate(x, y) for x, y in pairs], 1)
        t_bat = best_of(lambda: est_b.estimate_many(pairs), 1)
        rows.append(
            dict(
                critic=label,
                hidden=list(hidden),
                batch_size=batch,
                problems=m,
                steps=steps,
                batched_threads=threads,
                sequential_s=t_seq,
                batched_s=t_bat,
                ratio=t_seq / t_bat,
            )
        )
        print(
            f"{m} critics, {label:36s} batch {batch}: sequential {t_seq:6.2f} s, batched {t_bat:6.2f} s, "
            f"sequential/batched = {t_seq / t_bat:4.2f}x"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a minute or two)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--threads", type=int, default=1, help="also time the batched standard critic on this many threads")
    args = ap.parse_args()
    ns = [1000, 3000, 10000] if args.quick else [1000, 3000, 10000, 30000, 100000]
    t0 = time.perf_counter()
    result = dict(
        machine=dict(
            platform=platform.platform(),
            python=sys.version.split()[0],
            cpus=os.cpu_count(),
            load_average=os.getloadavg(),
            torch=torch.__version__,
            torch_threads=torch.get_num_threads(),
            sklearn=sklearn.__version__,
            numpy=np.__version__,
        ),
        ksg_vs_sklearn_d1=bench_ksg(ns, 2 if args.quick else 3),
        neural_step_time=bench_steps(args.quick),
        batched_vs_sequential=bench_batched(8, 100 if args.quick else 300, args.threads),
    )
    result["total_s"] = time.perf_counter() - t0
    atomic_write_text(args.out, json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
