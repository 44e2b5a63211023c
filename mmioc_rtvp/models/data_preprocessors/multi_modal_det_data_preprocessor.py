# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Data preprocessor that carries the per-image text prompts to the model."""
from mmyolo.models.data_preprocessors import YOLOv5DetDataPreprocessor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class MultiModalDetDataPreprocessor(YOLOv5DetDataPreprocessor):
    """YOLOv5-style preprocessor that keeps the text prompts of each image.

    It behaves exactly like :class:`mmyolo.YOLOv5DetDataPreprocessor`
    (BGR->RGB, normalisation, batch augments, padding), and in addition:

    - training batches (``yolov5_collate``-style dict ``data_samples`` with
      ``bboxes_labels`` (N, 6) and ``texts``, B lists of K strings): the
      parent rebuilds ``data_samples`` from ``bboxes_labels`` only, so
      ``texts`` is copied into the output unchanged;
    - test batches (``pseudo_collate``: a list of ``DetDataSample``): the
      samples, and therefore their ``.texts`` field, are passed through
      untouched by the parent already.

    Args:
        Same as :class:`mmyolo.models.YOLOv5DetDataPreprocessor`.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a batch and keep its texts.

        Args:
            data (dict): ``{'inputs': ..., 'data_samples': ...}`` from the
                collate function.
            training (bool): Whether the batch is a training batch.

        Returns:
            dict: ``{'inputs': (B, 3, H, W) float, 'data_samples': ...}``;
            in the training-dict case ``data_samples['texts']`` is the input
            ``texts`` (B lists of K str).
        """
        data_samples = data.get('data_samples')
        texts = None
        if isinstance(data_samples, dict):
            texts = data_samples.get('texts')
        out = super().forward(data, training)
        if texts is not None and isinstance(out['data_samples'], dict):
            out['data_samples']['texts'] = texts
        return out
