# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Checkpoints written by MMIOCRunner load and resume with weights_only=True."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from torch.utils.data import Dataset

import mmioc_rtvp.registry  # noqa: F401  (allow-lists numpy types)
from mmioc_rtvp.engine import (MMIOCRunner, history_buffers_to_plain,
                               plain_to_history_buffers)


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(inputs)
        if mode == 'loss':
            labels = torch.stack(labels) if isinstance(labels, list) else labels
            return dict(loss=((out.squeeze(-1) - labels)**2).mean())
        return out


class ToyData(Dataset):
    metainfo = dict(classes=('a', ), palette=np.array([[1, 2, 3]]))

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        return dict(inputs=torch.rand(2, generator=g), labels=torch.tensor(1.))


def _runner_cfg(work_dir, **kwargs):
    cfg = dict(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1)),
        experiment_name=f'toy_{os.path.basename(str(work_dir))}',
        default_scope='mmioc_rtvp',
        randomness=dict(seed=1),
    )
    cfg.update(kwargs)
    return cfg


def _runner(work_dir, **kwargs):
    return MMIOCRunner(**_runner_cfg(work_dir, **kwargs))



def test_history_buffer_round_trip():
    buf = HistoryBuffer([1.0, 2.0, 4.0], [1, 1, 2], max_length=10)
    state = dict(log_scalars=dict(loss=buf), runtime_info={}, resumed_keys={})
    plain = history_buffers_to_plain(state)
    assert isinstance(plain['log_scalars']['loss'], dict)
    # plain data is picklable without any mmengine global
    data = pickle.dumps(plain)
    assert b'HistoryBuffer' not in data and b'getattr' not in data
    restored = plain_to_history_buffers(pickle.loads(data))
    new = restored['log_scalars']['loss']
    assert isinstance(new, HistoryBuffer)
    assert new.max_length == 10
    np.testing.assert_array_equal(new.data[0], [1.0, 2.0, 4.0])
    np.testing.assert_array_equal(new.data[1], [1, 1, 2])
    assert new.mean() == pytest.approx(buf.mean())


def test_checkpoint_loads_with_weights_only_and_resumes(tmp_path):
    runner = _runner(tmp_path / 'a')
    runner.train()
    ckpt = tmp_path / 'a' / 'epoch_2.pth'
    assert ckpt.exists()
    # the default of torch >= 2.6, stated explicitly so the test means it
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert state['meta']['epoch'] == 2
    assert 'train/loss' in state['message_hub']['log_scalars']

    # resume: the message hub comes back as HistoryBuffers
    runner2 = _runner(
        tmp_path / 'b',
        train_cfg=dict(by_epoch=True, max_epochs=3),
        load_from=str(ckpt),
        resume=True)
    runner2.train()
    assert runner2.epoch == 3
    hub_loss = runner2.message_hub.get_scalar('train/loss')
    assert isinstance(hub_loss, HistoryBuffer)
    # 2 epochs x 2 iterations before the resume + 2 after it
    assert len(hub_loss.data[0]) == 6


def test_plain_mmengine_runner_checkpoint_is_refused(tmp_path):
    """The control: what PlainMessageHubHook fixes is a real failure."""
    from mmengine.runner import Runner
    cfg = _runner_cfg(tmp_path / 'c')
    runner = Runner(**cfg)
    runner.train()
    with pytest.raises(pickle.UnpicklingError, match='Weights only load'):
        torch.load(
            tmp_path / 'c' / 'epoch_2.pth', map_location='cpu',
            weights_only=True)


class _Arbitrary:
    """Any object that is not plain data."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_arbitrary_object_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(x=_Arbitrary())), path)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load'):
        torch.load(path, weights_only=True)
    # builtins.getattr (what HistoryBuffer pickles need) is not allow-listed
    torch.save(dict(hub=HistoryBuffer([1.0], [1])), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
