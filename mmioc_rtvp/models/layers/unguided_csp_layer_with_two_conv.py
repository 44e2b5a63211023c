# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""C2f layer that ignores the text: the T-V ablation's neck block."""
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
        guide_channels (int): Unused.
        embed_channels (int): Unused.
        num_heads (int): Unused.
        *args, **kwargs: Arguments of mmyolo's ``CSPLayerWithTwoConv``
            (``in_channels``, ``out_channels``, ``expand_ratio``,
            ``num_blocks``, ``add_identity``, ``conv_cfg``, ``norm_cfg``,
            ``act_cfg``, ``init_cfg``).
    """

    def __init__(self,
                 *args,
                 guide_channels: int = 0,
                 embed_channels: int = 0,
                 num_heads: int = 1,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)

    def forward(self, x: Tensor, guide: Tensor = None) -> Tensor:
        """C2f forward; ``guide`` ((B, K, D) text embeddings) is ignored.

        Args:
            x (Tensor): (B, in_channels, H, W).
            guide (Tensor, optional): Ignored.

        Returns:
            Tensor: (B, out_channels, H, W).
        """
        return super().forward(x)
