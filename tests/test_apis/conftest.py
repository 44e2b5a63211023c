# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Fixtures of the inference API tests: a tiny RTVPNet-S-mini (128 px,
16-d precomputed texts) with a checkpoint, and a few generated images."""
import json
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


@pytest.fixture(scope='package')
def tiny_config(tmp_path_factory) -> str:
    """The tests/test_tools tiny RTVPNet config over :data:`CLASS_PROMPTS`
    (its text table is written from a class-text file)."""
    root = tmp_path_factory.mktemp('tiny_api')
    (root / 'texts').mkdir()
    with open(root / 'texts' / 'generalized_class_texts.json', 'w') as f:
        json.dump(CLASS_PROMPTS, f)
    return write_tiny_config(root, str(root))


def save_checkpoint(model, path, **meta) -> str:
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return str(path)


@pytest.fixture(scope='package')
def tiny_checkpoint(tiny_config, tmp_path_factory, one_thread) -> str:
    """Random weights of the tiny model (seed 0) with two training
    classes in the meta, as a training checkpoint has."""
    from mmioc_rtvp.registry import MODELS
    init_default_scope('mmioc_rtvp')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(tiny_config).model)
    path = tmp_path_factory.mktemp('tiny_ckpt') / 'tiny.pth'
    return save_checkpoint(
        model, path,
        dataset_meta=dict(classes=('hole in wood', 'crack in wood')))


@pytest.fixture(scope='package')
def images(tmp_path_factory):
    """Three textured images of different sizes (PNG) in a folder."""
    folder = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    paths = []
    for i, (h, w) in enumerate([(96, 128), (120, 100), (64, 64)]):
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        cv2.rectangle(img, (10, 10), (40, 30), (255, 255, 255), -1)
        path = folder / f'img_{i}.png'
        cv2.imwrite(str(path), img)
        paths.append(str(path))
    return paths


@pytest.fixture(scope='package')
def inferencer(tiny_config, tiny_checkpoint, one_thread):
    from mmioc_rtvp.apis import MMIOCInferencer
    return MMIOCInferencer(
        model=tiny_config, weights=tiny_checkpoint, device='cpu',
        show_progress=False)


def image_folder(paths) -> str:
    return osp.dirname(paths[0])
