# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""CLIP text tower through Hugging Face ``transformers`` (never downloads)."""
import os
import os.path as osp
from typing import List, Optional

import torch
from torch import Tensor

from mmioc_rtvp.registry import MODELS
from .base import BaseTextEncoder

PAPER_CLIP = 'openai/clip-vit-base-patch32'


def _missing_weights_message(name: str, cache_dir: Optional[str],
                             reason: str) -> str:
    """One-line error telling why CLIP weights were not found and what to do.

    Args:
        name (str): The ``model_name_or_path`` that was asked for.
        cache_dir (str, optional): The Hugging Face hub cache that was
            searched (``None``: the default one).
        reason (str): What exactly went wrong.

    Returns:
        str: The message.
    """
    from huggingface_hub import constants
    cache = cache_dir or constants.HF_HUB_CACHE
    return (
        f'HFCLIPTextEncoder: cannot load the CLIP text model '
        f'{name!r}: {reason}. Nothing is ever downloaded '
        f'(local_files_only=True); the value must be a local directory or a '
        f'hub id already in the Hugging Face cache ({cache}). To provide the '
        f'weights, download {PAPER_CLIP!r} (or your CLIP) on a machine with '
        f'internet, e.g. `hf download {PAPER_CLIP} --local-dir DIR` '
        f'(huggingface_hub) or `save_pretrained(DIR)` of its CLIPModel and '
        f'CLIPTokenizer, copy DIR (or the hub cache) to this machine and set '
        f'model_name_or_path=DIR; or use MiniLMTextEncoder (offline, 384-d) '
        f'or PrecomputedTextEncoder (embeddings written by '
        f'tools/misc/precompute_text_embeddings.py)')


