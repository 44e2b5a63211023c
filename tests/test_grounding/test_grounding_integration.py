# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""`mim train mmdet configs/grounding/rtvpnet_s_grounding_mini.py` on a
generated MMIOC-mini: 2 iterations, then the unseen/seen evaluation."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from mmioc_rtvp.builders.grounding_check import check_grounding
from tests.test_grounding.test_grounding_check import assert_agreement

pytestmark = pytest.mark.integration

CONFIG = osp.join(REPO_ROOT, 'configs', 'grounding',
                  'rtvpnet_s_grounding_mini.py')
BIN = osp.dirname(sys.executable)


def _load(path):
    with open(path) as f:
        return json.load(f)


def test_generated_mini_expressions_match_exactly_one_box(mini_workspace):
    """On every split of a generated MMIOC-mini, the generator writes a
    caption for a box iff the text-reading checker finds that box is the
    one object it denotes."""
    root = osp.join(mini_workspace, 'data', 'mmioc_mini')
    for split, source in (('train', 'open_train'), ('test_unseen',
                                                    'open_val'),
                          ('test_seen', 'open_val_seen')):
        grounding = _load(osp.join(root, 'grounding', f'{split}.json'))
        data = _load(osp.join(root, 'annotations', f'{source}.json'))
        assert grounding['images'], split
        assert all(ann['image_id'] == rec['id'] for rec, ann in zip(
            grounding['images'], grounding['annotations']))
        assert check_grounding(grounding, data) == []
        assert assert_agreement(data, grounding) > len(grounding['images'])


def test_mim_train_grounding_mini_two_iterations(mini_workspace, tmp_path):
    work_dir = str(tmp_path / 'train')
    cmd = [
        osp.join(BIN, 'mim'), 'train', 'mmdet', CONFIG, '--work-dir',
        work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.indices=8',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'val_dataloader.batch_size=4',
        'val_dataloader.dataset.datasets.0.indices=4',
        'val_dataloader.dataset.datasets.1.indices=4',
        'train_cfg.val_interval=1', 'default_hooks.logger.interval=1'
    ]
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'],
               PYTHON=sys.executable)
    proc = subprocess.run(cmd, cwd=mini_workspace, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'Epoch(train) [1][2/2]' in out
    assert 'loss_rank' in out
    for prefix in ('unseen', 'seen'):
        for key in ('precision@1', 'precision@5', 'precision@10',
                    'mean_iou'):
            assert f'{prefix}/grounding/{key}' in out, (prefix, key)
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
