# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""RTVPNet head: YOLOv8 losses plus InfoNCE region-text matching."""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Sequence, Union

import torch
import torch.nn as nn
from mmdet.utils import OptConfigType
from mmengine.dist import get_dist_info
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .yolo_world_head import YOLOWorldHead


class _RecordingAssigner(nn.Module):
    """Calls an assigner and keeps its result (see
    :meth:`RTVPHead._recorded_assignment`)."""

    def __init__(self, assigner: nn.Module, record: dict) -> None:
        super().__init__()
        self.assigner = assigner
        self.record = record

    def forward(self, *args, **kwargs) -> dict:
        result = self.assigner(*args, **kwargs)
        self.record.update(result)
        return result


@MODELS.register_module()
class RTVPHead(YOLOWorldHead):
    r"""YOLO-World head with the InfoNCE region-text loss of RTVPNet.

    Losses: YOLOv8's (``loss_cls`` BCE, ``loss_bbox`` CIoU, ``loss_dfl``;
    :class:`BatchTaskAlignedAssigner`), computed by the parent, plus
    ``loss_region_text``: for every positive prior p of image b (the
    assigner's foreground) with assigned class :math:`y_p` and normalised
    alignment score :math:`w_p`,

    .. math::

        \mathcal{L}_{rt} = \frac{\sum_p w_p \,
            \mathrm{CE}\big(\cos(r_p, T_{b,\cdot}) / \tau,\; y_p\big)}
            {\sum_p w_p}

    where :math:`r_p` is the region embedding of p (the class branch's
    output, before the contrastive head) and :math:`T_b` the (updated) text
    embeddings of image b; padding prompts are left out of the softmax
    (:class:`InfoNCERegionTextLoss`). The positives and their classes are
    exactly those the YOLOv8 losses use: the assigner is called once, by the
    parent's ``loss_by_feat``, and its result is recorded for this loss.
    Like mmyolo's YOLOv8 losses, the value is multiplied by the number of
    images and by the world size (mmyolo's convention for batch-normalised
    losses), so ``loss_weight`` compares with theirs.

    The head module must return region embeddings in training
    (:class:`RTVPHeadModule`).

    Args:
        loss_region_text (dict, optional): Config of the region-text loss;
            None disables it. Defaults to ``InfoNCERegionTextLoss`` with
            tau 0.07 and weight 0.5.
        **kwargs: Arguments of :class:`YOLOWorldHead`.
    """

    def __init__(self,
                 *args,
                 loss_region_text: OptConfigType = dict(
                     type='InfoNCERegionTextLoss',
                     temperature=0.07,
                     loss_weight=0.5),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_region_text = (
            MODELS.build(loss_region_text)
            if loss_region_text is not None else None)

    @contextmanager
    def _recorded_assignment(self) -> Iterator[dict]:
        """Record what the assigner returns while in the context."""
        record: dict = {}
        assigner = self.assigner
        self.assigner = _RecordingAssigner(assigner, record)
        try:
            yield record
        finally:
            self.assigner = assigner

    @staticmethod
    def flatten_embeddings(embeds: Sequence[Tensor]) -> Tensor:
        """Region embeddings in the order of the flattened priors.

        Args:
            embeds (Sequence[Tensor]): (B, D, H_i, W_i) per level.

        Returns:
            Tensor: (B, N, D), N = sum_i H_i W_i, level by level, row-major
            (the order of ``flatten_priors_train``).
        """
        return torch.cat([e.flatten(2).transpose(1, 2) for e in embeds],
                         dim=1)

    def region_text_loss(self, embeds: Sequence[Tensor], txt_feats: Tensor,
                         assign_result: dict) -> Tensor:
        """InfoNCE over the positive priors of an assignment.

        Args:
            embeds (Sequence[Tensor]): (B, D, H_i, W_i) region embeddings.
            txt_feats (Tensor): (B, K, D) text embeddings.
            assign_result (dict): The assigner's output with
                ``fg_mask_pre_prior`` (B, N), ``assigned_labels`` (B, N) and
                ``assigned_scores`` (B, N, K).

        Returns:
            Tensor: Scalar, before mmyolo's batch scaling.
        """
        regions = self.flatten_embeddings(embeds)  # (B, N, D)
        fg = assign_result['fg_mask_pre_prior'].bool()
        if fg.shape != regions.shape[:2]:
            raise ValueError(
                f'RTVPHead: the assignment covers {tuple(fg.shape)} priors '
                f'but the head has {tuple(regions.shape[:2])}')
        batch_idx = fg.nonzero()[:, 0]
        labels = assign_result['assigned_labels'][fg].long()
        weight = assign_result['assigned_scores'].sum(-1)[fg].detach()
        return self.loss_region_text(regions[fg], txt_feats, batch_idx,
                                     labels, weight)

    def loss(self, img_feats: Sequence[Tensor], txt_feats: Tensor,
             batch_data_samples: Union[list, dict]) -> Dict[str, Tensor]:
        """Forward and compute the losses.

        Args:
            img_feats (list[Tensor]): (B, C_i, H_i, W_i) per level.
            txt_feats (Tensor): (B, K, D) text embeddings.
            batch_data_samples (dict or list[DetDataSample]): See
                :meth:`YOLOWorldHead.loss`.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``loss_dfl`` and
            ``loss_region_text`` (if enabled).
        """
        num_prompts = txt_feats.shape[1]
        with self._vocabulary_size(num_prompts):
            loss_inputs = self._loss_inputs(batch_data_samples, num_prompts)
            outs = self(img_feats, txt_feats)
            if len(outs) != 4:
                raise ValueError(
                    'RTVPHead needs a head module that returns region '
                    'embeddings in training (RTVPHeadModule); got '
                    f'{len(outs)} outputs')
            cls_scores, bbox_preds, bbox_dists, embeds = outs
            with self._recorded_assignment() as record:
                losses = self.loss_by_feat(cls_scores, bbox_preds,
                                           bbox_dists, *loss_inputs)
        if self.loss_region_text is not None:
            _, world_size = get_dist_info()
            num_imgs = txt_feats.shape[0]
            losses['loss_region_text'] = self.region_text_loss(
                embeds, txt_feats, record) * num_imgs * world_size
        return losses

    def loss_and_predict(self, *args, **kwargs):
        """Not supported: RTVPNet trains with :meth:`loss` only."""
        raise NotImplementedError(
            'RTVPHead.loss_and_predict is not implemented (mmdet calls it '
            'only for two-stage detectors)')
