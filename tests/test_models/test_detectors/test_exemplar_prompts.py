# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exemplar prompts in YOLO-World and RTVPNet: training, API, checkpoints."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope

from mmioc_rtvp.registry import MODELS
from ..rtvpnet_utils import tiny_rtvpnet_cfg
from ..yolo_world_utils import (make_test_batch, make_train_batch,
                                tiny_yolo_world_cfg)

# 'scratch' in both images, 'hole' only in image 0: the slots of 'scratch'
# (both images) and of 'hole' (image 1) can take a cross-image exemplar
TEXTS = [['scratch', 'hole', 'crack', ''], ['hole', 'scratch', 'stain', '']]
BOXES = [[[2, 2, 60, 50], [30, 30, 62, 62]], [[4, 4, 62, 60]]]
LABELS = [[0, 1], [1]]
EXEMPLAR = dict(type='ExemplarPromptEncoder', feat_channels=16, num_groups=4)


def _build(kind, exemplar=True, swap_prob=1.0, seed=0):
    cfg = (tiny_rtvpnet_cfg() if kind == 'rtvpnet' else
           tiny_yolo_world_cfg())
    cfg = copy.deepcopy(cfg)
    if exemplar:
        cfg['exemplar_encoder'] = EXEMPLAR
        cfg['exemplar_train_cfg'] = dict(swap_prob=swap_prob)
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model


def _train_data(model):
    return model.data_preprocessor(
        make_train_batch(TEXTS, BOXES, LABELS, size=64), True)


@pytest.mark.parametrize('kind', ['yolo_world', 'rtvpnet'])
def test_training_trains_the_exemplar_encoder(kind):
    model = _build(kind)
    model.train()
    losses = model(**_train_data(model), mode='loss')
    assert 'loss_exemplar_align' in losses
    assert float(losses['loss_exemplar_align']) > 0
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    grads = [p.grad for p in model.exemplar_encoder.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    before = copy.deepcopy(model.exemplar_encoder.state_dict())
    opt = torch.optim.SGD(model.exemplar_encoder.parameters(), lr=0.1)
    opt.step()
    after = model.exemplar_encoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before
               if after[k].is_floating_point())


def test_swapped_slots_reach_the_head():
    """With swap_prob 1, the head sees exemplar embeddings, not texts, in
    the eligible slots; with 0 the encoder gets no box."""
    model = _build('yolo_world', swap_prob=1.0)
    model.train()
    data = _train_data(model)
    txt = model._train_text_feats(data['inputs'], data['data_samples'])
    feats = model.neck_inputs(data['inputs'])
    swapped, losses = model.swap_in_exemplars(feats, txt,
                                              data['data_samples'])
    changed = ~torch.isclose(swapped, txt).all(-1)
    expected = torch.zeros(2, 4, dtype=torch.bool)
    expected[0, 0] = expected[1, 1] = expected[1, 0] = True
    assert torch.equal(changed, expected)
    torch.testing.assert_close(swapped[changed].norm(dim=-1),
                               torch.ones(3))
    model.exemplar_swap_prob = 0.0
    same, losses = model.swap_in_exemplars(feats, txt, data['data_samples'])
    assert torch.equal(same, txt) and float(losses['loss_exemplar_align']) == 0
    model.eval()
    assert model.swap_in_exemplars(feats, txt, data['data_samples'])[1] == {}


@pytest.mark.parametrize('kind', ['yolo_world', 'rtvpnet'])
def test_class_embeddings_equal_reparameterized_text(kind):
    """set_class_embeddings with the text embeddings gives the detections
    of reparameterize: an exemplar embedding enters where text enters."""
    model = _build(kind).eval()
    vocab = ['scratch', 'hole', 'crack']
    data = model.data_preprocessor(make_test_batch(None, 2, 64), False)
    model.reparameterize([vocab])
    with torch.no_grad():
        ref = model(**copy.deepcopy(data), mode='predict')
        embeds = model.text_feats[0].clone()
    model.text_feats = None
    model.set_class_embeddings(embeds, vocab)
    with torch.no_grad():
        out = model(**data, mode='predict')
    for a, b in zip(ref, out):
        torch.testing.assert_close(a.pred_instances.scores,
                                   b.pred_instances.scores, rtol=0, atol=0)
    with pytest.raises(ValueError, match='width'):
        model.set_class_embeddings(torch.zeros(3, 5), vocab)
    with pytest.raises(ValueError, match='non-finite'):
        model.set_class_embeddings(torch.full((3, 16), float('nan')), vocab)


@pytest.mark.parametrize('kind', ['yolo_world', 'rtvpnet'])
def test_encode_exemplars(kind):
    model = _build(kind).eval()
    data = model.data_preprocessor(make_test_batch(None, 2, 64), False)
    boxes = [torch.tensor([[2., 2., 30., 30.]]),
             torch.tensor([[10., 10., 50., 40.], [0., 0., 8., 8.]])]
    with torch.no_grad():
        out = model.encode_exemplars(data['inputs'], boxes)
        single = model.encode_exemplars(data['inputs'][1:], boxes[1:])
    assert out.shape == (3, 16)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(out[1:], single, rtol=1e-5, atol=1e-6)
    plain = _build(kind, exemplar=False)
    with pytest.raises(ValueError, match='no exemplar encoder'):
        plain.encode_exemplars(data['inputs'], boxes)


def test_checkpoint_without_the_module_loads_and_runs():
    """A model trained without exemplars keeps working: its state dict
    loads into the exemplar config (only the encoder's keys are missing)
    and gives the same text detections."""
    old = _build('rtvpnet', exemplar=False, seed=3).eval()
    new = _build('rtvpnet', exemplar=True, seed=4).eval()
    result = new.load_state_dict(old.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(
        k.startswith('exemplar_encoder.') for k in result.missing_keys)
    data = old.data_preprocessor(
        make_test_batch([['scratch', 'hole', 'crack']] * 2, 2, 64), False)
    with torch.no_grad():
        a = old(**copy.deepcopy(data), mode='predict')
        b = new(**data, mode='predict')
    for x, y in zip(a, b):
        torch.testing.assert_close(x.pred_instances.scores,
                                   y.pred_instances.scores)


def test_exemplar_train_cfg_is_checked():
    with pytest.raises(ValueError, match='unknown keys'):
        cfg = copy.deepcopy(tiny_yolo_world_cfg())
        cfg['exemplar_encoder'] = EXEMPLAR
        cfg['exemplar_train_cfg'] = dict(swap_probability=0.5)
        with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
            MODELS.build(ConfigDict(cfg))


@pytest.mark.parametrize('detach', [False, True])
def test_detach_features_keeps_encoder_gradients_off_the_features(detach):
    """With detach_features the alignment loss reaches the encoder but not
    the image features; without it, it reaches both."""
    model = _build('yolo_world')
    model.exemplar_detach_features = detach
    model.train()
    data = _train_data(model)
    txt = model._train_text_feats(data['inputs'], data['data_samples'])
    feats = [f.detach().requires_grad_() for f in
             model.neck_inputs(data['inputs'])]
    _, losses = model.swap_in_exemplars(feats, txt, data['data_samples'])
    losses['loss_exemplar_align'].backward()
    enc_grad = sum(float(p.grad.abs().sum())
                   for p in model.exemplar_encoder.parameters()
                   if p.grad is not None)
    assert enc_grad > 0
    feat_grads = [f.grad for f in feats]
    if detach:
        assert all(g is None for g in feat_grads)
    else:
        assert any(g is not None and float(g.abs().sum()) > 0
                   for g in feat_grads)
