# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MCA as a prompt activation (RTVPNet Table X)."""
import math

import torch
import torch.nn as nn
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class MCAActivation(BaseModule):
    r"""Multidimensional Collaborative Attention (Yu et al., 2023) weights.

    MCA attends along the channel, height and width axes with one gate per
    axis and averages the three re-weighted tensors. A gate for axis
    :math:`d` (length :math:`n_d`) squeezes the other two axes with both the
    mean and the (population) standard deviation, mixes them with two
    learnable weights, runs a 1-D convolution of kernel :math:`k_d` along
    the axis (zero padding, no bias) and a sigmoid:

    .. math::

        z_d &= \tfrac{1}{2}(\bar{x}_d + \sigma_d)
              + \mathrm{sig}(\alpha_{d,1})\,\bar{x}_d
              + \mathrm{sig}(\alpha_{d,2})\,\sigma_d \in \mathbb{R}^{n_d} \\
        a_d &= \mathrm{sigmoid}(w_d * z_d)

    MCA's output is :math:`\frac{1}{3}(a_C + a_H + a_W) \odot x` (each gate
    broadcast along the other axes), so the weights returned here are

    .. math::

        A(x)_{b,c,h,w} = \tfrac{1}{3}\big(a_C[b,c] + a_H[b,h] + a_W[b,w]\big).

    :math:`k_H = k_W = 3` and :math:`k_C` follows MCA's adaptive rule
    :math:`t = \mathrm{round}(|(\log_2 C - 1) / 1.5|)`, :math:`k_C = t` if
    t is odd else :math:`t - 1` (at least 1). Unlike MCA's reference code
    (unbiased std) the population standard deviation is used, so that a
    one-pixel-wide map is defined (its std is 0 instead of NaN).

    Args:
        channels (int): C.
        spatial_kernel_size (int): :math:`k_H = k_W` (odd). Defaults to 3.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: int,
                 spatial_kernel_size: int = 3,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if spatial_kernel_size < 1 or spatial_kernel_size % 2 == 0:
            raise ValueError(
                'MCAActivation: spatial_kernel_size must be a positive odd '
                f'int, got {spatial_kernel_size}')
        t = round(abs((math.log2(channels) - 1.0) / 1.5))
        channel_kernel = max(1, t if t % 2 else t - 1)
        self.channels = channels
        self.kernel_sizes = (channel_kernel, spatial_kernel_size,
                             spatial_kernel_size)
        # gates along (C, H, W)
        self.convs = nn.ModuleList(
            nn.Conv1d(1, 1, k, padding=k // 2, bias=False)
            for k in self.kernel_sizes)
        self.mix_logits = nn.Parameter(torch.rand(3, 2))

    def gate(self, x: Tensor, axis: int) -> Tensor:
        """Attention :math:`a_d` along one axis.

        Args:
            x (Tensor): (B, C, H, W).
            axis (int): 0 for C, 1 for H, 2 for W.

        Returns:
            Tensor: (B, n_d) in (0, 1).
        """
        dim = axis + 1
        others = [d for d in (1, 2, 3) if d != dim]
        mean = x.mean(dim=others)  # (B, n_d)
        std = x.std(dim=others, unbiased=False)
        w = self.mix_logits[axis].sigmoid()
        z = 0.5 * (mean + std) + w[0] * mean + w[1] * std
        return self.convs[axis](z.unsqueeze(1)).squeeze(1).sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        """Averaged channel / height / width weights.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W) in (0, 1).
        """
        a_c = self.gate(x, 0)[:, :, None, None]
        a_h = self.gate(x, 1)[:, None, :, None]
        a_w = self.gate(x, 2)[:, None, None, :]
        return (a_c + a_h + a_w) / 3
