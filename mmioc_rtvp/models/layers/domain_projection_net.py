# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Reconstruction network G of Domain-aware Projection (RTVPNet eq. 4)."""
from typing import Optional, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class DomainProjectionNet(BaseModule):
    r"""Sum of conv-down / deconv-up branches with ReLU.

    .. math::

        G(x) = \sum_{j} \mathrm{ReLU}\big(U_j^{\top}\!\uparrow_{s_j} *\,
            (W_j^{\top}\!\downarrow_{s_j} * x)\big)

    Branch ``j`` is a 3x3 convolution with stride :math:`s_j` (padding 1,
    output ``ceil(H / s_j) x ceil(W / s_j)``) followed by a transposed
    convolution with kernel = stride = :math:`s_j` (an exact
    :math:`s_j`-fold upsampling without overlap), cropped back to H x W, and
    a ReLU. As in eq. 4 there is no activation between the two convolutions
    and no normalisation. The paper's sum has three terms; the default
    strides (1, 2, 4) keep one full-resolution branch, so G does not lose the
    detail the later per-position selection (eq. 9) relies on, and add two
    coarser context branches.

    Args:
        in_channels (int): Channels of x.
        out_channels (int): Channels of G(x).
        hidden_channels (int, optional): Channels between the convolution
            and the deconvolution. Defaults to ``out_channels``.
        strides (Sequence[int]): :math:`s_j`, one per branch.
            Defaults to (1, 2, 4).
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 hidden_channels: Optional[int] = None,
                 strides: Sequence[int] = (1, 2, 4),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(strides) == 0 or min(strides) < 1:
            raise ValueError(
                'DomainProjectionNet: strides must be a non-empty list of '
                f'positive ints, got {tuple(strides)}')
        hidden_channels = hidden_channels or out_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.strides = tuple(int(s) for s in strides)
        self.downs = nn.ModuleList(
            nn.Conv2d(in_channels, hidden_channels, 3, stride=s, padding=1)
            for s in self.strides)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(hidden_channels, out_channels, s, stride=s)
            for s in self.strides)

    def branch(self, x: Tensor, index: int) -> Tensor:
        """One term of the sum.

        Args:
            x (Tensor): (B, C_in, H, W).
            index (int): Branch j.

        Returns:
            Tensor: (B, C_out, H, W), non-negative.
        """
        h, w = x.shape[-2:]
        y = self.ups[index](self.downs[index](x))
        return F.relu(y[..., :h, :w])

    def forward(self, x: Tensor) -> Tensor:
        """Apply G.

        Args:
            x (Tensor): (B, C_in, H, W).

        Returns:
            Tensor: (B, C_out, H, W), non-negative.
        """
        out = self.branch(x, 0)
        for j in range(1, len(self.strides)):
            out = out + self.branch(x, j)
        return out
