# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The MiniLM text encoder exported on its own: ONNX Runtime embeddings
equal the PyTorch encoder's, through tools/deploy/export_onnx.py."""
import os.path as osp

import numpy as np
import pytest
import torch

from mmioc_rtvp.deploy import ExportableMiniLM, ORTTextEncoder, read_metadata
from tests.utils.scripts import REPO_ROOT, load_script

tool = load_script('tools/deploy/export_onnx.py', 'export_onnx_te_test')
YOLO_WORLD = osp.join(REPO_ROOT,
                      'configs/baselines/yolo_world_s_open_mini.py')
# different lengths: padding and the attention mask matter
PROMPTS = ['hole', 'scratch on steel',
           'a missing part of a gear wheel on the conveyor']


def test_text_encoder_matches_pytorch(tmp_path):
    out_dir = str(tmp_path / 'text_encoder')
    assert tool.main([
        YOLO_WORLD, 'none', '--out', str(tmp_path / 'model.onnx'),
        '--shape', '64', '--runtime-vocabulary', '--text-encoder-out',
        out_dir
    ]) == 0
    assert read_metadata(osp.join(out_dir, 'text_encoder.onnx'))[
        'kind'] == 'text_encoder'
    model, _, _ = tool.load_detector(YOLO_WORLD, 'none', None)
    expected = model.backbone.forward_text([PROMPTS])[0].numpy()
    encoder = ORTTextEncoder(out_dir, num_threads=1)
    got = encoder(PROMPTS)
    assert got.shape == (3, encoder.embed_dim) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-6)
    with pytest.raises(ValueError, match='empty vocabulary'):
        encoder([])
    with pytest.raises(ValueError, match='empty prompts at positions'):
        encoder(['hole', ' '])


def test_only_minilm_is_exported():
    from tests.test_models.yolo_world_utils import HashTextEncoder
    with pytest.raises(TypeError, match='only MiniLMTextEncoder'):
        ExportableMiniLM(HashTextEncoder())
    with pytest.raises(TypeError):
        ExportableMiniLM(torch.nn.Linear(2, 2))
