# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLOv8 head network whose class branch is a region-text classifier."""
import math
from typing import List, Sequence, Tuple

import torch.nn as nn
from mmdet.models.utils import multi_apply
from mmyolo.models.dense_heads import YOLOv8HeadModule
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .bn_contrastive_head import BNContrastiveHead
from .contrastive_head import ContrastiveHead


@MODELS.register_module()
class YOLOWorldHeadModule(YOLOv8HeadModule):
    """YOLOv8 decoupled head with open-vocabulary classification.

    The box branch is YOLOv8's. The last 1x1 conv of each class branch
    outputs ``embed_dims``-d region embeddings instead of ``num_classes``
    logits; a contrastive head per level compares them with the (B, K, D)
    text embeddings, giving (B, K, H, W) class logits for any K.

    ``num_classes`` (the training vocabulary size) only sizes the hidden
    width of the class branch (``max(in_channels[0], num_classes)``, as in
    YOLOv8) and the prior-probability initialisation of the contrastive
    bias.

    Padding prompts (all-zero text embeddings, the encoders' output for
    ``''``) get the constant logit ``padding_logit`` when
    ``mask_padded_texts`` is True: with the default -1e4 their sigmoid score
    is 0, so they are never assigned, contribute exactly zero BCE loss and
    gradient, and are never predicted.

    Args:
        num_classes (int): Size of the training vocabulary.
        in_channels (list[int]): Input channels per level (before
            ``widen_factor``).
        embed_dims (int): D, the text embedding dimension.
        use_bn_head (bool): :class:`BNContrastiveHead` (YOLO-World v2)
            instead of :class:`ContrastiveHead`. Defaults to True.
        mask_padded_texts (bool): See above. Defaults to True.
        padding_logit (float): Logit of padding prompts. Defaults to -1e4.
        freeze_all (bool): Freeze the whole head module. Defaults to False.
        **kwargs: Other arguments of ``YOLOv8HeadModule`` (``widen_factor``,
            ``featmap_strides``, ``reg_max``, ``norm_cfg``, ``act_cfg``,
            ``init_cfg``...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int],
                 embed_dims: int,
                 use_bn_head: bool = True,
                 mask_padded_texts: bool = True,
                 padding_logit: float = -1e4,
                 freeze_all: bool = False,
                 **kwargs) -> None:
        # read by _init_layers, which the parent's __init__ calls
        self.embed_dims = embed_dims
        self.use_bn_head = use_bn_head
        super().__init__(
            num_classes=num_classes, in_channels=in_channels, **kwargs)
        self.mask_padded_texts = mask_padded_texts
        self.padding_logit = padding_logit
        self.freeze_all = freeze_all
        if freeze_all:
            self._freeze_all()

    def _init_layers(self) -> None:
        """YOLOv8's layers, with the class convs ending in ``embed_dims``
        channels, plus one contrastive head per level."""
        super()._init_layers()
        self.cls_contrasts = nn.ModuleList()
        for cls_pred in self.cls_preds:
            cls_pred[-1] = nn.Conv2d(
                cls_pred[-1].in_channels, self.embed_dims, kernel_size=1)
            if self.use_bn_head:
                self.cls_contrasts.append(
                    BNContrastiveHead(self.embed_dims, norm_cfg=self.norm_cfg))
            else:
                self.cls_contrasts.append(ContrastiveHead(self.embed_dims))

    def init_weights(self) -> None:
        """YOLOv8's initialisation; the class prior (0.01 objects of 1 class
        at 640 px spread over ``num_classes``) goes to the contrastive bias,
        the embedding conv bias starts at 0."""
        super().init_weights()
        for cls_pred, contrast, stride in zip(self.cls_preds,
                                              self.cls_contrasts,
                                              self.featmap_strides):
            nn.init.zeros_(cls_pred[-1].bias)
            nn.init.constant_(
                contrast.bias,
                math.log(5 / self.num_classes / (640 / stride)**2))

    def _freeze_all(self) -> None:
        """Stop gradients and keep norm layers in eval mode."""
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'YOLOWorldHeadModule':
        """Set the mode, keeping a frozen head in eval mode."""
        super().train(mode)
        if self.freeze_all:
            self._freeze_all()
        return self

    def forward(self, img_feats: Sequence[Tensor],
                txt_feats: Tensor) -> Tuple[List]:
        """Forward all levels.

        Args:
            img_feats (list[Tensor]): (B, C_i, H_i, W_i) per level.
            txt_feats (Tensor): (B, K, D) text embeddings.

        Returns:
            tuple[list]: per level, class logits (B, K, H_i, W_i), box
            distances (B, 4, H_i, W_i) and, in training mode, the box
            distribution logits (B, H_i * W_i, 4, reg_max).
        """
        if len(img_feats) != self.num_levels:
            raise ValueError(f'expected {self.num_levels} feature levels, '
                             f'got {len(img_feats)}')
        if txt_feats.dim() != 3 or txt_feats.shape[-1] != self.embed_dims:
            raise ValueError(
                f'txt_feats must be (B, K, {self.embed_dims}), got '
                f'{tuple(txt_feats.shape)}')
        pad_mask = None
        if self.mask_padded_texts:
            pad_mask = (txt_feats.abs().sum(-1) == 0)[:, :, None, None]
        return multi_apply(self.forward_single, img_feats,
                           [txt_feats] * self.num_levels,
                           [pad_mask] * self.num_levels, self.cls_preds,
                           self.reg_preds, self.cls_contrasts)

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
            tuple[Tensor]: see :meth:`forward`.
        """
        _, cls_logit = self.forward_class(img_feat, txt_feat, pad_mask,
                                          cls_pred, cls_contrast)
        return (cls_logit, ) + self.forward_box(img_feat, reg_pred)

    def forward_class(self, img_feat: Tensor, txt_feat: Tensor,
                      pad_mask: Tensor, cls_pred: nn.Module,
                      cls_contrast: nn.Module) -> Tuple[Tensor, Tensor]:
        """Class branch of one level.

        Args:
            img_feat (Tensor): (B, C, H, W).
            txt_feat (Tensor): (B, K, D).
            pad_mask (Tensor, optional): (B, K, 1, 1) True for padding.
            cls_pred, cls_contrast (nn.Module): Level modules.

        Returns:
            tuple[Tensor, Tensor]: region embeddings (B, D, H, W) and class
            logits (B, K, H, W).
        """
        embed = cls_pred(img_feat)
        return embed, self.mask_padding(cls_contrast(embed, txt_feat),
                                        pad_mask)

    def mask_padding(self, cls_logit: Tensor, pad_mask: Tensor) -> Tensor:
        """Give padding prompts the constant ``padding_logit``.

        Args:
            cls_logit (Tensor): (B, K, H, W) class logits.
            pad_mask (Tensor, optional): (B, K, 1, 1) True for padding.

        Returns:
            Tensor: (B, K, H, W).
        """
        if pad_mask is None:
            return cls_logit
        return cls_logit.masked_fill(pad_mask, self.padding_logit)

    def forward_box(self, img_feat: Tensor,
                    reg_pred: nn.Module) -> Tuple[Tensor, ...]:
        """Box branch of one level (YOLOv8's, computed by the parent).

        Args:
            img_feat (Tensor): (B, C, H, W).
            reg_pred (nn.Module): Level module.

        Returns:
            tuple[Tensor]: box distances (B, 4, H, W) and, in training mode,
            the distribution logits (B, H * W, 4, reg_max).
        """
        box_outs = super().forward_single(img_feat, _ZeroBranch(), reg_pred)
        return tuple(box_outs[1:])


class _ZeroBranch(nn.Module):
    """Stand-in class branch so the parent's ``forward_single`` computes only
    the box outputs (its class output is discarded)."""

    def forward(self, x: Tensor) -> Tensor:
        """Return an empty (B, 0, H, W) tensor."""
        return x.new_empty((x.shape[0], 0) + tuple(x.shape[2:]))
