# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Bake a fixed vocabulary into a checkpoint (no text encoder at inference).

    python tools/deploy/reparameterize.py CONFIG CKPT \
        --texts "scratch on metal" "hole in wood|drilled hole" --out baked.pth
    python tools/deploy/reparameterize.py CONFIG CKPT \
        --class-text data/mmioc_mini/texts/unseen_class_texts.json

One class per ``--texts`` argument, ``|`` separating a prompt ensemble
(embeddings averaged); ``--class-text`` reads a YOLO-World class-text JSON
or a ``.txt`` with one class per line. The output (default
``<CKPT without .pth>_baked.pth``) holds the class embeddings and every
weight but the text encoder's; ``tools/infer.py CONFIG OUT ...`` and
:class:`mmioc_rtvp.apis.MMIOCInferencer` run it without building the
text encoder.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    vocab = parser.add_mutually_exclusive_group(required=True)
    vocab.add_argument('--texts', nargs='+',
                       help='one class per argument, "a|b" for an ensemble')
    vocab.add_argument('--class-text', help='class-text .json or .txt file')
    parser.add_argument('--out', help='output checkpoint')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            print(f'reparameterize: no such file: {path}', file=sys.stderr)
            return 2
    from mmengine.registry import init_default_scope

    from mmioc_rtvp.apis.baked_checkpoint import bake_checkpoint
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    out = args.out or osp.splitext(args.checkpoint)[0] + '_baked.pth'
    if osp.abspath(out) == osp.abspath(args.checkpoint):
        print('reparameterize: --out must differ from the checkpoint',
              file=sys.stderr)
        return 2
    baked = bake_checkpoint(cfg, args.checkpoint,
                            args.class_text or args.texts)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(baked, out)
    vocab = baked['baked_vocabulary']
    k, d = vocab['text_feats'].shape
    print(f'reparameterize: {k} classes (D={d}) baked into {out} '
          f'({osp.getsize(out) / 2**20:.1f} MB; input '
          f'{osp.getsize(args.checkpoint) / 2**20:.1f} MB)')
    for prompts in vocab['prompts']:
        print(f'  {" | ".join(prompts)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
