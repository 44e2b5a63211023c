# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Visual-Text mutual: update prompts from the image (RTVPNet eq. 11)."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class VisualTextUpdate(BaseModule):
    r"""Add similarity-pooled image features to the text embeddings.

    With image features :math:`F_l` (B, C_l, H_l, W_l) of L levels and text
    embeddings :math:`T` (B, K, D):

    .. math::

        I_l &= P_l(F_l) \in \mathbb{R}^{B \times D \times H_l \times W_l}
            \quad (P_l \text{: a 1x1 conv}) \\
        s_{b,k}(l, p) &= \cos\big(T_{b,k},\, I_{l,b}(p)\big)
            \quad \text{(eq. 11's cosine)} \\
        w_{b,k}(l, p) &= \frac{\exp(s_{b,k}(l, p) / \tau)}
            {\sum_{l'} \sum_{p'} \exp(s_{b,k}(l', p') / \tau)} \\
        T'_{b,k} &= T_{b,k} + \gamma \sum_{l} \sum_{p}
            w_{b,k}(l, p)\, I_{l,b}(p)

    The paper scores every position against the text with the cosine and
    "multiplies the image feature by the similarity score and adds it to the
    text". Used literally (weights = raw cosines summed over all positions),
    the update would grow with the image size and let negative similarities
    subtract features; here the cosines are normalised by a softmax over all
    positions of all levels (temperature :math:`\tau`), i.e. a convex
    combination of the projected image features, weighted by how similar each
    position is to the prompt. The query is the text itself, the keys and
    values the same projected image features: there are no learned Q/K/V
    projections, unlike YOLO-World's image-pooling attention.
    :math:`\gamma` is a learnable scalar initialised small, so the update
    starts close to the identity.

    Padding prompts (all-zero rows of T) stay exactly zero.

    Args:
        in_channels (Sequence[int]): C_l per level.
        text_channels (int): D. Defaults to 512.
        temperature (float): :math:`\tau`. Defaults to 0.1.
        init_scale (float): Initial :math:`\gamma`. Defaults to 0.01.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int = 512,
                 temperature: float = 0.1,
                 init_scale: float = 0.01,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) == 0:
            raise ValueError('VisualTextUpdate: in_channels is empty')
        if temperature <= 0:
            raise ValueError(
                'VisualTextUpdate: temperature must be positive, got '
                f'{temperature}')
        self.in_channels = [int(c) for c in in_channels]
        self.text_channels = text_channels
        self.temperature = float(temperature)
        self.projections = nn.ModuleList(
            nn.Conv2d(c, text_channels, 1) for c in self.in_channels)
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))

    def forward(self, img_feats: Sequence[Tensor],
                txt_feats: Tensor) -> Tensor:
        """Image-guided text update.

        Args:
            img_feats (Sequence[Tensor]): (B, C_l, H_l, W_l) per level.
            txt_feats (Tensor): (B, K, D) text embeddings.

        Returns:
            Tensor: (B, K, D) updated text embeddings.
        """
        if len(img_feats) != len(self.projections):
            raise ValueError(
                f'VisualTextUpdate: expected {len(self.projections)} levels, '
                f'got {len(img_feats)}')
        b = txt_feats.shape[0]
        if txt_feats.dim() != 3 or txt_feats.shape[2] != self.text_channels:
            raise ValueError(
                f'VisualTextUpdate: txt_feats must be (B, K, '
                f'D={self.text_channels}), got {tuple(txt_feats.shape)}')
        if any(f.shape[0] != b for f in img_feats):
            raise ValueError(
                'VisualTextUpdate: batch sizes differ: image '
                f'{[f.shape[0] for f in img_feats]}, text {b}')
        # (B, N, D): the projected positions of all levels
        positions = torch.cat([
            proj(f).flatten(2).transpose(1, 2)
            for proj, f in zip(self.projections, img_feats)
        ], dim=1)
        sim = torch.einsum('bkd,bnd->bkn', F.normalize(txt_feats, dim=-1),
                           F.normalize(positions, dim=-1))
        weights = (sim / self.temperature).softmax(dim=-1)  # (B, K, N)
        pooled = torch.bmm(weights, positions)  # (B, K, D)
        is_prompt = (txt_feats.abs().sum(-1, keepdim=True) > 0).to(
            txt_feats.dtype)
        return txt_feats + self.scale * pooled * is_prompt
