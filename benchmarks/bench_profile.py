# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: where the CPU time of each detector goes, one run.

For every ``--model NAME=CONFIG`` (default: RTVPNet-S, RTVPNet-S-mini,
YOLO-World-S and YOLOv8-S), batch 1, a ``--shape`` x ``--shape`` input (640
by default), the network the deployment runs: the model wrapped in
:class:`mmioc_rtvp.deploy.ExportableDetector` (open-vocabulary models with a
run-time vocabulary ``text_feats`` (1, K, D): image features, prompts,
T-V / V-T, head and box decoding; no text encoder, no NMS), eager, under
``torch.no_grad()``. Measured in the same process:

1. **per-module time** (1 thread): forward pre- and post-hooks on the
   detector's parts (expert, visual encoder, EDP, RVP, adapters, neck, V-T,
   head; ``--depth 2`` adds their children), mean ms per call over
   ``--iters`` calls; ``other`` is the total minus the rows (decoding, glue
   code, hook overhead);
2. **latency at each of ``--threads``** (default 1 and 2): median / p90,
   models timed round-robin, and each model's ratio to the first model
   that is not RTVPNet (``--reference``, default YOLO-World-S);
3. **latency vs vocabulary size** K (``--vocab-sizes``, open models, 1
   thread);
4. **peak memory**: the parameters' size, and the peak RSS increase during
   one forward (``VmHWM`` after resetting it through
   ``/proc/self/clear_refs``; Linux only, else not reported);
