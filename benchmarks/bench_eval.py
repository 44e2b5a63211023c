# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""COCO bbox evaluation time: the whole metric and the bare backends, one run.

Generates random ground truth and detections
(:func:`mmioc_rtvp.testing.synthetic_detections.random_coco_detections`:
empty images, crowd boxes, every area range, jittered true positives, false
positives), then times, for every backend, the whole evaluation from the
in-memory COCO dict and the ``(N, 7)`` detection array to the 12 figures
(index building, ``loadRes``, evaluate, accumulate, summarize): what
``MMIOCMetric`` runs. It prints each time, the ratio to pycocotools measured
in the same run, and whether the 12 figures and the ``precision`` array are
identical to pycocotools'.

**Whole metric** (``--mode metric`` or ``both``, the default): the ground
truth is written as an annotation file and the detections become data
samples (``pred_instances`` tensors, as a model's ``predict`` gives them);
``mmdet.CocoMetric`` and ``MMIOCMetric`` (its default backend, hotcoco) are
each timed from construction (reading the annotation file) through
``process`` of every sample to ``evaluate`` (mmdet: result JSON, ``loadRes``,
COCOeval; MMIOCMetric: the detection array, the backend, the per-class and
per-group tables). Printed: each phase's time, the ratio of the totals and
whether the returned dicts are equal (mmdet's keys; MMIOCMetric's
``*_unrounded`` extras left aside).

**Bare backends** (``--mode backends`` or ``both``): pycocotools and
hotcoco, and with ``--candidates`` faster-coco-eval (``COCOeval_faster``) and
vernier (``vernier.COCOeval`` on pycocotools' index) when they are installed
(they are not requirements; a missing one is reported, not skipped silently).

hotcoco and vernier run Rust threads (rayon): ``RAYON_NUM_THREADS=1`` keeps
them on one thread, as pycocotools; the CPU time of every run (all threads)
is printed next to its wall time.

The default size (2,000 images) runs in about a minute; the large scale
(about 20 minutes on a loaded 2-core machine)::

    OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 nice python benchmarks/bench_eval.py \
        --num-images 50000 --num-gt 150000 --num-dets 1500000 --num-classes 10
"""
import argparse
import contextlib
import io
import json
import os.path as osp
import tempfile
import time
import warnings
from typing import Callable, Dict, List

import numpy as np

from mmioc_rtvp.evaluation.functional import (COCO_STAT_NAMES,
                                              evaluate_coco_bbox)
from mmioc_rtvp.testing.synthetic_detections import (
    detection_list_to_array, random_coco_detections)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--num-gt', type=int, default=6000)
    parser.add_argument('--num-dets', type=int, default=60000)
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
        '--mode',
        choices=('both', 'metric', 'backends'),
        default='both',
        help='time the whole metric (mmdet.CocoMetric vs MMIOCMetric), the '
        'bare backends, or both (default)')
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


def samples_from_array(gt: dict, dets: np.ndarray) -> List[dict]:
    """One data sample per image of ``gt``, holding its detections as a
    detector's ``predict`` returns them.

    Args:
        gt (dict): COCO ground truth; a class's label is its index in
            ``gt['categories']``.
        dets (np.ndarray): ``(N, 7)`` ``[image_id, x, y, w, h, score,
            category_id]``.

    Returns:
        list[dict]: ``img_id``, ``ori_shape`` and ``pred_instances``
        (``bboxes`` (n, 4) float32 xyxy, ``scores`` (n,), ``labels`` (n,)).
    """
    import torch
    label_of = {c['id']: k for k, c in enumerate(gt['categories'])}
    order = np.argsort(dets[:, 0], kind='stable')
    dets = dets[order]
    starts = np.searchsorted(dets[:, 0], [im['id'] for im in gt['images']])
    ends = np.searchsorted(dets[:, 0], [im['id'] for im in gt['images']],
                           side='right')
    samples = []
    for img, a, b in zip(gt['images'], starts, ends):
        d = dets[a:b]
        boxes = np.concatenate([d[:, 1:3], d[:, 1:3] + d[:, 3:5]], axis=1)
        samples.append(dict(
            img_id=img['id'],
            ori_shape=(img['height'], img['width']),
            pred_instances=dict(
                bboxes=torch.from_numpy(boxes.astype(np.float32)),
                scores=torch.from_numpy(d[:, 5].astype(np.float32)),
                labels=torch.tensor([label_of[int(c)] for c in d[:, 6]],
                                    dtype=torch.int64))))
    return samples


def time_metric(build: Callable[[], object], samples: List[dict],
                classes: tuple) -> Dict[str, object]:
    """Construct, ``process`` every sample (one per call, as the test loop
    with batch 1) and ``evaluate``; the time of each phase (s) and the
    returned dict."""
    times = {}
    with contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        start = time.perf_counter()
        metric = build()
        metric.dataset_meta = dict(classes=classes)
        times['init'] = time.perf_counter() - start
        start = time.perf_counter()
        for sample in samples:
            metric.process({}, [sample])
        times['process'] = time.perf_counter() - start
        start = time.perf_counter()
        result = metric.evaluate(len(samples))
        times['evaluate'] = time.perf_counter() - start
    times['total'] = sum(times.values())
    return dict(seconds=times, result=result)


def compare_metrics(args: argparse.Namespace, gt: dict, dets: np.ndarray,
                    report: dict) -> None:
    """Time mmdet.CocoMetric and MMIOCMetric on the same samples and print
    the phases, the ratio and whether the dicts are equal."""
    from mmdet.evaluation import CocoMetric
    from mmengine.logging import MMLogger

    from mmioc_rtvp.evaluation import MMIOCMetric
    from mmioc_rtvp.evaluation.metrics.mmioc_metric import available_backend
    MMLogger.get_instance('bench_eval', log_level='WARNING')
    samples = samples_from_array(gt, dets)
    classes = tuple(c['name'] for c in gt['categories'])
    with tempfile.TemporaryDirectory(prefix='bench_eval_') as tmp:
        ann_file = osp.join(tmp, 'val.json')
        with open(ann_file, 'w') as f:
            json.dump(gt, f)
        runs = {
            'mmdet.CocoMetric': time_metric(
                lambda: CocoMetric(ann_file=ann_file), samples, classes),
        }
        name = f'MMIOCMetric ({available_backend("hotcoco")})'
        runs[name] = time_metric(
            lambda: MMIOCMetric(ann_file=ann_file, table_dir=tmp), samples,
            classes)
    ref = runs['mmdet.CocoMetric']
    print('\nwhole metric      init (s)  process (s)  evaluate (s)  '
          'total (s)  speed-up vs mmdet  same dict as mmdet')
    report['metric'] = {}
    for key, run in runs.items():
        t = run['seconds']
        ratio = ref['seconds']['total'] / t['total']
        plain = {k: v for k, v in run['result'].items()
                 if not k.endswith('_unrounded')}
        same = plain == ref['result']
        print(f'{key:22s} {t["init"]:8.2f} {t["process"]:12.2f} '
              f'{t["evaluate"]:13.2f} {t["total"]:10.2f} {ratio:17.2f}x  '
              f'{same}')
        report['metric'][key] = dict(
            seconds={k: round(v, 3) for k, v in t.items()},
            speedup=round(ratio, 3), same_dict_as_mmdet=same,
            result=run['result'])
    print('mmdet.CocoMetric: ' + ', '.join(
        f'{k} {v}' for k, v in ref['result'].items()))


def compare_backends(args: argparse.Namespace, gt: dict, dets: np.ndarray,
                     report: dict) -> None:
    """Time the bare evaluation on every backend; print the ratios to
    pycocotools and the equality of the figures and precision arrays."""
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
    report['backends'] = {}
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
    report = dict(args=vars(args))
    if args.mode in ('both', 'metric'):
        compare_metrics(args, gt, dets, report)
    if args.mode in ('both', 'backends'):
        compare_backends(args, gt, dets, report)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
