"""How seleak computes: thread limits and seeded torch random numbers, one mechanism each.

Threads matter twice. For speed: the estimators' matrices are small, and once torch has run in a
process its OpenMP workers keep spinning and starve multi-threaded BLAS (a 1000x128 SVD took 2.2 s
instead of 0.03 s). For reproducibility: a convolution's gradient is summed in another order with
another thread count, so training always runs on a fixed count.
"""

from __future__ import annotations

import contextlib
import os
import threading
from contextvars import ContextVar
from typing import Iterator

_BLAS_CONTROLLER = None
# The cap set by an enclosing ``limit_threads(n, openmp=True)``; None: no cap.
_THREAD_CAP: ContextVar[int | None] = ContextVar("seleak_thread_cap", default=None)

# torch's thread count is one process-wide value. Overrides that overlap in time (several threads each in
# a ``limit_threads``) are kept in entry order; leaving one sets the newest remaining override, or the
# value before the first when none remains. A plain save-and-restore would let two threads leaving in
# the order they entered leave the first one's limit behind.
_TORCH_LOCK = threading.Lock()
_TORCH_OVERRIDES: list[tuple[object, int]] = []
_TORCH_BEFORE: list[int] = []


def _torch_override(n: int) -> object:
    import torch

    token = object()
    with _TORCH_LOCK:
        if not _TORCH_OVERRIDES:
            _TORCH_BEFORE[:] = [torch.get_num_threads()]
        _TORCH_OVERRIDES.append((token, n))
        torch.set_num_threads(n)
    return token


def _torch_release(token: object) -> None:
    import torch

    with _TORCH_LOCK:
        _TORCH_OVERRIDES[:] = [o for o in _TORCH_OVERRIDES if o[0] is not token]
        torch.set_num_threads(_TORCH_OVERRIDES[-1][1] if _TORCH_OVERRIDES else _TORCH_BEFORE[0])


def thread_budget() -> int:
    """Threads seleak's own thread pools may use here (the KSG estimator's, with ``workers=None``).

    Inside ``limit_threads(n, openmp=True)`` (what a study cell runs under, so that cells running in
    parallel processes do not oversubscribe the cores) it is ``n``; otherwise every core this process
    may run on.
    """
    cap = _THREAD_CAP.get()
    if cap is not None:
        return cap
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def limit_threads(n: int | None = 1, *, torch: bool = True, blas: bool = True, openmp: bool = False) -> Iterator[None]:
    """Run torch's intra-op kernels and/or numpy's BLAS on ``n`` threads (``None``: leave them),
    restoring the caller's settings afterwards.

    The BLAS controller (which scans the loaded libraries) is built once, so entering costs
    microseconds. ``openmp=True`` caps every native pool, OpenMP ones included, from a fresh scan: what a
    worker running a whole study cell (libraries loaded since the last scan included) wants; it also
    caps seleak's own thread pools (:func:`thread_budget`).
    """
    global _BLAS_CONTROLLER
    with contextlib.ExitStack() as stack:
        if n is not None and openmp:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=n))
            stack.callback(_THREAD_CAP.reset, _THREAD_CAP.set(n))
        elif n is not None and blas:
            from threadpoolctl import ThreadpoolController

            if _BLAS_CONTROLLER is None:
                _BLAS_CONTROLLER = ThreadpoolController()
            stack.enter_context(_BLAS_CONTROLLER.limit(limits=n, user_api="blas"))
        if n is not None and torch:
            stack.callback(_torch_release, _torch_override(n))
        yield


@contextlib.contextmanager
def seeded(seed: int, deterministic: bool = False) -> Iterator[None]:
    """Seed torch's global RNGs (and, if asked, force deterministic kernels), restoring both afterwards.

    A library must not leave global state changed behind the caller's back, hence fork_rng. The CPU
    kernels used here are deterministic already (a test checks bitwise-equal training runs), and
    ``use_deterministic_algorithms`` costs a multi-second import of torch._inductor, so it is switched
    on only for CUDA, where cuDNN would otherwise pick non-deterministic algorithms.
    """
    import torch

    was = torch.are_deterministic_algorithms_enabled()
    was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if not deterministic:
            yield
            return
        try:
            # warn_only: a CUDA op without a deterministic kernel should not make training impossible
            torch.use_deterministic_algorithms(True, warn_only=True)
            yield
        finally:
            torch.use_deterministic_algorithms(was, warn_only=was_warn)
