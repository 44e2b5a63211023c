# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""AP of a group of classes from one evaluation, and the AP tables."""
import csv

import numpy as np
import pytest

from mmioc_rtvp.evaluation.functional import (ap_row, evaluate_coco_bbox,
                                              group_rows, harmonic_mean,
                                              markdown_table,
                                              summarize_precision, write_csv)
from mmioc_rtvp.testing.synthetic_detections import (
    detection_list_to_array, random_coco_detections)

IOU_THRS = np.linspace(0.5, 0.95, 10)


def test_group_ap_equals_cocoeval_on_the_group():
    """The AP of a group of classes read from one evaluation equals the AP
    COCOeval reports when its catIds are that group."""
    gt, dets = random_coco_detections(
        num_images=80, num_gt=300, num_dets=3000, num_classes=6, seed=3)
    dets = detection_list_to_array(dets)
    cat_ids = [c['id'] for c in gt['categories']]
    full = evaluate_coco_bbox(gt, dets, 'pycocotools', cat_ids=cat_ids)
    for group in ([0, 2, 5], [1], [3, 4]):
        alone = evaluate_coco_bbox(
            gt, dets, 'pycocotools', cat_ids=[cat_ids[k] for k in group])
        row = ap_row(full.precision, IOU_THRS, group)
        np.testing.assert_allclose(
            [row[k] for k in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')],
            alone.stats[:6], rtol=0, atol=1e-12)
    whole = ap_row(full.precision, IOU_THRS)
    np.testing.assert_allclose(whole['AP'], full.stats[0], atol=1e-12)


@pytest.mark.parametrize('max_dets', [(1, 3, 100), (100, 300, 1000),
                                      (1, 3, 10)])
def test_ap_row_over_all_classes_is_cocoeval_stats(max_dets):
    """pycocotools reads AP at 100 detections, the rest at the last
    setting (-1 without a setting of 100); ap_row does the same."""
    gt, dets = random_coco_detections(
        num_images=40, num_gt=120, num_dets=2000, num_classes=4, seed=4)
    res = evaluate_coco_bbox(gt, detection_list_to_array(dets), 'pycocotools',
                             max_dets=max_dets)
    row = ap_row(res.precision, IOU_THRS, max_dets=max_dets)
    np.testing.assert_allclose(list(row.values()), res.stats[:6], atol=1e-12)
    assert (row['AP'] == -1) == (100 not in max_dets)


def test_summarize_precision_hand_case():
    """(T=1, R=3, K=2, A=1, M=1): class 0 valid, class 1 absent (-1)."""
    precision = np.array([1.0, 0.5, 0.0, -1, -1, -1]).reshape(1, 2, 3)
    precision = precision.transpose(0, 2, 1)[..., None, None]
    assert summarize_precision(precision) == pytest.approx(0.5)
    assert summarize_precision(precision, [1]) == -1.0
    assert summarize_precision(precision, [0], iou_index=0) == \
        pytest.approx(0.5)


def test_harmonic_mean():
    assert harmonic_mean(0.5, 0.25) == pytest.approx(2 * .125 / .75)
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(0.4, 0.0) == 0.0
    assert harmonic_mean(-1.0, 0.3) == -1.0


def test_group_rows_and_tables(tmp_path):
    # T=10, R=2, K=3, A=4, M=1; per-class AP 0.2 / 0.4 / absent
    precision = np.full((10, 2, 3, 4, 1), -1.0)
    precision[:, :, 0] = 0.2
    precision[:, :, 1] = 0.4
    rows = group_rows(precision, IOU_THRS, ['wood', 'steel', 'wood'],
                      [3, 5, 0], max_dets=(100, ))
    assert [r['group'] for r in rows] == ['wood', 'steel']
    assert rows[0]['classes'] == 2 and rows[0]['gt'] == 3
    assert rows[0]['AP'] == pytest.approx(0.2)  # the absent class is -1
    assert rows[1]['AP50'] == pytest.approx(0.4)
    text = markdown_table([dict(a='x', b=0.25, c=-1.0)])
    assert text.splitlines() == ['| a | b | c |', '|---|---|---|',
                                 '| x | 0.2500 | n/a |']
    path = tmp_path / 'sub' / 't.csv'
    write_csv(str(path), rows)
    with open(path) as f:
        read = list(csv.DictReader(f))
    assert read[1]['group'] == 'steel'
    assert float(read[1]['AP']) == pytest.approx(0.4)
