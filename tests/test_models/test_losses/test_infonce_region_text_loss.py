# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch

from mmioc_rtvp.models.losses import InfoNCERegionTextLoss
from mmioc_rtvp.registry import MODELS


def test_hand_computed_value():
    # one region, two prompts; cos to its own prompt 1, to the other 0
    loss = InfoNCERegionTextLoss(temperature=0.5)
    region = torch.tensor([[2.0, 0.0]])
    texts = torch.tensor([[[1.0, 0.0], [0.0, 3.0]]])
    value = loss(region, texts, torch.tensor([0]), torch.tensor([0]))
    expected = -math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(0.0)))
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_padding_prompts_leave_the_denominator():
    loss = InfoNCERegionTextLoss(temperature=1.0)
    region = torch.tensor([[1.0, 0.0]])
    padded = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
    unpadded = padded[:, :2]
    args = (torch.tensor([0]), torch.tensor([0]))
    assert loss(region, padded, *args).item() == pytest.approx(
        loss(region, unpadded, *args).item())
    with pytest.raises(ValueError, match='padding prompt'):
        loss(region, padded, torch.tensor([0]), torch.tensor([2]))


def test_batch_weights_and_gradients():
    torch.manual_seed(0)
    loss = MODELS.build(dict(type='InfoNCERegionTextLoss', temperature=0.1))
    regions = torch.randn(3, 4, requires_grad=True)
    texts = torch.randn(2, 5, 4, requires_grad=True)
    batch_idx = torch.tensor([0, 1, 1])
    labels = torch.tensor([4, 0, 2])
    weight = torch.tensor([1.0, 0.0, 3.0])
    value = loss(regions, texts, batch_idx, labels, weight)
    # reference: per-region cross-entropy written out
    ref = 0.0
    for i in (0, 2):
        r = regions[i] / regions[i].norm()
        t = texts[batch_idx[i]] / texts[batch_idx[i]].norm(dim=-1,
                                                            keepdim=True)
        logits = (t @ r) / 0.1
        ref = ref + weight[i] * (torch.logsumexp(logits, 0) -
                                 logits[labels[i]])
    ref = ref / weight.sum()
    assert value.item() == pytest.approx(ref.item(), rel=1e-5)
    value.backward()
    assert regions.grad[1].abs().sum() == 0  # zero weight, no gradient
    assert regions.grad[0].abs().sum() > 0 and texts.grad.abs().sum() > 0


def test_no_regions_gives_zero_in_graph():
    loss = InfoNCERegionTextLoss()
    texts = torch.randn(1, 3, 4, requires_grad=True)
    value = loss(
        torch.zeros(0, 4), texts, torch.zeros(0, dtype=torch.long),
        torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0
    value.backward()
    assert texts.grad is not None
