"""The ground-truth suite: every seleak estimator, ``auto`` and the peers, side by side.

Run on demand (not in CI):  python benchmarks/bench_estimator_suite.py [--fast] [--lmi] [--seeds 101 102]

Peers (scikit-learn, latentmi, torch-mist) come from a benchmark-only folder, set up once with::

    python -m pip install --no-deps --target benchmarks/.peers -r benchmarks/requirements-peers.txt

(see ``benchmarks/peers.py`` for how each is called and why scikit-learn runs on 1 + 1 tasks only). A
missing peer is reported and skipped; seleak's own rows are always written.

Every estimator sees the same samples: the 15 tasks of ``seleak.estimators.suite.TASKS`` at N = 1 000
and 5 000, at the suite's evaluation seeds (``EVAL_SEEDS``; ``auto``'s settings were chosen on
``DEV_SEEDS``, never on these). ``plugin`` runs where it accepts the data (at most 3 columns per side).
The neural estimators (seleak's ``infonce`` and ``smile`` at their defaults, torch-mist's ``smile`` and
``infonce``; tens of seconds each on CPU) run at the first evaluation seed only, unless ``--fast`` leaves
them out (the whole run takes about 30 minutes on 2 cores); latentmi's LMI only with ``--lmi``. The
summary gives, per estimator, the median and largest absolute error; for each peer it also gives
``auto``'s on the same estimates (the tasks that peer ran on).

Results go to ``benchmarks/results/estimator_suite.json`` (written after every task, so a long run
leaves what it has done).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import peers  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from _timing import machine_info  # noqa: E402

from seleak._io import atomic_write_text
from seleak.estimators import get_estimator
from seleak.estimators.suite import DEV_SEEDS, EVAL_SEEDS, SIZES, TASKS, Task, run_suite, summarise

OUT = Path(__file__).resolve().parent / "results" / "estimator_suite.json"


def seleak_fn(name: str, **settings: object) -> peers.Fn:
    est = get_estimator(name, **settings)
    return lambda x, y: est.estimate(x, y).nats


NEURAL = ("infonce", "smile", "torch-mist smile", "torch-mist infonce", "latentmi lmi")


def estimators(found: dict[str, object], neural: bool, lmi: bool) -> tuple[dict[str, peers.Fn], dict[str, str]]:
    fns: dict[str, peers.Fn] = {name: seleak_fn(name) for name in ("auto", "ksg", "gaussian", "plugin")}
    if neural:
        fns.update({name: seleak_fn(name) for name in ("infonce", "smile")})
    source = {name: "seleak" for name in fns}
    fns["sklearn mutual_info_regression"] = peers.sklearn_mi
    source["sklearn mutual_info_regression"] = "scikit-learn"
    if "latentmi" in found:
        fns["latentmi ksg"] = peers.latentmi_ksg
        source["latentmi ksg"] = "latentmi"
        if lmi:
            fns["latentmi lmi"] = peers.latentmi_lmi
            source["latentmi lmi"] = "latentmi"
    if "torch_mist" in found and neural:
        for name in ("smile", "infonce"):
            fns[f"torch-mist {name}"] = peers.torch_mist(name)
            source[f"torch-mist {name}"] = "torch-mist"
    return fns, source


def applies(name: str, task: Task) -> bool:
    if name == "sklearn mutual_info_regression":
        return task.dx == 1 and task.dy == 1
    if name == "plugin":
        return task.dx <= 3 and task.dy <= 3
    return True


def summary(rows: list[dict], source: dict[str, str]) -> list[dict]:
    out = summarise(rows)
    auto = {(r["task"], r["n"], r["seed"]): r for r in rows if r["estimator"] == "auto"}
    for s in out:
        s["source"] = source[s["estimator"]]
        keys = {(r["task"], r["n"], r["seed"]) for r in rows if r["estimator"] == s["estimator"]}
        errs = [auto[k]["abs_error"] for k in keys if k in auto]
        s["auto_median_abs_error_same_tasks"] = float(np.median(errs)) if errs else None
        s["auto_max_abs_error_same_tasks"] = float(max(errs)) if errs else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="leave out seleak's and torch-mist's neural estimators")
    ap.add_argument("--lmi", action="store_true", help="add latentmi's LMI (slow: minutes per task on CPU)")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(EVAL_SEEDS))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if set(args.seeds) & set(DEV_SEEDS):
        print(f"note: seeds {sorted(set(args.seeds) & set(DEV_SEEDS))} are the development seeds auto was tuned on")
    found = peers.load()
    fns, source = estimators(found, not args.fast, args.lmi)
    t0 = time.perf_counter()
    rows: list[dict] = []
    for t in TASKS:
        fast = {k: f for k, f in fns.items() if k not in NEURAL}
        slow = {k: f for k, f in fns.items() if k in NEURAL}
        rows += run_suite(fast, sizes=SIZES, seeds=args.seeds, tasks=[t], applies=applies, log=print)
        if slow:
            rows += run_suite(slow, sizes=SIZES, seeds=args.seeds[:1], tasks=[t], applies=applies, log=print)
        result = dict(
            machine=machine_info(),
            seeds=args.seeds,
            dev_seeds=list(DEV_SEEDS),
            sizes=list(SIZES),
            tasks=[dict(name=t.name, family=t.family, dx=t.dx, dy=t.dy, true_nats=t.mi) for t in TASKS],
            peers_found=sorted(found),
            neural=not args.fast,
            neural_seeds=args.seeds[:1],
            summary=summary(rows, source),
            rows=rows,
            total_s=time.perf_counter() - t0,
        )
        atomic_write_text(args.out, json.dumps(result, indent=2))
    for s in result["summary"]:
        print(
            f"{s['estimator']:<32} median |err| {s['median_abs_error']:.3f}  max |err| {s['max_abs_error']:.3f}"
            f"  ({s['estimates']} estimates; auto on the same: {s['auto_median_abs_error_same_tasks']:.3f} / "
            f"{s['auto_max_abs_error_same_tasks']:.3f})"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
