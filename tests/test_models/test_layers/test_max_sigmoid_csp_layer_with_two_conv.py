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
    assert (layer.in_channels, layer.out_channels) == (12, 16)
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


def test_state_dict_layout_loads_old_checkpoints():
    """The keys are mmyolo's C2f keys (final conv one branch wider) plus
    ``attn_block.*`` of a standalone block, so saved checkpoints load."""
    norm_cfg = dict(type='BN', momentum=0.1, eps=1e-5)
    act_cfg = dict(type='ReLU')
    layer = MaxSigmoidCSPLayerWithTwoConv(
        16, 16, guide_channels=5, embed_channels=4, num_heads=2,
        num_blocks=2, with_scale=True, norm_cfg=norm_cfg,
        act_cfg=act_cfg).eval()
    plain = CSPLayerWithTwoConv(
        16, 16, num_blocks=2, norm_cfg=norm_cfg, act_cfg=act_cfg)
    attn = MaxSigmoidAttnBlock(
        8, 8, guide_channels=5, embed_channels=4, num_heads=2,
        with_scale=True, norm_cfg=norm_cfg)
    expected = {k: v.shape for k, v in plain.state_dict().items()}
    expected['final_conv.conv.weight'] = torch.Size([16, 5 * 8, 1, 1])
    expected.update(
        {f'attn_block.{k}': v.shape
         for k, v in attn.state_dict().items()})
    got = {k: v.shape for k, v in layer.state_dict().items()}
    assert got == expected
    # the configs reach every conv
    assert layer.final_conv.norm_cfg == norm_cfg
    assert isinstance(layer.final_conv.activate, torch.nn.ReLU)
    assert layer.attn_block.project_conv.bn.momentum == 0.1
    # a checkpoint of another instance loads strictly and gives its output
    torch.manual_seed(3)
    other = MaxSigmoidCSPLayerWithTwoConv(
        16, 16, guide_channels=5, embed_channels=4, num_heads=2,
        num_blocks=2, with_scale=True, norm_cfg=norm_cfg,
        act_cfg=act_cfg).eval()
    layer.load_state_dict(other.state_dict(), strict=True)
    x = torch.randn(1, 16, 4, 4)
    txt = torch.randn(1, 3, 5)
    with torch.no_grad():
        torch.testing.assert_close(layer(x, txt), other(x, txt))


def test_parent_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        MaxSigmoidCSPLayerWithTwoConv(8, 8, 3, 4, 2, 0.5)
