"""Ceilings: the most each estimator can report, and what it reports when the dependence is total.

Every estimator has a :meth:`~seleak.estimators.base.Estimator.ceiling`: the largest value it can
return from ``N`` evaluated pairs at its settings, whatever the data (KSG ``psi(N) - psi(k + 1)``, the
histogram ``log M + (M - 1) / (2N)``, InfoNCE ``log`` of its evaluation batch; ``inf`` for the
Gaussian estimator). A number at its estimator's ceiling is not a measurement: the estimator could not
have said more, however much the two sides share. McAllester & Stratos (2020) show the same of any
distribution-free lower bound from ``N`` samples: it cannot certify more than ``O(log N)`` nats.

* :func:`ceiling_table` — the ceilings against ``N``;
* :func:`saturation_table` — each estimator on ``y = x`` (infinite MI for continuous data) next to
  its ceiling: what it reports when the truth is beyond any finite number.

Nothing here knows about images.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from seleak._validation import is_int

from .estimators import Estimator

if TYPE_CHECKING:  # pandas is imported where used
    import pandas as pd

__all__ = ["ceiling_table", "saturation_table"]


def _check_estimators(estimators: Any, where: str) -> dict[str, Estimator]:
    if not isinstance(estimators, Mapping) or not estimators:
        raise ValueError(f"{where}: estimators must be a non-empty mapping label -> estimator, got {estimators!r}")
    for label, est in estimators.items():
        if not isinstance(est, Estimator):
            raise ValueError(
                f"{where}: estimators[{label!r}] must be an estimator, e.g. get_estimator('ksg'), got {est!r}"
            )
    return dict(estimators)


def _check_columns(name: str, value: Any) -> int | None:
    if value is not None and (not is_int(value) or value < 1):
        raise ValueError(f"{name} must be None (any number of columns) or an int >= 1, got {value!r}")
    return None if value is None else int(value)


def ceiling_table(
    estimators: Mapping[str, Estimator],
    n_eval_values: Sequence[int],
    dx: int | None = None,
    dy: int | None = None,
) -> "pd.DataFrame":
    """Each estimator's ceiling (nats) from ``N`` evaluated pairs of ``dx`` and ``dy`` columns (``None``:
    any number): one row per ``N`` in ``n_eval_values``, one column per label of ``estimators``; ``inf``
    where the estimator has no finite ceiling."""
    import pandas as pd

    ests = _check_estimators(estimators, "ceiling_table")
    if isinstance(n_eval_values, (str, bytes)) or not isinstance(n_eval_values, (Sequence, np.ndarray)):
        raise ValueError(f"n_eval_values must be a sequence of ints >= 2, e.g. [100, 1000], got {n_eval_values!r}")
    ns = list(n_eval_values)
    if not ns or any(not is_int(n) or n < 2 for n in ns):
        raise ValueError(f"n_eval_values must be a non-empty sequence of ints >= 2, e.g. [100, 1000], got {ns!r}")
    dx, dy = _check_columns("dx", dx), _check_columns("dy", dy)
    table = {label: [float(est.ceiling(int(n), dx, dy)) for n in ns] for label, est in ests.items()}
    return pd.DataFrame(table, index=pd.Index([int(n) for n in ns], name="N"))


def saturation_table(estimators: Mapping[str, Estimator], n: int = 1000, dim: int = 1, seed: int = 0) -> "pd.DataFrame":
    """Each estimator on an exact copy, ``y = x``, ``x`` ``n`` rows of ``dim`` standard normal columns
    drawn from ``seed``: the true MI is infinite, so every finite answer is the estimator's limit.

    Columns: ``estimator`` (the label), ``estimate`` (nats; NaN when the estimator refuses the pair),
    ``ceiling`` (at the estimate's number of evaluated pairs, ``dim`` columns a side), ``fraction``
    (``estimate / ceiling``; NaN for an infinite ceiling), ``n_eval``, ``is_bound`` and ``refused`` (the
    estimator's message when it refuses an exact copy, e.g. the Gaussian estimator's singular
    covariance; empty otherwise). Neural estimators train with their own settings and seed.
    """
    import pandas as pd

    ests = _check_estimators(estimators, "saturation_table")
    if not is_int(n) or n < 4:
        raise ValueError(f"n must be an int >= 4, e.g. 1000, got {n!r}")
    if not is_int(dim) or dim < 1:
        raise ValueError(f"dim must be an int >= 1, e.g. 1, got {dim!r}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    x = np.random.default_rng(seed).standard_normal((int(n), int(dim)))
    rows = []
    for label, est in ests.items():
        try:
            r = est.estimate(x, x.copy())
            estimate, n_eval, refused = r.nats, r.n_eval, ""
        except ValueError as err:  # an estimator that cannot take an exact copy says so; the table shows it
            # its first clause: the table shows why, the full message is one estimate() call away
            estimate, n_eval, refused = math.nan, int(n), str(err).split(" (")[0].split(";")[0]
        top = float(est.ceiling(n_eval, int(dim), int(dim)))
        fraction = estimate / top if math.isfinite(top) and top > 0 else math.nan
        rows.append(
            dict(
                estimator=label,
                estimate=estimate,
                ceiling=top,
                fraction=fraction,
                n_eval=int(n_eval),
                is_bound=bool(est.is_bound),
                refused=refused,
            )
        )
    return pd.DataFrame(rows).set_index("estimator")
