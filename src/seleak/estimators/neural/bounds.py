"""The variational bounds and training objectives, on score matrices ``S[..., i, j] = T(x_i, y_j)``.

In a batch of ``B`` pairs the diagonal holds samples of the joint ``P`` and the off-diagonal entries
samples of the product of marginals ``Q``. Every function maps scores ``(..., B, B)`` to one value per
leading index ``(...)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "offdiag_logmeanexp",
    "diag_mean",
    "bound_value",
    "js_fgan",
    "mine_objective",
    "smile_objective",
]


def offdiag_logmeanexp(s: Tensor) -> Tensor:
    """``log`` of the mean of ``e^S`` over the off-diagonal (negative) pairs."""
    b = s.shape[-1]
    eye = torch.eye(b, dtype=torch.bool, device=s.device)
    off = s.masked_fill(eye, float("-inf"))
    return torch.logsumexp(off.flatten(-2), dim=-1) - math.log(b * (b - 1))


def diag_mean(s: Tensor) -> Tensor:
    """Mean score of the positive pairs ``E_P[T]``."""
    return torch.diagonal(s, dim1=-2, dim2=-1).mean(-1)


def bound_value(kind: str, s: Tensor, clip: float | None = None) -> Tensor:
    """The reported value of a bound (``kind``: an estimator name) on score matrices ``s`` (..., B, B) -> (...)."""
    if kind == "infonce":
        b = s.shape[-1]
        return (torch.diagonal(s, dim1=-2, dim2=-1) - torch.logsumexp(s, dim=-1)).mean(-1) + math.log(b)
    if kind == "nwj":
        return diag_mean(s) - torch.exp(offdiag_logmeanexp(s) - 1.0)
    if kind == "mine":
        return diag_mean(s) - offdiag_logmeanexp(s)
    if kind == "smile":
        neg = s if clip is None else torch.clamp(s, -clip, clip)
        return diag_mean(s) - offdiag_logmeanexp(neg)
    raise ValueError(kind)


def js_fgan(s: Tensor) -> Tensor:
    """Jensen–Shannon f-GAN objective (SMILE's training objective)."""
    b = s.shape[-1]
    eye = torch.eye(b, dtype=torch.bool, device=s.device)
    pos = -torch.nn.functional.softplus(-torch.diagonal(s, dim1=-2, dim2=-1)).mean(-1)
    neg = torch.nn.functional.softplus(s).masked_fill(eye, 0.0).sum((-2, -1)) / (b * (b - 1))
    return pos - neg


def mine_objective(s: Tensor, state: dict[str, Tensor], rate: float) -> Tensor:
    """MINE's training objective: the DV bound whose partition-term gradient is divided by a moving
    average of ``E_Q[e^T]`` (rate ``rate``) instead of the biased mini-batch mean.

    ``state`` carries the moving average from one step to the next (empty before the first step).
    """
    lme = offdiag_logmeanexp(s)  # log of the batch mean of e^T over negatives
    cur = lme.detach()
    if "log_ema" not in state:
        state["log_ema"] = cur.clone()
    else:  # the moving average of E_Q[e^T], kept in log space (no overflow)
        state["log_ema"] = torch.logaddexp(state["log_ema"] + math.log1p(-rate), cur + math.log(rate))
        state["log_ema"] = torch.where(torch.isfinite(state["log_ema"]), state["log_ema"], cur)
    # d/dθ of exp(lme - log_ema) = grad E_Q[e^T] / EMA: MINE's bias-corrected gradient of log E_Q[e^T]
    return diag_mean(s) - torch.exp(lme - state["log_ema"])


def smile_objective(s: Tensor, clip: float | None) -> Tensor:
    """SMILE's training objective: the value of the clipped DV bound with the gradient of JS (Song &
    Ermon's implementation), ``js + (dv - js).detach()``."""
    js = js_fgan(s)
    return js + (bound_value("smile", s, clip) - js).detach()
