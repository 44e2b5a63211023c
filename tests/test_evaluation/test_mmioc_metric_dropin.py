# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""MMIOCMetric is a drop-in for mmdet.CocoMetric: mmdet's own test cases
(its fixture: one image, two classes, four boxes with masks) and random
detections give the same keys and values as ``mmdet.CocoMetric`` run on the
same inputs, plus ``<key>_unrounded``; the default backend is hotcoco and a
missing hotcoco falls back to pycocotools with a log line."""
import logging
import os.path as osp
import sys

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmengine.fileio import dump
from mmengine.logging import MMLogger

from mmioc_rtvp.evaluation import MMIOCMetric
from mmioc_rtvp.testing.synthetic_detections import \
    random_coco_detections

CLASSES = ('car', 'bicycle')
# mmdet's fixture: (category id, xywh box, area)
BOXES = [(0, [50, 60, 20, 20], 400), (0, [100, 120, 30, 30], 900),
         (1, [150, 160, 40, 40], 1600), (0, [250, 260, 100, 100], 10000)]


def _rle() -> dict:
    mask = np.zeros((10, 10), order='F', dtype=np.uint8)
    mask[:5, :5] = 1
    rle = mask_util.encode(mask)
    rle['counts'] = rle['counts'].decode('utf-8')
    return rle


@pytest.fixture
def ann_file(tmp_path) -> str:
    path = str(tmp_path / 'fake_data.json')
    dump(dict(
        images=[dict(id=0, width=640, height=640,
                     file_name='fake_name.jpg')],
        annotations=[
            dict(id=i + 1, image_id=0, category_id=c, area=area, bbox=b,
                 iscrowd=0, segmentation=_rle())
            for i, (c, b, area) in enumerate(BOXES)
        ],
        categories=[dict(id=i, name=n, supercategory=n)
                    for i, n in enumerate(CLASSES)]), path)
    return path


def _predictions(empty: bool = False) -> dict:
    n = 0 if empty else 4
    masks = np.zeros((n, 10, 10), dtype=np.uint8)
    masks[:, :5, :5] = 1
    return dict(
        bboxes=torch.tensor([[50, 60, 70, 80], [100, 120, 130, 150],
                             [150, 160, 190, 200],
                             [250, 260, 350, 360]])[:n].double(),
        scores=torch.tensor([1.0, 0.98, 0.96, 0.95])[:n].double(),
        labels=torch.tensor([0, 0, 1, 0])[:n],
        masks=torch.from_numpy(masks))


def _instances() -> list:
    return [dict(bbox_label=c, bbox=[x, y, x + w, y + h], ignore_flag=0,
                 mask=_rle()) for c, (x, y, w, h), _ in BOXES]


def _evaluate(metric, samples, classes=CLASSES) -> dict:
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def _assert_dropin(ours: dict, theirs: dict) -> None:
    """mmdet's keys (its items first, then its classwise keys) and values,
    then ``<key>_unrounded`` of each, which rounds to mmdet's value."""
    mine = {k: v for k, v in ours.items() if not k.endswith('_unrounded')}
    assert list(mine) == [k for k in theirs if not k.endswith(
        '_precision')] + [k for k in theirs if k.endswith('_precision')]
    np.testing.assert_equal(mine, theirs)  # NaN == NaN (no-GT classes)
    assert list(ours) == list(mine) + [f'{k}_unrounded' for k in mine]
    for key, value in mine.items():
        exact = ours[f'{key}_unrounded']
        assert np.isnan(value) if np.isnan(exact) else \
            round(np.float64(exact), 3) == value


CASES = {
    'default': dict(),
    'classwise': dict(classwise=True),
    'metric_items': dict(metric_items=['mAP_m']),
    'all_items': dict(metric_items=[
        'mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l', 'AR@100',
        'AR@300', 'AR@1000', 'AR_s@1000', 'AR_m@1000', 'AR_l@1000']),
    'mmyolo_proposal_nums': dict(proposal_nums=(100, 1, 10)),
}


@pytest.mark.parametrize('backend', ['hotcoco', 'pycocotools'])
@pytest.mark.parametrize('case', sorted(CASES))
def test_mmdet_cases(ann_file, backend, case):
    kwargs = CASES[case]
    samples = [dict(pred_instances=_predictions(), img_id=0,
                    ori_shape=(640, 640))]
    theirs = _evaluate(CocoMetric(ann_file=ann_file, **kwargs), samples)
    ours = _evaluate(
        MMIOCMetric(ann_file=ann_file, backend=backend, **kwargs), samples)
    _assert_dropin(ours, theirs)
    if case == 'classwise':
        assert theirs['coco/car_precision'] == 1.0
        assert list(ours)[0] == 'coco/bbox_mAP'


