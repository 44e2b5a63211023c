# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exemplar prompts: a box on a reference image -> a class embedding."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType
from torch import Tensor

from mmioc_rtvp.registry import MODELS


def box_masks(boxes: Tensor, height: int, width: int, stride: float) -> Tensor:
    """Rasterise boxes to the cells of a feature map.

    A cell belongs to a box when its centre lies inside the box; the cell
    holding the box centre always belongs to it, so a box smaller than a
    cell still covers one cell.

    Args:
        boxes (Tensor): (N, 4) xyxy boxes in input pixels.
        height (int): H of the map.
        width (int): W of the map.
        stride (float): Input pixels per cell.

    Returns:
        Tensor: (N, H, W) bool masks.
    """
    ys = (torch.arange(height, device=boxes.device) + 0.5) * stride
    xs = (torch.arange(width, device=boxes.device) + 0.5) * stride
    x1, y1, x2, y2 = (boxes[:, i, None, None] for i in range(4))
    inside = ((xs[None, None, :] >= x1) & (xs[None, None, :] <= x2)
              & (ys[None, :, None] >= y1) & (ys[None, :, None] <= y2))
    cx = ((boxes[:, 0] + boxes[:, 2]) / 2 / stride).long().clamp(0, width - 1)
    cy = ((boxes[:, 1] + boxes[:, 3]) / 2 / stride).long().clamp(0, height - 1)
    inside[torch.arange(boxes.shape[0], device=boxes.device), cy, cx] = True
    return inside


@MODELS.register_module()
class ExemplarPromptEncoder(nn.Module):
    """Masked attention pooling of a box into the text-embedding space.

    The neck's input levels (the detector's own image features, before any
    text enters) are mapped to ``feat_channels`` and summed at the finest
    level (stride ``strides[0]``); a second branch, which also sees the box
    mask, gives ``num_groups`` attention maps. Each map is soft-maxed over
    the cells inside the box only and pools its group of
    ``feat_channels // num_groups`` channels; the pooled groups are
    concatenated, projected to the text width ``embed_dims`` and
    L2-normalised, so the result can stand wherever a text embedding
    stands (the ``text_feats`` input, the T-V neck, the V-T update)::

        F   = sum_i up(phi_i(X_i))              (B, C_f, H_0, W_0)
        A   = psi([sum_i up(chi_i(X_i)), m])    (N, G, H_0, W_0)
        a_g = softmax over {m = 1} of A_g
        e   = normalize(W [sum_p a_g(p) F_g(p)]_g)       (N, D)

    Args:
        in_channels (Sequence[int]): Channels of the neck input levels.
        strides (Sequence[int]): Their strides (finest first).
        embed_dims (int): D, the text embedding width.
        feat_channels (int): C_f, the pooled width. Defaults to 128.
        num_groups (int): G attention maps; divides ``feat_channels``.
            Defaults to 8.
        norm_cfg (dict): Norm of the conv layers.
        act_cfg (dict): Activation of the conv layers.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 strides: Sequence[int],
                 embed_dims: int,
                 feat_channels: int = 128,
                 num_groups: int = 8,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True)
                 ) -> None:
        super().__init__()
        if len(in_channels) != len(strides):
            raise ValueError(f'ExemplarPromptEncoder: {len(in_channels)} '
                             f'levels of channels, {len(strides)} strides')
        if feat_channels % num_groups:
            raise ValueError(f'ExemplarPromptEncoder: num_groups '
                             f'{num_groups} does not divide feat_channels '
                             f'{feat_channels}')
        self.in_channels = list(in_channels)
        self.strides = list(strides)
        self.embed_dims = embed_dims
        self.feat_channels = feat_channels
        self.num_groups = num_groups
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.feat_convs = nn.ModuleList(
            ConvModule(c, feat_channels, 1, **conv) for c in in_channels)
        self.attn_convs = nn.ModuleList(
            ConvModule(c, feat_channels, 1, **conv) for c in in_channels)
        self.attn_out = nn.Sequential(
            ConvModule(feat_channels + 1, feat_channels, 3, padding=1,
                       **conv),
            nn.Conv2d(feat_channels, num_groups, 1))
        self.proj = nn.Linear(feat_channels, embed_dims)

    @staticmethod
    def _sum_at_finest(feats: Sequence[Tensor],
                       convs: nn.ModuleList) -> Tensor:
        """sum_i up(conv_i(X_i)) at the first level's size."""
        size = feats[0].shape[-2:]
        out = 0
        for x, conv in zip(feats, convs):
            y = conv(x)
            if y.shape[-2:] != size:
                y = F.interpolate(
                    y, size=size, mode='bilinear', align_corners=False)
            out = out + y
        return out

    def forward(self, feats: Sequence[Tensor], boxes: Tensor,
                batch_idx: Tensor) -> Tensor:
        """Embeddings of N exemplar boxes.

        Args:
            feats (Sequence[Tensor]): Neck inputs (B, C_i, H_i, W_i).
            boxes (Tensor): (N, 4) xyxy boxes in input pixels.
            batch_idx (Tensor): (N,) image of each box.

        Returns:
            Tensor: (N, D) unit embeddings.
        """
        if len(feats) != len(self.in_channels):
            raise ValueError(f'ExemplarPromptEncoder: expected '
                             f'{len(self.in_channels)} feature levels, got '
                             f'{len(feats)}')
        n = boxes.shape[0]
        if n == 0:
            return feats[0].new_zeros(0, self.embed_dims)
        fused = self._sum_at_finest(feats, self.feat_convs)  # (B, C, H, W)
        guide = self._sum_at_finest(feats, self.attn_convs)
        _, c, h, w = fused.shape
        masks = box_masks(boxes, h, w, self.strides[0])  # (N, H, W)
        batch_idx = batch_idx.long()
        logits = self.attn_out(
            torch.cat([guide[batch_idx], masks[:, None].to(guide.dtype)],
                      dim=1))  # (N, G, H, W)
        logits = logits.flatten(2).masked_fill(
            ~masks.flatten(1)[:, None], float('-inf'))
        attn = logits.softmax(dim=-1)  # (N, G, HW)
        values = fused[batch_idx].flatten(2).view(
            n, self.num_groups, c // self.num_groups, h * w)
        pooled = torch.einsum('ngp,ngcp->ngc', attn, values).reshape(n, c)
        return F.normalize(self.proj(pooled), dim=-1)
