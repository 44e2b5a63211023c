# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Random block mask of Expert-assisted Domain Projection (RTVPNet eq. 2)."""
from typing import Sequence, Tuple, Union

import torch
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class BlockMask(BaseModule):
    r"""Zero a random set of spatial blocks covering ``mask_ratio`` of a grid.

    Eq. 2 of the paper partitions a feature map into :math:`N = 2^k`
    neighbourhood blocks :math:`P_n` and draws blocks uniformly at random:

    .. math::

        \mathrm{Mask}_{x,y} = \begin{cases} 0 & (x, y) \in \bigcup_n P_n \\
            1 & \text{otherwise} \end{cases}

    **Blocks.** An (H, W) grid is cut into ``rows x cols`` blocks with
    ``rows = min(blocks_per_side[0], H)`` and ``cols = min(
    blocks_per_side[1], W)``: cell ``(h, w)`` belongs to block row
    ``floor(h * rows / H)`` and block column ``floor(w * cols / W)``, so
    block heights (widths) differ by at most one cell and the blocks tile the
    grid exactly, for any H, W. The default 8 x 8 = 64 = 2^6 blocks matches
    the paper's ``N = 2^k`` and, because the block count is the same at every
    level, a block covers the same image area at strides 8, 16 and 32 (80
    image pixels at 640 px input): the partition is multi-scale, as the paper
    describes. 64 blocks also keep the quantisation of the ratio small
    (1/64 of the grid per block).

    **Drawing.** Each sample of the batch draws its own random order of the
    blocks and masks the longest prefix of that order whose covered area
    ``A`` satisfies ``A_before + a_next / 2 < mask_ratio * H * W`` for every
    block taken (take a block while doing so brings the area closer to the
    target). Hence the realised ratio differs from ``mask_ratio`` by at most
    half the largest block area over ``H * W`` (<= 1/128 + O(1/H) for 8 x 8
    blocks); with equal blocks the masked set is a uniformly random subset of
    ``round(mask_ratio * N)`` blocks.

    The mask is only drawn in training mode; in eval mode (and for
    ``mask_ratio == 0``) it is all ones.

    Args:
        mask_ratio (float): Fraction of the grid to zero, in [0, 1).
            Defaults to 0.2 (the paper's best, Table IX).
        blocks_per_side (int | tuple[int, int]): Blocks along (H, W) before
            clipping to the grid size. Defaults to 8.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 mask_ratio: float = 0.2,
                 blocks_per_side: Union[int, Sequence[int]] = 8,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0.0 <= float(mask_ratio) < 1.0:
            raise ValueError(
                f'BlockMask: mask_ratio must be in [0, 1), got {mask_ratio}')
        if isinstance(blocks_per_side, int):
            blocks_per_side = (blocks_per_side, blocks_per_side)
        blocks_per_side = tuple(int(b) for b in blocks_per_side)
        if len(blocks_per_side) != 2 or min(blocks_per_side) < 1:
            raise ValueError(
                'BlockMask: blocks_per_side must be a positive int or a pair '
                f'of positive ints, got {blocks_per_side}')
        self.mask_ratio = float(mask_ratio)
        self.blocks_per_side: Tuple[int, int] = blocks_per_side

    def block_index(self, height: int, width: int,
                    device: Union[str, torch.device] = 'cpu') -> Tensor:
        """Block id of every cell of an (H, W) grid.

        Args:
            height (int): H.
            width (int): W.
            device (str | torch.device): Device of the result.

        Returns:
            Tensor: (H, W) long tensor of block ids in ``[0, rows * cols)``,
            row-major over blocks.
        """
        rows = min(self.blocks_per_side[0], height)
        cols = min(self.blocks_per_side[1], width)
        row_of = torch.arange(height, device=device) * rows // height
        col_of = torch.arange(width, device=device) * cols // width
        return row_of[:, None] * cols + col_of[None, :]

    def forward(self, x: Tensor) -> Tensor:
        """Draw one mask per sample for the spatial grid of ``x``.

        Args:
            x (Tensor): (B, C, H, W) features (only shape, device and dtype
                are used).

        Returns:
            Tensor: (B, 1, H, W) mask of 0 (masked) and 1 (kept), in the dtype
            of ``x``.
        """
        b, _, h, w = x.shape
        if not self.training or self.mask_ratio == 0.0:
            return x.new_ones(b, 1, h, w)
        block_id = self.block_index(h, w, x.device)  # (H, W)
        num_blocks = int(block_id.max()) + 1
        areas = torch.bincount(
            block_id.flatten(), minlength=num_blocks).to(torch.float64)
        target = self.mask_ratio * h * w
        # one random order of the blocks per sample: (B, N)
        order = torch.rand(b, num_blocks, device=x.device).argsort(dim=1)
        areas_in_order = areas[order]
        area_before = areas_in_order.cumsum(dim=1) - areas_in_order
        take = (area_before + areas_in_order / 2 < target).long()
        take = take.cumprod(dim=1).bool()  # longest valid prefix
        masked_blocks = torch.zeros(
            b, num_blocks, dtype=torch.bool, device=x.device)
        masked_blocks.scatter_(1, order, take)
        masked_cells = masked_blocks[:, block_id.flatten()]  # (B, H*W)
        return (~masked_cells).to(x.dtype).reshape(b, 1, h, w)
