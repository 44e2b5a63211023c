# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The runner every mmioc_rtvp config uses (``runner_type``)."""
import copy
import glob
import logging
import os
import os.path as osp
import subprocess
import zipfile
from datetime import timedelta
from functools import partial
from typing import Callable, Dict, List, Optional, Union

import torch
import torch.distributed as torch_dist
from mmengine.device import get_device
from mmengine.dist import is_distributed, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import FUNCTIONS
from mmengine.runner import Runner

from mmioc_rtvp.engine.hooks import (BadDataHook, ClassCountCheckHook,
                                     NonFiniteLossHook, PlainMessageHubHook)
from mmioc_rtvp.engine.hooks.slim_checkpoint_hook import SlimCheckpointHook
from mmioc_rtvp.registry import RUNNERS


def resolve_collate_fn(collate_cfg: dict) -> Callable:
    """Build a ``collate_fn`` config that may carry a ``_scope_`` key.

    MMEngine injects ``_scope_`` into every dict of a base config inherited
    across packages (``_base_ = 'mmyolo::...'``), and then forwards it as a
    keyword argument to the collate function (``TypeError: yolov5_collate()
    got an unexpected keyword argument '_scope_'``). Here the scope is used
    for what it means, the place to look the function up, and not passed on.

    Args:
        collate_cfg (dict): ``dict(type=..., _scope_=..., **kwargs)``.

    Returns:
        Callable: the function with its remaining kwargs bound.
    """
    cfg = dict(collate_cfg)
    scope = cfg.pop('_scope_', None)
    fn_type = cfg.pop('type')
    fn = fn_type
    if isinstance(fn_type, str):
        fn = None
        if scope and '.' not in fn_type:
            fn = FUNCTIONS.get(f'{scope}.{fn_type}')
        if fn is None:
            fn = FUNCTIONS.get(fn_type)
        if fn is None:
            raise KeyError(
                f'collate_fn type {fn_type!r} (scope {scope!r}) is not '
                'registered in the FUNCTIONS registry')
    return partial(fn, **cfg)


