# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""RTVPNet: Refined Text-Visual Prompt Network (the paper's detector)."""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.structures import SampleList
from mmdet.utils import OptConfigType
from mmyolo.models.utils import make_divisible
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .yolo_world_detector import YOLOWorldDetector


@dataclass
class RTVPFeatures:
    """Intermediate results of one RTVPNet forward.

    Attributes:
        img_feats (tuple[Tensor]): Neck outputs (B, C'_i, H_i, W_i).
        txt_feats (Tensor): (B, K, D) text embeddings after the V-T update.
        expert_feats (tuple[Tensor]): Expert outputs before the prompts are
            injected, (B, C_e_i, H_i, W_i).
        coarse_prompts (tuple[Tensor]): EDP outputs F^R (or the visual
            encoder's features without EDP); empty without an encoder.
        prompts (tuple[Tensor]): Refined prompts S (or the coarse ones
            without RVP); empty without an encoder.
        keep_masks (tuple[Tensor]): (B, 1, H_i, W_i) RVP keep masks; empty
            without RVP.
        scores (tuple[Tensor]): (B, 1, H_i, W_i) RVP scores M; empty
            without RVP.
        exemplar_losses (dict): ``loss_exemplar_align`` of a training
            forward with an exemplar encoder; empty otherwise.
    """
    img_feats: Tuple[Tensor, ...]
    txt_feats: Tensor
    expert_feats: Tuple[Tensor, ...]
    coarse_prompts: Tuple[Tensor, ...] = ()
    prompts: Tuple[Tensor, ...] = ()
    keep_masks: Tuple[Tensor, ...] = ()
    scores: Tuple[Tensor, ...] = ()
    exemplar_losses: Dict[str, Tensor] = field(default_factory=dict)


