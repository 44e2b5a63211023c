# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A frozen causal language model through ``transformers`` (never
downloads)."""
import json
import os.path as osp
import time
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from mmioc_rtvp.registry import MODELS
from .detection import BadInputError

PAPER_LM = 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B'
_END_OF_REASONING = '</think>'
# tokenizer classes that mean "the tokenizer.json as it is"
_GENERIC_TOKENIZERS = ('TokenizersBackend', 'PreTrainedTokenizerFast')


def missing_lm_message(name: str, reason: str,
                       cache_dir: Optional[str] = None) -> str:
    """One line: why the language model was not found and what to do."""
    from huggingface_hub import constants
    cache = cache_dir or constants.HF_HUB_CACHE
    return (f'language model {name!r}: {reason}. Nothing is downloaded '
            f'(local_files_only=True): give a local directory or a hub id '
            f'already in the Hugging Face cache ({cache}). To use the '
            f"paper's family, run `hf download {PAPER_LM} --local-dir DIR` "
            f'on a machine with internet, copy DIR here and pass --lm DIR '
            f'(or vqa.language_model.model_name_or_path=DIR); --lm none '
            f'answers from the detections only')


def resolve_lm_dir(model_name_or_path: str,
                   cache_dir: Optional[str] = None) -> str:
    """The local directory of a causal LM, without network access.

    Args:
        model_name_or_path (str): A local directory or a hub id resolved in
            the local Hugging Face cache only.
        cache_dir (str, optional): Hub cache to search (default: the
            standard one).

    Returns:
        str: A directory holding ``config.json``, tokenizer and weights.

    Raises:
        BadInputError: Nothing usable there (one line, with what to do).
    """
    path = osp.expanduser(str(model_name_or_path))
    if not osp.isdir(path):
        if osp.isabs(path) or path.startswith('.') or path.count('/') != 1:
            raise BadInputError(missing_lm_message(
                model_name_or_path, 'no such directory', cache_dir))
        from huggingface_hub import snapshot_download
        try:
            path = snapshot_download(
                model_name_or_path, cache_dir=cache_dir,
                local_files_only=True)
        except (OSError, ValueError) as err:
            raise BadInputError(missing_lm_message(
                model_name_or_path, 'neither a directory nor a hub id in '
                'the local Hugging Face cache', cache_dir)) from err
    if not osp.isfile(osp.join(path, 'config.json')):
        raise BadInputError(missing_lm_message(
            model_name_or_path, f'{path} has no config.json', cache_dir))
    return path


@dataclass
class LMAnswer:
    """What the language model said.

    Args:
        text (str): The answer, reasoning (``<think>...</think>``) removed.
        raw (str): Everything it generated (special tokens removed).
        num_prompt_tokens (int): Length of the tokenised prompt.
        num_new_tokens (int): Number of generated tokens
            (``<= max_new_tokens``).
    """
    text: str
    raw: str
    num_prompt_tokens: int
    num_new_tokens: int


@MODELS.register_module()
class FrozenCausalLM(BaseModule):
    """A causal LM (any ``AutoModelForCausalLM``) that is never trained.

    The paper feeds RTVPNet's detections to DeepSeek with its parameters
    completely frozen (section 4.7); any local causal LM works here
    (``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B`` is the paper's family).

    Frozen means: every parameter has ``requires_grad=False``, the model is
    always in eval mode (``train()`` does not change it), generation runs
    under ``torch.inference_mode()``, and the language model is kept out of
    this module's parameter tree, so an optimizer or a checkpoint built
    from a model that contains this wrapper holds none of its weights (they
    stay in their own files, as the design asks of frozen weights). Its
    device is chosen at construction (``device``): ``.to()`` of a parent
    module does not move it.

    Weights are read from local files only (``local_files_only=True``); a
    missing model raises :class:`BadInputError` in seconds, naming the path
    and what to do.

    Args:
        model_name_or_path (str): Local directory or a cached hub id.
        max_new_tokens (int): Generation budget per answer. Defaults to 256.
        cache_dir (str, optional): Hugging Face hub cache.
        device (str): Device of the model. Defaults to ``'cpu'``.
        use_chat_template (bool): Wrap the prompt in the tokenizer's chat
            template when it has one. Defaults to True.
        batch_size (int): Prompts generated together. Defaults to 4.
        init_cfg (dict, optional): Unused (the weights are pretrained).
    """

    def __init__(self,
                 model_name_or_path: str,
                 max_new_tokens: int = 256,
                 cache_dir: Optional[str] = None,
                 device: str = 'cpu',
                 use_chat_template: bool = True,
                 batch_size: int = 4,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if max_new_tokens < 1:
            raise ValueError(f'max_new_tokens must be >= 1, got '
                             f'{max_new_tokens}')
        self.max_new_tokens = max_new_tokens
        self.use_chat_template = use_chat_template
        self.batch_size = max(1, int(batch_size))
        self.model_dir = resolve_lm_dir(model_name_or_path, cache_dir)
        start = time.time()
        import transformers
        try:
            tokenizer = self._tokenizer_class(transformers).from_pretrained(
                self.model_dir, local_files_only=True)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                self.model_dir, local_files_only=True, dtype=torch.float32)
        except (OSError, ValueError, KeyError) as err:
            reason = ' '.join(str(err).split())[:300]
            raise BadInputError(missing_lm_message(
                model_name_or_path, f'cannot load {self.model_dir} '
                f'({reason})', cache_dir)) from err
        model.requires_grad_(False)
        model.eval()
        model.to(device)
        self.load_seconds = time.time() - start
        # out of the module tree on purpose (see the class docstring)
        self.__dict__['tokenizer'] = tokenizer
        self.__dict__['language_model'] = model
        if tokenizer.pad_token_id is None and \
                tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = 'left'

    def _tokenizer_class(self, transformers) -> type:
        """``AutoTokenizer``, except for a directory whose
        ``tokenizer_config.json`` names the generic ``tokenizers`` backend:
        transformers >= 5 would otherwise rebuild the model type's own
        tokenizer class from its vocabulary and ignore ``tokenizer.json``."""
        config = osp.join(self.model_dir, 'tokenizer_config.json')
        if osp.isfile(config):
            with open(config, encoding='utf-8') as f:
                declared = json.load(f).get('tokenizer_class')
            if declared in _GENERIC_TOKENIZERS:
                return transformers.PreTrainedTokenizerFast
        return transformers.AutoTokenizer

    def init_weights(self) -> None:
        """Nothing to initialise: the weights are pretrained and frozen."""

    def train(self, mode: bool = True) -> 'FrozenCausalLM':
        """Switch this wrapper's mode; the language model stays in eval."""
        super().train(mode)
        self.language_model.eval()
        return self

    def lm_parameters(self) -> Iterator[nn.Parameter]:
        """The language model's (frozen) parameters."""
        return self.language_model.parameters()

    def format_prompt(self, prompt: str) -> str:
        """Apply the tokenizer's chat template (user turn + generation
        prompt) when it has one and ``use_chat_template``."""
        tokenizer = self.tokenizer
        if self.use_chat_template and getattr(tokenizer, 'chat_template',
                                              None):
            return tokenizer.apply_chat_template(
                [dict(role='user', content=prompt)], tokenize=False,
                add_generation_prompt=True)
        return prompt

    @staticmethod
    def strip_reasoning(text: str) -> str:
        """Drop a reasoning block (DeepSeek-R1 writes ``...</think>``
        before its answer)."""
        if _END_OF_REASONING in text:
            text = text.rsplit(_END_OF_REASONING, 1)[1]
        return text.replace('<think>', '').strip()

    def _until_eos(self, tokens: torch.Tensor) -> torch.Tensor:
        """Generated tokens ``(T, )`` up to and including the first end of
        sequence (what follows is padding of a finished batch member)."""
        eos = self.language_model.generation_config.eos_token_id
        if eos is None:
            return tokens
        eos_ids = torch.tensor(eos if isinstance(eos, list) else [eos])
        hits = torch.isin(tokens, eos_ids.to(tokens.device)).nonzero()
        return tokens[:int(hits[0]) + 1] if len(hits) else tokens

    def generate(self,
                 prompts: Sequence[str],
                 max_new_tokens: Optional[int] = None) -> List[LMAnswer]:
        """Greedy answers to a batch of prompts.

        Args:
            prompts (Sequence[str]): ``N`` prompts.
            max_new_tokens (int, optional): Overrides the default budget.

        Returns:
            list[LMAnswer]: ``N`` answers, in order.
        """
        budget = max_new_tokens or self.max_new_tokens
        tokenizer = self.tokenizer
        batch = self.batch_size if tokenizer.pad_token_id is not None else 1
        texts = [self.format_prompt(p) for p in prompts]
        answers: List[LMAnswer] = []
        model = self.language_model
        device = next(model.parameters()).device
        for start in range(0, len(texts), batch):
            chunk = texts[start:start + batch]
            inputs = tokenizer(
                chunk, return_tensors='pt', padding=len(chunk) > 1,
                add_special_tokens=not self.use_chat_template
                or not getattr(tokenizer, 'chat_template', None))
            inputs = {k: v.to(device) for k, v in inputs.items()
                      if k in ('input_ids', 'attention_mask')}
            with torch.inference_mode():
                # (n, L + T): left-padded prompts, then new tokens
                out = model.generate(
                    **inputs, max_new_tokens=budget, do_sample=False,
                    pad_token_id=tokenizer.pad_token_id)
            prompt_len = inputs['input_ids'].shape[1]
            for i in range(len(chunk)):
                new = self._until_eos(out[i, prompt_len:])
                raw = tokenizer.decode(new, skip_special_tokens=True)
                answers.append(LMAnswer(
                    text=self.strip_reasoning(raw), raw=raw,
                    num_prompt_tokens=int(
                        inputs['attention_mask'][i].sum()),
                    num_new_tokens=int(new.numel())))
        return answers
