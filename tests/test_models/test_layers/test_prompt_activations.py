# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch
from mmyolo.models.plugins import CBAM

from mmioc_rtvp.models.layers import (CBAMActivation, ECAActivation,
                                      EnergySparsePrompt, MCAActivation,
                                      SelfAttentionActivation)
from mmioc_rtvp.registry import MODELS


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


# ---------------------------------------------------------------- ECA
@pytest.mark.parametrize('channels,k', [(16, 3), (64, 3), (256, 5),
                                        (512, 5), (2, 1)])
def test_eca_adaptive_kernel(channels, k):
    # t = int(|(log2 C + 1) / 2|), k = t if odd else t + 1
    assert ECAActivation(channels).kernel_size == k


def test_eca_hand_computed():
    eca = ECAActivation(4, kernel_size=3)
    with torch.no_grad():
        eca.conv.weight.copy_(torch.tensor([[[1.0, 2.0, -1.0]]]))
    # channel means 1, 2, 3, 4 (constant maps)
    x = torch.arange(1.0, 5.0)[None, :, None, None].expand(1, 4, 2, 3)
    # cross-correlation with zero padding:
    # c0: 0 + 2*1 - 2 = 0; c1: 1 + 4 - 3 = 2; c2: 2 + 6 - 4 = 4;
    # c3: 3 + 8 - 0 = 11
    a = eca(x)
    expected = torch.tensor([0.5, _sigmoid(2), _sigmoid(4), _sigmoid(11)])
    assert a.shape == (1, 4, 2, 3)
    torch.testing.assert_close(a[0, :, 1, 2], expected)
    torch.testing.assert_close(a, expected[None, :, None, None].expand_as(a))


