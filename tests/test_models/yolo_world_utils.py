# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Test helpers for the YOLO-World-style detector.

- :class:`HashTextEncoder`, a deterministic text-encoder test double,
  registered as ``'TestHashTextEncoder'`` (a test-only name);
- :func:`tiny_yolo_world_cfg`, the config of a tiny detector
  (YOLOv8CSPDarknet deepen 0.33 / widen 0.125) for 64-128 px inputs;
- :func:`build_tiny_yolo_world` and batch makers in the formats of the
  training collate function and of ``pseudo_collate``.
"""
import zlib
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from mmioc_rtvp.registry import MODELS


@MODELS.register_module(name='TestHashTextEncoder', force=True)
class HashTextEncoder(nn.Module):
    """Deterministic stand-in for a text encoder.

    Each prompt seeds a Gaussian vector with its CRC32; a linear layer
    (initialised to the identity, so the encoder has parameters whose
    gradients can be checked) maps it, and the result is L2-normalised.
    The padding prompt ``''`` gives a zero vector, as the real encoders do.

    Args:
        embed_dim (int): D. Defaults to 16.
    """

    def __init__(self, embed_dim: int = 16) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.proj = nn.Linear(embed_dim, embed_dim)
        nn.init.eye_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.calls = 0

    def _raw(self, prompt: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(zlib.crc32(prompt.encode()))
        return torch.randn(self.embed_dim, generator=gen)

    def forward(self, texts: Sequence[Sequence[str]]) -> torch.Tensor:
        """(B, K, D) embeddings of B lists of K prompts."""
        self.calls += 1
        raw = torch.stack([
            torch.stack([self._raw(p) for p in prompts]) for prompts in texts
        ]).to(self.proj.weight.device)
        out = F.normalize(self.proj(raw), dim=-1)
        is_pad = torch.tensor([[p == '' for p in prompts]
                               for prompts in texts],
                              device=out.device)
        return out.masked_fill(is_pad[..., None], 0.0)


def tiny_yolo_world_cfg(num_train_classes: int = 4,
                        num_test_classes: int = 3,
                        embed_dim: int = 16,
                        text_model: Optional[dict] = None,
                        use_bn_head: bool = True) -> dict:
    """Config of a tiny YOLO-World detector (for 64-128 px inputs).

    Args:
        num_train_classes (int): K of training batches.
        num_test_classes (int): K of test vocabularies.
        embed_dim (int): D, the text embedding dimension (must match
            ``text_model``).
        text_model (dict, optional): Text encoder config; defaults to the
            ``TestHashTextEncoder`` test double with ``embed_dim``.
        use_bn_head (bool): BNContrastiveHead (True) or ContrastiveHead.

    Returns:
        dict: A ``YOLOWorldDetector`` config.
    """
    deepen, widen = 0.33, 0.125
    strides = [8, 16, 32]
    channels = [256, 512, 1024]
    norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
    act_cfg = dict(type='SiLU', inplace=True)
    if text_model is None:
        text_model = dict(type='TestHashTextEncoder', embed_dim=embed_dim)
    return dict(
        type='YOLOWorldDetector',
        num_train_classes=num_train_classes,
        num_test_classes=num_test_classes,
        data_preprocessor=dict(
            type='MultiModalDetDataPreprocessor',
            mean=[0., 0., 0.],
            std=[255., 255., 255.],
            bgr_to_rgb=True),
        backbone=dict(
            type='MultiModalYOLOBackbone',
            image_model=dict(
                type='YOLOv8CSPDarknet',
                arch='P5',
                last_stage_out_channels=1024,
                deepen_factor=deepen,
                widen_factor=widen,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg),
            text_model=text_model),
        neck=dict(
            type='YOLOWorldPAFPN',
            deepen_factor=deepen,
            widen_factor=widen,
            in_channels=channels,
            out_channels=channels,
            num_csp_blocks=3,
            guide_channels=embed_dim,
            embed_channels=[128, 256, 512],
            num_heads=[4, 8, 16],
            norm_cfg=norm_cfg,
            act_cfg=act_cfg),
        bbox_head=dict(
            type='YOLOWorldHead',
            head_module=dict(
                type='YOLOWorldHeadModule',
                num_classes=num_train_classes,
                in_channels=channels,
                widen_factor=widen,
                embed_dims=embed_dim,
                use_bn_head=use_bn_head,
                reg_max=16,
                featmap_strides=strides,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg),
            prior_generator=dict(
                type='mmdet.MlvlPointGenerator', offset=0.5,
                strides=strides),
            bbox_coder=dict(type='DistancePointBBoxCoder')),
        train_cfg=dict(
            assigner=dict(
                type='BatchTaskAlignedAssigner',
                num_classes=num_train_classes,
                use_ciou=True,
                topk=10,
                alpha=0.5,
                beta=6.0,
                eps=1e-9)),
        test_cfg=dict(
            multi_label=True,
            nms_pre=1000,
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.7),
            max_per_img=100))


def build_tiny_yolo_world(**kwargs) -> nn.Module:
    """Build :func:`tiny_yolo_world_cfg` under the ``mmioc_rtvp`` scope."""
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        # a ConfigDict, as from a config file (mmyolo reads cfg attributes)
        model = MODELS.build(ConfigDict(tiny_yolo_world_cfg(**kwargs)))
    model.init_weights()
    return model


def make_train_batch(texts: List[List[str]],
                     boxes: List[List[List[float]]],
                     labels: List[List[int]],
                     size: int = 64,
                     seed: int = 0) -> dict:
    """A batch in the format of the training collate function.

    Args:
        texts (list[list[str]]): B lists of K prompts.
        boxes (list): Per image, a list of ``[x1, y1, x2, y2]``.
        labels (list): Per image, labels indexing its prompts.
        size (int): Image side.
        seed (int): Seed of the random images.

    Returns:
        dict: ``{'inputs': uint8 (B, 3, size, size), 'data_samples':
        {'bboxes_labels': (N, 6), 'img_metas': [...], 'texts': texts}}``.
    """
    gen = torch.Generator().manual_seed(seed)
    b = len(texts)
    inputs = torch.randint(0, 256, (b, 3, size, size), generator=gen,
                           dtype=torch.uint8)
    rows = [[float(i), float(lab)] + list(map(float, box))
            for i in range(b) for box, lab in zip(boxes[i], labels[i])]
    bboxes_labels = torch.tensor(rows, dtype=torch.float32).reshape(-1, 6)
    img_metas = [
        dict(img_shape=(size, size), ori_shape=(size, size),
             batch_input_shape=(size, size)) for _ in range(b)
    ]
    return dict(
        inputs=inputs,
        data_samples=dict(
            bboxes_labels=bboxes_labels, img_metas=img_metas, texts=texts))


def make_test_batch(texts: Optional[List[List[str]]],
                    num_images: int = 2,
                    size: int = 64,
                    seed: int = 1) -> dict:
    """A batch in the format of ``pseudo_collate``.

    Args:
        texts (list[list[str]], optional): Per image, its ``.texts``; None
            leaves the samples without texts.
        num_images (int): B.
        size (int): Image side.
        seed (int): Seed of the random images.

    Returns:
        dict: ``{'inputs': [uint8 (3, size, size)], 'data_samples':
        [DetDataSample]}``.
    """
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(num_images):
        inputs.append(
            torch.randint(0, 256, (3, size, size), generator=gen,
                          dtype=torch.uint8))
        sample = DetDataSample(
            metainfo=dict(
                img_id=i,
                img_shape=(size, size),
                ori_shape=(size, size),
                scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[8., 8., 40., 40.]]),
            labels=torch.tensor([0]))
        if texts is not None:
            sample.texts = texts[i]
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
