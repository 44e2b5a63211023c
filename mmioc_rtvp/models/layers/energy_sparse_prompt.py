# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Refined Visual Prompt: energy score and sparse selection (eqs. 8-9)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class EnergySparsePrompt(BaseModule):
    r"""Select the high-score positions of a coarse prompt, patch by patch.

    With the coarse visual prompt :math:`F^R` (B, C, H, W) of one level:

    .. math::

        M &= \mathrm{Proj}_S\big(A(F^R) \odot F^R\big) \in
            \mathbb{R}^{B \times 1 \times H \times W} \quad \text{(eq. 8)} \\
        \bar{M}(p) &= \frac{1}{|N(p)|} \sum_{p' \in N(p)} M(p') \\
        S(p) &= F^R(p)\, \kappa(p), \qquad
            \kappa(p) = [\,M(p) > \bar{M}(p)\,] \quad \text{(eq. 9, test)}

    * :math:`A` is the prompt activation (``activation_cfg``; default
      :class:`EnergyActivation`, eq. 7; the Table X alternatives are
      ``ECAActivation``, ``CBAMActivation``, ``MCAActivation`` and
      ``SelfAttentionActivation``; ``None`` uses :math:`A = 1`).
    * :math:`\mathrm{Proj}_S` is a two-layer MLP of 1x1 convs
      (C -> ``hidden_channels`` -> ReLU -> 1).
    * :math:`N(p)` is the patch of p: the grid is tiled from the top-left by
      non-overlapping patches of ``max(1, patch_size // stride)`` cells
      (``patch_size`` in input-image pixels, 32 by default: 4 cells at
      stride 8, 2 at 16, 1 at 32); patches cut by the right/bottom border are
      smaller and average over the cells they have.
    * A patch of a single cell has nothing to compare its cell with (the
      strict inequality would never hold), so its cell is kept
      (:math:`\kappa = 1`). With the defaults this makes the stride-32 level
      pass :math:`F^R` through unchanged.

    **Training** (``stochastic=True``): the paper states that each position's
    selection follows a Bernoulli distribution. The keep mask is sampled

    .. math::

        q(p) = \mathrm{sigmoid}\big((M(p) - \bar{M}(p)) / \tau\big), \quad
        k(p) \sim \mathrm{Bernoulli}(q(p)), \quad
        \kappa = k + q - \mathrm{sg}(q)

    (straight-through: the forward value is the 0/1 sample, the gradient is
    that of q, so :math:`\mathrm{Proj}_S` and :math:`A` learn from every
    loss applied to S). The sample is an unbiased estimate of q,
    :math:`\mathbb{E}[k] = q`, and :math:`q > 1/2` exactly where the
    deterministic test-time rule keeps a position; as :math:`\tau \to 0`
    training selection becomes the test-time rule. In eval mode (or with
    ``stochastic=False``) :math:`\kappa` is the deterministic 0/1 rule above.

    Args:
        in_channels (int): C of :math:`F^R`.
        stride (int): Stride of this level in input-image pixels.
        patch_size (int): Patch side in input-image pixels. Defaults to 32.
        hidden_channels (int, optional): Hidden width of
            :math:`\mathrm{Proj}_S`. Defaults to ``max(1, in_channels // 4)``.
        activation_cfg (dict, optional): Config of A; ``channels`` is filled
            in. Defaults to ``dict(type='EnergyActivation')``.
        temperature (float): :math:`\tau` of the training selection.
            Defaults to 1.0.
        stochastic (bool): Sample the keep mask in training.
            Defaults to True.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 stride: int,
                 patch_size: int = 32,
                 hidden_channels: Optional[int] = None,
                 activation_cfg: OptConfigType = dict(
                     type='EnergyActivation'),
                 temperature: float = 1.0,
                 stochastic: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if stride < 1 or patch_size < 1:
            raise ValueError(
                'EnergySparsePrompt: stride and patch_size must be positive, '
                f'got stride={stride}, patch_size={patch_size}')
        if temperature <= 0:
            raise ValueError(
                'EnergySparsePrompt: temperature must be positive, got '
                f'{temperature}')
        self.in_channels = in_channels
        self.out_channels = in_channels
        self.stride = int(stride)
        self.patch_size = int(patch_size)
        self.patch_cells = max(1, self.patch_size // self.stride)
        self.temperature = float(temperature)
        self.stochastic = stochastic
        self.activation: Optional[nn.Module] = None
        if activation_cfg is not None:
            cfg = dict(activation_cfg)
            cfg.setdefault('channels', in_channels)
            self.activation = MODELS.build(cfg)
        hidden_channels = hidden_channels or max(1, in_channels // 4)
        self.proj_score = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, 1),
            nn.ReLU(inplace=True), nn.Conv2d(hidden_channels, 1, 1))

    def score(self, x: Tensor) -> Tensor:
        """Uncertainty score M (eq. 8).

        Args:
            x (Tensor): (B, C, H, W) coarse prompt :math:`F^R`.

        Returns:
            Tensor: (B, 1, H, W).
        """
        weighted = x if self.activation is None else self.activation(x) * x
        return self.proj_score(weighted)

    def patch_mean(self, score: Tensor) -> Tuple[Tensor, Tensor]:
        """Mean score of each position's patch and the patch's cell count.

        Args:
            score (Tensor): (B, 1, H, W).

        Returns:
            tuple[Tensor, Tensor]: (B, 1, H, W) patch means and (1, 1, H, W)
            numbers of cells of each position's patch.
        """
        p = self.patch_cells
        h, w = score.shape[-2:]
        pad = (0, (-w) % p, 0, (-h) % p)
        sums = F.avg_pool2d(F.pad(score, pad), p, stride=p) * (p * p)
        counts = F.avg_pool2d(
            F.pad(score.new_ones(1, 1, h, w), pad), p, stride=p) * (p * p)
        counts = counts.round()

        def to_cells(t: Tensor) -> Tensor:
            t = t.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)
            return t[..., :h, :w]

        counts = to_cells(counts)
        return to_cells(sums) / counts, counts

    def select(self, score: Tensor) -> Tensor:
        """Deterministic keep mask: above the mean of the own patch.

        Args:
            score (Tensor): (B, 1, H, W).

        Returns:
            Tensor: (B, 1, H, W) of 0/1 in the dtype of ``score``.
        """
        mean, counts = self.patch_mean(score)
        return ((score > mean) | (counts == 1)).to(score.dtype)

    def keep_probability(self, score: Tensor) -> Tensor:
        """Training keep probability q.

        Args:
            score (Tensor): (B, 1, H, W).

        Returns:
            Tensor: (B, 1, H, W) in (0, 1]; 1 for single-cell patches.
        """
        mean, counts = self.patch_mean(score)
        q = ((score - mean) / self.temperature).sigmoid()
        return torch.where(counts == 1, torch.ones_like(q), q)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Refined prompt S, keep mask and score.

        Args:
            x (Tensor): (B, C, H, W) coarse prompt :math:`F^R`.

        Returns:
            tuple[Tensor, Tensor, Tensor]:

            - prompt (Tensor): (B, C, H, W), S = F^R * keep.
            - keep (Tensor): (B, 1, H, W), values 0/1 (in training with the
              straight-through gradient of q attached).
            - score (Tensor): (B, 1, H, W), M.
        """
        score = self.score(x)
        if self.training and self.stochastic:
            q = self.keep_probability(score)
            sample = torch.bernoulli(q.detach())
            keep = sample + (q - q.detach())  # exactly 0/1 forward
        else:
            keep = self.select(score)
        return x * keep, keep, score
