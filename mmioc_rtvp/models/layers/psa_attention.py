# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Multi-head self-attention with a positional depthwise conv (YOLO11)."""
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class PSAAttention(BaseModule):
    """Self-attention over all H x W positions of a feature map, as in
    YOLO11's position-sensitive attention.

    With ``h`` heads, head width ``d = C / h`` and key width
    ``d_k = int(d * attn_ratio)``, a 1x1 conv (+ BN, no activation) gives
    per head ``q, k`` of ``d_k`` and ``v`` of ``d`` channels;
    ``out = proj(v softmax(q^T k / sqrt(d_k))^T + pe(v))`` where ``pe`` is a
    3x3 depthwise conv over ``v`` (the positional term) and ``proj`` a 1x1
    conv (+ BN).

    Args:
        channels (int): C, input = output channels.
        num_heads (int): h; must divide C. Defaults to 8.
        attn_ratio (float): d_k / d. Defaults to 0.5.
        norm_cfg (dict): Normalisation after each conv. Defaults to
            ``dict(type='BN', momentum=0.03, eps=0.001)``.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self,
                 channels: int,
                 num_heads: int = 8,
                 attn_ratio: float = 0.5,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_heads < 1 or channels % num_heads:
            raise ValueError(f'num_heads={num_heads} must be >= 1 and '
                             f'divide channels={channels}')
        self.num_heads = num_heads
        self.head_dim = channels // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        if self.key_dim < 1:
            raise ValueError(f'attn_ratio={attn_ratio} leaves no key '
                             f'channel for head width {self.head_dim}')
        self.scale = self.key_dim**-0.5
        qkv_channels = channels + 2 * self.key_dim * num_heads
        self.qkv = ConvModule(
            channels, qkv_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.proj = ConvModule(
            channels, channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.pe = ConvModule(
            channels,
            channels,
            3,
            padding=1,
            groups=channels,
            norm_cfg=norm_cfg,
            act_cfg=None)

    def forward(self, x: Tensor) -> Tensor:
        """Attend over positions.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W).
        """
        b, c, h, w = x.shape
        # (B, heads, 2 d_k + d, N)
        qkv = self.qkv(x).view(b, self.num_heads,
                               2 * self.key_dim + self.head_dim, h * w)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.head_dim],
                            dim=2)
        # (B, heads, N, N): attention of query position i to key position j
        attn = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)
        # (B, heads, d, N) -> (B, C, H, W)
        out = (v @ attn.transpose(-2, -1)).view(b, c, h, w)
        out = out + self.pe(v.reshape(b, c, h, w))
        return self.proj(out)
