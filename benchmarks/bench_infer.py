# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: folder throughput (images/s) of the inference path.

What ``tools/infer.py FOLDER`` runs, timed over a whole folder for
RTVPNet-S and YOLO-World-S (``--rtvpnet-config``, ``--yolo-world-config``):
listing the folder, decoding, the config's test pipeline (letterbox), the
data preprocessor, the network, score filter / NMS and the per-image
prediction dicts with their defect score; no drawing, no file written. Every
combination of

- backend: ``eager`` (:class:`~mmioc_rtvp.apis.MMIOCInferencer`, PyTorch)
  and ``onnxruntime`` (:class:`~mmioc_rtvp.deploy.ort_inferencer.ORTInferencer`
  on the same weights exported with a dynamic batch axis and a run-time
  vocabulary, in a temporary directory);
- batch size (``--batch-sizes``, images per forward; one session call per
  batch with onnxruntime);
- loader workers (``--workers``: threads decoding and letterboxing the next
  images while the model runs)

is one variant; the variants are timed round-robin in one process (one
pass of each over the folder per iteration, after ``--warmup`` passes:
``bench_latency.time_variants``), so that a change of the machine's load
affects all of them alike. Printed per variant: images/s of the median
pass, its ratio to the first setting of the same model and backend, and
RTVPNet-S's time per image as a multiple of YOLO-World-S's at the same
setting.

The folder: the first ``--images`` image files (sorted by path) of
``--folder`` (default MMIOC-mini's images), copied to a temporary folder.
Vocabulary: K = ``--texts`` generated prompts, encoded once before timing
(the text encoder does not run in the timed passes).

Weights: random, with stand-ins for missing weight files (CLIP, Mobile-SAM,
the expert) as in ``bench_latency.py``; the time of the network does not
depend on the weight values. The number of candidates that reach NMS does:
the head gets the configs' own initialisation (its class-prior bias, as at
the start of training), which lets few scores pass ``test_cfg.score_thr``
for both models alike; a trained model sends more boxes to NMS.

Run from the repository root::

    OMP_NUM_THREADS=1 nice python -m benchmarks.bench_infer --threads 1 \\
        --images 8 --batch-sizes 1 4 --workers 0 2 --iters 2 --warmup 1

A smoke run in seconds (the mini configs at 64 px)::

    python -m benchmarks.bench_infer --images 2 --shape 64 --texts 3 \\
        --iters 1 --warmup 0 \\
        --rtvpnet-config configs/rtvpnet_s_mini.py \\
        --yolo-world-config configs/baselines/yolo_world_s_open_mini.py
"""
import argparse
import itertools
import logging
import os
import os.path as osp
import shutil
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from benchmarks.bench_latency import (REPO_ROOT, Variant, load_average_line,
                                      machine_info, machine_line,
                                      time_variants, write_results)
from mmioc_rtvp.apis import MMIOCInferencer
from mmioc_rtvp.apis.image_pipeline import find_pipeline
from mmioc_rtvp.format.file_io import IMAGE_EXTENSIONS
from mmioc_rtvp.testing import stand_in_model

MODELS = (('RTVPNet-S', 'rtvpnet_config'),
          ('YOLO-World-S', 'yolo_world_config'))
REFERENCE = 'YOLO-World-S'
BACKENDS = ('eager', 'onnxruntime')


def copy_images(folder: str, num: int, out_dir: str) -> List[str]:
    """Copy the first ``num`` image files of ``folder`` (recursive, sorted
    by path) to ``out_dir``, keeping their sub-folders.

    Returns:
        list[str]: The copies.
    """
    found = sorted(
        osp.join(root, name) for root, _, names in os.walk(folder)
        for name in names if name.lower().endswith(IMAGE_EXTENSIONS))
    if len(found) < num:
        raise ValueError(f'bench_infer: {folder} holds {len(found)} image '
                         f'files, fewer than --images {num}')
    copies = []
    for path in found[:num]:
        copy = osp.join(out_dir, osp.relpath(path, folder))
        os.makedirs(osp.dirname(copy), exist_ok=True)
        copies.append(shutil.copyfile(path, copy))
    return copies


def input_shape(cfg: Config, shape: Optional[int]) -> Tuple[int, int]:
    """(H, W) the test pipeline letterboxes to; with ``shape``, its
    resize steps are set to ``shape`` x ``shape`` first (in place)."""
    pipeline = find_pipeline(cfg.test_dataloader.dataset) or []
    letterbox = None
    for step in pipeline:
        if 'scale' in step and shape is not None:
            step['scale'] = (shape, shape)
        if str(step['type']).endswith('LetterResize'):
            letterbox = step['scale']
    if letterbox is None:
        raise ValueError(f'bench_infer: the test pipeline of '
                         f'{cfg.filename} has no LetterResize step')
    return int(letterbox[1]), int(letterbox[0])  # scale is (w, h)


def init_head(inferencer: MMIOCInferencer) -> None:
    """The head's own initialisation (class-prior bias), without
    mmengine's per-parameter report."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        inferencer.model.bbox_head.head_module.init_weights()
    finally:
        logger.setLevel(level)


