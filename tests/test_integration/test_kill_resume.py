# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A training job killed at any moment - in an iteration, or while a
checkpoint is being written - and resumed with ``--resume`` ends with the
weights of a run that was never interrupted, bit for bit, with the shipped
data-loader settings.

RTVPNet-S-mini (random EDP block masks, mosaic + random affine, EMA, the
mosaic switched off for the last epoch) at 96 px on 8 MMIOC-mini images per
process, 2 epochs of 4 iterations, a checkpoint every 3 iterations, 2
data-loader worker processes per process with the shipped
``persistent_workers`` (False: docs/reliability.md). Each job is killed
twice at seeded moments, then resumed to the end:

1. while the checkpoint of iteration 6 is written, cut off after a seeded
   number of bytes (a file back-end of this test writes them and stalls):
   no ``iter_6.pth`` may appear, and resume starts from iteration 3;
2. after a seeded iteration (4, 5 or 7);
3. resumed to iteration 8 and compared with the uninterrupted run.

A kill takes the whole job - the launcher, torchrun's workers (which live
in sessions of their own) and every data-loader worker - and the test
checks that none of them is left. With 1 process (slim checkpoints) and 2
gloo processes (``tools/dist_train.sh``, full checkpoints). The runs have
different ``PYTHONHASHSEED``s. The in-process tests are
tests/test_engine/test_exact_resume_train_loop.py and
tests/test_engine/test_atomic_checkpoint.py.
"""
import os
import os.path as osp
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

LAST_ITER = 8

CONFIG = f"""
_base_ = {osp.join(REPO_ROOT, 'configs', 'rtvpnet_s_mini.py')!r}
img_scale = (96, 96)
mosaic = [
    dict(_base_.mosaic_affine_transform[0], img_scale=img_scale),
    dict(_base_.mosaic_affine_transform[1], border=(-48, -48)),
]
no_mosaic = [
    dict(_base_.keep_ratio_affine_transform[0], scale=img_scale),
    dict(_base_.keep_ratio_affine_transform[1], scale=img_scale),
    _base_.keep_ratio_affine_transform[2],
]
train_pipeline = [*_base_.pre_transform, *mosaic, *_base_.last_transform,
                  *_base_.text_transform]
train_pipeline_stage2 = [*_base_.pre_transform, *no_mosaic,
                         *_base_.last_transform, *_base_.text_transform]
# the shipped persistent_workers (not overridden), with worker processes
train_dataloader = dict(
    batch_size=2, num_workers=2,
    dataset=dict(dataset=dict(indices={{indices}}), pipeline=train_pipeline))
train_cfg = dict(type='ExactResumeEpochBasedTrainLoop', max_epochs=2,
                 val_interval=100, dynamic_intervals=None)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=3, save_best=None,
                    max_keep_ckpts=-1, save_last=True,
                    backend_args=dict(backend='torn_local')))
