# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch

from mmioc_rtvp.models.layers import VisualTextUpdate
from mmioc_rtvp.registry import MODELS


def _loop_reference(vt: VisualTextUpdate, img_feats, txt):
    """Per prompt: cosine with every projected position of every level,
    exp(cos / tau) weights, weighted mean, scaled, added; padding kept 0."""
    b, k, d = txt.shape
    out = txt.clone()
    for bi in range(b):
        for ki in range(k):
            t = txt[bi, ki]
            if float(t.abs().sum()) == 0:
                continue
            num = torch.zeros(d, dtype=txt.dtype)
            den = 0.0
            for proj, f in zip(vt.projections, img_feats):
                w = proj.weight[:, :, 0, 0]
                _, _, h, wd = f.shape
                for y in range(h):
                    for x in range(wd):
                        feat = w @ f[bi, :, y, x] + proj.bias
                        cos = float(t @ feat) / (
                            float(t.norm()) * float(feat.norm()))
                        e = math.exp(cos / vt.temperature)
                        num += e * feat
                        den += e
            out[bi, ki] = t + float(vt.scale) * num / den
    return out


def test_matches_loop_reference_with_padding_prompts():
    torch.manual_seed(0)
    vt = VisualTextUpdate([3, 5], text_channels=4, temperature=0.2,
                          init_scale=0.7).double()
    feats = [torch.randn(2, 3, 3, 4, dtype=torch.float64),
             torch.randn(2, 5, 2, 2, dtype=torch.float64)]
    txt = torch.randn(2, 3, 4, dtype=torch.float64)
    txt[1, 2] = 0  # a padding prompt
    with torch.no_grad():
        got = vt(feats, txt)
        ref = _loop_reference(vt, feats, txt)
    torch.testing.assert_close(got, ref)
    assert torch.equal(got[1, 2], torch.zeros(4, dtype=torch.float64))


def test_hand_computed_single_level():
    vt = VisualTextUpdate([2], text_channels=2, temperature=1.0,
                          init_scale=0.5)
    with torch.no_grad():
        vt.projections[0].weight.copy_(torch.eye(2)[:, :, None, None])
        vt.projections[0].bias.zero_()
    # two positions: (1, 0) and (0, 1); prompt (2, 0) -> cosines 1 and 0
    feats = [torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])]
    txt = torch.tensor([[[2.0, 0.0]]])
    e = math.e
    expected = torch.tensor([[[2.0 + 0.5 * e / (e + 1), 0.5 / (e + 1)]]])
    with torch.no_grad():
        torch.testing.assert_close(vt(feats, txt), expected)


def test_update_does_not_depend_on_the_text_norm():
    torch.manual_seed(0)
    vt = VisualTextUpdate([4, 4], text_channels=3)
    feats = [torch.randn(1, 4, 3, 3), torch.randn(1, 4, 2, 2)]
    txt = torch.randn(1, 2, 3)
    with torch.no_grad():
        delta = vt(feats, txt) - txt
        delta_scaled = vt(feats, 5 * txt) - 5 * txt
    torch.testing.assert_close(delta, delta_scaled)


def test_no_qkv_projections_and_gradients_reach_everything():
    torch.manual_seed(0)
    vt = MODELS.build(
        dict(type='VisualTextUpdate', in_channels=[4, 6], text_channels=3))
    names = {n for n, _ in vt.named_parameters()}
    assert names == {
        'scale', 'projections.0.weight', 'projections.0.bias',
        'projections.1.weight', 'projections.1.bias'
    }
    assert float(vt.scale.detach()) == pytest.approx(0.01)
    feats = [torch.randn(2, 4, 3, 3, requires_grad=True),
             torch.randn(2, 6, 2, 2, requires_grad=True)]
    txt = torch.randn(2, 2, 3, requires_grad=True)
    (vt(feats, txt) * torch.randn(2, 2, 3)).sum().backward()
    for n, p in vt.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, n
    for t in feats + [txt]:
        assert float(t.grad.abs().sum()) > 0


def test_bad_inputs():
    vt = VisualTextUpdate([4, 6], text_channels=3)
    feats = [torch.randn(2, 4, 3, 3), torch.randn(2, 6, 2, 2)]
    with pytest.raises(ValueError, match='expected 2 levels'):
        vt(feats[:1], torch.randn(2, 2, 3))
    with pytest.raises(ValueError, match=r'txt_feats must be \(B, K, D=3\)'):
        vt(feats, torch.randn(2, 2, 5))
    with pytest.raises(ValueError, match='batch sizes differ'):
        vt(feats, torch.randn(3, 2, 3))
    with pytest.raises(ValueError, match='temperature'):
        VisualTextUpdate([4], temperature=0)
