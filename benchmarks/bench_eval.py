# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""COCO bbox evaluation time: pycocotools vs the fast backend, one run.

Generates random ground truth and detections
(:func:`mmioc_rtvp.testing.synthetic_detections.random_coco_detections`:
empty images, crowd boxes, every area range, jittered true positives, false
positives), then times, for every backend, the whole evaluation from the
in-memory COCO dict and the ``(N, 7)`` detection array to the 12 figures
(index building, ``loadRes``, evaluate, accumulate, summarize): what
``MMIOCMetric`` runs. It prints each time, the ratio to pycocotools measured
in the same run, and whether the 12 figures and the ``precision`` array are
identical to pycocotools'.

``--candidates`` also times faster-coco-eval (``COCOeval_faster``) and
vernier (``vernier.COCOeval`` on pycocotools' index) when they are installed
(they are not requirements; a missing one is reported, not skipped silently).

hotcoco and vernier run Rust threads (rayon): ``RAYON_NUM_THREADS=1`` keeps
them on one thread, as pycocotools; the CPU time of every run (all threads)
is printed next to its wall time.

Example (the issue's scale, about 10 minutes on a loaded 2-core machine)::

    OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 nice python benchmarks/bench_eval.py \
        --num-images 50000 --num-gt 150000 --num-dets 1500000
"""
import argparse
import contextlib
import io
import json
import time
import warnings

import numpy as np

from mmioc_rtvp.evaluation.functional import (COCO_STAT_NAMES,
                                              evaluate_coco_bbox)
from mmioc_rtvp.testing.synthetic_detections import (
    detection_list_to_array, random_coco_detections)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=50000)
    parser.add_argument('--num-gt', type=int, default=150000)
    parser.add_argument('--num-dets', type=int, default=1500000)
    parser.add_argument(
        '--num-classes',
        type=int,
        default=64,
        help='categories (default 64: the unseen vocabulary of MMIOC-1M)')
    parser.add_argument(
        '--max-dets',
        type=int,
        nargs=3,
        default=None,
        help='the 3 max-detection settings (default: COCO 1 10 100; '
        "mmdet's CocoMetric: 100 300 1000)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--candidates',
        action='store_true',
        help='also time faster-coco-eval and vernier if installed')
    parser.add_argument('--out', help='write the figures as JSON')
    return parser.parse_args()


def _run_faster_coco_eval(gt: dict, dets: np.ndarray, max_dets) -> tuple:
    from faster_coco_eval import COCO, COCOeval_faster
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(dict(gt))
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval_faster(coco_gt, coco_dt, 'bbox')
        if max_dets:
            ev.params.maxDets = list(max_dets)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats[:12]), np.asarray(ev.eval['precision'])


def _run_vernier(gt: dict, dets: np.ndarray, max_dets) -> tuple:
    import vernier
    from pycocotools.coco import COCO
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dict(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = vernier.COCOeval(coco_gt, coco_dt, 'bbox')
        if max_dets:
            ev.params.maxDets = list(max_dets)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats), np.asarray(ev.eval['precision'])


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    gt, det_list = random_coco_detections(
        num_images=args.num_images,
        num_gt=args.num_gt,
        num_dets=args.num_dets,
        num_classes=args.num_classes,
        seed=args.seed)
    dets = detection_list_to_array(det_list)
    del det_list
    print(f'data: {len(gt["images"])} images, {len(gt["annotations"])} '
          f'ground-truth boxes ({sum(a["iscrowd"] for a in gt["annotations"])}'
          f' crowd), {len(dets)} detections, {args.num_classes} classes '
          f'(generated in {time.perf_counter() - start:.1f} s)')

    runs = {
        'pycocotools':
        lambda: evaluate_coco_bbox(gt, dets, 'pycocotools',
                                   max_dets=args.max_dets),
        'hotcoco':
        lambda: evaluate_coco_bbox(gt, dets, 'hotcoco',
                                   max_dets=args.max_dets),
    }
    if args.candidates:
        runs['faster-coco-eval'] = lambda: _run_faster_coco_eval(
            gt, dets, args.max_dets)
        runs['vernier'] = lambda: _run_vernier(gt, dets, args.max_dets)

    figures = {}
    for name, run in runs.items():
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                out = run()
        except ImportError as err:
            print(f'{name:17s} not installed ({err}); not measured')
            continue
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        stats, precision = ((out.stats, out.precision) if hasattr(
            out, 'stats') else out)
        figures[name] = dict(
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            stats=np.asarray(stats, dtype=np.float64),
            precision=np.asarray(precision, dtype=np.float64))
        print(f'{name:17s} {seconds:8.2f} s wall, {cpu_seconds:8.2f} s CPU '
              '(all threads)')

    ref = figures['pycocotools']
    print('\nbackend           time (s)  speed-up vs pycocotools  '
          'max |stats diff|  identical stats  max |precision diff|')
    report = dict(args=vars(args), backends={})
    for name, fig in figures.items():
        ratio = ref['seconds'] / fig['seconds']
        stat_diff = float(np.abs(fig['stats'] - ref['stats']).max())
        prec_diff = float(np.abs(fig['precision'] - ref['precision']).max())
        same = bool(np.array_equal(fig['stats'], ref['stats']))
        print(f'{name:17s} {fig["seconds"]:8.2f}  {ratio:22.2f}x  '
              f'{stat_diff:16.2e}  {str(same):15s}  {prec_diff:.2e}')
        report['backends'][name] = dict(
            seconds=round(fig['seconds'], 3),
            cpu_seconds=round(fig['cpu_seconds'], 3),
            speedup=round(ratio, 3),
            max_stats_diff=stat_diff,
            identical_stats=same,
            max_precision_diff=prec_diff,
            stats=dict(zip(COCO_STAT_NAMES, fig['stats'].tolist())))
    print('\npycocotools figures: ' + ', '.join(
        f'{k} {v:.4f}' for k, v in zip(COCO_STAT_NAMES, ref['stats'])))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