def _init_cpu_process_group(launcher: str, dist_cfg: dict) -> None:
    """Initialise ``torch.distributed`` with gloo when there is no GPU.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally
    (pytorch and slurm launchers), which fails on a CPU-only machine.
    """
    kwargs = {}
    if dist_cfg.get('timeout') is not None:
        kwargs['timeout'] = timedelta(seconds=dist_cfg['timeout'])
    if launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        if 'MASTER_ADDR' not in os.environ:
            node_list = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
        os.environ.setdefault('MASTER_PORT',
                              str(dist_cfg.get('port', 29500)))
    elif launcher != 'pytorch':
        raise ValueError(
            f'CPU distributed training supports the "pytorch" and "slurm" '
            f'launchers, got {launcher!r}')
    backend = dist_cfg.get('backend', 'gloo')
    if backend != 'gloo':
        print_log(
            f'No CUDA device: using the gloo backend instead of {backend!r}.',
            logger='current')
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` file (a zip archive whose
    central directory, written last, is there); a file cut off while it
    was written is not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def find_complete_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from: the one ``last_checkpoint`` names
    when it is complete, else the newest complete ``*.pth`` of
    ``work_dir`` (a warning says why), else None."""
    named = None
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker, encoding='utf-8', errors='replace') as f:
            named = f.read().strip()
        if named and is_complete_checkpoint(named):
            return named
    found = sorted(
        (p for p in glob.glob(osp.join(work_dir, '*.pth'))
         if is_complete_checkpoint(p)), key=osp.getmtime)
    if named is not None:
        print_log(
            f'{marker} names {named!r}, which is missing or incomplete; '
            + (f'resuming from {found[-1]}, the newest complete checkpoint'
               if found else 'no complete checkpoint found'),
            logger='current', level=logging.WARNING)
    return found[-1] if found else None


@RUNNERS.register_module()
class MMIOCRunner(Runner):
    """MMEngine's :class:`Runner` that runs the same config on CPU and GPU.

    Differences from the parent, all of them no-ops on a GPU machine unless
    noted:

    - **CPU distributed training**: without CUDA, the process group is
      initialised with gloo (whatever ``env_cfg.dist_cfg.backend`` says, as
      configs are written for NCCL clusters) and the model is wrapped in
      ``MMDistributedDataParallel`` with ``device_ids=None``, after SyncBN
      layers (which mmyolo's detectors create under DDP and which PyTorch only
      runs on GPUs) are reverted to BN, so ``tools/dist_train.sh CFG 2``
      trains with two CPU processes.
    - **Scoped collate functions**: ``collate_fn`` dicts carrying ``_scope_``
      (inherited from another package's base config) are resolved in that
      scope instead of crashing (on every device).
    - **Safe checkpoints**: :class:`PlainMessageHubHook` is always registered
      (on every device), so checkpoints load with ``weights_only=True``.
    - **Slim checkpoints**: :class:`SlimCheckpointHook` is registered unless
      the config lists one: frozen modules loaded from their own files (text
      encoder, visual encoder) are left out of checkpoints and rebuilt from
      those files at load (``dict(type='SlimCheckpointHook', modules=[])``
      writes full checkpoints).
    - **Reliability** (docs/reliability.md), each registered unless the
      config lists one: :class:`NonFiniteLossHook` (a NaN/Inf loss skips
      the update; 10 in a row stop the run), :class:`BadDataHook` (counts the
      unreadable images the loader replaced) and
      :class:`ClassCountCheckHook` (disagreeing class counts stop the run
      before its first step).

    - **Atomic checkpoints**: a checkpoint is written under a temporary
      name (``<name>.part``), flushed to disk and renamed, so a job killed
      while saving never leaves a truncated ``<name>``; ``--resume`` takes
      the checkpoint ``last_checkpoint`` names only when it is complete,
      else the newest complete one of the work dir.

    Select it with ``runner_type = 'mmioc_rtvp.MMIOCRunner'`` (the shipped
    ``configs/_base_/default_runtime.py`` does).
    """

    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        **kwargs) -> None:
        """MMEngine's ``save_checkpoint``, written atomically on local
        disks (see the class doc); other back-ends as MMEngine writes."""
        if '://' in str(out_dir) or not is_main_process():
            return super().save_checkpoint(out_dir, filename, *args,
                                           **kwargs)
        part = f'{filename}.part'
        super().save_checkpoint(out_dir, part, *args, **kwargs)
        final = osp.join(out_dir, filename)
        with open(osp.join(out_dir, part), 'rb') as f:
            os.fsync(f.fileno())
        os.replace(osp.join(out_dir, part), final)
        folder = os.open(out_dir, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def load_or_resume(self) -> None:
        """Resume from a complete checkpoint (:func:`find_complete_checkpoint`)
        when ``resume=True`` names none."""
        if self._resume and self._load_from is None and not self._has_loaded:
            self._load_from = find_complete_checkpoint(self.work_dir)
        super().load_or_resume()

    def setup_env(self, env_cfg: Dict) -> None:
        if (self.distributed and not is_distributed()
                and not torch.cuda.is_available()):
            _init_cpu_process_group(self.launcher,
                                    dict(env_cfg.get('dist_cfg', {})))
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: torch.nn.Module) -> torch.nn.Module:
        if self.distributed and get_device() == 'cpu':
            # mmyolo's YOLODetector converts BN to SyncBN whenever the world
            # size is > 1, and PyTorch's SyncBN only runs on GPUs: on CPU each
            # process keeps its own batch statistics, as plain BN under DDP.
            model = revert_sync_batchnorm(model)
            if model_wrapper_cfg is None:
                model_wrapper_cfg = dict(
                    type='MMDistributedDataParallel',
                    broadcast_buffers=False,
                    find_unused_parameters=self.cfg.get(
                        'find_unused_parameters', False))
            model_wrapper_cfg = copy.deepcopy(model_wrapper_cfg)
            # DistributedDataParallel on CPU modules requires device_ids=None.
            model_wrapper_cfg['device_ids'] = None
        return super().wrap_model(model_wrapper_cfg, model)

    @staticmethod
    def build_dataloader(dataloader, seed: Optional[int] = None,
                         diff_rank_seed: bool = False):
        if isinstance(dataloader, dict):
            collate_cfg = dataloader.get('collate_fn')
            if isinstance(collate_cfg, dict) and '_scope_' in collate_cfg:
                dataloader = copy.copy(dataloader)
                dataloader['collate_fn'] = resolve_collate_fn(collate_cfg)
        return Runner.build_dataloader(
            dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    def register_hooks(
            self,
            default_hooks: Optional[Dict[str, Union[Hook, Dict]]] = None,
            custom_hooks: Optional[List[Union[Hook, Dict]]] = None) -> None:
        custom_hooks = list(custom_hooks or [])
        for hook_type in (PlainMessageHubHook, SlimCheckpointHook,
                          NonFiniteLossHook, BadDataHook, ClassCountCheckHook):
            if not any(
                    isinstance(h, hook_type) or (
                        isinstance(h, dict) and str(h.get('type', '')).split(
                            '.')[-1] == hook_type.__name__)
                    for h in custom_hooks):
                custom_hooks.append(hook_type())
        super().register_hooks(default_hooks, custom_hooks)
