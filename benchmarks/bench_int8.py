# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: INT8 vs float ONNX Runtime latency, same run.

For every ``--model NAME=CONFIG`` (default RTVPNet-S,
``configs/rtvpnet_s_open.py``, and YOLO-World-S,
``configs/baselines/yolo_world_s_open.py``), batch 1, a ``--shape`` x
``--shape`` input (640 by default):

1. the model is wrapped in :class:`mmioc_rtvp.deploy.ExportableDetector`
   (an open-vocabulary model with a run-time vocabulary: ``text_feats``
   (1, K, D) is an input, K = ``--texts``) and exported to ONNX in a
   temporary directory;
2. the file is quantized with the project's
   :func:`~mmioc_rtvp.deploy.quantize.quantize_detector` (static QDQ,
   per-channel int8 weights, uint8 activations, the fragile nodes in float;
   docs/deploy.md section 5), calibrated on ``--calib-images`` images of
   ``--calib`` (default: MMIOC-mini's images, taken in turn from each of
   its scene folders) and K random unit embeddings;
3. the float and the INT8 file are timed with ``ORTDetector.forward``
   (``InferenceSession.run``, CPU provider, ``--threads`` intra-op
   threads), all variants round-robin in one process
   (``bench_latency.time_variants``), on one more image of the folder that
   calibration did not see.

Printed per variant: median / p90 / min in ms and the ratio of its median
to ``--reference``'s float median (default YOLO-World-S); per model: the
INT8 speed-up (float median / INT8 median) and the largest absolute
difference of the float and INT8 outputs (boxes in input pixels, scores) on
the timed image. Network + decoding as in the graph; the runner's score
filter and NMS are left out (with random weights their cost means nothing).

Weights: files that do not exist locally (CLIP, Mobile-SAM, the expert)
are random stand-ins (printed), as in ``bench_latency.py``; latency does
not depend on the weight values, the output difference does (the accuracy
of INT8 is measured on a trained model with ``tools/deploy/test_onnx.py``,
docs/deploy.md section 5).

Run from the repository root::

    OMP_NUM_THREADS=1 nice python -m benchmarks.bench_int8 --threads 1 \\
        --iters 20 --warmup 3 --out int8.json

A smoke run in seconds::

    python -m benchmarks.bench_int8 --shape 64 --iters 1 --warmup 0 \\
        --texts 3 --calib-images 2 \\
        --model mini=configs/rtvpnet_s_mini.py \\
        --model YOLO-World-S=configs/baselines/yolo_world_s_open_mini.py
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

from benchmarks.bench_latency import (Variant,
                                      load_average_line, machine_info,
                                      machine_line, time_stats,
                                      time_variants, write_results)
from benchmarks.bench_profile import check_model_configs, parse_model
from mmioc_rtvp.deploy import (ExportableDetector,
                               ORTDetector, build_metadata, export_onnx)
from mmioc_rtvp.deploy.quantize import (DEFAULT_OP_TYPES,
                                        calibration_images,
                                        quantize_detector)
from mmioc_rtvp.testing import stand_in_model

DEFAULT_MODELS = (
    ('RTVPNet-S', 'configs/rtvpnet_s_open.py'),
    ('YOLO-World-S', 'configs/baselines/yolo_world_s_open.py'),
)
DEFAULT_CALIBRATION = osp.join(REPO_ROOT, 'data', 'mmioc_mini', 'images')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')
BACKENDS = ('float', 'int8')


