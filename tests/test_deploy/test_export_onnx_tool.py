# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/deploy/export_onnx.py: the three kinds of file from the mini
configs (random weights, 64 px), prompt ensembles, refused inputs."""
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch

from mmioc_rtvp.deploy import ExportableDetector, ORTDetector, read_metadata
from tests.utils.scripts import REPO_ROOT, load_script

tool = load_script('tools/deploy/export_onnx.py', 'export_onnx_under_test')
YOLOV8 = osp.join(REPO_ROOT, 'configs/baselines/yolov8_s_closed_mini.py')
YOLO_WORLD = osp.join(REPO_ROOT,
                      'configs/baselines/yolo_world_s_open_mini.py')


def test_closed_model_with_check(tmp_path, capsys):
    out = str(tmp_path / 'yolov8.onnx')
    assert tool.main([YOLOV8, 'none', '--out', out, '--shape', '64',
                      '--check']) == 0
    printed = capsys.readouterr().out
    meta = read_metadata(out)
    assert meta['kind'] == 'closed' and meta['image_shape'] == [64, 64]
    assert meta['class_names'] is None  # random weights: no names
    diffs = dict(
        (k, float(v)) for k, v in re.findall(r'(max_abs_\w+) ([\d.e+-]+)',
                                             printed))
    assert set(diffs) == {'max_abs_box_diff', 'max_abs_score_diff'}
    assert diffs['max_abs_box_diff'] < 1e-3
    assert diffs['max_abs_score_diff'] < 1e-4


def test_class_names_from_the_checkpoint(tmp_path, capsys):
    """The checkpoint's class names are stored when they fit the head."""
    model, _, _ = tool.load_detector(YOLOV8, 'none', None)
    names = [f'defect {i}' for i in range(model.bbox_head.num_classes)]
    for classes, stored in ((names, names), (names[:3], None)):
        ckpt = str(tmp_path / 'yolov8.pth')
        torch.save(dict(state_dict=model.state_dict(),
                        meta=dict(dataset_meta=dict(classes=classes))), ckpt)
        out = str(tmp_path / 'yolov8.onnx')
        assert tool.main([YOLOV8, ckpt, '--out', out, '--shape', '64']) == 0
        assert read_metadata(out)['class_names'] == stored
    assert 'class names not stored: the checkpoint names 3' in \
        capsys.readouterr().out


def test_baked_vocabularies(tmp_path):
    """--class-text bakes the normalised mean of each class's prompt
    embeddings (computed here by hand); a checkpoint of
    tools/deploy/reparameterize.py exports with its own vocabulary."""
    from mmioc_rtvp.apis.baked_checkpoint import bake_checkpoint
    model, cfg, _ = tool.load_detector(YOLO_WORLD, 'none', None)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    classes = [['scratch on steel', 'a scratched steel plate'],
               ['hole in wood']]
    class_text = tmp_path / 'classes.json'
    class_text.write_text(json.dumps(classes))
    out = str(tmp_path / 'baked.onnx')
    assert tool.main([YOLO_WORLD, ckpt, '--out', out, '--shape', '64',
                      '--class-text', str(class_text)]) == 0
    det = ORTDetector(out, num_threads=1)
    assert det.metadata['kind'] == 'baked' and not det.runtime_vocabulary
    assert det.metadata['vocabulary'] == classes
    assert det.class_names == ['scratch on steel', 'hole in wood']

    with torch.no_grad():
        emb = model.backbone.forward_text([sum(classes, [])])[0]  # (3, D)
    ensemble = (emb[0] + emb[1]) / torch.linalg.norm(emb[0] + emb[1])
    expected = ExportableDetector(
        model, text_feats=torch.stack([ensemble, emb[2]])[None])
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator()
                       .manual_seed(0))
    with torch.no_grad():
        _, scores = expected(image)
    _, ort_scores = det.forward(image.numpy())
    np.testing.assert_allclose(ort_scores, scores.numpy(), atol=1e-5,
                               rtol=0)

    baked = str(tmp_path / 'baked.pth')
    torch.save(bake_checkpoint(cfg, ckpt, str(class_text)), baked)
    out2 = str(tmp_path / 'from_baked_ckpt.onnx')
    assert tool.main([YOLO_WORLD, baked, '--out', out2, '--shape',
                      '64']) == 0
    det2 = ORTDetector(out2, num_threads=1)
    assert det2.metadata['vocabulary'] == classes
    np.testing.assert_allclose(det2.forward(image.numpy())[1], ort_scores,
                               atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='has a baked vocabulary'):
        tool.main([YOLO_WORLD, baked, '--out', out2, '--texts', 'a'])


def test_refused_inputs(tmp_path):
    out = str(tmp_path / 'x.onnx')
    with pytest.raises(SystemExit):  # one vocabulary option only
        tool.parse_args([YOLO_WORLD, 'none', '--out', out, '--texts', 'a',
                         '--runtime-vocabulary'])
    with pytest.raises(ValueError, match='non-empty string'):
        tool.main([YOLO_WORLD, 'none', '--out', out, '--texts', 'a', ''])
    with pytest.raises(FileNotFoundError, match='no such checkpoint'):
        tool.main([YOLO_WORLD, str(tmp_path / 'missing.pth'), '--out', out])
    with pytest.raises(ValueError, match='open-vocabulary model: give'):
        tool.main([YOLO_WORLD, 'none', '--out', out, '--shape', '64'])
    with pytest.raises(ValueError, match='closed-set model has no'):
        tool.main([YOLOV8, 'none', '--out', out, '--texts', 'a'])
