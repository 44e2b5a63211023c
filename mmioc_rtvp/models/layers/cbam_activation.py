# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""CBAM as a prompt activation (RTVPNet Table X)."""
from mmdet.utils import OptMultiConfig
from mmyolo.models.plugins import CBAM
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class CBAMActivation(CBAM):
    r"""mmyolo's CBAM (Woo et al., ECCV 2018) returning its weights.

    CBAM computes :math:`y = M_s(M_c(x) \odot x) \odot M_c(x) \odot x` with
    the channel attention :math:`M_c` (B, C, 1, 1) and the spatial attention
    :math:`M_s` (B, 1, H, W). This subclass returns the combined weights

    .. math::

        A(x) = M_c(x) \odot M_s(M_c(x) \odot x)

    so that :math:`A(x) \odot x` is exactly mmyolo's ``CBAM.forward(x)``.

    Args:
        channels (int): C (at least ``reduce_ratio``).
        reduce_ratio (int): Squeeze ratio of the channel MLP.
            Defaults to 16.
        kernel_size (int): Kernel of the spatial attention. Defaults to 7.
        act_cfg (dict): Activation of the channel MLP.
            Defaults to ``dict(type='ReLU')``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 channels: int,
                 reduce_ratio: int = 16,
                 kernel_size: int = 7,
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        if int(channels / reduce_ratio) < 1:
            raise ValueError(
                f'CBAMActivation: channels ({channels}) must be >= '
                f'reduce_ratio ({reduce_ratio})')
        super().__init__(
            in_channels=channels,
            reduce_ratio=reduce_ratio,
            kernel_size=kernel_size,
            act_cfg=act_cfg,
            init_cfg=init_cfg)
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        """Combined channel x spatial weights.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W) in (0, 1).
        """
        channel = self.channel_attention(x)  # (B, C, 1, 1)
        spatial = self.spatial_attention(channel * x)  # (B, 1, H, W)
        return channel * spatial
