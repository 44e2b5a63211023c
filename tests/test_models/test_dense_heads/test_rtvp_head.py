# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmyolo.models.layers import CSPLayerWithTwoConv
from mmyolo.models.task_modules.assigners import BatchTaskAlignedAssigner

from mmioc_rtvp.models.dense_heads import (RTVPHead, RTVPHeadModule,
                                          YOLOWorldHeadModule)
from mmioc_rtvp.models.layers import UnguidedCSPLayerWithTwoConv
from ..rtvpnet_utils import build_tiny_rtvpnet
from ..yolo_world_utils import make_train_batch

TEXTS = [['scratch', 'hole', 'crack', ''], ['stain', 'scratch', '', '']]
BOXES = [[[4, 6, 40, 30], [30, 30, 60, 62]], [[10, 10, 50, 40]]]
LABELS = [[0, 2], [1]]


@pytest.fixture(scope='module')
def setup():
    torch.manual_seed(0)
    model = build_tiny_rtvpnet(edp=False, rvp=False, vt=False)
    model.train()
    data = model.data_preprocessor(
        make_train_batch(TEXTS, BOXES, LABELS, size=64), True)
    txt = model.backbone.forward_text(TEXTS)
    with torch.no_grad():
        img_feats, txt = model.extract_feat(data['inputs'], txt)
    return model, img_feats, txt, data['data_samples']


def head_module_cfg(module):
    """Arguments that rebuild the tiny model's head module."""
    return dict(
        num_classes=module.num_classes,
        in_channels=[256, 512, 1024],
        widen_factor=0.125,
        embed_dims=16,
        featmap_strides=[8, 16, 32],
        reg_max=16)


def test_infonce_equals_a_loop_over_the_assigned_positives(setup):
    model, img_feats, txt, samples = setup
    head = model.bbox_head
    assert isinstance(head, RTVPHead)
    with torch.no_grad():
        losses = head.loss(img_feats, txt, samples)
        # the same forward, recording the single assigner call
        k = txt.shape[1]
        with head._vocabulary_size(k):
            outs = head(img_feats, txt)
            with head._recorded_assignment() as record:
                head.loss_by_feat(*outs[:3], *head._loss_inputs(samples, k))
    fg = record['fg_mask_pre_prior']
    assert int(fg.sum()) > 0
    regions = torch.cat([e.flatten(2).transpose(1, 2) for e in outs[3]],
                        dim=1)
    tau = head.loss_region_text.temperature
    num, den = 0.0, 0.0
    for b, n in fg.nonzero().tolist():
        label = int(record['assigned_labels'][b, n])
        weight = float(record['assigned_scores'][b, n].sum())
        valid = [j for j in range(k) if float(txt[b, j].abs().sum()) > 0]
        logits = {
            j: float(F.cosine_similarity(regions[b, n], txt[b, j], dim=0)) /
            tau
            for j in valid
        }
        log_den = math.log(sum(math.exp(v) for v in logits.values()))
        num += weight * (log_den - logits[label])
        den += weight
    expected = head.loss_region_text.loss_weight * num / den * txt.shape[0]
    assert float(losses['loss_region_text']) == pytest.approx(
        expected, rel=1e-4)
    # the assigner is the configured one again
    assert isinstance(head.assigner, BatchTaskAlignedAssigner)


def test_assigner_is_restored_after_an_error(setup):
    model, _, _, _ = setup
    head = model.bbox_head
    original = head.assigner
    with pytest.raises(RuntimeError):
        with head._recorded_assignment():
            raise RuntimeError('boom')
    assert head.assigner is original


def test_head_module_matches_yolo_world_in_eval_and_adds_embeddings(setup):
    model, img_feats, txt, _ = setup
    module = model.bbox_head.head_module
    cfg = head_module_cfg(module)
    plain = YOLOWorldHeadModule(**cfg)
    plain.load_state_dict(module.state_dict())
    plain.eval()
    module.eval()
    with torch.no_grad():
        a = module(img_feats, txt)
        b = plain(img_feats, txt)
    assert len(a) == len(b) == 2
    for la, lb in zip(a, b):
        for x, y in zip(la, lb):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    module.train()
    with torch.no_grad():
        outs = module(img_feats, txt)
    assert len(outs) == 4
    for feat, cls_pred, embed in zip(img_feats, module.cls_preds, outs[3]):
        torch.testing.assert_close(embed, cls_pred(feat))


def test_head_without_embeddings_is_refused(setup):
    model, img_feats, txt, samples = setup
    head = model.bbox_head
    head.head_module.eval()  # eval mode: three outputs, no embeddings
    try:
        with pytest.raises(ValueError, match='RTVPHeadModule'):
            head.loss(img_feats, txt, samples)
    finally:
        head.head_module.train()


def test_unguided_block_is_c2f():
    torch.manual_seed(0)
    block = UnguidedCSPLayerWithTwoConv(
        8, 16, guide_channels=4, embed_channels=8, num_heads=2, num_blocks=2)
    ref = CSPLayerWithTwoConv(8, 16, num_blocks=2)
    ref.load_state_dict(block.state_dict())
    block.eval()
    ref.eval()
    x = torch.rand(2, 8, 6, 6)
    torch.testing.assert_close(
        block(x, torch.rand(2, 3, 4)), ref(x), rtol=0, atol=0)


def test_normalized_region_embeddings_are_the_bn_output_used_once(setup):
    """``region_embeddings='normalized'``: the InfoNCE receives the
    BatchNorm-ed regions the classifier compares with the texts, the logits
    equal the raw mode's, and the BatchNorm statistics move once per
    forward (not twice)."""
    model, img_feats, txt, _ = setup
    module = model.bbox_head.head_module
    cfg = head_module_cfg(module)
    raw = RTVPHeadModule(**cfg)
    normed = RTVPHeadModule(region_embeddings='normalized', **cfg)
    raw.load_state_dict(module.state_dict())
    normed.load_state_dict(module.state_dict())
    raw.train()
    normed.train()
    with torch.no_grad():
        out_raw = raw(img_feats, txt)
        out_normed = normed(img_feats, txt)
    for a, b in zip(out_raw[:3], out_normed[:3]):
        for x, y in zip(a, b):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    for feat, pred, embed in zip(img_feats, normed.cls_preds,
                                 out_normed[3]):
        # BN in training mode: per-channel zero mean, unit variance
        expected = F.batch_norm(
            pred(feat), None, None, training=True, eps=1e-3)
        # the BN's affine weight/bias are 1 / 0 after initialisation
        torch.testing.assert_close(embed, expected, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(embed, pred(feat))
    # the running statistics moved exactly as much in both modes
    for a, b in zip(raw.cls_contrasts, normed.cls_contrasts):
        torch.testing.assert_close(a.norm.running_mean, b.norm.running_mean)
        assert int(a.norm.num_batches_tracked) == int(
            b.norm.num_batches_tracked) == 1 + int(
                module.cls_contrasts[0].norm.num_batches_tracked)


def test_unknown_region_embeddings_is_refused():
    with pytest.raises(ValueError, match="'bn'"):
        RTVPHeadModule(
            num_classes=2, in_channels=[256, 512, 1024], embed_dims=16,
            widen_factor=0.125, region_embeddings='bn')
