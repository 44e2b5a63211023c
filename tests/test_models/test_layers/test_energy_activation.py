# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch

from mmioc_rtvp.models.layers import EnergyActivation


def _logit(p):
    p = torch.tensor(p, dtype=torch.float64)
    return torch.log(p / (1 - p))


def test_energy_hand_computed():
    r"""E = 4 (s - mu)^2 / ((1 + s - mu)^2 + 3 var) + eps, per channel.

    channel 0: s = [.2, .4, .6, .8], mu = .5, var = (.09+.01+.01+.09)/4 = .05
        s=.2: 4 * .09 / (.7^2 + .15) = .36 / .64 = .5625
        s=.4: 4 * .01 / (.9^2 + .15) = .04 / .96 = .0416667
        s=.6: 4 * .01 / (1.1^2 + .15) = .04 / 1.36 = .0294118
        s=.8: 4 * .09 / (1.3^2 + .15) = .36 / 1.84 = .1956522
    channel 1: s = [.1, .1, .1, .9], mu = .3, var = (3 * .04 + .36)/4 = .12
        s=.1: 4 * .04 / (.8^2 + .36) = .16 / 1.0 = .16
        s=.9: 4 * .36 / (1.6^2 + .36) = 1.44 / 2.92 = .4931507
    """
    x = torch.stack([
        _logit([[0.2, 0.4], [0.6, 0.8]]),
        _logit([[0.1, 0.1], [0.1, 0.9]]),
    ])[None]  # (1, 2, 2, 2)
    eps = 1e-4
    energy = EnergyActivation(eps=eps)(x)
    expected = torch.tensor(
        [[[[0.5625, 0.04 / 0.96], [0.04 / 1.36, 0.36 / 1.84]],
          [[0.16, 0.16], [0.16, 1.44 / 2.92]]]],
        dtype=torch.float64) + eps
    torch.testing.assert_close(energy, expected)
    assert expected[0, 0, 0, 1].item() == pytest.approx(0.0416667 + eps,
                                                        abs=1e-7)


def test_statistics_are_per_sample_and_channel():
    torch.manual_seed(0)
    act = EnergyActivation()
    x = torch.randn(3, 4, 5, 6)
    full = act(x)
    for b in range(3):
        for c in range(4):
            torch.testing.assert_close(full[b:b + 1, c:c + 1],
                                       act(x[b:b + 1, c:c + 1]))


def test_constant_channel_has_only_eps_and_energy_is_parameter_free():
    act = EnergyActivation(channels=8, eps=1e-3)
    assert len(list(act.parameters())) == 0
    x = torch.full((1, 1, 3, 3), 0.7)
    torch.testing.assert_close(act(x), torch.full((1, 1, 3, 3), 1e-3))
