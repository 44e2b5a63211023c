# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""`make demo`'s script (tools/demo.sh) end to end, one short epoch.

The demo's figures need the full 20 epochs (README); this checks that every
step runs in order and leaves what its summary names: the trained
checkpoint, the unseen-class test (metrics and predictions), the
free-text drawing, the refined-visual-prompt map and the text vs
exemplar-classes drawing.
"""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def test_demo_script_runs_every_step(mini_workspace, tmp_path):
    work_dir = str(tmp_path / 'demo')
    env = dict(
        os.environ,
        PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
        WORK_DIR=work_dir,
        DEMO_CFG_OPTIONS=' '.join([
            'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False'
        ]))
    # run from a directory holding data/mmioc_mini, not from the repo
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', 'demo.sh')],
                          cwd=mini_workspace,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    steps = [out.index(f'== demo {k}/5') for k in range(1, 6)]
    assert steps == sorted(steps), 'steps out of order'
    assert 'skipped' not in out[steps[3]:steps[3] + 200]
    assert 'skipped' not in out[steps[4]:steps[4] + 200]
    summary = out[out.index('== demo summary'):]
    for line in ('unseen bbox_mAP_50', 'seen   bbox_mAP', 'checkpoint'):
        assert line in summary, summary
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert glob.glob(osp.join(work_dir, 'test', '*', '*.json'))
    assert osp.getsize(osp.join(work_dir, 'test', 'predictions.pkl')) > 0
    assert osp.getsize(osp.join(work_dir, 'prediction.jpg')) > 0
    maps = glob.glob(osp.join(work_dir, 'prompt_maps', '*.png'))
    assert maps and f'visual prompt map   : {sorted(maps)[0]}' in summary
    side_by_side = osp.join(work_dir, 'text_vs_exemplars.jpg')
    assert osp.getsize(side_by_side) > 0
    assert f'text vs exemplars   : {side_by_side}' in summary
