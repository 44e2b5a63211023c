# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Expert-assisted Domain Projection (EDP, RTVPNet eqs. 2-6)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.utils import OptMultiConfig
from mmengine.dist import all_reduce, is_distributed
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .block_mask import BlockMask
from .domain_projection_net import DomainProjectionNet


@MODELS.register_module()
class ExpertDomainProjection(BaseModule):
    r"""Project frozen Mobile-SAM features into the expert's domain.

    For each pyramid level i, with SAM features :math:`F_i` (B, C_s, H, W)
    and expert features :math:`X_i` (B, C_e, H', W') (resized bilinearly to
    H x W when H' x W' differs):

    .. math::

        M_i &= \mathrm{BlockMask}(F_i)
            \quad \text{(eq. 2; all ones at test time)} \\
        F_i^{M} &= \mathrm{AvgPool}_{k \times k}(F_i) \odot M_i
            \quad \text{(eq. 3)} \\
        F_i^{R} &= G_i\big([\,F_i + F_i^{M} + M_i \odot u_i(X_i)\;;\;
            M_i\,]\big) \quad \text{(eq. 4)} \\
        \mathcal{L}_{opt} &= \sum_i \frac{1}{B H W} \sum_{b, h, w}
            \big\lVert \psi_i(X_i)_{b,:,h,w} -
            \phi_i(F_i^{R})_{b,:,h,w} \big\rVert_2
            \quad \text{(eq. 5)}

    Design choices where the paper is silent:

    * **Pooling** :math:`\mathcal{P}`: a k x k average pooling with stride 1
      (``pool_kernel``; padding excluded from the average), i.e. the local
      context of each position. ``pool_kernel=None`` uses the global average
      (broadcast to H x W).
    * **Expert condition** ("the features of M_expert as conditions"): the
      expert feature is aligned to C_s channels by a 1x1 conv :math:`u_i`
      (the authors' ``upchannel`` adapters) and added to the input of G in the
      *unmasked* blocks only. In masked blocks G sees neither the pooled SAM
      context nor the expert, so it must predict the expert features from
      the SAM features alone (MAE-style: the masked expert information is
      reconstructed from context, not copied). The mask is also given to G
      as one extra input channel (C_s + 1 inputs, as the authors'
      257-channel ``reconstructor``), so G knows which positions lack
      context. G is :class:`DomainProjectionNet` (eq. 4). The authors' log
      also lists a ``mask_generator`` conv (256 -> 128 -> 1) whose role is
      not described; this module uses the random block mask of eq. 2, and
      injecting the prompts back into the expert (the log's
      ``downchannel`` adapters) is left to the detector.
    * **Norm of eq. 5**: the mean over batch and positions of the
      per-position L2 norm over channels, summed over levels. It is zero iff
      the aligned features are equal everywhere, and does not grow with the
      image size.
    * **Alignment** :math:`\psi_i, \phi_i`: 1x1 convs into ``align_channels``
      (:math:`\phi` with bias, :math:`\psi` without). :math:`\psi` is
      initialised (semi-)orthogonal and frozen by default
      (``freeze_psi=True``): with both sides trainable, eq. 5 has the trivial
      minimum :math:`\psi = \phi = 0`, which would also trip the early stop.
      With ``align_channels >= C_e`` the frozen :math:`\psi` is an isometry,
      so :math:`\mathcal{L}_{opt}` is a distance in the expert's own feature
      geometry (with fewer channels, e.g. C2F-L's 512-channel levels and the
      default 256, it is an orthogonal projection onto a random subspace;
      raise ``align_channels`` to keep the isometry). Gradients still flow
      *through* :math:`\psi` into the expert.
    * **Dynamic expert update** (eq. 6): nothing is detached; the expert's
      parameters receive :math:`\nabla \mathcal{L}_{opt}` through
      :math:`\psi` and :math:`u`. Its own learning rate is an optimizer
      parameter group (config), not part of this module.
      ``update_expert=False`` (Table VIII without "Update") detaches the
      expert features inside this module: the expert then learns from the
      detection losses only, never from this module.
    * **Early stop** ("terminated once low sufficiently"): in training mode
      each :meth:`loss` call updates a running value
      :math:`v \leftarrow m v + (1 - m) \mathcal{L}_{opt}` (``stop_momentum``
      m; the first call sets :math:`v = \mathcal{L}_{opt}`; averaged over
      ranks under DDP so every rank decides alike). Once :math:`v <`
      ``stop_threshold`` the flag ``opt_stopped`` is set for good and the
      returned loss is :math:`0 \cdot \mathcal{L}_{opt}` (zero, but still
      connected to the graph so DDP sees every parameter used). Both are
      buffers, so they survive checkpoints and resume. ``stop_threshold <=
      0`` never stops (the loss is non-negative). Like BatchNorm's running
      statistics this is state updated by a training-mode call.

    Args:
        expert_channels (Sequence[int]): C_e of the expert feature per level.
        sam_channels (int | Sequence[int]): C_s of the SAM feature per
            level. Defaults to 256 (Mobile-SAM's neck).
        align_channels (int): Channels of the space eq. 5 is measured in.
            Defaults to 256.
        hidden_channels (int, optional): Hidden channels of G. Defaults to
            C_s.
        branch_strides (Sequence[int]): Strides of G's branches.
            Defaults to (1, 2, 4).
        pool_kernel (int, optional): k of the average pooling, None for
            global. Defaults to 3.
        mask_ratio (float): Block mask ratio (training only).
            Defaults to 0.2.
        blocks_per_side (int | tuple[int, int]): See :class:`BlockMask`.
            Defaults to 8.
        with_mask_channel (bool): Give the mask to G as an extra channel.
            Defaults to True.
        freeze_psi (bool): Keep :math:`\psi` fixed. Defaults to True.
        stop_threshold (float): Early-stop threshold on the running
            :math:`\mathcal{L}_{opt}` (unweighted). Defaults to 0.0 (never).
        stop_momentum (float): m of the running value, in [0, 1).
            0 compares each batch's own value. Defaults to 0.9.
        loss_weight (float): Weight of :math:`\mathcal{L}_{opt}`.
            Defaults to 1.0.
        update_expert (bool): Let eq. 5 and the condition update the expert
            (eq. 6). Defaults to True.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 expert_channels: Sequence[int],
                 sam_channels: Union[int, Sequence[int]] = 256,
                 align_channels: int = 256,
                 hidden_channels: Optional[int] = None,
                 branch_strides: Sequence[int] = (1, 2, 4),
                 pool_kernel: Optional[int] = 3,
                 mask_ratio: float = 0.2,
                 blocks_per_side: Union[int, Sequence[int]] = 8,
                 with_mask_channel: bool = True,
                 freeze_psi: bool = True,
                 stop_threshold: float = 0.0,
                 stop_momentum: float = 0.9,
                 loss_weight: float = 1.0,
                 update_expert: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        expert_channels = [int(c) for c in expert_channels]
        num_levels = len(expert_channels)
        if isinstance(sam_channels, int):
            sam_channels = [sam_channels] * num_levels
        sam_channels = [int(c) for c in sam_channels]
        if len(sam_channels) != num_levels or num_levels == 0:
            raise ValueError(
                'ExpertDomainProjection: expert_channels and sam_channels '
                f'must list the same non-zero number of levels, got '
                f'{expert_channels} and {sam_channels}')
        if pool_kernel is not None and (pool_kernel < 1
                                        or pool_kernel % 2 == 0):
            raise ValueError(
                'ExpertDomainProjection: pool_kernel must be a positive odd '
                f'int or None, got {pool_kernel}')
        if not 0.0 <= stop_momentum < 1.0:
            raise ValueError(
                'ExpertDomainProjection: stop_momentum must be in [0, 1), '
                f'got {stop_momentum}')
        self.expert_channels = expert_channels
        self.sam_channels = sam_channels
        # F^R_i has the SAM feature's channels and stride
        self.out_channels: List[int] = list(sam_channels)
        self.align_channels = align_channels
        self.num_levels = num_levels
        self.pool_kernel = pool_kernel
        self.with_mask_channel = with_mask_channel
        self.freeze_psi = freeze_psi
        self.stop_threshold = float(stop_threshold)
        self.stop_momentum = float(stop_momentum)
        self.loss_weight = float(loss_weight)
        self.update_expert = update_expert

        self.block_mask = BlockMask(
            mask_ratio=mask_ratio, blocks_per_side=blocks_per_side)
        extra = 1 if with_mask_channel else 0
        self.cond_convs = nn.ModuleList(
            nn.Conv2d(ce, cs, 1)
            for ce, cs in zip(expert_channels, sam_channels))
        self.projectors = nn.ModuleList(
            DomainProjectionNet(
                cs + extra,
                cs,
                hidden_channels=hidden_channels,
                strides=branch_strides) for cs in sam_channels)
        self.psi = nn.ModuleList(
            nn.Conv2d(ce, align_channels, 1, bias=False)
            for ce in expert_channels)
        self.phi = nn.ModuleList(
            nn.Conv2d(cs, align_channels, 1) for cs in sam_channels)
        self._init_psi()
        # early-stop state (persistent: saved in checkpoints)
        self.register_buffer('opt_running_value',
                             torch.tensor(float('nan'), dtype=torch.float64))
        self.register_buffer('opt_stopped', torch.tensor(False))

    def _init_psi(self) -> None:
        """(Semi-)orthogonal psi weights; frozen if ``freeze_psi``."""
        for conv in self.psi:
            with torch.no_grad():
                weight = torch.empty(conv.weight.shape[:2])
                nn.init.orthogonal_(weight)
                conv.weight.copy_(weight[..., None, None])
            conv.weight.requires_grad_(not self.freeze_psi)

    def init_weights(self) -> None:
        """Initialise as configured, then restore psi's orthogonal init
        (a generic ``init_cfg`` on Conv2d layers would otherwise overwrite
        the fixed isometry)."""
        super().init_weights()
        self._init_psi()

    def _check_inputs(self, sam_feats: Sequence[Tensor],
                      expert_feats: Sequence[Tensor]) -> None:
        """Raise on a level-count or channel mismatch."""
        if len(sam_feats) != self.num_levels or \
                len(expert_feats) != self.num_levels:
            raise ValueError(
                f'ExpertDomainProjection: expected {self.num_levels} levels, '
                f'got {len(sam_feats)} SAM and {len(expert_feats)} expert '
                'features')
        for i, (f, x) in enumerate(zip(sam_feats, expert_feats)):
            if f.shape[1] != self.sam_channels[i] or \
                    x.shape[1] != self.expert_channels[i]:
                raise ValueError(
                    f'ExpertDomainProjection: level {i} expects '
                    f'{self.sam_channels[i]} SAM and '
                    f'{self.expert_channels[i]} expert channels, got '
                    f'{tuple(f.shape)} and {tuple(x.shape)}')

    def _resize_like(self, x: Tensor, ref: Tensor) -> Tensor:
        """Bilinearly resize the expert feature ``x`` (B, C, H', W') to
        ref's H x W (detached unless ``update_expert``)."""
        if not self.update_expert:
            x = x.detach()
        if x.shape[-2:] == ref.shape[-2:]:
            return x
        return F.interpolate(
            x, size=ref.shape[-2:], mode='bilinear', align_corners=False)

    def pool(self, x: Tensor) -> Tensor:
        """Spatial pooling :math:`\\mathcal{P}` of eq. 3.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W).
        """
        if self.pool_kernel is None:
            return x.mean(dim=(2, 3), keepdim=True).expand_as(x)
        return F.avg_pool2d(
            x,
            self.pool_kernel,
            stride=1,
            padding=self.pool_kernel // 2,
            count_include_pad=False)

    def forward(self, sam_feats: Sequence[Tensor],
                expert_feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Coarse visual prompts :math:`F^R_i`.

        Args:
            sam_feats (Sequence[Tensor]): (B, C_s_i, H_i, W_i) per level.
            expert_feats (Sequence[Tensor]): (B, C_e_i, H'_i, W'_i) per
                level (resized to H_i x W_i if different).

        Returns:
            tuple[Tensor]: (B, C_s_i, H_i, W_i) per level, non-negative.
        """
        self._check_inputs(sam_feats, expert_feats)
        outs = []
        for i, (f, x) in enumerate(zip(sam_feats, expert_feats)):
            x = self._resize_like(x, f)
            mask = self.block_mask(f)  # (B, 1, H, W)
            f_m = self.pool(f) * mask
            inp = f + f_m + mask * self.cond_convs[i](x)
            if self.with_mask_channel:
                inp = torch.cat([inp, mask], dim=1)
            outs.append(self.projectors[i](inp))
        return tuple(outs)

    def optimization_loss(self, expert_feats: Sequence[Tensor],
                          coarse_prompts: Sequence[Tensor]) -> Tensor:
        """Unweighted :math:`\\mathcal{L}_{opt}` (eq. 5), no state change.

        Args:
            expert_feats (Sequence[Tensor]): (B, C_e_i, H'_i, W'_i).
            coarse_prompts (Sequence[Tensor]): (B, C_s_i, H_i, W_i), the
                output of :meth:`forward`.

        Returns:
            Tensor: scalar.
        """
        self._check_inputs(coarse_prompts, expert_feats)
        total = coarse_prompts[0].new_zeros(())
        for i, (x, f_r) in enumerate(zip(expert_feats, coarse_prompts)):
            x = self._resize_like(x, f_r)
            diff = self.psi[i](x) - self.phi[i](f_r)  # (B, A, H, W)
            total = total + torch.linalg.vector_norm(diff, dim=1).mean()
        return total

    @torch.no_grad()
    def _update_stop_state(self, value: Tensor) -> None:
        """Update the running value and the stop flag with a batch value."""
        value = value.detach().to(torch.float64).clone()
        if is_distributed():
            all_reduce(value, op='mean')
        running = self.opt_running_value
        if torch.isnan(running):
            running.copy_(value)
        else:
            running.mul_(self.stop_momentum).add_(
                value * (1.0 - self.stop_momentum))
        if bool(running < self.stop_threshold):
            self.opt_stopped.fill_(True)

    def loss(self, expert_feats: Sequence[Tensor],
             coarse_prompts: Sequence[Tensor]) -> Dict[str, Tensor]:
        """Weighted :math:`\\mathcal{L}_{opt}` with the early stop.

        In training mode this updates ``opt_running_value`` and possibly
        sets ``opt_stopped`` (see the class docstring).

        Args:
            expert_feats (Sequence[Tensor]): (B, C_e_i, H'_i, W'_i).
            coarse_prompts (Sequence[Tensor]): (B, C_s_i, H_i, W_i).

        Returns:
            dict[str, Tensor]: ``loss_opt`` (scalar, 0 once stopped) and
            ``opt_value`` (the detached unweighted value, for logging).
        """
        value = self.optimization_loss(expert_feats, coarse_prompts)
        if self.training and not bool(self.opt_stopped):
            self._update_stop_state(value)
        weight = 0.0 if bool(self.opt_stopped) else self.loss_weight
        return dict(loss_opt=value * weight, opt_value=value.detach())

    @property
    def stopped(self) -> bool:
        """Whether :math:`\\mathcal{L}_{opt}` has been switched off."""
        return bool(self.opt_stopped)

    def extra_repr(self) -> str:
        return (f'levels={self.num_levels}, '
                f'mask_ratio={self.block_mask.mask_ratio}, '
                f'stop_threshold={self.stop_threshold}, '
                f'update_expert={self.update_expert}')
