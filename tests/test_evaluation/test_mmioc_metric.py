# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOCMetric: COCO figures equal to pycocotools', seen / unseen / harmonic
AP and per-hierarchy tables checked on a hand-computed case."""
import contextlib
import csv
import io
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import METRICS, init_default_scope
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmioc_rtvp.evaluation import MMIOCMetric
from mmioc_rtvp.testing.synthetic_detections import \
    random_coco_detections

# Hand case, one 100 x 100 image, three classes:
# A (seen; surface / wood): 1 GT, 1 exact detection        -> AP 1
# B (unseen; surface / steel): 2 GT, 1 exact detection       -> precision 1
#   up to recall 0.5, 0 beyond: 51 of the 101 recall points -> AP 51 / 101
# C (unseen; structure / steel): 1 GT, no detection         -> AP 0
AP_B = 51 / 101
CATEGORIES = [
    dict(id=1, name='A', supercategory='surface', scene='wood'),
    dict(id=2, name='B', supercategory='surface', scene='steel'),
    dict(id=5, name='C', supercategory='structure', scene='steel'),
]
GT_BOXES = [(1, [0, 0, 10, 10]), (2, [20, 20, 50, 50]), (2, [50, 50, 40, 40]),
            (5, [5, 60, 20, 20])]
# (label, x1, y1, x2, y2, score)
PREDS = [(0, 0, 0, 10, 10, .9), (1, 20, 20, 70, 70, .8)]


def _hand_ann_file(tmp_path) -> str:
    data = dict(
        images=[dict(id=3, width=100, height=100, file_name='a.jpg')],
        annotations=[
            dict(id=i + 1, image_id=3, category_id=c, bbox=b,
                 area=b[2] * b[3], iscrowd=0)
            for i, (c, b) in enumerate(GT_BOXES)
        ],
        categories=CATEGORIES)
    path = tmp_path / 'hand.json'
    path.write_text(json.dumps(data))
    return str(path)


def _sample(img_id, bboxes, scores, labels):
    return dict(
        img_id=img_id,
        ori_shape=(100, 100),
        pred_instances=dict(
            bboxes=torch.as_tensor(bboxes, dtype=torch.float32).reshape(
                -1, 4),
            scores=torch.as_tensor(scores, dtype=torch.float32),
            labels=torch.as_tensor(labels, dtype=torch.int64)))


def _xywh(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)


def _run(metric, samples, meta):
    metric.dataset_meta = meta
    metric.process({}, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('backend', ['pycocotools', 'hotcoco'])
def test_hand_case_generalized_and_hierarchy(tmp_path, backend):
    ann_file = _hand_ann_file(tmp_path)
    metric = MMIOCMetric(
        ann_file=ann_file, backend=backend, seen_classes=['A'],
        table_dir=str(tmp_path / 'tables'))
    preds = np.array(PREDS)
    res = _run(metric, [
        _sample(3, preds[:, 1:5], preds[:, 5], preds[:, 0].astype(int))
    ], dict(classes=('A', 'B', 'C')))
    assert list(res)[0] == 'coco/bbox_mAP'  # what save_best='auto' follows
    hm = 2 * 1.0 * (AP_B / 2) / (1.0 + AP_B / 2)
    expected = {
        'mAP': (1 + AP_B + 0) / 3,
        'mAP_50': (1 + AP_B + 0) / 3,
        # small boxes: A (AP 1) and C (AP 0); medium: B's
        'mAP_s': 0.5,
        'mAP_m': AP_B,
        'mAP_seen': 1.0,
        'mAP_unseen': AP_B / 2,
        'mAP_hm': hm,
        'mAP_50_hm': hm,
    }
    for key, value in expected.items():
        assert res[f'coco/bbox_{key}_unrounded'] == pytest.approx(value)
        # the plain keys hold mmdet's 3-decimal figures
        assert res[f'coco/bbox_{key}'] == round(value, 3)

    with open(tmp_path / 'tables' / 'coco_hand_per_class.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['category'], r['role'], r['gt']) for r in rows] == [
        ('A', 'seen', '1'), ('B', 'unseen', '2'), ('C', 'unseen', '1')]
    assert [float(r['AP']) for r in rows] == pytest.approx([1, AP_B, 0])
    with open(tmp_path / 'tables' / 'coco_hand_per_group.csv') as f:
        groups = {(r['level'], r['group']): r for r in csv.DictReader(f)}
    expected = {
        ('role', 'seen'): 1.0,
        ('role', 'unseen'): AP_B / 2,
        ('supercategory', 'surface'): (1 + AP_B) / 2,
        ('supercategory', 'structure'): 0.0,
        ('scene', 'wood'): 1.0,
        ('scene', 'steel'): AP_B / 2,
    }
    assert {k: float(v['AP']) for k, v in groups.items()} == \
        pytest.approx(expected)
    assert groups[('scene', 'steel')]['gt'] == '3'
    text = (tmp_path / 'tables' / 'coco_hand_per_class.md').read_text()
    assert '### coco_hand: AP per scene' in text and '| B | 2 |' in text


def test_hierarchy_from_dataset_meta_and_seen_file(tmp_path):
    """The dataset's metainfo wins over the file's category fields; seen
    classes may come from a COCO file of the seen split."""
    ann_file = _hand_ann_file(tmp_path)
    seen_file = tmp_path / 'seen.json'
    seen_file.write_text(json.dumps(dict(categories=[dict(id=5, name='C')])))
    metric = MMIOCMetric(
        ann_file=ann_file, seen_classes=str(seen_file),
        table_dir=str(tmp_path))
    res = _run(metric, [_sample(3, np.zeros((0, 4)), [], [])],
               dict(classes=('A', 'B', 'C'), scenes=('x', 'y', 'y'),
                    supercategories=('s', 's', 's')))
    assert res['coco/bbox_mAP'] == 0.0
    assert res['coco/bbox_mAP_seen'] == 0.0
    with open(tmp_path / 'coco_hand_per_group.csv') as f:
        groups = [(r['level'], r['group']) for r in csv.DictReader(f)]
    assert groups == [('role', 'unseen'), ('role', 'seen'),
                      ('supercategory', 's'), ('scene', 'x'),
                      ('scene', 'y')]


def test_unknown_seen_class_is_an_error(tmp_path):
    metric = MMIOCMetric(
        ann_file=_hand_ann_file(tmp_path), seen_classes=['A', 'Z'])
    with pytest.raises(ValueError, match=r"not among the evaluated.*'Z'"):
        _run(metric, [_sample(3, np.zeros((0, 4)), [], [])],
             dict(classes=('A', 'B', 'C')))


def test_images_outside_the_annotation_file_are_named(tmp_path):
    """The dataloader and the evaluator reading different files is said
    in one line, not as pycocotools' bare assertion."""
    metric = MMIOCMetric(ann_file=_hand_ann_file(tmp_path))
    with pytest.raises(ValueError, match=r'1 evaluated images are not in '
                       r'the annotation file .*hand\.json.*image id 4'):
        _run(metric, [_sample(4, np.zeros((0, 4)), [], [])],
             dict(classes=('A', 'B', 'C')))


