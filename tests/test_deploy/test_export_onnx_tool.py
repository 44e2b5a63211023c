# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/deploy/export_onnx.py: the three kinds of file from the mini
configs (random weights, 64 px), prompt ensembles, refused inputs."""
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch

from mmioc_rtvp.deploy import ORTDetector, read_metadata
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
    model, _ = tool.load_detector(YOLOV8, 'none', None)
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


def test_baked_class_text(tmp_path):
    class_text = tmp_path / 'classes.json'
    class_text.write_text(
        json.dumps([['scratch on steel', 'a scratched steel plate'],
                    ['hole in wood']]))
    out = str(tmp_path / 'baked.onnx')
    assert tool.main([YOLO_WORLD, 'none', '--out', out, '--shape', '64',
                      '--class-text', str(class_text)]) == 0
    det = ORTDetector(out, num_threads=1)
    assert det.metadata['kind'] == 'baked'
    assert det.class_names == ['scratch on steel', 'hole in wood']
    assert not det.runtime_vocabulary
    _, scores = det.forward(np.zeros((1, 3, 64, 64), np.float32))
    assert scores.shape[-1] == 2


class _FixedText(torch.nn.Module):
    """A text side returning fixed embeddings per prompt."""
    TABLE = {'a': [1.0, 0.0], 'b': [0.0, 1.0], 'c': [0.6, 0.8]}

    def forward_text(self, texts):
        return torch.tensor([[self.TABLE[t] for t in texts[0]]])


def test_prompt_ensemble_is_the_normalised_mean():
    model = torch.nn.Module()
    model.backbone = _FixedText()
    feats = tool.ensemble_text_feats(model, [['a', 'b'], ['c']])
    s = 0.5**0.5
    torch.testing.assert_close(feats, torch.tensor([[[s, s], [0.6, 0.8]]]))


def test_refused_inputs(tmp_path):
    out = str(tmp_path / 'x.onnx')
    with pytest.raises(SystemExit):
        tool.parse_args([YOLO_WORLD, 'none', '--out', out, '--texts', 'a',
                         ''])
    with pytest.raises(SystemExit):  # one vocabulary option only
        tool.parse_args([YOLO_WORLD, 'none', '--out', out, '--texts', 'a',
                         '--runtime-vocabulary'])
    bad = tmp_path / 'bad.json'
    bad.write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        tool.read_class_text(str(bad))
    bad.write_text('[["ok"], []]')
    with pytest.raises(ValueError, match='class 1'):
        tool.read_class_text(str(bad))
    with pytest.raises(FileNotFoundError, match='no such checkpoint'):
        tool.main([YOLO_WORLD, str(tmp_path / 'missing.pth'), '--out', out])
    with pytest.raises(ValueError, match='open-vocabulary model: give'):
        tool.main([YOLO_WORLD, 'none', '--out', out, '--shape', '64'])
    with pytest.raises(ValueError, match='closed-set model has no'):
        tool.main([YOLOV8, 'none', '--out', out, '--texts', 'a'])
