# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Fixtures of the inference API tests: a tiny RTVPNet-S-mini (128 px,
16-d precomputed texts) with a checkpoint, and a few generated images."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.test_tools.conftest import write_tiny_config

#: The classes of the tiny vocabulary; the text table holds these prompts.
CLASS_PROMPTS = [['scratch on metal', 'a scratched metal plate'],
                 ['hole in wood'], ['stain on brick', 'a stained brick'],
                 ['crack in wood']]


@pytest.fixture(scope='package')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_api_config(root) -> str:
    """The tests/test_tools tiny RTVPNet config over :data:`CLASS_PROMPTS`
    (its text table is written from a class-text file in ``root``)."""
    os.makedirs(osp.join(root, 'texts'), exist_ok=True)
    with open(osp.join(root, 'texts', 'generalized_class_texts.json'),
              'w') as f:
        json.dump(CLASS_PROMPTS, f)
    return write_tiny_config(root, str(root))


def save_checkpoint(model, path, **meta) -> str:
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return str(path)


def write_random_checkpoint(config: str, path) -> str:
    """Random weights of the tiny model (seed 0) with two training classes
    in the meta, as a training checkpoint has."""
    from mmioc_rtvp.registry import MODELS
    init_default_scope('mmioc_rtvp')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    return save_checkpoint(
        model, path,
        dataset_meta=dict(classes=('hole in wood', 'crack in wood')))


def write_images(folder) -> list:
    """Three textured PNG images of different sizes in ``folder``."""
    os.makedirs(str(folder), exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, (h, w) in enumerate([(96, 128), (120, 100), (64, 64)]):
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        cv2.rectangle(img, (10, 10), (40, 30), (255, 255, 255), -1)
        path = osp.join(str(folder), f'img_{i}.png')
        assert cv2.imwrite(path, img), path
        paths.append(path)
    return paths


@pytest.fixture(scope='package')
def tiny_config(tmp_path_factory) -> str:
    return write_api_config(str(tmp_path_factory.mktemp('tiny_api')))


@pytest.fixture(scope='package')
def tiny_checkpoint(tiny_config, tmp_path_factory, one_thread) -> str:
    return write_random_checkpoint(
        tiny_config, tmp_path_factory.mktemp('tiny_ckpt') / 'tiny.pth')


@pytest.fixture(scope='package')
def images(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp('images'))


@pytest.fixture(scope='package')
def inferencer(tiny_config, tiny_checkpoint, one_thread):
    from mmioc_rtvp.apis import MMIOCInferencer
    return MMIOCInferencer(
        model=tiny_config, weights=tiny_checkpoint, device='cpu',
        show_progress=False)
