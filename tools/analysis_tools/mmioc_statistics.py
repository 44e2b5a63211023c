# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Statistics and plots of an MMIOC annotation file.

Writes into ``--out``: ``summary.md`` (tables: overview, long tail, head and
tail classes, COCO box scales, supercategories, scenes), ``statistics.json``
(every number), ``class_counts.csv`` (every class by rank) and the PNGs
``class_counts.png`` (instances per class, sorted, log scale),
``box_scales.png``, ``supercategories.png`` and ``scenes.png``. The
definitions are in ``mmioc_rtvp/builders/statistics.py``.

Example::

    python tools/analysis_tools/mmioc_statistics.py \\
        data/mmioc/annotations/all.json --out work_dirs/mmioc_statistics
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmioc_rtvp.builders.statistics import run_statistics


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Per-class, box-scale, supercategory and scene '
        'statistics of an MMIOC annotation file, with plots')
    parser.add_argument('ann_file', help='annotation JSON')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument(
        '--top',
        type=int,
        default=20,
        help='rows of the most / least frequent class tables (default 20)')
    parser.add_argument(
        '--no-plots', action='store_true', help='skip the PNG plots')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    try:
        stats = run_statistics(
            args.ann_file,
            args.out,
            plots=not args.no_plots,
            top=args.top,
            progress=not args.no_progress)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    ov = stats['overview']
    scales = ', '.join(f"{s} {v['count']}" for s, v in stats['scales'].items())
    print(f"{ov['images']} images ({ov['defect_free_images']} defect-free), "
          f"{ov['annotations']} boxes, {ov['categories']} classes in "
          f"{ov['supercategories']} supercategories / {ov['scenes']} scenes; "
          f'boxes: {scales}')
    timing = ', '.join(f'{k} {v:.1f} s' for k, v in stats['timing'].items())
    print(f'wrote {osp.join(args.out, "summary.md")} ({timing})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
