# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn

from mmioc_rtvp.models.layers import ExpertDomainProjection
from mmioc_rtvp.registry import MODELS

EXPERT_CH = (3, 4)
SAM_CH = 4


def _edp(**kwargs) -> ExpertDomainProjection:
    cfg = dict(
        expert_channels=EXPERT_CH,
        sam_channels=SAM_CH,
        align_channels=4,
        hidden_channels=3,
        blocks_per_side=4)
    cfg.update(kwargs)
    return ExpertDomainProjection(**cfg)


def _inputs(seed=0, expert_grad=False):
    gen = torch.Generator().manual_seed(seed)
    sam = [torch.randn(2, SAM_CH, 8, 8, generator=gen),
           torch.randn(2, SAM_CH, 4, 4, generator=gen)]
    expert = [torch.randn(2, c, s, s, generator=gen).requires_grad_(
        expert_grad) for c, s in zip(EXPERT_CH, (8, 4))]
    return sam, expert


def _avg_pool_loop(f: torch.Tensor, k: int) -> torch.Tensor:
    """k x k mean over the neighbours that exist (no padding counted)."""
    out = torch.zeros_like(f)
    h, w = f.shape[-2:]
    r = k // 2
    for i in range(h):
        for j in range(w):
            win = f[..., max(0, i - r):i + r + 1, max(0, j - r):j + r + 1]
            out[..., i, j] = win.mean(dim=(-2, -1))
    return out


def _reference(edp, sam, expert, masks):
    """Eqs. 3-4 written out with the module's weights."""
    outs = []
    for i, (f, x) in enumerate(zip(sam, expert)):
        mask = masks[i]
        f_m = _avg_pool_loop(f, 3) * mask
        cond = edp.cond_convs[i]
        u = torch.einsum('oc,bchw->bohw', cond.weight[:, :, 0, 0], x) + \
            cond.bias[None, :, None, None]
        inp = torch.cat([f + f_m + mask * u, mask], dim=1)
        outs.append(edp.projectors[i](inp))
    return outs


def test_forward_matches_equations_at_test_time():
    torch.manual_seed(0)
    edp = _edp().eval()
    sam, expert = _inputs()
    with torch.no_grad():
        got = edp(sam, expert)
        ones = [torch.ones(2, 1, 8, 8), torch.ones(2, 1, 4, 4)]
        ref = _reference(edp, sam, expert, ones)
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r)
    # deterministic at test time
    with torch.no_grad():
        again = edp(sam, expert)
    for g, a in zip(got, again):
        assert torch.equal(g, a)


def test_forward_matches_equations_with_the_training_mask():
    torch.manual_seed(0)
    edp = _edp(mask_ratio=0.25).train()
    sam, expert = _inputs()
    torch.manual_seed(123)
    with torch.no_grad():
        got = edp(sam, expert)
    torch.manual_seed(123)  # the same draws, level by level
    masks = [edp.block_mask(f) for f in sam]
    assert all(float(m.mean()) < 1 for m in masks)
    with torch.no_grad():
        ref = _reference(edp, sam, expert, masks)
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r)


def test_expert_is_resized_to_the_sam_grid():
    torch.manual_seed(0)
    edp = _edp().eval()
    sam, expert = _inputs()
    small = [torch.nn.functional.avg_pool2d(x, 2) for x in expert]
    with torch.no_grad():
        got = edp(sam, small)
        resized = [
            torch.nn.functional.interpolate(
                x, size=f.shape[-2:], mode='bilinear', align_corners=False)
            for x, f in zip(small, sam)
        ]
        ref = edp(sam, resized)
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r)


def _identity_alignment(edp):
    with torch.no_grad():
        for conv in list(edp.psi) + list(edp.phi):
            conv.weight.zero_()
            n = min(conv.weight.shape[:2])
            conv.weight[range(n), range(n), 0, 0] = 1.0
            if conv.bias is not None:
                conv.bias.zero_()


def test_l_opt_hand_computed():
    """Mean over positions of the per-position L2 norm, summed over levels."""
    edp = _edp(expert_channels=(2, 2), sam_channels=2, align_channels=2)
    _identity_alignment(edp)
    # level 0: 1 image, 2x2 grid; difference (3, 4) at one position
    x0 = torch.zeros(1, 2, 2, 2)
    x0[0, :, 0, 1] = torch.tensor([3.0, 4.0])
    r0 = torch.zeros(1, 2, 2, 2)
    # level 1: difference (1, 0) everywhere on a 1x2 grid
    x1 = torch.tensor([[[[2.0, 2.0]], [[5.0, 5.0]]]])
    r1 = torch.tensor([[[[1.0, 1.0]], [[5.0, 5.0]]]])
    value = edp.optimization_loss([x0, x1], [r0, r1]).detach()
    # (5 + 0 + 0 + 0) / 4 + (1 + 1) / 2 = 2.25
    assert float(value) == pytest.approx(2.25)
    edp.loss_weight = 2.0
    loss = edp.eval().loss([x0, x1], [r0, r1])['loss_opt']
    assert float(loss.detach()) == pytest.approx(4.5)


def test_l_opt_is_zero_for_equal_aligned_features():
    edp = _edp(expert_channels=(4, 4), sam_channels=4, align_channels=4)
    _identity_alignment(edp)
    feats = [torch.randn(2, 4, 3, 3), torch.rand(2, 4, 2, 2)]
    expert = [f.clone().requires_grad_(True) for f in feats]
    value = edp.optimization_loss(expert, feats)
    assert float(value.detach()) == 0.0
    value.backward()  # the norm's gradient at 0 is finite (0), not NaN
    assert all(torch.isfinite(x.grad).all() for x in expert)


