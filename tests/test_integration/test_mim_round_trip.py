# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Real `mim train` / `mim test` / `tools/dist_train.sh` runs on MMIOC-mini.

A handful of iterations each, on the session's small generated dataset:
train with `mim train mmdet CONFIG`, evaluate the saved checkpoint with
`mim test mmdet`, resume with `mim train mmioc_rtvp CONFIG_NAME` (the config
found inside the installed package), and train with 2 CPU processes (gloo).
"""
import glob
import json
import os
import os.path as osp
import pickle
import re
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

# the main job (`make demo`) and the open-vocabulary baseline
CONFIG = osp.join(REPO_ROOT, 'configs', 'rtvpnet_s_mini.py')
BASELINE = osp.join(REPO_ROOT, 'configs', 'baselines',
                    'yolo_world_s_open_mini.py')
BIN = osp.dirname(sys.executable)
FAST = [
    'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'val_dataloader.batch_size=4',
    'train_cfg.val_interval=1',
    'default_hooks.checkpoint.interval=1',
    'default_hooks.logger.interval=1',
]


def _run(cmd, cwd, timeout=900):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'],
               PYTHON=sys.executable)
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{out[-4000:]}'
    return out


def _num_train_images(workspace):
    path = osp.join(workspace, 'data', 'mmioc_mini', 'annotations',
                    'open_train.json')
    with open(path) as f:
        return len(json.load(f)['images'])


def test_mim_train_test_resume(mini_workspace, tmp_path):
    work_dir = str(tmp_path / 'train')
    # 1. train 2 epochs through mmdet's entry point
    out = _run([
        osp.join(BIN, 'mim'), 'train', 'mmdet', CONFIG, '--work-dir',
        work_dir, '--cfg-options', 'train_cfg.max_epochs=2', *FAST
    ], mini_workspace)
    iters = -(-_num_train_images(mini_workspace) // 4)
    assert f'Epoch(train) [2][{iters}/{iters}]' in out
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    assert osp.isfile(ckpt)
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert state['meta']['epoch'] == 2

    # 2. evaluate the checkpoint on the unseen classes
    pkl = str(tmp_path / 'predictions.pkl')
    out = _run([
        osp.join(BIN, 'mim'), 'test', 'mmdet', CONFIG, '--checkpoint', ckpt,
        '--work-dir',
        str(tmp_path / 'test'), '--out', pkl, '--cfg-options',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ], mini_workspace)
    assert 'coco/bbox_mAP_50' in out
    metrics = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    assert metrics
    with open(metrics[0]) as f:
        values = json.load(f)
    assert 0.0 <= values['coco/bbox_mAP'] <= 1.0
    with open(pkl, 'rb') as f:
        predictions = pickle.load(f)
    with open(osp.join(mini_workspace, 'data', 'mmioc_mini', 'annotations',
                       'open_val.json')) as f:
        num_val = len(json.load(f)['images'])
    assert len(predictions) == num_val

    # 2b. free-text prompts on one image, with the trained checkpoint
    image = glob.glob(osp.join(mini_workspace, 'data', 'mmioc_mini', 'images',
                               '*', '*.jpg'))[0]
    drawn = str(tmp_path / 'prediction.jpg')
    out = _run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'image_demo.py'), CONFIG, ckpt, image,
        '--texts', 'scratch on wood', 'hole in paper', 'crack in rock',
        '--out', drawn, '--score-thr', '0.0', '--cfg-options',
        'model.test_cfg.score_thr=0.0'
    ], mini_workspace)
    assert osp.getsize(drawn) > 0
    labels = re.findall(r"^\s+'([^']+)'\s+[0-9.]+ \[", out, re.M)
    assert labels, out[-2000:]
    assert set(labels) <= {'scratch on wood', 'hole in paper', 'crack in rock'}

    # 3. resume to epoch 3 with the package's own entry point and config
    out = _run([
        osp.join(BIN, 'mim'), 'train', 'mmioc_rtvp',
        osp.basename(CONFIG), '--work-dir', work_dir, '--resume',
        '--cfg-options', 'train_cfg.max_epochs=3', *FAST
    ], mini_workspace)
    assert 'resumed epoch: 2' in out
    assert osp.isfile(osp.join(work_dir, 'epoch_3.pth'))
    assert 'Epoch(train) [1]' not in out  # epochs 1-2 were not retrained


@pytest.mark.parametrize('config', [CONFIG, BASELINE],
                         ids=['rtvpnet', 'yolo_world'])
def test_dist_train_two_cpu_processes(config, mini_workspace, tmp_path):
    work_dir = str(tmp_path / 'ddp')
    out = _run([
        'bash',
        osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config, '2',
        '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
        *FAST
    ], mini_workspace)
    # each of the 2 processes sees half of the images per epoch
    iters = -(-_num_train_images(mini_workspace) // (4 * 2))
    assert f'Epoch(train) [1][{iters}/{iters}]' in out
    assert re.search(r'world_size:\s*2|world size:\s*2|GPU number: 2', out) \
        or 'Distributed training: True' in out, out[-3000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


def test_paper_config_starts_training(mini_workspace, tiny_clip_512,
                                      mobile_sam_file, tmp_path):
    """`mim train mmdet configs/rtvpnet_l_open.py` trains: the paper's L
    config at 640 px, run on 2 MMIOC-mini images with local stand-ins for
    the weights no machine here has (a tiny CLIP, a random Mobile-SAM file
    in the official layout, a random expert)."""
    config = osp.join(REPO_ROOT, 'configs', 'rtvpnet_l_open.py')
    root = 'data/mmioc_mini/'
    work_dir = str(tmp_path / 'l_open')
    out = _run([
        osp.join(BIN, 'mim'), 'train', 'mmdet', config, '--work-dir',
        work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=10', 'train_dataloader.batch_size=1',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_dataloader.dataset.dataset.data_root={root}',
        'train_dataloader.dataset.dataset.indices=2',
        f'train_dataloader.dataset.class_text_path={root}'
        'texts/seen_class_texts.json',
        # the last epoch is validated (the open protocol validates on the
        # seen classes): 2 images, MMIOC-mini's 12 seen classes
        f'val_dataloader.dataset.dataset.data_root={root}',
        'val_dataloader.dataset.dataset.indices=2', 'model.num_test_classes=12',
        f'val_dataloader.dataset.class_text_path={root}'
        'texts/seen_class_texts.json',
        f'val_evaluator.ann_file={root}annotations/open_val_seen.json',
        f'model.backbone.text_model.model_name_or_path={tiny_clip_512}',
        f'model.visual_encoder.checkpoint={mobile_sam_file}',
        'model.backbone.image_model.init_cfg=None',
        'default_hooks.logger.interval=1'
    ], mini_workspace, timeout=1200)
    assert 'Epoch(train) [1][2/2]' in out, out[-3000:]
    for key in ('loss_region_text', 'loss_opt', 'loss_rvp_ciou'):
        assert key in out
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    # the last epoch was validated (both images) with the seen vocabulary;
    # a 2-iteration model finds nothing, so COCO reports an empty result
    assert 'Epoch(val) [1][2/2]' in out, out[-3000:]