def pick_images(folder: str, count: int) -> List[str]:
    """``count`` image files below ``folder``: one from each folder in turn
    (folders and files sorted by name), so that every scene of a dataset
    laid out as ``images/<scene>/`` is represented.

    Raises:
        ValueError: Fewer than ``count`` images below ``folder``.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'calibration folder {folder} does not '
                                'exist')
    groups = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        names = sorted(f for f in files
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        if names:
            groups.append([osp.join(root, f) for f in names])
    picked: List[str] = []
    for rank in range(max((len(g) for g in groups), default=0)):
        picked += [g[rank] for g in groups if rank < len(g)]
    if len(picked) < count:
        raise ValueError(f'calibration folder {folder} holds '
                         f'{len(picked)} images, {count} are needed '
                         '(--calib-images plus one timed image)')
    return picked[:count]


def link_images(paths: Sequence[str], folder: str) -> str:
    """A flat folder of symbolic links to ``paths`` (kept in their order
    by a numbered prefix); returns ``folder``."""
    os.makedirs(folder)
    for i, path in enumerate(paths):
        os.symlink(osp.abspath(path),
                   osp.join(folder, f'{i:04d}_{osp.basename(path)}'))
    return folder


def prepare(args: argparse.Namespace, work_dir: str
            ) -> Tuple[List[Variant], Dict[str, dict], List[str]]:
    """Export, quantize and check every model; returns the timed
    variants, the per-model facts (sizes, output differences, times) and
    the stand-in notes."""
    images = pick_images(args.calib, args.calib_images + 1)
    calib = link_images(images[:-1], osp.join(work_dir, 'calibration'))
    timed = link_images(images[-1:], osp.join(work_dir, 'timed'))
    variants, facts, notes = [], {}, []
    for name, config, options in args.model:
        path = config if osp.isabs(config) else osp.join(REPO_ROOT, config)
        model, _, model_notes, prompts = stand_in_model.build_model(
            path, work_dir, args.texts, options or None)
        notes += [n for n in model_notes if n not in notes]
        runtime = prompts is not None
        exportable = ExportableDetector(model, runtime_vocabulary=runtime)
        feats = None
        if runtime:
            gen = torch.Generator().manual_seed(args.seed)
            feats = torch.nn.functional.normalize(
                torch.randn(1, args.texts, exportable.embed_dims,
                            generator=gen), dim=-1).numpy()
        float_path = osp.join(work_dir, f'{name}.onnx')
        int8_path = osp.join(work_dir, f'{name}_int8.onnx')
        start = time.perf_counter()
        shape = (args.shape, args.shape)
        export_onnx(exportable, float_path, shape,
                    build_metadata(exportable, shape))
        exported = time.perf_counter()
        quantize_detector(float_path, int8_path, calib, text_feats=feats,
                          max_images=args.calib_images,
                          calibrate_method=args.calibrate_method,
                          op_types=args.op_types)
        quantized = time.perf_counter()
        del model, exportable
        dets = {
            backend: ORTDetector(p, num_threads=args.threads)
            for backend, p in zip(BACKENDS, (float_path, int8_path))
        }
        image = next(calibration_images(
            timed, shape, dets['float'].metadata['preprocess']))
        (b0, s0), (b1, s1) = (d.forward(image, feats)
                              for d in dets.values())
        facts[name] = dict(
            config=config,
            options=options,
            float_mb=osp.getsize(float_path) / 2**20,
            int8_mb=osp.getsize(int8_path) / 2**20,
            export_s=exported - start,
            quantize_s=quantized - exported,
            max_abs_box_diff=float(np.abs(b0 - b1).max()),
            max_abs_score_diff=float(np.abs(s0 - s1).max()))
        print(f'{name}: exported in {facts[name]["export_s"]:.1f} s '
              f'({facts[name]["float_mb"]:.1f} MB), quantized in '
              f'{facts[name]["quantize_s"]:.1f} s '
              f'({facts[name]["int8_mb"]:.1f} MB)')
        for backend, det in dets.items():
            variants.append(
                Variant(f'{name} {backend}',
                        lambda d=det, f=feats: d.forward(image, f)))
    return variants, facts, notes


def model_rows(variants: List[Variant], facts: Dict[str, dict],
               reference: str) -> List[dict]:
    """One row per model: both variants' statistics, the INT8 speed-up
    and each variant's ratio to the reference's float median."""
    stats = {v.name: time_stats(v.times) for v in variants}
    ref = stats[f'{reference} float']['median_ms']
    rows = []
    for name, fact in facts.items():
        row = dict(model=name, **fact)
        for backend in BACKENDS:
            row[backend] = stats[f'{name} {backend}']
            row[backend]['vs_reference_float'] = \
                row[backend]['median_ms'] / ref
        row['int8_speedup'] = (row['float']['median_ms'] /
                               row['int8']['median_ms'])
        rows.append(row)
    return rows


def format_table(rows: List[dict], reference: str) -> str:
    """Markdown table of :func:`model_rows`' rows."""
    lines = [
        '| model | float median / p90 / min (ms) | INT8 median / p90 / min '
        f'(ms) | INT8 speed-up | float x {reference} float | INT8 x '
        f'{reference} float | max abs diff boxes (px) / scores |',
        '|---|---:|---:|---:|---:|---:|---:|'
    ]
    for r in rows:
        f, q = r['float'], r['int8']
        lines.append(
            f'| {r["model"]} | {f["median_ms"]:.1f} / {f["p90_ms"]:.1f} / '
            f'{f["min_ms"]:.1f} | {q["median_ms"]:.1f} / {q["p90_ms"]:.1f} '
            f'/ {q["min_ms"]:.1f} | {r["int8_speedup"]:.2f}x | '
            f'{f["vs_reference_float"]:.2f} | '
            f'{q["vs_reference_float"]:.2f} | '
            f'{r["max_abs_box_diff"]:.3g} / {r["max_abs_score_diff"]:.3g} |')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--model', action='append', type=parse_model,
        help='NAME=CONFIG[;key=value;...] (repeatable; values are config '
        'overrides). Default: RTVPNet-S and YOLO-World-S')
    parser.add_argument('--reference', default='YOLO-World-S',
                        help='the model whose float median the ratios '
                        'refer to (default YOLO-World-S)')
    parser.add_argument('--texts', type=int, default=64,
                        help='K of the run-time vocabulary (default 64)')
    parser.add_argument('--shape', type=int, default=640,
                        help='square input side, a multiple of 32 '
                        '(default 640)')
    parser.add_argument('--calib', default=DEFAULT_CALIBRATION,
                        help='folder of calibration images, searched '
                        'recursively (default: MMIOC-mini\'s images)')
    parser.add_argument('--calib-images', type=int, default=8,
                        help='calibration images (default 8); one more '
                        'image of the folder is the timed input')
    parser.add_argument('--calibrate-method', default='MinMax',
                        choices=('MinMax', 'Entropy', 'Percentile'))
    parser.add_argument('--op-types', nargs='+',
                        default=list(DEFAULT_OP_TYPES),
                        help='operator types to quantize (default: '
                        f'{" ".join(DEFAULT_OP_TYPES)}, as quantize_onnx.py)')
    parser.add_argument('--iters', type=int, default=20,
                        help='timed calls per variant (default 20)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed calls per variant first (default 3)')
    parser.add_argument('--threads', type=int, default=1,
                        help='onnxruntime intra-op threads (default 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    if args.model is None:
        args.model = [(n, c, {}) for n, c in DEFAULT_MODELS]
    if args.iters < 1 or args.warmup < 0 or args.shape < 32 or \
            args.shape % 32 or args.texts < 1 or args.threads < 1 or \
            args.calib_images < 1:
        parser.error('need --iters >= 1, --warmup >= 0, --shape a multiple '
                     'of 32, --texts, --threads and --calib-images >= 1')
    names = [name for name, _, _ in args.model]
    if len(set(names)) != len(names):
        parser.error(f'--model: names must differ, got {names}')
    if args.reference not in names:
        parser.error(f'--reference {args.reference} is not one of the '
                     f'models {names}')
    check_model_configs(parser, args.model)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    stand_in_model.quiet_transformers()
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory(prefix='bench_int8_') as work_dir:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            variants, facts, notes = prepare(args, work_dir)
        for note in notes:
            print(f'stand-in: {note}')
        before = machine_info()
        time_variants(variants, args.iters, args.warmup)
        after = machine_info()
    import onnxruntime
    rows = model_rows(variants, facts, args.reference)
    print(f'{machine_line(before)}; onnxruntime {onnxruntime.__version__}, '
          f'{args.threads} intra-op thread(s)')
    print(load_average_line(before, after))
    print(f'input 1x3x{args.shape}x{args.shape}, K={args.texts} text '
          f'embeddings (run-time vocabulary input), {args.calib_images} '
          f'calibration images ({args.calibrate_method}), {args.warmup} '
          f'warm-up + {args.iters} timed calls per variant, round-robin; '
          'network + decoding, no score filtering / NMS')
    print('models: ' + ', '.join(
        f'{n} = {c}' + (f' {o}' if o else '') for n, c, o in args.model))
    print(format_table(rows, args.reference))
    write_results(args.out, args, before, after, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
