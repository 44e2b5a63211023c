# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOCRunner's checkpoints are written atomically, and --resume never
picks a file cut off while it was written, nor a torn ``last_checkpoint``.
(A job killed during a checkpoint write, end to end:
tests/test_integration/test_kill_resume.py.)"""
import os
import os.path as osp

import pytest
import torch

from mmioc_rtvp.engine.runner.mmioc_runner import (find_complete_checkpoint,
                                                   is_complete_checkpoint)


def _save(path, value, mtime):
    torch.save(dict(state_dict=dict(w=torch.tensor([value]))), path)
    os.utime(path, (mtime, mtime))
    return str(path)


@pytest.fixture
def work_dir(tmp_path):
    """iter_3 and iter_6 complete; iter_9 cut off half-way through."""
    _save(tmp_path / 'iter_3.pth', 3.0, 1000)
    _save(tmp_path / 'iter_6.pth', 6.0, 2000)
    whole = _save(tmp_path / 'whole_9.pth', 9.0, 3000)
    with open(whole, 'rb') as f:
        data = f.read()
    os.remove(whole)
    (tmp_path / 'iter_9.pth').write_bytes(data[:len(data) // 2])
    os.utime(tmp_path / 'iter_9.pth', (3000, 3000))
    # a temporary file of an interrupted atomic write: never a candidate
    (tmp_path / 'iter_12.pth.part').write_bytes(data)
    return tmp_path


def test_truncated_checkpoint_is_not_complete(work_dir):
    assert is_complete_checkpoint(str(work_dir / 'iter_6.pth'))
    assert not is_complete_checkpoint(str(work_dir / 'iter_9.pth'))
    assert not is_complete_checkpoint(str(work_dir / 'missing.pth'))
    (work_dir / 'empty.pth').write_bytes(b'')
    assert not is_complete_checkpoint(str(work_dir / 'empty.pth'))


@pytest.mark.parametrize('marker, expected', [
    (None, 'iter_6.pth'),  # no marker: the newest complete
    ('{dir}/iter_3.pth', 'iter_3.pth'),  # what it names, when complete
    ('{dir}/iter_9.pth', 'iter_6.pth'),  # torn checkpoint
    ('{dir}/iter_', 'iter_6.pth'),  # torn marker (cut mid-path)
    ('', 'iter_6.pth'),  # marker emptied by open() before the write
    ('{dir}/deleted.pth', 'iter_6.pth'),  # removed by max_keep_ckpts
])
def test_resume_picks_a_complete_checkpoint(work_dir, marker, expected):
    if marker is not None:
        (work_dir / 'last_checkpoint').write_text(
            marker.format(dir=work_dir))
    assert osp.basename(find_complete_checkpoint(str(work_dir))) == expected


def test_no_complete_checkpoint_gives_none(tmp_path):
    (tmp_path / 'iter_3.pth').write_bytes(b'PK\x03\x04 cut')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_3.pth'))
    assert find_complete_checkpoint(str(tmp_path)) is None


def test_runner_writes_checkpoints_atomically(tmp_path):
    """The checkpoint appears under its name only once whole: the write
    goes to ``<name>.part``, then a rename."""
    from tests.test_engine.test_exact_resume_train_loop import _runner
    runner = _runner(tmp_path, 'ExactResumeEpochBasedTrainLoop',
                     max_epochs=1)
    seen = []

    real_replace = os.replace

    def spy(src, dst):  # observes the rename (os is not the code under test)
        seen.append((osp.basename(src), osp.basename(dst),
                     is_complete_checkpoint(src), osp.exists(dst)))
        return real_replace(src, dst)

    mp = pytest.MonkeyPatch()
    mp.setattr(os, 'replace', spy)
    try:
        runner.train()
    finally:
        mp.undo()
    assert seen and all(src == dst + '.part' and whole and not existed
                        for src, dst, whole, existed in seen)
    assert not any(n.endswith('.part') for n in os.listdir(tmp_path))