def build_inferencers(args: argparse.Namespace, work_dir: str
                      ) -> Tuple[Dict[Tuple[str, str], MMIOCInferencer],
                                 List[str]]:
    """Both backends of both models, the vocabulary set; returns them by
    (model, backend) and the stand-in notes."""
    from mmioc_rtvp.deploy import (ExportableDetector, build_metadata,
                                   export_onnx)
    from mmioc_rtvp.deploy.ort_inferencer import ORTInferencer
    prompts = stand_in_model.default_prompts(args.texts)
    inferencers, notes = {}, []
    for name, key in MODELS:
        cfg = Config.fromfile(getattr(args, key))
        shape = input_shape(cfg, args.shape)
        notes += [n for n in stand_in_model.prepare_config(
            cfg, work_dir, prompts) if n not in notes]
        common = dict(model=cfg, weights=None, texts=prompts,
                      show_progress=False)
        eager = MMIOCInferencer(device='cpu', **common)
        init_head(eager)
        exportable = ExportableDetector(eager.model, runtime_vocabulary=True)
        path = osp.join(work_dir, f'{name}.onnx')
        start = time.perf_counter()
        export_onnx(exportable, path, shape,
                    build_metadata(exportable, shape), dynamic_batch=True)
        print(f'exported {name} ({shape[0]}x{shape[1]}, dynamic batch) in '
              f'{time.perf_counter() - start:.1f} s')
        inferencers[name, 'eager'] = eager
        inferencers[name, 'onnxruntime'] = ORTInferencer(
            onnx_file=path, num_threads=torch.get_num_threads(), **common)
    return inferencers, notes


def build_variants(args: argparse.Namespace, inferencers: dict,
                   folder: str) -> List[Variant]:
    """One variant per model, backend, batch size and workers; each run
    checks that every image was processed."""

    def run(inferencer, batch_size, workers):
        out = inferencer(folder, batch_size=batch_size,
                         num_workers=workers, no_save_vis=True)
        if len(out['predictions']) != args.images or out['skipped']:
            raise RuntimeError(f'bench_infer: {len(out["predictions"])} of '
                               f'{args.images} images processed, skipped '
                               f'{out["skipped"]}')

    variants = []
    for (name, _), backend, batch, workers in itertools.product(
            MODELS, BACKENDS, args.batch_sizes, args.workers):
        variants.append(Variant(
            f'{name}|{backend}|{batch}|{workers}',
            lambda i=inferencers[name, backend], b=batch, w=workers: run(
                i, b, w)))
    return variants


def summarise(variants: List[Variant], num_images: int) -> List[dict]:
    """Images/s of the median pass per variant, the ratio to the first
    setting of its model and backend, and the time per image as a multiple
    of :data:`REFERENCE`'s at the same backend and setting."""
    rows = []
    for v in variants:
        name, backend, batch, workers = v.name.split('|')
        seconds = np.asarray(v.times)
        rows.append(dict(
            model=name, backend=backend, batch_size=int(batch),
            workers=int(workers), iters=len(seconds),
            median_s=float(np.median(seconds)), min_s=float(seconds.min()),
            images_per_s=num_images / float(np.median(seconds))))
    for r in rows:
        same = [o for o in rows
                if (o['model'], o['backend']) == (r['model'], r['backend'])]
        r['vs_first_setting'] = r['images_per_s'] / same[0]['images_per_s']
        ref = next(o for o in rows if o['model'] == REFERENCE and (
            o['backend'], o['batch_size'], o['workers']) == (
                r['backend'], r['batch_size'], r['workers']))
        r['time_vs_reference'] = ref['images_per_s'] / r['images_per_s']
    return rows


