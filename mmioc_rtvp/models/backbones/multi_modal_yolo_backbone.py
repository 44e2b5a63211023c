# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Image backbone plus (frozen) text encoder, as one module."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from mmyolo.models.utils import make_divisible
from torch import Tensor

from mmioc_rtvp.registry import MODELS


@MODELS.register_module()
class MultiModalYOLOBackbone(BaseModule):
    """An image backbone and a text encoder side by side.

    ``forward(image, texts)`` returns the multi-level image features of
    ``image_model`` and the prompt embeddings of ``text_model``; the two
    branches do not interact here (fusion happens in the neck and head).

    Args:
        image_model (dict): Config of the image backbone, e.g. mmyolo's
            ``YOLOv8CSPDarknet``.
        text_model (dict, optional): Config of a text encoder with the
            interface ``forward(texts: List[List[str]]) -> (B, K, D)`` and an
            ``embed_dim`` attribute. ``None`` builds an image-only backbone
            (text embeddings must then be supplied by the caller, e.g. a
            reparameterized detector).
        frozen_stages (int): Freeze the first ``frozen_stages + 1`` entries
            of ``image_model.layers`` (``'stem'``, ``'stage1'``, ...): their
            parameters stop receiving gradients and they stay in eval mode,
            as mmyolo's ``BaseBackbone`` does. -1 freezes nothing.
            Defaults to -1.
        freeze_text_model (bool): Keep the text encoder frozen (no gradients,
            eval mode, forward under ``torch.no_grad``). Defaults to True.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 image_model: ConfigType,
                 text_model: Optional[ConfigType] = None,
                 frozen_stages: int = -1,
                 freeze_text_model: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.image_model = MODELS.build(image_model)
        self.text_model = (
            MODELS.build(text_model) if text_model is not None else None)
        layers = getattr(self.image_model, 'layers', None)
        if frozen_stages >= 0 and layers is None:
            raise ValueError(
                f'frozen_stages={frozen_stages} needs an image model with a '
                f'`layers` list (mmyolo BaseBackbone); '
                f'{type(self.image_model).__name__} has none')
        if layers is not None and frozen_stages >= len(layers):
            raise ValueError(
                f'frozen_stages must be in [-1, {len(layers) - 1}], got '
                f'{frozen_stages}')
        self.frozen_stages = frozen_stages
        self.freeze_text_model = freeze_text_model
        self._freeze()

    # ------------------------------------------------------------------
    # declared shapes
    # ------------------------------------------------------------------
    @property
    def out_channels(self) -> List[int]:
        """Channels of each returned image feature level.

        Derived from the ``arch_setting`` / ``widen_factor`` /
        ``out_indices`` of an mmyolo ``BaseBackbone`` (index 0 is the stem,
        index i >= 1 is stage i).
        """
        img = self.image_model
        for attr in ('arch_setting', 'widen_factor', 'out_indices'):
            if not hasattr(img, attr):
                raise NotImplementedError(
                    f'cannot derive out_channels of {type(img).__name__}: '
                    f'it has no `{attr}` (not an mmyolo BaseBackbone)')
        channels = [make_divisible(img.arch_setting[0][0], img.widen_factor)]
        channels += [
            make_divisible(setting[1], img.widen_factor)
            for setting in img.arch_setting
        ]
        return [channels[i] for i in img.out_indices]

    @property
    def out_strides(self) -> List[int]:
        """Stride of each returned image feature level (stem = 2, and each
        mmyolo stage halves the resolution)."""
        return [2**(i + 1) for i in self.image_model.out_indices]

    @property
    def text_embed_dim(self) -> Optional[int]:
        """D, the text embedding dimension (None without a text model)."""
        if self.text_model is None:
            return None
        return self.text_model.embed_dim

    # ------------------------------------------------------------------
    # freezing
    # ------------------------------------------------------------------
    def _freeze(self) -> None:
        """Stop gradients of the frozen image stages and the text model and
        put them into eval mode."""
        if self.frozen_stages >= 0:
            for i in range(self.frozen_stages + 1):
                m = getattr(self.image_model, self.image_model.layers[i])
                m.eval()
                for param in m.parameters():
                    param.requires_grad = False
        if self.freeze_text_model and self.text_model is not None:
            self.text_model.eval()
            for param in self.text_model.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'MultiModalYOLOBackbone':
        """Set train/eval mode while keeping the frozen parts in eval."""
        super().train(mode)
        self._freeze()
        return self

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def forward_image(self, image: Tensor) -> Tuple[Tensor, ...]:
        """Image features.

        Args:
            image (Tensor): (B, 3, H, W) normalised images.

        Returns:
            tuple[Tensor]: Features (B, C_i, H / s_i, W / s_i) per level.
        """
        return self.image_model(image)

    def forward_text(self,
                     texts: Sequence[Sequence[str]],
                     device: Optional[torch.device] = None) -> Tensor:
        """Prompt embeddings.

        Args:
            texts (list[list[str]]): B lists of K prompts each.
            device (torch.device, optional): Device of the returned tensor.

        Returns:
            Tensor: (B, K, D) L2-normalised embeddings (a padding prompt
            ``''`` gives a zero vector).
        """
        if self.text_model is None:
            raise RuntimeError(
                'MultiModalYOLOBackbone has no text model (it was built '
                'without one or dropped by reparameterize); text prompts '
                'cannot be encoded')
        if self.freeze_text_model:
            with torch.no_grad():
                txt_feats = self.text_model(texts)
        else:
            txt_feats = self.text_model(texts)
        if device is not None:
            txt_feats = txt_feats.to(device)
        return txt_feats

    def forward(self, image: Tensor, texts: Sequence[Sequence[str]]
                ) -> Tuple[Tuple[Tensor, ...], Tensor]:
        """Image and text features.

        Args:
            image (Tensor): (B, 3, H, W) normalised images.
            texts (list[list[str]]): B lists of K prompts each.

        Returns:
            tuple: ``(img_feats, txt_feats)``: a tuple of (B, C_i, H_i, W_i)
            image features and the (B, K, D) text embeddings.
        """
        if len(texts) != image.shape[0]:
            raise ValueError(
                f'got {len(texts)} prompt lists for a batch of '
                f'{image.shape[0]} images')
        img_feats = self.forward_image(image)
        txt_feats = self.forward_text(texts, device=image.device)
        return img_feats, txt_feats

    def drop_text_model(self) -> None:
        """Delete the text encoder (after its outputs were cached)."""
        self.text_model = None


