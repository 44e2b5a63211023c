# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLOv8 head (losses and decoding) over a per-batch text vocabulary."""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from mmyolo.models.dense_heads import YOLOv8Head
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class YOLOWorldHead(YOLOv8Head):
    """YOLOv8 head whose classes are the K prompts of the current batch.

    Losses (BCE classification, CIoU, DFL with ``BatchTaskAlignedAssigner``)
    and decoding are the parent's ``loss_by_feat`` / ``predict_by_feat``.
    Those read ``self.num_classes`` (to flatten the (B, K, H, W) logits)
    and the assigner reads ``assigner.num_classes`` (one-hot targets and the
    background label), while K is a property of the batch: the padded
    training vocabulary and each test vocabulary differ. :meth:`loss`,
    :meth:`predict` and :meth:`loss_and_predict` therefore set both to K
    for the duration of the call and restore the configured values after it
    (also on error), so no state leaks from one call to the next.

    Args:
        head_module (dict): Config of :class:`YOLOWorldHeadModule`.
        **kwargs: Other arguments of ``YOLOv8Head``.
    """

    def forward(self, img_feats: Sequence[Tensor],
                txt_feats: Tensor) -> Tuple[List]:
        """Head network outputs.

        Args:
            img_feats (list[Tensor]): (B, C_i, H_i, W_i) per level.
            txt_feats (Tensor): (B, K, D) text embeddings.

        Returns:
            tuple[list]: see ``YOLOWorldHeadModule.forward``.
        """
        return self.head_module(img_feats, txt_feats)

    @contextmanager
    def _vocabulary_size(self, num_prompts: int) -> Iterator[None]:
        """Temporarily set ``num_classes`` (and the assigner's) to K."""
        saved_head = self.num_classes
        assigner = getattr(self, 'assigner', None)
        saved_assigner = getattr(assigner, 'num_classes', None)
        self.num_classes = num_prompts
        if saved_assigner is not None:
            assigner.num_classes = num_prompts
        try:
            yield
        finally:
            self.num_classes = saved_head
            if saved_assigner is not None:
                assigner.num_classes = saved_assigner

    @staticmethod
    def _check_labels(labels: Tensor, num_prompts: int) -> None:
        """Raise if a ground-truth label does not index the vocabulary."""
        if labels.numel() and (int(labels.max()) >= num_prompts
                               or int(labels.min()) < 0):
            raise ValueError(
                f'ground-truth labels must index the K={num_prompts} prompts '
                f'of their image, got labels in [{int(labels.min())}, '
                f'{int(labels.max())}]')

    def _loss_inputs(self, batch_data_samples: Union[list, dict],
                     num_prompts: int) -> tuple:
        """Ground truth in the form ``loss_by_feat`` expects."""
        if isinstance(batch_data_samples, dict):
            bboxes_labels = batch_data_samples['bboxes_labels']
            self._check_labels(bboxes_labels[:, 1], num_prompts)
            return (bboxes_labels, batch_data_samples['img_metas'])
        gt_instances, gt_ignore, img_metas = unpack_gt_instances(
            batch_data_samples)
        for gt in gt_instances:
            self._check_labels(gt.labels, num_prompts)
        return (gt_instances, img_metas, gt_ignore)

    def loss(self, img_feats: Sequence[Tensor], txt_feats: Tensor,
             batch_data_samples: Union[list, dict]) -> dict:
        """Forward and compute the losses.

        Args:
            img_feats (list[Tensor]): (B, C_i, H_i, W_i) per level.
            txt_feats (Tensor): (B, K, D) text embeddings.
            batch_data_samples (dict or list[DetDataSample]): Either the
                fast dict with ``bboxes_labels`` (N, 6) ``[batch_idx, label,
                x1, y1, x2, y2]`` and ``img_metas``, or data samples with
                ``gt_instances``. Labels index the K prompts.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``loss_dfl``.
        """
        num_prompts = txt_feats.shape[1]
        with self._vocabulary_size(num_prompts):
            loss_inputs = self._loss_inputs(batch_data_samples, num_prompts)
            outs = self(img_feats, txt_feats)
            return self.loss_by_feat(*(outs + loss_inputs))

    def predict(self,
                img_feats: Sequence[Tensor],
                txt_feats: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Forward and decode detections.

        Args:
            img_feats (list[Tensor]): (B, C_i, H_i, W_i) per level.
            txt_feats (Tensor): (B, K, D) text embeddings.
            batch_data_samples (list[DetDataSample]): Samples with metainfo.
            rescale (bool): Map boxes back to the original image.

        Returns:
            list[InstanceData]: ``bboxes`` (N, 4), ``scores`` (N,) and
            ``labels`` (N,) indexing the K prompts, per image.
        """
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        with self._vocabulary_size(txt_feats.shape[1]):
            outs = self(img_feats, txt_feats)
            return self.predict_by_feat(
                *outs, batch_img_metas=batch_img_metas, rescale=rescale)

    def loss_and_predict(
        self,
        img_feats: Sequence[Tensor],
        txt_feats: Tensor,
        batch_data_samples: SampleList,
        proposal_cfg: Optional[ConfigDict] = None
    ) -> Tuple[dict, InstanceList]:
        """Losses and detections from one forward pass.

        Args:
            img_feats (list[Tensor]): (B, C_i, H_i, W_i) per level.
            txt_feats (Tensor): (B, K, D) text embeddings.
            batch_data_samples (list[DetDataSample]): Samples with
                ``gt_instances``.
            proposal_cfg (ConfigDict, optional): Decoding config.

        Returns:
            tuple: ``(losses, predictions)``.
        """
        num_prompts = txt_feats.shape[1]
        with self._vocabulary_size(num_prompts):
            loss_inputs = self._loss_inputs(batch_data_samples, num_prompts)
            outs = self(img_feats, txt_feats)
            losses = self.loss_by_feat(*(outs + loss_inputs))
            predictions = self.predict_by_feat(
                *outs[:2], batch_img_metas=loss_inputs[1], cfg=proposal_cfg)
        return losses, predictions
