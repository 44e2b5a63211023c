# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""NonFiniteLossHook: a NaN/Inf loss leaves the weights as they were, and too
many in a row stop the run with the offending terms named."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmioc_rtvp.engine.hooks import (NonFiniteLossError, NonFiniteLossHook,
                                     non_finite_terms)


class _ToyDetector(BaseModel):
    """``loss_box = |w.x + b|``, ``loss_cls = (w.x + b)^2 * factor``; the
    sample's ``factor`` (NaN, Inf or 1) injects a non-finite term."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))  # (B, 1)
        if mode != 'loss':
            return out
        # pseudo_collate turns the per-sample dicts into dicts of lists
        box_factor = torch.tensor(data_samples['box'])  # (B,)
        cls_factor = torch.tensor(data_samples['cls'])  # (B,)
        return dict(
            loss_box=(out.abs().squeeze(1) * box_factor).mean(),
            loss_cls=(out.pow(2).squeeze(1) * cls_factor).mean(),
            acc=torch.tensor(float('nan')))  # not a loss: ignored


class _Snapshots(Hook):
    """Copies the parameters after every iteration."""
    priority = 'LOWEST'

    def __init__(self):
        self.params = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.params.append(
            [p.detach().clone() for p in runner.model.parameters()])


def _train(tmp_path, factors, max_consecutive=3, xs=None,
           model_cls=_ToyDetector):
    torch.manual_seed(0)
    model = model_cls()
    xs = xs or [i + 1 for i in range(len(factors))]
    data = [
        dict(inputs=torch.tensor([1.0, float(x)]),
             data_samples=dict(box=box, cls=cls))
        for x, (box, cls) in zip(xs, factors)
    ]
    snapshots = _Snapshots()
    guard = NonFiniteLossHook(max_consecutive=max_consecutive)
    runner = _one_epoch_runner(
        tmp_path, model, data, dict(type='SGD', lr=0.05, momentum=0.9),
        [guard, snapshots],
        default_hooks=dict(checkpoint=None, logger=dict(
            type='LoggerHook', interval=1)),
        experiment_name=f'nonfinite_{tmp_path.name}')
    return runner, guard, snapshots


def _one_epoch_runner(work_dir, model, data, optimizer, custom_hooks,
                      **kwargs):
    """One epoch over ``data`` in order, one sample per iteration."""
    return Runner(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'),
            batch_size=1,
            num_workers=0),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=optimizer),
        custom_hooks=custom_hooks,
        randomness=dict(seed=0),
        **kwargs)


def _read_log(runner):
    path = glob.glob(osp.join(runner.log_dir, '*.log'))[0]
    with open(path) as f:
        return f.read()


OK, NAN, INF = 1.0, float('nan'), float('inf')


def test_non_finite_terms_names_only_loss_entries():
    losses = dict(
        loss_cls=torch.tensor([0.5, float('nan')]),
        loss_bbox=[torch.tensor(1.0), torch.tensor(float('-inf'))],
        loss_dfl=torch.tensor(0.1),
        acc=torch.tensor(float('nan')))
    assert non_finite_terms(losses) == ['loss_cls', 'loss_bbox']
    assert non_finite_terms(dict(loss_a=torch.tensor(2.0))) == []


def test_nan_step_leaves_weights_unchanged(tmp_path):
    runner, guard, snap = _train(
        tmp_path, [(OK, OK), (OK, NAN), (OK, OK), (INF, OK), (OK, OK)])
    runner.train()
    p = snap.params
    assert len(p) == 5
    # iteration 1 trained; 2 (NaN loss_cls) and 4 (Inf loss_box) did not
    for before, after in zip(p[0], p[1]):
        assert torch.equal(before, after)
    for before, after in zip(p[2], p[3]):
        assert torch.equal(before, after)
    assert not torch.equal(p[1][0], p[2][0])
    assert not torch.equal(p[3][0], p[4][0])
    assert all(torch.isfinite(t).all() for t in p[4])
    assert guard.total_skipped == 2
    assert runner.message_hub.get_scalar(
        'train/nonfinite_skipped').current() == 2
    log = _read_log(runner)
    assert 'iteration 2: update skipped (non-finite loss terms: loss_cls' \
        in log
    assert 'iteration 4: update skipped (non-finite loss terms: loss_box' \
        in log


def test_momentum_does_not_carry_a_skipped_step(tmp_path):
    """SGD's momentum buffer is not advanced by a skipped step: training
    [ok, NaN, ok] equals training [ok, ok] (the NaN step removed)."""
    runner, _, snap = _train(tmp_path / 'a', [(OK, OK), (OK, NAN), (OK, OK)])
    runner.train()
    # the reference sees samples 1 and 3 of the other run
    ref_runner, _, ref_snap = _train(
        tmp_path / 'b', [(OK, OK), (OK, OK)], xs=[1, 3])
    ref_runner.train()
    for a, b in zip(snap.params[-1], ref_snap.params[-1]):
        assert torch.equal(a, b)


def test_consecutive_non_finite_steps_stop_the_run(tmp_path):
    runner, guard, snap = _train(
        tmp_path, [(OK, OK), (OK, NAN), (INF, OK), (OK, NAN), (OK, OK)],
        max_consecutive=3)
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    assert '3 consecutive training steps' in message
    assert 'loss_cls' in message and 'loss_box' in message
    assert 'Parameters are those of iteration 1' in message
    # the weights are still those after iteration 1
    for kept, now in zip(snap.params[0], runner.model.parameters()):
        assert torch.equal(kept, now.detach())
    assert guard.total_skipped == 3


def test_max_consecutive_must_be_positive():
    with pytest.raises(ValueError, match='max_consecutive'):
        NonFiniteLossHook(max_consecutive=0)


def test_non_finite_gradient_with_finite_loss_is_skipped(tmp_path):
    """A finite loss whose gradient is not: d sqrt(u)/du at u = 0 is Inf,
    times 0 gives NaN gradients while the loss is 0."""

    class _Sqrt(_ToyDetector):

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(torch.stack(inputs))  # (B, 1)
            if mode != 'loss':
                return out
            return dict(loss_sqrt=(out * 0).sqrt().mean())

    runner, guard, snap = _train(
        tmp_path, [(OK, OK), (OK, OK)], model_cls=_Sqrt)
    runner.train()
    assert guard.total_skipped == 2
    assert runner.message_hub.get_scalar('train/loss').current() == 0
    initial = snap.params[0]
    for before, after in zip(initial, snap.params[1]):
        assert torch.equal(before, after)


# ----------------------------------------------------------------------
# BatchNorm statistics and the EMA copy (the shipped EMA settings)
# ----------------------------------------------------------------------
class _BNDetector(BaseModel):
    """``inputs * factor -> BatchNorm1d(2) -> mean over L -> Linear(2, 1)``;
    a NaN ``factor`` is a NaN image: it reaches the running statistics."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(2)
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)  # (B, 2, L)
        if mode == 'loss':
            x = x * torch.tensor(data_samples['box']).view(-1, 1, 1)
        out = self.linear(self.norm(x).mean(2))  # (B, 1)
        if mode != 'loss':
            return out
        return dict(loss_box=out.pow(2).mean())


