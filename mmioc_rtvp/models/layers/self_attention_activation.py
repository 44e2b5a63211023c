# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""(Window) self-attention as a prompt activation (RTVPNet Table X)."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class SelfAttentionActivation(BaseModule):
    r"""Multi-head self-attention over positions, squashed to weights.

    Table X compares the energy with a Swin-style self-attention. Positions
    are tokens (C channels each); within each ``window_size`` x
    ``window_size`` window (Swin's non-shifted windows; the whole map when
    ``window_size`` is None):

    .. math::

        Y = \mathrm{MHA}(X, X, X), \qquad A(X) = \mathrm{sigmoid}(Y)

    with ``torch.nn.MultiheadAttention`` (learned Q/K/V and output
    projections, no positional encoding). Maps whose sides are not multiples
    of the window are zero-padded; padded tokens are excluded as keys, so
    every window attends to its real positions only.

    Args:
        channels (int): C (divisible by ``num_heads``).
        num_heads (int): Attention heads. Defaults to 4.
        window_size (int, optional): Window side, None for global attention.
            Defaults to 7 (Swin's).
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: int,
                 num_heads: int = 4,
                 window_size: Optional[int] = 7,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if channels % num_heads != 0:
            raise ValueError(
                f'SelfAttentionActivation: channels ({channels}) must be '
                f'divisible by num_heads ({num_heads})')
        if window_size is not None and window_size < 1:
            raise ValueError(
                'SelfAttentionActivation: window_size must be positive or '
                f'None, got {window_size}')
        self.channels = channels
        self.num_heads = num_heads
        self.window_size = window_size
        self.attn = nn.MultiheadAttention(
            channels, num_heads, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        """Attention outputs through a sigmoid.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W) in (0, 1).
        """
        b, c, h, w = x.shape
        if self.window_size is None:
            tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
            y, _ = self.attn(tokens, tokens, tokens, need_weights=False)
            return y.transpose(1, 2).reshape(b, c, h, w).sigmoid()
        ws = self.window_size
        pad_h, pad_w = (-h) % ws, (-w) % ws
        xp = F.pad(x, (0, pad_w, 0, pad_h))
        valid = F.pad(
            x.new_ones(1, 1, h, w), (0, pad_w, 0, pad_h)).bool()
        hp, wp = h + pad_h, w + pad_w
        nh, nw = hp // ws, wp // ws

        def to_windows(t: Tensor) -> Tensor:
            # (N, C', Hp, Wp) -> (N * nh * nw, ws * ws, C')
            n, ch = t.shape[:2]
            t = t.reshape(n, ch, nh, ws, nw, ws).permute(0, 2, 4, 3, 5, 1)
            return t.reshape(n * nh * nw, ws * ws, ch)

        tokens = to_windows(xp)
        pad_keys = ~to_windows(valid).squeeze(-1).repeat(b, 1)
        y, _ = self.attn(
            tokens, tokens, tokens, key_padding_mask=pad_keys,
            need_weights=False)
        y = y.reshape(b, nh, nw, ws, ws, c).permute(0, 5, 1, 3, 2, 4)
        y = y.reshape(b, c, hp, wp)[:, :, :h, :w]
        return y.sigmoid()