# ---------------------------------------------------------------- CBAM
def test_cbam_weights_reproduce_mmyolo_cbam():
    torch.manual_seed(0)
    act = CBAMActivation(32, reduce_ratio=8)
    ref = CBAM(32, reduce_ratio=8)
    ref.load_state_dict(act.state_dict())
    x = torch.randn(2, 32, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(act(x) * x, ref(x))


def test_cbam_hand_computed():
    act = CBAMActivation(16)
    with torch.no_grad():
        for p in act.channel_attention.parameters():
            p.zero_()  # M_c = sigmoid(0 + 0) = 0.5
        act.spatial_attention.conv.conv.weight.zero_()
        act.spatial_attention.conv.conv.bias.fill_(1.0)  # M_s = sigmoid(1)
        a = act(torch.randn(1, 16, 3, 3))
    torch.testing.assert_close(a, torch.full_like(a, 0.5 * _sigmoid(1.0)))
    with pytest.raises(ValueError, match='reduce_ratio'):
        CBAMActivation(8, reduce_ratio=16)


# ---------------------------------------------------------------- MCA
def _mca_loop(act: MCAActivation, x: torch.Tensor) -> torch.Tensor:
    """MCA weights with explicit loops over the attended axis."""
    b, c, h, w = x.shape
    gates = []
    for axis, n in enumerate((c, h, w)):
        kernel = act.convs[axis].weight[0, 0].tolist()
        k = len(kernel)
        mix = [_sigmoid(float(v)) for v in act.mix_logits[axis]]
        gate = torch.zeros(b, n, dtype=x.dtype)
        for bi in range(b):
            z = []
            for i in range(n):
                if axis == 0:
                    sl = x[bi, i]
                elif axis == 1:
                    sl = x[bi, :, i]
                else:
                    sl = x[bi, :, :, i]
                vals = sl.flatten().tolist()
                mean = sum(vals) / len(vals)
                std = math.sqrt(sum((v - mean)**2 for v in vals) / len(vals))
                z.append(0.5 * (mean + std) + mix[0] * mean + mix[1] * std)
            for i in range(n):
                acc = 0.0
                for t in range(k):
                    j = i + t - k // 2
                    if 0 <= j < n:
                        acc += kernel[t] * z[j]
                gate[bi, i] = _sigmoid(acc)
        gates.append(gate)
    out = torch.zeros_like(x)
    for bi in range(b):
        for ci in range(c):
            for hi in range(h):
                for wi in range(w):
                    out[bi, ci, hi, wi] = (gates[0][bi, ci] + gates[1][
                        bi, hi] + gates[2][bi, wi]) / 3
    return out


def test_mca_matches_loop_reference():
    torch.manual_seed(0)
    act = MCAActivation(64)  # k_C = 3
    with torch.no_grad():
        for conv in act.convs:
            conv.weight.normal_()
    x = torch.randn(2, 64, 4, 5, dtype=torch.float64)
    act = act.double()
    with torch.no_grad():
        torch.testing.assert_close(act(x), _mca_loop(act, x))


@pytest.mark.parametrize('channels,k', [(2, 1), (16, 1), (64, 3), (256, 5),
                                        (512, 5)])
def test_mca_channel_kernel_rule(channels, k):
    # t = round(|(log2 C - 1) / 1.5|), k = t if odd else t - 1 (>= 1)
    assert MCAActivation(channels).kernel_sizes == (k, 3, 3)


def test_mca_one_pixel_wide_map_is_finite():
    out = MCAActivation(8)(torch.randn(1, 8, 4, 1))
    assert torch.isfinite(out).all()


# ---------------------------------------------------------------- Self-attn
def _attention(act: SelfAttentionActivation,
               tokens: torch.Tensor) -> torch.Tensor:
    """Plain multi-head attention of one (N, C) token set."""
    mha = act.attn
    c = tokens.shape[1]
    heads = act.num_heads
    d = c // heads
    qkv = tokens @ mha.in_proj_weight.T + mha.in_proj_bias
    q, k, v = qkv.split(c, dim=1)
    outs = []
    for hd in range(heads):
        sl = slice(hd * d, (hd + 1) * d)
        att = (q[:, sl] @ k[:, sl].T / math.sqrt(d)).softmax(dim=-1)
        outs.append(att @ v[:, sl])
    y = torch.cat(outs, dim=1) @ mha.out_proj.weight.T + mha.out_proj.bias
    return y.sigmoid()


def test_global_self_attention_matches_reference():
    torch.manual_seed(0)
    act = SelfAttentionActivation(8, num_heads=2, window_size=None).eval()
    x = torch.randn(2, 8, 3, 4)
    with torch.no_grad():
        got = act(x)
        for b in range(2):
            tokens = x[b].flatten(1).T  # (HW, C)
            ref = _attention(act, tokens).T.reshape(8, 3, 4)
            torch.testing.assert_close(got[b], ref)


def test_window_self_attention_attends_within_real_windows_only():
    torch.manual_seed(0)
    act = SelfAttentionActivation(8, num_heads=2, window_size=3).eval()
    x = torch.randn(2, 8, 5, 7)  # windows cut by both borders
    with torch.no_grad():
        got = act(x)
        for b in range(2):
            for r0 in range(0, 5, 3):
                for c0 in range(0, 7, 3):
                    patch = x[b, :, r0:r0 + 3, c0:c0 + 3]
                    ph, pw = patch.shape[1:]
                    ref = _attention(act, patch.flatten(1).T)
                    torch.testing.assert_close(
                        got[b, :, r0:r0 + 3, c0:c0 + 3],
                        ref.T.reshape(8, ph, pw))


# ---------------------------------------------------------------- interface
@pytest.mark.parametrize('cfg', [
    dict(type='EnergyActivation'),
    dict(type='ECAActivation'),
    dict(type='CBAMActivation'),
    dict(type='MCAActivation'),
    dict(type='SelfAttentionActivation', window_size=4),
])
def test_selectable_by_type_with_one_interface(cfg):
    torch.manual_seed(0)
    act = MODELS.build(dict(cfg, channels=16))
    x = torch.randn(2, 16, 6, 5)
    with torch.no_grad():
        a = act(x)
        other = act(torch.randn(2, 16, 6, 5))
    assert a.shape == x.shape
    assert torch.isfinite(a).all() and float(a.min()) > 0
    # the weights depend on the input
    assert not torch.allclose(a, other)
    # and the RVP module takes any of them by config
    rvp = EnergySparsePrompt(16, stride=8, activation_cfg=cfg).eval()
    assert type(rvp.activation) is type(act)
    with torch.no_grad():
        torch.testing.assert_close(
            rvp.score(x), rvp.proj_score(rvp.activation(x) * x))
