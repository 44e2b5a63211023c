# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Head network of RTVPNet: YOLO-World's, plus the region embeddings."""
from typing import Tuple

import torch.nn as nn
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .yolo_world_head_module import YOLOWorldHeadModule


@MODELS.register_module()
class RTVPHeadModule(YOLOWorldHeadModule):
    """:class:`YOLOWorldHeadModule` that also returns region embeddings.

    In training mode each level returns, after YOLOv8's three outputs, the
    (B, D, H, W) region embeddings of the class branch (the input of the
    contrastive head), on which :class:`RTVPHead` computes the InfoNCE
    region-text loss. In eval mode the outputs are exactly the parent's,
    so decoding and export are unchanged.

    Args:
        region_embeddings (str): Which form of the class branch's output the
            InfoNCE loss receives: ``'raw'`` (the convolution's output, the
            paper's r_p) or ``'normalized'`` (the same after the contrastive
            head's own normalisation, i.e. the BatchNorm-ed regions of
            :class:`BNContrastiveHead` that the classifier compares with the
            texts). Defaults to ``'raw'``.
        **kwargs: Arguments of :class:`YOLOWorldHeadModule`.
    """

    REGION_EMBEDDINGS = ('raw', 'normalized')

    def __init__(self, *args, region_embeddings: str = 'raw',
                 **kwargs) -> None:
        if region_embeddings not in self.REGION_EMBEDDINGS:
            raise ValueError(
                f'RTVPHeadModule: region_embeddings must be one of '
                f'{self.REGION_EMBEDDINGS}, got {region_embeddings!r}')
        super().__init__(*args, **kwargs)
        self.region_embeddings = region_embeddings

    def forward_class(self, img_feat: Tensor, txt_feat: Tensor,
                      pad_mask: Tensor, cls_pred: nn.Module,
                      cls_contrast: nn.Module) -> Tuple[Tensor, Tensor]:
        """Class branch of one level; with ``region_embeddings='normalized'``
        the embeddings returned are the normalised ones (normalised once).

        Args:
            See :meth:`YOLOWorldHeadModule.forward_class`.

        Returns:
            tuple[Tensor, Tensor]: region embeddings (B, D, H, W) and class
            logits (B, K, H, W).
        """
        if self.region_embeddings == 'raw':
            return super().forward_class(img_feat, txt_feat, pad_mask,
                                         cls_pred, cls_contrast)
        embed = cls_contrast.normalize_regions(cls_pred(img_feat))
        return embed, self.mask_padding(
            cls_contrast.logits(embed, txt_feat), pad_mask)

    def forward_single(self, img_feat: Tensor, txt_feat: Tensor,
                       pad_mask: Tensor, cls_pred: nn.Module,
                       reg_pred: nn.Module, cls_contrast: nn.Module
                       ) -> Tuple[Tensor, ...]:
        """Forward one level.

        Args:
            img_feat (Tensor): (B, C, H, W).
            txt_feat (Tensor): (B, K, D).
            pad_mask (Tensor, optional): (B, K, 1, 1) True for padding.
            cls_pred, reg_pred, cls_contrast (nn.Module): Level modules.

        Returns:
            tuple[Tensor]: class logits (B, K, H, W), box distances
            (B, 4, H, W) and, in training mode only, the distribution logits
            (B, H * W, 4, reg_max) and the region embeddings (B, D, H, W).
        """
        embed, cls_logit = self.forward_class(img_feat, txt_feat, pad_mask,
                                              cls_pred, cls_contrast)
        box_outs = self.forward_box(img_feat, reg_pred)
        if self.training:
            return (cls_logit, ) + box_outs + (embed, )
        return (cls_logit, ) + box_outs
