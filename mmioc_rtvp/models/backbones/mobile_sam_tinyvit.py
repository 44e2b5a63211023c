# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The TinyViT-5M image encoder of Mobile-SAM, for any input size."""
import contextlib
import logging
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import OptMultiConfig
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from ..layers.tinyvit_blocks import (TinyViTAttnStage, TinyViTConvStage,
                                     TinyViTLayerNorm2d, TinyViTPatchEmbed)
from ..utils.sam_checkpoint import load_mobile_sam_encoder

#: Stride of the neck output (patch embedding 4, then two stride-2 stages).
NECK_STRIDE = 16
#: Output strides this encoder can return (see :meth:`resample`).
SUPPORTED_STRIDES = (8, 16, 32)


def conv_chain_size(size: int, stride: int) -> int:
    """Side of a feature map at ``stride`` after stride-2 3x3 convolutions
    with padding 1 (each maps ``n`` to ``ceil(n / 2)``).

    This is the size of the level of that stride in YOLOv8CSPDarknet and in
    this encoder, for any input size.

    Args:
        size (int): Input side in pixels.
        stride (int): A power of two.

    Returns:
        int: ``size`` halved ``log2(stride)`` times, rounding up.
    """
    while stride > 1:
        size = (size + 1) // 2
        stride //= 2
    return size