def first_line(err: BaseException) -> str:
    """The first non-empty line of an exception's message."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(err).__name__


def resolve_clip_dir(model_name_or_path: str,
                     cache_dir: Optional[str] = None) -> str:
    """Find the local directory of a CLIP model without any network access.

    Args:
        model_name_or_path (str): A local directory, or a hub id (such as
            ``'openai/clip-vit-base-patch32'``) resolved in the local
            Hugging Face cache only.
        cache_dir (str, optional): The hub cache to search; ``None`` for the
            default one (``HF_HUB_CACHE`` / ``HF_HOME``).

    Returns:
        str: The directory that holds ``config.json``, the tokenizer files
        and the weights.

    Raises:
        FileNotFoundError: Neither a directory nor a cached hub id.
    """
    path = osp.expanduser(model_name_or_path)
    if osp.isdir(path):
        return path
    from huggingface_hub import snapshot_download
    try:
        return snapshot_download(
            model_name_or_path, cache_dir=cache_dir, local_files_only=True)
    except (OSError, ValueError) as err:
        # ValueError: not a valid hub id (e.g. a missing absolute path)
        raise FileNotFoundError(
            _missing_weights_message(
                model_name_or_path, cache_dir,
                'it is neither an existing directory nor a hub id found in '
                'the local Hugging Face cache')) from err


@MODELS.register_module()
class HFCLIPTextEncoder(BaseTextEncoder):
    """CLIP text tower (``CLIPTextModelWithProjection``) of ``transformers``.

    The output of a prompt is CLIP's projected ``text_embeds`` (the final
    hidden state at the end-of-text token, through the text projection),
    L2-normalised; ``''`` gives a zero vector (see :class:`BaseTextEncoder`).
    The paper uses ``openai/clip-vit-base-patch32`` (``D = 512``).

    Weights are only ever read from local files (``local_files_only=True``):
    with no weights available, construction fails at once with a
    :class:`FileNotFoundError` that says how to provide them. A full
    ``CLIPModel`` directory (as published on the hub) works as well as a
    text-only one: the vision tower is not loaded.

    Args:
        model_name_or_path (str): Local directory, or hub id looked up in
            the local Hugging Face cache. Defaults to
            ``'openai/clip-vit-base-patch32'``.
        cache_dir (str, optional): Hugging Face hub cache to search for a
            hub id; ``None`` for the default one. Defaults to None.
        max_length (int, optional): Prompts are truncated to this many
            tokens (including the start and end tokens); ``None`` for the
            model's ``max_position_embeddings`` (77 for CLIP).
            Defaults to None.
        frozen (bool): See :class:`BaseTextEncoder`. Defaults to True.
        batch_size (int): See :class:`BaseTextEncoder`. Defaults to 256.
    """

    def __init__(self,
                 model_name_or_path: str = PAPER_CLIP,
                 cache_dir: Optional[str] = None,
                 max_length: Optional[int] = None,
                 frozen: bool = True,
                 batch_size: int = 256) -> None:
        super().__init__(frozen=frozen, batch_size=batch_size)
        self.model_name_or_path = model_name_or_path
        model_dir = resolve_clip_dir(model_name_or_path, cache_dir)
        self.tokenizer, self.model = self._load(model_dir, cache_dir)
        positions = self.model.config.max_position_embeddings
        self.max_length = min(max_length or positions, positions)
        self._apply_frozen()

    def _load(self, model_dir: str, cache_dir: Optional[str]) -> tuple:
        """Load the tokenizer and the text tower from ``model_dir``.

        A full ``CLIPModel`` directory gives its ``text_config`` and its
        top-level ``projection_dim``; its vision weights are skipped. A
        weight of the text tower missing from the files is an error (it
        would otherwise be silently initialised at random).

        Args:
            model_dir (str): The resolved local directory.
            cache_dir (str, optional): The hub cache (for error messages).

        Returns:
            tuple: The tokenizer and the ``CLIPTextModelWithProjection``.
        """
        from transformers import (AutoConfig, AutoTokenizer,
                                  CLIPTextModelWithProjection)
        from transformers.utils import logging as hf_logging

        def fail(reason: str) -> FileNotFoundError:
            return FileNotFoundError(
                _missing_weights_message(self.model_name_or_path, cache_dir,
                                         reason))

        files = sorted(os.listdir(model_dir))
        if 'config.json' not in files:
            raise fail(f'{model_dir} has no config.json; it holds {files}')
        try:
            config = AutoConfig.from_pretrained(
                model_dir, local_files_only=True)
        except OSError as err:
            raise fail(f'{model_dir} has no usable config.json '
                       f'({first_line(err)}; it holds {files})') from err
        if config.model_type == 'clip':
            text_config = config.text_config
            text_config.projection_dim = config.projection_dim
        elif config.model_type == 'clip_text_model':
            text_config = config
        else:
            raise ValueError(
                f'HFCLIPTextEncoder: {model_dir}/config.json has model_type '
                f'{config.model_type!r}, not a CLIP model (\'clip\' or '
                f'\'clip_text_model\')')
        # transformers builds an empty-vocabulary tokenizer when its files
        # are missing: every prompt would then give the same embedding
        has_bpe_files = {'vocab.json', 'merges.txt'}.issubset(files)
        if 'tokenizer.json' not in files and not has_bpe_files:
            raise fail(f'{model_dir} has no tokenizer files (tokenizer.json, '
                       f'or vocab.json and merges.txt); it holds {files}')

        verbosity = hf_logging.get_verbosity()
        # the vision weights of a full CLIPModel are expected to be unused:
        # keep transformers' report of them quiet, check missing keys below
        hf_logging.set_verbosity_error()
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                model_dir, local_files_only=True)
            model, info = CLIPTextModelWithProjection.from_pretrained(
                model_dir,
                config=text_config,
                local_files_only=True,
                dtype=torch.float32,
                output_loading_info=True)
        except OSError as err:
            raise fail(f'{model_dir} lacks model or tokenizer files '
                       f'({first_line(err)}; it holds {files})') from err
        finally:
            hf_logging.set_verbosity(verbosity)
        if info['missing_keys']:
            raise fail(f'the weights in {model_dir} lack '
                       f'{sorted(info["missing_keys"])}')
        return tokenizer, model

    @property
    def embed_dim(self) -> int:
        """int: ``projection_dim`` of the CLIP model (512 for ViT-B/32)."""
        return self.model.config.projection_dim

    def _encode_uncached(self, prompts: List[str]) -> Tensor:
        """Projected CLIP text embeddings.

        Args:
            prompts (List[str]): ``N`` non-empty prompts.

        Returns:
            Tensor: ``(N, D)`` ``text_embeds``, not normalised.
        """
        device = self.model.text_projection.weight.device
        tokens = self.tokenizer(
            prompts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors='pt')
        outputs = self.model(
            input_ids=tokens['input_ids'].to(device),
            attention_mask=tokens['attention_mask'].to(device))
        return outputs.text_embeds
