"""A ground-truth suite: tasks of varied shape with exactly known MI, a runner, and its results table.

:data:`TASKS` holds 15 tasks built from :mod:`seleak.estimators.groundtruth` (each ``mi`` exact, from a
closed form or an MI-preserving map of one): Gaussians from 1 + 1 to 25 + 25 columns and up to 4 nats,
Student-t pairs (heavy tails, a dependence carried by a shared scale), monotone warps (cubic; log-normal,
sinh and sigmoid marginals), a sparse 20 + 20 Gaussian, a spiral (a non-linear bijection of ``y``),
discrete–continuous pairs, a discrete table, and an independent pair. :data:`SIZES` are the sample
sizes (1 000 and 5 000).

:func:`run_suite` estimates every task at every size and seed with each of a dict of estimators
(callables ``(x, y) -> nats``, so the peers of other libraries can sit beside seleak's) and returns one
row per estimate; :func:`summarise` gives each estimator's median and largest absolute error over the
rows; :func:`results_table` reads a results file that ``benchmarks/bench_estimator_suite.py`` wrote and
returns that summary as a table (``None`` when there is no file); :func:`describe_suite` and
:func:`describe_speed` say in sentences what such files hold (chapter 2 prints them).

Seeds: :data:`DEV_SEEDS` are the seeds the ``auto`` rule's settings were chosen on; the benchmark
reports :data:`EVAL_SEEDS`, which played no part in choosing them.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import groundtruth as gt

__all__ = [
    "Task",
    "TASKS",
    "SIZES",
    "BENCH_RESULTS",
    "DEV_SEEDS",
    "EVAL_SEEDS",
    "task",
    "run_suite",
    "summarise",
    "results_table",
    "speed_table",
    "describe_suite",
    "describe_speed",
]

#: where the benchmarks write their results in a source checkout (``benchmarks/results``); in an installed
#: package the folder does not exist, and the readers below then say so instead of showing numbers
BENCH_RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results"

SIZES: tuple[int, ...] = (1000, 5000)
DEV_SEEDS: tuple[int, ...] = (0, 1, 2, 3)
EVAL_SEEDS: tuple[int, ...] = (101, 102, 103, 104)


@dataclass(frozen=True)
class Task:
    """One ground-truth task: ``sample(n, seed)`` draws ``n`` pairs of its distribution."""

    name: str
    family: str
    dx: int
    dy: int
    mi: float  #: the exact MI of the distribution, nats
    sampler: Callable[[int, int], gt.GroundTruthSample]

    def sample(self, n: int, seed: int) -> gt.GroundTruthSample:
        return self.sampler(n, seed)


def _table_pair(n: int, seed: int) -> gt.GroundTruthSample:
    """Draws from one fixed 4 x 5 table (:func:`~.groundtruth.random_pmf` seed 7, dependence 0.5)."""
    pmf = gt.random_pmf(4, 5, 7, 0.5)
    cells = np.random.default_rng(seed).choice(pmf.size, size=n, p=pmf.ravel())
    a, b = np.divmod(cells, pmf.shape[1])
    return gt.GroundTruthSample(a[:, None].astype(np.float64), b[:, None].astype(np.float64), gt.discrete_mi(pmf))


def _t(name: str, family: str, dx: int, dy: int, fn: Callable[[int, int], gt.GroundTruthSample]) -> Task:
    return Task(name, family, dx, dy, fn(20, 0).mi, fn)


TASKS: tuple[Task, ...] = (
    _t("gauss 1+1, 1 nat", "gaussian", 1, 1, lambda n, s: gt.correlated_gaussian(n, 1, 1.0, s)),
    _t("gauss 3+3, 1 nat", "gaussian", 3, 3, lambda n, s: gt.correlated_gaussian(n, 3, 1.0, s)),
    _t("gauss 10+10, 2 nats", "gaussian", 10, 10, lambda n, s: gt.correlated_gaussian(n, 10, 2.0, s)),
    _t("gauss 25+25, 4 nats", "gaussian", 25, 25, lambda n, s: gt.correlated_gaussian(n, 25, 4.0, s)),
    _t("independent 5+5", "gaussian", 5, 5, lambda n, s: gt.correlated_gaussian(n, 5, 0.0, s)),
    _t("student-t 1+1, df 1", "student-t", 1, 1, lambda n, s: gt.student_t(n, 1, 0.5, 1.0, s)),
    _t("student-t 3+3, df 2", "student-t", 3, 3, lambda n, s: gt.student_t(n, 3, 0.0, 2.0, s)),
    _t("student-t 5+5, df 5", "student-t", 5, 5, lambda n, s: gt.student_t(n, 5, 1.0, 5.0, s)),
    _t("cubic 1+1, 2 nats", "warp", 1, 1, lambda n, s: gt.warped_gaussian(n, 1, 2.0, "cubic", s, warp_x=True)),
    _t(
        "exp/sinh/sigmoid 3+3, 1 nat",
        "warp",
        3,
        3,
        lambda n, s: gt.warped_gaussian(n, 3, 1.0, ["exp", "sinh", "sigmoid"], s, warp_x=True),
    ),
    _t("sparse 20+20 (2 informative), 1 nat", "sparse", 20, 20, lambda n, s: gt.sparse_gaussian(n, 20, 2, 1.0, s)),
    _t("spiral 2+2, 1.5 nats", "nonlinear", 2, 2, lambda n, s: gt.spiral_gaussian(n, 1.5, 0.5, s)),
    _t("class + uniform 1+1", "mixed", 1, 1, lambda n, s: gt.discrete_continuous(n, 4, 0.5, 0, s)),
    _t("class + uniform 1+3", "mixed", 1, 3, lambda n, s: gt.discrete_continuous(n, 8, 0.5, 2, s)),
    _t("discrete 4x5 table", "discrete", 1, 1, _table_pair),
)


def task(name: str) -> Task:
    """The task of :data:`TASKS` called ``name``."""
    for t in TASKS:
        if t.name == name:
            return t
    raise ValueError(f"unknown task {name!r}; tasks: {[t.name for t in TASKS]}")


def run_suite(
    estimators: Mapping[str, Callable[[np.ndarray, np.ndarray], float]],
    *,
    sizes: Sequence[int] = SIZES,
    seeds: Sequence[int] = EVAL_SEEDS,
    tasks: Iterable[Task] = TASKS,
    applies: Callable[[str, Task], bool] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per (task, size, seed, estimator): ``task``, ``family``, ``dx``, ``dy``, ``n``, ``seed``,
    ``estimator``, ``true_nats``, ``nats`` (``None`` when the estimator raised: ``error`` then holds
    the message), ``abs_error`` and ``seconds``.

    ``applies(name, task)`` (default: always) leaves an estimator out of a task it is not made for; such
    a pair gets no row. Every estimator sees the same sample of a (task, size, seed).
    """
    rows = []
    for t in tasks:
        for n in sizes:
            for seed in seeds:
                x, y, mi = t.sample(n, seed)
                for name, fn in estimators.items():
                    if applies is not None and not applies(name, t):
                        continue
                    row: dict[str, Any] = dict(
                        task=t.name, family=t.family, dx=t.dx, dy=t.dy, n=n, seed=seed, estimator=name, true_nats=mi
                    )
                    t0 = time.perf_counter()
                    try:
                        value = float(fn(x, y))
                        row.update(nats=value, abs_error=abs(value - mi))
                    except Exception as e:  # noqa: BLE001 - a peer's failure is a result, recorded as such
                        row.update(nats=None, abs_error=None, error=f"{type(e).__name__}: {e}"[:300])
                    row["seconds"] = time.perf_counter() - t0
                    rows.append(row)
                    if log is not None:
                        shown = "failed" if row["nats"] is None else f"{row['nats']:.3f}"
                        log(f"{t.name:<40} N={n:<5} seed={seed:<4} {name:<22} {shown:>8} (true {mi:.3f})")
    return rows


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per estimator (in order of first appearance): the number of estimates, failures, the median and
    largest absolute error (a failure counts as an infinite error in the maximum and is left out of the
    median), the task of the largest error, and the total seconds."""
    out = []
    for name in dict.fromkeys(r["estimator"] for r in rows):
        rs = [r for r in rows if r["estimator"] == name]
        errs = [r["abs_error"] for r in rs if r["abs_error"] is not None]
        failed = len(rs) - len(errs)
        worst = max((r for r in rs if r["abs_error"] is not None), key=lambda r: r["abs_error"], default=None)
        out.append(
            dict(
                estimator=name,
                estimates=len(rs),
                failed=failed,
                tasks=len({r["task"] for r in rs}),
                median_abs_error=float(np.median(errs)) if errs else math.nan,
                max_abs_error=math.inf if failed else (max(errs) if errs else math.nan),
                worst_task=None if worst is None else f"{worst['task']} (N={worst['n']})",
                seconds=float(sum(r["seconds"] for r in rs)),
            )
        )
    return out


def results_table(path: str | Path) -> Any:
    """The suite's summary from a results file of ``benchmarks/bench_estimator_suite.py`` as a pandas
    table (one row per estimator, sorted by median absolute error), or ``None`` when the file does not
    exist (the benchmark has not been run here)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        return None
    data = json.loads(p.read_text())
    table = pd.DataFrame(data["summary"])
    cols = ["estimator", "source", "tasks", "estimates", "failed", "median_abs_error", "max_abs_error", "worst_task"]
    table = table[[c for c in cols if c in table.columns]]
    return table.sort_values("median_abs_error", kind="stable").reset_index(drop=True)


