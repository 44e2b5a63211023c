# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Fixtures of the RTVPNet tool tests (visualize_prompts, t-SNE): a tiny
RTVPNet-S-mini config over the session's MMIOC-mini."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def one_thread():
    """Tiny tensors: one intra-op thread (two threads on a busy 2-core
    machine make these forwards ~100x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_tiny_config(tmp_dir, mini_root: str) -> str:
    """A 128-px RTVPNet-S-mini with a tiny random TinyViT (instead of the
    mini config's MobileNetV2), widen 0.125 and a 16-d
    precomputed text table (every prompt of MMIOC-mini)."""
    with open(osp.join(mini_root, 'texts', 'generalized_class_texts.json'),
              encoding='utf-8') as f:
        prompts = [p for cls in json.load(f) for p in cls]
    rng = np.random.default_rng(0)
    table = {p: rng.standard_normal(16).round(4).tolist() for p in prompts}
    emb_file = osp.join(str(tmp_dir), 'text_table.json')
    with open(emb_file, 'w', encoding='utf-8') as f:
        json.dump(table, f)
    base = osp.join(REPO_ROOT, 'configs', 'rtvpnet_s_mini.py')
    path = osp.join(str(tmp_dir), 'tiny_rtvpnet.py')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'''_base_ = {base!r}
img_scale = (128, 128)
model = dict(
    backbone=dict(
        image_model=dict(widen_factor=0.125),
        text_model=dict(_delete_=True, type='PrecomputedTextEncoder',
                        embeddings_file={emb_file!r})),
    visual_encoder=dict(
        _delete_=True, type='MobileSAMTinyViT', checkpoint=None,
        out_strides=(8, 16, 32),
        embed_dims=(8, 16, 20, 40), depths=(1, 1, 1, 1),
        num_heads=(1, 1, 1, 2), window_sizes=(7, 7, 7, 7),
        neck_channels=32, num_classes=10),
    domain_projection=dict(align_channels=16, hidden_channels=16),
    prompt_aux_head=dict(feat_channels=8),
    neck=dict(widen_factor=0.125, guide_channels=16),
    bbox_head=dict(head_module=dict(widen_factor=0.125, embed_dims=16)))
test_pipeline = [
    _base_.test_pipeline[0],
    dict(_base_.test_pipeline[1], scale=img_scale),
    dict(_base_.test_pipeline[2], scale=img_scale),
    *_base_.test_pipeline[3:],
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
''')
    return path


@pytest.fixture(scope='module')
def mini_root(mini_workspace):
    return str(mini_workspace / 'data' / 'mmioc_mini')


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory, mini_root):
    return write_tiny_config(tmp_path_factory.mktemp('tiny_cfg'), mini_root)
