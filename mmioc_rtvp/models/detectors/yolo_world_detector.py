# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Open-vocabulary YOLO detector (YOLO-World v2 style)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.structures import OptSampleList, SampleList
from mmdet.utils import OptConfigType
from mmyolo.models.detectors import YOLODetector
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from ..prompt_encoders.exemplar_swap import plan_exemplar_swap


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
        exemplar_encoder (dict, optional): :class:`ExemplarPromptEncoder`
            (``in_channels``, ``strides`` and ``embed_dims`` are filled in):
            a box on a reference image becomes a class embedding in the
            text-embedding space (docs/exemplar_prompts.md).
        exemplar_train_cfg (dict, optional): How the exemplar encoder is
            trained: ``swap_prob`` (share of the eligible prompt slots of a
            batch whose text embedding is replaced by the embedding of a
            box of the same class from another image; default 0.5) and
            ``align_loss`` (a loss config called as
            :class:`InfoNCERegionTextLoss`, aligning each exemplar with its
            class's text among the image's prompts; default InfoNCE,
            weight 1.0) and ``detach_features`` (the encoder reads the
            image features without sending gradients back into them, so
            the detector's features learn only from the detection losses;
            default False).
        **kwargs: Other ``YOLODetector`` arguments (``train_cfg``,
            ``test_cfg``, ``data_preprocessor``, ``init_cfg``,
            ``use_syncbn``).
    """

    def __init__(self,
                 *args,
                 num_train_classes: Optional[int] = None,
                 num_test_classes: Optional[int] = None,
                 exemplar_encoder: OptConfigType = None,
                 exemplar_train_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_train_classes = num_train_classes
        self.num_test_classes = num_test_classes
        # (1, K, D) embeddings of a fixed vocabulary, see reparameterize()
        self.register_buffer('text_feats', None, persistent=False)
        self.vocabulary: Optional[List[str]] = None
        self.exemplar_encoder: Optional[torch.nn.Module] = None
        self.exemplar_align_loss: Optional[torch.nn.Module] = None
        self.exemplar_swap_prob = 0.0
        self.exemplar_detach_features = False
        if exemplar_encoder is not None:
            self._build_exemplar_encoder(exemplar_encoder,
                                         exemplar_train_cfg or {})

    def _build_exemplar_encoder(self, encoder_cfg: dict,
                                train_cfg: dict) -> None:
        """Build the exemplar encoder over the neck inputs and its loss."""
        dim = self.backbone.text_embed_dim
        if dim is None:
            raise ValueError('exemplar_encoder needs a text model: the '
                             'exemplar embeddings live in its space')
        cfg = dict(encoder_cfg)
        cfg.setdefault('in_channels', list(self.backbone.out_channels))
        cfg.setdefault('strides', list(self.backbone.out_strides))
        cfg.setdefault('embed_dims', dim)
        self.exemplar_encoder = MODELS.build(cfg)
        known = {'swap_prob', 'align_loss', 'detach_features'}
        unknown = set(train_cfg) - known
        if unknown:
            raise ValueError(f'exemplar_train_cfg: unknown keys '
                             f'{sorted(unknown)} ({", ".join(sorted(known))})')
        self.exemplar_detach_features = bool(
            train_cfg.get('detach_features', False))
        self.exemplar_swap_prob = float(train_cfg.get('swap_prob', 0.5))
        if not 0.0 <= self.exemplar_swap_prob <= 1.0:
            raise ValueError('exemplar_train_cfg.swap_prob must be in [0, '
                             f'1], got {self.exemplar_swap_prob}')
        self.exemplar_align_loss = MODELS.build(
            train_cfg.get('align_loss',
                          dict(type='InfoNCERegionTextLoss',
                               loss_weight=1.0)))

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

    def set_class_embeddings(self, embeds: Tensor,
                             names: Sequence[str]) -> None:
        """Use K given class embeddings as the vocabulary.

        The embeddings stand where text embeddings stand: text, exemplar
        (:meth:`encode_exemplars`) or fused ones, unit-norm, of the text
        encoder's width D. Afterwards :meth:`predict` uses them as after
        :meth:`reparameterize`.

        Args:
            embeds (Tensor): (K, D) or (1, K, D) class embeddings.
            names (Sequence[str]): K class names (the labels' meaning).
        """
        embeds = embeds.detach()
        if embeds.dim() == 3 and embeds.shape[0] == 1:
            embeds = embeds[0]
        if embeds.dim() != 2 or embeds.shape[0] != len(names):
            raise ValueError(
                f'set_class_embeddings: expected ({len(names)}, D) '
                f'embeddings for {len(names)} names, got '
                f'{tuple(embeds.shape)}')
        dim = self.backbone.text_embed_dim
        if dim is not None and embeds.shape[1] != dim:
            raise ValueError(f'set_class_embeddings: embeddings of width '
                             f'{embeds.shape[1]}, the model expects {dim}')
        if not bool(torch.isfinite(embeds).all()):
            raise ValueError('set_class_embeddings: non-finite embeddings')
        device = next(self.parameters()).device
        self.text_feats = embeds.float().to(device)[None]
        self.vocabulary = [str(n) for n in names]

    # ------------------------------------------------------------------
    # exemplar prompts
    # ------------------------------------------------------------------
    def neck_inputs(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """The image features the neck fuses with the text.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.

        Returns:
            tuple[Tensor]: (B, C_i, H_i, W_i) per level.
        """
        return tuple(self.backbone.forward_image(batch_inputs))

    def encode_exemplars(self, batch_inputs: Tensor,
                         boxes: Sequence[Tensor]) -> Tensor:
        """Class embeddings of exemplar boxes on reference images.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) preprocessed reference
                images.
            boxes (Sequence[Tensor]): B tensors (n_b, 4) of xyxy boxes in
                the input's pixels.

        Returns:
            Tensor: (sum n_b, D) unit embeddings, image by image.
        """
        if self.exemplar_encoder is None:
            raise ValueError(
                'this model has no exemplar encoder; use a config with '
                'model.exemplar_encoder (configs/exemplar/)')
        if len(boxes) != batch_inputs.shape[0]:
            raise ValueError(f'encode_exemplars: {len(boxes)} box lists for '
                             f'{batch_inputs.shape[0]} images')
        feats = self.neck_inputs(batch_inputs)
        batch_idx = torch.cat([
            torch.full((len(b), ), i, dtype=torch.long)
            for i, b in enumerate(boxes)
        ]).to(batch_inputs.device)
        flat = torch.cat([b.reshape(-1, 4) for b in boxes]).to(
            batch_inputs.device, torch.float32)
        return self.exemplar_encoder(feats, flat, batch_idx)

    @staticmethod
    def _gt_table(batch_data_samples: Union[dict, SampleList]
                  ) -> Tuple[Tensor, Tensor, Tensor]:
        """Ground truth as (G,) images, (G,) labels, (G, 4) xyxy boxes."""
        if isinstance(batch_data_samples, dict):
            table = batch_data_samples['bboxes_labels']
            return table[:, 0].long(), table[:, 1].long(), table[:, 2:6]
        batch, labels, boxes = [], [], []
        for i, sample in enumerate(batch_data_samples):
            gt = sample.gt_instances
            batch.append(torch.full_like(gt.labels, i))
            labels.append(gt.labels)
            boxes.append(gt.bboxes.reshape(-1, 4))
        return torch.cat(batch), torch.cat(labels), torch.cat(boxes)

    def swap_in_exemplars(self, feats: Sequence[Tensor], txt_feats: Tensor,
                          batch_data_samples: Union[dict, SampleList]
                          ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Training: replace prompt slots with exemplars of their class.

        See ``exemplar_train_cfg`` and :func:`plan_exemplar_swap`.

        Args:
            feats (Sequence[Tensor]): Neck inputs (B, C_i, H_i, W_i).
            txt_feats (Tensor): (B, K, D) text embeddings of the batch.
            batch_data_samples (dict or list[DetDataSample]): The batch.

        Returns:
            tuple: the (B, K, D) embeddings with the swapped slots, and
            ``{'loss_exemplar_align': ...}`` (empty without an encoder or
            outside training).
        """
        if self.exemplar_encoder is None or not self.training:
            return txt_feats, {}
        texts = self._sample_texts(batch_data_samples)
        gt_batch, gt_labels, gt_boxes = self._gt_table(batch_data_samples)
        swap = plan_exemplar_swap(texts, gt_batch, gt_labels, gt_boxes,
                                  self.exemplar_swap_prob)
        if len(swap) == 0:
            # keep every parameter in the graph (DDP expects it)
            zero = sum(p.reshape(-1)[0] * 0
                       for p in self.exemplar_encoder.parameters())
            return txt_feats, dict(loss_exemplar_align=zero)
        if self.exemplar_detach_features:
            feats = [f.detach() for f in feats]
        embeds = self.exemplar_encoder(feats, swap.src_boxes,
                                       swap.src_batch)
        loss = self.exemplar_align_loss(embeds, txt_feats.detach(),
                                        swap.slot_batch, swap.slot_index)
        swapped = txt_feats.clone()
        swapped[swap.slot_batch, swap.slot_index] = embeds.to(
            swapped.dtype)
        return swapped, dict(loss_exemplar_align=loss)

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
        img_feats = self.neck_inputs(batch_inputs)
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
        img_feats = self.neck_inputs(batch_inputs)
        txt_feats, losses = self.swap_in_exemplars(img_feats, txt_feats,
                                                   batch_data_samples)
        if self.with_neck:
            img_feats = self.neck(img_feats, txt_feats)
        losses.update(
            self.bbox_head.loss(img_feats, txt_feats, batch_data_samples))
        return losses

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