def speed_table(path: str | Path) -> Any:
    """The ``speed`` rows of a benchmark results file (``bench_ksg.py``'s peer comparison or
    ``bench_neural.py``) as a pandas table, or ``None`` when the file or its ``speed`` entry is missing."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        return None
    rows = json.loads(p.read_text()).get("speed")
    return None if not rows else pd.DataFrame(rows)


def _missing(p: Path) -> str:
    return f"{p.name} is not there: run `make bench` (benchmarks/) to produce it; nothing to show."


def describe_suite(path: str | Path) -> str:
    """Sentences on a suite results file: ``auto``'s median and largest absolute error, and each peer's
    beside ``auto``'s on the same estimates. Every number is read from the file."""
    p = Path(path)
    if not p.is_file():
        return _missing(p)
    data = json.loads(p.read_text())
    summ = {s["estimator"]: s for s in data["summary"]}
    auto = summ.get("auto")
    if auto is None:
        return f"{p.name} holds no result of auto."
    lines = [
        f"Ground-truth suite: {len(data['tasks'])} tasks at N = {', '.join(map(str, data['sizes']))}, "
        f"seeds {data['seeds']} (auto's settings were chosen on seeds {data['dev_seeds']}). auto: median |error| "
        f"{auto['median_abs_error']:.3f} nats, largest {auto['max_abs_error']:.3f} ({auto['worst_task']})."
    ]
    for name, s in summ.items():
        if s.get("source", "seleak") == "seleak":
            continue
        lines.append(
            f"{name}: median {s['median_abs_error']:.3f}, largest {s['max_abs_error']:.3f} over its {s['estimates']} "
            f"estimates; auto on the same: median {s['auto_median_abs_error_same_tasks']:.3f}, largest "
            f"{s['auto_max_abs_error_same_tasks']:.3f}."
        )
    return "\n".join(lines)


