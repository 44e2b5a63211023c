# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Region-text contrastive classifier with L2-normalised embeddings."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class ContrastiveHead(BaseModule):
    r"""Class logits as scaled cosine similarity between regions and texts.

    .. math::

        z_{b,k}(p) = \exp(\tau)\,
            \frac{x_b(p)}{\lVert x_b(p) \rVert}^{\top}
            \frac{t_{b,k}}{\lVert t_{b,k} \rVert} + \beta

    with a learnable logit scale :math:`\tau` (initialised to
    :math:`\log(1 / 0.07)`, CLIP's temperature) and bias :math:`\beta`.
    A zero (padding) text embedding stays zero after normalisation, so its
    logit is exactly :math:`\beta`.

    Args:
        embed_dims (int): D, channels of region and text embeddings.
        init_logit_scale (float): Initial :math:`\tau`.
            Defaults to ``log(1 / 0.07)``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 embed_dims: int,
                 init_logit_scale: float = math.log(1 / 0.07),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.bias = nn.Parameter(torch.zeros([]))
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))

    def normalize_regions(self, x: Tensor) -> Tensor:
        """L2-normalise each position's embedding over channels.

        Args:
            x (Tensor): (B, D, H, W) region embeddings.

        Returns:
            Tensor: (B, D, H, W).
        """
        return F.normalize(x, dim=1, p=2)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """Contrastive logits.

        Args:
            x (Tensor): (B, D, H, W) region embeddings.
            w (Tensor): (B, K, D) text embeddings.

        Returns:
            Tensor: (B, K, H, W) logits.
        """
        if x.shape[1] != self.embed_dims or w.shape[-1] != self.embed_dims:
            raise ValueError(
                f'{type(self).__name__} has embed_dims={self.embed_dims}, got '
                f'region embeddings {tuple(x.shape)} and text embeddings '
                f'{tuple(w.shape)}')
        return self.logits(self.normalize_regions(x), w)

    def logits(self, x: Tensor, w: Tensor) -> Tensor:
        """Contrastive logits of region embeddings already normalised by
        :meth:`normalize_regions` (lets a caller reuse the normalised form
        without normalising twice, e.g. a BatchNorm updating its statistics
        twice).

        Args:
            x (Tensor): (B, D, H, W) normalised region embeddings.
            w (Tensor): (B, K, D) text embeddings.

        Returns:
            Tensor: (B, K, H, W) logits.
        """
        w = F.normalize(w, dim=-1, p=2)
        logits = torch.einsum('bdhw,bkd->bkhw', x, w)
        return logits * self.logit_scale.exp() + self.bias
