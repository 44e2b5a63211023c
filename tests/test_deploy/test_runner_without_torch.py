# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The onnxruntime runner imports and runs with numpy + onnxruntime only.

A line PC runs exported files without PyTorch or OpenMMLab: in a fresh
interpreter where importing torch, mmcv, mmdet, mmengine or mmyolo fails,
``mmioc_rtvp.deploy`` imports, :class:`ORTDetector` runs a small ONNX file
end to end (session, metadata, post-processing), and the exporter's names
fail only when asked for.
"""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BLOCKED = ('torch', 'mmcv', 'mmdet', 'mmengine', 'mmyolo')

SCRIPT = '''
import importlib.abc, json, sys

BLOCKED = {blocked!r}


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{{name}} is blocked in this test')
        return None


sys.meta_path.insert(0, Block())
import numpy as np
import mmioc_rtvp.deploy as deploy
from mmioc_rtvp.deploy import ORTDetector, ORTTextEncoder, postprocess_detections

det = ORTDetector({path!r}, num_threads=1)
out = det.predict(np.zeros((1, 3, 8, 8), np.float32))
try:
    deploy.export_onnx
except ImportError as err:
    exporter = 'ImportError: ' + str(err)
else:
    exporter = 'imported'
loaded = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)
print(json.dumps(dict(bboxes=out['bboxes'].tolist(),
                      labels=out['labels'].tolist(),
                      scores=out['scores'].tolist(),
                      classes=det.class_names, exporter=exporter,
                      loaded=loaded)))
'''


def _tiny_detector_file(path: str) -> None:
    """A fixed-vocabulary "detector" whose graph returns two constant boxes
    (1, 2, 4) and their scores (1, 2, 1), with the runner's metadata."""
    from onnx import TensorProto, helper, numpy_helper
    boxes = np.array([[[1, 1, 5, 5], [1, 1, 5, 6]]], np.float32)
    scores = np.array([[[0.9], [0.8]]], np.float32)
    nodes = [
        helper.make_node(
            'Constant', [], [name], value=numpy_helper.from_array(value))
        for name, value in (('boxes', boxes), ('scores', scores))
    ]
    graph = helper.make_graph(
        nodes, 'tiny', [
            helper.make_tensor_value_info('image', TensorProto.FLOAT,
                                          [1, 3, 8, 8])
        ], [
            helper.make_tensor_value_info('boxes', TensorProto.FLOAT,
                                          [1, 2, 4]),
            helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                          [1, 2, 1])
        ])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    meta = model.metadata_props.add()
    meta.key = 'mmioc_rtvp'
    meta.value = json.dumps(
        dict(image_shape=[8, 8], class_names=['scratch'],
             test_cfg=dict(score_thr=0.5, nms=dict(iou_threshold=0.5),
                           max_per_img=10)))
    onnx.save(model, path)


def test_runner_imports_and_runs_without_torch_or_openmmlab(tmp_path):
    path = str(tmp_path / 'tiny.onnx')
    _tiny_detector_file(path)
    proc = subprocess.run(
        [sys.executable, '-c',
         SCRIPT.format(blocked=BLOCKED, path=path)],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['loaded'] == []
    # IoU of the two boxes is 16 / 20 = 0.8 > 0.5: NMS keeps the first
    assert result['bboxes'] == [[1.0, 1.0, 5.0, 5.0]]
    assert result['labels'] == [0]
    assert result['scores'] == pytest.approx([0.9])
    assert result['classes'] == ['scratch']
    # the exporter is not imported with the runner, and needs torch
    assert result['exporter'].startswith('ImportError'), result['exporter']
