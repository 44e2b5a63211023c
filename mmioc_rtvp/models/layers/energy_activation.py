# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Energy activation of the Refined Visual Prompt (RTVPNet eq. 7)."""
from typing import Optional

from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class EnergyActivation(BaseModule):
    r"""Parameter-free per-position energy of a feature map.

    Eq. 7 of the paper, exactly as printed:

    .. math::

        \mathscr{E}_{b,c,h,w} = \frac{4\,(s_{b,c,h,w} - \mu_{b,c})^2}
            {(1 + s_{b,c,h,w} - \mu_{b,c})^2 + 3\,\delta^2_{b,c}}
            + \epsilon, \qquad s = \mathrm{sigmoid}(F)

    where :math:`\mu_{b,c}` and :math:`\delta^2_{b,c}` are the spatial mean
    and the population variance (divided by H W) of :math:`s_{b,c,:,:}`, per
    sample and channel. Since :math:`s, \mu \in (0, 1)`, the term
    :math:`1 + s - \mu` is positive and the denominator never vanishes;
    :math:`\epsilon` is added outside the fraction as in the paper (a floor
    on the energy, so no position gets exactly zero weight).

    The energy is 0 (+ eps) at the channel mean and grows with the distance
    from it: positions that stand out from their channel's background get
    larger weights. Used as ``A`` in :class:`EnergySparsePrompt`
    (``M = ProjS(A(F) * F)``, eq. 8).

    Args:
        channels (int, optional): C. Unused (the energy has no parameters);
            accepted so that every prompt activation is built alike.
        eps (float): :math:`\epsilon`. Defaults to 1e-4.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: Optional[int] = None,
                 eps: float = 1e-4,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = channels
        self.eps = float(eps)

    def forward(self, x: Tensor) -> Tensor:
        """Energy weights.

        Args:
            x (Tensor): (B, C, H, W) features.

        Returns:
            Tensor: (B, C, H, W) energies, >= eps.
        """
        s = x.sigmoid()
        mu = s.mean(dim=(2, 3), keepdim=True)
        var = s.var(dim=(2, 3), unbiased=False, keepdim=True)
        d = s - mu
        return 4 * d.pow(2) / ((1 + d).pow(2) + 3 * var) + self.eps