def _neural_sentence(r: dict[str, Any]) -> str:
    """One speed row of ``neural.json`` in words: both times and estimates, whether each met the target,
    and the time ratio, said to be a time ratio only when seleak met the target and torch-mist did not,
    or seleak did not: a faster but less accurate estimate is no speed-up to the same accuracy."""

    def est(who: str, s: float, nats: Any, met: bool) -> str:
        value = "" if nats is None else f", {nats:.3f} nats"
        return f"{who} {s:.1f} s{value} (target {'met' if met else 'missed'})"

    head = f"{r['task']}, {r.get('bound', 'smile')}: " + est(
        "seleak", r["seleak_s"], r.get("seleak_nats"), r["seleak_reached"]
    )
    if r["torch_mist_s"] is None:
        return head + "; torch-mist not run."
    peer = est("torch-mist", r["torch_mist_s"], r.get("torch_mist_nats"), r["torch_mist_reached"])
    if r["seleak_reached"]:
        verdict = "to the target" if r["torch_mist_reached"] else "and only seleak meets the target"
    else:
        verdict = "time only, not to the same accuracy" if r["torch_mist_reached"] else "neither meets the target"
    return f"{head}; {peer}; torch-mist/seleak {r['ratio']:.2f}x ({verdict})."


def _oracle_sentence(oracle: list[dict[str, Any]], target: float) -> str:
    """The exact-critic rows in words. A bound's expected value is largest at the exact critic, so a
    bound that falls short of the truth by more than the target even there cannot reach the target by
    training; one that overshoots there (SMILE's clip) can, by luck, with a worse critic."""
    worst: dict[str, float] = {}
    short: list[str] = []
    for o in oracle:
        worst[o["bound"]] = max(worst.get(o["bound"], 0.0), o["abs_error"])
        if o["true_nats"] - o["nats"] > target and o["bound"] not in short:
            short.append(o["bound"])
    text = (
        "With the exact log density ratio as the critic, the largest |error| over these tasks is "
        + ", ".join(f"{b} {e:.2f}" for b, e in worst.items())
        + " nats."
    )
    if short:
        text += (
            f" {', '.join(short)} falls short of the truth by more than {target:g} nat even there, and no trained"
            " critic does better in expectation: no training reaches the target with it."
        )
    return text


