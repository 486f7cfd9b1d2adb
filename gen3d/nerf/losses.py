"""Regularisers of the NeRF's rendered opacity (the trainer owns their weights)."""

from __future__ import annotations

import torch
from torch import Tensor


def sparsity_loss(opacity: Tensor, eps: float = 1e-5) -> Tensor:
    """Mean binary entropy of per-pixel opacity, any shape -> scalar (nats).

    ``-(o log o + (1 - o) log(1 - o))`` pushes each pixel toward fully empty or fully opaque, which
    removes the semi-transparent fog SDS likes to grow (REFERENCE.md: weight ~5e-4). The opacity is
    clamped to ``[eps, 1 - eps]`` so the log and its gradient stay finite at 0 and 1.
    """
    o = opacity.clamp(eps, 1 - eps)
    return -(o * torch.log(o) + (1 - o) * torch.log1p(-o)).mean()
