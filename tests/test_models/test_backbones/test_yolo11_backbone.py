# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLO11Backbone: shapes, declared channels and the published sizes.

Published per-layer parameters of YOLO11-S and -L (Ultralytics' model
summary, ``yolo11.yaml`` layers 0-10; see test_yolo11_blocks.py and
docs/generalization.md for the source): layer 0 is our stem, layers
1-2 / 3-4 / 5-6 / 7-10 our stages 1-4.
"""
import pytest
import torch

from mmioc_rtvp.models.backbones.yolo11_backbone import YOLO11Backbone
from mmioc_rtvp.models.layers.c2psa import C2PSA
from mmioc_rtvp.models.layers.c3k import C3k

YOLO11_S = dict(deepen_factor=0.5, widen_factor=0.5, max_channels=1024)
YOLO11_L = dict(deepen_factor=1.0, widen_factor=1.0, max_channels=512,
                c3k_all_stages=True)
# per layer 0..10, as printed by Ultralytics
PUBLISHED_S = [928, 18560, 26080, 147712, 103360, 590336, 346112, 1180672,
               1380352, 656896, 990976]
PUBLISHED_L = [1856, 73984, 173824, 590336, 691712, 2360320, 2234368,
               2360320, 2234368, 656896, 1455616]


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('cfg, published', [(YOLO11_S, PUBLISHED_S),
                                            (YOLO11_L, PUBLISHED_L)],
                         ids=['S', 'L'])
def test_parameters_match_the_published_backbones(cfg, published):
    model = YOLO11Backbone(**cfg)
    total = sum(published)  # S: 5,441,984; L: 12,833,600
    assert abs(_count(model) - total) / total <= 0.02
    # per stage, exactly
    assert _count(model.stem) == published[0]
    spans = [(1, 3), (3, 5), (5, 7), (7, 11)]
    for i, (a, b) in enumerate(spans):
        assert _count(getattr(model, f'stage{i + 1}')) == sum(
            published[a:b]), f'stage{i + 1}'


def test_scales_follow_ultralytics():
    s = YOLO11Backbone(**YOLO11_S)
    assert s.out_channels == [256, 256, 512]
    assert [isinstance(m, C3k) for m in s.stage1[1].blocks] == [False]
    assert isinstance(s.stage3[1].blocks[0], C3k)
    assert len(s.stage4[3].blocks) == 1  # C2PSA: round(2 * 0.5)
    large = YOLO11Backbone(**YOLO11_L)
    assert large.out_channels == [512, 512, 512]
    assert all(
        isinstance(b, C3k) for i in range(1, 5)
        for b in getattr(large, f'stage{i}')[1].blocks)
    assert isinstance(large.stage4[3], C2PSA)
    assert len(large.stage4[3].blocks) == 2


def test_output_shapes_and_strides():
    torch.manual_seed(0)
    model = YOLO11Backbone(deepen_factor=0.33, widen_factor=0.125,
                           out_indices=(1, 2, 3, 4)).eval()
    x = torch.randn(2, 3, 64, 96)
    outs = model(x)
    assert [o.shape[1] for o in outs] == model.out_channels == [32, 64, 64,
                                                               128]
    assert [tuple(o.shape[2:]) for o in outs] == [(16, 24), (8, 12), (4, 6),
                                                  (2, 3)]


def test_frozen_stages_and_registry():
    from mmengine.registry import init_default_scope

    from mmioc_rtvp.registry import MODELS
    init_default_scope('mmioc_rtvp')
    model = MODELS.build(
        dict(type='YOLO11Backbone', widen_factor=0.125, frozen_stages=1))
    model.train()
    assert not any(p.requires_grad for p in model.stage1.parameters())
    assert all(p.requires_grad for p in model.stage2.parameters())
    assert not model.stage1[0].bn.training


def test_feeds_mmyolo_yolov8_pafpn():
    """docs/custom_models.md: YOLOv8's PAFPN takes YOLO11-S's levels with
    ``in_channels = out_channels = [512, 512, 1024]`` (before widen_factor;
    mmyolo's PAFPN needs out = in on P3 / P4)."""
    from mmyolo.models.necks import YOLOv8PAFPN
    torch.manual_seed(0)
    backbone = YOLO11Backbone(deepen_factor=0.33, widen_factor=0.125)
    neck = YOLOv8PAFPN(in_channels=[512, 512, 1024],
                       out_channels=[512, 512, 1024], deepen_factor=0.33,
                       widen_factor=0.125)
    backbone.eval()
    neck.eval()
    with torch.no_grad():
        outs = neck(backbone(torch.randn(1, 3, 64, 64)))
    assert [o.shape[1] for o in outs] == [64, 64, 128]
