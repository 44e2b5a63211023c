# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Skip the update of a training step whose loss is not finite."""
import logging
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.hooks import EMAHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from mmioc_rtvp.registry import HOOKS


#: Runtime-info key of the message hub: True while the current training
#: iteration's update is skipped (read by :class:`GuardedEMAHook`).
UPDATE_SKIPPED_KEY = 'nonfinite_update_skipped'


class NonFiniteLossError(RuntimeError):
    """Raised after too many consecutive steps with a non-finite loss."""


def non_finite_terms(losses: Dict[str, object]) -> List[str]:
    """Names of the loss terms that are NaN or +-Inf.

    Only the entries MMEngine sums into the training loss count (keys
    containing ``'loss'``, tensors or lists of tensors, as
    ``BaseModel.parse_losses`` reads them).

    Args:
        losses (dict): the detector's ``loss()`` output: name -> tensor of
            any shape, or list of tensors.

    Returns:
        list[str]: the offending names, in the dict's order.
    """
    bad = []
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        tensors = value if isinstance(value, (list, tuple)) else [value]
        for tensor in tensors:
            if (isinstance(tensor, torch.Tensor)
                    and tensor.is_floating_point()
                    and not bool(torch.isfinite(tensor.detach()).all())):
                bad.append(name)
                break
    return bad


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Do not let a NaN/Inf loss or gradient change the weights.

    Two PyTorch hooks do the work, so no MMEngine class is changed:

    - a forward hook on the detector reads its loss dict (``mode='loss'``)
      and records the terms that are not finite;
    - a step pre-hook on the optimizer(s) runs after the backward pass and
      any gradient clipping, just before ``optimizer.step()``: when a loss
      term or a gradient is not finite, it sets every gradient to ``None``,
      which makes the optimizers (SGD, Adam, AdamW, ...) leave the
      parameters *and* their states (momentum, step counts) untouched.
      Under DDP the decision is all-reduced, so every rank skips together.

    A skipped step changes nothing else either: the buffers of the modules
    in training mode (BatchNorm running statistics and batch counts) are
    copied before every training forward pass and copied back when the step
    is skipped, and the message hub's runtime info ``UPDATE_SKIPPED_KEY`` is
    True for that iteration, which :class:`GuardedEMAHook` (registered as
    ``EMAHook`` in this scope) reads to leave the EMA copy, its buffers and
    its step count as they were. With gradient accumulation, a bad
    micro-step's own forward pass is undone; the earlier micro-steps of the
    window keep their statistics.

    Each skipped step is logged (iteration and the non-finite terms), counted
    in the log line (``nonfinite_skipped``) and in a summary at the end.
    After ``max_consecutive`` skipped steps in a row the run stops with
    :class:`NonFiniteLossError` naming the terms; the parameters are then
    still those of the last good step.

    Args:
        max_consecutive (int): consecutive non-finite steps tolerated;
            the next one stops the run. Defaults to 10.
        check_grads (bool): also skip a step whose loss is finite but whose
            gradients are not (e.g. an overflow in the backward pass).
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, max_consecutive: int = 10,
                 check_grads: bool = True) -> None:
        if max_consecutive < 1:
            raise ValueError(
                f'max_consecutive must be >= 1, got {max_consecutive}')
        self.max_consecutive = int(max_consecutive)
        self.check_grads = check_grads
        self.total_skipped = 0
        self.consecutive = 0
        self._terms: List[str] = []
        self._skipped_step = False
        self._step_reason = ''
        self._streak_terms: List[str] = []
        self._handles: list = []
        self._buffers: List[Tuple[torch.nn.Module, str, torch.Tensor]] = []
        self._message_hub = None

    # -- the PyTorch hooks ----------------------------------------------
    def _before_forward(self, module: torch.nn.Module, args,
                        kwargs) -> None:
        if module.training and kwargs.get('mode') == 'loss':
            self._buffers = snapshot_training_buffers(module)

    def _on_forward(self, module: torch.nn.Module, args, output) -> None:
        if module.training and isinstance(output, dict):
            # accumulate over gradient-accumulation micro-steps
            for name in non_finite_terms(output):
                if name not in self._terms:
                    self._terms.append(name)
            if self._terms:
                self._set_skipped(True)

    def _on_step(self, optimizer: torch.optim.Optimizer, args,
                 kwargs) -> None:
        params = [
            p for group in optimizer.param_groups for p in group['params']
            if p.grad is not None
        ]
        bad_grads = False
        if self.check_grads and params and not self._terms:
            norms = torch._foreach_norm([p.grad.detach() for p in params])
            bad_grads = not bool(torch.isfinite(torch.stack(norms)).all())
        flag = torch.tensor(
            [float(bool(self._terms)), float(bad_grads)])
        if is_distributed():
            torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MAX)
        if flag.any():
            for p in params:
                p.grad = None
            # after the backward pass: the buffers are no longer needed by
            # autograd and may be written in place
            restore_buffers(self._buffers)
            self._set_skipped(True)
            self._skipped_step = True
            if self._terms:
                self._step_reason = 'non-finite loss terms: ' + ', '.join(
                    self._terms)
            elif flag[0]:
                self._step_reason = 'non-finite loss on another rank'
            else:
                self._step_reason = 'non-finite gradients'

    # -- MMEngine hook points ---------------------------------------------
    @staticmethod
    def _optimizers(runner) -> Sequence[torch.optim.Optimizer]:
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, OptimWrapperDict):
            return [w.optimizer for w in wrapper.values()]
        return [wrapper.optimizer]

    def _set_skipped(self, skipped: bool) -> None:
        if self._message_hub is not None:
            self._message_hub.update_info(UPDATE_SKIPPED_KEY, skipped)

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._message_hub = runner.message_hub
        self._warn_unguarded_ema(runner)
        self._handles = [
            model.register_forward_pre_hook(
                self._before_forward, with_kwargs=True),
            model.register_forward_hook(self._on_forward)
        ]
        for optimizer in self._optimizers(runner):
            self._handles.append(
                optimizer.register_step_pre_hook(self._on_step))

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        self._terms = []
        self._skipped_step = False
        self._step_reason = ''
        self._buffers = []
        self._set_skipped(False)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not self._skipped_step:
            if self._terms:
                # a non-finite term while gradients accumulate: the update
                # comes later and will be skipped; count it then
                restore_buffers(self._buffers)
                return
            self.consecutive = 0
            self._streak_terms = []
            runner.message_hub.update_scalar('train/nonfinite_skipped',
                                             self.total_skipped)
            return
        self.total_skipped += 1
        self.consecutive += 1
        for name in self._terms or [self._step_reason]:
            if name not in self._streak_terms:
                self._streak_terms.append(name)
        runner.message_hub.update_scalar('train/nonfinite_skipped',
                                         self.total_skipped)
        values = ''
        if outputs:
            values = ', '.join(
                f'{k}={float(v):g}' for k, v in outputs.items()
                if isinstance(v, torch.Tensor) and v.numel() == 1
                and not math.isfinite(float(v)))
        print_log(
            f'NonFiniteLossHook: iteration {runner.iter + 1}: update skipped '
            f'({self._step_reason}{"; " + values if values else ""}); '
            f'{self.consecutive} in a row, {self.total_skipped} in total',
            logger='current', level=logging.WARNING)
        if self.consecutive >= self.max_consecutive:
            self._remove_handles()
            raise NonFiniteLossError(
                f'{self.consecutive} consecutive training steps had a '
                f'non-finite loss or gradient (limit max_consecutive='
                f'{self.max_consecutive}); non-finite: '
                f'{", ".join(self._streak_terms)}. Parameters are those of '
                'iteration '
                f'{runner.iter + 1 - self.consecutive}.')

    def after_train(self, runner) -> None:
        self._remove_handles()
        print_log(
            f'NonFiniteLossHook: {self.total_skipped} training step(s) '
            'skipped for a non-finite loss or gradient',
            logger='current')

    @staticmethod
    def _warn_unguarded_ema(runner) -> None:
        from .guarded_ema_hook import GuardedEMAHook
        for hook in runner.hooks:
            if isinstance(hook, EMAHook) and not isinstance(
                    hook, GuardedEMAHook):
                print_log(
                    f'NonFiniteLossHook: {type(hook).__module__}.'
                    f'{type(hook).__name__} updates the EMA copy after a '
                    'skipped step too; use GuardedEMAHook (type=\'EMAHook\' '
                    'in the mmioc_rtvp scope) to leave it unchanged',
                    logger='current', level=logging.WARNING)

    def _remove_handles(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def snapshot_training_buffers(
        model: torch.nn.Module
) -> List[Tuple[torch.nn.Module, str, torch.Tensor]]:
    """Copies of the buffers of every module of ``model`` in training mode.

    A training forward pass writes into these in place (BatchNorm's
    ``running_mean`` / ``running_var`` (C,) and ``num_batches_tracked`` ()),
    frozen modules in eval mode do not, so they are left out.

    Args:
        model (torch.nn.Module): The detector.

    Returns:
        list[tuple]: ``(module, buffer name, copy)`` per buffer.
    """
    return [(module, name, buf.detach().clone())
            for module in model.modules() if module.training
            for name, buf in module.named_buffers(recurse=False)
            if buf is not None]


def restore_buffers(
        saved: Sequence[Tuple[torch.nn.Module, str, torch.Tensor]]) -> None:
    """Write the copies of :func:`snapshot_training_buffers` back in place."""
    with torch.no_grad():
        for module, name, copy in saved:
            getattr(module, name).copy_(copy)
