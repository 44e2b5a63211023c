# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Strict loading of the Mobile-SAM image encoder weights.

Two file layouts are accepted:

- the official Mobile-SAM checkpoint (``mobile_sam.pt``): the ``state_dict``
  of a whole ``Sam`` model, whose keys start with ``image_encoder.``,
  ``prompt_encoder.`` and ``mask_decoder.``; only the ``image_encoder.*``
  entries are used. The dict may be wrapped in ``{'model': ...}`` or
  ``{'state_dict': ...}`` (and its keys may carry DDP's ``module.``);
- an extracted encoder dict: the same tensors with the ``image_encoder.``
  prefix removed (e.g. ``MobileSAMTinyViT().state_dict()``).

Files are read with ``torch.load(weights_only=True)`` (a pickle may run code;
the weights-only unpickler refuses anything but tensors and plain data).
Key and shape matching is strict: every tensor of the model must be in the
file with the same shape and the file may hold no other encoder tensor.
"""
import os.path as osp
from collections.abc import Mapping
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from mmioc_rtvp.utils.checkpoint_safety import register_numpy_safe_globals

#: Prefix of the image encoder's keys in a full Mobile-SAM ``state_dict``.
SAM_ENCODER_PREFIX = 'image_encoder.'
#: Keys that may wrap a ``state_dict`` in a checkpoint file.
_WRAPPER_KEYS = ('state_dict', 'model')
#: At most this many keys are named per category in an error message.
_MAX_LISTED = 10


def _first_line(err: BaseException) -> str:
    """The first non-empty line of an exception's message."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(err).__name__


def _listing(items: List[str]) -> str:
    """``[a, b, ...]`` with at most ``_MAX_LISTED`` items named."""
    shown = ', '.join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return f'[{shown}' + (f', ... and {more} more]' if more > 0 else ']')


def _unwrap(obj: object, path: str) -> Dict[str, Tensor]:
    """Find the flat ``{name: tensor}`` dict inside a loaded checkpoint.

    Args:
        obj (object): What ``torch.load`` returned.
        path (str): The file (for error messages).

    Returns:
        dict[str, Tensor]: The state dict.
    """
    for _ in range(len(_WRAPPER_KEYS) + 1):
        if not isinstance(obj, Mapping):
            break
        wrapper = next(
            (k for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)),
            None)
        if wrapper is None:
            break
        obj = obj[wrapper]
    if not isinstance(obj, Mapping):
        raise ValueError(
            f'load_mobile_sam_encoder: {path} holds a '
            f'{type(obj).__name__}, not a state dict (a dict of tensors, '
            f'possibly under \'model\' or \'state_dict\')')
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(v, Tensor)]
    if not_tensors:
        raise ValueError(
            f'load_mobile_sam_encoder: {path} is not a state dict: entries '
            f'{_listing(not_tensors)} are not tensors')
    state = dict(obj)
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def _read_encoder_state(
        path: str, prefix: Optional[str]) -> Tuple[Dict[str, Tensor], str]:
    """Read the encoder tensors of a file and tell which prefix they had.

    See :func:`read_mobile_sam_encoder_state`.

    Returns:
        tuple: ``(state, prefix)``: the tensors (keys without the prefix)
        and the prefix that was removed (``''`` for an extracted dict).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'load_mobile_sam_encoder: checkpoint file {path} does not exist'
            f' (the official weights are MobileSAM\'s weights/mobile_sam.pt;'
            f' nothing is ever downloaded)')
    register_numpy_safe_globals()
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:
        raise RuntimeError(
            f'load_mobile_sam_encoder: cannot read {path} with '
            f'torch.load(weights_only=True): {_first_line(err)}') from err
    state = _unwrap(obj, path)
    if prefix is None:
        has_prefix = any(k.startswith(SAM_ENCODER_PREFIX) for k in state)
        prefix = SAM_ENCODER_PREFIX if has_prefix else ''
    if not prefix:
        return state, ''
    encoder = {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }
    if not encoder:
        raise ValueError(
            f'load_mobile_sam_encoder: {path} has no key starting with '
            f'{prefix!r}; its keys start with '
            f'{_listing(sorted({k.split(".")[0] + "." for k in state}))}')
    return encoder, prefix


def read_mobile_sam_encoder_state(path: str,
                                  prefix: Optional[str] = None
                                  ) -> Dict[str, Tensor]:
    """Read the image encoder tensors from a checkpoint file.

    Args:
        path (str): A full Mobile-SAM checkpoint or an extracted encoder
            dict (see the module docstring).
        prefix (str, optional): Prefix of the encoder's keys in the file.
            ``None`` (default) picks ``'image_encoder.'`` when the file has
            such keys and ``''`` (an extracted dict) otherwise.

    Returns:
        dict[str, Tensor]: The encoder's tensors, keys without the prefix.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        RuntimeError: The weights-only unpickler could not read the file.
        ValueError: The file is not a state dict, or has no key with the
            given prefix.
    """
    return _read_encoder_state(osp.expanduser(str(path)), prefix)[0]


def check_encoder_state(model: nn.Module,
                        state: Dict[str, Tensor],
                        source: str,
                        prefix: str = '') -> None:
    """Raise unless ``state`` has exactly the keys and shapes of ``model``.

    Args:
        model (nn.Module): The encoder.
        state (dict[str, Tensor]): Tensors to load, keys as in
            ``model.state_dict()``.
        source (str): Where ``state`` comes from (named in the error).
        prefix (str): Prefix the keys have in ``source`` (named in the
            error so the keys can be found in the file). Defaults to ''.

    Raises:
        ValueError: One line naming ``source`` and every missing,
            unexpected and mismatched key (up to 10 per category).
    """
    expected = model.state_dict()
    missing = [prefix + k for k in expected if k not in state]
    unexpected = [prefix + k for k in state if k not in expected]
    mismatched = [
        f'{prefix}{k}: file {tuple(v.shape)} vs model '
        f'{tuple(expected[k].shape)}' for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f'{len(missing)} missing keys {_listing(missing)}')
    if unexpected:
        problems.append(
            f'{len(unexpected)} unexpected keys {_listing(unexpected)}')
    if mismatched:
        problems.append(
            f'{len(mismatched)} shape mismatches {_listing(mismatched)}')
    if problems:
        raise ValueError(
            f'load_mobile_sam_encoder: {source} does not match '
            f'{type(model).__name__} (strict key and shape matching): ' +
            '; '.join(problems))


def load_mobile_sam_encoder(model: nn.Module,
                            path: str,
                            prefix: Optional[str] = None) -> nn.Module:
    """Load Mobile-SAM image encoder weights into ``model``, strictly.

    Args:
        model (nn.Module): A :class:`MobileSAMTinyViT` (or any module whose
            ``state_dict`` has the official encoder layout).
        path (str): The official ``mobile_sam.pt`` (full ``Sam`` state
            dict, possibly wrapped in ``'model'`` / ``'state_dict'``) or an
            extracted encoder dict (keys without ``image_encoder.``).
        prefix (str, optional): Prefix of the encoder's keys in the file;
            ``None`` (default) detects ``'image_encoder.'`` or none.

    Returns:
        nn.Module: ``model``, with the weights loaded.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        RuntimeError: The file cannot be read with ``weights_only=True``.
        ValueError: The file is not a state dict, or its keys or shapes do
            not match the model (all offending keys are named).
    """
    path = osp.expanduser(str(path))
    state, found = _read_encoder_state(path, prefix)
    check_encoder_state(model, state, path, found)
    model.load_state_dict(state, strict=True)
    return model