def test_without_ann_file_and_outfile(tmp_path):
    """Ground truth converted from the samples, result JSON written."""
    samples = [dict(pred_instances=_predictions(), img_id=0,
                    ori_shape=(640, 640), instances=_instances())]
    theirs = _evaluate(
        CocoMetric(outfile_prefix=str(tmp_path / 'mmdet')), samples)
    ours = _evaluate(
        MMIOCMetric(outfile_prefix=str(tmp_path / 'ours'),
                    table_dir=str(tmp_path)), samples)
    _assert_dropin(ours, theirs)
    assert theirs['coco/bbox_mAP'] == 1.0
    # mmdet's 0.9999999999999998 from the float sum is 1.0 here as there
    assert ours['coco/bbox_mAP_unrounded'] == pytest.approx(1.0)
    assert osp.isfile(tmp_path / 'ours.bbox.json')


def test_empty_results_and_mmdet_paths(ann_file, tmp_path):
    """No detection (the one deliberate difference); bbox + segm,
    proposal_fast and format_only are mmdet's own code paths (same dicts,
    no extra key)."""
    empty = [dict(pred_instances=_predictions(empty=True), img_id=0,
                  ori_shape=(640, 640))]
    # mmdet logs an error and returns {}; MMIOCMetric evaluates: AP 0 (a
    # model that finds nothing scores 0, and save_best / the learning check
    # get a figure)
    assert _evaluate(CocoMetric(ann_file=ann_file), empty) == {}
    res = _evaluate(MMIOCMetric(ann_file=ann_file), empty)
    assert res['coco/bbox_mAP'] == 0.0 and res['coco/bbox_mAP_l'] == 0.0
    samples = [dict(pred_instances=_predictions(), img_id=0,
                    ori_shape=(640, 640))]
    for kwargs in (dict(metric=['bbox', 'segm']),
                   dict(metric='proposal_fast'),
                   dict(format_only=True,
                        outfile_prefix=str(tmp_path / 'fmt'))):
        assert _evaluate(MMIOCMetric(ann_file=ann_file, **kwargs),
                         samples) == \
            _evaluate(CocoMetric(ann_file=ann_file, **kwargs), samples)
    metric = MMIOCMetric(ann_file=ann_file, iou_thrs=[0.3, 0.6])
    assert metric.iou_thrs == [0.3, 0.6]
    with pytest.raises(KeyError, match='metric item "invalid" is not '
                       'supported'):
        _evaluate(MMIOCMetric(ann_file=ann_file, metric_items=['invalid']),
                  samples)


def _random_samples(seed: int):
    """Random detections on 30 images, 5 classes (one without ground
    truth), as samples with the ground truth as instances."""
    gt, dets = random_coco_detections(
        num_images=30, num_gt=90, num_dets=900, num_classes=5,
        crowd_fraction=0.0, seed=seed)
    order = {c['id']: k for k, c in enumerate(gt['categories'])}
    gt_by_image, det_by_image = {}, {}
    for a in gt['annotations']:
        if order[a['category_id']] == 4:
            continue  # a class without ground truth: NaN precision
        x, y, w, h = a['bbox']
        gt_by_image.setdefault(a['image_id'], []).append(
            dict(bbox=[x, y, x + w, y + h],
                 bbox_label=order[a['category_id']], ignore_flag=0))
    for d in dets:
        det_by_image.setdefault(d['image_id'], []).append(d)
    samples = []
    for img in gt['images']:
        ds = det_by_image.get(img['id'], [])
        boxes = torch.tensor([[*d['bbox'][:2], d['bbox'][0] + d['bbox'][2],
                               d['bbox'][1] + d['bbox'][3]] for d in ds],
                             dtype=torch.float32).reshape(-1, 4)
        samples.append(dict(
            img_id=img['id'],
            ori_shape=(img['height'], img['width']),
            instances=gt_by_image.get(img['id'], []),
            pred_instances=dict(
                bboxes=boxes,
                scores=torch.tensor([d['score'] for d in ds]),
                labels=torch.tensor([order[d['category_id']] for d in ds],
                                    dtype=torch.int64))))
    return samples, tuple(c['name'] for c in gt['categories'])


@pytest.mark.parametrize('seed', [0, 1])
def test_default_backend_parity_on_random_detections(tmp_path, seed):
    """The default metric (hotcoco) returns mmdet.CocoMetric's dict on
    non-trivial figures, classwise keys and a no-GT class included."""
    samples, classes = _random_samples(seed)
    metric = MMIOCMetric(classwise=True, table_dir=str(tmp_path))
    assert metric.backend == 'hotcoco'
    ours = _evaluate(metric, samples, classes)
    theirs = _evaluate(CocoMetric(classwise=True), samples, classes)
    assert 0 < theirs['coco/bbox_mAP'] < theirs['coco/bbox_mAP_50'] < 1
    assert np.isnan(theirs[f'coco/{classes[4]}_precision'])
    _assert_dropin(ours, theirs)


def test_missing_hotcoco_falls_back_with_a_log_line(monkeypatch):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_instance('test_missing_hotcoco')
    logger.addHandler(handler)
    try:
        monkeypatch.setitem(sys.modules, 'hotcoco', None)  # import fails
        metric = MMIOCMetric()
    finally:
        logger.removeHandler(handler)
    assert metric.backend == 'pycocotools'
    assert any('hotcoco is not installed, evaluating with pycocotools'
               in r.getMessage() for r in records)
