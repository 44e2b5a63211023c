# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Listwise ranking loss: the referent's priors above every other prior."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class ReferentRankLoss(nn.Module):
    r"""Softmax cross-entropy over all priors of an image (grounding).

    For image b with ranking logits :math:`s_{b,n}` over its N priors and
    non-negative target weights :math:`w_{b,n}` (the assigner's alignment
    scores: > 0 on the priors assigned to the referent, 0 elsewhere),

    .. math::

        \mathcal{L}_b = -\sum_n \frac{w_{b,n}}{\sum_m w_{b,m}}
            \log \frac{\exp s_{b,n}}{\sum_m \exp s_{b,m}}

    and the loss is the mean of :math:`\mathcal{L}_b` over the images with
    a positive weight (times ``loss_weight``). Unlike the per-prior BCE of
    the detection head, the softmax makes the priors compete: the loss is
    small only when the referent's priors score above every other prior of
    the image, e.g. the other boxes of the same class, so that the referent
    comes first in the ranking. Without any positive prior in the batch the
    loss is a zero connected to the graph.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor, weights: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): (B, N) ranking logits.
            weights (Tensor): (B, N) non-negative target weights.

        Returns:
            Tensor: Scalar loss.
        """
        if logits.shape != weights.shape or logits.dim() != 2:
            raise ValueError(
                'ReferentRankLoss: logits and weights must both be (B, N), '
                f'got {tuple(logits.shape)} and {tuple(weights.shape)}')
        weights = weights.detach().to(logits.dtype).clamp(min=0)
        total = weights.sum(1)  # (B,)
        valid = total > 0
        if not bool(valid.any()):
            return logits.sum() * 0
        log_prob = F.log_softmax(logits[valid], dim=1)
        target = weights[valid] / total[valid, None]
        per_image = -(target * log_prob).sum(1)
        return self.loss_weight * per_image.mean()