def test_frozen_psi_is_an_isometry_even_after_init_weights():
    edp = _edp(
        expert_channels=(3, 4),
        align_channels=6,
        init_cfg=dict(type='Kaiming', layer='Conv2d'))
    edp.init_weights()
    for ce, conv in zip(EXPERT_CH, edp.psi):
        assert not conv.weight.requires_grad
        w = conv.weight[:, :, 0, 0]
        torch.testing.assert_close(w.T @ w, torch.eye(ce))
    a, b = torch.randn(2, 3, 5, 5), torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        d_in = torch.linalg.vector_norm(a - b, dim=1)
        d_out = torch.linalg.vector_norm(edp.psi[0](a) - edp.psi[0](b),
                                         dim=1)
    torch.testing.assert_close(d_in, d_out)


def test_gradients_reach_the_expert_and_the_new_modules():
    torch.manual_seed(0)
    edp = _edp(mask_ratio=0.25).train()
    # a stand-in expert network, not detached anywhere (eq. 6)
    expert_net = nn.ModuleList(
        nn.Conv2d(3, c, 3, padding=1) for c in EXPERT_CH)
    img = [torch.randn(2, 3, 8, 8), torch.randn(2, 3, 4, 4)]
    sam, _ = _inputs()
    expert = [m(x) for m, x in zip(expert_net, img)]
    coarse = edp(sam, expert)
    loss = edp.loss(expert, coarse)['loss_opt']
    loss.backward()
    for name, p in list(expert_net.named_parameters()) + [
            (n, p) for n, p in edp.named_parameters() if p.requires_grad]:
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    assert all(conv.weight.grad is None for conv in edp.psi)

    # with a trainable psi, psi learns too
    edp = _edp(freeze_psi=False).train()
    expert = [m(x) for m, x in zip(expert_net, img)]
    edp.loss(expert, edp(sam, expert))['loss_opt'].backward()
    assert all(float(c.weight.grad.abs().sum()) > 0 for c in edp.psi)


def test_stop_threshold_disables_l_opt_and_survives_checkpoints():
    torch.manual_seed(0)
    sam, expert = _inputs()
    edp = _edp(stop_threshold=1e9).train()
    assert not edp.stopped
    out = edp.loss(expert, edp(sam, expert))
    assert edp.stopped
    assert float(out['loss_opt'].detach()) == 0.0
    assert float(out['opt_value']) > 0
    # still connected to the graph: every parameter gets a (zero) gradient
    out['loss_opt'].backward()
    for n, p in edp.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and float(p.grad.abs().sum()) == 0, n
    # the state is a buffer: a fresh module that loads it is stopped too
    fresh = _edp(stop_threshold=1e9)
    assert not fresh.stopped
    fresh.load_state_dict(edp.state_dict())
    assert fresh.stopped
    out = fresh.loss(expert, fresh(sam, expert))
    assert float(out['loss_opt'].detach()) == 0.0


def test_running_value_and_threshold_never_below_zero():
    sam, expert = _inputs()
    edp = _edp(stop_momentum=0.5, stop_threshold=0.0).train()
    v1 = float(edp.loss(expert, edp(sam, expert))['opt_value'])
    assert float(edp.opt_running_value) == pytest.approx(v1)
    sam2, expert2 = _inputs(seed=1)
    v2 = float(edp.loss(expert2, edp(sam2, expert2))['opt_value'])
    assert float(edp.opt_running_value) == pytest.approx(0.5 * v1 + 0.5 * v2)
    assert not edp.stopped  # a non-negative value is never below 0

    # threshold between the running values: stops exactly when crossed
    # (no mask: every call gives the same value)
    edp = _edp(stop_momentum=0.0, mask_ratio=0.0).train()
    v = float(edp.optimization_loss(expert, edp(sam, expert)).detach())
    edp.stop_threshold = v * 0.999
    out = edp.loss(expert, edp(sam, expert))
    assert not edp.stopped
    assert float(out['loss_opt'].detach()) == pytest.approx(v)
    edp.stop_threshold = v * 1.001
    out = edp.loss(expert, edp(sam, expert))
    assert edp.stopped and float(out['loss_opt'].detach()) == 0.0


def test_eval_mode_does_not_change_the_stop_state():
    sam, expert = _inputs()
    edp = _edp(stop_threshold=1e9).eval()
    out = edp.loss(expert, edp(sam, expert))
    assert not edp.stopped and float(out['loss_opt'].detach()) > 0
    assert torch.isnan(edp.opt_running_value)


def test_built_from_the_registry_and_bad_inputs():
    edp = MODELS.build(
        dict(type='ExpertDomainProjection', expert_channels=[3, 4],
             sam_channels=4, align_channels=4))
    assert isinstance(edp, ExpertDomainProjection)
    assert edp.out_channels == [4, 4]
    assert edp.block_mask.mask_ratio == pytest.approx(0.2)
    sam, expert = _inputs()
    with pytest.raises(ValueError, match='expected 2 levels'):
        edp(sam[:1], expert)
    with pytest.raises(ValueError, match='level 1 expects'):
        edp(sam, [expert[0], expert[1][:, :2]])
    with pytest.raises(ValueError, match='same non-zero number'):
        ExpertDomainProjection(expert_channels=[3, 4], sam_channels=[4])
    with pytest.raises(ValueError, match='pool_kernel'):
        _edp(pool_kernel=2)
