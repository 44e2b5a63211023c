# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: ``MMIOCDataset`` initialisation against ``mmdet.CocoDataset``.

Generates (once, cached) a synthetic MMIOC annotation file with
:func:`mmioc_rtvp.testing.synthetic_mmioc.make_synthetic_mmioc`, then
measures in one fresh subprocess per implementation, so that peak RSS is clean:

- ``init``: the wall time of the constructor with ``lazy_init=False`` and its
  peak RSS over the RSS after the imports: ``VmHWM`` after resetting it
  through ``/proc/self/clear_refs`` (Linux), else ``ru_maxrss`` minus its
  value after the imports (which misses a peak lower than the imports' own);
- ``loader`` (``--workers > 0``): a ``torch`` ``DataLoader`` with that many
  forked workers calls ``get_data_info`` on every sample; at the end the
  proportional set size (PSS) and unique set size (USS, private pages) of
  the main process and of every worker are read from
  ``/proc/<pid>/smaps_rollup``. Small worker USS means the workers share
  the main process' copy of the annotations.

Both datasets get the same classes (all the file's categories) and
``filter_cfg=None``, ``pipeline=[]``; mmdet's with ``serialize_data=True``.

Example::

    python benchmarks/bench_dataset_init.py                       # 200k
    python benchmarks/bench_dataset_init.py --num-images 1000000  # MMIOC-1M
"""
import argparse
import gc
import json
import os
import os.path as osp
import platform
import resource
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

IMPLEMENTATIONS = ('mmdet', 'mmioc', 'mmdet-list')
LABELS = {
    'mmdet': 'mmdet CocoDataset',
    'mmioc': 'MMIOCDataset',
    'mmdet-list': 'mmdet CocoDataset, serialize_data=False'
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=200_000)
    parser.add_argument('--boxes-per-image', type=float, default=3.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cache-dir',
        default=osp.join(tempfile.gettempdir(), 'mmioc_rtvp_bench'),
        help='where the synthetic annotation file is cached')
    parser.add_argument(
        '--impl',
        nargs='+',
        choices=IMPLEMENTATIONS + ('both', ),
        default=['both'],
        help='which datasets to measure; both: mmdet and mmioc (mmdet-list, '
        'mmdet without serialize_data, shows workers copying a list of '
        'dicts)')
    parser.add_argument(
        '--workers',
        type=int,
        default=2,
        help='data-loader workers of the sharing test (0: skip it)')
    parser.add_argument('--batch-size', type=int, default=1024)
    parser.add_argument('--out', help='also write the results as JSON')
    # internal: run one measurement in this process
    parser.add_argument(
        '--child', choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument('--generate', help=argparse.SUPPRESS)
    parser.add_argument('--num-boxes', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--ann-file', help=argparse.SUPPRESS)
    parser.add_argument('--data-root', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ----------------------------------------------------------------------
# data
# ----------------------------------------------------------------------
def synthetic_file(num_images: int, num_boxes: int, seed: int,
                   cache_dir: str) -> str:
    """Path of the cached synthetic annotation file (written if absent).

    The data root ``<cache_dir>/root`` gets an empty ``images/`` directory,
    which ``MMIOCDataset`` requires.
    """
    root = osp.join(cache_dir, 'root')
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    path = osp.join(root, f'synthetic_{num_images}_{num_boxes}_s{seed}.json')
    if not osp.isfile(path) or not osp.isfile(classes_file(path)):
        # in a subprocess: the measuring children are started from this
        # process, and Linux starts a child's ru_maxrss at its parent's peak
        start = time.perf_counter()
        subprocess.run([
            sys.executable,
            osp.abspath(__file__), '--generate', path, '--num-images',
            str(num_images), '--num-boxes',
            str(num_boxes), '--seed',
            str(seed)
        ],
                       check=True)
        print(
            f'generated {path} in {time.perf_counter() - start:.1f} s',
            flush=True)
    return path


def generate(path: str, num_images: int, num_boxes: int, seed: int) -> None:
    """Write the synthetic annotation file and its class names."""
    from mmioc_rtvp.format.io import dump_json
    from mmioc_rtvp.testing.synthetic_mmioc import make_synthetic_mmioc
    data = make_synthetic_mmioc(num_images, num_boxes, seed=seed)
    dump_json([c['name'] for c in data['categories']], classes_file(path))
    dump_json(data, path)


def classes_file(ann_file: str) -> str:
    """The JSON list of the class names of ``ann_file``."""
    return osp.splitext(ann_file)[0] + '.classes.json'


# ----------------------------------------------------------------------
# child: one measurement
# ----------------------------------------------------------------------
def max_rss_mb() -> float:
    """Peak RSS of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def status_mb(key: str) -> Optional[float]:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in
    MB, None where unavailable."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> Optional[float]:
    """Reset this process' peak RSS (``VmHWM``) to its current RSS (Linux:
    ``5`` to ``/proc/self/clear_refs``), so that the peak of the imports
    does not hide the measured one.

    Returns:
        float, optional: The current RSS (MB), or None if the peak could
        not be reset.
    """
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return None
    return status_mb('VmRSS')


def memory_of(pid: int) -> Dict[str, float]:
    """RSS, PSS and USS (MB) of a process from ``smaps_rollup``."""
    fields = {}
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[-1] == 'kB':
                    fields[parts[0].rstrip(':')] = int(parts[1]) / 1024
    except OSError:
        return {}
    return dict(
        rss=fields.get('Rss', 0.0),
        pss=fields.get('Pss', 0.0),
        uss=fields.get('Private_Clean', 0.0) +
        fields.get('Private_Dirty', 0.0))


class _InfoDataset:
    """Calls ``get_data_info`` and returns the number of instances."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> int:
        return len(self.dataset.get_data_info(idx)['instances'])


def _count(batch: list) -> int:
    return sum(batch)


def loader_memory(dataset, workers: int, batch_size: int) -> dict:
    """Iterate ``get_data_info`` over the dataset with forked workers; the
    memory of the main process and of the workers at the end."""
    from torch.utils.data import DataLoader
    loader = DataLoader(
        _InfoDataset(dataset),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_count,
        persistent_workers=True,
        multiprocessing_context='fork')
    start = time.perf_counter()
    iterator = iter(loader)
    total = sum(iterator)
    seconds = time.perf_counter() - start
    worker_pids = [w.pid for w in iterator._workers]
    result = dict(
        seconds=round(seconds, 2),
        instances=int(total),
        main=memory_of(os.getpid()),
        workers=[memory_of(pid) for pid in worker_pids])
    del iterator, loader
    return result


def run_child(impl: str, ann_file: str, data_root: str, workers: int,
              batch_size: int) -> dict:
    """Measure one implementation in this (fresh) process."""
    import numpy as np  # noqa: F401
    import torch  # noqa: F401
    from mmdet.datasets import CocoDataset

    from mmioc_rtvp.datasets import MMIOCDataset

    # the class names, written by the parent (parsing the annotation file
    # here would raise the peak RSS before the baseline)
    with open(classes_file(ann_file)) as f:
        classes = tuple(json.load(f))
    gc.collect()
    baseline_maxrss = max_rss_mb()
    current = reset_peak_rss()
    start = time.perf_counter()
    if impl in ('mmdet', 'mmdet-list'):
        dataset = CocoDataset(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img='images/'),
            metainfo=dict(classes=classes),
            lazy_init=False,
            serialize_data=impl == 'mmdet',
            filter_cfg=None,
            pipeline=[])
        data_bytes = dataset.data_bytes.nbytes + \
            dataset.data_address.nbytes if impl == 'mmdet' else None
    else:
        dataset = MMIOCDataset(
            ann_file=ann_file,
            data_root=data_root,
            lazy_init=False,
            filter_cfg=None,
            pipeline=[])
        data_bytes = dataset._annotations.nbytes + \
            dataset._sample_images.nbytes
    seconds = time.perf_counter() - start
    # ru_maxrss over its value after the imports; it misses peaks below the
    # imports' own peak (or below the parent's peak, which Linux gives an
    # exec'ed child), hence VmHWM after a reset when the kernel allows it
    peak_maxrss = max_rss_mb() - baseline_maxrss
    peak_hwm = None if current is None else status_mb('VmHWM') - current
    result = dict(
        impl=impl,
        init_seconds=round(seconds, 3),
        peak_rss_mb=round(peak_maxrss if peak_hwm is None else peak_hwm, 1),
        peak_method='ru_maxrss' if peak_hwm is None else 'VmHWM after reset',
        peak_maxrss_mb=round(peak_maxrss, 1),
        baseline_rss_mb=round(baseline_maxrss, 1),
        samples=len(dataset),
        data_mb=None if data_bytes is None else round(data_bytes / 2**20, 1))
    if workers > 0:
        result['loader'] = loader_memory(dataset, workers, batch_size)
    return result


# ----------------------------------------------------------------------
# parent
# ----------------------------------------------------------------------
def machine() -> dict:
    import numpy
    info = dict(
        nproc=len(os.sched_getaffinity(0)),
        python=platform.python_version(),
        numpy=numpy.__version__,
        platform=platform.platform())
    for module in ('orjson', 'mmengine', 'mmdet', 'mmyolo', 'torch'):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = 'not installed'
    try:
        with open('/proc/meminfo') as f:
            total_kb = int(f.readline().split()[1])
        info['memory_gb'] = round(total_kb / 2**20, 1)
    except OSError:
        pass
    return info


def run_in_subprocess(impl: str, args: argparse.Namespace, ann_file: str,
                      data_root: str) -> dict:
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--child', impl, '--ann-file', ann_file,
        '--data-root', data_root, '--workers',
        str(args.workers), '--batch-size',
        str(args.batch_size)
    ]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _sum(values: List[float]) -> float:
    return round(sum(values), 1)


def report(results: Dict[str, dict], info: dict, args: argparse.Namespace,
           num_boxes: int, file_mb: float) -> str:
    """The results as a Markdown table."""
    impls = [i for i in IMPLEMENTATIONS if i in results]
    both = 'mmdet' in impls and 'mmioc' in impls
    lines = [
        f'{args.num_images} images / {num_boxes} boxes '
        f'({file_mb:.0f} MB JSON); machine: ' +
        ', '.join(f'{k} {v}' for k, v in info.items()), '',
        '| | ' + ' | '.join(LABELS[i]
                            for i in impls) + (' | ratio |' if both else ' |'),
        '|---|' + '---:|' * (len(impls) + both)
    ]

    def row(name: str, values: list, ratio: str = '') -> None:
        cells = ' | '.join(str(v) for v in values)
        extra = f' {ratio} |' if both else ''
        lines.append(f'| {name} | {cells} |{extra}')

    init = {i: results[i]['init_seconds'] for i in impls}
    peak = {i: results[i]['peak_rss_mb'] for i in impls}
    row('init time (s)', list(init.values()),
        f"{init['mmdet'] / init['mmioc']:.1f}x faster" if both else '')
    row('peak RSS over imports (MB)', list(peak.values()),
        f"{peak['mmioc'] / peak['mmdet']:.2f} of mmdet's" if both else '')
    row('samples', [results[i]['samples'] for i in impls])
    row('annotation storage (MB)',
        [results[i]['data_mb'] or '-' for i in impls])
    if all('loader' in results[i] for i in impls):
        loaders = [results[i]['loader'] for i in impls]
        row(f'loader: {args.workers} workers, get_data_info x all (s)',
            [ld['seconds'] for ld in loaders])
        row('loader: main process PSS (MB)',
            [round(ld['main'].get('pss', 0), 1) for ld in loaders])
        row('loader: workers PSS, sum (MB)',
            [_sum([w.get('pss', 0) for w in ld['workers']]) for ld in loaders])
        row('loader: workers USS (private), each (MB)', [
            ' / '.join(f"{w.get('uss', 0):.0f}" for w in ld['workers'])
            for ld in loaders
        ])
        row('loader: PSS main + workers (MB)', [
            _sum([ld['main'].get('pss', 0)] +
                 [w.get('pss', 0) for w in ld['workers']]) for ld in loaders
        ])
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.generate:
        generate(args.generate, args.num_images, args.num_boxes, args.seed)
        return
    if args.child:
        result = run_child(args.child, args.ann_file, args.data_root,
                           args.workers, args.batch_size)
        print(json.dumps(result), flush=True)
        return
    num_boxes = int(round(args.num_images * args.boxes_per_image))
    ann_file = synthetic_file(args.num_images, num_boxes, args.seed,
                              args.cache_dir)
    data_root = osp.dirname(ann_file)
    impls = []
    for impl in args.impl:
        for name in (('mmdet', 'mmioc') if impl == 'both' else (impl, )):
            if name not in impls:
                impls.append(name)
    results = {}
    for impl in impls:
        print(f'measuring {LABELS[impl]} ...', flush=True)
        results[impl] = run_in_subprocess(impl, args, ann_file, data_root)
        print(json.dumps(results[impl]), flush=True)
    info = machine()
    table = report(results, info, args, num_boxes,
                   osp.getsize(ann_file) / 2**20)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    num_images=args.num_images,
                    num_boxes=num_boxes,
                    machine=info,
                    results=results,
                    table=table),
                f,
                indent=2)


if __name__ == '__main__':
    main()
