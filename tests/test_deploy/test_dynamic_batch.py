# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Export with a dynamic batch axis: one file runs batches of 1 and 3
(traced with 2) and each image's outputs equal the eager network's (random
mini models, 128 px; the run-time vocabulary's K stays dynamic too)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from mmioc_rtvp.deploy import (ExportableDetector, build_metadata,
                               export_onnx, read_metadata)
from tests.test_deploy.test_onnx_parity import SIZE, build_mini

BOX_ATOL = 1e-3 * SIZE  # px, the parity tests' relative tolerance at 128
SCORE_ATOL = 1e-4


@pytest.fixture(scope='module', params=['rtvpnet', 'yolov8'])
def exported(request, tmp_path_factory):
    name = request.param
    exportable = ExportableDetector(
        build_mini(name), runtime_vocabulary=name == 'rtvpnet').eval()
    path = str(tmp_path_factory.mktemp('batch') / f'{name}.onnx')
    export_onnx(exportable, path, (SIZE, SIZE),
                build_metadata(exportable, (SIZE, SIZE)),
                dynamic_batch=True)
    return exportable, path


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def test_axes_and_metadata(exported):
    exportable, path = exported
    assert read_metadata(path)['dynamic_batch'] is True
    graph = onnx.load(path).graph
    for value in list(graph.input) + list(graph.output):
        assert _dims(value)[0] == 'batch', value.name
    if exportable.runtime_vocabulary:
        inputs = {v.name: _dims(v) for v in graph.input}
        assert inputs['text_feats'][:2] == ['batch', 'num_texts']


@pytest.mark.parametrize('batch,num_texts', [(1, 3), (3, 5)])
def test_batches_equal_eager(exported, batch, num_texts):
    exportable, path = exported
    gen = torch.Generator().manual_seed(batch)
    images = torch.rand(batch, 3, SIZE, SIZE, generator=gen)
    feed = dict(image=images.numpy())
    feats = None
    if exportable.runtime_vocabulary:
        one = torch.nn.functional.normalize(
            torch.randn(1, num_texts, exportable.embed_dims, generator=gen),
            dim=-1)
        feats = one.expand(batch, -1, -1).contiguous()
        feed['text_feats'] = feats.numpy()
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    boxes, scores = session.run(['boxes', 'scores'], feed)
    with torch.no_grad():
        ref_boxes, ref_scores = exportable(images, feats)
    assert boxes.shape == tuple(ref_boxes.shape)
    assert scores.shape == tuple(ref_scores.shape)
    assert scores.shape[0] == batch
    assert np.abs(boxes - ref_boxes.numpy()).max() < BOX_ATOL
    assert np.abs(scores - ref_scores.numpy()).max() < SCORE_ATOL
    # image i of the batch = image i alone (no mixing across the batch)
    last = dict(image=feed['image'][-1:])
    if feats is not None:
        last['text_feats'] = feed['text_feats'][-1:]
    b1, s1 = session.run(['boxes', 'scores'], last)
    assert np.abs(b1[0] - boxes[-1]).max() < BOX_ATOL
    assert np.abs(s1[0] - scores[-1]).max() < SCORE_ATOL
