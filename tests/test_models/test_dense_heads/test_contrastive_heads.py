# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch

from mmioc_rtvp.models.dense_heads import BNContrastiveHead, ContrastiveHead

# region embeddings (1, D=2, H=1, W=2): position 0 = (3, 4),
# position 1 = (1, 0)
REGIONS = torch.tensor([[[[3.0, 1.0]], [[4.0, 0.0]]]])
# texts (1, K=3, D=2): (0, 2), (-1, 0), padding (0, 0)
TEXTS = torch.tensor([[[0.0, 2.0], [-1.0, 0.0], [0.0, 0.0]]])


def test_contrastive_head_hand_computed():
    head = ContrastiveHead(embed_dims=2)
    assert head.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    with torch.no_grad():
        head.logit_scale.fill_(math.log(2.0))
        head.bias.fill_(0.5)
    logits = head(REGIONS, TEXTS)
    assert logits.shape == (1, 3, 1, 2)
    # cosines: pos0=(0.6, 0.8), pos1=(1, 0); texts (0, 1), (-1, 0), 0
    expected = torch.tensor([[[[0.8 * 2 + 0.5, 0.0 * 2 + 0.5]],
                              [[-0.6 * 2 + 0.5, -1.0 * 2 + 0.5]],
                              [[0.5, 0.5]]]])
    torch.testing.assert_close(logits, expected)


def test_contrastive_head_is_scale_invariant_in_regions():
    head = ContrastiveHead(embed_dims=2)
    torch.testing.assert_close(
        head(REGIONS * 7.0, TEXTS), head(REGIONS, TEXTS))


def test_bn_contrastive_head_hand_computed_eval():
    head = BNContrastiveHead(embed_dims=2)
    assert head.logit_scale.item() == pytest.approx(-1.0)
    eps = head.norm.eps
    with torch.no_grad():
        head.norm.running_mean.copy_(torch.tensor([1.0, 0.0]))
        head.norm.running_var.copy_(torch.tensor([4.0, 4.0]) - eps)
        head.norm.weight.copy_(torch.tensor([1.0, 2.0]))
        head.norm.bias.copy_(torch.tensor([0.0, 1.0]))
        head.logit_scale.fill_(0.0)
        head.bias.fill_(-1.0)
    head.eval()
    logits = head(REGIONS, TEXTS)
    # BN: pos0 = ((3-1)/2, 4/2*2+1) = (1, 5); pos1 = (0, 1)
    # (not L2-normalised); texts -> (0, 1), (-1, 0), 0
    expected = torch.tensor([[[[5.0 - 1.0, 1.0 - 1.0]],
                              [[-1.0 - 1.0, 0.0 - 1.0]],
                              [[-1.0, -1.0]]]])
    torch.testing.assert_close(logits, expected)


def test_bn_contrastive_head_train_uses_batch_statistics():
    head = BNContrastiveHead(embed_dims=2).train()
    with torch.no_grad():
        head.logit_scale.fill_(math.log(3.0))
        head.bias.fill_(0.25)
    logits = head(REGIONS, TEXTS)
    x = REGIONS[0, :, 0, :]  # (D, positions)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    normed = (x - mean) / torch.sqrt(var + head.norm.eps)  # (2, 2)
    text = torch.tensor([[0.0, 1.0], [-1.0, 0.0], [0.0, 0.0]])
    expected = (text @ normed) * 3.0 + 0.25  # (K, positions)
    torch.testing.assert_close(logits[0, :, 0, :], expected)


@pytest.mark.parametrize('cls', [ContrastiveHead, BNContrastiveHead])
def test_zero_text_gives_bias_only(cls):
    torch.manual_seed(0)
    head = cls(embed_dims=8)
    with torch.no_grad():
        head.bias.fill_(-2.5)
    logits = head(torch.randn(2, 8, 3, 3), torch.zeros(2, 4, 8))
    torch.testing.assert_close(logits, torch.full((2, 4, 3, 3), -2.5))


def test_wrong_dims_raise():
    with pytest.raises(ValueError, match='embed_dims=2'):
        ContrastiveHead(embed_dims=2)(REGIONS, torch.zeros(1, 3, 5))
