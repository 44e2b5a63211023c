# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Region-text contrastive classifier with batch-normalised regions."""
from mmcv.cnn import build_norm_layer
from mmdet.utils import ConfigType, OptMultiConfig
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .contrastive_head import ContrastiveHead


@MODELS.register_module()
class BNContrastiveHead(ContrastiveHead):
    r"""Contrastive logits with BatchNorm on the region embeddings.

    YOLO-World v2's default classifier:

    .. math::

        z_{b,k}(p) = \exp(\tau)\,\mathrm{BN}(x_b)(p)^{\top}
            \frac{t_{b,k}}{\lVert t_{b,k} \rVert} + \beta

    The region embedding is normalised by a BatchNorm over the D channels
    (not to unit length); the text embedding is L2-normalised. A zero
    (padding) text embedding gives exactly :math:`\beta`.

    Args:
        embed_dims (int): D, channels of region and text embeddings.
        norm_cfg (dict): Normalization layer of the regions.
            Defaults to ``dict(type='BN', momentum=0.03, eps=0.001)``.
        init_logit_scale (float): Initial :math:`\tau`. BN outputs have unit
            variance per channel, so their dot product with a unit text
            vector is already O(1); -1.0 (YOLO-World v2's value) keeps the
            initial logits small. Defaults to -1.0.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 embed_dims: int,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 init_logit_scale: float = -1.0,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            embed_dims=embed_dims,
            init_logit_scale=init_logit_scale,
            init_cfg=init_cfg)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def normalize_regions(self, x: Tensor) -> Tensor:
        """Batch-normalise the region embeddings.

        Args:
            x (Tensor): (B, D, H, W) region embeddings.

        Returns:
            Tensor: (B, D, H, W).
        """
        return self.norm(x)
