# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: CPU latency, eager PyTorch vs ONNX Runtime, same graph.

For YOLOv8-S, YOLO-World-S and RTVPNet-S (``--*-config``), batch 1, a
``--shape`` x ``--shape`` input (640 by default): each model is wrapped in
:class:`mmioc_rtvp.deploy.ExportableDetector` (the open-vocabulary ones with
a run-time vocabulary: ``text_feats`` (1, K, D) is an input, K =
``--texts``), exported to ONNX in a temporary directory
(``mmioc_rtvp.deploy.export_onnx``), and then timed:

- ``eager``: the wrapper's forward in PyTorch, under ``torch.no_grad()``
  (network, RTVPNet's V-T update, box decoding and sigmoid: what the graph
  computes);
- ``onnxruntime``: ``InferenceSession.run`` of the exported file (CPU
  provider, default graph optimisations, ``intra_op_num_threads`` = the
  torch threads).

Score filtering and NMS (the runner's numpy post-processing) are left out
of both: with random weights their cost, which depends on how many scores
pass the threshold, would mean nothing.

Weights: as in ``benchmarks/bench_latency.py``, files that do not exist
locally (CLIP, Mobile-SAM, the expert) are replaced by random stand-ins
(printed); latency does not depend on the weight values.

Variants are timed round-robin (one call of each per iteration after
``--warmup`` calls of each), so a change of the machine's load during the run
affects all of them alike. Printed: median / p90 / min in ms, the speed-up
eager / onnxruntime (ratio of medians) per model, and the largest absolute
differences of the two backends' outputs on the timed input.

Run from the repository root, as a module (it imports ``bench_latency``'s
timing helpers as ``benchmarks.bench_latency``)::

    OMP_NUM_THREADS=1 nice python -m benchmarks.bench_deploy --threads 1
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from benchmarks.bench_latency import (Variant, add_benchmark_args,
                                      check_benchmark_args, load_average_line,
                                      machine_info, time_stats, time_variants,
                                      write_results)
from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx)
from mmioc_rtvp.testing import stand_in_model

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

MODELS = (('YOLOv8-S', 'yolov8_config'), ('YOLO-World-S',
                                           'yolo_world_config'),
          ('RTVPNet-S', 'rtvpnet_config'))


def prepare(args: argparse.Namespace, work_dir: str, image: torch.Tensor
            ) -> Tuple[List[Variant], Dict[str, Dict[str, float]], List[str]]:
    """Build, export and check every model; returns the timed variants,
    the output differences and the stand-in notes."""
    variants, diffs, notes = [], {}, []
    gen = torch.Generator().manual_seed(args.seed)
    for name, key in MODELS:
        model, _, model_notes, prompts = stand_in_model.build_model(
            getattr(args, key), work_dir, args.texts)
        notes += [n for n in model_notes if n not in notes]
        runtime = prompts is not None
        exportable = ExportableDetector(model, runtime_vocabulary=runtime)
        feats = None
        if runtime:
            feats = torch.nn.functional.normalize(
                torch.randn(1, args.texts, exportable.embed_dims,
                            generator=gen), dim=-1)
        path = osp.join(work_dir, f'{name}.onnx')
        start = time.perf_counter()
        export_onnx(exportable, path, (args.shape, args.shape),
                    build_metadata(exportable, (args.shape, args.shape)))
        inputs = 'image + text_feats' if runtime else 'image'
        print(f'exported {name} ({inputs} inputs) in '
              f'{time.perf_counter() - start:.1f} s, '
              f'{osp.getsize(path) / 2**20:.1f} MB')
        det = ORTDetector(path, num_threads=torch.get_num_threads())
        np_image = image.numpy()
        np_feats = None if feats is None else feats.numpy()
        with torch.no_grad():
            boxes, scores = exportable(image, feats)
        ort_boxes, ort_scores = det.forward(np_image, np_feats)
        diffs[name] = dict(
            max_abs_box_diff=float(np.abs(ort_boxes - boxes.numpy()).max()),
            max_abs_score_diff=float(
                np.abs(ort_scores - scores.numpy()).max()))
        variants.append(
            Variant(f'{name} eager',
                    lambda m=exportable, f=feats: m(image, f)))
        variants.append(
            Variant(f'{name} onnxruntime',
                    lambda d=det, f=np_feats: d.forward(np_image, f)))
    return variants, diffs, notes


def summarise(variants: List[Variant],
              diffs: Dict[str, Dict[str, float]]) -> List[dict]:
    """One row per model: both backends' statistics and the speed-up."""
    rows = []
    for name, _ in MODELS:
        row = dict(model=name, **diffs[name])
        for backend in ('eager', 'onnxruntime'):
            v = next(v for v in variants if v.name == f'{name} {backend}')
            row[backend] = time_stats(v.times)
        row['speedup'] = (row['eager']['median_ms'] /
                          row['onnxruntime']['median_ms'])
        rows.append(row)
    return rows


def format_table(rows: List[dict]) -> str:
    """Markdown table of :func:`summarise`'s rows."""
    lines = [
        '| model | eager median / p90 (ms) | onnxruntime median / p90 (ms) '
        '| speed-up (eager / ort) | max abs diff boxes / scores |',
        '|---|---:|---:|---:|---:|'
    ]
    for r in rows:
        e, o = r['eager'], r['onnxruntime']
        lines.append(
            f'| {r["model"]} | {e["median_ms"]:.1f} / {e["p90_ms"]:.1f} | '
            f'{o["median_ms"]:.1f} / {o["p90_ms"]:.1f} | '
            f'{r["speedup"]:.2f}x | {r["max_abs_box_diff"]:.2g} / '
            f'{r["max_abs_score_diff"]:.2g} |')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line (the options of benchmarks/bench_latency.py; the
    exported graph needs a side that is a multiple of 32)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_benchmark_args(parser, iters=20, warmup=3)
    args = parser.parse_args(argv)
    check_benchmark_args(parser, args, shape_multiple=32)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    stand_in_model.quiet_transformers()
    torch.manual_seed(args.seed)
    image = torch.rand(1, 3, args.shape, args.shape)
    with tempfile.TemporaryDirectory(prefix='bench_deploy_') as work_dir:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            variants, diffs, notes = prepare(args, work_dir, image)
        for note in notes:
            print(f'stand-in: {note}')
        before = machine_info()
        time_variants(variants, args.iters, args.warmup)
        after = machine_info()
    import onnxruntime
    rows = summarise(variants, diffs)
    print(f'machine: {before["cpu"]}, {before["logical_cpus"]} logical CPUs '
          f'({before["usable_cpus"]} usable), python {before["python"]}, '
          f'torch {before["torch"]}, onnxruntime {onnxruntime.__version__}, '
          f'{before["threads"]} intra-op threads (both backends)')
    print(load_average_line(before, after))
    print(f'input 1x3x{args.shape}x{args.shape}, K={args.texts} text '
          f'embeddings (run-time vocabulary input), {args.warmup} warm-up + '
          f'{args.iters} timed calls per variant, round-robin; network + '
          'decoding, no score filtering / NMS')
    print('configs: ' + ', '.join(
        f'{name} = {osp.relpath(getattr(args, key), REPO_ROOT)}'
        for name, key in MODELS))
    print(format_table(rows))
    write_results(args.out, args, before, after, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
