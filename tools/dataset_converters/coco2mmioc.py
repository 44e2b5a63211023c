# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Convert a COCO json dataset to the MMIOC format.

Example::

    python tools/dataset_converters/coco2mmioc.py \\
        data/raw/pcb/annotations.json --img-dir data/raw/pcb/images \\
        --mapping mappings/pcb.json --out data/mmioc_sources --name pcb

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
    parser.add_argument('ann_file', help='COCO json file')
    parser.add_argument(
        '--img-dir',
        required=True,
        help='directory the file_name entries are relative to')
    add_common_arguments(parser)
    args = parser.parse_args(argv)

    def build():
        from mmioc_rtvp.builders.converters import COCOConverter
        return COCOConverter(args.ann_file, args.img_dir,
                             **common_kwargs(args))

    return run_converter(build)


if __name__ == '__main__':
    sys.exit(main())
