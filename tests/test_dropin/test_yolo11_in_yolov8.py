# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""docs/custom_models.md's recipe: YOLO11Backbone in mmyolo's stock YOLOv8-S
by config alone."""
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from tests.test_dropin.dropin_utils import write_user_config

USER_CONFIG = """
_base_ = 'mmyolo::yolov8/yolov8_s_syncbn_fast_8xb16-500e_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='YOLO11Backbone', _scope_='mmioc_rtvp',
                  deepen_factor=0.5, widen_factor=0.5),
    neck=dict(in_channels=[512, 512, 1024], out_channels=[512, 512, 1024]),
    bbox_head=dict(head_module=dict(in_channels=[512, 512, 1024])))
"""


def test_yolov8_with_a_yolo11_backbone_runs(tmp_path, one_thread):
    cfg = Config.fromfile(write_user_config(tmp_path, USER_CONFIG))
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    assert type(model.backbone).__name__ == 'YOLO11Backbone'
    with torch.no_grad():
        cls_scores, bbox_preds = model(torch.rand(1, 3, 64, 64),
                                       mode='tensor')[:2]
    assert [s.shape[1:] for s in cls_scores] == [(80, 8, 8), (80, 4, 4),
                                                 (80, 2, 2)]
    assert len(bbox_preds) == 3
