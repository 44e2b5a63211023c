# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLO11's backbone (C3k2 stages, SPPF, C2PSA) as an mmyolo backbone."""
import copy
from typing import List, Sequence, Union

import torch
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType, OptMultiConfig
from mmyolo.models.backbones import BaseBackbone
from mmyolo.models.layers import SPPFBottleneck
from mmyolo.models.utils import make_divisible, make_round
from torch import nn

from mmioc_rtvp.registry import MODELS
from ..layers.c2psa import C2PSA
from ..layers.c3k2 import C3k2


@MODELS.register_module()
class YOLO11Backbone(BaseBackbone):
    """The backbone of Ultralytics YOLO11 (``yolo11.yaml``, layers 0-10).

    Stem: 3x3 stride-2 conv to 64 channels. Each stage: a 3x3 stride-2 conv
    to ``down_channels`` and a :class:`C3k2` to ``out_channels``; the last
    stage adds SPPF (k = 5) and :class:`C2PSA`. Channels are
    ``make_divisible(min(c, max_channels) * widen_factor, 8)`` and block
    counts ``max(round(n * deepen_factor), 1)``, as Ultralytics scales them:

    ======  ===========  ============  ============  ==============
    model   deepen       widen         max_channels  c3k_all_stages
    ======  ===========  ============  ============  ==============
    N       0.50         0.25          1024          False
    S       0.50         0.50          1024          False
    M       0.50         1.00          512           True
    L       1.00         1.00          512           True
    X       1.00         1.50          512           True
    ======  ===========  ============  ============  ==============

    Outputs (``out_indices=(2, 3, 4)``): strides 8 / 16 / 32 with S
    channels 256 / 256 / 512 and L channels 512 / 512 / 512.

    Args:
        deepen_factor (float): Depth multiplier. Defaults to 1.0.
        widen_factor (float): Width multiplier. Defaults to 1.0.
        max_channels (int): Channel cap applied before ``widen_factor``.
            Defaults to 1024.
        c3k_all_stages (bool): Use C3k blocks inside every C3k2 (YOLO11-M/L/X);
            otherwise only the last two stages do (N/S). Defaults to False.
        input_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Outputs (0 = stem, i = stage i).
            Defaults to (2, 3, 4).
        frozen_stages (int): Stages to freeze (-1: none). Defaults to -1.
        plugins (dict or list[dict], optional): mmyolo stage plugins.
        norm_cfg (dict): Normalisation layer. Defaults to
            ``dict(type='BN', momentum=0.03, eps=0.001)``.
        act_cfg (dict): Activation. Defaults to ``dict(type='SiLU',
            inplace=True)``.
        norm_eval (bool): Keep BN statistics frozen. Defaults to False.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        (B, 3, H, W) -> one (B, C_i, H / s_i, W / s_i) per output index.
    """
    # in_channels, out_channels, down_channels, num_blocks, expand_ratio,
    # c3k, last stage (SPPF + C2PSA); before max_channels and widen_factor.
    # out_channels comes second, as in mmyolo's arch settings.
    arch_settings = {
        'P5': [[64, 256, 128, 2, 0.25, False, False],
               [256, 512, 256, 2, 0.25, False, False],
               [512, 512, 512, 2, 0.5, True, False],
               [512, 1024, 1024, 2, 0.5, True, True]],
    }

    def __init__(self,
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 max_channels: int = 1024,
                 c3k_all_stages: bool = False,
                 input_channels: int = 3,
                 out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1,
                 plugins: Union[dict, List[dict], None] = None,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 norm_eval: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        arch_setting = copy.deepcopy(self.arch_settings['P5'])
        for setting in arch_setting:
            for i in range(3):
                setting[i] = min(setting[i], max_channels)
            setting[5] = setting[5] or c3k_all_stages
        self.max_channels = max_channels
        super().__init__(
            arch_setting,
            deepen_factor,
            widen_factor,
            input_channels=input_channels,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            plugins=plugins,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            norm_eval=norm_eval,
            init_cfg=init_cfg)

    @property
    def out_channels(self) -> List[int]:
        """C_i of every output, in ``out_indices`` order."""
        channels = [make_divisible(self.arch_setting[0][0], self.widen_factor)]
        channels += [
            make_divisible(s[1], self.widen_factor) for s in self.arch_setting
        ]
        return [channels[i] for i in self.out_indices]

    def build_stem_layer(self) -> nn.Module:
        """3x3 stride-2 conv from the image to the first stage's input."""
        return ConvModule(
            self.input_channels,
            make_divisible(self.arch_setting[0][0], self.widen_factor),
            kernel_size=3,
            stride=2,
            padding=1,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def build_stage_layer(self, stage_idx: int, setting: list) -> list:
        """Down-sampling conv, C3k2 and, in the last stage, SPPF + C2PSA.

        Args:
            stage_idx (int): Index of the stage (0-based).
            setting (list): Its row of the arch setting.
        """
        (in_channels, out_channels, down_channels, num_blocks, expand_ratio,
         c3k, last) = setting
        in_channels = make_divisible(in_channels, self.widen_factor)
        out_channels = make_divisible(out_channels, self.widen_factor)
        down_channels = make_divisible(down_channels, self.widen_factor)
        num_blocks = make_round(num_blocks, self.deepen_factor)
        stage = [
            ConvModule(
                in_channels,
                down_channels,
                kernel_size=3,
                stride=2,
                padding=1,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg),
            C3k2(
                down_channels,
                out_channels,
                expand_ratio=expand_ratio,
                num_blocks=num_blocks,
                c3k=c3k,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)
        ]
        if last:
            stage += [
                SPPFBottleneck(
                    out_channels,
                    out_channels,
                    kernel_sizes=5,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg),
                C2PSA(
                    out_channels,
                    num_blocks=num_blocks,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg)
            ]
        return stage

    def train(self, mode: bool = True) -> 'YOLO11Backbone':
        """mmyolo's ``BaseBackbone.train`` (frozen stages, ``norm_eval``),
        returning the module as ``nn.Module.train`` does."""
        super().train(mode)
        return self

    def init_weights(self) -> None:
        """PyTorch's default initialisation of the convolutions unless an
        ``init_cfg`` is given (as mmyolo's YOLOv8 backbone)."""
        if self.init_cfg is None:
            for m in self.modules():
                if isinstance(m, torch.nn.Conv2d):
                    m.reset_parameters()
        else:
            super().init_weights()
