# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Text embeddings read from a file instead of computed by a network."""
import json
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .base import BaseTextEncoder

SUFFIXES = ('.json', '.pt', '.npz')


def _read_json_table(path: str) -> Tuple[list, Tensor]:
    """Read ``{prompt: [D floats]}``; returns the keys and an ``(N, D)``."""
    with open(path, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}: not valid JSON ({err})') from err
    if not isinstance(data, dict):
        raise ValueError(
            f'{path}: expected a JSON object {{prompt: [floats]}}, got '
            f'{type(data).__name__}')
    rows = list(data.values())
    lengths = {len(row) if isinstance(row, list) else -1 for row in rows}
    if len(lengths) > 1 or -1 in lengths:
        raise ValueError(
            f'{path}: every value must be a list of D floats of the same D; '
            f'got lengths {sorted(lengths)} (-1: not a list)')
    if not rows:
        return [], torch.zeros(0, 0)
    try:
        embeddings = torch.tensor(rows, dtype=torch.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f'{path}: embeddings are not lists of numbers ({err})') from err
    return list(data), embeddings


def _read_array_table(path: str, suffix: str) -> Tuple[list, Tensor]:
    """Read ``texts`` and ``embeddings`` from a ``.pt`` or ``.npz`` file."""
    if suffix == '.pt':
        data = torch.load(path, map_location='cpu', weights_only=True)
    else:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in npz.files}
    required = {'texts', 'embeddings'}
    if not isinstance(data, dict) or not required.issubset(data):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f'{path}: expected the keys "texts" and "embeddings", got {keys}')
    # numpy string arrays hold np.str_ items
    texts = [str(t) if isinstance(t, np.str_) else t for t in data['texts']]
    embeddings = data['embeddings']
    if isinstance(embeddings, np.ndarray):
        embeddings = torch.from_numpy(embeddings)
    embeddings = torch.as_tensor(embeddings, dtype=torch.float32)
    return texts, embeddings


def load_text_embeddings(path: str) -> Tuple[List[str], Tensor]:
    """Read prompts and their embeddings from a file.

    Formats:

    - ``.json``: an object ``{prompt: [D floats], ...}``;
    - ``.pt`` (read with ``torch.load(..., weights_only=True)``) and
      ``.npz``: ``texts`` (``N`` strings) and ``embeddings`` ``(N, D)``.

    Args:
        path (str): The file.

    Returns:
        Tuple[List[str], Tensor]: The ``N`` prompts (unique) and the float32
        embeddings of shape ``(N, D)``, in the same order.

    Raises:
        ValueError: Unknown suffix, or a malformed file.
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix == '.json':
        texts, embeddings = _read_json_table(path)
    elif suffix in ('.pt', '.npz'):
        texts, embeddings = _read_array_table(path, suffix)
    else:
        raise ValueError(
            f'{path}: unknown embeddings file type {suffix!r}; expected one '
            f'of {SUFFIXES}')

    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise ValueError(f'{path}: texts must be strings, got {bad[:5]}')
    if embeddings.dim() != 2 or embeddings.shape[0] != len(texts):
        raise ValueError(f'{path}: embeddings must have shape (N, D) with N = '
                         f'{len(texts)} texts, got {tuple(embeddings.shape)}')
    if not texts or embeddings.shape[1] == 0:
        raise ValueError(f'{path}: no embeddings in the file')
    seen = set()
    duplicates = [t for t in texts if t in seen or seen.add(t)]
    if duplicates:
        raise ValueError(
            f'{path}: duplicated texts {duplicates[:5]} (each prompt must '
            f'appear once)')
    return texts, embeddings


@MODELS.register_module()
class PrecomputedTextEncoder(BaseTextEncoder):
    """Embeddings looked up in a file written beforehand.

    Useful to run a big encoder once (``tools/misc/
    precompute_text_embeddings.py``) and train or test without it, e.g.
    offline. The rows of the file are L2-normalised on output; ``''`` gives a
    zero vector (see :class:`BaseTextEncoder`) whether or not it is in the
    file. A prompt that is not in the file raises a :class:`ValueError`
    naming the file and the missing prompts. The table is kept on the CPU;
    outputs follow the device and dtype of the module.

    Args:
        embeddings_file (str): ``.json`` ``{prompt: [floats]}``, or ``.pt``
            / ``.npz`` with ``texts`` (``N`` strings) and ``embeddings``
            ``(N, D)``; see :func:`load_text_embeddings`.
    """

    def __init__(self, embeddings_file: str) -> None:
        super().__init__(frozen=True)
        self.embeddings_file = osp.expanduser(str(embeddings_file))
        if not osp.isfile(self.embeddings_file):
            raise FileNotFoundError(
                f'PrecomputedTextEncoder: embeddings file '
                f'{self.embeddings_file} does not exist (write one with '
                f'tools/misc/precompute_text_embeddings.py)')
        texts, self._table = load_text_embeddings(self.embeddings_file)
        self._row_of: Dict[str, int] = {t: i for i, t in enumerate(texts)}

    @property
    def embed_dim(self) -> int:
        """int: Width ``D`` of the embeddings in the file."""
        return self._table.shape[1]

    @property
    def texts(self) -> List[str]:
        """List[str]: The prompts of the file, in file order."""
        return list(self._row_of)

    def _encode_uncached(self, prompts: List[str]) -> Tensor:
        """Rows of the table.

        Args:
            prompts (List[str]): ``N`` non-empty prompts.

        Returns:
            Tensor: ``(N, D)`` embeddings as stored in the file.

        Raises:
            ValueError: Some prompts are not in the file.
        """
        missing = [p for p in prompts if p not in self._row_of]
        if missing:
            raise ValueError(
                f'PrecomputedTextEncoder: {len(missing)} prompt(s) not in '
                f'{self.embeddings_file}: {missing[:10]}'
                f'{" ..." if len(missing) > 10 else ""} (recompute the file '
                f'with tools/misc/precompute_text_embeddings.py over the '
                f'class texts in use)')
        return self._table[[self._row_of[p] for p in prompts]]
