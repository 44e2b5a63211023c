# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ExactResumeEpochBasedTrainLoop: resuming from a mid-epoch checkpoint
gives the weights of the uninterrupted run, where MMEngine's loop does not.

A toy model whose data and forward both draw random numbers (an augmenting
dataset, dropout) and momentum SGD; in-process runs of a few iterations.
The real thing (SIGKILL, ``--resume``, RTVPNet, 2 gloo processes) is
tests/test_integration/test_kill_resume.py.
"""
import random
import shutil

import numpy as np
import torch
from mmengine.model import BaseModel

from mmioc_rtvp.engine.runner import (ExactResumeEpochBasedTrainLoop,
                                      MMIOCRunner, seed_everything_for)


class _Jitter(torch.utils.data.Dataset):
    """8 samples; each read adds Python- and NumPy-random noise."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        noise = random.random() + float(np.random.rand())
        return dict(inputs=torch.full((4, ), float(i) + noise))


class _Dropout(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(self.drop(torch.stack(inputs)))
        if mode == 'loss':
            return dict(loss=(out - 1).pow(2).mean())
        return out


def _runner(work_dir, loop, max_epochs=2, resume=False, num_workers=0,
            persistent_workers=False):
    torch.manual_seed(123)  # the same initial weights in every run
    # MMIOCRunner: its checkpoints load with weights_only=True
    return MMIOCRunner(
        model=_Dropout(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_Jitter(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'),
            batch_size=2,
            num_workers=num_workers,
            persistent_workers=persistent_workers and num_workers > 0),
        train_cfg=dict(type=loop, max_epochs=max_epochs),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook', by_epoch=False, interval=2,
                max_keep_ckpts=-1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmioc_rtvp',
        resume=resume,
        load_from=None,
        experiment_name=f'{loop}_{work_dir.name}_{resume}')


def _final_and_resumed(tmp_path, loop, checkpoint='iter_6.pth', **kwargs):
    """(reference, resumed) runners: the resumed one continues from a copy
    of the reference's checkpoint (iteration 6: in epoch 2, after its batch
    2 of 4), as a run killed after it would."""
    ref = _runner(tmp_path / 'ref', loop, **kwargs)
    ref.train()
    work = tmp_path / 'resumed'
    work.mkdir()
    shutil.copy(tmp_path / 'ref' / checkpoint, work / checkpoint)
    (work / 'last_checkpoint').write_text(str(work / checkpoint))
    resumed = _runner(work, loop, resume=True, **kwargs)
    resumed.train()
    return ref, resumed


def test_mid_epoch_resume_is_exact(tmp_path):
    ref, resumed = _final_and_resumed(tmp_path,
                                      'ExactResumeEpochBasedTrainLoop')
    assert resumed.iter == ref.iter == 8
    for a, b in zip(ref.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_mmengine_loop_is_not_exact(tmp_path):
    """The control: the parent loop trains the first batches of epoch 2
    again and draws other random numbers."""
    ref, resumed = _final_and_resumed(tmp_path, 'EpochBasedTrainLoop')
    assert (ref.iter, resumed.iter) == (8, 10)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(ref.model.parameters(), resumed.model.parameters()))


def test_seeds_are_a_function_of_the_key():
    seed_everything_for(7, 1, 42)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    random.random(), np.random.rand(), torch.rand(3)  # anything in between
    seed_everything_for(7, 1, 42)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    seed_everything_for(7, 1, 43)
    assert random.random() != first[0]
    seed_everything_for(7, 1, 42, rank=1)
    assert random.random() != first[0]


def test_loop_is_registered():
    from mmioc_rtvp.registry import LOOPS
    assert LOOPS.get('ExactResumeEpochBasedTrainLoop') is \
        ExactResumeEpochBasedTrainLoop


def test_epoch_boundary_resume_is_exact(tmp_path):
    """A checkpoint at the end of epoch 1 (iteration 4)."""
    ref, resumed = _final_and_resumed(
        tmp_path, 'ExactResumeEpochBasedTrainLoop', checkpoint='iter_4.pth')
    for a, b in zip(ref.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


class _Recorder(torch.utils.data.Dataset):
    """The noise a worker draws for each sample (no other state)."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return float(np.random.rand()) + random.random()


def test_mid_epoch_resume_is_exact_with_worker_processes(tmp_path):
    """Two data-loader worker processes, started anew every epoch (the
    shipped ``persistent_workers=False``): the resumed run equals the
    uninterrupted one."""
    ref, resumed = _final_and_resumed(
        tmp_path, 'ExactResumeEpochBasedTrainLoop', num_workers=2)
    assert resumed.iter == ref.iter == 8
    for a, b in zip(ref.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_workers_draw_other_numbers_every_epoch():
    """The loop seeds workers from (seed, epoch, rank, worker id):
    MMEngine's worker_init_fn gave a worker the same stream every epoch."""
    from functools import partial

    from mmioc_rtvp.engine.runner.exact_resume_train_loop import _seed_worker

    def draws(epoch):
        loader = torch.utils.data.DataLoader(
            _Recorder(), batch_size=2, num_workers=2,
            worker_init_fn=partial(_seed_worker, seed=0, epoch=epoch,
                                   rank=None))
        return [x.tolist() for x in loader]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_persistent_workers_are_warned_about(tmp_path):
    import glob
    runner = _runner(tmp_path, 'ExactResumeEpochBasedTrainLoop',
                     max_epochs=1, num_workers=1, persistent_workers=True)
    runner.train()
    with open(glob.glob(f'{runner.log_dir}/*.log')[0]) as f:
        assert 'persistent_workers=True keeps the data-loader workers' \
            in f.read()
