# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Convert an MVTec-style (mask) dataset to the MMIOC format.

Example::

    python tools/dataset_converters/mvtec2mmioc.py data/raw/mvtec_ad \\
        --mapping mappings/mvtec_ad.json --out data/mmioc_sources \\
        --name mvtec_ad

Mapping keys are '<object>/<defect>' (e.g. 'bottle/broken_large'); each
connected component of a mask is a box, 'good' images are kept as
defect-free images.
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
    parser.add_argument(
        'root', help='MVTec root (object directories) or one object')
    parser.add_argument(
        '--no-train-good',
        action='store_true',
        help='leave out the train/good (defect-free) images')
    parser.add_argument(
        '--mask-suffix',
        default='_mask',
        help='suffix of mask file stems (default: _mask)')
    add_common_arguments(parser)
    args = parser.parse_args(argv)

    def build():
        from mmioc_rtvp.builders.converters import MVTecConverter
        return MVTecConverter(
            args.root,
            include_train_good=not args.no_train_good,
            mask_suffix=args.mask_suffix,
            **common_kwargs(args))

    return run_converter(build)


if __name__ == '__main__':
    sys.exit(main())
