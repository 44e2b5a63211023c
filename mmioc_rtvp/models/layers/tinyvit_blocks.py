# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Building blocks of the TinyViT image encoder of Mobile-SAM.

The blocks reproduce the layers of MobileSAM's TinyViT (``tiny_vit_sam.py``)
with the same sub-module names, so that their ``state_dict`` keys and shapes
are those of the official ``mobile_sam.pt``:

- :class:`TinyViTConvBN` (``c`` conv without bias + ``bn``),
- :class:`TinyViTPatchEmbed` (``seq``: two stride-2 conv-BN),
- :class:`TinyViTMBConv` (``conv1`` / ``conv2`` / ``conv3``),
- :class:`TinyViTPatchMerging` (``conv1`` / ``conv2`` / ``conv3``),
- :class:`TinyViTAttention` (``norm`` / ``qkv`` / ``proj`` and the relative
  position bias table ``attention_biases``),
- :class:`TinyViTMlp` (``norm`` / ``fc1`` / ``fc2``),
- :class:`TinyViTBlock` (``attn`` / ``local_conv`` / ``mlp``),
- :class:`TinyViTConvStage` and :class:`TinyViTAttnStage` (``blocks`` and
  ``downsample``),
- :class:`TinyViTLayerNorm2d` (``weight`` / ``bias``, the neck's norm).

Unlike the official code, no block stores an input resolution: the token
grid is always read from the input tensor, so any input size works. Every
stage takes and returns ``(B, C, H, W)`` maps; the transformer blocks work
on channels-last ``(B, H, W, C)`` maps.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class TinyViTConvBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d (keys ``c`` and ``bn``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel size. Defaults to 1.
        stride (int): Stride. Defaults to 1.
        padding (int): Zero padding on each side. Defaults to 0.
        groups (int): Convolution groups (``out_channels`` for a depthwise
            convolution). Defaults to 1.
        bn_weight_init (float): Initial value of the BN scale; 0 makes a
            residual branch start as the identity. Defaults to 1.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 padding: int = 0,
                 groups: int = 1,
                 bn_weight_init: float = 1.0) -> None:
        super().__init__()
        self.add_module(
            'c',
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=padding,
                groups=groups,
                bias=False))
        bn = nn.BatchNorm2d(out_channels)
        nn.init.constant_(bn.weight, bn_weight_init)
        nn.init.zeros_(bn.bias)
        self.add_module('bn', bn)


