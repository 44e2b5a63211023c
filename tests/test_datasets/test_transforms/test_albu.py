# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""mmioc_rtvp's ``Albu``: the albumentations follow the seeded global
generators (mmdet's draws from OS entropy with recent albumentations, which
made training processes of one config differ; docs/reliability.md)."""
import copy
import random

import numpy as np
from mmdet.datasets.transforms import Albu as MMDetAlbu
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config

from mmioc_rtvp.datasets.transforms import Albu
from mmioc_rtvp.registry import TRANSFORMS
from tests.conftest import REPO_ROOT

# each fires half of the time, so a sequence of calls shows which did
ALBU = dict(
    transforms=[
        dict(type='Blur', p=0.5),
        dict(type='ToGray', p=0.5),
        dict(type='CLAHE', p=0.5),
    ],
    bbox_params=dict(
        type='BboxParams',
        format='pascal_voc',
        label_fields=['gt_bboxes_labels', 'gt_ignore_flags']),
    keymap={
        'img': 'image',
        'gt_bboxes': 'bboxes'
    })
NUM_CALLS = 12


def make_results(index):
    rng = np.random.default_rng(index)  # its own generator: the image
    return dict(
        img=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        gt_bboxes=HorizontalBoxes(np.array([[4, 4, 20, 24]], np.float32)),
        gt_bboxes_labels=np.array([1], np.int64),
        gt_ignore_flags=np.array([False]))


def outputs(transform, seed):
    """The images of NUM_CALLS calls after seeding the global generators
    (as MMEngine and ExactResumeEpochBasedTrainLoop do)."""
    random.seed(seed)
    np.random.seed(seed)
    return [transform(make_results(i))['img'] for i in range(NUM_CALLS)]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_same_global_seed_same_augmentations():
    """Two instances (two processes of a job, or a run and its resume) give
    the same augmentations for the same global random state; another state
    gives others (it is still random)."""
    first = outputs(Albu(**copy.deepcopy(ALBU)), 0)
    assert same(first, outputs(Albu(**copy.deepcopy(ALBU)), 0))
    assert not same(first, outputs(Albu(**copy.deepcopy(ALBU)), 1))


def test_transforms_draw_independently():
    """The transforms of the Compose share one generator (each its own
    draws), not one seed each (which would make them fire together)."""
    transform = Albu(**copy.deepcopy(ALBU))
    transform.aug.save_applied_params = True
    random.seed(0)
    np.random.seed(0)
    fired = set()
    for i in range(40):
        results = transform(make_results(i))
        fired.add(tuple(name for name, _ in results['applied_transforms']))
    # 2^3 combinations of probability 1/8 each; a common seed gives 2
    assert len(fired) >= 5, fired


def test_mmdet_albu_ignores_the_global_seed():
    """The control: mmdet's Albu, built twice and called with the same
    global random state, applies different augmentations (with the
    albumentations >= 2.0 that requirements/runtime.txt asks for, whose
    Compose has generators of its own)."""
    first = MMDetAlbu(**copy.deepcopy(ALBU))
    runs = [outputs(first, 0)] + [
        outputs(MMDetAlbu(**copy.deepcopy(ALBU)), 0) for _ in range(3)
    ]
    assert not all(same(runs[0], other) for other in runs[1:])


def test_registered_and_used_by_the_base_pipelines():
    """'Albu' in the mmioc_rtvp scope is this class, and the training
    pipelines of the base dataset config use it."""
    assert TRANSFORMS.get('Albu') is Albu
    cfg = Config.fromfile(
        f'{REPO_ROOT}/configs/_base_/datasets/mmioc_closed.py')
    types = [t['type'] for t in cfg.last_transform]
    assert 'Albu' in types and 'mmdet.Albu' not in types
    built = TRANSFORMS.build(cfg.last_transform[types.index('Albu')])
    assert type(built) is Albu
