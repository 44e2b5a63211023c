# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ECA channel attention as a prompt activation (RTVPNet Table X)."""
import math
from typing import Optional

import torch.nn as nn
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class ECAActivation(BaseModule):
    r"""Efficient Channel Attention (Wang et al., CVPR 2020) as weights.

    .. math::

        a_{b} = \mathrm{sigmoid}\big(w * \mathrm{GAP}(x_b)\big),
        \qquad A(x)_{b,c,h,w} = a_{b,c}

    :math:`\mathrm{GAP}(x_b) \in \mathbb{R}^C` is the global average over
    positions and :math:`w *` a 1-D convolution across channels (kernel k,
    zero padding ``k // 2``, no bias). By default k follows ECA's adaptive
    rule :math:`t = \lfloor |(\log_2 C + b) / \gamma| \rfloor`, k = t if t is
    odd else t + 1 (:math:`\gamma = 2, b = 1`).

    Args:
        channels (int): C.
        kernel_size (int, optional): k (odd). Defaults to the adaptive rule.
        gamma (float): :math:`\gamma` of the rule. Defaults to 2.
        beta (float): b of the rule. Defaults to 1.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: Optional[int] = None,
                 gamma: float = 2.0,
                 beta: float = 1.0,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if kernel_size is None:
            kernel_size = self.adaptive_kernel_size(channels, gamma, beta)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f'ECAActivation: kernel_size must be a positive odd int, got '
                f'{kernel_size}')
        self.channels = channels
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(
            1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    @staticmethod
    def adaptive_kernel_size(channels: int,
                             gamma: float = 2.0,
                             beta: float = 1.0) -> int:
        """ECA's kernel size for C channels (always odd, >= 1)."""
        t = int(abs((math.log2(channels) + beta) / gamma))
        return max(1, t if t % 2 else t + 1)

    def forward(self, x: Tensor) -> Tensor:
        """Channel weights broadcast over positions.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W) in (0, 1) (an expanded view).
        """
        pooled = x.mean(dim=(2, 3))  # (B, C)
        a = self.conv(pooled.unsqueeze(1)).squeeze(1).sigmoid()
        return a[:, :, None, None].expand_as(x)