class TinyViTPatchEmbed(nn.Module):
    """Stem: conv-BN 3x3/2, GELU, conv-BN 3x3/2 (``seq.0``, ``seq.2``).

    Args:
        in_channels (int): Image channels.
        embed_dim (int): Output channels (the stem's hidden width is
            ``embed_dim // 2``).
    """

    def __init__(self, in_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            TinyViTConvBN(in_channels, embed_dim // 2, 3, stride=2, padding=1),
            nn.GELU(),
            TinyViTConvBN(embed_dim // 2, embed_dim, 3, stride=2, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, in_channels, H, W)``.

        Returns:
            Tensor: ``(B, embed_dim, ceil(ceil(H / 2) / 2), ...)``: stride 4.
        """
        return self.seq(x)


class TinyViTMBConv(nn.Module):
    """Inverted residual block of the first (convolutional) stage.

    ``x -> GELU(x + BN(conv1x1(GELU(BN(dwconv3x3(GELU(BN(conv1x1(x)))))))))``,
    the channel count is kept.

    Args:
        channels (int): Input and output channels.
        expand_ratio (float): Hidden channels = ``channels * expand_ratio``.
            Defaults to 4.
    """

    def __init__(self, channels: int, expand_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(channels * expand_ratio)
        self.conv1 = TinyViTConvBN(channels, hidden, 1)
        self.conv2 = TinyViTConvBN(hidden, hidden, 3, padding=1, groups=hidden)
        self.conv3 = TinyViTConvBN(hidden, channels, 1, bn_weight_init=0.0)
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, C, H, W)``.

        Returns:
            Tensor: ``(B, C, H, W)``.
        """
        out = self.act(self.conv1(x))
        out = self.act(self.conv2(out))
        out = self.conv3(out)
        return self.act(out + x)


class TinyViTPatchMerging(nn.Module):
    """Down-sampling between stages: 1x1 conv, depthwise 3x3 conv with
    ``stride``, 1x1 conv (GELU after the first two, no activation at the
    end).

    A 3x3 convolution with padding 1 and stride 2 maps a side of ``n`` to
    ``ceil(n / 2)``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise convolution; Mobile-SAM uses
            1 before the last stage to keep stride 16. Defaults to 2.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 2) -> None:
        super().__init__()
        self.conv1 = TinyViTConvBN(in_channels, out_channels, 1)
        self.conv2 = TinyViTConvBN(
            out_channels,
            out_channels,
            3,
            stride=stride,
            padding=1,
            groups=out_channels)
        self.conv3 = TinyViTConvBN(out_channels, out_channels, 1)
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, C_in, H, W)``.

        Returns:
            Tensor: ``(B, C_out, H', W')`` with ``H' = ceil(H / stride)``.
        """
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.conv3(x)


def relative_offset_index(window_size: int) -> Tensor:
    """Index of the bias of every query/key pair of a square window.

    Tokens of a window are numbered row by row. The pair of tokens at
    ``(y1, x1)`` and ``(y2, x2)`` uses bias number
    ``|y1 - y2| * window_size + |x1 - x2|``, which is the numbering the
    official code obtains by listing the offsets in order of first
    appearance.

    Args:
        window_size (int): Side ``w`` of the window.

    Returns:
        Tensor: Long tensor of shape ``(w * w, w * w)`` with values in
        ``[0, w * w)``.
    """
    coords = torch.arange(window_size)
    rows = coords.repeat_interleave(window_size)  # (w*w,)
    cols = coords.repeat(window_size)  # (w*w,)
    d_row = (rows[:, None] - rows[None, :]).abs()
    d_col = (cols[:, None] - cols[None, :]).abs()
    return d_row * window_size + d_col


class TinyViTAttention(nn.Module):
    """Multi-head self-attention inside one window, with a learned bias per
    head and per absolute offset ``(|dy|, |dx|)`` between two tokens.

    The input is layer-normalised first (``norm``). ``qkv`` produces, for
    every head in turn, its query, key and value (the output features are
    laid out as ``(num_heads, [q | k | v])``, not ``([q | k | v],
    num_heads)``, as in the official weights).

    ``attention_biases`` ``(num_heads, w * w)`` is a parameter; the index
    table ``attention_bias_idxs`` ``(w * w, w * w)`` is a buffer that is NOT
    saved in the ``state_dict`` (as in the official model). The bias matrix
    is gathered at every forward, so loading new weights never leaves a
    stale copy behind.

    Args:
        dim (int): Channels ``C`` of the tokens.
        num_heads (int): Number of heads; ``dim`` must be divisible by it.
        window_size (int): Side ``w`` of the square window.
        attn_ratio (float): Value dim per head = ``attn_ratio * head_dim``.
            Defaults to 1 (TinyViT).
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 window_size: int,
                 attn_ratio: float = 1.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'TinyViTAttention: dim {dim} is not divisible '
                             f'by num_heads {num_heads}')
        self.num_heads = num_heads
        self.window_size = window_size
        self.key_dim = dim // num_heads
        self.value_dim = int(attn_ratio * self.key_dim)
        self.scale = self.key_dim**-0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim,
                             num_heads * (2 * self.key_dim + self.value_dim))
        self.proj = nn.Linear(num_heads * self.value_dim, dim)
        nn.init.trunc_normal_(self.qkv.weight, std=0.02)
        nn.init.zeros_(self.qkv.bias)
        nn.init.trunc_normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)
        self.attention_biases = nn.Parameter(
            torch.zeros(num_heads, window_size * window_size))
        self.register_buffer(
            'attention_bias_idxs',
            relative_offset_index(window_size),
            persistent=False)

    def bias_matrix(self) -> Tensor:
        """Tensor: The additive attention bias ``(num_heads, N, N)``,
        ``N = w * w``."""
        return self.attention_biases[:, self.attention_bias_idxs]

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B', N, C)`` tokens of ``B'`` windows, ``N = w * w``
                in row-major order.

        Returns:
            Tensor: ``(B', N, C)``.
        """
        num_windows, num_tokens, _ = x.shape
        if num_tokens != self.window_size**2:
            raise ValueError(
                f'TinyViTAttention: expected {self.window_size**2} tokens '
                f'per window (window {self.window_size}), got {num_tokens}')
        qkv = self.qkv(self.norm(x)).view(num_windows, num_tokens,
                                          self.num_heads, -1)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.value_dim],
                            dim=3)
        # (B', heads, N, d)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.bias_matrix()
        out = attn.softmax(dim=-1) @ v  # (B', heads, N, d_v)
        out = out.transpose(1, 2).reshape(num_windows, num_tokens, -1)
        return self.proj(out)


class TinyViTMlp(nn.Module):
    """LayerNorm, then ``fc1 -> GELU -> fc2``.

    Args:
        dim (int): Input and output channels.
        hidden_dim (int): Hidden channels.
    """

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.act = nn.GELU()
        for fc in (self.fc1, self.fc2):
            nn.init.trunc_normal_(fc.weight, std=0.02)
            nn.init.zeros_(fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(..., C)``.

        Returns:
            Tensor: ``(..., C)``.
        """
        return self.fc2(self.act(self.fc1(self.norm(x))))


def window_partition(x: Tensor, window_size: int) -> Tuple[Tensor, int, int]:
    """Zero-pad a map at the bottom/right to a multiple of the window and
    cut it into windows.

    Args:
        x (Tensor): ``(B, H, W, C)``.
        window_size (int): Side ``w`` of the windows.

    Returns:
        tuple: ``(windows, Hp, Wp)``: windows of shape
        ``(B * Hp / w * Wp / w, w * w, C)`` ordered by (image, window row,
        window column), tokens row-major inside a window; ``Hp``/``Wp`` the
        padded height and width.
    """
    batch, height, width, channels = x.shape
    pad_b = (-height) % window_size
    pad_r = (-width) % window_size
    if pad_b or pad_r:
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    hp, wp = height + pad_b, width + pad_r
    x = x.reshape(batch, hp // window_size, window_size, wp // window_size,
                  window_size, channels)
    windows = x.transpose(2, 3).reshape(-1, window_size * window_size,
                                        channels)
    return windows, hp, wp


def window_reverse(windows: Tensor, window_size: int, batch: int,
                   padded_hw: Tuple[int, int], hw: Tuple[int, int]) -> Tensor:
    """Inverse of :func:`window_partition`, cropping the padding.

    Args:
        windows (Tensor): ``(B * Hp / w * Wp / w, w * w, C)``.
        window_size (int): Side ``w`` of the windows.
        batch (int): ``B``.
        padded_hw (tuple[int, int]): ``(Hp, Wp)``.
        hw (tuple[int, int]): ``(H, W)`` before padding.

    Returns:
        Tensor: ``(B, H, W, C)``.
    """
    hp, wp = padded_hw
    channels = windows.shape[-1]
    x = windows.reshape(batch, hp // window_size, wp // window_size,
                        window_size, window_size, channels)
    x = x.transpose(2, 3).reshape(batch, hp, wp, channels)
    return x[:, :hw[0], :hw[1]]


class TinyViTBlock(nn.Module):
    """TinyViT transformer block.

    ``x = x + WindowAttention(x)``; ``x = BN(dwconv(x))`` (``local_conv``,
    no residual); ``x = x + Mlp(x)``.

    The map is zero-padded at the bottom/right to a multiple of the window
    size before the attention, exactly as in the official model: the padded
    positions are NOT masked, they take part in the attention as tokens
    whose pre-norm features are zero (after the attention's LayerNorm: its
    bias). This is what the official weights were trained with, also at
    1024 px, where e.g. the 64x64 grid of the last stage is padded to 70x70
    for 7x7 windows. The outputs of the padded positions are dropped.

    Args:
        dim (int): Channels ``C``.
        num_heads (int): Attention heads.
        window_size (int): Side of the attention windows.
        mlp_ratio (float): Hidden channels of the MLP = ``dim * mlp_ratio``.
            Defaults to 4.
        local_conv_size (int): Kernel of the depthwise ``local_conv``.
            Defaults to 3.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 window_size: int,
                 mlp_ratio: float = 4.0,
                 local_conv_size: int = 3) -> None:
        super().__init__()
        if window_size < 1:
            raise ValueError(
                f'TinyViTBlock: window_size must be >= 1, got {window_size}')
        self.window_size = window_size
        self.attn = TinyViTAttention(dim, num_heads, window_size)
        self.mlp = TinyViTMlp(dim, int(dim * mlp_ratio))
        self.local_conv = TinyViTConvBN(
            dim,
            dim,
            local_conv_size,
            padding=local_conv_size // 2,
            groups=dim)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, H, W, C)`` channels-last map.

        Returns:
            Tensor: ``(B, H, W, C)``.
        """
        batch, height, width, _ = x.shape
        windows, hp, wp = window_partition(x, self.window_size)
        windows = self.attn(windows)
        x = x + window_reverse(windows, self.window_size, batch, (hp, wp),
                               (height, width))
        x = self.local_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(x)


class TinyViTConvStage(nn.Module):
    """First TinyViT stage: MBConv blocks, then an optional down-sampling.

    Args:
        dim (int): Channels of the blocks.
        depth (int): Number of :class:`TinyViTMBConv` blocks.
        out_dim (int, optional): Output channels of the ``downsample``
            (:class:`TinyViTPatchMerging`); ``None`` for no down-sampling.
        downsample_stride (int): Stride of the down-sampling. Defaults to 2.
        expand_ratio (float): MBConv expansion. Defaults to 4.
    """

    def __init__(self,
                 dim: int,
                 depth: int,
                 out_dim: Optional[int] = None,
                 downsample_stride: int = 2,
                 expand_ratio: float = 4.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTMBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = (
            TinyViTPatchMerging(dim, out_dim, downsample_stride)
            if out_dim is not None else None)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, dim, H, W)``.

        Returns:
            Tensor: ``(B, out_dim, H', W')`` (``(B, dim, H, W)`` without
            down-sampling).
        """
        for block in self.blocks:
            x = block(x)
        if self.downsample is not None:
            x = self.downsample(x)
        return x


