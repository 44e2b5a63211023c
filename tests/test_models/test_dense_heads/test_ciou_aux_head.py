# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch
from mmyolo.models.losses.iou_loss import bbox_overlaps

from mmioc_rtvp.models.dense_heads import CIoUAuxHead
from mmioc_rtvp.models.layers import EnergySparsePrompt
from mmioc_rtvp.registry import MODELS


def _constant_distances(head: CIoUAuxHead, level: int, ltrb) -> None:
    """Make level ``level`` predict the same (l, t, r, b) everywhere."""
    stride = head.strides[level]
    last = head.reg_convs[level][2]
    with torch.no_grad():
        last.weight.zero_()
        for i, d in enumerate(ltrb):
            # softplus(b) * stride = d
            last.bias[i] = math.log(math.expm1(d / stride))


def _ciou_by_hand(p, g):
    """CIoU of two xyxy boxes from its definition (YOLOv5/mmyolo alpha)."""
    iw = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
    ih = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
    inter = iw * ih
    wp, hp, wg, hg = p[2] - p[0], p[3] - p[1], g[2] - g[0], g[3] - g[1]
    iou = inter / (wp * hp + wg * hg - inter)
    rho2 = ((p[0] + p[2]) / 2 - (g[0] + g[2]) / 2)**2 + \
        ((p[1] + p[3]) / 2 - (g[1] + g[3]) / 2)**2
    c2 = (max(p[2], g[2]) - min(p[0], g[0]))**2 + \
        (max(p[3], g[3]) - min(p[1], g[1]))**2
    v = 4 / math.pi**2 * (math.atan(wg / hg) - math.atan(wp / hp))**2
    alpha = v / (v - iou + 1)
    return iou - rho2 / c2 - alpha * v


def test_assignment_smallest_strictly_containing_box():
    points = torch.tensor([[4.0, 4.0], [12.0, 4.0], [20.0, 20.0],
                           [10.0, 5.0], [6.0, 6.0]])
    gts = torch.tensor([[0.0, 0.0, 16.0, 16.0],  # area 256
                        [2.0, 2.0, 10.0, 10.0],  # area 64
                        [3.0, 3.0, 11.0, 11.0]])  # area 64 (tie with 1)
    idx = CIoUAuxHead.assign(points, gts)
    # (4,4): in all three -> smallest, tie -> first of them (1)
    # (12,4): only box 0; (20,20): none; (10,5): on box 1's edge -> box 2
    # (6,6): boxes 1 and 2 tie -> 1
    assert idx.tolist() == [1, 0, -1, 2, 1]
    assert CIoUAuxHead.assign(points, torch.zeros(0, 4)).tolist() == [-1] * 5


def test_decoded_boxes():
    head = CIoUAuxHead([2], [8], feat_channels=4)
    _constant_distances(head, 0, (1.0, 2.0, 3.0, 4.0))
    with torch.no_grad():
        boxes = head([torch.randn(1, 2, 2, 3)])[0]
    assert boxes.shape == (1, 6, 4)
    # row-major centres: (4, 4), (12, 4), (20, 4), (4, 12), ...
    torch.testing.assert_close(boxes[0, 0], torch.tensor([3.0, 2.0, 7.0, 8.0]))
    torch.testing.assert_close(boxes[0, 5],
                               torch.tensor([19.0, 10.0, 23.0, 16.0]))


def test_ciou_loss_hand_case_equals_mmyolo():
    """2x2 grid, stride 8, every position predicts (4, 4, 4, 4).

    selected: (4, 4) -> its smallest box B = (2, 2, 10, 10):
        pred (0, 0, 8, 8): IoU = 36 / 92, rho^2 = 8, c^2 = 200, v = 0
        CIoU = 0.391304 - 0.04 = 0.351304
    selected: (12, 12) -> A = (0, 0, 16, 16):
        pred (8, 8, 16, 16): IoU = 64 / 256, rho^2 = 32, c^2 = 512, v = 0
        CIoU = 0.25 - 0.0625 = 0.1875
    (12, 4) is inside A but not selected; (4, 12) is not selected.
    loss = mean(1 - CIoU) = (0.648696 + 0.8125) / 2 = 0.730598
    """
    head = CIoUAuxHead([2], [8], feat_channels=4)
    _constant_distances(head, 0, (4.0, 4.0, 4.0, 4.0))
    feats = [torch.randn(1, 2, 2, 2)]
    keep = [torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])]
    gts = [torch.tensor([[0.0, 0.0, 16.0, 16.0], [2.0, 2.0, 10.0, 10.0]])]
    loss = head.loss(feats, keep, gts)['loss_rvp_ciou']
    assert float(loss.detach()) == pytest.approx(0.730598, abs=1e-5)
    pred = torch.tensor([[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]])
    target = torch.tensor([[2.0, 2.0, 10.0, 10.0], [0.0, 0.0, 16.0, 16.0]])
    ciou = bbox_overlaps(pred, target, iou_mode='ciou', bbox_format='xyxy')
    torch.testing.assert_close(loss.detach(), (1 - ciou).mean())
    by_hand = [_ciou_by_hand(p.tolist(), g.tolist())
               for p, g in zip(pred, target)]
    assert by_hand == pytest.approx([0.351304, 0.1875], abs=1e-6)


