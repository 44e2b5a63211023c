# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Convert a Pascal VOC xml dataset to the MMIOC format.

Example::

    python tools/dataset_converters/voc2mmioc.py data/raw/gc10 \\
        --mapping mappings/gc10.json --out data/mmioc_sources --name gc10

Exit status: 0 converted, 1 nothing converted, 2 invalid mapping/arguments.
"""
import argparse
import sys
from typing import List, Optional

from mmioc_rtvp.builders.converters.cli import (
    add_common_arguments,  # noqa
    common_kwargs,
    run_converter)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='VOC dataset root')
    parser.add_argument(
        '--ann-dir',
        default=None,
        help='xml directory (default: root/Annotations)')
    parser.add_argument(
        '--img-dir',
        default=None,
        help='image directory (default: root/JPEGImages)')
    parser.add_argument(
        '--zero-based',
        action='store_true',
        help='read xmin/ymin/xmax/ymax as 0-based pixel edges instead of '
        "VOC's 1-based inclusive pixel indices")
    parser.add_argument(
        '--recursive',
        action='store_true',
        help='convert every folder below root holding both Annotations/ '
        'and JPEGImages/ (file names prefixed with the folder)')
    add_common_arguments(parser)
    args = parser.parse_args(argv)

    def build():
        from mmioc_rtvp.builders.converters import VOCConverter
        return VOCConverter(
            args.root,
            ann_dir=args.ann_dir,
            img_dir=args.img_dir,
            one_based=not args.zero_based,
            recursive=args.recursive,
            **common_kwargs(args))

    return run_converter(build)


if __name__ == '__main__':
    sys.exit(main())