@pytest.mark.parametrize('backend', ['pycocotools', 'hotcoco'])
def test_plain_figures_equal_pycocotools(tmp_path, backend):
    """On random detections, without ann_file (ground truth converted from
    the samples as mmdet does), the 12 figures equal pycocotools'."""
    gt, dets = random_coco_detections(
        num_images=40, num_gt=160, num_dets=1600, num_classes=4,
        crowd_fraction=0.0, seed=5)
    # mmdet's conversion: labels are category ids 0..K-1
    order = {c['id']: k for k, c in enumerate(gt['categories'])}
    samples, instances = [], {}
    for a in gt['annotations']:
        x, y, w, h = a['bbox']
        instances.setdefault(a['image_id'], []).append(
            dict(bbox=[x, y, x + w, y + h],
                 bbox_label=order[a['category_id']], ignore_flag=0))
    by_image = {}
    for d in dets:
        by_image.setdefault(d['image_id'], []).append(d)
    for img in gt['images']:
        ds = by_image.get(img['id'], [])
        boxes = np.array([[*d['bbox'][:2], d['bbox'][0] + d['bbox'][2],
                           d['bbox'][1] + d['bbox'][3]] for d in ds])
        s = _sample(img['id'], boxes, [d['score'] for d in ds],
                    [order[d['category_id']] for d in ds])
        s.update(ori_shape=(img['height'], img['width']),
                 instances=instances.get(img['id'], []))
        samples.append(s)
    metric = MMIOCMetric(
        backend=backend, metric_items=['mAP', 'mAP_50', 'mAP_75', 'mAP_s',
                                       'mAP_m', 'mAP_l', 'AR@100', 'AR@300',
                                       'AR@1000', 'AR_s@1000', 'AR_m@1000',
                                       'AR_l@1000'],
        table_dir=str(tmp_path))
    res = _run(metric, samples,
               dict(classes=tuple(c['name'] for c in gt['categories'])))
    # the reference: pycocotools itself on what the metric saw (float32
    # boxes, label-indexed categories), with mmdet's max detections
    arr = np.concatenate([
        np.column_stack([
            np.full(len(s['pred_instances']['scores']), s['img_id']),
            _xywh(s['pred_instances']['bboxes'].double().numpy()),
            s['pred_instances']['scores'].double().numpy(),
            s['pred_instances']['labels'].numpy()
        ]) for s in samples
    ])
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = metric._coco_api.dataset
        coco_gt.createIndex()
        ref = COCOeval(coco_gt, coco_gt.loadRes(arr), 'bbox')
        ref.params.maxDets = [100, 300, 1000]
        ref.evaluate()
        ref.accumulate()
        ref.summarize()
    assert ref.stats[0] > 0.01
    np.testing.assert_allclose(
        [v for k, v in res.items() if k.endswith('_unrounded')], ref.stats,
        rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        [v for k, v in res.items() if not k.endswith('_unrounded')],
        np.round(ref.stats, 3), rtol=0, atol=0)


def test_registered_and_built_from_config():
    init_default_scope('mmioc_rtvp')
    metric = METRICS.build(dict(type='MMIOCMetric', backend='hotcoco'))
    assert isinstance(metric, MMIOCMetric) and metric.backend == 'hotcoco'
    with pytest.raises(ValueError, match='unknown backend'):
        MMIOCMetric(backend='fast')
