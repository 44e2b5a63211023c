# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch
from mmengine.registry import DefaultScope

from mmioc_rtvp.models.backbones import MultiModalYOLOBackbone
from mmioc_rtvp.registry import MODELS
from ..yolo_world_utils import HashTextEncoder


def _backbone(**kwargs) -> MultiModalYOLOBackbone:
    cfg = dict(
        type='MultiModalYOLOBackbone',
        image_model=dict(
            type='YOLOv8CSPDarknet', deepen_factor=0.33, widen_factor=0.125,
            out_indices=(2, 3, 4)),
        text_model=dict(type='TestHashTextEncoder', embed_dim=8))
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('out_indices', [(2, 3, 4), (1, 2, 3, 4)])
def test_declared_shapes_match_features(out_indices):
    bb = _backbone(image_model=dict(
        type='YOLOv8CSPDarknet', deepen_factor=0.33, widen_factor=0.25,
        out_indices=out_indices)).eval()
    img = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        feats, txt = bb(img, [['a', 'b', ''], ['c', '', '']])
    assert [f.shape[1] for f in feats] == bb.out_channels
    assert [64 // f.shape[2] for f in feats] == bb.out_strides
    assert [96 // f.shape[3] for f in feats] == bb.out_strides
    assert bb.text_embed_dim == 8
    assert txt.shape == (2, 3, 8)
    # the text branch is the text model's output, padding -> zero
    ref = HashTextEncoder(8)(
        [['a', 'b', ''], ['c', '', '']])
    torch.testing.assert_close(txt, ref)
    assert torch.count_nonzero(txt[1, 1:]) == 0


def test_image_branch_is_the_image_model():
    bb = _backbone().eval()
    img = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(bb.forward_image(img), bb.image_model(img)):
            torch.testing.assert_close(a, b)


def test_frozen_stages_and_frozen_text_model():
    bb = _backbone(frozen_stages=1)
    bb.train()
    img_model = bb.image_model
    for name in ('stem', 'stage1'):
        m = getattr(img_model, name)
        assert not m.training
        assert not any(p.requires_grad for p in m.parameters())
    for name in ('stage2', 'stage3', 'stage4'):
        m = getattr(img_model, name)
        assert m.training
        assert all(p.requires_grad for p in m.parameters())
    assert not bb.text_model.training
    assert not any(p.requires_grad for p in bb.text_model.parameters())
    feats, txt = bb(torch.randn(2, 3, 64, 64), [['a'], ['b']])
    sum(f.sum() for f in feats).backward()
    assert bb.image_model.stem.conv.weight.grad is None
    assert bb.image_model.stage4[0].conv.weight.grad is not None
    assert not txt.requires_grad


def test_trainable_text_model_when_asked():
    bb = _backbone(freeze_text_model=False).train()
    assert bb.text_model.training
    _, txt = bb(torch.randn(1, 3, 64, 64), [['a', 'b']])
    txt.sum().backward()
    assert bb.text_model.proj.weight.grad is not None


def test_errors():
    with pytest.raises(ValueError, match='frozen_stages'):
        _backbone(frozen_stages=5)
    bb = _backbone()
    with pytest.raises(ValueError, match='2 prompt lists for a batch of 1'):
        bb(torch.randn(1, 3, 64, 64), [['a'], ['b']])
    bb.drop_text_model()
    with pytest.raises(RuntimeError, match='no text model'):
        bb.forward_text([['a']])
    assert bb.text_embed_dim is None
