# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""C2PSA: YOLO11's CSP block with position-sensitive attention."""
import torch
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmioc_rtvp.registry import MODELS
from .psa_block import PSABlock


@MODELS.register_module()
class C2PSA(BaseModule):
    """A 1x1 conv splits the input in two halves of
    ``mid = int(C * expand_ratio)`` channels; ``num_blocks``
    :class:`PSABlock` s (``mid / 64`` heads each) transform the second; a
    1x1 conv fuses the concatenation back to C channels.

    Args:
        channels (int): C, input = output channels.
        num_blocks (int): Number of :class:`PSABlock`. Defaults to 1.
        expand_ratio (float): mid / C. Defaults to 0.5.
        head_channels (int): Channels per attention head. Defaults to 64
            (YOLO11); at least one head is used.
        norm_cfg (dict): Normalisation layer. Defaults to
            ``dict(type='BN', momentum=0.03, eps=0.001)``.
        act_cfg (dict): Activation. Defaults to ``dict(type='SiLU',
            inplace=True)``.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self,
                 channels: int,
                 num_blocks: int = 1,
                 expand_ratio: float = 0.5,
                 head_channels: int = 64,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.mid_channels = int(channels * expand_ratio)
        num_heads = max(self.mid_channels // head_channels, 1)
        self.main_conv = ConvModule(
            channels, 2 * self.mid_channels, 1, norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.blocks = nn.Sequential(*[
            PSABlock(self.mid_channels, num_heads=num_heads,
                     norm_cfg=norm_cfg, act_cfg=act_cfg)
            for _ in range(num_blocks)
        ])
        self.final_conv = ConvModule(
            2 * self.mid_channels, channels, 1, norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W).
        """
        kept, attended = self.main_conv(x).split(
            (self.mid_channels, self.mid_channels), dim=1)
        return self.final_conv(torch.cat((kept, self.blocks(attended)), 1))
