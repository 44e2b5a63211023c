# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Open-vocabulary YOLO detector (YOLO-World v2 style)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.structures import OptSampleList, SampleList
from mmyolo.models.detectors import YOLODetector
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class YOLOWorldDetector(YOLODetector):
    """YOLO detector whose classes are text prompts.

    - ``backbone``: :class:`MultiModalYOLOBackbone` (image model + frozen
      text encoder);
    - ``neck``: :class:`YOLOWorldPAFPN` (text-guided C2f layers);
    - ``bbox_head``: :class:`YOLOWorldHead` (contrastive classification).

    Training uses the prompts of the batch (``data_samples['texts']``, B
    lists of K = ``num_train_classes`` strings, padded with ``''``); ground
    truth labels index each image's own list. Testing uses each sample's
    ``.texts`` (K = ``num_test_classes``), or the vocabulary fixed by
    :meth:`reparameterize`, in which case no text encoder runs. Predicted
    labels index that vocabulary, so with the dataset's class texts in
    order they are the dataset's class indices (what ``mmdet.CocoMetric``
    expects).

    Args:
        backbone (dict): Backbone config.
        neck (dict): Neck config.
        bbox_head (dict): Head config.
        num_train_classes (int, optional): K of every training batch; a
            batch with another K is rejected. None accepts any K.
        num_test_classes (int, optional): K of every test vocabulary; None
            accepts any K.
        **kwargs: Other ``YOLODetector`` arguments (``train_cfg``,
            ``test_cfg``, ``data_preprocessor``, ``init_cfg``,
            ``use_syncbn``).
    """

    def __init__(self,
                 *args,
                 num_train_classes: Optional[int] = None,
                 num_test_classes: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_train_classes = num_train_classes
        self.num_test_classes = num_test_classes
        # (1, K, D) embeddings of a fixed vocabulary, see reparameterize()
        self.register_buffer('text_feats', None, persistent=False)
        self.vocabulary: Optional[List[str]] = None

    # ------------------------------------------------------------------
    # texts
    # ------------------------------------------------------------------
    @staticmethod
    def _check_texts(texts: Sequence[Sequence[str]], batch_size: int,
                     expected_k: Optional[int], where: str) -> None:
        """Raise unless ``texts`` is B lists of the same K strings count."""
        if len(texts) != batch_size:
            raise ValueError(f'{where}: {len(texts)} prompt lists for '
                             f'{batch_size} images')
        lengths = {len(t) for t in texts}
        if len(lengths) != 1:
            raise ValueError(f'{where}: the images of a batch need the same '
                             f'number of prompts, got {sorted(lengths)}')
        k = lengths.pop()
        if k == 0:
            raise ValueError(f'{where}: empty prompt list')
        if expected_k is not None and k != expected_k:
            raise ValueError(
                f'{where}: got K={k} prompts per image but the detector is '
                f'configured for {expected_k}')

    @staticmethod
    def _sample_texts(batch_data_samples: Union[dict, SampleList]
                      ) -> Optional[List[List[str]]]:
        """The prompts carried by a batch, or None if it carries none."""
        if isinstance(batch_data_samples, dict):
            return batch_data_samples.get('texts')
        texts = [getattr(s, 'texts', None) for s in batch_data_samples]
        if all(t is None for t in texts):
            return None
        if any(t is None for t in texts):
            raise ValueError('some data samples of the batch have `.texts` '
                             'and others do not')
        return [list(t) for t in texts]

    def reparameterize(self,
                       texts: Sequence[Sequence[str]],
                       drop_text_model: bool = False) -> None:
        """Encode a fixed vocabulary once and use it for inference.

        After this call :meth:`predict` / :meth:`_forward` use the stored
        embeddings (``self.text_feats``, (1, K, D)) and never run the text
        encoder. Samples may still carry ``.texts``: they must then equal
        the vocabulary, so labels keep meaning the same classes.

        Args:
            texts (list[list[str]]): ``[[prompt_0, ..., prompt_{K-1}]]``: one
                list with the K class prompts (the text-encoder input for a
                batch of one image).
            drop_text_model (bool): Delete the text encoder afterwards (its
                weights then leave the model and its checkpoints; training
                and :meth:`reparameterize` need it again).
        """
        if len(texts) != 1 or isinstance(texts[0], str):
            raise ValueError(
                'reparameterize expects [[prompt_0, ..., prompt_{K-1}]] '
                f'(one list of K prompts), got {len(texts)} entries')
        # any vocabulary size: free-text prompts are the point of an open
        # vocabulary (num_test_classes only checks dataset-driven batches)
        self._check_texts(texts, 1, None, 'reparameterize')
        device = next(self.parameters()).device
        with torch.no_grad():
            self.text_feats = self.backbone.forward_text(
                [list(texts[0])], device=device).detach()
        self.vocabulary = list(texts[0])
        if drop_text_model:
            self.backbone.drop_text_model()

    def _test_text_feats(self, batch_size: int,
                         batch_data_samples: OptSampleList,
                         device: torch.device) -> Tensor:
        """(B, K, D) text embeddings for inference."""
        texts = (None if batch_data_samples is None else
                 self._sample_texts(batch_data_samples))
        if self.text_feats is not None:
            if texts is not None and any(
                    list(t) != self.vocabulary for t in texts):
                raise ValueError(
                    'the data samples carry texts that differ from the '
                    'reparameterized vocabulary; labels would refer to '
                    'other classes (reparameterize with the same texts or '
                    'build the detector again)')
            return self.text_feats.to(device).expand(batch_size, -1, -1)
        if texts is None:
            raise ValueError(
                'no text prompts: test data samples need `.texts` '
                '(list of K str) unless the detector was reparameterized')
        self._check_texts(texts, batch_size, self.num_test_classes,
                          'test batch')
        return self.backbone.forward_text(texts, device=device)

    def _train_text_feats(self, batch_inputs: Tensor,
                          batch_data_samples: Union[dict, SampleList]
                          ) -> Tensor:
        """(B, K, D) embeddings of a training batch's prompts (checked)."""
        texts = self._sample_texts(batch_data_samples)
        if texts is None:
            raise ValueError('training batches need `texts` (B lists of K '
                             'prompts) in data_samples')
        self._check_texts(texts, batch_inputs.shape[0],
                          self.num_train_classes, 'training batch')
        return self.backbone.forward_text(texts, device=batch_inputs.device)

    # ------------------------------------------------------------------
    # detector API
    # ------------------------------------------------------------------
    def extract_feat(self,
                     batch_inputs: Tensor,
                     txt_feats: Optional[Tensor] = None
                     ) -> Tuple[Tuple[Tensor, ...], Tensor]:
        """Image features fused with the text by the neck.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            txt_feats (Tensor, optional): (B, K, D) text embeddings; None
                uses the reparameterized vocabulary.

        Returns:
            tuple: ``(img_feats, txt_feats)``, the neck outputs per level and
            the (unchanged) text embeddings.
        """
        if txt_feats is None:
            txt_feats = self._test_text_feats(batch_inputs.shape[0], None,
                                              batch_inputs.device)
        img_feats = self.backbone.forward_image(batch_inputs)
        if self.with_neck:
            img_feats = self.neck(img_feats, txt_feats)
        return img_feats, txt_feats

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: Union[dict, SampleList]) -> dict:
        """Losses of a training batch.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            batch_data_samples (dict or list[DetDataSample]): Ground truth
                and the B lists of K prompts (``texts`` key of the dict, or
                ``.texts`` of each sample).

        Returns:
            dict[str, Tensor]: Losses.
        """
        txt_feats = self._train_text_feats(batch_inputs, batch_data_samples)
        img_feats, txt_feats = self.extract_feat(batch_inputs, txt_feats)
        return self.bbox_head.loss(img_feats, txt_feats, batch_data_samples)

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections for a test batch.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            batch_data_samples (list[DetDataSample]): Samples with metainfo
                and ``.texts`` (not needed after :meth:`reparameterize`).
            rescale (bool): Boxes in original image coordinates.

        Returns:
            list[DetDataSample]: The samples with ``pred_instances``
            (``bboxes`` (N, 4), ``scores`` (N,), ``labels`` (N,) indexing
            the vocabulary).
        """
        txt_feats = self._test_text_feats(batch_inputs.shape[0],
                                          batch_data_samples,
                                          batch_inputs.device)
        img_feats, txt_feats = self.extract_feat(batch_inputs, txt_feats)
        results_list = self.bbox_head.predict(
            img_feats, txt_feats, batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results_list)

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: OptSampleList = None) -> Tuple[List]:
        """Raw head outputs (``mode='tensor'``).

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            batch_data_samples (list[DetDataSample], optional): Samples with
                ``.texts`` (not needed after :meth:`reparameterize`).

        Returns:
            tuple[list]: Head outputs per level.
        """
        txt_feats = self._test_text_feats(batch_inputs.shape[0],
                                          batch_data_samples,
                                          batch_inputs.device)
        img_feats, txt_feats = self.extract_feat(batch_inputs, txt_feats)
        return self.bbox_head.forward(img_feats, txt_feats)

    def region_embeddings(self, batch_inputs: Tensor,
                          txt_feats: Optional[Tensor] = None
                          ) -> Tuple[Tensor, ...]:
        """Region embeddings of the head's class branch (paper Fig. 10).

        The input of the contrastive head at every position, after the
        neck's text-guided fusion.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            txt_feats (Tensor, optional): (B, K, D); None uses the
                reparameterized vocabulary.

        Returns:
            tuple[Tensor]: (B, D, H_i, W_i) per level.
        """
        if txt_feats is None:
            txt_feats = self._test_text_feats(batch_inputs.shape[0], None,
                                              batch_inputs.device)
        with torch.no_grad():
            img_feats, _ = self.extract_feat(batch_inputs, txt_feats)
            head = self.bbox_head.head_module
            return tuple(
                cls_pred(f) for cls_pred, f in zip(head.cls_preds, img_feats))