5. with ``--ort-profile``: the model exported to ONNX and run with
   onnxruntime's profiler (``--iters`` calls, 1 thread): time per
   operator type and per module (the node name's module path), mean ms per
   call.

Missing weight files are random stand-ins as in ``bench_latency.py``
(latency does not depend on the weight values).

Example (the 640 px profile of docs/results.md)::

    OMP_NUM_THREADS=1 nice python -m benchmarks.bench_profile \\
        --iters 10 --warmup 2 --ort-profile

A smoke run in seconds::

    python -m benchmarks.bench_profile --shape 64 --iters 1 --warmup 0 \\
        --model mini=configs/rtvpnet_s_mini.py --vocab-sizes 2 4 --threads 1
"""
import argparse
import collections
import json
import os.path as osp
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

from benchmarks.bench_latency import (load_average_line,
                                      machine_info, time_stats,
                                      write_results)
from mmioc_rtvp.deploy import (ExportableDetector,
                               build_metadata, export_onnx)
from mmioc_rtvp.testing import stand_in_model

PARTS = ('modules', 'latency', 'vocab', 'memory')
DEFAULT_MODELS = (
    ('RTVPNet-S', 'configs/rtvpnet_s_open.py'),
    ('RTVPNet-S-mini', 'configs/rtvpnet_s_mini.py'),
    ('YOLO-World-S', 'configs/baselines/yolo_world_s_open.py'),
    ('YOLOv8-S', 'configs/baselines/yolov8_s_closed.py'),
)


class Profiled:
    """One model: its exportable wrapper and its inputs.

    Args:
        name (str): Row name.
        config (str): Config file.
        exportable (ExportableDetector): The wrapped detector (eval).
        image (Tensor): (1, 3, S, S).
        text_feats (Tensor, optional): (1, K, D) unit embeddings.
    """

    def __init__(self, name: str, config: str,
                 exportable: ExportableDetector, image: torch.Tensor,
                 text_feats: Optional[torch.Tensor]) -> None:
        self.name = name
        self.config = config
        self.exportable = exportable
        self.image = image
        self.text_feats = text_feats
        self.max_abs_diff: Optional[float] = None  # vs the model it derives

    def derive(self, switch: str) -> 'Profiled':
        """A copy with an eager deploy-time switch that keeps the outputs
        (up to float rounding): ``fuse`` (mmcv's ``fuse_conv_bn``: every
        BatchNorm folded into its convolution) or ``channels_last`` (NHWC
        memory layout of weights and input). ``max_abs_diff`` holds the
        largest output difference to this model."""
        import copy

        from mmcv.cnn import fuse_conv_bn
        exportable = copy.deepcopy(self.exportable)
        image = self.image
        if switch == 'fuse':
            fuse_conv_bn(exportable)
        elif switch == 'channels_last':
            exportable = exportable.to(memory_format=torch.channels_last)
            image = image.contiguous(memory_format=torch.channels_last)
        else:
            raise ValueError(f'unknown deploy switch {switch!r}')
        derived = Profiled(f'{self.name} {switch}', self.config, exportable,
                           image, self.text_feats)
        with torch.no_grad():
            ref, out = self(), derived()
        derived.max_abs_diff = max(
            float((a - b).abs().max()) for a, b in zip(ref, out))
        return derived

    @property
    def open_vocabulary(self) -> bool:
        return self.text_feats is not None

    def feats(self, k: Optional[int] = None) -> Optional[torch.Tensor]:
        """The embeddings, or K = ``k`` unit rows (cycled from them, then
        random) for the vocabulary sweep."""
        if self.text_feats is None or k is None:
            return self.text_feats
        gen = torch.Generator().manual_seed(k)
        feats = torch.randn(1, k, self.text_feats.shape[-1], generator=gen)
        return nn.functional.normalize(feats, dim=-1)

    def __call__(self, feats: Optional[torch.Tensor] = None):
        return self.exportable(self.image, feats if feats is not None else
                               self.text_feats)


def parse_model(spec: str) -> Tuple[str, str, dict]:
    """``NAME=CONFIG[;key=value;...]`` -> (name, config, cfg options); the
    values are Python literals when they parse as such."""
    import ast
    if '=' not in spec:
        raise argparse.ArgumentTypeError(
            f'--model {spec!r}: expected NAME=CONFIG[;key=value...]')
    name, rest = spec.split('=', 1)
    config, *pairs = rest.split(';')
    options = {}
    for pair in pairs:
        key, _, value = pair.partition('=')
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return name, config, options


def check_model_configs(parser: argparse.ArgumentParser,
                        models: Sequence[Tuple[str, str, dict]]) -> None:
    """Stop with a parser error when a ``--model`` config file (relative
    to the repository) does not exist."""
    for name, config, _ in models:
        path = config if osp.isabs(config) else osp.join(REPO_ROOT, config)
        if not osp.isfile(path):
            parser.error(f'--model {name}: {config} does not exist')


def build(args: argparse.Namespace, work_dir: str) -> List[Profiled]:
    """Build every model of ``--model`` (stand-ins for missing weights)."""
    torch.manual_seed(args.seed)
    image = torch.rand(1, 3, args.shape, args.shape)
    models, notes = [], []
    for name, config, options in args.model:
        path = config if osp.isabs(config) else osp.join(REPO_ROOT, config)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            model, _, model_notes, prompts = stand_in_model.build_model(
                path, work_dir, args.texts, options or None)
        notes += [n for n in model_notes if n not in notes]
        runtime = prompts is not None
        exportable = ExportableDetector(
            model, runtime_vocabulary=runtime).eval()
        feats = None
        if runtime:
            gen = torch.Generator().manual_seed(args.seed)
            feats = nn.functional.normalize(
                torch.randn(1, args.texts, exportable.embed_dims,
                            generator=gen), dim=-1)
        models.append(Profiled(name, config, exportable, image, feats))
    for note in notes:
        print(f'stand-in: {note}')
    return models


def top_rows(detector: nn.Module) -> List[str]:
    """The detector's parts in registration order (the data flow): its
    children, the backbone of an open-vocabulary detector split into its
    image and text models (the text model does not run here)."""
    rows = []
    for name, child in detector.named_children():
        if child is None or name == 'data_preprocessor':
            continue
        if name == 'backbone' and hasattr(child, 'image_model'):
            rows.append('backbone.image_model')
        else:
            rows.append(name)
    return rows


def module_rows(detector: nn.Module, depth: int) -> List[str]:
    """Hooked module names: :func:`top_rows`, and their children with
    ``depth`` 2."""
    rows = top_rows(detector)
    if depth < 2:
        return rows
    modules = dict(detector.named_modules())
    out = []
    for row in rows:
        out.append(row)
        out += [f'{row}.{n}' for n, _ in modules[row].named_children()]
    return out


def per_module_times(model: Profiled, iters: int, warmup: int,
                     depth: int) -> Dict[str, float]:
    """Mean ms per call of every hooked module, ``total`` and ``other``."""
    detector = model.exportable.detector
    modules = dict(detector.named_modules())
    spent: Dict[str, float] = collections.defaultdict(float)
    starts: Dict[str, List[float]] = collections.defaultdict(list)
    handles = []
    names = [n for n in module_rows(detector, depth) if n in modules]
    for name in names:
        module = modules[name]
        handles.append(module.register_forward_pre_hook(
            lambda m, a, n=name: starts[n].append(time.perf_counter())))
        handles.append(module.register_forward_hook(
            lambda m, a, o, n=name: spent.__setitem__(
                n, spent[n] + time.perf_counter() - starts[n].pop())))
    try:
        with torch.no_grad():
            for _ in range(warmup):
                model()
            spent.clear()
            start = time.perf_counter()
            for _ in range(iters):
                model()
            total = time.perf_counter() - start
    finally:
        for handle in handles:
            handle.remove()
    out = {n: spent[n] * 1e3 / iters for n in names if n in spent}
    top = [n for n in top_rows(detector) if n in out]
    out['total'] = total * 1e3 / iters
    out['other'] = out['total'] - sum(out[n] for n in top)
    return out


def time_round_robin(calls: Sequence[Tuple[str, callable]], iters: int,
                     warmup: int) -> Dict[str, Dict[str, float]]:
    """Median / p90 / min ms of every call, timed round-robin."""
    times = collections.defaultdict(list)
    with torch.no_grad():
        for _, call in calls:
            for _ in range(warmup):
                call()
        for _ in range(iters):
            for name, call in calls:
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    return {name: time_stats(values) for name, values in times.items()}


def _rss_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def return_freed_memory() -> None:
    """Make glibc serve every allocation of 64 kB or more with its own
    mapping, returned to the system when freed (``mallopt``
    ``M_MMAP_THRESHOLD``; by default the threshold grows and freed blocks
    are reused, so a forward after another model's would not raise the
    RSS). No-op outside glibc."""
    import ctypes
    try:
        libc = ctypes.CDLL('libc.so.6')
        libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def peak_memory(model: Profiled) -> Dict[str, Optional[float]]:
    """Parameter MB and the peak RSS increase (MB) during one forward
    (after :func:`return_freed_memory`)."""
    params = sum(p.numel() * p.element_size()
                 for p in model.exportable.parameters())
    buffers = sum(b.numel() * b.element_size()
                  for b in model.exportable.buffers())
    peak = None
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # reset VmHWM to the current RSS
        before = _rss_kb('VmRSS')
        with torch.no_grad():
            model()
        hwm = _rss_kb('VmHWM')
        if before is not None and hwm is not None:
            peak = (hwm - before) / 1024
    except OSError:
        pass
    return dict(weights_mb=(params + buffers) / 2**20, forward_peak_mb=peak)


def ort_profile(model: Profiled, work_dir: str, iters: int
                ) -> Dict[str, Dict[str, float]]:
    """Export, run ``iters`` profiled calls (1 thread) and sum the node
    times per operator type and per module path (mean ms per call)."""
    import onnxruntime as ort
    shape = tuple(model.image.shape[-2:])
    path = osp.join(work_dir, f'{model.name}.onnx')
    export_onnx(model.exportable, path, shape,
                build_metadata(model.exportable, shape))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = osp.join(work_dir, f'{model.name}_prof')
    session = ort.InferenceSession(path, options,
                                   providers=['CPUExecutionProvider'])
    feed = dict(image=model.image.numpy())
    if model.open_vocabulary:
        feed['text_feats'] = model.text_feats.numpy()
    session.run(None, feed)  # warm-up (also profiled: dropped below)
    for _ in range(iters):
        session.run(None, feed)
    prof_file = session.end_profiling()
    with open(prof_file) as f:
        events = json.load(f)
    runs = [e for e in events if e.get('name') == 'model_run']
    first_run_end = runs[0]['ts'] + runs[0]['dur'] if runs else 0
    parts_of = top_rows(model.exportable.detector)
    by_op: Dict[str, float] = collections.defaultdict(float)
    by_module: Dict[str, float] = collections.defaultdict(float)
    for e in events:
        if e.get('cat') != 'Node' or not e['name'].endswith('_kernel_time'):
            continue
        if e['ts'] < first_run_end:
            continue
        ms = e['dur'] / 1e3 / iters
        by_op[e['args'].get('op_name', '?')] += ms
        by_module[module_of_node(e['name'], parts_of)] += ms
    return dict(by_op=dict(by_op), by_module=dict(by_module))


def module_of_node(node_name: str, parts_of: Sequence[str]) -> str:
    """The detector part of a profiled node. The exporter names nodes
    after the module path below the detector (``/image_model/stage1/...``,
    ``/visual_prompts.0/...``); the wrapper's box decoding has one path
    component (``/Concat_5``) and onnxruntime's layout conversions none
    (``ReorderOutput_token_437``).

    Args:
        node_name (str): The profiler's ``<node>_kernel_time``.
        parts_of (Sequence[str]): The detector's parts (:func:`top_rows`).

    Returns:
        str: One of ``parts_of``, ``layout`` or ``decode`` (anything else).
    """
    name = node_name[:-len('_kernel_time')]
    if name.startswith('Reorder'):
        return 'layout'
    parts = [p for p in name.split('/') if p]
    if len(parts) < 2:
        return 'decode'
    top = parts[0].split('.')[0]
    for part in parts_of:
        if top == part or part == f'backbone.{top}':
            return part
    return 'decode'


def _ratio_row(rows: Dict[str, dict], name: str, ref: str) -> str:
    if ref not in rows or name == ref:
        return ''
    return f'{rows[name]["median_ms"] / rows[ref]["median_ms"]:.2f}'


def report(args: argparse.Namespace, models: List[Profiled],
           results: dict) -> str:
    """Markdown tables of every measurement."""
    names = [m.name for m in models]
    out = []
    if results['modules']:
        out += module_table(names, results['modules'], args.iters)
    for threads, rows_t in results['latency'].items():
        out.append(f'\n### Latency, {threads} thread(s), round-robin '
                   f'(ms; ratio of medians to {args.reference})\n')
        out.append('| model | median | p90 | min | x ' + args.reference +
                   ' |')
        out.append('|---|---:|---:|---:|---:|')
        for m in names:
            r = rows_t[m]
            out.append(f'| {m} | {r["median_ms"]:.1f} | {r["p90_ms"]:.1f} '
                       f'| {r["min_ms"]:.1f} | '
                       f'{_ratio_row(rows_t, m, args.reference)} |')
    if results['vocab']:
        ks = args.vocab_sizes
        out.append('\n### Latency vs vocabulary size K, 1 thread (median '
                   'ms)\n')
        out.append('| model | ' + ' | '.join(f'K={k}' for k in ks) + ' |')
        out.append('|---|' + '---:|' * len(ks))
        for m, by_k in results['vocab'].items():
            out.append(f'| {m} | ' + ' | '.join(
                f'{by_k[str(k)]["median_ms"]:.1f}' for k in ks) + ' |')
    if results['memory']:
        out.append('\n### Memory\n')
        out.append('| model | weights (MB) | peak RSS increase in one '
                   'forward (MB) |')
        out.append('|---|---:|---:|')
        for m in names:
            r = results['memory'][m]
            peak = r['forward_peak_mb']
            out.append(f'| {m} | {r["weights_mb"]:.1f} | '
                       f'{"n/a" if peak is None else f"{peak:.1f}"} |')
    for m, prof in results.get('ort', {}).items():
        out += ort_table(m, prof)
    return '\n'.join(out)


def module_table(names: List[str], modules: dict, iters: int) -> List[str]:
    """The per-module table: one row per part, one column per model."""
    out = [f'### Per-module time, eager, 1 thread (mean ms per call, '
           f'{iters} calls)\n']
    rows = []
    for m in names:
        rows += [r for r in modules[m]
                 if r not in ('total', 'other') and r not in rows]
    out.append('| module | ' + ' | '.join(names) + ' |')
    out.append('|---|' + '---:|' * len(names))
    for row in rows + ['other', 'total']:
        cells = []
        for m in names:
            v = modules[m].get(row)
            total = modules[m]['total']
            cells.append('' if v is None else
                         f'{v:.1f} ({100 * v / total:.0f} %)')
        out.append(f'| {row} | ' + ' | '.join(cells) + ' |')
    return out


def ort_table(name: str, prof: dict) -> List[str]:
    """onnxruntime's time per operator type (10 largest) and per part."""
    total = sum(prof['by_op'].values())
    out = [f'\n### onnxruntime profile of {name}, 1 thread (mean ms per '
           f'call; nodes {total:.1f} ms)\n',
           '| operator | ms | share | | part | ms | share |',
           '|---|---:|---:|---|---|---:|---:|']
    ops = sorted(prof['by_op'].items(), key=lambda kv: -kv[1])[:10]
    mods = sorted(prof['by_module'].items(), key=lambda kv: -kv[1])
    for i in range(max(len(ops), len(mods))):
        cells = []
        for items in (ops, mods):
            cells.append(f'{items[i][0]} | {items[i][1]:.1f} | '
                         f'{100 * items[i][1] / total:.0f} %'
                         if i < len(items) else ' | | ')
        out.append(f'| {cells[0]} | | {cells[1]} |')
    return out


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--model', action='append', type=parse_model,
        help='NAME=CONFIG[;key=value;...] (repeatable; values are config '
        'overrides, e.g. "RTVPNet-S-fused=configs/rtvpnet_s_open.py;'
        'model.x=1"). Default: RTVPNet-S, RTVPNet-S-mini, YOLO-World-S, '
        'YOLOv8-S')
    parser.add_argument('--reference', default='YOLO-World-S',
                        help='the model the latency ratios refer to')
    parser.add_argument('--shape', type=int, default=640)
    parser.add_argument('--texts', type=int, default=64,
                        help='K of the per-module, latency and memory runs')
    parser.add_argument('--vocab-sizes', type=int, nargs='*',
                        default=[1, 16, 64, 256],
                        help='K of the vocabulary sweep (none: skipped)')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--depth', type=int, choices=(1, 2), default=1)
    parser.add_argument('--deploy-switches', nargs='*', default=[],
                        choices=('fuse', 'channels_last'),
                        help='also time each model with these eager '
                        'switches (outputs unchanged: the largest '
                        'difference is printed)')
    parser.add_argument('--parts', nargs='+', default=list(PARTS),
                        choices=PARTS, help='measurements to run (default: '
                        'all)')
    parser.add_argument('--ort-profile', action='store_true',
                        help='also export and profile with onnxruntime')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    if args.model is None:
        args.model = [(n, c, {}) for n, c in DEFAULT_MODELS]
    if args.iters < 1 or args.warmup < 0 or args.shape < 32 or \
            args.shape % 32 or args.texts < 1 or min(args.threads) < 1 or \
            any(k < 1 for k in args.vocab_sizes):
        parser.error('need --iters >= 1, --warmup >= 0, --shape a multiple '
                     'of 32, --texts, --threads and --vocab-sizes >= 1')
    check_model_configs(parser, args.model)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    stand_in_model.quiet_transformers()
    results: dict = dict(modules={}, latency={}, vocab={}, memory={})
    return_freed_memory()
    with tempfile.TemporaryDirectory(prefix='bench_profile_') as work_dir:
        models = build(args, work_dir)
        models += [m.derive(switch) for m in list(models)
                   for switch in args.deploy_switches]
        for m in models:
            if m.max_abs_diff is not None:
                print(f'{m.name}: max |output diff| to the model without '
                      f'the switch {m.max_abs_diff:.2g}')
        before = machine_info()
        torch.set_num_threads(1)
        for m in models:
            if 'modules' in args.parts:
                results['modules'][m.name] = per_module_times(
                    m, args.iters, args.warmup, args.depth)
            if 'memory' in args.parts:
                results['memory'][m.name] = peak_memory(m)
        for threads in args.threads if 'latency' in args.parts else ():
            torch.set_num_threads(threads)
            results['latency'][str(threads)] = time_round_robin(
                [(m.name, m) for m in models], args.iters, args.warmup)
        torch.set_num_threads(1)
        for m in models:
            if not m.open_vocabulary or not args.vocab_sizes or \
                    'vocab' not in args.parts:
                continue
            calls = [(str(k), lambda f=m.feats(k), m=m: m(f))
                     for k in args.vocab_sizes]
            results['vocab'][m.name] = time_round_robin(
                calls, args.iters, args.warmup)
        if args.ort_profile:
            results['ort'] = {}
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                for m in models:
                    results['ort'][m.name] = ort_profile(m, work_dir,
                                                         args.iters)
        after = machine_info()
    print(f'machine: {before["cpu"]}, {before["logical_cpus"]} logical CPUs '
          f'({before["usable_cpus"]} usable), torch {before["torch"]}')
    print(load_average_line(before, after))
    print(f'input 1x3x{args.shape}x{args.shape}, K={args.texts}, '
          f'{args.warmup} warm-up + {args.iters} timed calls; network + '
          'decoding (ExportableDetector), no text encoder, no NMS')
    print('models: ' + ', '.join(
        f'{n} = {c}' + (f' {o}' if o else '') for n, c, o in args.model))
    print(report(args, models, results))
    write_results(args.out, args, before, after, results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
