# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from mmioc_rtvp.models.prompt_encoders import (ExemplarPromptEncoder,
                                               box_masks, plan_exemplar_swap)


def _encoder(**kwargs):
    torch.manual_seed(0)
    cfg = dict(in_channels=[8, 16, 32], strides=[8, 16, 32], embed_dims=12,
               feat_channels=16, num_groups=4)
    cfg.update(kwargs)
    return ExemplarPromptEncoder(**cfg).eval()


def _feats(batch=2, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(batch, c, size // s, size // s, generator=gen)
        for c, s in ((8, 8), (16, 16), (32, 32)))


def test_box_masks_cells_by_centre():
    # stride 8 on 4 x 4 cells: centres at 4, 12, 20, 28
    masks = box_masks(torch.tensor([[0., 0., 13., 13.], [9., 9., 10., 10.]]),
                      4, 4, 8)
    expected0 = torch.zeros(4, 4, dtype=torch.bool)
    expected0[:2, :2] = True
    assert torch.equal(masks[0], expected0)
    # a box smaller than a cell keeps the cell holding its centre (1, 1)
    assert masks[1].sum() == 1 and masks[1, 1, 1]


def test_shapes_and_unit_norm():
    enc = _encoder()
    boxes = torch.tensor([[0., 0., 32., 32.], [8., 16., 60., 40.],
                          [30., 30., 34., 34.]])
    out = enc(_feats(), boxes, torch.tensor([0, 1, 1]))
    assert out.shape == (3, 12)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
    assert enc(_feats(), boxes[:0], torch.zeros(0)).shape == (0, 12)


def test_only_the_box_matters():
    """Features outside the box (at every level's finest-level cells) do
    not change the embedding: pooling is softmax inside the mask."""
    enc = _encoder()
    feats = _feats(batch=1)
    box = torch.tensor([[0., 0., 24., 24.]])  # cells (0..2, 0..2) at P3
    ref = enc(feats, box, torch.tensor([0]))
    changed = list(f.clone() for f in feats)
    changed[0][..., 5:, 5:] += 10.0  # P3 cells far from the box
    out = enc(tuple(changed), box, torch.tensor([0]))
    torch.testing.assert_close(out, ref)
    changed[0][..., 1, 1] += 10.0  # inside the box
    assert not torch.allclose(enc(tuple(changed), box, torch.tensor([0])),
                              ref)


def test_pooling_equals_loop():
    """The grouped masked attention pooling against a plain loop."""
    enc = _encoder()
    feats = _feats(batch=1)
    box = torch.tensor([[4., 4., 40., 28.]])
    out = enc(feats, box, torch.tensor([0]))
    fused = enc._sum_at_finest(feats, enc.feat_convs)[0]  # (C, H, W)
    guide = enc._sum_at_finest(feats, enc.attn_convs)[0]
    mask = box_masks(box, 8, 8, 8)[0]
    logits = enc.attn_out(torch.cat([guide, mask[None].float()])[None])[0]
    c, g = enc.feat_channels, enc.num_groups
    pooled = []
    for gi in range(g):
        cells = [(y, x) for y in range(8) for x in range(8) if mask[y, x]]
        weights = torch.stack([logits[gi, y, x] for y, x in cells]).softmax(0)
        for ch in range(gi * c // g, (gi + 1) * c // g):
            pooled.append(sum(w * fused[ch, y, x]
                              for w, (y, x) in zip(weights, cells)))
    expected = F.normalize(enc.proj(torch.stack(pooled)), dim=-1)
    torch.testing.assert_close(out[0], expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match='divide'):
        _encoder(num_groups=5)
    with pytest.raises(ValueError, match='levels'):
        _encoder(strides=[8, 16])
    with pytest.raises(ValueError, match='feature levels'):
        _encoder()(_feats()[:2], torch.zeros(1, 4), torch.zeros(1))


def test_swap_plan_cross_image_only():
    texts = [['hole', 'spot', ''], ['spot', 'hole', 'crack'],
             ['crack', 'hole', 'spot']]
    # image 0: a hole; image 1: a spot; image 2: a crack
    gt_batch = torch.tensor([0, 1, 2])
    gt_labels = torch.tensor([0, 0, 0])
    gt_boxes = torch.tensor([[0., 0., 4., 4.], [1., 1., 5., 5.],
                             [2., 2., 6., 6.]])
    plan = plan_exemplar_swap(texts, gt_batch, gt_labels, gt_boxes, 1.0)
    # every non-padding slot whose class has a box in ANOTHER image: not
    # (0, 0) 'hole', (1, 0) 'spot', (2, 0) 'crack' (only their own image
    # holds them) nor the padding (0, 2)
    slots = sorted(zip(plan.slot_batch.tolist(), plan.slot_index.tolist()))
    assert slots == [(0, 1), (1, 1), (1, 2), (2, 1), (2, 2)]
    for b, k, src, box in zip(plan.slot_batch, plan.slot_index,
                              plan.src_batch, plan.src_boxes):
        assert src != b
        row = int(torch.nonzero((gt_boxes == box).all(1))[0])
        assert texts[int(src)][int(gt_labels[row])] == texts[int(b)][int(k)]
    assert len(plan_exemplar_swap(texts, gt_batch, gt_labels, gt_boxes,
                                  0.0)) == 0
    gen = torch.Generator().manual_seed(0)
    half = [len(plan_exemplar_swap(texts, gt_batch, gt_labels, gt_boxes, 0.5,
                                   gen)) for _ in range(200)]
    assert 2.0 < sum(half) / len(half) < 3.0  # 5 eligible slots x 0.5
