"""The whole pipeline (encrypt -> embed -> measure_leakage) against an exactly known MI.

Run on demand (not in CI):  python benchmarks/bench_pipeline_ground_truth.py [--reps 100] [--jobs 2]

Data: the synthetic ``"patterns"`` design (:mod:`seleak.data.patterns`): 2 x 2 cells, each one of 4
fixed patterns, symbols i.i.d. uniform. Every repetition draws its own ``--n`` images
(``generate_patterns``, seed ``1_000_000 + rep``), encrypts them under its own key (AES-CTR, nonces
from ``seed=rep``), embeds plain and cipher images with one fixed random-weight CNN (``random:small``,
seed 0: the function ``f``) and runs :func:`seleak.leakage.measure_leakage` with each pipeline below.

What ``lower_bound`` is a lower confidence bound of: the held-out rows are i.i.d. draws of
``(X, SE(X))`` with ``X`` from the *design* distribution (uniform over the 256 images) and a fresh
keystream, and the critic and the projection are fitted on other rows, so each held-out batch value
has a mean ``<= I(g(f(X)); h(f(SE(X))))`` (``g, h`` the fitted projections) ``<= I(X; SE(X))`` by data
processing. The truth is therefore ``patterns_truth(scheme)``, the exact ``I(X; SE(X))`` of the design,
and the bound should miss it (``lower_bound > truth``) in at most ``1 - bound_level`` = 5 % of the
repetitions. The *upper bound* is what the study reports next to it: ``image_level_mi`` of the sample,
``H(clear part)`` of the ``--n`` images drawn. For the schemes here the clear part of every cell is
uniform on its support, so the sample's ``H`` is at most the design's (``<= log`` of the support):
``lower_bound <= upper bound`` is the stricter check of the two, and its misses are reported too.

Schemes (truth in nats; the batch ceiling of the bounds is ``log 50 = 3.9`` for the Gaussian critic
and ``log 25 = 3.2`` for the InfoNCE critic, so a bound *can* exceed every truth here):

* ``full``: 0; every positive lower bound is a miss;
* ``one-cell``: ``region:box:0,16,32,32+16,0,32,16`` (three cells encrypted, the top-left one in the
  clear): ``log 4 = 1.386``;
* ``msb-2``: ``lsb:6`` (the two most significant planes in the clear, which tell the pair of patterns
  of each cell): ``4 log 2 = 2.773``.

Pipelines: the study's representation (CCA to 2+2, fitted on half of the rows) with the Gaussian
estimator (its lower bound: InfoNCE of a fitted Gaussian critic, 10 held-out batches), and CCA to 4+4
with the InfoNCE estimator (its own critic, one training seed, 5 held-out batches). Permutations are
few (19) and there is no bootstrap interval: neither is what is checked here.

Per (scheme, pipeline): the truth, the label's share ``patterns_label_truth``, the mean upper bound,
the mean estimate and lower bound, the fraction of repetitions with ``lower_bound <= truth`` with its
Clopper-Pearson 95 % interval, and the number with ``lower_bound > upper bound``. Results go to
``benchmarks/results/pipeline_ground_truth.json`` (written atomically); a table is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from _timing import machine_info  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from joblib import Parallel, delayed

from seleak._io import atomic_write_text
from seleak.data.patterns import generate_patterns
from seleak.embedding import get_embedder
from seleak.encryption import encrypt
from seleak.leakage import measure_leakage
from seleak.metrics import image_level_mi, patterns_label_truth, patterns_truth
from seleak.stats import clopper_pearson

OUT = Path(__file__).resolve().parent / "results" / "pipeline_ground_truth.json"
N_IMAGES = 1000
EMBEDDER = "random:small"
BOUND_LEVEL = 0.95
PERMUTATIONS = 19
#: name -> scheme spec
SCHEMES = {
    "full": "full",
    "one-cell": "region:box:0,16,32,32+16,0,32,16",
    "msb-2": "lsb:6",
}
#: name -> (estimator, settings, projection, dim)
PIPELINES: dict[str, tuple[str, dict[str, Any], str, int]] = {
    "gaussian-cca2": ("gaussian", {}, "cca", 2),
    "infonce-cca4": ("infonce", {"steps": 600, "batch_size": 128, "eval_batch_size": 25}, "cca", 4),
}


def rep_key(rep: int) -> bytes:
    """The AES key of repetition ``rep``: distinct per repetition, reproducible."""
    return hashlib.sha256(b"seleak pipeline ground truth key %d" % rep).digest()[:16]


def repetition(scheme: str, rep: int, n: int, bound_level: float = BOUND_LEVEL) -> dict[str, dict[str, float]]:
    """One repetition of every pipeline on scheme ``scheme``: pipeline -> estimate, lower bound and the
    sample's upper bound (nats)."""
    import torch

    torch.set_num_threads(1)  # one worker per core: more threads per worker only contend
    images, _ = generate_patterns(n, seed=1_000_000 + rep)
    upper = image_level_mi(images, scheme).nats
    cipher = encrypt(images, rep_key(rep), scheme, seed=rep).images
    emb = get_embedder(EMBEDDER, seed=0)
    zx = emb.embed(images, progress=False, cache=False)
    zy = emb.embed(cipher, progress=False, cache=False)
    out = {}
    for name, (est, settings, projection, dim) in PIPELINES.items():
        r = measure_leakage(
            zx, zy, est, settings, projection=projection, dim=dim, permutations=PERMUTATIONS, n_boot=0,
            neural_seeds=1, bound_level=bound_level, seed=rep,
        )  # fmt: skip
        out[name] = {"nats": r.nats, "lower_bound": r.lower_bound, "upper_bound": upper}
    return out


