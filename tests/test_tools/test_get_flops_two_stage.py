# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/analysis_tools/get_flops_two_stage.py on a small Faster R-CNN."""
import re
import sys

from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from tests.utils.scripts import load_script

tool = load_script('tools/analysis_tools/get_flops_two_stage.py',
                   'get_flops_two_stage_under_test')

CONFIG = """
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]),
    test_cfg=dict(rpn=dict(nms_pre=50, max_per_img=20)))
"""


def _run(monkeypatch, capsys, config, h, w):
    monkeypatch.setattr(sys, 'argv', [
        'get_flops_two_stage.py', config, '--shape', str(h), str(w)])
    tool.main()
    out = capsys.readouterr().out
    params, macs = re.search(r'params ([\d.]+) M, ([\d.]+) GMACs',
                             out).groups()
    return float(params), float(macs), out


def test_counts_a_two_stage_detector(tmp_path, monkeypatch, capsys):
    config = tmp_path / 'faster_rcnn_r18.py'
    config.write_text(CONFIG)
    params, macs, out = _run(monkeypatch, capsys, str(config), 64, 64)
    cfg = Config.fromfile(str(config))
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    assert params == round(
        sum(p.numel() for p in model.parameters()) / 1e6, 3)
    for name in ('backbone', 'neck', 'rpn_head', 'roi_head'):
        assert f'  {name}: ' in out
    # the image path grows with the input; the RoI head (20 proposals) not
    _, macs_large, _ = _run(monkeypatch, capsys, str(config), 128, 128)
    assert 0 < macs < macs_large
