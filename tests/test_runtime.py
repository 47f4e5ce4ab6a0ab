"""seleak._runtime: the thread limits restore what they change, and cap seleak's own thread pools."""

from __future__ import annotations

import torch

from seleak._runtime import limit_threads, thread_budget
from seleak.estimators.ksg import resolve_workers


def test_openmp_limit_caps_the_thread_budget_and_restores_it():
    outside = thread_budget()
    assert outside >= 1 and resolve_workers(None) == outside
    was = torch.get_num_threads()
    with limit_threads(1, openmp=True):  # what a study cell runs under
        assert thread_budget() == 1 and resolve_workers(None) == 1  # KSG's default: one thread
        with limit_threads(3, openmp=True):
            assert thread_budget() == 3
        assert thread_budget() == 1
    with limit_threads(1):  # BLAS and torch only: the budget is not capped
        assert thread_budget() == outside
    assert thread_budget() == outside and torch.get_num_threads() == was


def test_overlapping_torch_limits_restore_the_setting_before_them():
    """Two limits that overlap and end in the order they began (A in, B in, A out, B out), as two threads
    doing KSG's brute force at once do: the value before them comes back, not A's limit. Driven from
    one thread so that the order is exact (torch's count is read where it was set)."""
    import torch

    from seleak._runtime import limit_threads

    before = torch.get_num_threads()
    a, b = limit_threads(before + 1, blas=False), limit_threads(before + 1, blas=False)
    a.__enter__()
    b.__enter__()
    assert torch.get_num_threads() == before + 1
    a.__exit__(None, None, None)
    assert torch.get_num_threads() == before + 1  # B is still inside its limit
    b.__exit__(None, None, None)
    assert torch.get_num_threads() == before
