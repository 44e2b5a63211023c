# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""RTVPNet head for visual grounding: YOLOv8 losses plus a ranking loss."""
from typing import Dict, Sequence

import torch
from mmdet.utils import InstanceList, OptConfigType, OptInstanceList
from mmengine.dist import get_dist_info
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .rtvp_head import RTVPHead


@MODELS.register_module()
class RTVPGroundingHead(RTVPHead):
    """:class:`RTVPHead` for one referring expression per image.

    The vocabulary of every image is its expression (K = 1) and the ground
    truth its one referent box (label 0). The parent's losses then are the
    paper's grounding losses (sec. 4.7): the refined visual-text features of
    every pyramid level regress boxes, trained with CIoU (``loss_bbox``) and
    DFL on the priors the task-aligned assigner gives the referent, and the
    per-prior BCE (``loss_cls``) scores them. This head adds
    ``loss_rank`` (:class:`ReferentRankLoss`), a softmax over all priors of
    the image on the same logits, so that the referent's priors outrank the
    other boxes, e.g. the other instances of the same class that the
    expression's attribute rules out. At inference the boxes are ranked by
    that score (:class:`RTVPNetGrounding`).

    The positives are those of the YOLOv8 losses: the assigner runs once,
    in the parent's ``loss_by_feat``, and its result is recorded. Like
    mmyolo's losses, ``loss_rank`` is multiplied by the number of images
    and the world size.

    Args:
        loss_rank (dict, optional): Config of the ranking loss; None
            disables it. Defaults to ``ReferentRankLoss`` with weight 1.0.
        **kwargs: Arguments of :class:`RTVPHead` (the grounding configs set
            ``loss_region_text=None``: InfoNCE over a single prompt is
            constant).
    """

    def __init__(self,
                 *args,
                 loss_rank: OptConfigType = dict(
                     type='ReferentRankLoss', loss_weight=1.0),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_rank = (
            MODELS.build(loss_rank) if loss_rank is not None else None)

    @staticmethod
    def flatten_logits(cls_scores: Sequence[Tensor]) -> Tensor:
        """The one prompt's logits in the order of the flattened priors.

        Args:
            cls_scores (Sequence[Tensor]): (B, 1, H_i, W_i) per level.

        Returns:
            Tensor: (B, N), N = sum_i H_i W_i, level by level, row-major.
        """
        if any(s.shape[1] != 1 for s in cls_scores):
            raise ValueError(
                'RTVPGroundingHead: one expression per image (K = 1) is '
                f'expected, got K = {cls_scores[0].shape[1]}')
        return torch.cat([s.flatten(1) for s in cls_scores], dim=1)

    def loss_by_feat(
            self,
            cls_scores: Sequence[Tensor],
            bbox_preds: Sequence[Tensor],
            bbox_dist_preds: Sequence[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: Sequence[dict],
            batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, Tensor]:
        """The parent's losses and ``loss_rank``.

        Args:
            cls_scores (Sequence[Tensor]): (B, 1, H_i, W_i) logits.
            bbox_preds (Sequence[Tensor]): (B, 4, H_i, W_i) box distances.
            bbox_dist_preds (Sequence[Tensor]): DFL distributions.
            batch_gt_instances (list or Tensor): Ground truth, as mmyolo's
                ``YOLOv8Head.loss_by_feat`` takes it.
            batch_img_metas (Sequence[dict]): Image meta information.
            batch_gt_instances_ignore (list, optional): Ignored boxes.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``loss_dfl`` and
            ``loss_rank`` (if enabled).
        """
        with self._recorded_assignment() as record:
            losses = super().loss_by_feat(cls_scores, bbox_preds,
                                          bbox_dist_preds, batch_gt_instances,
                                          batch_img_metas,
                                          batch_gt_instances_ignore)
        if self.loss_rank is not None:
            logits = self.flatten_logits(cls_scores)
            weights = record['assigned_scores'].sum(-1)  # (B, N)
            if weights.shape != logits.shape:
                raise ValueError(
                    f'RTVPGroundingHead: the assignment covers '
                    f'{tuple(weights.shape)} priors but the head has '
                    f'{tuple(logits.shape)}')
            _, world_size = get_dist_info()
            losses['loss_rank'] = self.loss_rank(
                logits, weights) * logits.shape[0] * world_size
        return losses
