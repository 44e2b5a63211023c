# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Validate an MMIOC annotation file and its images.

Prints a summary (problem counts per reason with a few examples), optionally
writes the full report (``--report report.json`` or ``report.csv``, one
record per problem: file, image / annotation / category id, reason), and
exits with 1 when an error is found (``--strict``: also on warnings), 0
otherwise. The checks are listed in ``mmioc_rtvp/builders/validate.py``.

Examples::

    # JSON + image existence and header sizes (images in data/mmioc/images)
    python tools/dataset_converters/validate_mmioc.py \\
        data/mmioc/annotations/closed_train.json \\
        --class-texts data/mmioc/texts/closed_class_texts.json \\
        --report work_dirs/closed_train_report.json

    # decode every image too (slow on MMIOC-1M)
    python tools/dataset_converters/validate_mmioc.py ann.json \\
        --img-dir /data/images --decode

    # the annotation file only
    python tools/dataset_converters/validate_mmioc.py ann.json --no-images
"""
import argparse
import sys
from typing import List, Optional

from mmioc_rtvp.builders.validate import validate_mmioc


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Validate an MMIOC annotation file and its images; '
        'exit 1 on errors')
    parser.add_argument('ann_file', help='annotation JSON')
    parser.add_argument(
        '--img-dir',
        help='directory file_name is relative to (default: images/ next to '
        'the annotation file\'s directory, e.g. data/mmioc/images for '
        'data/mmioc/annotations/x.json)')
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument(
        '--decode',
        action='store_true',
        help='decode every image (default: existence + header size only)')
    checks.add_argument(
        '--no-images',
        action='store_true',
        help='check the annotation file only, not the image files')
    parser.add_argument(
        '--class-texts',
        help='class-text JSON that must match the categories\' texts')
    parser.add_argument(
        '--box-tolerance',
        type=float,
        default=0.0,
        help='pixels a box may exceed the image by (default 0)')
    parser.add_argument(
        '--workers', type=int, default=8, help='threads for image checks')
    parser.add_argument(
        '--report', help='write the full report (.json or .csv)')
    parser.add_argument(
        '--max-records',
        type=int,
        help='keep at most this many records per reason in the report')
    parser.add_argument(
        '--examples',
        type=int,
        default=3,
        help='examples printed per reason (default 3)')
    parser.add_argument(
        '--strict', action='store_true', help='exit 1 on warnings too')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide progress bars')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code (1: problems found)."""
    args = parse_args(argv)
    if args.no_images:
        images = 'none'
    else:
        images = 'decode' if args.decode else 'header'
    report = validate_mmioc(
        args.ann_file,
        img_dir=args.img_dir,
        images=images,
        class_texts=args.class_texts,
        box_tolerance=args.box_tolerance,
        workers=args.workers,
        max_records=args.max_records,
        progress=not args.no_progress)
    print(report.format(max_examples=args.examples))
    if args.report:
        report.save(args.report)
        print(f'report written to {args.report}')
    failed = not report.ok or (args.strict and report.num_warnings > 0)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