def run_reps(scheme: str, reps: list[int], n: int) -> list[dict[str, dict[str, float]]]:
    return [repetition(scheme, rep, n) for rep in reps]


def summarise(scheme_name: str, pipeline: str, rows: list[dict[str, float]]) -> dict[str, Any]:
    spec = SCHEMES[scheme_name]
    truth = patterns_truth(spec)
    lb = np.array([r["lower_bound"] for r in rows])
    upper = np.array([r["upper_bound"] for r in rows])
    nats = np.array([r["nats"] for r in rows])
    reps = len(rows)
    # a NaN bound (too few rows) certifies nothing: it counts as holding
    held = int(np.sum(~(lb > truth)))
    held_upper = int(np.sum(~(lb > upper)))
    return dict(
        scheme=scheme_name,
        spec=spec,
        pipeline=pipeline,
        truth_nats=truth,
        label_truth_nats=patterns_label_truth(spec),
        upper_bound_mean=float(upper.mean()),
        upper_bound_min=float(upper.min()),
        estimate_mean=float(np.mean(nats)),
        estimate_sd=float(np.std(nats, ddof=1)) if reps > 1 else float("nan"),
        estimate_above_truth=int(np.sum(nats > truth)),
        lower_bound_mean=float(np.nanmean(lb)),
        lower_bound_max=float(np.nanmax(lb)),
        lower_bound_nan=int(np.sum(np.isnan(lb))),
        reps=reps,
        lb_le_truth=held,
        lb_le_truth_fraction=held / reps,
        lb_le_truth_cp95=list(clopper_pearson(held, reps, 0.95)),
        lb_gt_upper_bound=reps - held_upper,
        lb_le_upper_bound_always=held_upper == reps,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100, help="repetitions per scheme")
    ap.add_argument("--n", type=int, default=N_IMAGES, help="images per repetition")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = []
    print(
        f"{'scheme':9s} {'pipeline':14s} {'truth':>6s} {'upper':>6s} {'est':>6s} {'LB':>6s} {'LB max':>6s} "
        f"{'LB<=truth':>9s} {'CP 95 %':>15s} {'LB>upper':>8s}"
    )
    for scheme_name, spec in SCHEMES.items():
        chunks = [list(range(j, args.reps, args.jobs)) for j in range(args.jobs)]
        parts = Parallel(n_jobs=args.jobs)(delayed(run_reps)(spec, c, args.n) for c in chunks if c)
        rows = [row for part in parts for row in part]
        for pipeline in PIPELINES:
            r = summarise(scheme_name, pipeline, [row[pipeline] for row in rows])
            results.append(r)
            lo, hi = r["lb_le_truth_cp95"]
            print(
                f"{scheme_name:9s} {pipeline:14s} {r['truth_nats']:6.3f} {r['upper_bound_mean']:6.3f} "
                f"{r['estimate_mean']:6.3f} {r['lower_bound_mean']:6.3f} {r['lower_bound_max']:6.3f} "
                f"{r['lb_le_truth_fraction']:9.3f} [{lo:.3f}, {hi:.3f}] {r['lb_gt_upper_bound']:8d}",
                flush=True,
            )
    report = dict(
        machine=machine_info(),
        settings=dict(
            reps=args.reps,
            jobs=args.jobs,
            n_images=args.n,
            embedder=EMBEDDER,
            bound_level=BOUND_LEVEL,
            permutations=PERMUTATIONS,
            schemes=SCHEMES,
            pipelines={k: dict(estimator=e, settings=s, projection=p, dim=d) for k, (e, s, p, d) in PIPELINES.items()},
        ),
        columns=dict(
            truth_nats="patterns_truth(scheme): exact I(X; SE(X)) for X uniform over the design",
            label_truth_nats="patterns_label_truth(scheme): exact I(label; SE(X))",
            upper_bound_mean="mean over repetitions of image_level_mi(sample, scheme): H(clear part) of the sample",
            estimate_mean="mean point estimate (nats); a point estimate is not a bound and may exceed the truth",
            estimate_above_truth="repetitions whose point estimate exceeds the truth",
            lb_le_truth_fraction="fraction of repetitions with lower_bound <= truth (nominal >= bound_level)",
            lb_le_truth_cp95="Clopper-Pearson 95 % interval of that fraction",
            lb_gt_upper_bound="repetitions with lower_bound > the sample's upper bound",
        ),
        results=results,
    )
    report["total_s"] = time.perf_counter() - t0
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out} ({report['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
