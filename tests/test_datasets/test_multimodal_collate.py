# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from mmioc_rtvp.datasets import multimodal_collate


def packed(boxes, labels, texts, img_id, size=(8, 6)):
    sample = DetDataSample(metainfo=dict(img_id=img_id, texts=texts))
    sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(
            torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
        labels=torch.tensor(labels, dtype=torch.long))
    inputs = torch.full((3, *size), img_id, dtype=torch.uint8)
    return dict(inputs=inputs, data_samples=sample)


def test_collate_rows_texts_and_metas():
    batch = [
        packed([[1, 2, 3, 4], [5, 6, 7, 8]], [2, 0], ['a', 'b', 'c'], 7),
        packed([], [], ['d', 'e', ''], 8),
        packed([[0, 0, 2, 2]], [1], ['f', 'g', 'h'], 9),
    ]
    out = multimodal_collate(batch)
    assert out['inputs'].shape == (3, 3, 8, 6)
    assert out['inputs'][:, 0, 0, 0].tolist() == [7, 8, 9]
    ds = out['data_samples']
    expected = torch.tensor(
        [[0, 2, 1, 2, 3, 4], [0, 0, 5, 6, 7, 8], [2, 1, 0, 0, 2, 2]],
        dtype=torch.float32)
    torch.testing.assert_close(ds['bboxes_labels'], expected)
    assert ds['texts'] == [['a', 'b', 'c'], ['d', 'e', ''], ['f', 'g', 'h']]
    assert [m['img_id'] for m in ds['img_metas']] == [7, 8, 9]
    assert ds['img_metas'][1]['texts'] == ['d', 'e', '']


def test_multi_scale_keeps_list():
    batch = [
        packed([], [], ['a'], 1, size=(4, 4)),
        packed([], [], ['b'], 2, size=(8, 4))
    ]
    out = multimodal_collate(batch, use_ms_training=True)
    assert [tuple(i.shape) for i in out['inputs']] == [(3, 4, 4), (3, 8, 4)]


def test_errors():
    with pytest.raises(
            ValueError, match=r'same number of texts K, got '
            r'\[2, 3\]'):
        multimodal_collate([
            packed([], [], ['a', 'b'], 1),
            packed([], [], ['a', 'b', 'c'], 2)
        ])
    no_texts = packed([], [], ['a'], 1)
    del no_texts['data_samples'].texts
    with pytest.raises(ValueError, match="sample 0 has no texts; add 'texts'"):
        multimodal_collate([no_texts])
    with pytest.raises(
            ValueError, match='sample 0 has box label 2 but only '
            '2 texts'):
        multimodal_collate([packed([[0, 0, 1, 1]], [2], ['a', 'b'], 1)])
