# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The Mobile-SAM encoder, EDP and RVP injected into mmyolo's stock YOLOv8
by config alone (``VisualPromptedBackbone`` around the stock backbone),
then two training steps."""
import copy

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DATASETS, MODELS, init_default_scope
from mmyolo.datasets import yolov5_collate

from tests.test_dropin.dropin_utils import (TINY_TRAIN_PIPELINE,
                                           write_user_config)
from tests.test_models.rtvpnet_utils import TINY_VISUAL_ENCODER

# the user's config: the stock YOLOv8-S, its backbone wrapped; the
# encoder is Mobile-SAM's TinyViT at a fraction of its width for speed
USER_CONFIG = """
_base_ = 'mmyolo::yolov8/yolov8_s_syncbn_fast_8xb16-500e_coco.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisualPromptedBackbone',
        _scope_='mmioc_rtvp',
        image_model=_base_.model.backbone,
        visual_encoder={encoder},
        domain_projection=dict(type='ExpertDomainProjection',
                               align_channels=16, hidden_channels=16),
        visual_prompt=dict(type='EnergySparsePrompt', patch_size=32)),
    bbox_head=dict(head_module=dict(num_classes=18)),
    train_cfg=dict(assigner=dict(num_classes=18)))
"""


def _batch(root):
    init_default_scope('mmyolo')
    dataset = DATASETS.build(
        dict(type='MMIOCDataset', _scope_='mmioc_rtvp', data_root=f'{root}/',
             ann_file='annotations/closed_train.json',
             filter_cfg=dict(filter_empty_gt=True),
             pipeline=copy.deepcopy(TINY_TRAIN_PIPELINE)))
    return yolov5_collate([dataset[0], dataset[1]])


def test_yolov8_with_visual_prompts_trains(mini_workspace, tmp_path,
                                           one_thread):
    encoder = dict(TINY_VISUAL_ENCODER)  # MobileSAMTinyViT
    cfg = Config.fromfile(
        write_user_config(tmp_path, USER_CONFIG.format(encoder=encoder)))
    assert cfg.default_scope == 'mmyolo' and cfg.model.type == \
        'YOLODetector'
    init_default_scope('mmyolo')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone
    assert type(backbone).__name__ == 'VisualPromptedBackbone'
    assert type(backbone.expert.image_model).__name__ == 'YOLOv8CSPDarknet'
    assert backbone.out_channels == [128, 256, 512]

    data = _batch(mini_workspace / 'data' / 'mmioc_mini')
    model.train()
    # zero adapters: the expert's features are unchanged at the start
    inputs = model.data_preprocessor(copy.deepcopy(data), True)['inputs']
    with torch.no_grad():
        for out, ref in zip(backbone(inputs),
                            backbone.expert.forward_image(inputs)):
            torch.testing.assert_close(out, ref)

    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01))
    frozen = {k: v.clone()
              for k, v in backbone.visual_encoder.state_dict().items()}
    edp = {k: v.detach().clone()
           for k, v in backbone.domain_projection.named_parameters()}
    for step in range(2):
        losses = model.train_step(copy.deepcopy(data), optim)
        assert all(torch.isfinite(v) for v in losses.values())
        if step == 0:  # the adapters learn first ...
            assert any(conv.weight.abs().sum() > 0
                       for conv in backbone.prompt_adapters)
    # ... then the prompt path (EDP) through them, from the detection loss
    assert any(not torch.equal(v, edp[k])
               for k, v in backbone.domain_projection.named_parameters())
    for key, value in backbone.visual_encoder.state_dict().items():
        torch.testing.assert_close(value, frozen[key])
    assert all(not p.requires_grad
               for p in backbone.visual_encoder.parameters())
