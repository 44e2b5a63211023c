# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""C2f layer that ignores the text: the T-V ablation's neck block."""
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmyolo.models.layers import CSPLayerWithTwoConv
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class UnguidedCSPLayerWithTwoConv(CSPLayerWithTwoConv):
    """mmyolo's C2f with the guided blocks' signature, without guidance.

    Used as ``block_cfg`` of :class:`YOLOWorldPAFPN` to switch the
    Text-Visual interaction (eq. 10) off (Table VII): the neck then is
    YOLOv8's PAFPN. ``guide_channels``, ``embed_channels`` and ``num_heads``
    are accepted (the neck fills them in for every block) and unused, and
    ``forward(x, guide)`` ignores ``guide``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        guide_channels (int): Unused.
        embed_channels (int): Unused.
        num_heads (int): Unused.
        expand_ratio (float): Defaults to 0.5.
        num_blocks (int): Number of bottlenecks. Defaults to 1.
        add_identity (bool): Shortcut in the bottlenecks. Defaults to True.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalization config.
        act_cfg (dict): Activation config.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 guide_channels: int = 0,
                 embed_channels: int = 0,
                 num_heads: int = 1,
                 expand_ratio: float = 0.5,
                 num_blocks: int = 1,
                 add_identity: bool = True,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU', inplace=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            expand_ratio=expand_ratio,
            num_blocks=num_blocks,
            add_identity=add_identity,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            init_cfg=init_cfg)

    def forward(self, x: Tensor, guide: Tensor = None) -> Tensor:
        """C2f forward; ``guide`` ((B, K, D) text embeddings) is ignored.

        Args:
            x (Tensor): (B, in_channels, H, W).
            guide (Tensor, optional): Ignored.

        Returns:
            Tensor: (B, out_channels, H, W).
        """
        return super().forward(x)
