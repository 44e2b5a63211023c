# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Text-guided max-sigmoid attention (YOLO-World; RTVPNet eq. 10)."""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class MaxSigmoidAttnBlock(BaseModule):
    r"""Gate image features by their best-matching text prompt.

    With image features :math:`X \in \mathbb{R}^{B \times C_{in} \times H
    \times W}` and prompt embeddings :math:`T \in \mathbb{R}^{B \times K
    \times D}` (``guide_channels`` = D), split into :math:`M` heads of
    :math:`d = E / M` channels (``embed_channels`` = E):

    .. math::

        e_{m}(p) = [\mathrm{Conv}_{1\times1}(X)]_{m}(p) \in \mathbb{R}^{d},
        \qquad g_{m,k} = [W_g T_k + b_g]_{m} \in \mathbb{R}^{d}

        a_{m}(p) = \sigma\Big(\max_{k=1..K}
            \frac{e_{m}(p)^{\top} g_{m,k}}{\sqrt{d}} + \beta_{m}\Big)
            \,[\cdot\, s_{m}]

        Y_{m}(p) = [\mathrm{Conv}_{k\times k}(X)]_{m}(p) \; a_{m}(p)

    where :math:`p` is a spatial position, :math:`\beta_m` a learnable bias
    per head, :math:`s_m` an optional learnable scale (``with_scale``),
    and :math:`Y_m` is the m-th group of ``out_channels / M`` output
    channels. The image is projected to E channels with a 1x1 conv (no
    activation) unless ``in_channels == embed_channels``.

    Padding prompts (an all-zero row of :math:`T`, which the text encoders
    return for ``''``) are left out of the max when ``mask_padding`` is
    True, so the padding of a training vocabulary does not change the
    image features; if every prompt of an image is padding the gate is 0.

    Args:
        in_channels (int): C_in of the image features.
        out_channels (int): Channels of the gated output (divisible by
            ``num_heads``).
        guide_channels (int): D, the text embedding dimension.
        embed_channels (int): E, the attention embedding (divisible by
            ``num_heads``).
        kernel_size (int): Kernel of the output projection conv.
            Defaults to 3.
        padding (int): Padding of the output projection conv. Defaults to 1.
        num_heads (int): M. Defaults to 1.
        use_depthwise (bool): Depthwise-separable output projection.
            Defaults to False.
        with_scale (bool): Learnable per-head scale after the sigmoid.
            Defaults to False.
        mask_padding (bool): Ignore all-zero prompts in the max.
            Defaults to True.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalization config of both convs.
            Defaults to ``dict(type='BN', momentum=0.03, eps=0.001)``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 guide_channels: int,
                 embed_channels: int,
                 kernel_size: int = 3,
                 padding: int = 1,
                 num_heads: int = 1,
                 use_depthwise: bool = False,
                 with_scale: bool = False,
                 mask_padding: bool = True,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_channels % num_heads != 0:
            raise ValueError(
                f'embed_channels ({embed_channels}) must be divisible by '
                f'num_heads ({num_heads})')
        if out_channels % num_heads != 0:
            raise ValueError(
                f'out_channels ({out_channels}) must be divisible by '
                f'num_heads ({num_heads})')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.guide_channels = guide_channels
        self.embed_channels = embed_channels
        self.num_heads = num_heads
        self.head_channels = embed_channels // num_heads
        self.mask_padding = mask_padding

        self.embed_conv: Optional[nn.Module] = None
        if embed_channels != in_channels:
            self.embed_conv = ConvModule(
                in_channels,
                embed_channels,
                1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=None)
        self.guide_fc = nn.Linear(guide_channels, embed_channels)
        self.bias = nn.Parameter(torch.zeros(num_heads))
        self.scale = (
            nn.Parameter(torch.ones(1, num_heads, 1, 1))
            if with_scale else None)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.project_conv = conv(
            in_channels,
            out_channels,
            kernel_size,
            stride=1,
            padding=padding,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None)

    def attention(self, x: Tensor, guide: Tensor) -> Tensor:
        """Per-head gate :math:`a_m(p)`.

        Args:
            x (Tensor): (B, C_in, H, W) image features.
            guide (Tensor): (B, K, D) prompt embeddings.

        Returns:
            Tensor: (B, M, H, W) gate values in [0, 1] (times the scale).
        """
        b, _, h, w = x.shape
        if guide.dim() != 3 or guide.shape[0] != b or \
                guide.shape[2] != self.guide_channels:
            raise ValueError(
                f'guide must be (B={b}, K, D={self.guide_channels}), got '
                f'{tuple(guide.shape)}')
        k = guide.shape[1]
        embed = self.embed_conv(x) if self.embed_conv is not None else x
        # (B, M, d, H*W)
        embed = embed.reshape(b, self.num_heads, self.head_channels, h * w)
        # (B, M, K, d)
        g = self.guide_fc(guide).reshape(b, k, self.num_heads,
                                         self.head_channels).transpose(1, 2)
        # (B, M, K, H*W)
        sim = torch.matmul(g, embed) / self.head_channels**0.5
        if self.mask_padding:
            is_pad = guide.abs().sum(-1) == 0  # (B, K)
            sim = sim.masked_fill(is_pad[:, None, :, None],
                                  torch.finfo(sim.dtype).min)
        attn = sim.max(dim=2)[0].reshape(b, self.num_heads, h, w)
        attn = (attn + self.bias[None, :, None, None]).sigmoid()
        if self.scale is not None:
            attn = attn * self.scale
        return attn

    def forward(self, x: Tensor, guide: Tensor) -> Tensor:
        """Gate the projected image features head-wise.

        Args:
            x (Tensor): (B, C_in, H, W) image features.
            guide (Tensor): (B, K, D) prompt embeddings.

        Returns:
            Tensor: (B, C_out, H, W) gated features.
        """
        b, _, h, w = x.shape
        attn = self.attention(x, guide)
        out = self.project_conv(x)
        out = out.reshape(b, self.num_heads, -1, h, w) * attn.unsqueeze(2)
        return out.reshape(b, self.out_channels, h, w)