class TinyViTAttnStage(nn.Module):
    """A TinyViT transformer stage: :class:`TinyViTBlock` s, then an
    optional down-sampling.

    Args:
        dim (int): Channels of the blocks.
        depth (int): Number of blocks.
        num_heads (int): Attention heads.
        window_size (int): Side of the attention windows.
        out_dim (int, optional): Output channels of the ``downsample``;
            ``None`` for no down-sampling.
        downsample_stride (int): Stride of the down-sampling. Defaults to 2.
        mlp_ratio (float): MLP expansion. Defaults to 4.
        local_conv_size (int): Kernel of the blocks' ``local_conv``.
            Defaults to 3.
    """

    def __init__(self,
                 dim: int,
                 depth: int,
                 num_heads: int,
                 window_size: int,
                 out_dim: Optional[int] = None,
                 downsample_stride: int = 2,
                 mlp_ratio: float = 4.0,
                 local_conv_size: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, num_heads, window_size, mlp_ratio,
                         local_conv_size) for _ in range(depth))
        self.downsample = (
            TinyViTPatchMerging(dim, out_dim, downsample_stride)
            if out_dim is not None else None)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, dim, H, W)``.

        Returns:
            Tensor: ``(B, out_dim, H', W')`` (``(B, dim, H, W)`` without
            down-sampling).
        """
        x = x.permute(0, 2, 3, 1)
        for block in self.blocks:
            x = block(x)
        x = x.permute(0, 3, 1, 2)
        if self.downsample is not None:
            x = self.downsample(x)
        return x


class TinyViTLayerNorm2d(nn.Module):
    """LayerNorm over the channels of a ``(B, C, H, W)`` map (SAM's neck).

    Args:
        num_channels (int): ``C``.
        eps (float): Added to the variance. Defaults to 1e-6 (SAM).
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, C, H, W)``.

        Returns:
            Tensor: ``(B, C, H, W)``, each position normalised over ``C``
            (biased variance), then scaled and shifted per channel.
        """
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), (x.shape[1], ),
            self.weight,
            self.bias,
            eps=self.eps)
        return x.permute(0, 3, 1, 2)
