# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Few-shot prompt tuning: the model stays bit-identical, only the new
classes' embeddings learn."""
import copy

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmioc_rtvp.apis.image_pipeline import input_to_original
from mmioc_rtvp.apis.prompt_tuning import (frozen_eval, fuse_text,
                                           random_unit_embeddings,
                                           support_loss,
                                           tune_class_embeddings)
from mmioc_rtvp.apis.support_images import (support_batch,
                                            support_pipeline)
from tests.test_models.rtvpnet_utils import build_tiny_rtvpnet
from tests.test_models.yolo_world_utils import build_tiny_yolo_world

SIZE = 64
OLD = ['scratch', 'hole']
NEW = ['dent']
KINDS = ['rtvpnet', 'yolo_world']


def _pipeline_cfg(size: int = SIZE) -> Config:
    """The test pipeline of the MMIOC configs at ``size`` px."""
    return Config(
        dict(test_dataloader=dict(dataset=dict(pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='YOLOv5KeepRatioResize', scale=(size, size)),
            dict(type='LetterResize', scale=(size, size),
                 allow_scale_up=False, pad_val=dict(img=114)),
            dict(type='LoadAnnotations', with_bbox=True, _scope_='mmdet'),
            dict(type='LoadText'),
            dict(type='mmdet.PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'pad_param', 'texts'))
        ]))))


def _model(kind: str, seed: int = 0):
    """A tiny detector whose BatchNorm statistics are those of the support
    images (at initialisation its features vanish with depth: ~1e-9 at
    stride 32, so no class embedding would change any score)."""
    torch.manual_seed(seed)
    model = (build_tiny_rtvpnet() if kind == 'rtvpnet' else
             build_tiny_yolo_world())
    model.cfg = _pipeline_cfg()
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = 1.0
    model.train()
    inputs = support_batch(model, *_support()).inputs
    txt = model.backbone.forward_text([OLD + NEW] * len(inputs))
    with torch.no_grad():
        model.extract_feat(inputs, txt)
    for m in norms:
        m.momentum = 0.03
    return model.eval()


def _support():
    """Two non-square images, each with a bright 'dent' (label 2); the
    first also has a dark 'scratch' (label 0)."""
    rng = np.random.default_rng(0)
    images, boxes, labels = [], [], []
    for i, (h, w) in enumerate([(48, 64), (80, 60)]):
        img = rng.integers(90, 140, (h, w, 3), dtype=np.uint8)
        cv2.rectangle(img, (8 + i, 10), (30, 34 + i), (250, 250, 250), -1)
        box, label = [[8 + i, 10, 31, 35 + i]], [2]
        if i == 0:
            cv2.rectangle(img, (40, 5), (60, 12), (10, 10, 10), -1)
            box.append([40, 5, 61, 13])
            label.append(0)
        images.append(img)
        boxes.append(np.array(box, np.float32))
        labels.append(np.array(label))
    return images, boxes, labels


def _bit_equal(a, b):
    """Same dtype, shape and bytes (NaN buffers included)."""
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.contiguous().reshape(-1).view(torch.uint8),
        b.contiguous().reshape(-1).view(torch.uint8))


def _old_embeds(model):
    return model.backbone.forward_text([OLD])[0]


def _predict(model, images, embeds, names):
    """Detections of the vocabulary ``embeds`` on ``images`` (scores and
    labels, every candidate: the tiny configs keep score_thr 0)."""
    batch = support_batch(model, images, [np.zeros((0, 4))] * len(images),
                          [np.zeros(0)] * len(images))
    model.set_class_embeddings(embeds, names)
    with torch.no_grad():
        out = model.predict(batch.inputs, copy.deepcopy(batch.data_samples))
    model.text_feats, model.vocabulary = None, None
    return [(o.pred_instances.scores, o.pred_instances.labels,
             o.pred_instances.bboxes) for o in out]


@pytest.mark.parametrize('kind', KINDS)
def test_tuning_leaves_model_and_old_classes_bit_identical(kind):
    model = _model(kind)
    images, boxes, labels = _support()
    old = _old_embeds(model)
    old_copy = old.clone()
    state = copy.deepcopy(model.state_dict())
    flags = [p.requires_grad for p in model.parameters()]
    before = _predict(model, images, old, OLD)
    model.train()  # the caller's mode is restored, too
    result = tune_class_embeddings(
        model, images, boxes, labels, old, steps=5, lr=0.05)
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    model.eval()
    after_state = model.state_dict()
    assert list(after_state) == list(state)
    for key, value in state.items():
        assert _bit_equal(after_state[key], value), key
    assert _bit_equal(old, old_copy)
    after = _predict(model, images, old, OLD)
    for (s0, l0, b0), (s1, l1, b1) in zip(before, after):
        assert torch.equal(s0, s1) and torch.equal(l0, l1)
        assert torch.equal(b0, b1)
    assert result.embeds.shape == (1, 16)
    torch.testing.assert_close(result.embeds.norm(dim=-1), torch.ones(1))