def format_table(rows: List[dict]) -> str:
    """Markdown table of :func:`summarise`'s rows."""
    first = rows[0]
    lines = [
        '| model | backend | batch | workers | images/s (median pass) '
        f'| x batch {first["batch_size"]}, workers {first["workers"]} '
        f'| time per image x {REFERENCE} |',
        '|---|---|---:|---:|---:|---:|---:|'
    ]
    for r in rows:
        lines.append(
            f'| {r["model"]} | {r["backend"]} | {r["batch_size"]} | '
            f'{r["workers"]} | {r["images_per_s"]:.2f} | '
            f'{r["vs_first_setting"]:.2f} | {r["time_vs_reference"]:.2f} |')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rtvpnet-config',
                        default=osp.join(REPO_ROOT, 'configs',
                                         'rtvpnet_s_open.py'))
    parser.add_argument('--yolo-world-config',
                        default=osp.join(REPO_ROOT, 'configs', 'baselines',
                                         'yolo_world_s_open.py'))
    parser.add_argument('--folder',
                        default=osp.join(REPO_ROOT, 'data', 'mmioc_mini',
                                         'images'),
                        help='images to run (default: MMIOC-mini\'s)')
    parser.add_argument('--images', type=int, default=16,
                        help='the first N image files of --folder '
                        '(default 16)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 4])
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 2],
                        help='loader threads (0: none)')
    parser.add_argument('--texts', type=int, default=64,
                        help='K, prompts of the vocabulary (default 64, the '
                        'unseen classes of the open split)')
    parser.add_argument('--shape', type=int, default=None,
                        help='letterbox side (default: the configs\' test '
                        'pipeline, 640 for the S models); a multiple of 32')
    parser.add_argument('--iters', type=int, default=3,
                        help='timed passes over the folder per variant')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed passes per variant first')
    parser.add_argument('--threads', type=int, default=None,
                        help='intra-op threads of torch and onnxruntime '
                        '(default: torch\'s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    if args.images < 1 or args.iters < 1 or args.warmup < 0 or \
            args.texts < 1 or min(args.batch_sizes) < 1 or \
            min(args.workers) < 0 or (args.shape is not None and (
                args.shape < 32 or args.shape % 32)) or (
                    args.threads is not None and args.threads < 1):
        parser.error('need --images, --iters, --texts, --batch-sizes, '
                     '--threads >= 1, --warmup, --workers >= 0 and --shape '
                     'a multiple of 32')
    for key in ('rtvpnet_config', 'yolo_world_config'):
        if not osp.isfile(getattr(args, key)):
            parser.error(f'--{key.replace("_", "-")}: '
                         f'{getattr(args, key)} does not exist')
    if not osp.isdir(args.folder):
        parser.error(f'--folder: {args.folder} is not a folder')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    stand_in_model.quiet_transformers()
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory(prefix='bench_infer_') as work_dir:
        folder = osp.join(work_dir, 'images')
        copy_images(args.folder, args.images, folder)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            inferencers, notes = build_inferencers(args, work_dir)
        for note in notes:
            print(f'stand-in: {note}')
        variants = build_variants(args, inferencers, folder)
        before = machine_info()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            time_variants(variants, args.iters, args.warmup)
        after = machine_info()
    import onnxruntime
    rows = summarise(variants, args.images)
    print(machine_line(before) + f', onnxruntime {onnxruntime.__version__}')
    print(load_average_line(before, after))
    print(f'{args.images} images of {args.folder}, K={args.texts} prompts, '
          f'{args.warmup} warm-up + {args.iters} timed passes over the '
          'folder per variant, round-robin; decoding, letterbox, network, '
          'score filter / NMS, prediction dicts (no drawing, no files)')
    print('configs: ' + ', '.join(
        f'{name} = {osp.relpath(getattr(args, key), REPO_ROOT)}'
        for name, key in MODELS))
    print(format_table(rows))
    write_results(args.out, args, before, after, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
