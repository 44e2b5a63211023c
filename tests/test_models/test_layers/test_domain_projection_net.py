# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch

from mmioc_rtvp.models.layers import DomainProjectionNet

X = torch.tensor([[[[1.0, -2.0, 3.0], [4.0, 5.0, 6.0], [-7.0, 8.0, 9.0]]]])


def _pick_centre(net: DomainProjectionNet, j: int, up_value: float) -> None:
    """Down conv = take the centre tap; up deconv = constant ``up_value``."""
    with torch.no_grad():
        net.downs[j].weight.zero_()
        net.downs[j].weight[0, 0, 1, 1] = 1.0
        net.downs[j].bias.zero_()
        net.ups[j].weight.fill_(up_value)
        net.ups[j].bias.zero_()


def test_hand_computed_branches_and_sum():
    net = DomainProjectionNet(1, 1, hidden_channels=1, strides=(1, 2))
    _pick_centre(net, 0, 2.0)
    _pick_centre(net, 1, 1.0)
    with torch.no_grad():
        # stride 1: relu(2 x)
        b0 = net.branch(X, 0)
        # stride 2: x[0::2, 0::2] = [[1, 3], [-7, 9]], replicated 2x2,
        # cropped to 3x3, relu
        b1 = net.branch(X, 1)
        out = net(X)
    torch.testing.assert_close(
        b0, torch.tensor([[[[2.0, 0.0, 6.0], [8.0, 10.0, 12.0],
                            [0.0, 16.0, 18.0]]]]))
    torch.testing.assert_close(
        b1, torch.tensor([[[[1.0, 1.0, 3.0], [1.0, 1.0, 3.0],
                            [0.0, 0.0, 9.0]]]]))
    torch.testing.assert_close(out, b0 + b1)


@pytest.mark.parametrize('h,w', [(7, 5), (8, 8), (1, 3), (20, 13)])
def test_any_size_is_kept_and_output_is_non_negative(h, w):
    torch.manual_seed(0)
    net = DomainProjectionNet(5, 6, hidden_channels=4, strides=(1, 2, 4))
    x = torch.randn(2, 5, h, w)
    with torch.no_grad():
        out = net(x)
        # the sum is over exactly the configured branches
        ref = sum(net.branch(x, j) for j in range(3))
    assert out.shape == (2, 6, h, w)
    assert float(out.min()) >= 0
    torch.testing.assert_close(out, ref)


def test_bad_strides():
    with pytest.raises(ValueError, match='strides'):
        DomainProjectionNet(2, 2, strides=())
    with pytest.raises(ValueError, match='strides'):
        DomainProjectionNet(2, 2, strides=(0, 2))
