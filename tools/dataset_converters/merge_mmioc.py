# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Merge converted MMIOC sources into one dataset.

Example::

    python tools/dataset_converters/merge_mmioc.py \\
        neu_det=data/mmioc_sources/annotations/neu_det.json \\
        gc10=data/mmioc_sources/annotations/gc10.json \\
        --out data/mmioc --name all

A source is ``[NAME=]ANN_FILE`` (NAME defaults to the file stem); its images
are in ``<ANN_FILE dir>/../images`` unless ``--img-dir NAME=DIR`` says
otherwise. Category ids follow the taxonomy order; re-runs give identical
ids, and ``--keep-ids-from`` keeps the ids of a previous merge when sources
change. Duplicate images (same content) are reported; only the first is kept
unless ``--duplicates keep-all``.
Exit status: 0 merged, 1 nothing merged, 2 invalid input.
"""
import argparse
import sys
from typing import List, Optional

from mmioc_rtvp.builders.converters.image_io import IMAGE_MODES
from mmioc_rtvp.builders.merge import (
    DUPLICATE_POLICIES,
    MergeError,
    MergeSource,
    merge_mmioc)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'sources', nargs='+', help='[NAME=]ANN_FILE of each converted source')
    parser.add_argument('--out', required=True, help='output root')
    parser.add_argument(
        '--name', default='all', help='merged dataset name (default: all)')
    parser.add_argument(
        '--img-dir',
        action='append',
        default=[],
        metavar='NAME=DIR',
        help='image directory of source NAME (repeatable)')
    parser.add_argument(
        '--taxonomy',
        default=None,
        help='taxonomy JSON (default: the starting MMIOC-1M taxonomy)')
    parser.add_argument(
        '--image-mode',
        choices=IMAGE_MODES,
        default='copy',
        help='how images are written to <out>/images')
    parser.add_argument(
        '--duplicates',
        choices=DUPLICATE_POLICIES,
        default='keep-first',
        help='what to do with images whose content repeats')
    parser.add_argument(
        '--keep-ids-from',
        default=None,
        help='previous merged annotation file whose ids are kept')
    parser.add_argument(
        '--workers',
        type=int,
        default=0,
        help='threads hashing/copying images; results do not depend on it '
        '(default 0; threads help on slow or network file systems)')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide progress bars')
    args = parser.parse_args(argv)

    try:
        sources = [MergeSource.parse(s) for s in args.sources]
        img_dirs = {}
        for spec in args.img_dir:
            if '=' not in spec:
                raise MergeError(f'--img-dir {spec!r}: expected NAME=DIR')
            key, value = spec.split('=', 1)
            img_dirs[key] = value
        unknown = set(img_dirs) - {s.name for s in sources}
        if unknown:
            raise MergeError(f'--img-dir names unknown sources: '
                             f'{sorted(unknown)}')
        for s in sources:
            if s.name in img_dirs:
                s.img_dir = img_dirs[s.name]
        report = merge_mmioc(
            sources,
            args.out,
            name=args.name,
            taxonomy=args.taxonomy,
            image_mode=args.image_mode,
            duplicates=args.duplicates,
            keep_ids_from=args.keep_ids_from,
            num_workers=args.workers,
            progress=not args.no_progress)
    except (MergeError, FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(report.format_summary())
    if not report.kept_images:
        print('error: nothing was merged', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
