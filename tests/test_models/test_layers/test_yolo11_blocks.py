# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLO11's blocks: shapes, the attention's math, and parameter counts.

The counts are the per-layer ``params`` column of Ultralytics' model summary
(``ultralytics 8.3.74``, YOLO11-S / -L built from ``yolo11.yaml``; the
summary's totals, 9,428,953 and 25,312,793 for 3 classes, equal the
published 9,458,752 and 25,372,160 of ``yolo11.yaml`` for 80 classes once
the 3 x (c3 + 1) x 77 weights of the class convolutions are added): see
docs/generalization.md.
"""
import math

import pytest
import torch
from mmyolo.models.layers import SPPFBottleneck

from mmioc_rtvp.models.layers.c2psa import C2PSA
from mmioc_rtvp.models.layers.c3k import C3k
from mmioc_rtvp.models.layers.c3k2 import C3k2
from mmioc_rtvp.models.layers.psa_attention import PSAAttention
from mmioc_rtvp.models.layers.psa_block import PSABlock


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('block, published', [
    # yolo11s layer 2: C3k2 [64, 128, 1, False, 0.25]
    (lambda: C3k2(64, 128, expand_ratio=0.25, num_blocks=1), 26080),
    # yolo11s layer 8: C3k2 [512, 512, 1, True]
    (lambda: C3k2(512, 512, num_blocks=1, c3k=True), 1380352),
    # yolo11l layer 2: C3k2 [128, 256, 2, True, 0.25]
    (lambda: C3k2(128, 256, expand_ratio=0.25, num_blocks=2, c3k=True),
     173824),
    # yolo11s layer 9: SPPF [512, 512, 5] (mmyolo's SPPFBottleneck)
    (lambda: SPPFBottleneck(512, 512, kernel_sizes=5), 656896),
    # yolo11s layer 10: C2PSA [512, 512, 1]; yolo11l: [512, 512, 2]
    (lambda: C2PSA(512, num_blocks=1), 990976),
    (lambda: C2PSA(512, num_blocks=2), 1455616),
])
def test_parameter_counts_equal_ultralytics(block, published):
    assert _count(block()) == published


@pytest.mark.parametrize('c3k', [False, True])
def test_c3k2_shapes_and_blocks(c3k):
    torch.manual_seed(0)
    layer = C3k2(8, 16, expand_ratio=0.5, num_blocks=2, c3k=c3k).eval()
    assert layer.mid_channels == 8
    assert all(isinstance(b, C3k) == c3k for b in layer.blocks)
    assert layer.final_conv.conv.in_channels == (2 + 2) * 8
    x = torch.randn(2, 8, 5, 7)
    assert layer(x).shape == (2, 16, 5, 7)


def test_c3k_uses_kxk_bottlenecks():
    layer = C3k(8, 8, num_blocks=2, kernel_size=3)
    assert len(layer.blocks) == 2
    for block in layer.blocks:
        assert block.conv1.conv.kernel_size == (3, 3)
        assert block.conv2.conv.kernel_size == (3, 3)
        assert block.conv1.conv.out_channels == 4  # no channel reduction
    assert layer(torch.randn(1, 8, 6, 6)).shape == (1, 8, 6, 6)


def _identity_bn(module: torch.nn.Module) -> None:
    """BN layers that return their input in eval mode."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
            m.running_mean.zero_()
            m.running_var.fill_(1 - m.eps)
            m.weight.data.fill_(1)
            m.bias.data.zero_()


def test_psa_attention_hand_computed():
    r"""One head, C = 2, d_k = 1, two positions n in {0, 1}; q = channel 0,
    k = channel 1, v = x, pe = 0, proj = identity:

        x[0] = (1, 0), x[1] = (0, ln 3)
        attn[0] = softmax(q_0 k) = softmax(1 * (0, ln 3)) = (1/4, 3/4)
        attn[1] = softmax(0 * (0, ln 3))                 = (1/2, 1/2)
        out[c, n] = sum_m v[c, m] attn[n, m]
          out[0] = (1/4, 1/2),  out[1] = (3/4 ln 3, 1/2 ln 3)
    """
    attn = PSAAttention(2, num_heads=1, attn_ratio=0.5)
    assert (attn.key_dim, attn.head_dim) == (1, 2)
    _identity_bn(attn)
    with torch.no_grad():
        attn.qkv.conv.weight.copy_(
            torch.tensor([[1., 0.], [0., 1.], [1., 0.], [0., 1.]])[..., None,
                                                                    None])
        attn.pe.conv.weight.zero_()
        attn.proj.conv.weight.copy_(torch.eye(2)[..., None, None])
    ln3 = math.log(3)
    x = torch.tensor([[[[1., 0.]], [[0., ln3]]]])  # (1, 2, 1, 2)
    expected = torch.tensor([[[[0.25, 0.5]], [[0.75 * ln3, 0.5 * ln3]]]])
    torch.testing.assert_close(attn(x), expected)


def test_psa_attention_positional_term_and_heads():
    torch.manual_seed(0)
    attn = PSAAttention(8, num_heads=2, attn_ratio=0.5).eval()
    qkv_channels = 8 + 2 * 2 * 2  # C + 2 * d_k * heads
    assert attn.qkv.conv.out_channels == qkv_channels
    assert attn.pe.conv.groups == 8
    x = torch.randn(2, 8, 3, 4)
    out = attn(x)
    assert out.shape == x.shape
    # attention mixes positions: one position's input changes others
    x2 = x.clone()
    x2[:, :, 0, 0] += 1
    assert not torch.allclose(attn(x2)[:, :, 2, 3], out[:, :, 2, 3])
    with pytest.raises(ValueError, match='divide'):
        PSAAttention(8, num_heads=3)


def test_psa_block_residuals():
    torch.manual_seed(0)
    block = PSABlock(8, num_heads=2).eval()
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        y = x + block.attn(x)
        torch.testing.assert_close(block(x), y + block.ffn(y))


def test_c2psa_transforms_only_the_second_half():
    torch.manual_seed(0)
    layer = C2PSA(16, num_blocks=1, head_channels=4).eval()
    assert layer.mid_channels == 8
    assert layer.blocks[0].attn.num_heads == 2  # 8 / 4 channels per head
    x = torch.randn(2, 16, 4, 4)
    with torch.no_grad():
        kept, attended = layer.main_conv(x).split((8, 8), 1)
        expected = layer.final_conv(
            torch.cat((kept, layer.blocks(attended)), 1))
        torch.testing.assert_close(layer(x), expected)
