# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch

from mmioc_rtvp.models.layers import EnergyActivation, EnergySparsePrompt

# A hand-made 5x5 score map; stride 16 and 32 px patches -> 2x2-cell patches,
# cut by the right and bottom borders.
SCORE = torch.tensor([[1.0, 3.0, 0.0, 0.0, 5.0],
                      [2.0, 2.0, 4.0, 0.0, 1.0],
                      [0.0, 9.0, 1.0, 1.0, 2.0],
                      [0.0, 0.0, 1.0, 1.0, 3.0],
                      [7.0, 1.0, 2.0, 0.0, 6.0]])[None, None]
# patch means: {1,3,2,2}=2 | {0,0,4,0}=1 | {5,1}=3
#              {0,9,0,0}=2.25 | {1,1,1,1}=1 | {2,3}=2.5
#              {7,1}=4 | {2,0}=1 | {6}=6 (single cell)
MEANS = torch.tensor([[2.0, 2.0, 1.0, 1.0, 3.0],
                      [2.0, 2.0, 1.0, 1.0, 3.0],
                      [2.25, 2.25, 1.0, 1.0, 2.5],
                      [2.25, 2.25, 1.0, 1.0, 2.5],
                      [4.0, 4.0, 1.0, 1.0, 6.0]])[None, None]
# strictly above the patch mean; the single-cell patch keeps its cell;
# ties with the mean (the 2s of the first patch, the all-1 patch) are dropped
KEEP = torch.tensor([[0.0, 1.0, 0.0, 0.0, 1.0],
                     [0.0, 0.0, 1.0, 0.0, 0.0],
                     [0.0, 1.0, 0.0, 0.0, 0.0],
                     [0.0, 0.0, 0.0, 0.0, 1.0],
                     [1.0, 0.0, 1.0, 0.0, 1.0]])[None, None]


def test_selection_keeps_exactly_the_above_patch_mean_positions():
    rvp = EnergySparsePrompt(4, stride=16, patch_size=32)
    assert rvp.patch_cells == 2
    mean, counts = rvp.patch_mean(SCORE)
    torch.testing.assert_close(mean, MEANS)
    assert counts[0, 0, 4, 4] == 1 and counts[0, 0, 0, 4] == 2 and \
        counts[0, 0, 0, 0] == 4
    torch.testing.assert_close(rvp.select(SCORE), KEEP)
    # per sample: a second, shifted map gives the same selection
    batch = torch.cat([SCORE, SCORE * 3 + 1])
    torch.testing.assert_close(rvp.select(batch), torch.cat([KEEP, KEEP]))


@pytest.mark.parametrize('stride,patch,cells', [(8, 32, 4), (16, 32, 2),
                                                (32, 32, 1), (64, 32, 1),
                                                (8, 16, 2), (8, 20, 2)])
def test_patch_size_is_in_image_pixels(stride, patch, cells):
    assert EnergySparsePrompt(
        4, stride=stride, patch_size=patch).patch_cells == cells


def test_single_cell_patches_keep_everything():
    rvp = EnergySparsePrompt(4, stride=32, patch_size=32).train()
    score = torch.randn(2, 1, 3, 4)
    assert torch.equal(rvp.select(score), torch.ones_like(score))
    assert torch.equal(rvp.keep_probability(score), torch.ones_like(score))
    x = torch.randn(2, 4, 3, 4)
    prompt, keep, _ = rvp(x)
    torch.testing.assert_close(prompt, x)


