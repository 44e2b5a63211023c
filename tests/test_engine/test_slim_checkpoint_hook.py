# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""SlimCheckpointHook: frozen file-backed modules leave the checkpoints,
come back from their files, and resuming stays bit-exact."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel

from mmioc_rtvp.engine.hooks.slim_checkpoint_hook import (
    SLIM_META_KEY, SlimCheckpointHook, file_backed_frozen_modules,
    fill_state_dict, frozen_random_modules, strip_state_dict)
from mmioc_rtvp.engine.runner import MMIOCRunner

DIM = 48


class FileEncoder(nn.Module):
    """A frozen encoder whose weights come from ``checkpoint`` (or random
    weights with ``checkpoint=None``), as the text / SAM encoders."""

    def __init__(self, checkpoint=None):
        super().__init__()
        self.frozen = True
        self.checkpoint = checkpoint
        self.fc = nn.Linear(DIM, DIM)
        self.bn = nn.BatchNorm1d(DIM)
        if checkpoint is not None:
            self.load_state_dict(torch.load(checkpoint, weights_only=True))
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode=True):
        return super().train(False)

    def forward(self, x):
        return torch.relu(self.bn(self.fc(x)))


class ToyDetector(BaseModel):
    """Frozen file-backed encoder -> frozen random encoder -> trained head."""

    def __init__(self, encoder_file):
        super().__init__()
        self.encoder = FileEncoder(encoder_file)
        self.random_encoder = FileEncoder(None)
        self.head = nn.Linear(DIM, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.head(self.random_encoder(self.encoder(inputs)))
        if mode == 'loss':
            return dict(loss=((out - data_samples)**2).mean())
        return out


class Points(torch.utils.data.Dataset):

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, DIM, generator=gen)
        self.y = torch.randn(16, 1, generator=gen)

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return dict(inputs=self.x[i], data_samples=self.y[i])


@pytest.fixture(scope='module')
def encoder_file(tmp_path_factory):
    torch.manual_seed(1)
    enc = FileEncoder(None)
    with torch.no_grad():
        enc.bn.running_mean.normal_()
        enc.bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp('enc') / 'encoder.pth'
    torch.save(enc.state_dict(), path)
    return str(path)


def build_runner(work_dir, encoder_file, max_epochs=2, resume=False):
    torch.manual_seed(2)
    return MMIOCRunner(
        model=ToyDetector(encoder_file),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Points(),
            sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
            batch_size=4,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(
            optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=[
            # as configs/_base_/schedules/adamw_200e.py
            dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.01,
                 update_buffers=True, strict_load=False, priority=49)
        ],
        randomness=dict(seed=0),
        default_scope='mmioc_rtvp',
        resume=resume,
        load_from=(osp.join(str(work_dir), 'epoch_1.pth')
                   if resume else None))


def ema_model(runner):
    return next(h.ema_model for h in runner.hooks if hasattr(h, 'ema_model'))


def test_detection_of_file_backed_frozen_modules(encoder_file):
    model = ToyDetector(encoder_file)
    assert file_backed_frozen_modules(model) == {'encoder': encoder_file}
    assert frozen_random_modules(model) == ['random_encoder']
    model.encoder.fc.weight.requires_grad_(True)  # fine-tuned: kept
    assert file_backed_frozen_modules(model) == {}


def test_strip_and_fill_state_dicts(encoder_file):
    model = ToyDetector(encoder_file)
    state = model.state_dict()
    ema = {f'module.{k}': v.clone() for k, v in state.items()}
    # fc weight/bias, bn weight/bias/running mean/var/num_batches_tracked
    assert strip_state_dict(state, ['encoder']) == 7
    assert strip_state_dict(ema, ['encoder'], 'module.') == 7
    assert not any(k.startswith('encoder.') for k in state)
    assert 'random_encoder.fc.weight' in state
    assert fill_state_dict(ema, model, ['encoder'], 'module.') == 7
    torch.testing.assert_close(ema['module.encoder.bn.running_var'],
                               model.encoder.bn.running_var, rtol=0, atol=0)


def test_slim_checkpoints_and_exact_resume(tmp_path, encoder_file):
    full = build_runner(tmp_path / 'full', encoder_file)
    assert any(isinstance(h, SlimCheckpointHook) for h in full.hooks)
    full.train()

    ckpt = torch.load(tmp_path / 'full' / 'epoch_1.pth', weights_only=True)
    assert not any(k.startswith('encoder.') for k in ckpt['state_dict'])
    assert not any(
        k.startswith('module.encoder.') for k in ckpt['ema_state_dict'])
    # the random frozen encoder cannot be rebuilt: it stays
    assert 'random_encoder.fc.weight' in ckpt['state_dict']
    assert ckpt['meta'][SLIM_META_KEY]['modules'] == {
        'encoder': encoder_file
    }
    # the EMA copy of the frozen encoder is pinned to its file's weights,
    # also after an EMA update that drifted by an ulp (x(1-m) + mx != x)
    hook = next(h for h in full.hooks if isinstance(h, SlimCheckpointHook))
    ema_encoder = ema_model(full).module.encoder
    with torch.no_grad():
        ema_encoder.fc.weight.mul_(1 + 2**-20)
        ema_encoder.bn.running_var.add_(1e-6)
    hook.after_train_iter(full, 0)
    file_state = torch.load(encoder_file, weights_only=True)
    ema_state = ema_encoder.state_dict()
    for key, value in file_state.items():
        assert torch.equal(ema_state[key], value), key

    # resume from epoch 1 in another work dir: bit-identical at epoch 2
    resumed_dir = tmp_path / 'resumed'
    resumed_dir.mkdir()
    (resumed_dir / 'epoch_1.pth').write_bytes(
        (tmp_path / 'full' / 'epoch_1.pth').read_bytes())
    resumed = build_runner(resumed_dir, encoder_file, resume=True)
    resumed.train()
    assert resumed.epoch == full.epoch == 2
    for a, b in ((full.model, resumed.model),
                 (ema_model(full), ema_model(resumed))):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key


def test_full_checkpoints_with_an_empty_module_list(tmp_path, encoder_file):
    runner = build_runner(tmp_path, encoder_file, max_epochs=1)
    runner.register_hook(SlimCheckpointHook(modules=[]))
    runner.hooks.remove(
        next(h for h in runner.hooks
             if isinstance(h, SlimCheckpointHook) and h.modules is None))
    runner.train()
    ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    assert 'encoder.fc.weight' in ckpt['state_dict']
    assert SLIM_META_KEY not in ckpt['meta']


def test_strict_ema_loading_is_refused(tmp_path, encoder_file):
    runner = build_runner(tmp_path, encoder_file, max_epochs=1)
    next(h for h in runner.hooks if hasattr(h, 'strict_load')).strict_load = True
    with pytest.raises(ValueError, match='strict_load=False'):
        runner.train()
