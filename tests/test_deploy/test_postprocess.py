# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The numpy post-processing of the ONNX runner: hand-computed cases and
mmcv's ``batched_nms`` as the reference."""
import numpy as np
import pytest
import torch

from mmioc_rtvp.deploy.postprocess import (batched_nms, nms,
                                           postprocess_detections)


def test_nms_suppresses_strictly_above_the_threshold():
    # box 1 overlaps box 0: inter 8x10=80, union 100+100-80=120, IoU 2/3;
    # box 2 is disjoint
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [20, 20, 30, 30]],
                     np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert nms(boxes, scores, 0.6).tolist() == [0, 2]
    assert nms(boxes, scores, 2 / 3 + 1e-6).tolist() == [0, 1, 2]
    # the order is by score, not by input position
    assert nms(boxes, scores[::-1].copy(), 0.6).tolist() == [2, 1]


def test_batched_nms_keeps_overlaps_of_other_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [1, 0, 11, 10]],
                     np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    labels = np.array([0, 0, 1])
    assert batched_nms(boxes, scores, labels, 0.5).tolist() == [0, 2]
    assert batched_nms(boxes, scores, labels, 0.5,
                       class_agnostic=True).tolist() == [0]


@pytest.mark.parametrize('num', [300, 10500])
def test_batched_nms_matches_mmcv(num):
    """Random boxes in 4 classes, distinct scores (no ties to order): the
    same kept indices in the same order as mmcv (offsets below 10000 boxes,
    a loop over classes above)."""
    from mmcv.ops import batched_nms as mmcv_batched_nms
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (num, 2)).astype(np.float32)
    wh = rng.uniform(5, 30, (num, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + wh], 1)
    scores = (rng.permutation(num) / num).astype(np.float32)
    labels = rng.integers(0, 4, num)
    _, ref = mmcv_batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores),
        torch.from_numpy(labels), dict(type='nms', iou_threshold=0.5))
    ours = batched_nms(boxes, scores, labels, 0.5)
    assert len(ours) > 10
    assert ours.tolist() == ref.tolist()


def test_postprocess_threshold_topk_rescale_clip_and_limit():
    # 3 priors x 2 classes; input -> original: subtract (left 2, top 4),
    # divide by (0.5, 0.25)
    boxes = np.array([[2, 4, 12, 9], [2, 4, 12, 9], [40, 40, 90, 90]],
                     np.float32)
    scores = np.array([[0.9, 0.05], [0.6, 0.8], [0.3, 0.02]], np.float32)
    cfg = dict(multi_label=True, score_thr=0.1, nms_pre=3,
               nms=dict(type='nms', iou_threshold=0.7), max_per_img=10)
    meta = dict(ori_shape=(200, 60), scale_factor=(0.5, 0.25),
                pad_param=np.array([4, 4, 2, 2], np.float32))
    out = postprocess_detections(boxes, scores, cfg, meta)
    # pairs above 0.1: (0,c0) .9, (1,c1) .8, (1,c0) .6, (2,c0) .3; nms_pre=3
    # drops .3; (1,c0) is prior 0's box again in class 0: IoU 1 -> removed
    assert out['labels'].tolist() == [0, 1]
    np.testing.assert_allclose(out['scores'], [0.9, 0.8], rtol=0, atol=1e-7)
    np.testing.assert_allclose(out['bboxes'][0], [0, 0, 20, 20])
    # without the threshold-limited top-k, prior 2 comes through, clipped to
    # the original width 60: x1 = 76 and x2 = 176 -> 60
    out = postprocess_detections(boxes, scores, dict(cfg, nms_pre=10), meta)
    assert out['labels'].tolist() == [0, 1, 0]
    np.testing.assert_allclose(out['bboxes'][2], [60, 144, 60, 200])
    out = postprocess_detections(boxes, scores,
                                 dict(cfg, nms_pre=10, max_per_img=1), meta)
    assert out['scores'].tolist() == pytest.approx([0.9])


def test_postprocess_single_label_and_min_size():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], np.float32)
    scores = np.array([[0.3, 0.7], [0.9, 0.1]], np.float32)
    cfg = dict(multi_label=False, score_thr=0.2, nms=None, min_bbox_size=5)
    out = postprocess_detections(boxes, scores, cfg)
    # best class of each prior only; the 2x2 box is below min_bbox_size
    assert out['labels'].tolist() == [1]
    assert out['scores'].tolist() == pytest.approx([0.7])


def test_postprocess_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r'boxes \(N, 4\)'):
        postprocess_detections(np.zeros((3, 4)), np.zeros((2, 5)), {})
