# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""InfoNCE region-text matching loss (RTVPNet head, DESIGN §3.8)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class InfoNCERegionTextLoss(nn.Module):
    """Contrast each positive region embedding with its image's prompts.

    For region ``i`` of image ``b`` with class ``y_i`` (an index into that
    image's vocabulary of K prompts)::

        l_i = -log( exp(cos(r_i, t_{b,y_i}) / tau)
                    / sum_{k valid} exp(cos(r_i, t_{b,k}) / tau) )

    and the loss is ``loss_weight * sum_i w_i l_i / max(sum_i w_i, eps)``.
    Padding prompts (all-zero text embeddings, see the text encoders) are left
    out of the denominator; a region whose own prompt is padding is an error.

    Args:
        temperature (float): ``tau``. Defaults to 0.07 (CLIP's).
        loss_weight (float): Multiplier. Defaults to 1.0.
        eps (float): Floor of the weight sum. Defaults to 1e-6.
    """

    def __init__(self,
                 temperature: float = 0.07,
                 loss_weight: float = 1.0,
                 eps: float = 1e-6) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self,
                region_embeds: Tensor,
                text_embeds: Tensor,
                batch_idx: Tensor,
                labels: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Loss over N positive regions of a batch.

        Args:
            region_embeds (Tensor): (N, D) region embeddings.
            text_embeds (Tensor): (B, K, D) text embeddings per image.
            batch_idx (Tensor): (N,) image index of each region.
            labels (Tensor): (N,) class of each region in its image's
                vocabulary.
            weight (Tensor, optional): (N,) per-region weights (e.g. the
                task-aligned assigner's scores). Defaults to all ones.

        Returns:
            Tensor: Scalar loss (0, still in the graph, when N == 0).
        """
        if region_embeds.numel() == 0:
            return region_embeds.sum() * 0 + text_embeds.sum() * 0
        texts = text_embeds[batch_idx]  # (N, K, D)
        valid = texts.abs().sum(-1) > 0  # (N, K)
        own_valid = valid.gather(1, labels[:, None]).squeeze(1)
        if not bool(own_valid.all()):
            raise ValueError('InfoNCERegionTextLoss: a region is labelled '
                             'with a padding prompt (all-zero text)')
        logits = torch.einsum('nd,nkd->nk', F.normalize(region_embeds, dim=-1),
                              F.normalize(texts, dim=-1)) / self.temperature
        logits = logits.masked_fill(~valid, float('-inf'))
        per_region = F.cross_entropy(logits, labels, reduction='none')
        if weight is None:
            weight = torch.ones_like(per_region)
        loss = (per_region * weight).sum() / weight.sum().clamp(min=self.eps)
        return self.loss_weight * loss
