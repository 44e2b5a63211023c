# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""What ``persistent_workers=False`` (the shipped default) costs per epoch.

    python benchmarks/bench_persistent_workers.py configs/rtvpnet_s_mini.py \\
        --workers 2 --epochs 3 --iters 8

Builds the config's training data loader (its dataset and pipeline: mosaic,
affine, albumentations, text sampling) with ``--workers`` worker processes,
once with ``persistent_workers=True`` and once with ``False``, and loads
``--iters`` batches in each of ``--epochs`` epochs, as the training loop
does (one ``iter()`` per epoch). No model: the cost in question is the
loader's. Reported per variant: the wait for the first batch of each epoch
after the first (worker start-up, with non-persistent workers), the mean
time per batch after it, and the extra seconds per epoch of ``False`` over
``True`` with its share of an epoch of ``--iters`` batches of data loading.
"""
import argparse
import os
import platform
import statistics
import time

from mmengine.config import Config


def time_epochs(cfg: Config, persistent: bool, workers: int, epochs: int,
                iters: int) -> dict:
    from mmioc_rtvp.engine.runner import MMIOCRunner
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=workers, persistent_workers=persistent)
    loader = MMIOCRunner.build_dataloader(loader_cfg, seed=0)
    first, rest = [], []
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        start = time.perf_counter()
        batches = iter(loader)
        for i in range(min(iters, len(loader))):
            next(batches)
            now = time.perf_counter()
            (first if i == 0 else rest).append(now - start)
            start = now
        del batches
    return dict(first=statistics.median(first[1:]),
                per_batch=statistics.mean(rest))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--iters', type=int, default=8)
    args = parser.parse_args(argv)
    from mmengine.registry import init_default_scope
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(args.config)
    out = {p: time_epochs(cfg, p, args.workers, args.epochs, args.iters)
           for p in (True, False)}
    extra = out[False]['first'] - out[True]['first']
    epoch = out[True]['first'] + out[True]['per_batch'] * (args.iters - 1)
    print(f'bench_persistent_workers: {os.path.basename(args.config)}, '
          f'{args.workers} workers, batch {cfg.train_dataloader.batch_size},'
          f' {args.epochs} epochs of {args.iters} batches, '
          f'{os.cpu_count()} CPUs, {platform.machine()}')
    print(f'{"persistent_workers":20s}{"1st batch s":>12s}'
          f'{"s / batch":>11s}')
    for p, res in out.items():
        print(f'{str(p):20s}{res["first"]:12.3f}{res["per_batch"]:11.3f}')
    print(f'False costs {extra:.3f} s more per epoch: '
          f'{extra / epoch * 100:.1f} % of an epoch of {args.iters} batches '
          f'of data loading, {extra / (epoch / args.iters * 1000) * 100:.2f}'
          ' % of one of 1000 batches')
    return dict(out, extra_s=extra)


if __name__ == '__main__':
    main()
