# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Encode every prompt of some vocabularies once and write them to a file.

The file feeds ``PrecomputedTextEncoder``, so that a big text encoder (the
paper's CLIP) runs once, e.g. on a machine that has its weights, and training
or testing then needs neither the network nor its weights::

    python tools/misc/precompute_text_embeddings.py \\
        data/mmioc/texts/all_class_texts.json --out clip_b32_texts.pt \\
        --encoder HFCLIPTextEncoder \\
        --encoder-args model_name_or_path=/models/clip-vit-base-patch32

    # in a config
    text_encoder = dict(type='PrecomputedTextEncoder',
                        embeddings_file='clip_b32_texts.pt')

Inputs are class-text JSONs (YOLO-World's list of lists of prompts, or a
flat list) or MMIOC annotation JSONs (the ``name`` and ``texts`` of every
category). The output (``.pt``, ``.npz`` or ``.json``, by suffix) holds each
unique non-empty prompt once with its L2-normalised embedding.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import DictAction

from mmioc_rtvp.models.text_encoders import PAD_PROMPT, BaseTextEncoder
from mmioc_rtvp.registry import MODELS


def read_prompts(path: str) -> List[str]:
    """Prompts of a class-text JSON or of an MMIOC annotation JSON.

    Args:
        path (str): ``[[prompt, ...], ...]``, ``[prompt, ...]`` or a COCO
            dict whose ``categories`` have ``name`` and optional ``texts``.

    Returns:
        List[str]: The prompts in file order (may repeat).

    Raises:
        ValueError: Another structure.
    """
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if isinstance(data, dict) and isinstance(data.get('categories'), list):
        prompts = []
        for cat in data['categories']:
            prompts.append(cat['name'])
            prompts.extend(cat.get('texts', []))
    elif isinstance(data, list):
        prompts = []
        for item in data:
            prompts.extend([item] if isinstance(item, str) else item)
    else:
        raise ValueError(
            f'{path}: expected a class-text JSON (list of lists of prompts) '
            f'or an annotation JSON with "categories"')
    bad = [p for p in prompts if not isinstance(p, str)]
    if bad:
        raise ValueError(f'{path}: prompts must be strings, got {bad[:5]}')
    return prompts


def write_text_embeddings(encoder: BaseTextEncoder, prompts: Sequence[str],
                          out: str) -> int:
    """Encode unique prompts and write ``PrecomputedTextEncoder``'s format.

    Args:
        encoder (BaseTextEncoder): Any text encoder.
        prompts (Sequence[str]): Prompts; duplicates and ``''`` are dropped.
        out (str): ``.pt`` (``texts`` + ``embeddings`` tensor), ``.npz``
            (same keys) or ``.json`` (``{prompt: [floats]}``).

    Returns:
        int: Number of prompts written.
    """
    texts = list(dict.fromkeys(p for p in prompts if p != PAD_PROMPT))
    if not texts:
        raise ValueError('no prompt to encode')
    suffix = osp.splitext(out)[1].lower()
    if suffix not in ('.pt', '.npz', '.json'):
        raise ValueError(f'{out}: the output must end with .pt, .npz or .json')
    embeddings = encoder.encode(texts).detach().float().cpu()  # (N, D)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    if suffix == '.pt':
        torch.save(dict(texts=texts, embeddings=embeddings), out)
    elif suffix == '.npz':
        np.savez(
            out,
            texts=np.array(texts, dtype=str),
            embeddings=embeddings.numpy())
    else:
        with open(out, 'w', encoding='utf-8') as f:
            json.dump(dict(zip(texts, embeddings.tolist())), f)
    return len(texts)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Write text embeddings for PrecomputedTextEncoder')
    parser.add_argument(
        'inputs',
        nargs='+',
        help='class-text JSONs and/or MMIOC annotation JSONs')
    parser.add_argument(
        '--out', required=True, help='output file: .pt, .npz or .json')
    parser.add_argument(
        '--encoder',
        default='HFCLIPTextEncoder',
        help='registered text encoder type (default: HFCLIPTextEncoder)')
    parser.add_argument(
        '--encoder-args',
        nargs='+',
        action=DictAction,
        default={},
        help='constructor arguments of the encoder, key=value')
    parser.add_argument(
        '--device', default='cpu', help='device to run the encoder on')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    prompts = [p for path in args.inputs for p in read_prompts(path)]
    encoder_type = args.encoder
    if '.' not in encoder_type:
        encoder_type = f'mmioc_rtvp.{encoder_type}'
    encoder = MODELS.build(dict(type=encoder_type, **args.encoder_args))
    encoder.to(args.device)
    count = write_text_embeddings(encoder, prompts, args.out)
    print(f'wrote {count} prompts x {encoder.embed_dim} dims to {args.out}')


if __name__ == '__main__':
    sys.exit(main())
