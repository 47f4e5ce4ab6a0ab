"""KSG speed: the current implementation against the previous ``cKDTree`` one and against latentmi's KSG.

Run on demand (not in CI):  python benchmarks/bench_ksg.py [--quick] [--latentmi-only]

Previous against current (``ksg_previous_vs_current``, single-threaded: ``workers=1`` is in each row).
The previous implementation (kept here as the baseline) found ``eps_i`` with ``cKDTree.query`` and
counted the marginals with ``cKDTree.query_ball_point(..., return_length=True)``; the current one takes
the path ``seleak.estimators.ksg.ksg_method`` picks (``method`` in each row): trees (scikit-learn's
``KDTree.query_radius(..., count_only=True)`` for the counts, its ``KDTree`` for the k-NN above 4 joint
columns) or, from 16 joint columns, brute force. A one-column marginal is counted by binary search in
both. For each ``dx + dy`` and N the two run interleaved (previous, current, previous, ...), best of 3,
on correlated Gaussians (1 nat); each row holds the two times, their ratio and both estimates (which
must be equal). The log-log slope of time against N is fitted per dimension. scikit-learn's
``mutual_info_regression`` at d = 1 is the named peer in ``bench_estimators.py``.

Peer (``speed``): latentmi's KSG (single-threaded) at 5 + 5, 10 + 10 and 20 + 20 columns, N = 5 000,
against seleak on one thread (``workers=1``: ``seleak_s``, ``ratio``) and on two (``workers=2``:
``seleak_2_threads_s``, ``ratio_2_threads``; what a plain call uses on a 2-core machine), with the path
taken, the other path's 2-thread time, the phase times on 1 and 2 threads and the load average before
and after, when latentmi is installed (``benchmarks/peers.py`` says how; without it those rows are
skipped with a message). Other work on the machine slows the 2-thread runs most: run it on a quiet one.

Results go to ``benchmarks/results/ksg.json``; the ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import peers  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
import scipy
import sklearn
from _timing import best_of, machine_info  # noqa: E402
from scipy.spatial import cKDTree
from scipy.special import digamma

from seleak._io import atomic_write_text
from seleak.estimators.groundtruth import correlated_gaussian
from seleak.estimators.ksg import (
    count_strictly_closer,
    ksg_counts,
    ksg_method,
    ksg_mi,
    kth_neighbour_distance,
    resolve_workers,
)

OUT = Path(__file__).resolve().parent / "results" / "ksg.json"


def previous_counts(a: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The previous marginal counts: ``cKDTree`` ball counts (one column: the binary search, unchanged)."""
    if a.shape[1] == 1:
        return count_strictly_closer(a, eps)
    return cKDTree(a).query_ball_point(a, np.nextafter(eps, 0.0), p=np.inf, return_length=True) - 1