def _manual_score(rvp: EnergySparsePrompt, x: torch.Tensor) -> torch.Tensor:
    """Eq. 8 spelled out: energy (eq. 7) -> product -> two 1x1 layers."""
    s = x.sigmoid()
    mu = s.mean(dim=(2, 3), keepdim=True)
    var = ((s - mu)**2).mean(dim=(2, 3), keepdim=True)
    energy = 4 * (s - mu)**2 / ((1 + s - mu)**2 + 3 * var) + 1e-4
    z = energy * x
    w1, b1 = rvp.proj_score[0].weight[:, :, 0, 0], rvp.proj_score[0].bias
    w2, b2 = rvp.proj_score[2].weight[:, :, 0, 0], rvp.proj_score[2].bias
    hidden = torch.einsum('oc,bchw->bohw', w1, z) + b1[None, :, None, None]
    hidden = hidden.clamp(min=0)
    return torch.einsum('oc,bchw->bohw', w2, hidden) + \
        b2[None, :, None, None]


def test_eval_forward_matches_equations_and_is_repeatable():
    torch.manual_seed(0)
    rvp = EnergySparsePrompt(6, stride=8, patch_size=16, hidden_channels=3)
    assert isinstance(rvp.activation, EnergyActivation)
    rvp.eval()
    x = torch.randn(2, 6, 7, 5)
    with torch.no_grad():
        prompt, keep, score = rvp(x)
        ref_score = _manual_score(rvp, x)
        torch.testing.assert_close(score, ref_score)
        torch.testing.assert_close(keep, rvp.select(ref_score))
        torch.testing.assert_close(prompt, x * keep)
        assert 0 < float(keep.mean()) < 1
        for _ in range(3):  # deterministic at test time
            p2, k2, _ = rvp(x)
            assert torch.equal(p2, prompt) and torch.equal(k2, keep)
    # stochastic=False: training uses the test-time rule as well
    rvp.stochastic = False
    rvp.train()
    with torch.no_grad():
        assert torch.equal(rvp(x)[1], keep)


def test_training_selection_is_stochastic_and_unbiased():
    torch.manual_seed(0)
    rvp = EnergySparsePrompt(
        4, stride=8, patch_size=16, hidden_channels=4, temperature=0.5)
    x = torch.randn(1, 4, 4, 4)
    n = 4000
    with torch.no_grad():
        score = rvp.score(x)
        q = rvp.keep_probability(score)[0, 0]
        rvp.train()
        torch.manual_seed(1)
        _, keep, _ = rvp(x.expand(n, -1, -1, -1))
    keep = keep[:, 0]
    assert set(keep.unique().tolist()) == {0.0, 1.0}
    # different draws for the same input
    assert len({tuple(k.flatten().tolist()) for k in keep[:20]}) > 1
    # E[keep] = q: within 5 binomial standard deviations at every position
    freq = keep.mean(dim=0)
    sigma = (q * (1 - q) / n).sqrt()
    assert bool(((freq - q).abs() <= 5 * sigma + 1e-6).all())
    assert 0.05 < float(q.min()) and float(q.max()) < 0.95  # informative
    # q > 1/2 exactly where the deterministic rule keeps a position
    assert torch.equal(q > 0.5, rvp.select(score)[0, 0].bool())


def test_gradients_reach_the_score_mlp_and_activation_in_training():
    torch.manual_seed(0)
    rvp = EnergySparsePrompt(
        8, stride=8, patch_size=16, activation_cfg=dict(
            type='ECAActivation', kernel_size=3)).train()
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    target = torch.randn(2, 8, 6, 6)
    prompt, keep, _ = rvp(x)
    (prompt * target).sum().backward()
    for name, p in rvp.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    assert float(x.grad.abs().sum()) > 0
    # at test time the hard rule passes no gradient to the score branch
    rvp.eval().zero_grad()
    prompt, _, _ = rvp(x)
    (prompt * target).sum().backward()
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0
               for p in rvp.proj_score.parameters())


def test_no_activation_and_bad_arguments():
    rvp = EnergySparsePrompt(4, stride=8, activation_cfg=None).eval()
    x = torch.randn(1, 4, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(rvp.score(x), rvp.proj_score(x))
    with pytest.raises(ValueError, match='stride'):
        EnergySparsePrompt(4, stride=0)
    with pytest.raises(ValueError, match='temperature'):
        EnergySparsePrompt(4, stride=8, temperature=0.0)