@MODELS.register_module()
class RTVPNet(YOLOWorldDetector):
    r"""Refined Text-Visual Prompt Network (RTVPNet, paper section 4).

    Data flow for images x (B, 3, H, W) and prompts (B lists of K texts),
    per pyramid level i (strides 8/16/32)::

        X_i   = expert(x)_i                      backbone.image_model (trained)
        F_i   = visual_encoder(x)_i              Mobile-SAM TinyViT (frozen)
        F^R_i = EDP(F_i, X_i)                    eqs. 2-5, loss_opt (eq. 5)
        S_i   = RVP_i(F^R_i)                     eqs. 7-9, loss_rvp_ciou
        X'_i  = X_i + A_i(S_i)                   prompt injection
        T     = text_model(prompts)              frozen, (B, K, D)
        P     = neck(X', T)                      T-V: max-sigmoid gating (eq. 10)
        T'    = VT(P, T)                         V-T: similarity pooling (eq. 11)
        head(P, T')                              YOLOv8 losses + InfoNCE

    * ``A_i`` (``prompt_adapters``) are 1x1 convs from the prompt's channels
      to the expert's (the authors' ``downchannel`` adapters), initialised
      to zero: at the start of training the expert's features, and so an
      expert initialised from a YOLOv8 checkpoint, are unchanged; the
      prompts enter as the adapters learn.
    * The prompts are injected into the expert's *output* levels, i.e. the
      neck inputs (DESIGN §3.5). The authors' log shows adapters on the
      stem and the first two stages instead (widths 32/64/128 of C2F-S); the
      paper does not say where, and the pyramid levels are where EDP, RVP
      and the neck work.
    * The expert is ``backbone.image_model`` and is not detached: it learns
      from the detection losses and, through EDP, from eq. 5 (eq. 6). Give it
      its own optimizer parameter group in the config
      (``paramwise_cfg.custom_keys['backbone.image_model']``).
    * Every component can be switched off for the ablations (Tables VII,
      VIII): ``visual_encoder=None`` (no visual prompt at all: the model is
      YOLO-World with the optional V-T update), ``domain_projection=None``
      (the encoder's features go straight to RVP / the adapters),
      ``visual_prompt=None`` (the coarse prompt is injected unselected),
      ``visual_text=None`` (no V-T) and, for T-V, the neck's ``block_cfg``
      (``UnguidedCSPLayerWithTwoConv``).
    * :meth:`reparameterize` bakes a vocabulary in (no text encoder at
      inference); the V-T update still adapts it to each image.

    Losses: the head's (``loss_cls``, ``loss_bbox``, ``loss_dfl``,
    ``loss_region_text`` with :class:`RTVPHead`), EDP's ``loss_opt`` (and the
    logged ``opt_value``), and the auxiliary head's ``loss_rvp_ciou``.

    Args:
        backbone (dict): :class:`MultiModalYOLOBackbone` (expert + text).
        neck (dict): :class:`YOLOWorldPAFPN`.
        bbox_head (dict): :class:`RTVPHead` (or :class:`YOLOWorldHead`).
        visual_encoder (dict, optional): Frozen visual foundation encoder
            returning one (B, C_s, H_i, W_i) map per expert level, with
            ``out_channels`` and ``out_strides`` attributes (e.g.
            :class:`MobileSAMTinyViT`).
        domain_projection (dict, optional): :class:`ExpertDomainProjection`;
            ``expert_channels`` and ``sam_channels`` are filled in.
        visual_prompt (dict, optional): :class:`EnergySparsePrompt`, one per
            level; ``in_channels`` and ``stride`` are filled in.
        prompt_aux_head (dict, optional): :class:`CIoUAuxHead` on the
            refined prompts (needs ``visual_prompt``); ``in_channels`` and
            ``strides`` are filled in.
        visual_text (dict, optional): :class:`VisualTextUpdate`;
            ``in_channels`` (the neck's outputs) and ``text_channels`` are
            filled in.
        **kwargs: Arguments of :class:`YOLOWorldDetector`
            (``num_train_classes``, ``num_test_classes``, ``train_cfg``,
            ``test_cfg``, ``data_preprocessor``, ``init_cfg``...).
    """

    def __init__(self,
                 *args,
                 visual_encoder: OptConfigType = None,
                 domain_projection: OptConfigType = None,
                 visual_prompt: OptConfigType = None,
                 prompt_aux_head: OptConfigType = None,
                 visual_text: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._check_expert_checkpoint()
        strides = list(self.backbone.out_strides)
        expert_channels = list(self.backbone.out_channels)
        if visual_encoder is None and (domain_projection is not None
                                       or visual_prompt is not None):
            raise ValueError(
                'RTVPNet: domain_projection and visual_prompt work on the '
                'visual encoder\'s features; give visual_encoder too')
        if prompt_aux_head is not None and visual_prompt is None:
            raise ValueError(
                'RTVPNet: prompt_aux_head trains the visual prompt\'s '
                'selection; give visual_prompt too')

        self.visual_encoder: Optional[nn.Module] = None
        self.domain_projection: Optional[nn.Module] = None
        self.visual_prompts: Optional[nn.ModuleList] = None
        self.prompt_aux_head: Optional[nn.Module] = None
        self.prompt_adapters: Optional[nn.ModuleList] = None
        if visual_encoder is not None:
            self.visual_encoder = MODELS.build(visual_encoder)
            enc_strides = list(getattr(self.visual_encoder, 'out_strides',
                                       strides))
            if enc_strides != strides:
                raise ValueError(
                    f'RTVPNet: the visual encoder returns strides '
                    f'{enc_strides} but the expert {strides}')
            prompt_channels = list(self.visual_encoder.out_channels)
            if domain_projection is not None:
                cfg = dict(domain_projection)
                cfg.setdefault('expert_channels', expert_channels)
                cfg.setdefault('sam_channels', prompt_channels)
                self.domain_projection = MODELS.build(cfg)
                prompt_channels = list(self.domain_projection.out_channels)
            if visual_prompt is not None:
                self.visual_prompts = nn.ModuleList(
                    MODELS.build(
                        dict(visual_prompt, in_channels=c, stride=s))
                    for c, s in zip(prompt_channels, strides))
            if prompt_aux_head is not None:
                cfg = dict(prompt_aux_head)
                cfg.setdefault('in_channels', prompt_channels)
                cfg.setdefault('strides', strides)
                self.prompt_aux_head = MODELS.build(cfg)
            self.prompt_adapters = nn.ModuleList(
                nn.Conv2d(cp, ce, 1)
                for cp, ce in zip(prompt_channels, expert_channels))
            self._zero_adapters()

        self.visual_text: Optional[nn.Module] = None
        if visual_text is not None:
            cfg = dict(visual_text)
            cfg.setdefault('in_channels', self._neck_out_channels())
            if self.backbone.text_embed_dim is not None:
                cfg.setdefault('text_channels', self.backbone.text_embed_dim)
            self.visual_text = MODELS.build(cfg)

    # ------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------
    def _check_expert_checkpoint(self) -> None:
        """Fail at build time, not after the data is loaded, when the
        expert's pre-training checkpoint (a local file) is missing."""
        init_cfg = getattr(self.backbone.image_model, 'init_cfg', None)
        if not isinstance(init_cfg, dict) or \
                init_cfg.get('type') != 'Pretrained':
            return
        checkpoint = str(init_cfg.get('checkpoint', ''))
        if '://' in checkpoint or osp.isfile(osp.expanduser(checkpoint)):
            return
        raise FileNotFoundError(
            f'RTVPNet: the expert checkpoint {checkpoint!r} '
            '(model.backbone.image_model.init_cfg) does not exist. Train the '
            'expert first (configs/baselines/yolov8_*_seen.py for the open '
            'task, yolov8_*_closed.py for the closed one) and point '
            'expert_checkpoint at its .pth, or start from random weights '
            'with --cfg-options model.backbone.image_model.init_cfg=None')

    def _neck_out_channels(self) -> List[int]:
        """Channels of the neck's output levels (YOLOv8PAFPN rule)."""
        out = self.neck.out_channels
        if isinstance(out, int):
            out = [out] * len(self.neck.in_channels)
        return [make_divisible(c, self.neck.widen_factor) for c in out]

    def _zero_adapters(self) -> None:
        """Zero the prompt adapters (the expert starts unchanged)."""
        if self.prompt_adapters is None:
            return
        for conv in self.prompt_adapters:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def init_weights(self) -> None:
        """Initialise the children, then zero the prompt adapters."""
        super().init_weights()
        self._zero_adapters()

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    @staticmethod
    def _resize_to(x: Tensor, ref: Tensor) -> Tensor:
        """Bilinearly resize x to ref's spatial size (if it differs)."""
        if x.shape[-2:] == ref.shape[-2:]:
            return x
        return F.interpolate(
            x, size=ref.shape[-2:], mode='bilinear', align_corners=False)

    def _prompted_features(self, batch_inputs: Tensor) -> RTVPFeatures:
        """Expert features with the visual prompts injected (neck inputs).

        Returns:
            RTVPFeatures: ``img_feats`` holds the neck inputs X'_i;
            ``txt_feats`` is empty.
        """
        expert_feats = tuple(self.backbone.forward_image(batch_inputs))
        feats = expert_feats
        coarse, prompts, keeps, scores = (), (), (), ()
        if self.visual_encoder is not None:
            coarse = tuple(self.visual_encoder(batch_inputs))
            if self.domain_projection is not None:
                coarse = tuple(self.domain_projection(coarse, expert_feats))
            prompts = coarse
            if self.visual_prompts is not None:
                outs = [m(c) for m, c in zip(self.visual_prompts, coarse)]
                prompts = tuple(o[0] for o in outs)
                keeps = tuple(o[1] for o in outs)
                scores = tuple(o[2] for o in outs)
            feats = tuple(
                x + self._resize_to(adapter(s), x) for x, s, adapter in zip(
                    expert_feats, prompts, self.prompt_adapters))
        return RTVPFeatures(feats, batch_inputs.new_zeros(0), expert_feats,
                            coarse, prompts, keeps, scores)

    def neck_inputs(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """The prompted expert features X'_i (see the class doc)."""
        return self._prompted_features(batch_inputs).img_feats

    def forward_features(self,
                         batch_inputs: Tensor,
                         txt_feats: Tensor,
                         batch_data_samples: Optional[Union[
                             dict, SampleList]] = None) -> RTVPFeatures:
        """Every intermediate result of the forward (see the class doc).

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            txt_feats (Tensor): (B, K, D) text embeddings.
            batch_data_samples (dict or list[DetDataSample], optional): A
                training batch; with an exemplar encoder, some prompts are
                then replaced by exemplars (:meth:`swap_in_exemplars`).

        Returns:
            RTVPFeatures: Neck outputs, updated texts and the prompts.
        """
        out = self._prompted_features(batch_inputs)
        exemplar_losses = {}
        if batch_data_samples is not None:
            txt_feats, exemplar_losses = self.swap_in_exemplars(
                out.img_feats, txt_feats, batch_data_samples)
        img_feats = tuple(self.neck(out.img_feats, txt_feats))
        if self.visual_text is not None:
            txt_feats = self.visual_text(img_feats, txt_feats)
        out.img_feats = img_feats
        out.txt_feats = txt_feats
        out.exemplar_losses = exemplar_losses
        return out

    def extract_feat(self,
                     batch_inputs: Tensor,
                     txt_feats: Optional[Tensor] = None
                     ) -> Tuple[Tuple[Tensor, ...], Tensor]:
        """Neck features and the image-updated text embeddings.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            txt_feats (Tensor, optional): (B, K, D) text embeddings; None
                uses the reparameterized vocabulary.

        Returns:
            tuple: ``(img_feats, txt_feats)``: the neck outputs per level and
            the (B, K, D) text embeddings after the V-T update.
        """
        if txt_feats is None:
            txt_feats = self._test_text_feats(batch_inputs.shape[0], None,
                                              batch_inputs.device)
        out = self.forward_features(batch_inputs, txt_feats)
        return out.img_feats, out.txt_feats

    @staticmethod
    def _gt_bboxes(batch_data_samples: Union[dict, SampleList],
                   batch_size: int) -> List[Tensor]:
        """Ground-truth boxes per image, (G_b, 4) xyxy in input pixels."""
        if isinstance(batch_data_samples, dict):
            bboxes_labels = batch_data_samples['bboxes_labels']
            idx = bboxes_labels[:, 0].long()
            return [bboxes_labels[idx == i, 2:6] for i in range(batch_size)]
        return [s.gt_instances.bboxes for s in batch_data_samples]

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: Union[dict, SampleList]) -> Dict[str, Tensor]:
        """Losses of a training batch.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            batch_data_samples (dict or list[DetDataSample]): Ground truth
                and the B lists of K prompts (see
                :meth:`YOLOWorldDetector.loss`).

        Returns:
            dict[str, Tensor]: The head's losses, ``loss_opt`` and
            ``opt_value`` (with EDP) and ``loss_rvp_ciou`` (with the
            auxiliary head).
        """
        txt_feats = self._train_text_feats(batch_inputs, batch_data_samples)
        out = self.forward_features(batch_inputs, txt_feats,
                                    batch_data_samples)
        losses = self.bbox_head.loss(out.img_feats, out.txt_feats,
                                     batch_data_samples)
        losses.update(out.exemplar_losses)
        if self.domain_projection is not None:
            losses.update(
                self.domain_projection.loss(out.expert_feats,
                                            out.coarse_prompts))
        if self.prompt_aux_head is not None:
            gt_bboxes = self._gt_bboxes(batch_data_samples,
                                        batch_inputs.shape[0])
            losses.update(
                self.prompt_aux_head.loss(out.prompts, out.keep_masks,
                                          gt_bboxes))
        return losses

    def visual_prompt_maps(self, batch_inputs: Tensor,
                           txt_feats: Optional[Tensor] = None
                           ) -> Dict[str, Tuple[Tensor, ...]]:
        """Refined-visual-prompt maps for visualisation (paper Fig. 13).

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            txt_feats (Tensor, optional): (B, K, D) text embeddings (they do
                not change the prompts); None uses zeros of the text width.

        Returns:
            dict[str, tuple[Tensor]]: per level, ``scores`` (B, 1, H_i, W_i)
            (the RVP score M), ``keep_masks`` (B, 1, H_i, W_i) and
            ``prompt_norms`` (B, 1, H_i, W_i), the channel L2 norm of S.
        """
        if self.visual_encoder is None:
            raise ValueError('RTVPNet: this model has no visual encoder, '
                             'so no visual prompts')
        if txt_feats is None:
            dim = self.backbone.text_embed_dim or (
                self.text_feats.shape[-1]
                if self.text_feats is not None else None)
            if dim is None:
                raise ValueError('RTVPNet: give txt_feats (no text model)')
            txt_feats = batch_inputs.new_zeros(batch_inputs.shape[0], 1, dim)
        with torch.no_grad():
            out = self.forward_features(batch_inputs, txt_feats)
        norms = tuple(
            torch.linalg.vector_norm(p, dim=1, keepdim=True)
            for p in out.prompts)
        return dict(
            scores=out.scores, keep_masks=out.keep_masks, prompt_norms=norms)