custom_hooks = [
    _base_.custom_hooks[0],  # EMA
    dict(_base_.custom_hooks[1], num_last_epochs=1),  # mosaic off in epoch 2
    {{slim_hook}},
    dict(type='StallAfterIterHook'),
]
randomness = dict(seed=0, deterministic=True)
custom_imports = dict(imports=['kill_points'], allow_failed_imports=False)
"""

# the test's fault injection, imported by the config (custom_imports); it
# acts only when the test's environment variables ask for it
KILL_POINTS = '''
import os
import time

from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import Hook

from mmioc_rtvp.registry import HOOKS

MARKER = os.environ.get('KILL_MARKER', '')


def _wait_for_the_kill(rank):
    open(f'{MARKER}.{rank}', 'w').close()
    time.sleep(600)


@HOOKS.register_module(force=True)
class StallAfterIterHook(Hook):
    """After iteration $STALL_AFTER, say so and wait for the SIGKILL."""
    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if str(runner.iter + 1) == os.environ.get('STALL_AFTER'):
            _wait_for_the_kill(runner.rank)


class TornLocalBackend(LocalBackend):
    """Writes a file named $TORN_FILE (or its temporary name) only up to
    the fraction $TORN_FRACTION of its bytes, then waits for the SIGKILL."""

    def put(self, obj, filepath):
        name = os.environ.get('TORN_FILE')
        if name and os.path.basename(str(filepath)).startswith(name):
            cut = int(len(obj) * float(os.environ['TORN_FRACTION']))
            with open(filepath, 'wb') as f:
                f.write(obj[:cut])
                f.flush()
                os.fsync(f.fileno())
            _wait_for_the_kill(0)
        super().put(obj, filepath)


register_backend('torn_local', TornLocalBackend, force=True)
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(tmp_path, hash_seed, **faults):
    return dict(
        {k: v for k, v in os.environ.items()
         if k not in ('STALL_AFTER', 'TORN_FILE', 'TORN_FRACTION')},
        PYTHONPATH=os.pathsep.join([REPO_ROOT, str(tmp_path)]),
        OMP_NUM_THREADS='1',
        PYTHONHASHSEED=str(hash_seed),
        PYTHON=sys.executable,
        PORT=str(_free_port()),
        **{k: str(v) for k, v in faults.items()})


def _command(config, work_dir, nproc, *extra):
    if nproc == 1:
        return [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'),
                config, '--work-dir', work_dir, *extra]
    return ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config,
            str(nproc), '--work-dir', work_dir, *extra]


def _run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{out[-4000:]}'
    return out


# ----------------------------------------------------------------------
# the whole job: every descendant, whatever its session
# ----------------------------------------------------------------------
def _children_map():
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _descendants(pid):
    """``pid`` and all its descendants (torchrun's workers included: a new
    session does not change the parent)."""
    children, found, todo = _children_map(), [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def _alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _kill_job(proc):
    """Freeze the job's tree (SIGSTOP: nothing forks or exits meanwhile),
    then SIGKILL every process and process group of it; wait until none is
    left. Returns the pids killed."""
    own = os.getpgrp()
    pids = []
    for _ in range(3):  # until the frozen tree stops growing
        more = [p for p in _descendants(proc.pid) if p not in pids]
        if not more:
            break
        for pid in more:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        pids += more
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    for group in groups - {own}:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)
    deadline = time.time() + 60
    while any(_alive(p) for p in pids):
        assert time.time() < deadline, 'processes of the job survived'
        time.sleep(0.1)
    return pids


def _run_and_kill(cmd, cwd, env, markers, log):
    """Start ``cmd`` in a session of its own; kill the whole job once
    every marker exists (the job then waits at its kill point)."""
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.time() + 600
        try:
            while not all(osp.exists(m) for m in markers):
                if proc.poll() is not None:
                    with open(log) as f:
                        pytest.fail('the run ended before the kill point:\n'
                                    + f.read()[-4000:])
                assert time.time() < deadline, 'kill point not reached'
                time.sleep(0.2)
        finally:
            killed = _kill_job(proc)
    for marker in markers:
        os.remove(marker)
    # the launcher, its workers (torchrun) and the data-loader workers
    assert len(killed) >= 1 + 2 * (len(markers) if markers else 1)
    return killed


def _weights(path):
    from mmioc_rtvp.utils.checkpoint_safety import \
        register_numpy_safe_globals
    register_numpy_safe_globals()  # what the package does when imported
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    return ckpt['meta']['iter'], ckpt['state_dict'], ckpt['ema_state_dict']


def _write_config(tmp_path, nproc, slim):
    (tmp_path / 'kill_points.py').write_text(textwrap.dedent(KILL_POINTS))
    # full checkpoints: the slim hook told to leave nothing out
    slim_hook = "dict(type='SlimCheckpointHook'%s)" % ('' if slim else
                                                       ', modules=[]')
    text = CONFIG.replace('{indices}', str(8 * nproc)).replace(
        '{slim_hook}', slim_hook)
    path = tmp_path / f'config_{nproc}.py'
    path.write_text(text)
    return str(path)


def _kill_twice_resume_and_compare(workspace, tmp_path, nproc, slim, seed):
    rng = random.Random(seed)
    fraction = round(rng.uniform(0.05, 0.95), 3)
    stall_after = rng.choice([4, 5, 7])
    config = _write_config(tmp_path, nproc, slim)
    ref_dir = str(tmp_path / 'reference')
    _run(_command(config, ref_dir, nproc), workspace, _env(tmp_path, 1))

    work_dir = str(tmp_path / 'killed')
    marker = str(tmp_path / 'at_kill_point')
    ranks = [f'{marker}.{r}' for r in range(nproc)]
    # 1. killed while the checkpoint of iteration 6 is written
    _run_and_kill(
        _command(config, work_dir, nproc), workspace,
        _env(tmp_path, 2, KILL_MARKER=marker, TORN_FILE='iter_6.pth',
             TORN_FRACTION=fraction),
        [ranks[0]], f'{marker}_1.log')
    files = os.listdir(work_dir)
    assert 'iter_6.pth' not in files and 'iter_6.pth.part' in files, files
    assert 'iter_3.pth' in files
    # 2. resumed (from iteration 3), killed after a seeded iteration
    _run_and_kill(
        _command(config, work_dir, nproc, '--resume'), workspace,
        _env(tmp_path, 3, KILL_MARKER=marker, STALL_AFTER=stall_after),
        ranks, f'{marker}_2.log')
    with open(f'{marker}_2.log') as f:
        assert 'resumed epoch: 0, iter: 3' in f.read()
    # 3. resumed to the end
    out = _run(_command(config, work_dir, nproc, '--resume'), workspace,
               _env(tmp_path, 4))
    resumed = ('resumed epoch: 1, iter: 6' if stall_after == 7 else
               'resumed epoch: 0, iter: 3')
    assert resumed in out and 'Epoch(train) [2][4/4]' in out

    ref_iter, ref_state, ref_ema = _weights(
        osp.join(ref_dir, f'iter_{LAST_ITER}.pth'))
    got_iter, got_state, got_ema = _weights(
        osp.join(work_dir, f'iter_{LAST_ITER}.pth'))
    assert ref_iter == got_iter == LAST_ITER
    assert any('text_model' in k for k in got_state) != slim
    assert set(got_state) == set(ref_state) and got_state
    assert set(got_ema) == set(ref_ema) and got_ema
    for key, value in got_state.items():
        assert torch.equal(value, ref_state[key]), key
    for key, value in got_ema.items():
        assert torch.equal(value, ref_ema[key]), key
    # no process of any run outlives the test
    leftovers = []
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                if str(tmp_path).encode() in f.read() and _alive(entry):
                    leftovers.append(entry)
        except OSError:
            pass
    assert not leftovers, f'processes left: {leftovers}'
    return fraction, stall_after


def test_kill_twice_and_resume_one_process(mini_workspace, tmp_path):
    _kill_twice_resume_and_compare(mini_workspace, tmp_path, 1, True,
                                   seed=1)


def test_kill_twice_and_resume_two_gloo_processes(mini_workspace, tmp_path):
    _kill_twice_resume_and_compare(mini_workspace, tmp_path, 2, False,
                                   seed=2)
