# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A detector's test-time network as a function of tensors, for export."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmioc_rtvp.models.detectors import YOLOWorldDetector


class ExportableDetector(nn.Module):
    """Images (and text embeddings) in, decoded boxes and class scores out.

    Wraps a trained YOLO detector of this project without changing it: the
    forward calls the detector's own ``extract_feat`` (for
    :class:`~mmioc_rtvp.models.detectors.RTVPNet` this includes the visual
    prompts and the V-T text update), its head's ``forward`` and the head's
    own prior generator and box coder, exactly as ``predict`` does, and stops
    before score filtering and NMS (those run in the runner,
    :func:`mmioc_rtvp.deploy.postprocess.postprocess_detections`).

    Three kinds of export:

    - **closed set** (mmyolo ``YOLODetector``, e.g. YOLOv8): input
      ``image``; the classes are the head's ``num_classes``;
    - **baked vocabulary** (YOLO-World, RTVPNet): input ``image``; the
      (1, K, D) embeddings of a fixed vocabulary are a constant of the
      graph (``text_feats`` given here, or the detector's
      ``reparameterize``'d ones);
    - **run-time vocabulary** (``runtime_vocabulary=True``): inputs
      ``image`` and ``text_feats`` (1, K, D), K free: a new vocabulary is a
      new input, not a new export. The text encoder stays outside.

    Outputs: ``boxes`` (B, N, 4) xyxy in input-tensor pixels and ``scores``
    (B, N, K) sigmoid class scores, N = sum over levels of H_i * W_i priors
    (level by level, row-major, the order of mmyolo's ``predict_by_feat``).

    Args:
        detector (nn.Module): The detector, in eval mode.
        text_feats (Tensor, optional): (1, K, D) embeddings to bake in (open
            vocabulary detectors, ``runtime_vocabulary=False``); None takes
            the reparameterized vocabulary of the detector.
        runtime_vocabulary (bool): Take the text embeddings as an input.
    """

    def __init__(self,
                 detector: nn.Module,
                 text_feats: Optional[Tensor] = None,
                 runtime_vocabulary: bool = False) -> None:
        super().__init__()
        self.detector = detector
        self.open_vocabulary = isinstance(detector, YOLOWorldDetector)
        self.runtime_vocabulary = runtime_vocabulary
        if not self.open_vocabulary and (runtime_vocabulary
                                         or text_feats is not None):
            raise ValueError(
                f'{type(detector).__name__} is a closed-set detector: its '
                'classes are the weights of its classifier, it takes no '
                'text embeddings (export it without a vocabulary)')
        if self.open_vocabulary and not runtime_vocabulary:
            if text_feats is None:
                text_feats = detector.text_feats
            if text_feats is None:
                raise ValueError(
                    'a baked-vocabulary export needs the vocabulary: give '
                    'text_feats (1, K, D) or reparameterize the detector '
                    'first (or export with runtime_vocabulary=True)')
            text_feats = self.check_text_feats(text_feats)
        elif text_feats is not None:
            raise ValueError('runtime_vocabulary=True takes the text '
                             'embeddings as an input, not as a constant')
        self.register_buffer('text_feats', text_feats, persistent=False)

    @property
    def embed_dims(self) -> Optional[int]:
        """D of the text embeddings (None for a closed-set detector)."""
        if not self.open_vocabulary:
            return None
        return int(self.detector.bbox_head.head_module.embed_dims)

    @property
    def input_names(self) -> List[str]:
        """Names of the graph inputs, in the order of :meth:`forward`."""
        return ['image', 'text_feats'] if self.runtime_vocabulary else [
            'image'
        ]

    @property
    def output_names(self) -> List[str]:
        """Names of the graph outputs."""
        return ['boxes', 'scores']

    def check_text_feats(self, text_feats: Tensor) -> Tensor:
        """Check a (1, K, D) embedding tensor; returns it as float32.

        Args:
            text_feats (Tensor): The embeddings.

        Returns:
            Tensor: (1, K, D) float32.
        """
        d = self.embed_dims
        if text_feats.dim() != 3 or text_feats.shape[0] != 1 or \
                text_feats.shape[2] != d:
            raise ValueError(f'text_feats must be (1, K, D={d}), got '
                             f'{tuple(text_feats.shape)}')
        if text_feats.shape[1] == 0:
            raise ValueError('text_feats: the vocabulary is empty (K=0)')
        return text_feats.detach().float()

    def head_outputs(self, image: Tensor, text_feats: Optional[Tensor]
                     ) -> Tuple[Sequence[Tensor], Sequence[Tensor]]:
        """The head's raw class logits and box distances per level.

        Args:
            image (Tensor): (B, 3, H, W) preprocessed images.
            text_feats (Tensor, optional): (B, K, D) embeddings (open
                vocabulary only).

        Returns:
            tuple: class logits (B, K, H_i, W_i) and box distances
            (B, 4, H_i, W_i) per level.
        """
        if not self.open_vocabulary:
            outs = self.detector.bbox_head(self.detector.extract_feat(image))
        else:
            img_feats, text_feats = self.detector.extract_feat(
                image, text_feats)
            outs = self.detector.bbox_head(img_feats, text_feats)
        return outs[0], outs[1]

    def decode(self, cls_logits: Sequence[Tensor],
               bbox_dists: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Boxes and sigmoid scores of every prior (no filtering).

        Args:
            cls_logits (Sequence[Tensor]): (B, K, H_i, W_i) per level.
            bbox_dists (Sequence[Tensor]): (B, 4, H_i, W_i) per level.

        Returns:
            tuple[Tensor, Tensor]: boxes (B, N, 4) xyxy and scores (B, N, K).
        """
        head = self.detector.bbox_head
        # the image size is fixed at export: priors become graph constants
        sizes = [tuple(int(s) for s in c.shape[2:]) for c in cls_logits]
        ref = cls_logits[0]
        priors = head.prior_generator.grid_priors(
            sizes, dtype=ref.dtype, device=ref.device)
        strides = torch.cat([
            ref.new_full((h * w, ), float(stride))
            for (h, w), stride in zip(sizes, head.featmap_strides)
        ])
        scores = torch.cat(
            [c.flatten(2).transpose(1, 2) for c in cls_logits], dim=1)
        dists = torch.cat(
            [b.flatten(2).transpose(1, 2) for b in bbox_dists], dim=1)
        boxes = head.bbox_coder.decode(
            torch.cat(priors)[None], dists, strides)
        return boxes, scores.sigmoid()

    def forward(self,
                image: Tensor,
                text_feats: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Decoded boxes and class scores.

        Args:
            image (Tensor): (B, 3, H, W) images after the data preprocessor
                (normalised, RGB for this project's configs).
            text_feats (Tensor, optional): (B, K, D) embeddings; required
                with ``runtime_vocabulary``, ignored otherwise.

        Returns:
            tuple[Tensor, Tensor]: ``boxes`` (B, N, 4) and ``scores``
            (B, N, K).
        """
        if self.open_vocabulary:
            if self.runtime_vocabulary:
                if text_feats is None:
                    raise ValueError('this export takes text_feats '
                                     '(B, K, D) as an input')
            else:
                text_feats = self.text_feats.expand(image.shape[0], -1, -1)
        return self.decode(*self.head_outputs(image, text_feats))