def previous_ksg(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """The estimator's previous implementation: ``cKDTree`` for the k-NN and the marginal counts."""
    z = np.hstack([x, y])
    eps = cKDTree(z).query(z, k=k + 1, p=np.inf)[0][:, -1]
    nx, ny = previous_counts(x, eps), previous_counts(y, eps)
    return float(digamma(k) + digamma(x.shape[0]) - np.mean(digamma(nx + 1) + digamma(ny + 1)))


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best of ``repeats`` for each function, run in turn within each repeat (equal exposure to load)."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = min(best[name], best_of(fn, 1))
    return best


def bench(dims: list[int], ns: list[int], big_n: int | None, k: int, repeats: int, budget_s: float) -> list[dict]:
    rows = []
    for d in dims:
        sizes = list(ns) + ([big_n] if big_n and d == 4 else [])
        for n in sizes:
            x, y, truth = correlated_gaussian(n, d, 1.0, seed=0)
            reps = repeats
            if n == big_n:
                # the largest N only within the time budget, predicted from the previous row's times at
                # a slope of 1.5; the row records how many repeats it got
                prev = rows[-1]
                per_rep = (prev["previous_s"] + prev["current_s"]) * (n / prev["n"]) ** 1.5
                reps = min(repeats, int(budget_s // per_rep))
                if reps < 1:
                    print(f"KSG {d}+{d} N={n}: skipped (predicted {per_rep:.0f} s per repeat > {budget_s:.0f} s)")
                    continue
            v_prev, v_cur = previous_ksg(x, y, k), ksg_mi(x, y, k, workers=1)
            eps = kth_neighbour_distance(np.hstack([x, y]), k)
            t = interleaved(
                {
                    "previous": lambda: previous_ksg(x, y, k),
                    "current": lambda: ksg_mi(x, y, k, workers=1),
                    "previous_count": lambda: previous_counts(x, eps),
                    "current_count": lambda: count_strictly_closer(x, eps),
                },
                reps,
            )
            row = dict(
                dx=d,
                dy=d,
                n=n,
                k=k,
                workers=1,
                method=ksg_method(d, d, n),
                repeats=reps,
                previous_s=t["previous"],
                current_s=t["current"],
                ratio=t["previous"] / t["current"],
                previous_count_x_s=t["previous_count"],
                current_count_x_s=t["current_count"],
                count_ratio=t["previous_count"] / t["current_count"],
                previous_nats=v_prev,
                current_nats=v_cur,
                true_nats=truth,
            )
            rows.append(row)
            print(
                f"KSG {d:>2}+{d:<2} N={n:>6}: previous {t['previous'] * 1e3:9.1f} ms, "
                f"current {t['current'] * 1e3:8.1f} ms,"
                f" previous/current = {row['ratio']:5.2f}x; one marginal's counts {row['count_ratio']:5.2f}x"
                f"  (estimates {v_prev:.6f} / {v_cur:.6f}, truth {truth})"
            )
    return rows


def phase_times(x: np.ndarray, y: np.ndarray, k: int, workers: int, repeats: int) -> dict[str, float]:
    """The phases of ``ksg_mi`` timed one by one (interleaved, best of ``repeats``) on ``workers`` threads.

    Tree path: the joint ``k``-NN distances, then each marginal's counts (each with its own tree build;
    ``ksg_mi`` runs them block by block, so its total can be below their sum). Brute-force path: one
    phase, distances, ``k``-NN and both counts together.
    """
    z = np.hstack([x, y])
    eps = kth_neighbour_distance(z, k, workers)
    if ksg_method(x.shape[1], y.shape[1], x.shape[0]) == "brute":
        return interleaved({"brute_s": lambda: ksg_counts(x, y, k, workers, "brute")}, repeats)
    return interleaved(
        {
            "knn_s": lambda: kth_neighbour_distance(z, k, workers),
            "counts_x_s": lambda: count_strictly_closer(x, eps, workers),
            "counts_y_s": lambda: count_strictly_closer(y, eps, workers),
        },
        repeats,
    )


def bench_latentmi(dims: list[int], n: int, k: int, repeats: int) -> list[dict]:
    """seleak's ``ksg_mi`` on 1 and 2 threads (``workers=1``, ``workers=2``) against latentmi's ``ksg.mi``
    (single-threaded) on the same inputs, and the path ``ksg_mi`` does not take on 2 threads (the
    crossover), then the phase times.

    latentmi adds its own 1e-10 uniform noise (from numpy's global generator) to break ties, and counts
    within ``eps - 1e-15`` where seleak counts within one ulp below ``eps``; on continuous data neither
    changes a count unless a point lies within 1e-10 of a boundary, so the estimates agree to rounding:
    the row records both and their difference. Interleaved, best of ``repeats``; the load average before
    and after is recorded (other work on the machine slows the 2-thread runs most).
    """
    rows = []
    for d in dims:
        x, y, truth = correlated_gaussian(n, d, 1.0, seed=0)
        method = ksg_method(d, d, n)
        other = "tree" if method == "brute" else "brute"
        load_before = os.getloadavg()
        t = interleaved(
            {
                "latentmi": lambda: peers.latentmi_ksg(x, y, k),
                "seleak": lambda: ksg_mi(x, y, k, workers=1),
                "seleak_2_threads": lambda: ksg_mi(x, y, k, workers=2),
                "other": lambda: ksg_mi(x, y, k, workers=2, method=other),
            },
            repeats,
        )
        phases = {f"{w}_thread{'s' if w > 1 else ''}": phase_times(x, y, k, w, repeats) for w in (1, 2)}
        load_after = os.getloadavg()
        v_peer, v_ours = peers.latentmi_ksg(x, y, k), ksg_mi(x, y, k, workers=1)
        v_two = ksg_mi(x, y, k, workers=2)
        row = dict(
            task=f"ksg {d}+{d}",
            dx=d,
            dy=d,
            n=n,
            k=k,
            method=method,
            latentmi_s=t["latentmi"],
            seleak_s=t["seleak"],
            seleak_workers=1,
            seleak_2_threads_s=t["seleak_2_threads"],
            seleak_2_threads_workers=2,
            default_workers=resolve_workers(None, n, 2 * d),
            ratio=t["latentmi"] / t["seleak"],
            ratio_2_threads=t["latentmi"] / t["seleak_2_threads"],
            other_method=other,
            other_method_2_threads_s=t["other"],
            phases=phases,
            latentmi_nats=v_peer,
            seleak_nats=v_ours,
            seleak_2_threads_nats=v_two,
            abs_difference=abs(v_peer - v_ours),
            true_nats=truth,
            load_average_before=load_before,
            load_average_after=load_after,
        )
        rows.append(row)
        print(
            f"KSG {d}+{d} N={n} vs latentmi: latentmi {row['latentmi_s']:.3f} s; seleak ({method}) workers=1 "
            f"{row['seleak_s']:.3f} s ({row['ratio']:.2f}x), workers=2 {row['seleak_2_threads_s']:.3f} s "
            f"({row['ratio_2_threads']:.2f}x); {other} on 2 threads {t['other']:.3f} s; |difference| "
            f"{row['abs_difference']:.1e}; phases {json.dumps(phases)}; "
            f"load {load_before[0]:.2f} -> {load_after[0]:.2f}"
        )
    return rows


def slopes(rows: list[dict]) -> list[dict]:
    """Least-squares slope of log(time) against log(N), per dimension and implementation."""
    out = []
    for d in sorted({r["dx"] for r in rows}):
        rs = [r for r in rows if r["dx"] == d]
        if len(rs) < 2:
            continue
        ns = [r["n"] for r in rs]
        fit = {
            key: float(np.polyfit(np.log(ns), np.log([r[f"{key}_s"] for r in rs]), 1)[0])
            for key in ("previous", "current")
        }
        out.append(dict(dx=d, dy=d, ns=ns, previous_slope=fit["previous"], current_slope=fit["current"]))
        print(f"log-log slope {d}+{d} over N={ns}: previous {fit['previous']:.2f}, current {fit['current']:.2f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 1e3 and 3e3 only, best of 2 (a few seconds)")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds allowed for the N = 1e5 row at 4+4")
    ap.add_argument(
        "--latentmi-only", action="store_true", help="only the comparison with latentmi (other rows of --out kept)"
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    ns = [1000, 3000] if args.quick else [1000, 10000]
    t0 = time.perf_counter()
    found = peers.load()
    speed = bench_latentmi([5, 10, 20], 5000, 3, 2 if args.quick else 3) if "latentmi" in found else []
    if args.latentmi_only and args.out.is_file():
        # keep the file's previous-vs-current rows, replace only the comparison with latentmi
        old = json.loads(args.out.read_text())
        old.update(speed=speed, speed_machine=machine_info(scipy=scipy.__version__, sklearn=sklearn.__version__))
        atomic_write_text(args.out, json.dumps(old, indent=2))
        print(f"wrote {args.out} (latentmi comparison only)")
        return
    else:
        rows = bench([1, 4, 5, 10, 20], ns, None if args.quick else 100000, 3, 2 if args.quick else 3, args.budget)
    result = dict(
        machine=machine_info(scipy=scipy.__version__, sklearn=sklearn.__version__),
        ksg_previous_vs_current=rows,
        log_log_slope=slopes(rows),
        speed=speed,
    )
    result["total_s"] = time.perf_counter() - t0
    atomic_write_text(args.out, json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
