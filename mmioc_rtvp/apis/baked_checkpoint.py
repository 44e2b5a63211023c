# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Checkpoints with a fixed vocabulary baked in and no text encoder."""
from typing import Optional

import torch
from mmengine.config import Config

from mmioc_rtvp.utils.checkpoint_keys import SLIM_META_KEY
from .model_loading import BAKED_KEY, TEXT_MODEL, build_detector
from .vocabulary import Vocabulary, VocabularyLike


def bake_checkpoint(cfg: Config, weights: str,
                    texts: VocabularyLike) -> dict:
    """A deployment checkpoint of ``weights`` for the vocabulary ``texts``.

    The open-vocabulary detector is built from ``cfg`` and ``weights``
    (training, slim or full); the K classes of ``texts`` are encoded once
    (prompt ensembles averaged, see :class:`Vocabulary`), as the detectors'
    ``reparameterize`` does, and stored under :data:`BAKED_KEY` as
    ``dict(prompts=[[str]], text_feats=(K, D) float32)``. The state dict
    holds every tensor of the model except the text encoder's (frozen
    encoders loaded from files included, so the file stands alone apart
    from its config); training state (optimizer, EMA copy, message hub) is
    dropped. :class:`~.MMIOCInferencer` builds such a checkpoint's model
    without a text encoder.

    Args:
        cfg (Config): The training config.
        weights (str): The checkpoint to bake.
        texts: The vocabulary (any form :meth:`Vocabulary.parse` takes).

    Returns:
        dict: ``meta``, ``state_dict`` and ``baked_vocabulary``.

    Raises:
        ValueError: Empty vocabulary, an already baked checkpoint, or a
            closed-set model.
    """
    vocabulary = Vocabulary.parse(texts)
    model, checkpoint = build_detector(cfg, weights)
    if BAKED_KEY in checkpoint:
        raise ValueError(f'{weights} already has a baked vocabulary '
                         f'({checkpoint[BAKED_KEY]["prompts"]})')
    text_model = getattr(getattr(model, 'backbone', None), 'text_model',
                         None)
    if text_model is None:
        raise ValueError(f'{type(model).__name__} ({cfg.filename}) has no '
                         'text encoder: there is no vocabulary to bake')
    with torch.no_grad():
        text_feats = vocabulary.embed(
            lambda t: model.backbone.forward_text(t, device='cpu'))[0]
    state = {
        k: v.detach().cpu()
        for k, v in model.state_dict().items()
        if not k.startswith(TEXT_MODEL + '.')
    }
    meta = {k: v for k, v in checkpoint.get('meta', {}).items()
            if k != SLIM_META_KEY}
    meta['baked_from'] = weights
    return dict(
        meta=meta,
        state_dict=state,
        **{BAKED_KEY: dict(prompts=vocabulary.to_list(),
                           text_feats=text_feats.float().contiguous())})


def baked_vocabulary(checkpoint: dict) -> Optional[Vocabulary]:
    """The vocabulary baked into a checkpoint, None if there is none."""
    baked = checkpoint.get(BAKED_KEY)
    return None if baked is None else Vocabulary.parse(baked['prompts'])
