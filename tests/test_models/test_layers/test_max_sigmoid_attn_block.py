# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch

from mmioc_rtvp.models.layers import MaxSigmoidAttnBlock


def _randomize(block: MaxSigmoidAttnBlock, seed: int = 0) -> None:
    """Random weights everywhere, including BN statistics and the bias."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for name, buf in block.named_buffers():
            if name.endswith('running_var'):
                buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
            elif name.endswith('running_mean'):
                buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
    block.eval()


def _loop_reference(block: MaxSigmoidAttnBlock, x: torch.Tensor,
                    guide: torch.Tensor) -> torch.Tensor:
    """Per-position, per-prompt, per-head loop of the docstring equation."""
    b, _, h, w = x.shape
    k = guide.shape[1]
    m = block.num_heads
    d = block.head_channels
    embed = block.embed_conv(x) if block.embed_conv is not None else x
    proj = block.project_conv(x)
    out_per_head = block.out_channels // m
    g = guide @ block.guide_fc.weight.T + block.guide_fc.bias  # (B, K, E)
    out = torch.zeros_like(proj)
    for bi in range(b):
        for head in range(m):
            for i in range(h):
                for j in range(w):
                    e = embed[bi, head * d:(head + 1) * d, i, j]
                    best = None
                    for kk in range(k):
                        if block.mask_padding and \
                                float(guide[bi, kk].abs().sum()) == 0:
                            continue
                        gk = g[bi, kk, head * d:(head + 1) * d]
                        s = float((e * gk).sum()) / math.sqrt(d)
                        best = s if best is None else max(best, s)
                    if best is None:
                        gate = 0.0
                    else:
                        gate = 1 / (1 + math.exp(-(best + float(
                            block.bias[head]))))
                    if block.scale is not None:
                        gate *= float(block.scale[0, head, 0, 0])
                    sl = slice(head * out_per_head, (head + 1) * out_per_head)
                    out[bi, sl, i, j] = proj[bi, sl, i, j] * gate
    return out


@pytest.mark.parametrize(
    'in_ch,embed_ch,out_ch,heads,with_scale',
    [(6, 8, 4, 2, False), (8, 8, 6, 2, True), (4, 6, 3, 3, False),
     (5, 4, 4, 1, True)])
def test_matches_loop_reference(in_ch, embed_ch, out_ch, heads, with_scale):
    torch.manual_seed(0)
    block = MaxSigmoidAttnBlock(
        in_ch, out_ch, guide_channels=5, embed_channels=embed_ch,
        num_heads=heads, with_scale=with_scale)
    assert (block.embed_conv is None) == (in_ch == embed_ch)
    _randomize(block)
    x = torch.randn(2, in_ch, 3, 4)
    guide = torch.randn(2, 4, 5)
    guide[1, 2] = 0  # a padding prompt
    with torch.no_grad():
        got = block(x, guide)
        ref = _loop_reference(block, x, guide)
    assert got.shape == (2, out_ch, 3, 4)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_padding_prompts_do_not_change_the_output():
    block = MaxSigmoidAttnBlock(4, 4, guide_channels=3, embed_channels=4,
                                num_heads=2)
    _randomize(block, seed=3)
    x = torch.randn(1, 4, 3, 3)
    guide = torch.randn(1, 2, 3)
    padded = torch.cat([guide, torch.zeros(1, 3, 3)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(block(x, padded), block(x, guide))
        # only padding: the gate closes completely
        assert torch.count_nonzero(block(x, torch.zeros(1, 2, 3))) == 0
    # without masking the padding rows do count (guide_fc bias != 0)
    block.mask_padding = False
    with torch.no_grad():
        assert not torch.allclose(block(x, padded), block(x, guide))


def test_gate_follows_best_prompt():
    """A prompt aligned with the image embedding opens the gate more than
    an opposite one (sigmoid of a larger max)."""
    block = MaxSigmoidAttnBlock(2, 2, guide_channels=2, embed_channels=2)
    _randomize(block, seed=5)
    with torch.no_grad():
        block.guide_fc.weight.copy_(torch.eye(2))
        block.guide_fc.bias.zero_()
        block.bias.zero_()
    x = torch.tensor([[[[1.0]], [[0.0]]]])
    embed = block.embed_conv(x) if block.embed_conv is not None else x
    e = embed[0, :, 0, 0].detach()
    with torch.no_grad():
        a_pos = block.attention(x, e.view(1, 1, 2))
        a_neg = block.attention(x, -e.view(1, 1, 2))
        a_both = block.attention(x, torch.stack([-e, e]).view(1, 2, 2))
    expected = torch.sigmoid(e.dot(e) / math.sqrt(2))
    torch.testing.assert_close(a_pos.flatten()[0], expected)
    torch.testing.assert_close(a_neg.flatten()[0],
                               torch.sigmoid(-e.dot(e) / math.sqrt(2)))
    torch.testing.assert_close(a_both, a_pos)


def test_bad_arguments():
    with pytest.raises(ValueError, match='embed_channels'):
        MaxSigmoidAttnBlock(4, 4, 3, embed_channels=6, num_heads=4)
    with pytest.raises(ValueError, match='out_channels'):
        MaxSigmoidAttnBlock(4, 6, 3, embed_channels=8, num_heads=4)
    block = MaxSigmoidAttnBlock(4, 4, 3, embed_channels=4)
    with pytest.raises(ValueError, match='guide must be'):
        block(torch.randn(2, 4, 2, 2), torch.randn(2, 5, 7))
