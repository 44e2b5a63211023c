# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLOv8 PAFPN whose C2f layers are guided by the text embeddings."""
import copy
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmdet.utils import ConfigType, OptMultiConfig
from mmyolo.models.necks import YOLOv8PAFPN
from mmyolo.models.utils import make_divisible, make_round
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class YOLOWorldPAFPN(YOLOv8PAFPN):
    """YOLOv8's PAFPN with text-guided top-down and bottom-up layers.

    Only the builder hooks ``build_top_down_layer`` /
    ``build_bottom_up_layer`` and ``forward`` differ from
    :class:`mmyolo.models.necks.YOLOv8PAFPN`: the four C2f layers are
    ``block_cfg`` blocks (by default :class:`MaxSigmoidCSPLayerWithTwoConv`)
    whose forward takes ``(x, txt_feats)``. Reduce, upsample, downsample and
    out layers are the parent's.

    The output channels and strides are those of ``YOLOv8PAFPN``: level i
    has ``make_divisible(out_channels[i], widen_factor)`` channels at the
    stride of input level i.

    Args:
        in_channels (list[int]): Input channels per level (before
            ``widen_factor``).
        out_channels (list[int] or int): Output channels per level (before
            ``widen_factor``).
        guide_channels (int): D, the text embedding dimension.
        embed_channels (list[int]): Attention embedding channels per level
            (before ``widen_factor``; scaled with ``make_round``).
        num_heads (list[int]): Attention heads per level (scaled with
            ``make_round`` by ``widen_factor``).
        deepen_factor (float): Depth multiplier. Defaults to 1.0.
        widen_factor (float): Width multiplier. Defaults to 1.0.
        num_csp_blocks (int): Bottlenecks per C2f layer. Defaults to 3.
        freeze_all (bool): Freeze the whole neck. Defaults to False.
        block_cfg (dict): Config of the guided block; ``in_channels``,
            ``out_channels``, ``guide_channels``, ``embed_channels``,
            ``num_heads``, ``num_blocks``, ``add_identity``, ``norm_cfg`` and
            ``act_cfg`` are filled in. Defaults to
            ``dict(type='MaxSigmoidCSPLayerWithTwoConv')``.
        norm_cfg (dict): Normalization config.
        act_cfg (dict): Activation config.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: Union[List[int], int],
                 guide_channels: int,
                 embed_channels: Sequence[int],
                 num_heads: Sequence[int],
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 num_csp_blocks: int = 3,
                 freeze_all: bool = False,
                 block_cfg: ConfigType = dict(
                     type='MaxSigmoidCSPLayerWithTwoConv'),
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None) -> None:
        if len(embed_channels) != len(in_channels) or \
                len(num_heads) != len(in_channels):
            raise ValueError(
                f'embed_channels ({list(embed_channels)}) and num_heads '
                f'({list(num_heads)}) need one entry per level '
                f'({len(in_channels)})')
        # read by the builder hooks, which the parent's __init__ calls
        self.guide_channels = guide_channels
        self.embed_channels = list(embed_channels)
        self.num_heads = list(num_heads)
        self.block_cfg = block_cfg
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            deepen_factor=deepen_factor,
            widen_factor=widen_factor,
            num_csp_blocks=num_csp_blocks,
            freeze_all=freeze_all,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            init_cfg=init_cfg)

    def _build_guided_block(self, in_channels: int, out_idx: int
                            ) -> nn.Module:
        """Build a guided block whose output is level ``out_idx``."""
        cfg = copy.deepcopy(self.block_cfg)
        cfg.update(
            in_channels=in_channels,
            out_channels=make_divisible(self.out_channels[out_idx],
                                        self.widen_factor),
            guide_channels=self.guide_channels,
            embed_channels=make_round(self.embed_channels[out_idx],
                                      self.widen_factor),
            num_heads=make_round(self.num_heads[out_idx], self.widen_factor),
            num_blocks=make_round(self.num_csp_blocks, self.deepen_factor),
            add_identity=False,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        return MODELS.build(cfg)

    def build_top_down_layer(self, idx: int) -> nn.Module:
        """Guided top-down layer producing level ``idx - 1``.

        Args:
            idx (int): Layer index.

        Returns:
            nn.Module: The top-down layer.
        """
        return self._build_guided_block(
            make_divisible(self.in_channels[idx - 1] + self.in_channels[idx],
                           self.widen_factor), idx - 1)

    def build_bottom_up_layer(self, idx: int) -> nn.Module:
        """Guided bottom-up layer producing level ``idx + 1``.

        Args:
            idx (int): Layer index.

        Returns:
            nn.Module: The bottom-up layer.
        """
        return self._build_guided_block(
            make_divisible(self.out_channels[idx] + self.out_channels[idx + 1],
                           self.widen_factor), idx + 1)

    def forward(self, img_feats: Sequence[Tensor],
                txt_feats: Tensor) -> Tuple[Tensor, ...]:
        """Fuse the image levels top-down and bottom-up, guided by text.

        Args:
            img_feats (list[Tensor]): (B, C_i, H_i, W_i) per level.
            txt_feats (Tensor): (B, K, D) prompt embeddings.

        Returns:
            tuple[Tensor]: (B, C'_i, H_i, W_i) per level.
        """
        num_levels = len(self.in_channels)
        if len(img_feats) != num_levels:
            raise ValueError(f'expected {num_levels} feature levels, got '
                             f'{len(img_feats)}')
        reduce_outs = [
            self.reduce_layers[idx](img_feats[idx])
            for idx in range(num_levels)
        ]

        # top-down path
        inner_outs = [reduce_outs[-1]]
        for idx in range(num_levels - 1, 0, -1):
            feat_high = inner_outs[0]
            feat_low = reduce_outs[idx - 1]
            upsample_feat = self.upsample_layers[num_levels - 1 - idx](
                feat_high)
            if self.upsample_feats_cat_first:
                top_down_inputs = torch.cat([upsample_feat, feat_low], 1)
            else:
                top_down_inputs = torch.cat([feat_low, upsample_feat], 1)
            inner_outs.insert(
                0, self.top_down_layers[num_levels - 1 - idx](top_down_inputs,
                                                              txt_feats))

        # bottom-up path
        outs = [inner_outs[0]]
        for idx in range(num_levels - 1):
            downsample_feat = self.downsample_layers[idx](outs[-1])
            outs.append(self.bottom_up_layers[idx](
                torch.cat([downsample_feat, inner_outs[idx + 1]], 1),
                txt_feats))

        return tuple(self.out_layers[idx](outs[idx])
                     for idx in range(num_levels))
