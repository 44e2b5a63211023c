# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Generate MMIOC-mini, the small synthetic dataset of the demo and tests.

Example::

    python tools/misc/make_mmioc_mini.py                      # data/mmioc_mini
    python tools/misc/make_mmioc_mini.py --num-images 960 --seed 1 \\
        --out data/mmioc_mini_s1
    # the 1.1.0 dataset (tiny, faint defects), bit for bit
    python tools/misc/make_mmioc_mini.py --contrast 1 --defect-scale 1 \\
        --out data/mmioc_mini_v110

``--contrast`` multiplies every material's defect gain (capped at 1.0) and
``--defect-scale`` the linear size of every defect; both default to 2.0
(generator 1.2.0), and ``--contrast 1 --defect-scale 1`` reproduces the
1.1.0 dataset.

An output directory that already holds a dataset made with the same
parameters is kept as is (fast re-runs); ``--force`` regenerates it.
"""
import argparse
import sys
import time
from typing import List, Optional

from mmioc_rtvp.builders.mmioc_mini import (DEFAULT_CONTRAST,
                                            DEFAULT_DEFECT_SCALE,
                                            format_summary,
                                            generate_mmioc_mini)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate MMIOC-mini: synthetic defects on '
        'scikit-image textures, in the MMIOC format with closed and open '
        'splits.')
    parser.add_argument(
        '--out', default='data/mmioc_mini', help='output directory')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--num-images', type=int, default=480, help='number of images')
    parser.add_argument(
        '--min-size', type=int, default=256, help='smallest image side (px)')
    parser.add_argument(
        '--max-size', type=int, default=320, help='largest image side (px)')
    parser.add_argument(
        '--closed-ratio',
        type=float,
        default=0.7,
        help='train share of every class in the closed split')
    parser.add_argument(
        '--contrast',
        type=float,
        default=DEFAULT_CONTRAST,
        help='multiplies every material\'s defect gain, capped at 1.0 '
        f'(default {DEFAULT_CONTRAST:g}; 1 with --defect-scale 1 gives the '
        '1.1.0 dataset)')
    parser.add_argument(
        '--defect-scale',
        type=float,
        default=DEFAULT_DEFECT_SCALE,
        help='linear size factor of every defect (default '
        f'{DEFAULT_DEFECT_SCALE:g}; 1 with --contrast 1 gives the 1.1.0 '
        'dataset)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if the output is up to date')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        meta, generated = generate_mmioc_mini(
            args.out,
            seed=args.seed,
            num_images=args.num_images,
            min_size=args.min_size,
            max_size=args.max_size,
            closed_ratio=args.closed_ratio,
            contrast=args.contrast,
            defect_scale=args.defect_scale,
            force=args.force,
            progress=not args.no_progress)
    except (ValueError, FileExistsError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if not generated:
        print(f'MMIOC-mini in {args.out} is up to date (same parameters); '
              'skipped. Use --force to regenerate.')
        return 0
    print(format_summary(meta))
    print(f'Wrote {args.out} in {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
