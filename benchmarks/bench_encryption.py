"""Throughput of selective encryption against raw pycryptodome AES-CTR on the same bytes.

    python benchmarks/bench_encryption.py [--mib 64] [--repeats 3]

Baseline: ``AES.new(key, MODE_CTR).encrypt(data)`` over the same number of bytes, timed in the
same run (best of ``--repeats``). Target: ``BitPlanes.msb(3)`` at >= 0.7x the baseline's
throughput. Writes ``benchmarks/results/encryption.json``.
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
from _timing import best_of  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from Crypto.Cipher import AES

from seleak._io import atomic_write_text
from seleak.encryption import DCT, BitPlanes, Full, Region, decrypt, encrypt

TARGET = 0.7


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=64, help="MiB of images to encrypt (default 64)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--side", type=int, default=256, help="images are side x side x 3")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "encryption.json"))
    args = ap.parse_args(argv)

    per_image = args.side * args.side * 3
    n = max(1, (args.mib << 20) // per_image)
    images = np.random.default_rng(0).integers(0, 256, (n, args.side, args.side, 3), dtype=np.uint8)
    nbytes = images.nbytes
    key = os.urandom(16)
    data = images.tobytes()

    raw = best_of(lambda d=data: AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=0).encrypt(d), args.repeats)
    del data  # 64 MiB: free it before the encryption runs
    rows = {"raw_aes_ctr": {"seconds": raw, "mib_per_s": nbytes / raw / 2**20, "ratio": 1.0}}
    schemes = {
        "msb:3": BitPlanes.msb(3),
        "full": Full(),
        "lsb:2": BitPlanes.lsb(2),
        "region:center:0.25": Region.centered(0.25),
    }
    for name, scheme in schemes.items():
        t = best_of(lambda: encrypt(images, key, scheme), args.repeats)
        rows[name] = {"seconds": t, "mib_per_s": nbytes / t / 2**20, "ratio": raw / t}
    ct = encrypt(images, key, BitPlanes.msb(3))
    t = best_of(lambda c=ct: decrypt(c, key), args.repeats)
    rows["decrypt msb:3"] = {"seconds": t, "mib_per_s": nbytes / t / 2**20, "ratio": raw / t}
    del ct
    # the DCT scheme is a transform, not a cipher pass: reported for scale on a smaller batch
    small = images[: max(1, n // 16)]
    t = best_of(lambda: encrypt(small, key, DCT(50, True, 8)), 1)
    rows["dct:q50:dc+ac8 (1/16 of the data)"] = {
        "seconds": t,
        "mib_per_s": small.nbytes / t / 2**20,
        "ratio": (raw * small.nbytes / nbytes) / t,
    }

    print(f"{n} images of {args.side}x{args.side}x3 = {nbytes / 2**20:.1f} MiB; best of {args.repeats}")
    print(f"{'scheme':38s} {'seconds':>9s} {'MiB/s':>9s} {'x raw AES-CTR':>14s}")
    for name, r in rows.items():
        print(f"{name:38s} {r['seconds']:9.4f} {r['mib_per_s']:9.1f} {r['ratio']:14.2f}")
    ratio = rows["msb:3"]["ratio"]
    ok = ratio >= TARGET
    print(f"BitPlanes.msb(3) / raw AES-CTR = {ratio:.2f}x (target >= {TARGET}x): {'PASS' if ok else 'FAIL'}")
    result = {
        "benchmark": "encryption",
        "baseline": "pycryptodome AES.new(key, MODE_CTR).encrypt(data), same bytes, same run",
        "mib": nbytes / 2**20,
        "n_images": n,
        "image_shape": [args.side, args.side, 3],
        "repeats": args.repeats,
        "target_ratio": TARGET,
        "msb3_ratio": ratio,
        "pass": ok,
        "results": rows,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "numpy": np.__version__,
        },
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
