# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: CPU latency of RTVPNet-S, YOLO-World-S and YOLOv8-S.

One process, batch 1, a ``--shape`` x ``--shape`` input (640 by default).
Variants:

- ``YOLOv8-S``: the closed-set detector (``--yolov8-config``);
- ``YOLO-World-S online`` / ``RTVPNet-S online``: the K = ``--texts``
  prompts are given with every call (``data_samples[i].texts``) and go
  through the text encoder. The frozen encoders cache each prompt's
  embedding (:class:`~mmioc_rtvp.models.text_encoders.base.BaseTextEncoder`);
  the cache is filled before timing, so every call is a **cache hit**
  (tokenizer and CLIP do not run; what is timed is the lookup).
  ``--no-text-cache`` empties the cache (``clear_cache()``, outside the
  timed region) before every call, so every call is a **cold encode** of
  the K prompts;
- ``... reparameterized``: ``model.reparameterize([prompts],
  drop_text_model=True)``, the vocabulary baked in; no text encoder at all.

What is timed: ``model._forward`` (``mode='tensor'``: the network up to the
raw head outputs, on an already preprocessed float image), under
``torch.no_grad()``, as ``tools/analysis_tools/get_flops.py`` counts it. Box
decoding and NMS are left out: with random weights their cost (which depends
on how many scores pass the threshold) would mean nothing.

Weights: missing weight files are replaced by random stand-ins exactly as in
``get_flops.py`` (a random CLIP ViT-B/32 text tower with a generated
tokenizer, random Mobile-SAM and expert weights): latency does not depend on
the values of the weights.

The variants are timed round-robin (one call of each per iteration, after
``--warmup`` calls of each), so that a change of the machine's load during
the run affects all of them alike. Reported: median and 90th percentile in
ms, and ratios of medians (vs YOLOv8-S, and RTVPNet-S vs YOLO-World-S in the
same mode).

Example::

    python benchmarks/bench_latency.py --threads 1 --iters 30 --warmup 5
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from mmioc_rtvp.testing import stand_in_model

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@dataclass
class Variant:
    """One timed configuration."""
    name: str
    run: Callable[[], object]
    before: Optional[Callable[[], None]] = None  # untimed, before each call
    times: Optional[List[float]] = None


def machine_info() -> Dict[str, object]:
    """CPU model, cores, torch version and threads."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return dict(
        cpu=cpu,
        logical_cpus=os.cpu_count(),
        usable_cpus=usable,
        python=platform.python_version(),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(),
        mkldnn=torch.backends.mkldnn.is_available(),
        load_average=list(os.getloadavg()))


def machine_line(info: Dict[str, object]) -> str:
    """One line describing :func:`machine_info`'s machine and threads."""
    return (f'machine: {info["cpu"]}, {info["logical_cpus"]} logical CPUs '
            f'({info["usable_cpus"]} usable), python {info["python"]}, '
            f'torch {info["torch"]}, {info["threads"]} intra-op threads '
            f'({info["interop_threads"]} inter-op), mkldnn {info["mkldnn"]}')


def write_results(path: Optional[str], args: argparse.Namespace,
                  before: Dict[str, object], after: Dict[str, object],
                  results: object) -> None:
    """Write a benchmark's results as JSON to ``path`` (nothing when it is
    None): the machine before the run, its load average after, the
    arguments and ``results``."""
    if not path:
        return
    with open(path, 'w') as f:
        json.dump(dict(machine=before, load_after=after['load_average'],
                       args=vars(args), results=results), f, indent=2,
                  default=str)


def load_average_line(before: Dict[str, object],
                      after: Dict[str, object]) -> str:
    """The load averages of two :func:`machine_info` calls (before and
    after the timed part of a run)."""
    return ('load average (1/5/15 min) before: ' +
            ' '.join(f'{x:.2f}' for x in before['load_average']) +
            ', after: ' + ' '.join(f'{x:.2f}' for x in after['load_average']))


