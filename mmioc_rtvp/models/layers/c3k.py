# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""C3k: YOLO11's CSP block with k x k bottlenecks (the inner block of C3k2)."""
from mmdet.models.layers import CSPLayer
from mmdet.utils import ConfigType, OptMultiConfig
from mmyolo.models.layers import DarknetBottleneck
from torch import nn

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class C3k(CSPLayer):
    """mmdet's ``CSPLayer`` (YOLOv5's C3) whose bottlenecks use two k x k
    convolutions, as YOLO11's ``C3k``.

    ``x -> final_conv(cat(blocks(main_conv(x)), short_conv(x)))`` where
    ``main_conv`` / ``short_conv`` are 1x1 convolutions to
    ``mid = int(out_channels * expand_ratio)`` channels and each block is
    ``x + conv_kxk(conv_kxk(x))`` at ``mid`` channels (no channel reduction
    inside the bottleneck, unlike mmdet's 1x1 / 3x3 ``DarknetBottleneck``).

    Args:
        in_channels (int): C_in.
        out_channels (int): C_out.
        expand_ratio (float): mid / C_out. Defaults to 0.5.
        num_blocks (int): Number of bottlenecks. Defaults to 2 (YOLO11).
        kernel_size (int): k of the bottlenecks' convolutions. Defaults to 3.
        add_identity (bool): Residual connection in the bottlenecks.
            Defaults to True.
        norm_cfg (dict): Normalisation layer. Defaults to
            ``dict(type='BN', momentum=0.03, eps=0.001)``.
        act_cfg (dict): Activation. Defaults to ``dict(type='SiLU',
            inplace=True)``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand_ratio: float = 0.5,
                 num_blocks: int = 2,
                 kernel_size: int = 3,
                 add_identity: bool = True,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None) -> None:
        # the parent builds its three 1x1 convolutions; its 1x1 / 3x3
        # bottlenecks are not wanted (num_blocks=0), ours follow
        super().__init__(
            in_channels,
            out_channels,
            expand_ratio=expand_ratio,
            num_blocks=0,
            add_identity=add_identity,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            init_cfg=init_cfg)
        mid_channels = int(out_channels * expand_ratio)
        self.blocks = nn.Sequential(*[
            DarknetBottleneck(
                mid_channels,
                mid_channels,
                expansion=1.0,
                kernel_size=(kernel_size, kernel_size),
                padding=(kernel_size // 2, kernel_size // 2),
                add_identity=add_identity,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg) for _ in range(num_blocks)
        ])
