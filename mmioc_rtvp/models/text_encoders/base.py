# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The interface and shared logic of every text encoder of mmioc_rtvp."""
from abc import abstractmethod
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

#: The prompt that pads a short vocabulary up to ``K`` prompts. It is encoded
#: as an all-zero vector, whose dot product with any feature is 0: the heads
#: treat it as a class that never matches.
PAD_PROMPT = ''


class BaseTextEncoder(BaseModule):
    """Base class of the text encoders: prompts in, unit embeddings out.

    Every text encoder maps a batch of ``B`` vocabularies of ``K`` prompts to
    ``(B, K, D)`` embeddings that are L2-normalised along ``D``. The padding
    prompt ``''`` (:data:`PAD_PROMPT`) maps to an all-zero vector, which the
    detection heads treat as a class that never matches.

    Frozen encoders (``frozen=True``, the default):

    - every parameter has ``requires_grad=False`` and the module stays in
      eval mode, even when ``.train()`` is called on it or on a parent;
    - the network runs under ``torch.no_grad()``;
    - each unique prompt is encoded once and kept in a cache keyed by the
      string, so repeated vocabularies never run the network again. The cache
      holds float32 tensors on the CPU (not in the ``state_dict``); rows are
      moved to the device and dtype of the module when returned, so moving
      the module never leaves stale tensors behind. :meth:`clear_cache`
      empties it.

    With ``frozen=False`` (fine-tuning) nothing is cached, the module follows
    ``.train()``/``.eval()`` as usual and gradients flow into the network.

    The weights of an encoder come from pretrained files loaded in its
    ``__init__``: the module is marked as initialised (``is_init``), so the
    ``init_weights()`` of a parent model never re-initialises them.

    Subclasses build their network in ``__init__``, finish it with
    ``self._apply_frozen()``, and implement :attr:`embed_dim` and
    :meth:`_encode_uncached`.

    Args:
        frozen (bool): Freeze the encoder and cache its outputs.
            Defaults to True.
        batch_size (int): Maximum number of prompts given to one call of
            :meth:`_encode_uncached`; bounds the memory used to encode a
            large vocabulary. Defaults to 256.
    """

    def __init__(self, frozen: bool = True, batch_size: int = 256) -> None:
        super().__init__(init_cfg=None)
        if batch_size < 1:
            raise ValueError(
                f'{type(self).__name__}: batch_size must be >= 1, '
                f'got {batch_size}')
        self.frozen = frozen
        self.batch_size = batch_size
        self._cache: Dict[str, Tensor] = {}
        # An empty tensor that follows ``.to()``/``.half()``/``.cuda()``:
        # it tells on which device and dtype the outputs are returned, also
        # for encoders without parameters. Not saved in the state_dict.
        self.register_buffer('_anchor', torch.zeros(0), persistent=False)
        # Weights are loaded from pretrained files, never re-initialised.
        self._is_init = True

    @property
    @abstractmethod
    def embed_dim(self) -> int:
        """int: The dimension ``D`` of the embeddings."""

    @abstractmethod
    def _encode_uncached(self, prompts: List[str]) -> Tensor:
        """Run the network on non-empty prompts.

        Args:
            prompts (List[str]): ``N >= 1`` unique, non-empty prompts.

        Returns:
            Tensor: Embeddings of shape ``(N, D)``, normalised or not (they
            are L2-normalised by the caller).
        """

    def _apply_frozen(self) -> None:
        """Freeze the parameters and set eval mode if ``self.frozen``.

        Subclasses call it at the end of their ``__init__``.
        """
        if self.frozen:
            for param in self.parameters():
                param.requires_grad_(False)
            self.train(False)

    def train(self, mode: bool = True) -> 'BaseTextEncoder':
        """Set training mode; a frozen encoder always stays in eval mode."""
        return super().train(mode and not self.frozen)

    def clear_cache(self) -> None:
        """Forget every cached embedding."""
        self._cache.clear()

    @property
    def num_cached(self) -> int:
        """int: Number of prompts in the cache."""
        return len(self._cache)

    def _encode_normalised(self, prompts: List[str]) -> Tensor:
        """Encode prompts in chunks of ``batch_size`` and L2-normalise.

        Args:
            prompts (List[str]): ``N >= 1`` unique, non-empty prompts.

        Returns:
            Tensor: Unit embeddings of shape ``(N, D)``.
        """
        chunks = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start:start + self.batch_size]
            embeds = self._encode_uncached(chunk)
            if embeds.shape != (len(chunk), self.embed_dim):
                raise RuntimeError(
                    f'{type(self).__name__}._encode_uncached returned shape '
                    f'{tuple(embeds.shape)} for {len(chunk)} prompts, '
                    f'expected ({len(chunk)}, {self.embed_dim})')
            chunks.append(embeds)
        return F.normalize(torch.cat(chunks), dim=-1)

    def encode(self, prompts: Sequence[str]) -> Tensor:
        """Embed a flat list of prompts.

        Args:
            prompts (Sequence[str]): ``N`` prompts; ``''`` is padding.

        Returns:
            Tensor: Shape ``(N, D)`` on the device and dtype of the module;
            L2-normalised rows, and all-zero rows for ``''``.
        """
        prompts = list(prompts)
        for i, prompt in enumerate(prompts):
            if not isinstance(prompt, str):
                raise TypeError(
                    f'{type(self).__name__}: prompt {i} must be a str, got '
                    f'{type(prompt).__name__} ({prompt!r})')
        device, dtype = self._anchor.device, self._anchor.dtype
        # unique non-empty prompts in order of first appearance
        unique = list(dict.fromkeys(p for p in prompts if p != PAD_PROMPT))

        if not unique:
            table = torch.zeros(0, self.embed_dim)
        elif self.frozen:
            missing = [p for p in unique if p not in self._cache]
            if missing:
                with torch.no_grad():
                    new = self._encode_normalised(missing)
                new = new.detach().to(device='cpu', dtype=torch.float32)
                self._cache.update(zip(missing, new.unbind(0)))
            table = torch.stack([self._cache[p] for p in unique])
        else:
            table = self._encode_normalised(unique)
        table = table.to(device=device, dtype=dtype)

        # row 0 of the lookup table is the padding embedding
        table = torch.cat([table.new_zeros(1, self.embed_dim), table])
        row_of = {p: i + 1 for i, p in enumerate(unique)}
        index = torch.tensor([row_of.get(p, 0) for p in prompts],
                             dtype=torch.long,
                             device=device)
        return table[index]

    def forward(self, texts: Sequence[Sequence[str]]) -> Tensor:
        """Embed a batch of vocabularies.

        Args:
            texts (Sequence[Sequence[str]]): ``B`` vocabularies of ``K``
                prompts each (every row has the same ``K``; pad short
                vocabularies with ``''``).

        Returns:
            Tensor: Shape ``(B, K, D)``, L2-normalised along ``D``; the
            embedding of the padding prompt ``''`` is all zeros.
        """
        if isinstance(texts, str) or not all(
                isinstance(row, (list, tuple)) for row in texts):
            raise TypeError(
                f'{type(self).__name__}: texts must be a list of B lists of '
                f'prompts, got {type(texts).__name__}: {texts!r:.200}')
        lengths = [len(row) for row in texts]
        if len(set(lengths)) > 1:
            raise ValueError(
                f'{type(self).__name__}: every vocabulary of the batch must '
                f'have the same number of prompts K (pad with \'\'); got '
                f'lengths {lengths}')
        num_vocabs = len(texts)
        num_prompts = lengths[0] if lengths else 0
        embeds = self.encode([prompt for row in texts for prompt in row])
        return embeds.view(num_vocabs, num_prompts, self.embed_dim)