def time_stats(seconds: Sequence[float]) -> Dict[str, float]:
    """Count, median, 90th percentile, minimum and mean (ms) of timings
    given in seconds."""
    ms = np.asarray(seconds) * 1e3
    return dict(iters=len(ms), median_ms=float(np.median(ms)),
                p90_ms=float(np.percentile(ms, 90)), min_ms=float(ms.min()),
                mean_ms=float(ms.mean()))


def _samples(prompts: Optional[List[str]], size: int) -> Optional[list]:
    """One data sample carrying the prompts (None: no texts)."""
    if prompts is None:
        return None
    from mmdet.structures import DetDataSample
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            scale_factor=(1.0, 1.0),
            texts=list(prompts)))
    return [sample]


def build_variants(args: argparse.Namespace, work_dir: str,
                   images: torch.Tensor) -> List[Variant]:
    """Build every model and its timed call."""
    variants = []
    notes: List[str] = []

    def build(config):
        model, _, model_notes, prompts = stand_in_model.build_model(
            config, work_dir, args.texts)
        for note in model_notes:
            if note not in notes:
                notes.append(note)
        return model, prompts

    model, _ = build(args.yolov8_config)
    variants.append(
        Variant('YOLOv8-S', lambda m=model: m._forward(images)))
    for name, config in (('YOLO-World-S', args.yolo_world_config),
                         ('RTVPNet-S', args.rtvpnet_config)):
        online, prompts = build(config)
        if prompts is None:
            raise ValueError(f'bench_latency: {config} is not an '
                             'open-vocabulary detector (no text model)')
        text_model = online.backbone.text_model
        before = None
        if not args.no_text_cache:
            # fill the cache: every timed call is a hit, even without warm-up
            online.backbone.forward_text([prompts])
        else:
            if not hasattr(text_model, 'clear_cache'):
                raise ValueError(
                    f'bench_latency: {type(text_model).__name__} has no '
                    'cache to clear (--no-text-cache)')
            before = text_model.clear_cache
        samples = _samples(prompts, images.shape[-1])
        mode = ('online, cold text encode' if args.no_text_cache else
                'online, cached text')
        variants.append(
            Variant(f'{name} {mode}',
                    lambda m=online, s=samples: m._forward(images, s),
                    before=before))
        reparam, _ = build(config)
        reparam.reparameterize([prompts], drop_text_model=True)
        variants.append(
            Variant(f'{name} reparameterized',
                    lambda m=reparam: m._forward(images)))
    for note in notes:
        print(f'stand-in: {note}')
    return variants


def time_variants(variants: List[Variant], iters: int,
                  warmup: int) -> None:
    """Warm up, then time round-robin; fills ``variant.times`` (s)."""
    with torch.no_grad():
        for variant in variants:
            variant.times = []
            for _ in range(warmup):
                if variant.before:
                    variant.before()
                variant.run()
        for _ in range(iters):
            for variant in variants:
                if variant.before:
                    variant.before()
                start = time.perf_counter()
                variant.run()
                variant.times.append(time.perf_counter() - start)


def summarise(variants: List[Variant]) -> List[Dict[str, object]]:
    """Median / p90 / min / mean in ms and ratios of medians."""
    rows = [dict(name=v.name, **time_stats(v.times)) for v in variants]
    by_name = {r['name']: r for r in rows}
    ref = rows[0]['median_ms']
    for r in rows:
        r['vs_yolov8'] = r['median_ms'] / ref
        if r['name'].startswith('RTVPNet-S'):
            peer = by_name.get(r['name'].replace('RTVPNet-S', 'YOLO-World-S'))
            if peer:
                r['vs_yolo_world'] = r['median_ms'] / peer['median_ms']
    return rows


