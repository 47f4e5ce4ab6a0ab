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
