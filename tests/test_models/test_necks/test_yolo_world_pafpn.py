# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch
from mmengine.registry import DefaultScope
from mmyolo.models.necks import YOLOv8PAFPN

from mmioc_rtvp.models.layers import MaxSigmoidCSPLayerWithTwoConv
from mmioc_rtvp.models.necks import YOLOWorldPAFPN
from mmioc_rtvp.registry import MODELS

WIDEN = 0.125
CHANNELS = [256, 512, 1024]


def _neck(**kwargs) -> YOLOWorldPAFPN:
    cfg = dict(
        type='YOLOWorldPAFPN',
        in_channels=CHANNELS,
        out_channels=CHANNELS,
        deepen_factor=0.33,
        widen_factor=WIDEN,
        num_csp_blocks=3,
        guide_channels=16,
        embed_channels=[128, 256, 512],
        num_heads=[4, 8, 16])
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        return MODELS.build(cfg)


def _inputs(size: int = 64, batch: int = 2):
    return [
        torch.randn(batch, int(c * WIDEN), size // s, size // s)
        for c, s in zip(CHANNELS, [8, 16, 32])
    ]


def test_output_channels_and_strides_match_yolov8_pafpn():
    torch.manual_seed(0)
    neck = _neck()
    neck.eval()  # mmyolo's neck.train() returns None
    ref = YOLOv8PAFPN(CHANNELS, CHANNELS, deepen_factor=0.33,
                      widen_factor=WIDEN, num_csp_blocks=3)
    ref.eval()
    feats = _inputs(size=96)
    with torch.no_grad():
        outs = neck(feats, torch.randn(2, 3, 16))
        ref_outs = ref(feats)
    assert [o.shape for o in outs] == [o.shape for o in ref_outs]
    assert [tuple(o.shape) for o in outs] == [(2, 32, 12, 12),
                                             (2, 64, 6, 6), (2, 128, 3, 3)]
    # reduce / sampling / out layers are the parent's
    assert [type(m) for m in neck.downsample_layers] == \
        [type(m) for m in ref.downsample_layers]


def test_guided_layers_and_their_arguments():
    neck = _neck()
    layers = list(neck.top_down_layers) + list(neck.bottom_up_layers)
    assert all(isinstance(m, MaxSigmoidCSPLayerWithTwoConv) for m in layers)
    # top-down layers produce levels 1, 0; bottom-up levels 1, 2
    levels = [1, 0, 1, 2]
    embed = [16, 32, 64]  # make_round([128, 256, 512] * 0.125)
    heads = [1, 1, 2]  # make_round([4, 8, 16] * 0.125)
    out_ch = [32, 64, 128]
    for layer, lvl in zip(layers, levels):
        assert layer.attn_block.embed_channels == embed[lvl]
        assert layer.attn_block.num_heads == heads[lvl]
        assert layer.attn_block.guide_channels == 16
        assert layer.out_channels == out_ch[lvl]
    assert len(neck.top_down_layers[0].blocks) == 1  # make_round(3, 0.33)


def test_every_level_depends_on_the_texts():
    torch.manual_seed(1)
    neck = _neck()
    neck.eval()  # mmyolo's neck.train() returns None
    feats = _inputs()
    with torch.no_grad():
        a = neck(feats, torch.randn(2, 3, 16))
        b = neck(feats, torch.randn(2, 3, 16))
    for oa, ob in zip(a, b):
        assert not torch.allclose(oa, ob)


def test_block_cfg_is_used():
    neck = _neck(block_cfg=dict(
        type='MaxSigmoidCSPLayerWithTwoConv', with_scale=True))
    assert neck.bottom_up_layers[1].attn_block.scale is not None


def test_bad_arguments():
    with pytest.raises(ValueError, match='one entry per level'):
        _neck(num_heads=[1, 2])
    neck = _neck()
    with pytest.raises(ValueError, match='feature levels'):
        neck(_inputs()[:2], torch.randn(2, 3, 16))
