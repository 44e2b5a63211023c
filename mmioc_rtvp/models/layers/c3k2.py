# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""C3k2: YOLO11's C2f variant (bottlenecks or C3k blocks)."""
from mmdet.utils import ConfigType, OptMultiConfig
from mmyolo.models.layers import CSPLayerWithTwoConv, DarknetBottleneck
from torch import nn

from mmioc_rtvp.registry import MODELS
from .c3k import C3k


@MODELS.register_module()
class C3k2(CSPLayerWithTwoConv):
    """mmyolo's ``CSPLayerWithTwoConv`` (YOLOv8's C2f) with YOLO11's blocks.

    The forward is C2f's: ``main_conv`` (1x1) gives ``2 * mid`` channels,
    ``mid = int(out_channels * expand_ratio)``, split in two halves; each
    block takes the last output; ``final_conv`` (1x1) fuses the
    ``(2 + num_blocks) * mid`` channels. The blocks are either

    - ``c3k=False``: a bottleneck ``x + conv3x3(conv3x3(x))`` whose hidden
      width is ``mid / 2`` (C2f's has ``mid``), or
    - ``c3k=True``: a :class:`C3k` with two 3x3 bottlenecks (YOLO11-M/L/X
      use it in every stage, -N/S only in the last two backbone stages).

    Args:
        in_channels (int): C_in.
        out_channels (int): C_out.
        expand_ratio (float): mid / C_out. Defaults to 0.5.
        num_blocks (int): Number of blocks. Defaults to 1.
        c3k (bool): Use :class:`C3k` blocks. Defaults to False.
        add_identity (bool): Residual connections inside the blocks.
            Defaults to True.
        norm_cfg (dict): Normalisation layer. Defaults to
            ``dict(type='BN', momentum=0.03, eps=0.001)``.
        act_cfg (dict): Activation. Defaults to ``dict(type='SiLU',
            inplace=True)``.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        (B, in_channels, H, W) -> (B, out_channels, H, W).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand_ratio: float = 0.5,
                 num_blocks: int = 1,
                 c3k: bool = False,
                 add_identity: bool = True,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            in_channels,
            out_channels,
            expand_ratio=expand_ratio,
            num_blocks=num_blocks,
            add_identity=add_identity,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            init_cfg=init_cfg)
        # C2f's full-width bottlenecks are replaced (main_conv / final_conv
        # and the forward are the parent's)
        mid = self.mid_channels
        if c3k:
            blocks = [
                C3k(mid, mid, num_blocks=2, add_identity=add_identity,
                    norm_cfg=norm_cfg, act_cfg=act_cfg)
                for _ in range(num_blocks)
            ]
        else:
            blocks = [
                DarknetBottleneck(
                    mid, mid, expansion=0.5, kernel_size=(3, 3),
                    padding=(1, 1), add_identity=add_identity,
                    norm_cfg=norm_cfg, act_cfg=act_cfg)
                for _ in range(num_blocks)
            ]
        self.blocks = nn.ModuleList(blocks)
        self.c3k = c3k
