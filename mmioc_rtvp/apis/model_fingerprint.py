# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A short name for "these weights": which model made an embeddings file."""
import hashlib
from typing import Optional

import torch
import torch.nn as nn

from .model_loading import TEXT_MODEL


def text_embed_dim(model: nn.Module) -> Optional[int]:
    """D of the model's class embeddings (None for a closed-set model).

    A baked model has no text encoder; its D is the width of the baked
    embeddings.
    """
    dim = getattr(getattr(model, 'backbone', None), 'text_embed_dim', None)
    if dim is None and getattr(model, 'text_feats', None) is not None:
        dim = model.text_feats.shape[-1]
    return None if dim is None else int(dim)


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 of the weights that give class embeddings their meaning.

    Hashes, in name order, each state-dict entry's name, shape, dtype and
    bytes, then D. The state dict leaves out non-persistent buffers (a set
    vocabulary's ``text_feats``); the frozen text encoder
    (``backbone.text_model``) is left out too: it is not part of a baked
    checkpoint, and an embeddings file made before baking stays valid.
    Two models with the same fingerprint compute the same embeddings for
    the same boxes, and read embeddings the same way.

    Args:
        model (nn.Module): The detector.

    Returns:
        str: ``'sha256:<64 hex digits>'``.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name == TEXT_MODEL or name.startswith(TEXT_MODEL + '.'):
            continue
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f'{name}|{tuple(tensor.shape)}|{tensor.dtype}|'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    digest.update(f'D={text_embed_dim(model)}'.encode())
    return 'sha256:' + digest.hexdigest()
