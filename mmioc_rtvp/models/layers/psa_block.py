# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Attention + feed-forward residual block of YOLO11's C2PSA."""
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmioc_rtvp.registry import MODELS
from .psa_attention import PSAAttention


@MODELS.register_module()
class PSABlock(BaseModule):
    """``x = x + attn(x); x = x + ffn(x)`` with :class:`PSAAttention` and a
    1x1-conv feed-forward ``C -> 2C (act) -> C (no act)``.

    Args:
        channels (int): C.
        num_heads (int): Attention heads; must divide C. Defaults to 4.
        attn_ratio (float): Key width / head width. Defaults to 0.5.
        add_identity (bool): Residual connections. Defaults to True.
        norm_cfg (dict): Normalisation layer. Defaults to
            ``dict(type='BN', momentum=0.03, eps=0.001)``.
        act_cfg (dict): Activation of the feed-forward's first conv.
            Defaults to ``dict(type='SiLU', inplace=True)``.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self,
                 channels: int,
                 num_heads: int = 4,
                 attn_ratio: float = 0.5,
                 add_identity: bool = True,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.attn = PSAAttention(
            channels, num_heads, attn_ratio, norm_cfg=norm_cfg)
        self.ffn = nn.Sequential(
            ConvModule(
                channels, 2 * channels, 1, norm_cfg=norm_cfg,
                act_cfg=act_cfg),
            ConvModule(
                2 * channels, channels, 1, norm_cfg=norm_cfg, act_cfg=None))
        self.add_identity = add_identity

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W).
        """
        if self.add_identity:
            x = x + self.attn(x)
            return x + self.ffn(x)
        return self.ffn(self.attn(x))
