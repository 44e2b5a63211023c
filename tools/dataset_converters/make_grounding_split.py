# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Make RefCOCO-style grounding splits from MMIOC splits.

For every box, the expressions that single it out among the boxes of its
class in its image ("the second crack in wood from the left", "the largest
hole in paper", ...); ambiguous boxes (including those an object of a crowd
region of their class could be mistaken for) are skipped and counted;
categories sharing a prompt text are refused. Writes, under
``<data-root>/grounding/``, ``<name>.json`` (MDETR-style COCO, read by
``mmdet.MDETRStyleRefCocoDataset`` / ``mmdet.RefExpMetric`` and by
``MMIOCGroundingDataset``), ``<name>_odvg.jsonl`` (``mmdet.ODVGDataset``)
and ``report.json``. The rules: ``mmioc_rtvp/builders/grounding.py``;
the format: ``docs/grounding.md``.

Examples::

    # MMIOC-mini / MMIOC-1M layout: train from the seen classes, test on
    # the unseen classes and on held-out images of the seen classes
    python tools/dataset_converters/make_grounding_split.py \\
        --data-root data/mmioc_mini

    # any split: NAME=ANNOTATION_FILE (relative to --data-root)
    python tools/dataset_converters/make_grounding_split.py \\
        --data-root data/mmioc --split val=annotations/closed_val.json
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmioc_rtvp.builders.grounding import ReferringRules
from mmioc_rtvp.builders.grounding_split import (OPEN_SPLITS,
                                                write_grounding_splits)

DEFAULT_SPLITS = tuple(f'{name}={ann}' for name, ann in OPEN_SPLITS)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Referring-expression grounding splits of MMIOC splits')
    parser.add_argument(
        '--data-root', required=True, help='MMIOC data root')
    parser.add_argument(
        '--split',
        action='append',
        metavar='NAME=ANN_FILE',
        help='output name and source annotation file relative to the data '
        'root (repeatable; default: ' + ' '.join(DEFAULT_SPLITS) + ')')
    parser.add_argument(
        '--out-subdir', default='grounding',
        help='output directory relative to the data root')
    parser.add_argument(
        '--min-gap', type=float, default=0.05,
        help='positions (box sides, centres) closer than this fraction of '
        'the image side are indistinguishable')
    parser.add_argument(
        '--size-ratio', type=float, default=1.5,
        help='"largest" needs this many times every other area')
    parser.add_argument(
        '--max-ordinal', type=int, default=5,
        help='largest k of "the k-th ... from the left/top"')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Write the splits, print one line per split and per bad record.

    Returns:
        int: 0 on success, 1 when a source record is invalid (the files are
        still written; the invalid boxes are skipped and reported), 2 on
        bad arguments or an unreadable source.
    """
    args = parse_args(argv)
    pairs = []
    for item in args.split or DEFAULT_SPLITS:
        name, sep, ann = item.partition('=')
        if not sep or not name or not ann:
            print(f'error: --split {item!r}: expected NAME=ANN_FILE',
                  file=sys.stderr)
            return 2
        pairs.append((name, ann))
    try:
        rules = ReferringRules(args.min_gap, args.size_ratio,
                               args.max_ordinal)
        reports = write_grounding_splits(args.data_root, pairs,
                                         args.out_subdir, rules)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    bad = False
    for report in reports.values():
        for problem in report.problems:
            print(problem, file=sys.stderr)
        bad = bad or bool(report.problems)
        print(report.summary())
    print('written to', osp.join(args.data_root, args.out_subdir))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
