"""Neural estimators: wall time to a held-out |error| <= 0.1 nat, seleak against torch-mist.

Run on demand (not in CI):  python benchmarks/bench_neural.py [--repeats 3] [--n 5000]

Tasks: correlated Gaussians (``seleak.estimators.groundtruth.correlated_gaussian``) in 5 + 5 and
20 + 20 columns with MI 1 and 4 nats, N pairs (default 5 000). Both libraries train SMILE (torch-mist's
default estimator) with a 2 x 256 critic and are scored on the same held-out 25 % of the pairs: seleak
by its own protocol (``val_fraction=0.25``), torch-mist with ``test_data`` set to those pairs (see
``benchmarks/peers.py``). Each configuration runs ``repeats`` times, interleaved, single-threaded; a
row holds the best time, the estimate of that run, its |error| and whether it met the target. Rows:
seleak at its defaults and torch-mist at its defaults. torch-mist missing (see ``benchmarks/peers.py``
for its setup): its rows are skipped.

Results go to ``benchmarks/results/neural.json``; the ratios (torch-mist time / seleak time) are printed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import peers  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from _timing import machine_info  # noqa: E402

from seleak._io import atomic_write_text
from seleak.estimators import get_estimator
from seleak.estimators.groundtruth import correlated_gaussian

OUT = Path(__file__).resolve().parent / "results" / "neural.json"
TARGET = 0.1
TASKS = [(5, 1.0), (5, 4.0), (20, 1.0), (20, 4.0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    found = peers.load()
    configs = {
        "seleak smile (defaults)": lambda x, y: get_estimator("smile").estimate(x, y).nats,
    }
    if "torch_mist" in found:
        configs["torch-mist smile (defaults)"] = peers.torch_mist("smile")
    t0 = time.perf_counter()
    rows = []
    for dim, mi in TASKS:
        x, y, truth = correlated_gaussian(args.n, dim, mi, seed=7)
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
        peer = rs.get("torch-mist smile (defaults)")
        for name in ("seleak smile (defaults)",):
            r = rs[name]
            speed.append(
                dict(
                    task=f"gauss {dim}+{dim}, {mi:g} nats",
                    seleak=name,
                    seleak_s=r["seconds"],
                    seleak_reached=r["reached"],
                    torch_mist_s=None if peer is None else peer["seconds"],
                    torch_mist_reached=None if peer is None else peer["reached"],
                    ratio=None if peer is None else peer["seconds"] / r["seconds"],
                )
            )
    result = dict(
        machine=machine_info(),
        target_abs_error=TARGET,
        repeats=args.repeats,
        rows=rows,
        speed=speed,
        total_s=time.perf_counter() - t0,
    )
    atomic_write_text(args.out, json.dumps(result, indent=2))
    for s in speed:
        ratio = "n/a" if s["ratio"] is None else f"{s['ratio']:.2f}x"
        print(f"{s['task']:<22} {s['seleak']:<26} torch-mist/seleak = {ratio}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