class _StateSnapshots(Hook):
    """Copies the model's and the EMA copy's whole state (parameters,
    buffers, the EMA step count) after every iteration."""
    priority = 'LOWEST'

    def __init__(self):
        self.model, self.ema = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        from mmengine.hooks import EMAHook
        ema = next(h for h in runner.hooks if isinstance(h, EMAHook))
        self.model.append({k: v.detach().clone() for k, v in
                           runner.model.state_dict().items()})
        self.ema.append({k: v.detach().clone() for k, v in
                         ema.ema_model.state_dict().items()})


def _shipped_ema_hook(ema_type='EMAHook'):
    """The EMA hook of configs/_base_/schedules/adamw_200e.py, as shipped."""
    from mmengine.config import Config

    from tests.utils.scripts import REPO_ROOT
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/schedules/adamw_200e.py'))
    hook = next(dict(h) for h in cfg.custom_hooks if 'EMA' in h['type'])
    assert (hook['ema_type'], hook['update_buffers']) == ('ExpMomentumEMA',
                                                          True)
    hook['type'] = ema_type
    return hook


def _train_bn(work_dir, factors, xs, ema_type='EMAHook'):
    torch.manual_seed(0)
    data = [dict(inputs=torch.tensor([[1.0, x, -x], [x * x, 0.5, 2.0]]),
                 data_samples=dict(box=factor))
            for x, factor in zip(xs, factors)]
    snapshots = _StateSnapshots()
    runner = _one_epoch_runner(
        work_dir, _BNDetector(), data,
        dict(type='AdamW', lr=0.05, weight_decay=0.05),
        [NonFiniteLossHook(), _shipped_ema_hook(ema_type), snapshots],
        default_hooks=dict(checkpoint=None),
        default_scope='mmioc_rtvp',
        experiment_name=f'nonfinite_bn_{work_dir.name}')
    return runner, snapshots


