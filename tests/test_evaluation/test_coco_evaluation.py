# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The fast backend gives pycocotools' figures (parity on random data)."""
import numpy as np
import pytest

from mmioc_rtvp.evaluation.functional import (detections_array,
                                              evaluate_coco_bbox)
from mmioc_rtvp.testing.synthetic_detections import (
    detection_list_to_array, random_coco_detections)


@pytest.fixture(scope='module')
def random_data():
    gt, dets = random_coco_detections(
        num_images=150, num_gt=450, num_dets=6000, num_classes=8,
        empty_fraction=0.15, crowd_fraction=0.08, seed=7)
    return gt, detection_list_to_array(dets)


def test_random_data_exercise_every_case(random_data):
    """The parity data hold empty images with detections, crowd boxes,
    every area range, and image-class pairs with more detections than the
    max-detection settings 1 and 5 (the parity test runs 1, 5, 100)."""
    gt, dets = random_data
    with_gt = {a['image_id'] for a in gt['annotations']}
    empty = [i['id'] for i in gt['images'] if i['id'] not in with_gt]
    assert len(empty) > 5
    assert np.isin(dets[:, 0], empty).sum() > 50
    assert sum(a['iscrowd'] for a in gt['annotations']) > 10
    areas = np.array([a['area'] for a in gt['annotations']])
    assert (areas < 32**2).sum() > 10 and (areas > 96**2).sum() > 10
    assert ((areas >= 32**2) & (areas <= 96**2)).sum() > 10
    pairs = dets[:, 0].astype(int) * 1000 + dets[:, 6].astype(int)
    assert np.unique(pairs, return_counts=True)[1].max() > 5


@pytest.mark.parametrize('max_dets', [None, (100, 300, 1000), (1, 5, 100)])
@pytest.mark.parametrize('score_decimals', [-1, 1])
def test_hotcoco_equals_pycocotools(max_dets, score_decimals):
    """All 12 figures within 1e-6 and the precision / recall arrays equal,
    with COCO's and mmdet's max detections, and with tied scores."""
    gt, dets = random_coco_detections(
        num_images=150, num_gt=450, num_dets=6000, num_classes=8,
        empty_fraction=0.15, crowd_fraction=0.08,
        score_decimals=score_decimals, seed=11)
    dets = detection_list_to_array(dets)
    ref = evaluate_coco_bbox(gt, dets, 'pycocotools', max_dets=max_dets)
    fast = evaluate_coco_bbox(gt, dets, 'hotcoco', max_dets=max_dets)
    assert ref.stats.shape == (12, )
    assert ref.stats[0] > 0.01  # a meaningful, non-degenerate AP
    np.testing.assert_allclose(fast.stats, ref.stats, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        fast.precision, ref.precision, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.recall, ref.recall, rtol=0, atol=1e-12)
    assert fast.max_dets == ref.max_dets


def test_subset_of_categories_and_images(random_data):
    """catIds order drives the class axis; imgIds restrict the images."""
    gt, dets = random_data
    cat_ids = [c['id'] for c in gt['categories']][::-1][:5]
    img_ids = [i['id'] for i in gt['images']][::2]
    out = {
        b: evaluate_coco_bbox(gt, dets, b, cat_ids=cat_ids, img_ids=img_ids)
        for b in ('pycocotools', 'hotcoco')
    }
    assert out['pycocotools'].precision.shape[2] == 5
    np.testing.assert_allclose(
        out['hotcoco'].stats, out['pycocotools'].stats, atol=1e-6)
    full = evaluate_coco_bbox(gt, dets, 'pycocotools')
    assert not np.allclose(full.stats, out['pycocotools'].stats)


def test_no_detections_and_class_without_gt():
    """No detection at all: AP 0 where there is ground truth, -1 where
    there is none (the -1 convention of pycocotools), on both backends."""
    gt, _ = random_coco_detections(
        num_images=20, num_gt=40, num_dets=0, num_classes=3, seed=2)
    gt['categories'].append(dict(id=99, name='no boxes'))
    for backend in ('pycocotools', 'hotcoco'):
        res = evaluate_coco_bbox(gt, np.zeros((0, 7)), backend)
        assert res.stats[0] == 0.0
        assert (res.precision[:, :, 3] == -1).all()  # id 99 sorts last
        assert (res.precision[:, :, :3, 0] == 0).all()


def test_unknown_backend():
    gt, _ = random_coco_detections(
        num_images=5, num_gt=5, num_dets=0, empty_fraction=0.0)
    with pytest.raises(ValueError, match='unknown COCO evaluation backend'):
        evaluate_coco_bbox(gt, np.zeros((0, 7)), 'cocoapi')


def test_detections_array_converts_boxes_and_ids():
    arr = detections_array(
        [5, 7, 9],
        [np.array([[1., 2., 4., 8.]], np.float32), np.zeros((0, 4)),
         np.array([[0., 0., 1.5, 2.5], [10., 20., 30., 25.]])],
        [np.array([.9]), np.zeros(0), np.array([.5, .25])],
        [np.array([3]), np.zeros(0, int), np.array([1, 2])])
    np.testing.assert_array_equal(
        arr, [[5, 1, 2, 3, 6, .9, 3], [9, 0, 0, 1.5, 2.5, .5, 1],
              [9, 10, 20, 20, 5, .25, 2]])
    empty = detections_array([1], [np.zeros((0, 4))], [np.zeros(0)],
                             [np.zeros(0)])
    assert empty.shape == (0, 7)