def format_table(rows: List[Dict[str, object]]) -> str:
    """Markdown table of :func:`summarise`'s rows."""
    lines = [
        '| model | median (ms) | p90 (ms) | min (ms) | x YOLOv8-S '
        '| x YOLO-World-S (same mode) |', '|---|---:|---:|---:|---:|---:|'
    ]
    for r in rows:
        peer = r.get('vs_yolo_world')
        lines.append(
            f'| {r["name"]} | {r["median_ms"]:.1f} | {r["p90_ms"]:.1f} | '
            f'{r["min_ms"]:.1f} | {r["vs_yolov8"]:.2f} | '
            f'{"" if peer is None else f"{peer:.2f}"} |')
    return '\n'.join(lines)


CONFIG_ARGS = ('rtvpnet_config', 'yolo_world_config', 'yolov8_config')


def add_benchmark_args(parser: argparse.ArgumentParser, iters: int,
                       warmup: int) -> None:
    """The options shared with benchmarks/bench_deploy.py: the three
    configs, K, the input side, timing and threads, seed and JSON output."""
    parser.add_argument('--rtvpnet-config',
                        default=osp.join(REPO_ROOT, 'configs',
                                         'rtvpnet_s_open.py'))
    parser.add_argument('--yolo-world-config',
                        default=osp.join(REPO_ROOT, 'configs', 'baselines',
                                         'yolo_world_s_open.py'))
    parser.add_argument('--yolov8-config',
                        default=osp.join(REPO_ROOT, 'configs', 'baselines',
                                         'yolov8_s_closed.py'))
    parser.add_argument('--texts', type=int, default=64,
                        help='K, prompts of the open models (default 64, '
                        'the unseen classes of the open split)')
    parser.add_argument('--shape', type=int, default=640,
                        help='square input side (default 640)')
    parser.add_argument('--iters', type=int, default=iters,
                        help=f'timed calls per variant (default {iters})')
    parser.add_argument('--warmup', type=int, default=warmup,
                        help=f'untimed calls per variant first (default '
                        f'{warmup})')
    parser.add_argument('--threads', type=int, default=None,
                        help='intra-op threads (default: torch\'s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON')


def check_benchmark_args(parser: argparse.ArgumentParser,
                         args: argparse.Namespace,
                         shape_multiple: int = 1) -> None:
    """Refuse bad values of :func:`add_benchmark_args`' options."""
    if args.iters < 1 or args.warmup < 0 or args.shape < 32 or \
            args.shape % shape_multiple or args.texts < 1 or (
                args.threads is not None and args.threads < 1):
        parser.error(f'need --iters >= 1, --warmup >= 0, --shape >= 32 '
                     f'and a multiple of {shape_multiple}, --texts >= 1, '
                     '--threads >= 1')
    for key in CONFIG_ARGS:
        if not osp.isfile(getattr(args, key)):
            parser.error(f'--{key.replace("_", "-")}: '
                         f'{getattr(args, key)} does not exist')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_benchmark_args(parser, iters=30, warmup=5)
    parser.add_argument('--no-text-cache', action='store_true',
                        help='clear the text encoder\'s cache before every '
                        'online call (cold encode of the K prompts)')
    args = parser.parse_args(argv)
    check_benchmark_args(parser, args)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    stand_in_model.quiet_transformers()
    torch.manual_seed(args.seed)
    images = torch.rand(1, 3, args.shape, args.shape)
    with tempfile.TemporaryDirectory(prefix='bench_latency_') as work_dir, \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        variants = build_variants(args, work_dir, images)
    before = machine_info()
    time_variants(variants, args.iters, args.warmup)
    after = machine_info()
    rows = summarise(variants)
    print(machine_line(before))
    print(load_average_line(before, after))
    print(f'input 1x3x{args.shape}x{args.shape}, K={args.texts} prompts, '
          f'{args.warmup} warm-up + {args.iters} timed calls per variant, '
          'round-robin; mode=\'tensor\' (no decoding / NMS), '
          'torch.no_grad()')
    print('online = prompts given with every call; ' + (
        'the text cache is cleared before every call: cold encode of '
        'the K prompts' if args.no_text_cache else
        'the frozen encoder\'s cache was filled before timing: the text '
        'encoder does not run, every call is a cache hit'))
    print(format_table(rows))
    write_results(args.out, args, before, after, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
