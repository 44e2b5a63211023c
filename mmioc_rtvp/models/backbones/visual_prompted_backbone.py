# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Any image backbone with RTVPNet's visual prompts injected: a drop-in
backbone for stock mmyolo / mmdet detectors."""
from typing import List, Optional, Tuple

import torch.nn.functional as F
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmioc_rtvp.registry import MODELS
from .multi_modal_yolo_backbone import MultiModalYOLOBackbone


@MODELS.register_module()
class VisualPromptedBackbone(BaseModule):
    r"""An expert backbone whose output levels receive visual prompts from a
    frozen visual encoder, so that a stock detector (mmyolo's
    ``YOLODetector`` with YOLOv8, mmdet's two-stage detectors...) uses
    RTVPNet's prompt path by changing ``model.backbone`` alone::

        X_i  = image_model(x)_i                 the detector's own backbone
        F_i  = visual_encoder(x)_i              frozen, e.g. Mobile-SAM TinyViT
        F_i  = EDP(F_i, X_i)                    optional (domain_projection)
        S_i  = RVP_i(F_i)[0]                    optional (visual_prompt)
        out_i = X_i + A_i(S_i)                  A_i: zero-initialised 1x1 conv

    Only the forward is added. The auxiliary objectives of the paper - EDP's
    alignment loss (eq. 5) and the CIoU head on the selected prompts - need a
    detector that asks for them (:class:`RTVPNet`); inside a stock detector
    the projection, the selection scores and the adapters learn from the
    detection loss alone.

    Args:
        image_model (dict): The expert, an mmyolo ``BaseBackbone`` (e.g.
            ``YOLOv8CSPDarknet``, :class:`YOLO11Backbone`).
        visual_encoder (dict): Encoder returning one (B, C_s, H_i, W_i) map
            per expert level, with ``out_channels`` / ``out_strides``.
        domain_projection (dict, optional): :class:`ExpertDomainProjection`;
            ``expert_channels`` and ``sam_channels`` are filled in.
        visual_prompt (dict, optional): :class:`EnergySparsePrompt`;
            ``in_channels`` and ``stride`` are filled in per level.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        (B, 3, H, W) -> one (B, C_i, H / s_i, W / s_i) per expert level.
    """

    def __init__(self,
                 image_model: ConfigType,
                 visual_encoder: ConfigType,
                 domain_projection: OptConfigType = None,
                 visual_prompt: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        # the wrapper declares the expert's channels and strides
        self.expert = MultiModalYOLOBackbone(image_model=image_model)
        self.visual_encoder = MODELS.build(visual_encoder)
        strides = self.out_strides
        if list(self.visual_encoder.out_strides) != strides:
            raise ValueError(
                f'VisualPromptedBackbone: the visual encoder returns strides '
                f'{list(self.visual_encoder.out_strides)}, the expert '
                f'{strides}')
        channels = list(self.visual_encoder.out_channels)
        self.domain_projection: Optional[nn.Module] = None
        if domain_projection is not None:
            cfg = dict(domain_projection)
            cfg.setdefault('expert_channels', self.out_channels)
            cfg.setdefault('sam_channels', channels)
            self.domain_projection = MODELS.build(cfg)
            channels = list(self.domain_projection.out_channels)
        self.visual_prompts: Optional[nn.ModuleList] = None
        if visual_prompt is not None:
            self.visual_prompts = nn.ModuleList(
                MODELS.build(dict(visual_prompt, in_channels=c, stride=s))
                for c, s in zip(channels, strides))
        self.prompt_adapters = nn.ModuleList(
            nn.Conv2d(c, e, 1) for c, e in zip(channels, self.out_channels))
        self._zero_adapters()

    @property
    def out_channels(self) -> List[int]:
        """C_i of every output level (the expert's)."""
        return self.expert.out_channels

    @property
    def out_strides(self) -> List[int]:
        """s_i of every output level (the expert's)."""
        return self.expert.out_strides

    def _zero_adapters(self) -> None:
        """The expert's features start unchanged."""
        for conv in self.prompt_adapters:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def init_weights(self) -> None:
        """Initialise the children, then zero the adapters."""
        super().init_weights()
        self._zero_adapters()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Expert features with the prompts added.

        Args:
            x (Tensor): (B, 3, H, W) images.

        Returns:
            tuple[Tensor]: (B, C_i, H_i, W_i) per level.
        """
        expert_feats = tuple(self.expert.forward_image(x))
        prompts = tuple(self.visual_encoder(x))
        if self.domain_projection is not None:
            prompts = tuple(self.domain_projection(prompts, expert_feats))
        if self.visual_prompts is not None:
            prompts = tuple(
                m(p)[0] for m, p in zip(self.visual_prompts, prompts))
        outs = []
        for feat, prompt, adapter in zip(expert_feats, prompts,
                                         self.prompt_adapters):
            prompt = adapter(prompt)
            if prompt.shape[-2:] != feat.shape[-2:]:
                prompt = F.interpolate(
                    prompt, size=feat.shape[-2:], mode='bilinear',
                    align_corners=False)
            outs.append(feat + prompt)
        return tuple(outs)
