# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch
from mmyolo.models.layers import CSPLayerWithTwoConv

from mmioc_rtvp.models.layers import (MaxSigmoidAttnBlock,
                                      MaxSigmoidCSPLayerWithTwoConv)


@pytest.mark.parametrize('num_blocks', [1, 2])
def test_channels_and_extra_branch(num_blocks):
    torch.manual_seed(0)
    layer = MaxSigmoidCSPLayerWithTwoConv(
        12, 16, guide_channels=5, embed_channels=4, num_heads=2,
        num_blocks=num_blocks).eval()
    plain = CSPLayerWithTwoConv(12, 16, num_blocks=num_blocks)
    mid = layer.mid_channels
    assert mid == 8
    assert isinstance(layer.attn_block, MaxSigmoidAttnBlock)
    assert layer.attn_block.in_channels == mid
    assert layer.attn_block.out_channels == mid
    # one more mid-channel branch than mmyolo's C2f
    assert plain.final_conv.conv.in_channels == (2 + num_blocks) * mid
    assert layer.final_conv.conv.in_channels == (3 + num_blocks) * mid
    x = torch.randn(2, 12, 5, 6)
    txt = torch.randn(2, 3, 5)
    with torch.no_grad():
        y = layer(x, txt)
    assert y.shape == (2, 16, 5, 6)


def test_forward_is_c2f_plus_attention_branch():
    torch.manual_seed(1)
    layer = MaxSigmoidCSPLayerWithTwoConv(
        8, 8, guide_channels=3, embed_channels=4, num_heads=2,
        num_blocks=1).eval()
    x = torch.randn(1, 8, 4, 4)
    txt = torch.randn(1, 2, 3)
    with torch.no_grad():
        a, b = layer.main_conv(x).split([4, 4], 1)
        c = layer.blocks[0](b)
        d = layer.attn_block(c, txt)
        expected = layer.final_conv(torch.cat([a, b, c, d], 1))
        torch.testing.assert_close(layer(x, txt), expected)


def test_output_depends_on_texts_but_not_on_padding():
    torch.manual_seed(2)
    layer = MaxSigmoidCSPLayerWithTwoConv(
        8, 8, guide_channels=3, embed_channels=4, num_heads=2).eval()
    x = torch.randn(1, 8, 4, 4)
    t1 = torch.randn(1, 2, 3)
    t2 = torch.randn(1, 2, 3)
    padded = torch.cat([t1, torch.zeros(1, 1, 3)], 1)
    with torch.no_grad():
        assert not torch.allclose(layer(x, t1), layer(x, t2))
        torch.testing.assert_close(layer(x, padded), layer(x, t1))
