# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Few-shot prompt tuning: learn class embeddings, every weight frozen.

A new class gets ONE embedding of the text encoder's width D, learned from
k labelled support images by the detector's own detection loss (YOLOv8's
classification, box and DFL losses and, for RTVPNet's head, the InfoNCE
region-text loss) over the whole vocabulary: the kept classes' embeddings
(fixed) followed by the new ones (learned, unit-normalised in the forward).

Nothing of the model changes: every parameter is frozen and the model
stays in eval mode (BatchNorm statistics, RVP's deterministic selection,
no EDP masking). The image features before the text enters (the neck
inputs) do not depend on the embeddings, so they are computed once; each
step runs only the text-guided neck, the V-T update and the head. Only
the head module's own ``training`` flag is raised during the loss, so that
it returns what the losses need (box-distribution logits, region
embeddings); its layers stay in eval mode.
"""
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dataset import Compose
from torch import Tensor

from mmioc_rtvp.prompts import TUNED, PromptRecord
from .support_images import ImageLike, SupportBatch, support_batch

#: Defaults of :func:`tune_class_embeddings` (a few minutes on 2 CPU cores
#: for k = 5 at 320 px with RTVPNet-S-mini).
DEFAULT_STEPS = 200
DEFAULT_LR = 0.05


@dataclass
class PromptTuningResult:
    """What :func:`tune_class_embeddings` returns.

    Attributes:
        embeds (Tensor): (K_new, D) unit embeddings of the new classes: those
            of the lowest support loss met (the task-aligned assignment
            follows the scores, so the loss need not fall monotonically).
        losses (list[float]): The support loss of the embeddings before
            each step and after the last one (``steps + 1`` values).
        best_step (int): Index in ``losses`` of the returned embeddings.
    """
    embeds: Tensor
    losses: List[float]
    best_step: int


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` everywhere, restored after."""
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        model.train(was_training)
        for p, flag in flags:
            p.requires_grad_(flag)


@contextmanager
def _head_loss_outputs(head_module: nn.Module) -> Iterator[None]:
    """The head module's own flag only: its forward returns the training
    outputs; its layers (BatchNorm) keep their eval mode."""
    saved = head_module.training
    head_module.training = True
    try:
        yield
    finally:
        head_module.training = saved


def fuse_text(model: nn.Module, neck_inputs: Sequence[Tensor],
              txt_feats: Tensor) -> Tuple[Tuple[Tensor, ...], Tensor]:
    """The text-dependent part of the forward, from the neck inputs.

    What ``extract_feat`` does after ``neck_inputs`` (a test checks both
    give the same features): the text-guided neck (T-V) and, when the model
    has one, the V-T update of the embeddings.

    Args:
        model (nn.Module): A :class:`YOLOWorldDetector` or :class:`RTVPNet`.
        neck_inputs (Sequence[Tensor]): (B, C_i, H_i, W_i) per level.
        txt_feats (Tensor): (B, K, D) class embeddings.

    Returns:
        tuple: the neck outputs and the (B, K, D) (updated) embeddings.
    """
    img_feats = tuple(neck_inputs)
    if model.with_neck:
        img_feats = tuple(model.neck(img_feats, txt_feats))
    if getattr(model, 'visual_text', None) is not None:
        txt_feats = model.visual_text(img_feats, txt_feats)
    return img_feats, txt_feats


