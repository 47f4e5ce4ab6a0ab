"""Neural estimators: wall time and held-out accuracy, seleak against torch-mist, and the best any critic could do.

Run on demand (not in CI):  python benchmarks/bench_neural.py [--repeats 3] [--n 5000]

Tasks: correlated Gaussians (``seleak.estimators.groundtruth.correlated_gaussian``) in 5 + 5 and
20 + 20 columns with MI 1 and 4 nats, N pairs (default 5 000). For each bound that both libraries
offer (SMILE, torch-mist's default; MINE; InfoNCE) seleak at its defaults and torch-mist at its
defaults (``hidden_dims=[256, 256]``) are scored on the same held-out 25 % of the pairs: seleak by its
own protocol (``val_fraction=0.25``), torch-mist with ``test_data`` set to those pairs (see
``benchmarks/peers.py``). Each configuration runs ``repeats`` times, interleaved, single-threaded; a
row holds the best time, the estimate of that run, its |error| and whether it met the target
|error| <= 0.1 nat. torch-mist missing (see ``benchmarks/peers.py`` for its setup): its rows are skipped.

Oracle rows (not timed): the exact log density ratio ``log p(x, y) / p(x) p(y)`` of the task used as
the critic, scored by each bound on seleak's held-out chunks (chunk = seleak's default evaluation
batch). A bound that falls short of the truth by more than the target there (InfoNCE at 4 nats: its
``log B`` ceiling) cannot meet it with any trained critic, whose expected value is no higher; one that
overshoots there (SMILE at 4 nats: its clip of 5) can land closer with a worse critic, by luck.

Results go to ``benchmarks/results/neural.json``; the ratios (torch-mist time / seleak time) are printed.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import peers  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
import torch
from _timing import machine_info  # noqa: E402

from seleak._io import atomic_write_text
from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian, rho_for_mi
from seleak.estimators.neural.bounds import bound_value
from seleak.estimators.neural.training import split_pairs

OUT = Path(__file__).resolve().parent / "results" / "neural.json"
TARGET = 0.1
TASKS = [(5, 1.0), (5, 4.0), (20, 1.0), (20, 4.0)]
BOUNDS = ("smile", "mine", "infonce")


def log_ratio(x: np.ndarray, y: np.ndarray, rho: float) -> np.ndarray:
    """``T[i, j] = log p(x_i, y_j) / p(x_i) p(y_j)`` for the task's coordinate pairs of correlation ``rho``."""
    q = 1.0 - rho * rho
    quad = rho * rho * ((x * x).sum(1)[:, None] + (y * y).sum(1)[None, :]) - 2.0 * rho * (x @ y.T)
    return -0.5 * x.shape[1] * math.log(q) - quad / (2.0 * q)


def oracle(x: np.ndarray, y: np.ndarray, dim: int, mi: float, name: str) -> float:
    """The bound ``name`` of the exact critic on seleak's held-out chunks, as the estimator would cut them."""
    est = get_estimator(name)
    s = est.settings
    chunk = s["eval_batch_size"] or s["batch_size"]
    sp = split_pairs(
        x,
        y,
        s["seed"],
        val_fraction=s["val_fraction"],
        monitor_fraction=s["monitor_fraction"],
        early_stopping=s["early_stopping"],
        name=name,
        chunk=chunk,
    )
    xt, yt = x[sp.test], y[sp.test]  # the raw pairs: the ratio is that of the generating distribution
    rho = rho_for_mi(mi, dim)
    clip = s.get("clip")
    values = [
        float(bound_value(name, torch.from_numpy(log_ratio(xt[a : a + chunk], yt[a : a + chunk], rho)), clip))
        if name == "smile"
        else float(bound_value(name, torch.from_numpy(log_ratio(xt[a : a + chunk], yt[a : a + chunk], rho))))
        for a in range(0, len(xt) - chunk + 1, chunk)
    ]
    return float(np.mean(values))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    found = peers.load()
    configs = {}
    for b in BOUNDS:
        configs[f"seleak {b} (defaults)"] = lambda x, y, b=b: get_estimator(b).estimate(x, y).nats
        if "torch_mist" in found:
            configs[f"torch-mist {b} (defaults)"] = peers.torch_mist(b)
    warm = correlated_gaussian(400, 2, 0.5, seed=1)  # first-call costs (threads, allocator) out of the timings
    for fn in configs.values():
        fn(warm.x, warm.y)
    t0 = time.perf_counter()
    rows, oracles = [], []
    for dim, mi in TASKS:
        x, y, truth = correlated_gaussian(args.n, dim, mi, seed=7)
        for b in BOUNDS:
            v = oracle(x, y, dim, mi, b)
            oracles.append(dict(dim=dim, true_nats=truth, bound=b, nats=v, abs_error=abs(v - truth)))
            print(f"{dim:>2}+{dim:<2} MI {mi}: oracle critic, {b:<8} {v:.3f}  |err| {abs(v - truth):.3f}")
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for name, fn in configs.items():
                t = time.perf_counter()
                value = float(fn(x, y))
                s = time.perf_counter() - t
                if name not in best or s < best[name]["seconds"]:
                    best[name] = dict(seconds=s, nats=value)
        for name, b in best.items():
            err = abs(b["nats"] - truth)
            rows.append(
                dict(dim=dim, true_nats=truth, n=args.n, config=name, **b, abs_error=err, reached=err <= TARGET)
            )
            print(f"{dim:>2}+{dim:<2} MI {mi}: {name:<28} {b['seconds']:7.2f} s  {b['nats']:.3f}  |err| {err:.3f}")
    speed = []
    for dim, mi in TASKS:
        rs = {r["config"]: r for r in rows if r["dim"] == dim and r["true_nats"] == mi}
        for b in BOUNDS:
            r, peer = rs[f"seleak {b} (defaults)"], rs.get(f"torch-mist {b} (defaults)")
            speed.append(
                dict(
                    task=f"gauss {dim}+{dim}, {mi:g} nats",
                    bound=b,
                    seleak_s=r["seconds"],
                    seleak_nats=r["nats"],
                    seleak_reached=r["reached"],
                    torch_mist_s=None if peer is None else peer["seconds"],
                    torch_mist_nats=None if peer is None else peer["nats"],
                    torch_mist_reached=None if peer is None else peer["reached"],
                    ratio=None if peer is None else peer["seconds"] / r["seconds"],
                )
            )
    result = dict(
        machine=machine_info(),
        target_abs_error=TARGET,
        repeats=args.repeats,
        rows=rows,
        oracle=oracles,
        speed=speed,
        total_s=time.perf_counter() - t0,
    )
    atomic_write_text(args.out, json.dumps(result, indent=2))
    for s in speed:
        ratio = "n/a" if s["ratio"] is None else f"{s['ratio']:.2f}x"
        print(f"{s['task']:<22} {s['bound']:<8} torch-mist/seleak = {ratio}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