def describe_speed(results_dir: str | Path) -> str:
    """Sentences on the speed comparisons with the peers in ``results_dir`` (``ksg.json``: KSG against
    latentmi's; ``neural.json``: time to a held-out |error| <= 0.1 against torch-mist), read from the files."""
    d = Path(results_dir)
    lines = []
    ksg = speed_table(d / "ksg.json")
    if ksg is None:
        lines.append(_missing(d / "ksg.json") if not (d / "ksg.json").is_file() else "ksg.json: no latentmi rows.")
    else:
        for r in ksg.to_dict("records"):
            path = f" ({r['method']} path)" if isinstance(r.get("method"), str) else ""
            lines.append(
                f"{r['task']}, N = {r['n']}: latentmi {r['latentmi_s']:.3f} s (one thread); seleak{path} "
                f"{r['seleak_s']:.3f} s on one thread (workers=1: latentmi/seleak {r['ratio']:.2f}x), "
                f"{r['seleak_2_threads_s']:.3f} s on two (workers=2: {r['ratio_2_threads']:.2f}x); "
                f"estimates differ by {r['abs_difference']:.1e} nats."
            )
        slopes = json.loads((d / "ksg.json").read_text()).get("log_log_slope") or []
        if slopes:
            fits = [f"{r['dx']}+{r['dy']} {r['current_slope']:.2f} (N = {min(r['ns'])}-{max(r['ns'])})" for r in slopes]
            lines.append(
                "KSG's time against N on one thread (log-log slope; 1 would be linear, 2 quadratic): "
                + ", ".join(fits)
                + "."
            )
    neural = speed_table(d / "neural.json")
    if neural is None:
        lines.append(_missing(d / "neural.json"))
    else:
        for r in neural.to_dict("records"):
            lines.append(_neural_sentence(r))
        data = json.loads((d / "neural.json").read_text())
        if data.get("oracle"):
            lines.append(_oracle_sentence(data["oracle"], float(data["target_abs_error"])))
    return "\n".join(lines)
