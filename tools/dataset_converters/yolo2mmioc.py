# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Convert a YOLO txt dataset to the MMIOC format.

Example::

    python tools/dataset_converters/yolo2mmioc.py data/raw/neu_det \\
        --classes data/raw/neu_det/classes.txt \\
        --mapping mappings/neu_det.json --out data/mmioc_sources --name neu_det

See ``mmioc_rtvp/builders/converters/yolo_converter.py`` for the layouts
understood and ``class_mapping.py`` (same directory) for the mapping file.
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
    parser.add_argument('root', help='YOLO dataset root')
    parser.add_argument(
        '--classes',
        default=None,
        help='classes.txt, *.names or data.yaml (default: classes.txt or '
        'data.yaml in root)')
    parser.add_argument(
        '--images', default=None, help='image directory (default: root)')
    parser.add_argument(
        '--labels',
        default=None,
        help='label directory mirroring --images (default: images/ -> '
        'labels/ as in Ultralytics, or next to the images)')
    add_common_arguments(parser)
    args = parser.parse_args(argv)

    def build():
        from mmioc_rtvp.builders.converters import YOLOConverter
        return YOLOConverter(
            args.root,
            classes_file=args.classes,
            images_dir=args.images,
            labels_dir=args.labels,
            **common_kwargs(args))

    return run_converter(build)


if __name__ == '__main__':
    sys.exit(main())
