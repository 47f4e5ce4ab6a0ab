"""Timing helper shared by the benchmarks."""

from __future__ import annotations

import time
from typing import Callable


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``fn``, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def machine_info(**versions: str) -> dict[str, object]:
    """What a result file records about the machine it was measured on: platform, Python, cores, the
    load while it ran (timings on a busy machine are inflated), numpy's version and any ``versions``."""
    import os
    import platform
    import sys

    import numpy as np

    return dict(
        platform=platform.platform(),
        python=sys.version.split()[0],
        cpus=os.cpu_count(),
        load_average=os.getloadavg(),
        numpy=np.__version__,
        **versions,
    )
