# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Command-line plumbing shared by ``tools/dataset_converters/*2mmioc.py``.

Exit status: 0 when something was converted (even with rejections), 1 when
nothing could be converted, 2 when the mapping or the arguments are invalid.
"""
import argparse
import os
import sys
from typing import Any, Callable, Dict

from .base_converter import BaseConverter
from .class_mapping import MappingError
from .image_io import CHECKS, IMAGE_MODES

EXIT_OK = 0
EXIT_NOTHING_CONVERTED = 1
EXIT_INVALID = 2


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options every converter has."""
    parser.add_argument(
        '--mapping',
        required=True,
        help='JSON (or YAML) file: source class name -> {supercategory, '
        'scene, name, texts}')
    parser.add_argument('--out', required=True, help='output root')
    parser.add_argument(
        '--name',
        required=True,
        help='dataset name: writes <out>/annotations/<name>.json and '
        '<out>/reports/<name>_rejections.json')
    parser.add_argument(
        '--taxonomy',
        default=None,
        help='taxonomy JSON (default: the starting MMIOC-1M taxonomy)')
    parser.add_argument(
        '--image-mode',
        choices=IMAGE_MODES,
        default='copy',
        help='how images are written to <out>/images (the source is never '
        'modified)')
    parser.add_argument(
        '--check',
        choices=CHECKS,
        default='fast',
        help='image integrity check: header only, header + end marker '
        '(default), or a full decode of every image (slow)')
    parser.add_argument(
        '--drop-unannotated',
        action='store_true',
        help='reject images without an annotation file instead of keeping '
        'them as defect-free images')
    parser.add_argument(
        '--workers',
        type=int,
        default=None,
        help='processes reading images; results do not depend on it '
        '(default: 2 with --check decode, else 0: header reads are too '
        'cheap to gain from extra processes, measured)')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide progress bars')


def common_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """:class:`BaseConverter` keyword arguments from parsed options."""
    workers = args.workers
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if args.check == 'decode' else 0
    return dict(
        mapping=args.mapping,
        out_dir=args.out,
        name=args.name,
        taxonomy=args.taxonomy,
        image_mode=args.image_mode,
        check=args.check,
        keep_unannotated=not args.drop_unannotated,
        num_workers=workers,
        progress=not args.no_progress)


def run_converter(build: Callable[[], BaseConverter]) -> int:
    """Build and run a converter; print its summary.

    Args:
        build (callable): Returns the converter (may raise on bad input).

    Returns:
        int: The exit status (see the module docstring).
    """
    try:
        converter = build()
    except MappingError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_INVALID
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_INVALID
    try:
        report = converter.convert()
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_INVALID
    print(report.format_summary())
    if report.converted_images == 0 and report.converted_boxes == 0:
        print(
            'error: nothing could be converted; see '
            f"{report.outputs.get('report')}",
            file=sys.stderr)
        return EXIT_NOTHING_CONVERTED
    return EXIT_OK
