# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Build a detector from its config and load a checkpoint into it, checked.

Three kinds of checkpoints load here:

- training checkpoints (every tensor of the model);
- *slim* training checkpoints (:class:`~mmioc_rtvp.engine.hooks.
  SlimCheckpointHook`): frozen file-backed modules are missing and are
  taken from the model built from the config, which loaded them from
  their own files;
- *baked* checkpoints (``tools/deploy/reparameterize.py``): the vocabulary
  embeddings are stored under :data:`BAKED_KEY` and the text encoder is
  not; the model is then built without a text encoder.

A checkpoint trained without an exemplar encoder also loads into a config
that has one (``configs/exemplar/``): the encoder keeps its initialisation
and a warning says so (its exemplar embeddings are then the untrained
control of docs/exemplar_prompts.md).

Anything else that differs between the checkpoint and the model (missing
or unexpected tensors, other shapes) is an error naming both files.
"""
import copy
import logging
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from mmioc_rtvp.registry import MODELS
from mmioc_rtvp.utils.checkpoint_keys import SLIM_META_KEY

#: Top-level checkpoint key of a baked vocabulary: ``dict(prompts=[[str]],
#: text_feats=Tensor (K, D))``.
BAKED_KEY = 'baked_vocabulary'
#: Where the text encoder lives in the open-vocabulary detectors.
TEXT_MODEL = 'backbone.text_model'
#: The optional exemplar encoder (a checkpoint may predate it).
EXEMPLAR_ENCODER = 'exemplar_encoder'


def read_checkpoint(path: str) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    Args:
        path (str): The ``.pth`` file.

    Returns:
        dict: The checkpoint; a bare state dict becomes
        ``dict(state_dict=...)``.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a checkpoint this package can read safely.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types
        raise ValueError(
            f'checkpoint {path} cannot be read with weights_only=True '
            f'({type(err).__name__}: {str(err).splitlines()[0][:200]})'
        ) from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint {path} holds a '
                         f'{type(checkpoint).__name__}, not a dict')
    if 'state_dict' not in checkpoint:
        checkpoint = dict(state_dict=checkpoint)
    return checkpoint


def _drop_pretrained_init(node) -> None:
    """Remove ``init_cfg=dict(type='Pretrained', ...)`` everywhere (in
    place): the checkpoint supplies those weights, and the pre-training
    file (e.g. RTVPNet's expert checkpoint) need not exist here."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            node['init_cfg'] = None
        for value in node.values():
            _drop_pretrained_init(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _drop_pretrained_init(value)


def model_config_for(cfg: Config, checkpoint: Optional[dict]) -> dict:
    """The model config to build for ``checkpoint``.

    A baked checkpoint is built without its text encoder; a module that
    sizes itself from the text encoder (``visual_text.text_channels``) gets
    the width of the baked embeddings instead.

    Args:
        cfg (Config): The full config.
        checkpoint (dict, optional): From :func:`read_checkpoint`.

    Returns:
        dict: A deep copy of ``cfg.model``, adapted.
    """
    model_cfg = copy.deepcopy(cfg.model)
    _drop_pretrained_init(model_cfg)
    if checkpoint is None or BAKED_KEY not in checkpoint:
        return model_cfg
    text_feats = checkpoint[BAKED_KEY]['text_feats']
    backbone = model_cfg.get('backbone', {})
    if 'text_model' not in backbone:
        raise ValueError('the checkpoint has a baked vocabulary but the '
                         'config\'s model has no backbone.text_model')
    backbone['text_model'] = None
    if model_cfg.get('visual_text') is not None:
        model_cfg['visual_text'].setdefault('text_channels',
                                            int(text_feats.shape[-1]))
    return model_cfg


def expected_missing(checkpoint: dict) -> List[str]:
    """Modules a checkpoint leaves out on purpose (slim or baked)."""
    slim = checkpoint.get('meta', {}).get(SLIM_META_KEY) or {}
    return list(slim.get('modules', {}))


def check_and_load(model: nn.Module, checkpoint: dict, config_name: str,
                   weights_name: str) -> None:
    """Load ``checkpoint['state_dict']`` into ``model``, strictly.

    Entries of modules the checkpoint leaves out on purpose (slim
    checkpoints) keep the model's values. Any other missing or unexpected
    entry, or a shape mismatch, raises.

    Args:
        model (nn.Module): Built from ``config_name``.
        checkpoint (dict): From :func:`read_checkpoint`.
        config_name (str): Named in errors.
        weights_name (str): Named in errors.

    Raises:
        ValueError: The checkpoint does not match the model; the message
            names both files and the first differing entries.
    """
    state = {(k[7:] if k.startswith('module.') else k): v
             for k, v in checkpoint['state_dict'].items()}
    own = model.state_dict()
    left_out = expected_missing(checkpoint)
    missing = [
        k for k in own if k not in state and not any(
            k == p or k.startswith(p + '.') for p in left_out)
    ]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
        for k, v in state.items()
        if k in own and hasattr(v, 'shape') and v.shape != own[k].shape
    ]
    untrained = [k for k in missing if k.startswith(EXEMPLAR_ENCODER + '.')]
    if untrained and len(untrained) == len(missing):
        print_log(
            f'checkpoint {weights_name} has no exemplar encoder: '
            f'{config_name}\'s {EXEMPLAR_ENCODER} keeps its initialisation '
            '(untrained; text prompts are unaffected)',
            logger='current', level=logging.WARNING)
        missing = []
    if missing or unexpected or shapes:
        parts = []
        for what, keys in (('missing from the checkpoint', missing),
                           ('not in the model', unexpected),
                           ('with other shapes', shapes)):
            if keys:
                parts.append(f'{len(keys)} tensors {what} (e.g. '
                             f'{", ".join(keys[:3])})')
        raise ValueError(
            f'checkpoint {weights_name} does not match config '
            f'{config_name}: ' + '; '.join(parts) +
            '. Was it trained with another config?')
    model.load_state_dict(state, strict=False)


def build_detector(cfg: Config,
                   weights: Optional[str]) -> Tuple[nn.Module, Dict]:
    """Build ``cfg.model`` and load ``weights`` into it (checked).

    Args:
        cfg (Config): Full config (its ``filename`` is named in errors).
        weights (str, optional): Checkpoint path; None keeps the
            initialisation (tests).

    Returns:
        tuple: ``(model, checkpoint)``; ``checkpoint`` is ``{}`` without
        weights. The model is on the CPU in eval mode, with ``cfg`` and
        ``dataset_meta`` (lower-case keys of ``meta['dataset_meta']``)
        attached. The config's ``default_scope`` (``mmioc_rtvp`` when
        unset) becomes the current default scope.
    """
    # the nested builds of mmengine's BaseModel (data preprocessor) resolve
    # through the default scope: set it, as mmdet's init_detector does, so
    # that a script needs nothing else (the inferencer sets it too)
    init_default_scope(cfg.get('default_scope', 'mmioc_rtvp'))
    checkpoint = read_checkpoint(weights) if weights else {}
    model = MODELS.build(model_config_for(cfg, checkpoint or None))
    if weights:
        check_and_load(model, checkpoint, cfg.filename or '<config dict>',
                       weights)
    meta = checkpoint.get('meta', {}) if checkpoint else {}
    model.dataset_meta = {
        k.lower(): v
        for k, v in (meta.get('dataset_meta') or {}).items()
    }
    model.cfg = cfg
    model.eval()
    return model, checkpoint