@pytest.mark.parametrize('kind', KINDS)
def test_loss_falls_and_new_class_wins_its_boxes(kind):
    model = _model(kind)
    images, boxes, labels = _support()
    old = _old_embeds(model)
    init = model.backbone.forward_text([NEW])[0]
    result = tune_class_embeddings(
        model, images, boxes, labels, old, init, steps=30, lr=0.05)
    assert len(result.losses) == 31
    assert result.losses[result.best_step] == min(result.losses)
    assert min(result.losses) < 0.98 * result.losses[0]
    # the returned embeddings are those of the lowest loss
    support = support_batch(model, images, boxes, labels)
    with frozen_eval(model), torch.no_grad():
        loss = support_loss(model, model.neck_inputs(support.inputs),
                            support, torch.cat([old, result.embeds]))
    assert float(loss) == pytest.approx(min(result.losses), rel=1e-5)

    def dent_wins(new):
        """Share of the positions inside the 'dent' boxes of the support
        images where 'dent' scores above every kept class. (The random
        tiny models predict poor boxes, so YOLOv8's IoU-aligned targets,
        hence the absolute scores, stay near 0: the ranking is what the
        tuning can change.)"""
        model.set_class_embeddings(torch.cat([old, new]), OLD + NEW)
        with torch.no_grad():
            cls_scores = model._forward(support.inputs)[0]
        model.text_feats, model.vocabulary = None, None
        wins = []
        for i, box in enumerate(support.boxes_of(2)):
            x1, y1, x2, y2 = box[0].tolist()
            for level in cls_scores:  # (B, K, H, W)
                centres = (torch.arange(level.shape[-1]) + 0.5) * (
                    SIZE / level.shape[-1])
                cy, cx = torch.meshgrid(centres, centres, indexing='ij')
                inside = (cx > x1) & (cx < x2) & (cy > y1) & (cy < y2)
                wins.append(level[i].argmax(0)[inside] == 2)
        return float(torch.cat(wins).float().mean())

    assert dent_wins(result.embeds) > dent_wins(init)


def test_tuning_is_seeded():
    model = _model('rtvpnet')
    images, boxes, labels = _support()
    old = _old_embeds(model)
    runs = [
        tune_class_embeddings(model, images, boxes, labels, old, steps=4,
                              seed=seed).embeds for seed in (3, 3, 4)
    ]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])
    torch.testing.assert_close(
        random_unit_embeddings(2, 16, 3).norm(dim=-1), torch.ones(2))


@pytest.mark.parametrize('kind', KINDS)
def test_fuse_text_is_the_forward_after_the_neck_inputs(kind):
    model = _model(kind)
    batch = support_batch(model, *_support())
    txt = torch.cat([_old_embeds(model),
                     random_unit_embeddings(1, 16)])[None].repeat(2, 1, 1)
    with torch.no_grad():
        ref_img, ref_txt = model.extract_feat(batch.inputs, txt)
        img, out_txt = fuse_text(model, model.neck_inputs(batch.inputs), txt)
    assert torch.equal(out_txt, ref_txt)
    for a, b in zip(img, ref_img):
        assert torch.equal(a, b)


def test_support_boxes_follow_the_image():
    """Boxes go through the resize and the letterbox padding of the test
    pipeline: input box = original * scale + padding."""
    model = _model('yolo_world')
    images, boxes, labels = _support()
    batch = support_batch(model, images, boxes, labels)
    assert batch.inputs.shape == (2, 3, SIZE, SIZE)
    for i, meta in enumerate(batch.img_metas):
        sx, sy, left, top = input_to_original(meta)
        expected = torch.from_numpy(boxes[i]) * torch.tensor(
            [sx, sy, sx, sy]) + torch.tensor([left, top, left, top])
        rows = batch.bboxes_labels[batch.bboxes_labels[:, 0] == i]
        torch.testing.assert_close(rows[:, 2:6], expected)
        assert rows[:, 1].tolist() == labels[i].tolist()
    # the pipeline reads arrays and loads boxes right after the image
    steps = [type(t).__name__ for t in support_pipeline(model.cfg).transforms]
    assert steps[:2] == ['LoadImageFromNDArray', 'LoadAnnotations']
    assert 'LoadText' not in steps


def test_loss_is_the_heads_detection_loss():
    """The loss sums the head's terms (InfoNCE included for RTVPNet) and
    its gradient reaches the embeddings only."""
    model = _model('rtvpnet')
    batch = support_batch(model, *_support())
    vocab = torch.cat([_old_embeds(model), random_unit_embeddings(1, 16)])
    vocab.requires_grad_(True)
    with frozen_eval(model):
        loss = support_loss(model, model.neck_inputs(batch.inputs), batch,
                            vocab)
        loss.backward()
    assert float(loss) > 0 and vocab.grad is not None
    assert float(vocab.grad.abs().sum()) > 0
    assert all(p.grad is None for p in model.parameters())
    assert not model.bbox_head.head_module.training


def test_bad_support_input_is_named(tmp_path):
    model = _model('yolo_world')
    images, boxes, labels = _support()
    old = _old_embeds(model)
    bad = [np.array([[50, 10, 70, 30]], np.float32), boxes[1]]
    with pytest.raises(ValueError, match='support image 0: box 0 .* outside'):
        tune_class_embeddings(model, images, bad, labels, old, steps=1)
    flat = [np.array([[5, 10, 5, 30]], np.float32), boxes[1]]
    with pytest.raises(ValueError, match='box 0 .* zero area'):
        tune_class_embeddings(model, images, flat, labels, old, steps=1)
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(ValueError, match='broken.png: cannot be read'):
        tune_class_embeddings(model, [str(broken), images[1]], boxes,
                              labels, old, steps=1)
    with pytest.raises(ValueError, match='new class 1 .* no support box'):
        tune_class_embeddings(model, images, boxes, labels, old,
                              random_unit_embeddings(2, 16), steps=1)
    with pytest.raises(ValueError, match='labels must index'):
        tune_class_embeddings(model, images, boxes,
                              [np.array([2, 5]), labels[1]], old,
                              random_unit_embeddings(1, 16), steps=1)
