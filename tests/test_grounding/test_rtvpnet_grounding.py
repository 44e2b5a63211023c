# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""RTVPNetGrounding, RTVPGroundingHead and ReferentRankLoss."""
import logging
import math

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from mmioc_rtvp.models.losses import ReferentRankLoss
from mmioc_rtvp.registry import MODELS
from tests.test_models.rtvpnet_utils import tiny_rtvpnet_cfg
from tests.test_models.yolo_world_utils import (build_tiny_yolo_world,
                                                make_test_batch,
                                                make_train_batch)

EXPRESSIONS = [['the largest hole in wood'],
               ['the second crack in rock from the left']]
BOXES = [[[2, 2, 60, 50]], [[4, 4, 40, 60]]]
LABELS = [[0], [0]]


def _build(**overrides):
    cfg = tiny_rtvpnet_cfg(num_train_classes=1, num_test_classes=1,
                           infonce=False)
    cfg.update(type='RTVPNetGrounding', num_ranked=5)
    cfg['bbox_head']['type'] = 'RTVPGroundingHead'
    cfg.update(overrides)
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return _build()


def _predict(model, texts, seed=1):
    data = model.data_preprocessor(
        make_test_batch(texts, num_images=len(texts), seed=seed), False)
    model.eval()
    with torch.no_grad():
        return model(**data, mode='predict')


def test_rank_loss_by_hand():
    loss = ReferentRankLoss(loss_weight=2.0)
    logits = torch.tensor([[0.0, math.log(3.0)], [5.0, 1.0]],
                          requires_grad=True)
    # image 0: softmax (1/4, 3/4), target all on prior 1: -log(3/4);
    # image 1 has no positive prior and is left out of the mean
    weights = torch.tensor([[0.0, 0.7], [0.0, 0.0]])
    value = loss(logits, weights)
    assert float(value) == pytest.approx(2.0 * -math.log(0.75), rel=1e-6)
    # weights are normalised per image: (1, 1) -> half on each prior
    value = loss(logits[:1], torch.tensor([[1.0, 1.0]]))
    assert float(value) == pytest.approx(
        2.0 * -(0.5 * math.log(0.25) + 0.5 * math.log(0.75)), rel=1e-6)
    # no positive at all: zero, still in the graph
    zero = loss(logits, torch.zeros(2, 2))
    zero.backward()
    assert float(zero) == 0 and logits.grad is not None
    with pytest.raises(ValueError, match=r'\(B, N\)'):
        loss(logits, torch.zeros(2, 3))


def test_losses_and_rank_loss_on_the_assigned_priors(model):
    model.train()
    data = model.data_preprocessor(
        make_train_batch(EXPRESSIONS, BOXES, LABELS), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_dfl', 'loss_rank',
                           'loss_opt', 'opt_value', 'loss_rvp_ciou'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert float(losses['loss_rank']) > 0

    # loss_rank is ReferentRankLoss on the assigner's alignment scores of
    # the same forward, times the batch size (mmyolo's scaling)
    head = model.bbox_head
    img_feats, txt_feats = model.extract_feat(data['inputs'],
                                              model.backbone.forward_text(
                                                  EXPRESSIONS))
    with head._vocabulary_size(1):
        cls_scores, bbox_preds, bbox_dists, _ = head(img_feats, txt_feats)
        loss_inputs = head._loss_inputs(data['data_samples'], 1)
        with head._recorded_assignment() as record:
            out = head.loss_by_feat(cls_scores, bbox_preds, bbox_dists,
                                    *loss_inputs)
    logits = torch.cat([s.flatten(1) for s in cls_scores], 1)
    weights = record['assigned_scores'].sum(-1)
    assert (weights > 0).any(dim=1).all()  # each referent got priors
    expected = ReferentRankLoss()(logits, weights) * 2
    torch.testing.assert_close(out['loss_rank'], expected)
    # the ranking loss trains the scoring branch
    model.zero_grad()
    out['loss_rank'].backward()
    grads = [p.grad for p in head.head_module.cls_preds.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_flattened_logits_follow_mmyolos_prior_order():
    scores = [torch.randn(2, 1, 4, 4), torch.randn(2, 1, 2, 2)]
    from mmioc_rtvp.models.dense_heads import RTVPGroundingHead
    mmyolo_order = torch.cat(
        [s.permute(0, 2, 3, 1).reshape(2, -1, 1) for s in scores], 1)[..., 0]
    torch.testing.assert_close(RTVPGroundingHead.flatten_logits(scores),
                               mmyolo_order)
    with pytest.raises(ValueError, match='K = 2'):
        RTVPGroundingHead.flatten_logits([torch.randn(2, 2, 4, 4)])


def test_one_referent_per_training_image(model):
    model.train()
    data = model.data_preprocessor(
        make_train_batch(EXPRESSIONS, [BOXES[0] * 2, BOXES[1]],
                         [[0, 0], [0]]), True)
    with pytest.raises(ValueError, match='2 referent boxes'):
        model(**data, mode='loss')


def test_predict_returns_ranked_boxes(model):
    results = _predict(model, EXPRESSIONS)
    for result in results:
        pred = result.pred_instances
        assert 0 < len(pred) <= 5
        assert (pred.labels == 0).all()
        assert (pred.scores[:-1] >= pred.scores[1:]).all()


def test_empty_expression_is_reported_and_the_batch_finishes(model):
    alone = _predict(model, [EXPRESSIONS[1]], seed=1)
    # the same image (seed 1 draws image 0 first) now second, after an empty
    # expression: batch [bad, good] -> the good one is predicted as alone
    batch = make_test_batch([['  '], EXPRESSIONS[1]], num_images=2, seed=1)
    batch['inputs'][1] = batch['inputs'][0].clone()
    data = model.data_preprocessor(batch, False)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        with torch.no_grad():
            results = model(**data, mode='predict')
    finally:
        logger.removeHandler(handler)
    assert len(results[0].pred_instances) == 0
    torch.testing.assert_close(results[1].pred_instances.bboxes,
                               alone[0].pred_instances.bboxes)
    messages = [r.getMessage() for r in records]
    assert messages == [
        'RTVPNetGrounding: expression 0: empty expression, no boxes'
    ]


def test_one_expression_per_image(model):
    with pytest.raises(ValueError, match='has 2 texts'):
        _predict(model, [['a', 'b'], ['c', 'd']])
    with pytest.raises(ValueError, match='num_train_classes must be 1'):
        _build(num_train_classes=3)


def test_yolo_world_baseline_ranks_by_score():
    """The baseline config relies on mmyolo's decoding returning boxes by
    descending score (the first one is its answer)."""
    torch.manual_seed(0)
    model = build_tiny_yolo_world(num_train_classes=1, num_test_classes=1)
    results = _predict(model, EXPRESSIONS)
    for result in results:
        scores = result.pred_instances.scores
        assert len(scores) > 1
        assert (scores[:-1] >= scores[1:]).all()
