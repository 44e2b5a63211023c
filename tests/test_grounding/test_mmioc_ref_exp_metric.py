# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOCRefExpMetric against hand computations and mmdet's RefExpMetric."""
import json

import pytest
import torch
from mmdet.evaluation import RefExpMetric

from mmioc_rtvp.evaluation.metrics import MMIOCRefExpMetric

CATS = [dict(id=3, name='hole in wood', supercategory='wood'),
        dict(id=5, name='dent in steel', supercategory='metal')]
# every target is [0, 0, 10, 10] (xyxy); expressions 1-2 wood, 3-4 metal
TARGET = [0.0, 0.0, 10.0, 10.0]
FAR = [50.0, 50.0, 60.0, 60.0]
PREDICTIONS = {
    # IoU 1 at rank 1: hit at 1, 5, 10; top-1 IoU 1
    1: [TARGET],
    # rank 1 misses, rank 2 is [0,0,10,5]: IoU 50/100 = 0.5 >= 0.5 -> hit
    # at 5 and 10; top-1 IoU 0
    2: [FAR, [0.0, 0.0, 10.0, 5.0], FAR],
    # rank 1 [5,0,15,10]: IoU 50/150 = 1/3; the target first at rank 7:
    # miss at 1 and 5, hit at 10
    3: [[5.0, 0.0, 15.0, 10.0]] + [FAR] * 5 + [TARGET],
    # no box at all: a miss everywhere, top-1 IoU 0
    4: [],
}


def _write(tmp_path, dataset_name='mmioc', anns_per_record=1):
    images, anns = [], []
    for i in range(1, 5):
        images.append(dict(id=i, file_name='a.jpg', height=20, width=20,
                           caption=f'expression {i}',
                           dataset_name=dataset_name, original_img_id=1))
        for _ in range(anns_per_record if i == 2 else 1):
            anns.append(dict(id=len(anns) + 1, image_id=i,
                             bbox=[0.0, 0.0, 10.0, 10.0], area=100.0,
                             category_id=3 if i <= 2 else 5, iscrowd=0))
    path = tmp_path / 'grounding.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns,
                                    categories=CATS)))
    return str(path)


def _samples(ids):
    samples = []
    for i in ids:
        boxes = torch.tensor(PREDICTIONS[i]).reshape(-1, 4)
        # scores descending: the order is the ranking
        scores = torch.linspace(1.0, 0.1, len(boxes))
        samples.append(dict(img_id=i, pred_instances=dict(
            bboxes=boxes, scores=scores)))
    return samples


def _evaluate(metric, ids):
    metric.process({}, _samples(ids))
    return metric.compute_metrics(metric.results)


def test_precision_mean_iou_and_breakdown_by_hand(tmp_path):
    metric = MMIOCRefExpMetric(ann_file=_write(tmp_path))
    out = _evaluate(metric, [1, 2, 3, 4])
    expected = {
        'precision@1': 1 / 4,
        'precision@5': 2 / 4,
        'precision@10': 3 / 4,
        'mean_iou': (1 + 0 + 1 / 3 + 0) / 4,
        'metal/precision@1': 0.0,
        'metal/precision@5': 0.0,
        'metal/precision@10': 1 / 2,
        'metal/mean_iou': (1 / 3 + 0) / 2,
        'wood/precision@1': 1 / 2,
        'wood/precision@5': 1.0,
        'wood/precision@10': 1.0,
        'wood/mean_iou': 1 / 2,
        'mean_precision': (1 / 4 + 2 / 4 + 3 / 4) / 3,
        'num_expressions': 4.0,
    }
    assert out.keys() == expected.keys()
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, abs=1e-6), key


def test_same_precision_as_mmdet_refexp_metric(tmp_path):
    # mmdet's metric reports MDETR's sub-sets only (refcoco...) and needs at
    # least one box per expression: compare on such a file
    ann_file = _write(tmp_path, dataset_name='refcoco')
    ours = _evaluate(MMIOCRefExpMetric(ann_file=ann_file), [1, 2, 3])
    theirs = _evaluate(RefExpMetric(ann_file=ann_file), [1, 2, 3])
    for k in (1, 5, 10):
        assert ours[f'precision@{k}'] == pytest.approx(
            theirs[f'refcoco_precision@{k}'])
    assert [ours[f'precision@{k}'] for k in (1, 5, 10)] == pytest.approx(
        [1 / 3, 2 / 3, 1.0])


def test_hit_rule_threshold_is_inclusive():
    assert MMIOCRefExpMetric.hits(
        torch.tensor([0.2, 0.5]).numpy(), (1, 2), 0.5) == [False, True]
    assert MMIOCRefExpMetric.hits(
        torch.zeros(0).numpy(), (1, 5), 0.5) == [False, False]


def test_bad_ground_truth_and_prediction_are_named(tmp_path):
    with pytest.raises(ValueError, match='grounding.json: expression 2 has 2 '
                       'annotations'):
        MMIOCRefExpMetric(ann_file=_write(tmp_path, anns_per_record=2))
    metric = MMIOCRefExpMetric(ann_file=_write(tmp_path))
    metric.process({}, [dict(img_id=77, pred_instances=dict(
        bboxes=torch.zeros(0, 4), scores=torch.zeros(0)))])
    with pytest.raises(ValueError, match='expression 77'):
        metric.compute_metrics(metric.results)
