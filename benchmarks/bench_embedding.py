"""Embedding throughput (images/s) for each default spec, against baselines measured in the same run.

For every spec the benchmark times, on the same images:

* ``embed``      -- ``Embedder.embed`` as the study calls it (batched, inference mode, no cache);
* ``unbatched``  -- the baseline: the same embedder fed one image at a time (``batch_size=1``), i.e. the
                    per-image Python loop that batching replaces;
* ``raw``        -- the bare feature-extractor forward pass on already preprocessed tensors, an upper
                    bound showing what preprocessing and copies cost;
* ``cache_hit``  -- a second ``embed`` call answered from the on-disk cache.

Run: ``python benchmarks/bench_embedding.py [--device cuda] [--repeats 3]``; writes
``benchmarks/results/embedding.json`` and prints ratios against the un-batched baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seleak.data import load_dataset
from seleak.embedding import TrainConfig, get_embedder


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_spec(spec: str, images: np.ndarray, n_unbatched: int, repeats: int, device: str) -> dict:
    t0 = time.perf_counter()
    emb = get_embedder(spec, device=device, train_config=TrainConfig())
    build_s = time.perf_counter() - t0
    n = len(images)
    emb.embed(images[:8], progress=False, cache=False)  # warm-up (allocators, lazy init)
    t_embed = best_time(lambda: emb.embed(images, progress=False, cache=False), repeats)
    sub = images[:n_unbatched]
    t_unb = best_time(lambda: emb.embed(sub, batch_size=1, progress=False, cache=False), repeats)
    with torch.inference_mode():
        x = emb.preprocess(torch.from_numpy(images).to(emb.device).permute(0, 3, 1, 2))
    bs = emb.default_batch_size

    def raw() -> None:
        with torch.inference_mode():
            for s in range(0, n, bs):
                emb.model(x[s : s + bs])

    t_raw = best_time(raw, repeats)
    emb.embed(images, progress=False, cache=True)
    t_hit = best_time(lambda: emb.embed(images, progress=False, cache=True), repeats)
    out = {
        "spec": spec,
        "dim": emb.dim,
        "n_images": n,
        "image_shape": list(images.shape[1:]),
        "batch_size": bs,
        "build_seconds": round(build_s, 3),
        "images_per_s": {
            "embed": n / t_embed,
            "unbatched": n_unbatched / t_unb,
            "raw_forward": n / t_raw,
            "cache_hit": n / t_hit,
        },
    }
    ips = out["images_per_s"]
    out["ratio_vs_unbatched"] = {k: v / ips["unbatched"] for k, v in ips.items()}
    out["embed_fraction_of_raw"] = ips["embed"] / ips["raw_forward"]
    if "train_seconds" in emb.info:
        out["training"] = {
            k: emb.info[k]
            for k in ("train_seconds", "train_accuracy", "test_accuracy", "n_train", "from_cache")
            if k in emb.info
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--specs", nargs="*", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "embedding.json"))
    ap.add_argument(
        "--fresh-cache",
        action="store_true",
        help="use an empty temporary seleak cache (the trained spec is then trained and timed)",
    )
    args = ap.parse_args()
    if args.fresh_cache:
        os.environ["SELEAK_CACHE"] = tempfile.mkdtemp(prefix="seleak-bench-")

    digits = load_dataset("digits", split="test").images  # 359 images 32x32x1
    photos = load_dataset("photos", split="test").images  # 1 008 images 32x32x3
    specs = args.specs or ["trained:digits", "random:small", "random:resnet18", "torchvision:resnet18"]
    results = []
    for spec in specs:
        small = spec.startswith("trained:") or spec == "random:small"
        # ResNet-18 runs at 224x224 (its weights' transforms): far fewer images keep the run short on a CPU
        images = digits if spec.startswith("trained:digits") else photos
        if not small:
            images = images[: (256 if args.device == "cuda" else 32)]
        try:
            r = bench_spec(
                spec, images, n_unbatched=min(len(images), 64 if small else 8), repeats=args.repeats, device=args.device
            )
        except FileNotFoundError as e:  # pretrained weights not in the torch cache: recorded, not fatal
            results.append({"spec": spec, "skipped": str(e).split(".")[0]})
            print(f"{spec:24s} skipped (weights not in the torch cache)")
            continue
        results.append(r)
        ips = r["images_per_s"]
        print(
            f"{spec:24s} embed {ips['embed']:9.1f} img/s | unbatched {ips['unbatched']:8.1f} img/s "
            f"(x{r['ratio_vs_unbatched']['embed']:.1f}) | raw forward {ips['raw_forward']:9.1f} img/s "
            f"(embed = {r['embed_fraction_of_raw']:.0%} of raw) | cache hit {ips['cache_hit']:9.0f} img/s"
        )
    report = {
        "benchmark": "embedding throughput",
        "baseline": "unbatched (batch_size=1) path of the same embedder, same run",
        "device": args.device if args.device != "cuda" else torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from seleak._io import atomic_write_text

    atomic_write_text(out, json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