def random_unit_embeddings(num: int, dim: int, seed: int = 0) -> Tensor:
    """(num, dim) random unit vectors from a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(num, dim, generator=gen), dim=-1)


def initial_embeddings(model: nn.Module,
                       names: Sequence[str],
                       support: SupportBatch,
                       num_old: int,
                       init: str = 'auto',
                       seed: int = 0) -> Tensor:
    """Starting points of the new classes' embeddings.

    Args:
        model (nn.Module): The detector.
        names (Sequence[str]): K_new class names (labels num_old + j).
        support (SupportBatch): The support set.
        num_old (int): K_old, the kept classes before the new ones.
        init (str): ``'text'`` (the name through the text encoder),
            ``'exemplar'`` (the mean of the class's support boxes through
            the exemplar encoder, renormalised), ``'random'`` (seeded unit
            vectors) or ``'auto'``: text if the model has a text encoder,
            else exemplar if it has an exemplar encoder, else random.
        seed (int): Seed of ``'random'``.

    Returns:
        Tensor: (K_new, D) unit embeddings.
    """
    has_text = getattr(model.backbone, 'text_model', None) is not None
    has_exemplar = getattr(model, 'exemplar_encoder', None) is not None
    if init == 'auto':
        init = ('text' if has_text else
                'exemplar' if has_exemplar else 'random')
    if init == 'random':
        dim = model.bbox_head.head_module.embed_dims
        return random_unit_embeddings(len(names), dim, seed)
    if init == 'text':
        if not has_text:
            raise ValueError('init "text": the model has no text encoder')
        return model.backbone.forward_text([list(names)])[0].detach().cpu()
    if init != 'exemplar':
        raise ValueError(f'init must be auto, text, exemplar or random, got '
                         f'{init!r}')
    if not has_exemplar:
        raise ValueError('init "exemplar": the model has no exemplar encoder')
    with frozen_eval(model), torch.no_grad():
        means = [
            model.encode_exemplars(support.inputs,
                                   support.boxes_of(num_old + j)).mean(0)
            for j in range(len(names))
        ]
    return F.normalize(torch.stack(means), dim=-1).cpu()


def support_loss(model: nn.Module, neck_inputs: Sequence[Tensor],
                 support: SupportBatch, vocab: Tensor) -> Tensor:
    """The detector's detection loss on the support set.

    Args:
        model (nn.Module): The detector, in eval mode.
        neck_inputs (Sequence[Tensor]): Its (k, C_i, H_i, W_i) neck inputs.
        support (SupportBatch): Labels index ``vocab``.
        vocab (Tensor): (K, D) class embeddings.

    Returns:
        Tensor: The sum of the head's ``loss*`` terms.
    """
    batch = support.inputs.shape[0]
    txt_feats = vocab[None].repeat(batch, 1, 1)
    img_feats, txt_feats = fuse_text(model, neck_inputs, txt_feats)
    with _head_loss_outputs(model.bbox_head.head_module):
        losses = model.bbox_head.loss(
            img_feats, txt_feats,
            dict(bboxes_labels=support.bboxes_labels,
                 img_metas=support.img_metas))
    return sum(v for k, v in losses.items() if k.startswith('loss'))


def _check_embeddings(base_embeds: Tensor, init_new: Tensor,
                      support: SupportBatch) -> None:
    """Raise on widths or labels that do not fit the vocabulary."""
    if base_embeds.dim() != 2 or init_new.dim() != 2 or \
            base_embeds.shape[1] != init_new.shape[1]:
        raise ValueError(
            f'prompt tuning: base_embeds (K_old, D) and init_new (K_new, D) '
            f'of one width expected, got {tuple(base_embeds.shape)} and '
            f'{tuple(init_new.shape)}')
    num_old, num = base_embeds.shape[0], sum(
        e.shape[0] for e in (base_embeds, init_new))
    labels = support.bboxes_labels[:, 1].long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num):
        raise ValueError(f'prompt tuning: labels must index the {num} '
                         f'classes, got [{int(labels.min())}, '
                         f'{int(labels.max())}]')
    for j in range(init_new.shape[0]):
        if not bool((labels == num_old + j).any()):
            raise ValueError(f'prompt tuning: new class {j} (label '
                             f'{num_old + j}) has no support box')


def tune_on_batch(model: nn.Module,
                  support: SupportBatch,
                  base_embeds: Tensor,
                  init_new: Tensor,
                  steps: int = DEFAULT_STEPS,
                  lr: float = DEFAULT_LR) -> PromptTuningResult:
    """:func:`tune_class_embeddings` on a prepared :class:`SupportBatch`."""
    _check_embeddings(base_embeds, init_new, support)
    device = support.inputs.device
    base = base_embeds.detach().to(device, torch.float32).clone()
    new = init_new.detach().to(device, torch.float32).clone()
    new.requires_grad_(True)
    optimizer = torch.optim.Adam([new], lr=lr)
    losses = []
    with frozen_eval(model), torch.enable_grad():
        with torch.no_grad():
            neck_inputs = tuple(model.neck_inputs(support.inputs))

        def vocab() -> Tensor:
            return torch.cat([base, F.normalize(new, dim=-1)])

        best = (float('inf'), 0, new.detach().clone())
        for step in range(steps + 1):
            loss = support_loss(model, neck_inputs, support, vocab())
            losses.append(float(loss.detach()))
            if losses[-1] < best[0]:
                best = (losses[-1], step, new.detach().clone())
            if step == steps:
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return PromptTuningResult(F.normalize(best[2], dim=-1), losses, best[1])


def tune_class_embeddings(model: nn.Module,
                          images: Sequence[ImageLike],
                          boxes: Sequence[np.ndarray],
                          labels: Sequence[np.ndarray],
                          base_embeds: Tensor,
                          init_new: Optional[Tensor] = None,
                          steps: int = DEFAULT_STEPS,
                          lr: float = DEFAULT_LR,
                          seed: int = 0,
                          pipeline: Optional[Compose] = None
                          ) -> PromptTuningResult:
    """Learn one embedding per new class from k labelled images.

    The vocabulary is ``[base_embeds; new]``: labels 0..K_old-1 are the
    kept classes (fixed), K_old..K_old+K_new-1 the new ones. Adam updates
    only the (K_new, D) tensor, unit-normalised in the forward. The model
    is left exactly as it was (parameters, buffers, mode, requires_grad).
    The tuning is deterministic; ``seed`` only draws a random start when
    ``init_new`` is None.

    Args:
        model (nn.Module): An open-vocabulary detector
            (:class:`YOLOWorldDetector`, :class:`RTVPNet`).
        images (Sequence[str or np.ndarray]): k image paths or BGR arrays.
        boxes (Sequence[np.ndarray]): k arrays (n_b, 4), xyxy in original
            pixels; an image may have none (a negative example).
        labels (Sequence[np.ndarray]): k arrays (n_b,) indexing the
            vocabulary; every new class needs at least one box.
        base_embeds (Tensor): (K_old, D) embeddings of the kept classes.
        init_new (Tensor, optional): (K_new, D) starting points (the
            class's text embedding, an exemplar embedding...); None starts
            from random unit vectors, K_new = largest label + 1 - K_old.
        steps (int): Adam steps.
        lr (float): Adam learning rate.
        seed (int): Seed of the random start.
        pipeline (Compose, optional): Test pipeline; defaults to the one of
            ``model.cfg`` (:func:`support_pipeline`).

    Returns:
        PromptTuningResult: ``embeds`` (K_new, D) (those of the lowest
        support loss), the loss curve and the step of ``embeds``.
    """
    support = support_batch(model, images, boxes, labels, pipeline)
    if init_new is None:
        num_new = int(support.bboxes_labels[:, 1].max()) + 1 - len(
            base_embeds) if len(support.bboxes_labels) else 0
        if num_new < 1:
            raise ValueError('prompt tuning: no label beyond the kept '
                             f'{len(base_embeds)} classes (no new class)')
        init_new = random_unit_embeddings(num_new, base_embeds.shape[1], seed)
    return tune_on_batch(model, support, base_embeds, init_new, steps, lr)


def tuned_records(names: Sequence[str], num_old: int, support_set: dict,
                  source: str, settings: dict) -> List[PromptRecord]:
    """Manifest records of tuned embeddings (one per new class).

    Args:
        names (Sequence[str]): K_new class names (labels num_old + j).
        num_old (int): K_old.
        support_set (dict): ``images`` (or ``file_names``, preferred),
            ``boxes`` (original pixels) and ``labels`` (see
            :func:`~.support_images.read_coco_support`).
        source (str): The support set's annotation file.
        settings (dict): How the tuning ran (steps, lr, seed, ...).

    Returns:
        list[PromptRecord]: ``kind='tuned'``; the ``note`` is JSON: the
        settings and the class's ``support`` boxes (``image``, ``box``).
    """
    images = support_set.get('file_names', support_set['images'])
    records = []
    for j, name in enumerate(names):
        support = [
            dict(image=image, box=[round(float(v), 2) for v in box])
            for image, boxes, labels in zip(images,
                                            support_set['boxes'],
                                            support_set['labels'])
            for box, label in zip(boxes, labels) if label == num_old + j
        ]
        note = json.dumps(dict(settings, support=support))
        records.append(PromptRecord(name, TUNED, source, None, note))
    return records
