# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""A training set with a corrupt, a truncated and a missing image, and boxes
outside their image: training runs to the end, each bad image is replaced,
logged once with its path and counted in the log and the final summary."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmioc_rtvp.engine.hooks import BadDataHook
from tests.test_datasets.conftest import CATEGORIES


class _MeanModel(BaseModel):
    """loss = (w * mean pixel - 1)^2: enough to take optimiser steps."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs).float().mean() / 255  # (B, 3, 32, 32) -> ()
        if mode == 'loss':
            return dict(loss=(self.w * x - 1).pow(2).sum())
        return x


def _dataset(make_mmioc, root):
    images, anns = [], []
    for i in range(12):
        images.append(
            dict(id=i + 1, file_name=f'{i:02d}.png', width=40, height=30))
        anns.append(
            dict(id=i + 1, image_id=i + 1, category_id=7,
                 bbox=[4, 4, 10, 10], area=100.0, iscrowd=0))
    # a box entirely outside image 1, one partly outside image 2
    anns.append(dict(id=13, image_id=1, category_id=3, bbox=[45, 2, 5, 5],
                     area=25.0, iscrowd=0))
    anns.append(dict(id=14, image_id=2, category_id=3, bbox=[30, 20, 20, 20],
                     area=400.0, iscrowd=0))
    paths = make_mmioc(name=root, categories=CATEGORIES, images=images,
                       annotations=anns, write_images=False)
    rng = np.random.default_rng(0)
    for im in images:
        cv2.imwrite(osp.join(paths.root, im['file_name']),
                    (rng.random((30, 40, 3)) * 255).astype(np.uint8))
    bad = {
        osp.join(paths.root, '03.png'): 'cannot decode',
        osp.join(paths.root, '06.png'): 'truncated PNG',
        osp.join(paths.root, '09.png'): 'file not found',
    }
    with open(osp.join(paths.root, '03.png'), 'wb') as f:
        f.write(b'not a png at all' * 8)
    with open(osp.join(paths.root, '06.png'), 'rb') as f:
        data = f.read()
    with open(osp.join(paths.root, '06.png'), 'wb') as f:
        f.write(data[:len(data) // 2])
    os.remove(osp.join(paths.root, '09.png'))
    return paths, bad


def test_training_survives_three_bad_images(make_mmioc, tmp_path):
    paths, bad = _dataset(make_mmioc, 'data')
    hook = BadDataHook()
    runner = Runner(
        model=_MeanModel(),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            dataset=dict(
                type='MMIOCDataset',
                data_root=paths.root,
                ann_file=paths.ann_file,
                data_prefix=dict(img=''),
                filter_cfg=dict(filter_empty_gt=False),
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='mmdet.LoadAnnotations', with_bbox=True),
                    dict(type='mmdet.Resize', scale=(32, 32),
                         keep_ratio=False),
                    dict(type='mmdet.PackDetInputs')
                ]),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'),
            batch_size=3,
            # the loader runs in a worker process: counts must cross over
            num_workers=1,
            persistent_workers=False),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=None, logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[hook],
        default_scope='mmioc_rtvp',
        randomness=dict(seed=0),
        experiment_name='bad_images')
    runner.train()
    assert runner.iter == 4  # 12 images / 3: the epoch was not shortened

    # every bad image found, with its reason
    assert sorted(hook.reasons) == sorted(bad)
    for path, reason in bad.items():
        assert hook.reasons[path].startswith(reason), hook.reasons[path]
    assert sum(hook.replacements.values()) >= 3
    assert runner.message_hub.get_scalar('train/bad_images').current() == 3

    with open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]) as f:
        log = f.read()
    for path in bad:  # logged once each
        assert log.count(f'unreadable training image {path} (') == 1
    assert 'bad data: 3 unreadable training image(s), replaced ' in log
    assert 'bad_images: 3  bad_image_replacements: ' in log  # log lines
    # the boxes outside their image are counted, not a crash
    counts = runner.train_dataloader.dataset._annotations.box_counts
    assert counts['outside_image'] == 1
    assert counts['kept_partly_outside'] == 1
    assert counts['input'] == 14 == counts['kept'] + counts['outside_image']
    assert 'outside image: 1, kept partly outside: 1' in log
