# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Test helpers for RTVPNet: a tiny detector config for 64-128 px inputs."""
import copy
from typing import Optional

import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope

from mmioc_rtvp.registry import MODELS
from .yolo_world_utils import tiny_yolo_world_cfg

#: A TinyViT with Mobile-SAM's structure at a fraction of its width/depth.
TINY_VISUAL_ENCODER = dict(
    type='MobileSAMTinyViT',
    embed_dims=(8, 16, 20, 40),
    depths=(1, 1, 1, 1),
    num_heads=(1, 1, 1, 2),
    window_sizes=(7, 7, 7, 7),
    neck_channels=32,
    num_classes=10,
    pixel_mean=(0.485, 0.456, 0.406),
    pixel_std=(0.229, 0.224, 0.225))


def tiny_rtvpnet_cfg(num_train_classes: int = 4,
                     num_test_classes: int = 3,
                     embed_dim: int = 16,
                     edp: bool = True,
                     rvp: bool = True,
                     vt: bool = True,
                     tv: bool = True,
                     visual_encoder: Optional[dict] = TINY_VISUAL_ENCODER,
                     infonce: bool = True) -> dict:
    """Config of a tiny RTVPNet (deepen 0.33 / widen 0.125 expert).

    Args:
        num_train_classes (int): K of training batches.
        num_test_classes (int): K of test vocabularies.
        embed_dim (int): D.
        edp, rvp, vt, tv (bool): The Table VII switches.
        visual_encoder (dict, optional): Encoder config (None: no visual
            prompt at all).
        infonce (bool): The head's InfoNCE loss.

    Returns:
        dict: An ``RTVPNet`` config.
    """
    cfg = copy.deepcopy(
        tiny_yolo_world_cfg(num_train_classes, num_test_classes, embed_dim))
    cfg['type'] = 'RTVPNet'
    cfg['bbox_head']['type'] = 'RTVPHead'
    cfg['bbox_head']['head_module']['type'] = 'RTVPHeadModule'
    if not infonce:
        cfg['bbox_head']['loss_region_text'] = None
    if not tv:
        cfg['neck']['block_cfg'] = dict(type='UnguidedCSPLayerWithTwoConv')
    if visual_encoder is not None and (edp or rvp):
        cfg['visual_encoder'] = copy.deepcopy(visual_encoder)
    if edp:
        cfg['domain_projection'] = dict(
            type='ExpertDomainProjection',
            align_channels=32,
            hidden_channels=16,
            blocks_per_side=4)
    if rvp:
        cfg['visual_prompt'] = dict(
            type='EnergySparsePrompt', patch_size=32)
        cfg['prompt_aux_head'] = dict(type='CIoUAuxHead', feat_channels=8)
    if vt:
        cfg['visual_text'] = dict(type='VisualTextUpdate')
    return cfg


def build_tiny_rtvpnet(**kwargs) -> nn.Module:
    """Build :func:`tiny_rtvpnet_cfg` under the ``mmioc_rtvp`` scope."""
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        model = MODELS.build(ConfigDict(tiny_rtvpnet_cfg(**kwargs)))
    model.init_weights()
    return model