@MODELS.register_module()
class MobileSAMTinyViT(BaseModule):
    """Mobile-SAM's TinyViT-5M image encoder with a size-agnostic forward.

    The architecture is exactly the official one (``tiny_vit_sam.py`` of
    ChaoningZhang/MobileSAM, ``build_sam_vit_t``): the ``state_dict`` has the
    keys and shapes of the ``image_encoder.*`` entries of ``mobile_sam.pt``
    (302 tensors, 6.08 M elements including the unused 1000-class head), so
    the official weights load with strict key and shape matching:

    - ``patch_embed.seq``: conv-BN 3x3/2 (3 -> 32), GELU, conv-BN 3x3/2
      (32 -> 64): stride 4;
    - ``layers.0``: 2 MBConv blocks (64 ch), then a patch merging to 128 ch
      with stride 2 (stride 8);
    - ``layers.1``: 2 TinyViT blocks (128 ch, 4 heads, 7x7 windows), patch
      merging to 160 ch, stride 2 (stride 16);
    - ``layers.2``: 6 TinyViT blocks (160 ch, 5 heads, 14x14 windows),
      patch merging to 320 ch with stride 1 (Mobile-SAM keeps stride 16);
    - ``layers.3``: 2 TinyViT blocks (320 ch, 10 heads, 7x7 windows);
    - ``neck``: conv 1x1 (320 -> 256, no bias), LayerNorm2d, conv 3x3
      (256 -> 256, no bias), LayerNorm2d;
    - ``norm_head`` / ``head``: the classification head of TinyViT
      (LayerNorm + Linear 320 -> 1000), never used by the forward, kept only
      so that the official file loads strictly. Its parameters never
      require gradients (also with ``frozen=False``, so DDP sees no unused
      trainable parameters).

    Tensors of the ``state_dict``: parameters, plus the BatchNorm buffers
    ``running_mean``, ``running_var`` and ``num_batches_tracked``. The index
    table ``attn.attention_bias_idxs`` of every attention is a buffer that
    is not saved (``persistent=False``, as in the official model).

    The official forward reshapes the tokens to a hard-coded 64x64 grid, so
    it only runs at 1024x1024 input. Here every block reads its grid from
    its input: any ``H x W`` works, and at 1024 px the result is the
    official one (the windows are padded exactly as the official blocks pad
    their fixed grids). The neck output has stride 16: ``(B, 256, 40, 40)``
    at 640 px, ``(B, 256, 64, 64)`` at 1024 px.

    The encoder returns the neck output resampled to the strides in
    ``out_strides`` (see :meth:`resample`): stride 16 as is, stride 8 by
    bilinear up-sampling (x2 when the sides are even) and stride 32 by 2x2
    average pooling (``ceil_mode``: a border cell averages the cells that
    exist). Each level has the size that stride-2 convolutions give (the
    sizes of mmyolo's YOLOv8CSPDarknet levels), for any input size.

    Frozen (``frozen=True``, the default): every parameter has
    ``requires_grad=False``, the module stays in eval mode (BatchNorm uses
    its running statistics) even when ``.train()`` is called on it or on a
    parent, and the forward runs under ``torch.no_grad()``.

    Weights: pass ``checkpoint`` (the official ``mobile_sam.pt`` or an
    extracted encoder dict, see
    :func:`~mmioc_rtvp.models.utils.load_mobile_sam_encoder`); they are
    loaded strictly in ``__init__`` and the module is marked as initialised,
    so a parent's ``init_weights()`` never overwrites them.
    ``init_cfg=dict(type='Pretrained')`` is refused: mmengine loads it
    non-strictly, which would silently accept a wrong file.

    Input: images normalised as SAM expects, i.e. RGB
    ``(x - pixel_mean) / pixel_std`` with SAM's ImageNet statistics. Give
    ``pixel_mean``/``pixel_std`` to have the encoder do it itself; e.g. after
    mmyolo's preprocessor (``mean=0, std=255, bgr_to_rgb=True``, values in
    [0, 1]) use ``pixel_mean=(0.485, 0.456, 0.406)`` and
    ``pixel_std=(0.229, 0.224, 0.225)``.

    Args:
        embed_dims (Sequence[int]): Channels of the 4 stages.
            Defaults to (64, 128, 160, 320).
        depths (Sequence[int]): Blocks per stage. Defaults to (2, 2, 6, 2).
        num_heads (Sequence[int]): Attention heads per stage (the first,
            convolutional stage has no attention). Defaults to
            (2, 4, 5, 10).
        window_sizes (Sequence[int]): Attention window side per stage (the
            first is unused). Defaults to (7, 7, 14, 7).
        mlp_ratio (float): MLP expansion of the TinyViT blocks.
            Defaults to 4.
        mbconv_expand_ratio (float): Expansion of the MBConv blocks.
            Defaults to 4.
        local_conv_size (int): Kernel of the blocks' depthwise conv.
            Defaults to 3.
        neck_channels (int): Output channels. Defaults to 256.
        num_classes (int): Outputs of the unused classification head
            (1000 in the official file). Defaults to 1000.
        out_strides (Sequence[int]): Strides of the returned levels, a
            subset of (8, 16, 32), in increasing order.
            Defaults to (8, 16, 32).
        pixel_mean (Sequence[float], optional): Per-channel mean subtracted
            from the input; ``None`` feeds the input as is. Defaults to None.
        pixel_std (Sequence[float], optional): Per-channel divisor, given
            together with ``pixel_mean``. Defaults to None.
        input_downsample (int): Average-pool the image by this factor
            before the encoder (a speed switch: 2 runs TinyViT on a quarter
            of the pixels, about a quarter of its cost); the neck output
            then has stride ``16 * input_downsample`` and is resampled to
            ``out_strides`` as usual. 1 (default) is Mobile-SAM's input.
        frozen (bool): Freeze the encoder (see above). Defaults to True.
        checkpoint (str, optional): Weights to load strictly. Without it
            the weights are random (a frozen random encoder logs a warning).
            Defaults to None.
        init_cfg (dict or list[dict], optional): Initialisation of random
            weights (not ``'Pretrained'``). Defaults to None.
    """

    def __init__(self,
                 embed_dims: Sequence[int] = (64, 128, 160, 320),
                 depths: Sequence[int] = (2, 2, 6, 2),
                 num_heads: Sequence[int] = (2, 4, 5, 10),
                 window_sizes: Sequence[int] = (7, 7, 14, 7),
                 mlp_ratio: float = 4.0,
                 mbconv_expand_ratio: float = 4.0,
                 local_conv_size: int = 3,
                 neck_channels: int = 256,
                 num_classes: int = 1000,
                 out_strides: Sequence[int] = (8, 16, 32),
                 pixel_mean: Optional[Sequence[float]] = None,
                 pixel_std: Optional[Sequence[float]] = None,
                 input_downsample: int = 1,
                 frozen: bool = True,
                 checkpoint: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        self._check_init_cfg(init_cfg)
        if checkpoint is not None and not osp.isfile(
                osp.expanduser(checkpoint)):
            # fail before building the network
            raise FileNotFoundError(
                f'MobileSAMTinyViT: checkpoint file {checkpoint} does not '
                f'exist (the official weights are MobileSAM\'s '
                f'weights/mobile_sam.pt; nothing is ever downloaded)')
        super().__init__(init_cfg=init_cfg)
        self._check_args(embed_dims, depths, num_heads, window_sizes,
                         out_strides, pixel_mean, pixel_std)
        self.out_strides: List[int] = list(out_strides)
        if int(input_downsample) != input_downsample or input_downsample < 1:
            raise ValueError(
                'MobileSAMTinyViT: input_downsample must be a positive int, '
                f'got {input_downsample}')
        self.input_downsample = int(input_downsample)
        self.neck_channels = neck_channels
        self.frozen = frozen

        self.patch_embed = TinyViTPatchEmbed(3, embed_dims[0])

        num_stages = len(depths)
        self.layers = nn.ModuleList()
        for i in range(num_stages):
            last = i == num_stages - 1
            out_dim = None if last else embed_dims[i + 1]
            # the down-sampling into the last stage keeps the resolution
            stride = 1 if i == num_stages - 2 else 2
            if i == 0:
                stage = TinyViTConvStage(
                    embed_dims[0],
                    depths[0],
                    out_dim=out_dim,
                    downsample_stride=stride,
                    expand_ratio=mbconv_expand_ratio)
            else:
                stage = TinyViTAttnStage(
                    embed_dims[i],
                    depths[i],
                    num_heads[i],
                    window_sizes[i],
                    out_dim=out_dim,
                    downsample_stride=stride,
                    mlp_ratio=mlp_ratio,
                    local_conv_size=local_conv_size)
            self.layers.append(stage)

        # TinyViT's classification head: in the official file, never used
        self.norm_head = nn.LayerNorm(embed_dims[-1])
        self.head = nn.Linear(embed_dims[-1], num_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        for param in (*self.norm_head.parameters(), *self.head.parameters()):
            param.requires_grad_(False)

        self.neck = nn.Sequential(
            nn.Conv2d(embed_dims[-1], neck_channels, 1, bias=False),
            TinyViTLayerNorm2d(neck_channels),
            nn.Conv2d(neck_channels, neck_channels, 3, padding=1, bias=False),
            TinyViTLayerNorm2d(neck_channels))

        if pixel_mean is not None:
            self.register_buffer(
                'pixel_mean',
                torch.tensor(pixel_mean,
                             dtype=torch.float32).view(1, -1, 1, 1),
                persistent=False)
            self.register_buffer(
                'pixel_std',
                torch.tensor(pixel_std, dtype=torch.float32).view(1, -1, 1, 1),
                persistent=False)
        else:
            self.pixel_mean = self.pixel_std = None

        self.checkpoint = checkpoint
        if checkpoint is not None:
            load_mobile_sam_encoder(self, checkpoint)
            # the loaded weights must survive a parent's init_weights()
            self._is_init = True
        elif frozen:
            print_log(
                'MobileSAMTinyViT is frozen but has no checkpoint: its '
                'features come from random weights',
                logger='current',
                level=logging.WARNING)
        self._apply_frozen()

    # ------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------
    @staticmethod
    def _check_init_cfg(init_cfg: OptMultiConfig) -> None:
        """Refuse ``init_cfg=dict(type='Pretrained')`` (non-strict)."""
        cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
        for cfg in cfgs:
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
                raise ValueError(
                    'MobileSAMTinyViT: init_cfg=dict(type=\'Pretrained\') is '
                    'not supported (mmengine loads it non-strictly); pass '
                    f'checkpoint={cfg.get("checkpoint")!r} instead, which '
                    'loads mobile_sam.pt or an extracted encoder dict with '
                    'strict key and shape matching')

    @staticmethod
    def _check_args(embed_dims: Sequence[int], depths: Sequence[int],
                    num_heads: Sequence[int], window_sizes: Sequence[int],
                    out_strides: Sequence[int],
                    pixel_mean: Optional[Sequence[float]],
                    pixel_std: Optional[Sequence[float]]) -> None:
        """Validate the constructor arguments (one-line errors)."""
        lengths = {
            'embed_dims': len(embed_dims),
            'depths': len(depths),
            'num_heads': len(num_heads),
            'window_sizes': len(window_sizes)
        }
        if set(lengths.values()) != {4}:
            raise ValueError(
                f'MobileSAMTinyViT: embed_dims, depths, num_heads and '
                f'window_sizes must each list the 4 stages, got lengths '
                f'{lengths}')
        if (not out_strides or list(out_strides) != sorted(set(out_strides))
                or not set(out_strides) <= set(SUPPORTED_STRIDES)):
            raise ValueError(
                f'MobileSAMTinyViT: out_strides must be a non-empty, '
                f'increasing subset of {SUPPORTED_STRIDES}, got '
                f'{tuple(out_strides)}')
        if (pixel_mean is None) != (pixel_std is None):
            raise ValueError(
                'MobileSAMTinyViT: give both pixel_mean and pixel_std, or '
                'neither')
        if pixel_mean is not None and (len(pixel_mean) != 3
                                       or len(pixel_std) != 3):
            raise ValueError(
                f'MobileSAMTinyViT: pixel_mean and pixel_std need 3 values, '
                f'got {tuple(pixel_mean)} and {tuple(pixel_std)}')

    # ------------------------------------------------------------------
    # declared shapes
    # ------------------------------------------------------------------
    @property
    def out_channels(self) -> List[int]:
        """list[int]: Channels of each returned level (all 256)."""
        return [self.neck_channels] * len(self.out_strides)

    # ------------------------------------------------------------------
    # freezing
    # ------------------------------------------------------------------
    def _apply_frozen(self) -> None:
        """Stop all gradients and set eval mode if ``self.frozen``."""
        if self.frozen:
            for param in self.parameters():
                param.requires_grad_(False)
            self.train(False)

    def train(self, mode: bool = True) -> 'MobileSAMTinyViT':
        """Set training mode; a frozen encoder always stays in eval mode."""
        return super().train(mode and not self.frozen)

    def _grad_context(self) -> contextlib.AbstractContextManager:
        """``torch.no_grad()`` when frozen, else a no-op context."""
        return torch.no_grad() if self.frozen else contextlib.nullcontext()

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def _check_input(self, x: Tensor) -> None:
        """Raise on anything but a ``(B, 3, H, W)`` batch."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f'MobileSAMTinyViT: expected images of shape (B, 3, H, W), '
                f'got {tuple(x.shape)}')

    def forward_neck(self, x: Tensor) -> Tensor:
        """The image embedding of Mobile-SAM (the neck output).

        Args:
            x (Tensor): ``(B, 3, H, W)`` images.

        Returns:
            Tensor: ``(B, 256, H16, W16)`` with ``H16 = conv_chain_size(H,
            16)`` (``H / 16`` when ``H`` is a multiple of 16).
        """
        self._check_input(x)
        with self._grad_context():
            if self.pixel_mean is not None:
                x = (x - self.pixel_mean) / self.pixel_std
            x = self.patch_embed(x)
            for stage in self.layers:
                x = stage(x)
            return self.neck(x)

    @staticmethod
    def resample(feat: Tensor, stride: int,
                 image_hw: Tuple[int, int],
                 feat_stride: int = NECK_STRIDE) -> Tensor:  # yapf: disable
        """Bring the neck output (stride ``feat_stride``, 16 by default)
        to another stride.

        - the same stride: unchanged;
        - a finer one (8 from 16): bilinear interpolation
          (``align_corners=False``) to ``conv_chain_size(image side,
          stride)`` - an exact x2 up-sampling when the stride-16 sides are
          those halved without rounding;
        - a coarser one (32 from 16): average pooling over ``stride /
          feat_stride`` cells with ``ceil_mode=True`` (a last odd row/column
          is averaged over the cells that exist), i.e. ``ceil(H16 / 2)``
          cells.

        Args:
            feat (Tensor): ``(B, C, H_f, W_f)`` neck output.
            stride (int): 8, 16 or 32.
            image_hw (tuple[int, int]): ``(H, W)`` of the input images.
            feat_stride (int): Stride of ``feat`` (``16 *
                input_downsample``).

        Returns:
            Tensor: ``(B, C, conv_chain_size(H, stride),
            conv_chain_size(W, stride))``.
        """
        if stride not in SUPPORTED_STRIDES:
            raise ValueError(f'MobileSAMTinyViT: cannot resample to stride '
                             f'{stride}; supported: {SUPPORTED_STRIDES}')
        if stride == feat_stride:
            return feat
        if stride < feat_stride:
            size = tuple(conv_chain_size(s, stride) for s in image_hw)
            return F.interpolate(
                feat, size=size, mode='bilinear', align_corners=False)
        if stride % feat_stride == 0:
            ratio = stride // feat_stride
            return F.avg_pool2d(feat, ratio, stride=ratio, ceil_mode=True)
        raise ValueError(f'MobileSAMTinyViT: cannot resample to stride '
                         f'{stride}; supported: {SUPPORTED_STRIDES}')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Multi-level SAM features.

        Args:
            x (Tensor): ``(B, 3, H, W)`` images (see the class docstring for
                the normalisation).

        Returns:
            tuple[Tensor]: One ``(B, 256, H_s, W_s)`` map per stride ``s``
            of ``out_strides``, ``H_s = conv_chain_size(H, s)``; at 640 px:
            80x80, 40x40 and 20x20 for strides 8, 16 and 32.
        """
        image_hw = tuple(x.shape[-2:])
        f = self.input_downsample
        if f > 1:
            x = F.avg_pool2d(x, f, stride=f, ceil_mode=True)
        feat = self.forward_neck(x)
        with self._grad_context():
            return tuple(
                self.resample(feat, s, image_hw, NECK_STRIDE * f)
                for s in self.out_strides)