def test_ciou_with_aspect_ratio_term_two_levels():
    """The v term and two levels: mean over all assigned positions."""
    head = CIoUAuxHead([2, 3], [8, 16], feat_channels=4)
    _constant_distances(head, 0, (4.0, 2.0, 4.0, 2.0))  # 8 x 4 boxes
    _constant_distances(head, 1, (8.0, 8.0, 8.0, 8.0))  # 16 x 16 boxes
    feats = [torch.randn(1, 2, 1, 1), torch.randn(1, 3, 1, 1)]
    keep = [torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1)]
    gts = [torch.tensor([[1.0, 1.0, 9.0, 9.0]])]  # 8 x 8, contains both
    loss = head.loss(feats, keep, gts)['loss_rvp_ciou']
    # level 0 centre (4, 4): pred (0, 2, 8, 6); level 1 centre (8, 8):
    # pred (0, 0, 16, 16)
    expected = 1 - (_ciou_by_hand([0, 2, 8, 6], [1, 1, 9, 9]) +
                    _ciou_by_hand([0, 0, 16, 16], [1, 1, 9, 9])) / 2
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-5)
    # the aspect-ratio term is not negligible here: v = 4/pi^2 (atan(1) -
    # atan(1/2))^2 = 0.041956
    v = 4 / math.pi**2 * (math.atan(1.0) - math.atan(0.5))**2
    assert v == pytest.approx(0.041956, abs=1e-6)


def test_positions_without_gt_or_unselected_give_no_loss():
    torch.manual_seed(0)
    head = CIoUAuxHead([2], [8], feat_channels=4)
    feats = [torch.randn(2, 2, 2, 2, requires_grad=True)]
    # image 0: nothing selected; image 1: no ground truth at all
    keep = [torch.tensor([[[[0.0, 0.0], [0.0, 0.0]]],
                          [[[1.0, 1.0], [1.0, 1.0]]]])]
    gts = [torch.tensor([[0.0, 0.0, 16.0, 16.0]]), torch.zeros(0, 4)]
    loss = head.loss(feats, keep, gts)['loss_rvp_ciou']
    assert float(loss.detach()) == 0.0
    loss.backward()  # a zero still connected to the graph
    assert all(p.grad is not None for p in head.parameters())
    # a box far from every centre contains nothing either
    loss = head.loss(feats, keep, [torch.tensor([[30.0, 30, 40, 40]])] * 2)
    assert float(loss['loss_rvp_ciou'].detach()) == 0.0


def test_gradient_reaches_the_selection_through_the_prompt():
    torch.manual_seed(0)
    rvp = EnergySparsePrompt(4, stride=8, patch_size=16).train()
    head = MODELS.build(
        dict(type='CIoUAuxHead', in_channels=[4], strides=[8],
             feat_channels=8))
    coarse = torch.randn(2, 4, 4, 4, requires_grad=True)
    prompt, keep, _ = rvp(coarse)
    gts = [torch.tensor([[0.0, 0.0, 32.0, 32.0]])] * 2
    loss = head.loss([prompt], [keep], gts)['loss_rvp_ciou']
    assert float(loss.detach()) > 0
    loss.backward()
    for n, p in list(rvp.named_parameters()) + list(head.named_parameters()):
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, n
    assert float(coarse.grad.abs().sum()) > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match='same non-zero number'):
        CIoUAuxHead([2, 3], [8])
    head = CIoUAuxHead([2], [8])
    with pytest.raises(ValueError, match='ground-truth lists'):
        head.loss([torch.randn(2, 2, 2, 2)], [torch.ones(2, 1, 2, 2)],
                  [torch.zeros(0, 4)])
