# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""RTVPNet for visual grounding: one expression in, ranked boxes out."""
from typing import Dict, List, Union

import torch
from mmdet.structures import SampleList
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .rtvpnet import RTVPNet


@MODELS.register_module()
class RTVPNetGrounding(RTVPNet):
    """RTVPNet in grounding mode (paper sec. 4.7, Fig. 9).

    Every image comes with one referring expression, its vocabulary of one
    prompt (``texts = [expression]``, K = 1), and, in training, one referent
    box (label 0). The whole RTVPNet forward is unchanged: the expression is
    encoded by the frozen text model, gates the neck (T-V) and is updated by
    the image (V-T); the refined visual-text features of every level regress
    boxes (CIoU + DFL) and score them for the expression (BCE and, with
    :class:`RTVPGroundingHead`, the listwise ``loss_rank``). Prediction
    returns the boxes ranked by that score, best first: at most
    ``num_ranked``, label 0, in original image pixels, so that
    ``pred_instances.bboxes[0]`` is the answer and mmdet's
    ``RefExpMetric`` (precision@1/5/10) reads the ranking from the order.

    Bad input: an image whose expression is empty gets no boxes and one
    warning line naming it, and the rest of the batch is predicted; a
    training image without exactly one referent box stops the step with a
    line naming it.

    Args:
        num_ranked (int): Boxes returned per expression. Defaults to 10
            (precision@10 needs 10).
        *args: Arguments of :class:`RTVPNet`.
        **kwargs: Arguments of :class:`RTVPNet`; ``num_train_classes`` and
            ``num_test_classes`` must be 1 if given.
    """

    def __init__(self, *args, num_ranked: int = 10, **kwargs) -> None:
        for key in ('num_train_classes', 'num_test_classes'):
            if kwargs.setdefault(key, 1) != 1:
                raise ValueError(f'RTVPNetGrounding: {key} must be 1 (one '
                                 f'expression per image), got {kwargs[key]}')
        super().__init__(*args, **kwargs)
        if int(num_ranked) < 1:
            raise ValueError('RTVPNetGrounding: num_ranked must be >= 1, '
                             f'got {num_ranked}')
        self.num_ranked = int(num_ranked)

    @staticmethod
    def _image_name(meta: dict, index: int) -> str:
        """How a message names an image of the batch."""
        for key in ('img_path', 'img_id'):
            if meta.get(key) is not None:
                return f'{meta[key]} (expression {meta.get("img_id")})' \
                    if key == 'img_path' else f'expression {meta[key]}'
        return f'batch item {index}'

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: Union[dict, SampleList]) -> Dict[str, Tensor]:
        """Losses of a training batch (one expression, one box per image).

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            batch_data_samples (dict or list[DetDataSample]): As for
                :meth:`RTVPNet.loss`, with K = 1 and one box per image.

        Returns:
            dict[str, Tensor]: See :meth:`RTVPNet.loss` and
            :class:`RTVPGroundingHead`.
        """
        num_images = batch_inputs.shape[0]
        if isinstance(batch_data_samples, dict):
            idx = batch_data_samples['bboxes_labels'][:, 0].long()
            counts = torch.bincount(idx, minlength=num_images).tolist()
            metas = batch_data_samples.get('img_metas') or [{}] * num_images
        else:
            counts = [len(s.gt_instances) for s in batch_data_samples]
            metas = [s.metainfo for s in batch_data_samples]
        for i, (count, meta) in enumerate(zip(counts, metas)):
            if count != 1:
                raise ValueError(
                    f'RTVPNetGrounding: {self._image_name(meta, i)} has '
                    f'{count} referent boxes; grounding needs exactly one')
        return super().loss(batch_inputs, batch_data_samples)

    def _expressions(self, batch_data_samples: SampleList) -> List[str]:
        """The expression of every sample (the reparameterized one if the
        samples carry none)."""
        texts = self._sample_texts(batch_data_samples)
        if texts is None:
            if self.vocabulary is not None and len(self.vocabulary) == 1:
                return self.vocabulary * len(batch_data_samples)
            raise ValueError('RTVPNetGrounding: every sample needs .texts = '
                             '[expression]')
        for i, (t, s) in enumerate(zip(texts, batch_data_samples)):
            if len(t) != 1:
                raise ValueError(
                    f'RTVPNetGrounding: {self._image_name(s.metainfo, i)} '
                    f'has {len(t)} texts; grounding takes one expression per '
                    'image')
        return [str(t[0]) for t in texts]

    def rank(self, pred: InstanceData) -> InstanceData:
        """Sort detections by score, best first, keep ``num_ranked``.

        Args:
            pred (InstanceData): ``bboxes`` (N, 4), ``scores`` (N,),
                ``labels`` (N,).

        Returns:
            InstanceData: The first ``min(N, num_ranked)`` by descending
            score (stable), labels 0.
        """
        order = torch.sort(pred.scores, descending=True, stable=True)[1]
        ranked = pred[order[:self.num_ranked]]
        ranked.labels = torch.zeros_like(ranked.labels)
        return ranked

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Ranked boxes for the expression of each image.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            batch_data_samples (list[DetDataSample]): Samples with metainfo
                and ``.texts = [expression]``.
            rescale (bool): Boxes in original image coordinates.

        Returns:
            list[DetDataSample]: The samples with ``pred_instances``
            (``bboxes`` (R, 4), ``scores`` (R,) descending, ``labels`` (R,)
            zeros, R <= ``num_ranked``).
        """
        expressions = self._expressions(batch_data_samples)
        good = [i for i, e in enumerate(expressions) if e.strip()]
        logger = MMLogger.get_current_instance()
        for i in sorted(set(range(len(expressions))) - set(good)):
            sample = batch_data_samples[i]
            logger.warning(f'RTVPNetGrounding: '
                           f'{self._image_name(sample.metainfo, i)}: empty '
                           'expression, no boxes')
            sample.pred_instances = InstanceData(
                bboxes=batch_inputs.new_zeros(0, 4),
                scores=batch_inputs.new_zeros(0),
                labels=torch.zeros(0, dtype=torch.long,
                                   device=batch_inputs.device))
        if good:
            subset = [batch_data_samples[i] for i in good]
            super().predict(batch_inputs[good], subset, rescale=rescale)
            for sample in subset:
                sample.pred_instances = self.rank(sample.pred_instances)
        return batch_data_samples
