# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import copy

import pytest
import torch
from mmdet.evaluation import CocoMetric

from ..yolo_world_utils import (build_tiny_yolo_world, make_test_batch,
                                make_train_batch)

TRAIN_TEXTS = [['scratch', 'hole', 'crack', ''],
               ['stain', 'scratch', '', '']]
TRAIN_BOXES = [[[4, 6, 40, 30], [30, 30, 60, 62]], [[10, 10, 50, 40]]]
TRAIN_LABELS = [[0, 2], [1]]
VOCAB = ['scratch', 'hole', 'crack']


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_tiny_yolo_world(num_train_classes=4, num_test_classes=3)


def _train_data(model, size=64):
    data = make_train_batch(TRAIN_TEXTS, TRAIN_BOXES, TRAIN_LABELS,
                            size=size)
    return model.data_preprocessor(data, True)


def _predict(model, texts, num_images=2, size=64, seed=1):
    data = model.data_preprocessor(
        make_test_batch(texts, num_images=num_images, size=size, seed=seed),
        False)
    model.eval()
    with torch.no_grad():
        return model(**data, mode='predict')


def test_loss_and_gradients(model):
    model.train()
    model.zero_grad()
    losses = model(**_train_data(model), mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_dfl'}
    for value in losses.values():
        assert torch.isfinite(value) and value > 0
    sum(losses.values()).backward()

    def has_grad(module):
        return any(p.grad is not None and torch.count_nonzero(p.grad) > 0
                   for p in module.parameters())

    assert has_grad(model.backbone.image_model.stem)
    assert has_grad(model.backbone.image_model.stage4)
    assert has_grad(model.neck.top_down_layers[0].attn_block)
    assert has_grad(model.neck.out_layers) or has_grad(model.neck)
    assert has_grad(model.bbox_head.head_module.cls_preds)
    assert has_grad(model.bbox_head.head_module.reg_preds)
    assert has_grad(model.bbox_head.head_module.cls_contrasts)
    text_params = list(model.backbone.text_model.parameters())
    assert text_params and all(p.grad is None for p in text_params)
    assert all(not p.requires_grad for p in text_params)
    model.zero_grad()


def test_training_batch_with_wrong_k_is_rejected(model):
    model.train()
    data = make_train_batch([['a', 'b'], ['c', 'd']], [[[1, 1, 9, 9]], []],
                            [[0], []])
    with pytest.raises(ValueError, match='K=2 .* configured for 4'):
        model(**model.data_preprocessor(data, True), mode='loss')


@pytest.mark.parametrize('size', [64, 96])
def test_predict_gives_valid_boxes(model, size):
    results = _predict(model, [VOCAB, VOCAB], size=size)
    assert len(results) == 2
    for res in results:
        pred = res.pred_instances
        assert len(pred) > 0
        assert set(pred.keys()) == {'bboxes', 'scores', 'labels'}
        b = pred.bboxes
        assert torch.all(b[:, 0] <= b[:, 2]) and torch.all(b[:, 1] <= b[:, 3])
        assert torch.all(b >= 0) and torch.all(b[:, 0::2] <= size) and \
            torch.all(b[:, 1::2] <= size)
        assert torch.all((pred.scores >= 0) & (pred.scores <= 1))
        assert pred.labels.min() >= 0 and pred.labels.max() < len(VOCAB)


def test_predict_rescales_to_the_original_image(model):
    """An image resized 2x: boxes come back halved, in the 32 px original."""
    native = _predict(model, [VOCAB], num_images=1)[0].pred_instances
    data = make_test_batch([VOCAB], num_images=1, size=64)
    data['data_samples'][0].set_metainfo(
        dict(ori_shape=(32, 32), scale_factor=(2.0, 2.0)))
    data = model.data_preprocessor(data, False)
    model.eval()
    with torch.no_grad():
        rescaled = model(**data, mode='predict')[0].pred_instances
    assert torch.all(rescaled.bboxes <= 32)
    torch.testing.assert_close(rescaled.bboxes, native.bboxes / 2)
    torch.testing.assert_close(rescaled.scores, native.scores)
    torch.testing.assert_close(rescaled.labels, native.labels)


def test_class_scores_follow_the_vocabulary_order(model):
    """Permuting the vocabulary permutes the class logits (label i is
    prompt i) and leaves the boxes unchanged."""
    rev = list(reversed(VOCAB))
    outs = []
    for vocab in (VOCAB, rev):
        data = model.data_preprocessor(make_test_batch([vocab, vocab]),
                                       False)
        model.eval()
        with torch.no_grad():
            outs.append(model(**data, mode='tensor'))
    (cls_a, box_a), (cls_b, box_b) = outs
    for lvl in range(3):
        torch.testing.assert_close(cls_b[lvl], cls_a[lvl].flip(1),
                                   rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(box_b[lvl], box_a[lvl],
                                   rtol=1e-5, atol=1e-5)


def test_test_vocabulary_checks(model):
    with pytest.raises(ValueError, match='K=2 .* configured for 3'):
        _predict(model, [['a', 'b'], ['a', 'b']])
    with pytest.raises(ValueError, match='need `.texts`'):
        _predict(model, None)


def test_reparameterize_gives_identical_detections():
    torch.manual_seed(1)
    model = build_tiny_yolo_world(num_test_classes=3)
    online = _predict(model, [VOCAB, VOCAB])
    model.reparameterize([VOCAB])
    assert model.text_feats.shape == (1, 3, 16)
    encoder = model.backbone.text_model
    calls = encoder.calls
    offline = _predict(model, None)
    assert encoder.calls == calls  # no text encoding at inference
    # samples that carry the same texts are accepted too
    same = _predict(model, [VOCAB, VOCAB])
    for a, b, c in zip(online, offline, same):
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(b.pred_instances[key],
                                       a.pred_instances[key], rtol=0, atol=0)
            torch.testing.assert_close(c.pred_instances[key],
                                       a.pred_instances[key], rtol=0, atol=0)
    with pytest.raises(ValueError, match='differ from the reparameterized'):
        _predict(model, [['hole', 'scratch', 'crack']] * 2)
    model.eval()
    tensors = model._forward(torch.zeros(1, 3, 64, 64))
    assert tensors[0][0].shape == (1, 3, 8, 8)

    model.reparameterize([VOCAB], drop_text_model=True)
    assert model.backbone.text_model is None
    assert not any(k.startswith('backbone.text_model')
                   for k in model.state_dict())
    dropped = _predict(model, None)
    for a, b in zip(online, dropped):
        torch.testing.assert_close(b.pred_instances.bboxes,
                                   a.pred_instances.bboxes, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match='no text model'):
        model.train()
        model(**_train_data(model), mode='loss')


def test_reparameterize_argument_checks(model):
    with pytest.raises(ValueError, match='one list of K prompts'):
        model.reparameterize([['a'], ['b'], ['c']])



def test_reparameterize_free_vocabulary_of_any_size():
    # a fresh model: reparameterize() stores state
    model = build_tiny_yolo_world()
    model.reparameterize([['a', 'b']])  # K=2, num_test_classes is 3
    data = model.data_preprocessor(
        make_test_batch(None, num_images=1, size=64, seed=1), False)
    model.eval()
    with torch.no_grad():
        res = model(**data, mode='predict')[0]
    assert len(res.pred_instances) > 0
    assert int(res.pred_instances.labels.max()) <= 1


def test_coco_metric_accepts_the_predictions(model):
    results = _predict(model, [VOCAB, VOCAB])
    metric = CocoMetric(metric='bbox')
    metric.dataset_meta = dict(classes=tuple(VOCAB))
    samples = []
    for res in results:
        d = res.to_dict()
        d['instances'] = [
            dict(bbox=box, bbox_label=int(lab), ignore_flag=0)
            for box, lab in zip(res.gt_instances.bboxes.tolist(),
                                res.gt_instances.labels.tolist())
        ]
        samples.append(d)
    metric.process({}, samples)
    out = metric.evaluate(size=len(samples))
    assert 'coco/bbox_mAP' in out
    assert 0.0 <= out['coco/bbox_mAP'] <= 1.0


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = build_tiny_yolo_world(num_train_classes=2)
    data = make_train_batch([['hole', '']], [[[12, 16, 44, 52]]], [[0]])
    data = model.data_preprocessor(data, True)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=2e-3)
    model.train()
    history = []
    for _ in range(12):
        losses = model(**copy.deepcopy(data), mode='loss')
        total = sum(losses.values())
        optim.zero_grad()
        total.backward()
        optim.step()
        history.append(total.item())
    assert history[-1] < 0.7 * history[0], history
