# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Auxiliary CIoU head on the selected prompt positions (RTVPNet sec. 4.4)."""
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class CIoUAuxHead(BaseModule):
    r"""Box regression from the refined-prompt positions, trained with CIoU.

    The paper's "IoU-based optimization" of the sparse selection: "an
    additional detection head for regression prediction [...] through
    CIoU", whose goal is that the selected positions fall inside the ground
    truth. Per level i (stride :math:`s_i`), a small head
    (3x3 conv -> SiLU -> 1x1 conv to 4) predicts, at every position p with
    centre :math:`c(p) = ((x + 0.5) s_i, (y + 0.5) s_i)` in input pixels,
    the distances to the box sides:

    .. math::

        (l, t, r, b) = s_i \cdot \mathrm{softplus}(\mathrm{head}_i(S_i)(p)),
        \qquad \hat{B}(p) = (c_x - l,\; c_y - t,\; c_x + r,\; c_y + b)

    **Assignment**: a position takes part in the loss iff it is selected
    (keep mask = 1) and its centre lies strictly inside at least one ground
    truth box of its image; its target is the *smallest-area* box that
    contains the centre (ties: the first box). Positions that no box contains
    give no loss (the brief of this module; the head is not asked to push
    them anywhere). The loss is ``loss_bbox`` (by default mmyolo's
    ``IoULoss``, CIoU, xyxy, mean over all assigned positions of the batch
    and all levels). Without any assigned position it is a zero connected
    to the graph.

    The gradient reaches the selection through the prompt S: in training the
    keep mask of :class:`EnergySparsePrompt` carries the straight-through
    gradient of the keep probability.

    Args:
        in_channels (Sequence[int]): C_i of the prompt of each level.
        strides (Sequence[int]): :math:`s_i` of each level.
        feat_channels (int): Hidden channels of each level's head.
            Defaults to 64.
        loss_bbox (dict): Config of the box loss, called as
            ``loss(pred, target)`` on (N, 4) xyxy boxes. Defaults to mmyolo's
            CIoU ``IoULoss`` with ``reduction='mean'``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 strides: Sequence[int],
                 feat_channels: int = 64,
                 loss_bbox: ConfigType = dict(
                     type='IoULoss',
                     iou_mode='ciou',
                     bbox_format='xyxy',
                     reduction='mean',
                     loss_weight=1.0,
                     return_iou=False),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(strides) or len(strides) == 0:
            raise ValueError(
                'CIoUAuxHead: in_channels and strides must list the same '
                f'non-zero number of levels, got {list(in_channels)} and '
                f'{list(strides)}')
        self.in_channels = [int(c) for c in in_channels]
        self.strides = [int(s) for s in strides]
        self.reg_convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c, feat_channels, 3, padding=1), nn.SiLU(),
                nn.Conv2d(feat_channels, 4, 1)) for c in self.in_channels)
        self.loss_bbox = MODELS.build(loss_bbox)

    @staticmethod
    def centers(height: int, width: int, stride: int,
                device: torch.device) -> Tensor:
        """Centres of the cells of a level in input pixels.

        Args:
            height (int): H.
            width (int): W.
            stride (int): Stride of the level.
            device (torch.device): Device of the result.

        Returns:
            Tensor: (H * W, 2) (x, y), row-major.
        """
        ys = (torch.arange(height, device=device, dtype=torch.float32) +
              0.5) * stride
        xs = (torch.arange(width, device=device, dtype=torch.float32) +
              0.5) * stride
        yy, xx = torch.meshgrid(ys, xs, indexing='ij')
        return torch.stack([xx.flatten(), yy.flatten()], dim=-1)

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Decoded boxes at every position.

        Args:
            feats (Sequence[Tensor]): (B, C_i, H_i, W_i) refined prompts.

        Returns:
            list[Tensor]: (B, H_i * W_i, 4) xyxy boxes in input pixels.
        """
        if len(feats) != len(self.reg_convs):
            raise ValueError(
                f'CIoUAuxHead: expected {len(self.reg_convs)} levels, got '
                f'{len(feats)}')
        boxes = []
        for conv, stride, x in zip(self.reg_convs, self.strides, feats):
            b, _, h, w = x.shape
            dist = F.softplus(conv(x)) * stride  # (B, 4, H, W)
            dist = dist.flatten(2).transpose(1, 2)  # (B, HW, 4)
            ctr = self.centers(h, w, stride, x.device).to(dist.dtype)
            boxes.append(torch.cat([ctr - dist[..., :2], ctr + dist[..., 2:]],
                                   dim=-1))
        return boxes

    @staticmethod
    def assign(points: Tensor, gt_bboxes: Tensor) -> Tensor:
        """Smallest ground-truth box strictly containing each point.

        Args:
            points (Tensor): (N, 2) (x, y).
            gt_bboxes (Tensor): (G, 4) xyxy.

        Returns:
            Tensor: (N,) long index into ``gt_bboxes``, -1 where no box
            contains the point.
        """
        if gt_bboxes.numel() == 0:
            return points.new_full((points.shape[0], ), -1, dtype=torch.long)
        x, y = points[:, 0:1], points[:, 1:2]  # (N, 1)
        inside = (x > gt_bboxes[:, 0]) & (x < gt_bboxes[:, 2]) & \
                 (y > gt_bboxes[:, 1]) & (y < gt_bboxes[:, 3])  # (N, G)
        areas = (gt_bboxes[:, 2] - gt_bboxes[:, 0]) * \
                (gt_bboxes[:, 3] - gt_bboxes[:, 1])
        cost = torch.where(inside, areas[None, :].expand_as(inside),
                           torch.full_like(inside, float('inf'),
                                           dtype=areas.dtype))
        best = cost.argmin(dim=1)
        return torch.where(inside.any(dim=1), best, torch.full_like(best, -1))

    def loss(self, feats: Sequence[Tensor], keep_masks: Sequence[Tensor],
             gt_bboxes: Sequence[Tensor]) -> Dict[str, Tensor]:
        """CIoU loss of the selected positions inside ground truth.

        Args:
            feats (Sequence[Tensor]): (B, C_i, H_i, W_i) refined prompts S.
            keep_masks (Sequence[Tensor]): (B, 1, H_i, W_i) keep masks
                (positions with value > 0.5 are selected).
            gt_bboxes (Sequence[Tensor]): B tensors (G_b, 4), xyxy in input
                pixels.

        Returns:
            dict[str, Tensor]: ``loss_rvp_ciou`` (scalar).
        """
        boxes = self.forward(feats)
        batch = feats[0].shape[0]
        if len(gt_bboxes) != batch or len(keep_masks) != len(feats):
            raise ValueError(
                f'CIoUAuxHead: got {len(gt_bboxes)} ground-truth lists and '
                f'{len(keep_masks)} keep masks for a batch of {batch} and '
                f'{len(feats)} levels')
        preds, targets = [], []
        for level_boxes, keep, stride in zip(boxes, keep_masks, self.strides):
            h, w = keep.shape[-2:]
            ctr = self.centers(h, w, stride, keep.device)
            selected = keep.detach().flatten(1) > 0.5  # (B, HW)
            for i in range(batch):
                gts = gt_bboxes[i].to(level_boxes.dtype)
                idx = self.assign(ctr, gts)
                use = selected[i] & (idx >= 0)
                preds.append(level_boxes[i][use])
                targets.append(gts[idx[use]])
        pred = torch.cat(preds)
        if pred.shape[0] == 0:
            zero = sum(b.sum() for b in boxes) * 0.0
            return dict(loss_rvp_ciou=zero)
        loss = self.loss_bbox(pred, torch.cat(targets))
        if isinstance(loss, tuple):  # IoULoss with return_iou=True
            loss = loss[0]
        return dict(loss_rvp_ciou=loss)