def _assert_same_state(a, b, what):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f'{what}: {key} differs'


def test_nan_step_leaves_batchnorm_and_ema_unchanged(tmp_path):
    """A NaN image at iteration 2: after it, the BatchNorm running mean,
    variance and batch count, the EMA parameters, the EMA buffers and the
    EMA step count are exactly those after iteration 1; and the run [ok,
    NaN, ok] ends exactly as [ok, ok] (the NaN step removed)."""
    from mmioc_rtvp.engine.hooks import GuardedEMAHook
    runner, snap = _train_bn(tmp_path / 'a', [OK, NAN, OK], xs=[1, 2, 3])
    runner.train()
    assert any(isinstance(h, GuardedEMAHook) for h in runner.hooks)
    assert snap.ema[0]['steps'] == 1  # iteration 1 was averaged
    _assert_same_state(snap.model[0], snap.model[1], 'model')
    _assert_same_state(snap.ema[0], snap.ema[1], 'EMA')
    assert 'module.norm.running_var' in snap.ema[1]
    assert not torch.equal(snap.model[1]['norm.running_mean'],
                           snap.model[2]['norm.running_mean'])
    assert all(torch.isfinite(v).all() for v in snap.ema[2].values())
    ref_runner, ref = _train_bn(tmp_path / 'b', [OK, OK], xs=[1, 3])
    ref_runner.train()
    _assert_same_state(snap.model[-1], ref.model[-1], 'model vs [ok, ok]')
    _assert_same_state(snap.ema[-1], ref.ema[-1], 'EMA vs [ok, ok]')


def test_mmengine_ema_hook_would_move_on_a_nan_step(tmp_path):
    """Control: MMEngine's own EMAHook averages the skipped step in (its
    step count advances), which the guarded hook prevents."""
    runner, snap = _train_bn(tmp_path, [OK, NAN, OK], xs=[1, 2, 3],
                             ema_type='mmengine.EMAHook')
    runner.train()
    assert snap.ema[1]['steps'] == snap.ema[0]['steps'] + 1
    # the model's own statistics are restored by the guard all the same
    _assert_same_state(snap.model[0], snap.model[1], 'model')


def test_nan_loss_without_guard_would_poison_batchnorm():
    """Control: without the restore, a NaN forward pass leaves NaN running
    statistics in BatchNorm (what the guard undoes)."""
    from mmioc_rtvp.engine.hooks import (restore_buffers,
                                         snapshot_training_buffers)
    model = _BNDetector().train()
    saved = snapshot_training_buffers(model)
    assert {name for _, name, _ in saved} == {
        'running_mean', 'running_var', 'num_batches_tracked'}
    model([torch.full((2, 3), float('nan'))], dict(box=[1.0]), mode='loss')
    assert torch.isnan(model.norm.running_mean).all()
    restore_buffers(saved)
    assert torch.equal(model.norm.running_mean, torch.zeros(2))
    assert int(model.norm.num_batches_tracked) == 0
