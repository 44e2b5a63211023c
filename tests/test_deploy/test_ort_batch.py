# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ORTDetector.predict_batch: one session call for a file with a dynamic
batch axis, one per image (logged once) for a file of batch 1; the
detections of a batch of 3 equal those of each image alone (random
RTVPNet-S-mini with a run-time vocabulary, 64 px)."""
import logging

import numpy as np
import pytest
import torch

from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx)
from tests.test_deploy.test_onnx_parity import build_mini

SIZE = 64
# the letterbox of three originals of different sizes into 64 x 64
METAS = [
    dict(img_shape=(SIZE, SIZE), ori_shape=(128, 96),
         scale_factor=(0.5, 0.5), pad_param=np.array([0., 0., 8., 8.])),
    dict(img_shape=(SIZE, SIZE), ori_shape=(64, 64),
         scale_factor=(1.0, 1.0), pad_param=np.array([0., 0., 0., 0.])),
    dict(img_shape=(SIZE, SIZE), ori_shape=(40, 80),
         scale_factor=(0.8, 0.8), pad_param=np.array([16., 16., 0., 0.])),
]


class CountingSession:
    """An onnxruntime session that counts its ``run`` calls and the batch
    of each."""

    def __init__(self, session) -> None:
        self.session = session
        self.batches = []

    def run(self, names, feed):
        self.batches.append(len(feed['image']))
        return self.session.run(names, feed)

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('ort_batch')
    exportable = ExportableDetector(build_mini('rtvpnet'),
                                    runtime_vocabulary=True).eval()
    paths = {}
    for name, dynamic in (('fixed', False), ('dynamic', True)):
        paths[name] = export_onnx(
            exportable, str(root / f'{name}.onnx'), (SIZE, SIZE),
            build_metadata(exportable, (SIZE, SIZE)), dynamic_batch=dynamic)
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(3, 3, SIZE, SIZE, generator=gen).numpy()
    feats = torch.nn.functional.normalize(
        torch.randn(1, 4, exportable.embed_dims, generator=gen), dim=-1)
    return paths, images, feats.numpy()


def assert_equal_detections(one: dict, many: dict) -> None:
    """The same detections, to the bit."""
    assert one.keys() == many.keys() and len(one['scores']) > 0
    for key in one:
        np.testing.assert_array_equal(one[key], many[key], err_msg=key)


def _detector(path: str) -> ORTDetector:
    det = ORTDetector(path, num_threads=1)
    det.session = CountingSession(det.session)
    return det


def test_fixed_batch_runs_image_by_image_and_says_so_once(files, caplog):
    paths, images, feats = files
    det = _detector(paths['fixed'])
    assert not det.dynamic_batch
    singles = [det.predict(images[i:i + 1], feats, METAS[i])
               for i in range(3)]
    assert det.session.batches == [1, 1, 1]
    with caplog.at_level(logging.WARNING):
        batched = det.predict_batch(images, feats, METAS)
        det.predict_batch(list(images), feats, METAS)  # (3, H, W) arrays
    assert det.session.batches[3:] == [1] * 6
    notes = [r.getMessage() for r in caplog.records
             if 'fixed batch of 1' in r.getMessage()]
    assert len(notes) == 1 and paths['fixed'] in notes[0]
    assert '--dynamic-batch' in notes[0]
    assert len(batched) == 3
    for one, many in zip(singles, batched):
        assert_equal_detections(one, many)


def test_dynamic_batch_is_one_call_equal_to_each_image(files, caplog):
    paths, images, feats = files
    det = _detector(paths['dynamic'])
    assert det.dynamic_batch
    with caplog.at_level(logging.WARNING):
        batched = det.predict_batch(images, feats, METAS)
    assert det.session.batches == [3]
    assert not any('fixed batch' in r.getMessage() for r in caplog.records)
    singles = [det.predict(images[i], feats, METAS[i]) for i in range(3)]
    assert det.session.batches == [3, 1, 1, 1]
    assert len(batched) == 3
    for one, many in zip(singles, batched):
        assert_equal_detections(one, many)


def test_batch_inputs_checked(files):
    paths, images, feats = files
    det = ORTDetector(paths['dynamic'], num_threads=1)
    with pytest.raises(ValueError, match='predict takes one image'):
        det.predict(images, feats)
    with pytest.raises(ValueError, match='2 img_metas for 3 images'):
        det.predict_batch(images, feats, METAS[:2])
    with pytest.raises(ValueError, match='fixed at export'):
        det.predict_batch([images[0], np.zeros((3, 32, 32), np.float32)],
                          feats)
    with pytest.raises(ValueError, match='image 1 must be'):
        det.predict_batch([images[0], images[1:]], feats)  # (2, 3, H, W)
    with pytest.raises(ValueError, match='fixed at export'):
        det.predict_batch([], feats)
    with pytest.raises(ValueError, match=r'text_feats must be \(1, K, '):
        det.predict_batch(images, np.repeat(feats, 3, axis=0))
