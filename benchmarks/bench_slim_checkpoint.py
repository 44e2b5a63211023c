# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Checkpoint size with and without SlimCheckpointHook, for one config.

    python benchmarks/bench_slim_checkpoint.py configs/rtvpnet_s_mini.py

Trains the config for ONE iteration on its first ``--images`` training
images (one batch; validation off), once writing full checkpoints
(``SlimCheckpointHook(modules=[])``) and once slim ones (the default of
:class:`~mmioc_rtvp.engine.runner.MMIOCRunner`), and prints both sizes,
the ratio, what was left out and the tensor count by top-level module.
The checkpoint holds the same training state (optimizer, EMA copy, message
hub) as the config's real checkpoints; only the number of trained steps
differs, which does not change the size.
"""
import argparse
import collections
import os.path as osp
import tempfile

import torch
from mmengine.config import Config
from mmioc_rtvp.engine.runner import MMIOCRunner


def train_one_iteration(cfg: Config, work_dir: str, slim: bool) -> str:
    """Train one iteration and return the checkpoint path."""
    cfg = cfg.copy()
    cfg.work_dir = work_dir
    if not slim:
        cfg.custom_hooks = [*cfg.get('custom_hooks', []),
                            dict(type='SlimCheckpointHook', modules=[])]
    runner = MMIOCRunner.from_cfg(cfg)
    runner.train()
    return osp.join(work_dir, 'epoch_1.pth')


def tensor_bytes(state: dict) -> collections.Counter:
    sizes = collections.Counter()
    for key, value in state.items():
        if torch.is_tensor(value):
            sizes[key.split('.')[0] if not key.startswith('module.') else
                  'module.' + key.split('.')[1]] += value.numel(
                  ) * value.element_size()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('--images', type=int, default=2)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict({
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1000,
        'train_cfg.dynamic_intervals': None,
        'train_dataloader.batch_size': args.images,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.dataset.indices': args.images,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.checkpoint.save_best': None,
        'default_hooks.logger.interval': 1,
    })
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for slim in (False, True):
            path = train_one_iteration(cfg, osp.join(tmp, str(slim)), slim)
            sizes[slim] = osp.getsize(path)
            ckpt = torch.load(path, map_location='cpu', weights_only=True)
            by_module = tensor_bytes(ckpt['state_dict'])
            by_module.update(tensor_bytes(ckpt.get('ema_state_dict', {})))
            left_out = ckpt['meta'].get('slim_checkpoint', {})
            print(f'{"slim" if slim else "full"}: {sizes[slim] / 2**20:.1f} '
                  f'MB; largest parts (MB): ' + ', '.join(
                      f'{k} {v / 2**20:.1f}'
                      for k, v in by_module.most_common(4)))
            if left_out:
                print(f'  left out: {left_out["modules"]} '
                      f'({left_out["num_tensors_removed"]} tensors)')
    print(f'{args.config}: full {sizes[False] / 2**20:.1f} MB -> slim '
          f'{sizes[True] / 2**20:.1f} MB (x{sizes[False] / sizes[True]:.2f} '
          'smaller)')


if __name__ == '__main__':
    main()
