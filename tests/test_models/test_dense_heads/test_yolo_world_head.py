# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import math

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from mmyolo.models.dense_heads import YOLOv8Head, YOLOv8HeadModule

from mmioc_rtvp.models.dense_heads import (BNContrastiveHead, ContrastiveHead,
                                           YOLOWorldHeadModule)
from mmioc_rtvp.registry import MODELS

WIDEN = 0.125
CHANNELS = [256, 512, 1024]
STRIDES = [8, 16, 32]
D = 8


def _module_cfg(num_classes=4, **kwargs):
    cfg = dict(
        type='YOLOWorldHeadModule',
        num_classes=num_classes,
        in_channels=CHANNELS,
        widen_factor=WIDEN,
        embed_dims=D,
        featmap_strides=STRIDES)
    cfg.update(kwargs)
    return cfg


def _assigner(num_classes):
    return dict(type='BatchTaskAlignedAssigner', num_classes=num_classes,
                use_ciou=True, topk=10, alpha=0.5, beta=6.0, eps=1e-9)


def _head(num_classes=4, **kwargs):
    cfg = ConfigDict(
        type='YOLOWorldHead',
        head_module=_module_cfg(num_classes, **kwargs),
        prior_generator=dict(
            type='mmdet.MlvlPointGenerator', offset=0.5, strides=STRIDES),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        train_cfg=dict(assigner=_assigner(num_classes)),
        test_cfg=dict(multi_label=True, nms_pre=1000, score_thr=0.0,
                      nms=dict(type='nms', iou_threshold=0.7),
                      max_per_img=50))
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        head = MODELS.build(cfg)
    head.init_weights()
    return head


def _feats(batch=2, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, int(c * WIDEN), size // s, size // s,
                    generator=gen) for c, s in zip(CHANNELS, STRIDES)
    ]


def _texts(batch=2, k=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(
        torch.randn(batch, k, D, generator=gen), dim=-1)


def _dict_samples(size=64):
    bboxes_labels = torch.tensor([[0., 2., 4., 6., 40., 30.],
                                  [1., 0., 10., 10., 60., 50.],
                                  [1., 1., 30., 2., 50., 20.]])
    return dict(
        bboxes_labels=bboxes_labels,
        img_metas=[dict(batch_input_shape=(size, size))] * 2)


def test_module_class_branch_gives_k_logits_and_box_branch_is_yolov8s():
    torch.manual_seed(0)
    module = MODELS.build(_module_cfg())
    module.init_weights()
    ref = YOLOv8HeadModule(num_classes=4, in_channels=CHANNELS,
                           widen_factor=WIDEN, featmap_strides=STRIDES)
    ref.reg_preds.load_state_dict(module.reg_preds.state_dict())
    assert all(isinstance(c, BNContrastiveHead) for c in module.cls_contrasts)
    assert all(p[-1].out_channels == D for p in module.cls_preds)
    feats = _feats()
    for mode in ('train', 'eval'):
        getattr(module, mode)()
        getattr(ref, mode)()
        for k in (1, 3, 7):  # any K, independent of num_classes=4
            outs = module(feats, _texts(k=k))
            ref_outs = ref(feats)
            for lvl, (f, s) in enumerate(zip(feats, STRIDES)):
                assert outs[0][lvl].shape == (2, k) + f.shape[2:]
                for i in range(1, len(ref_outs)):
                    torch.testing.assert_close(outs[i][lvl],
                                               ref_outs[i][lvl])
            assert len(outs) == (3 if mode == 'train' else 2)


def test_module_init_priors():
    module = MODELS.build(_module_cfg(num_classes=5))
    module.init_weights()
    for pred, contrast, stride in zip(module.cls_preds, module.cls_contrasts,
                                      STRIDES):
        assert torch.count_nonzero(pred[-1].bias) == 0
        assert contrast.bias.item() == pytest.approx(
            math.log(5 / 5 / (640 / stride)**2))


def test_module_padding_prompts():
    torch.manual_seed(1)
    module = MODELS.build(_module_cfg(use_bn_head=False)).eval()
    module.init_weights()
    assert isinstance(module.cls_contrasts[0], ContrastiveHead)
    txt = _texts(k=3)
    txt[0, 1] = 0
    feats = _feats()
    with torch.no_grad():
        logits = module(feats, txt)[0]
        module.mask_padded_texts = False
        unmasked = module(feats, txt)[0]
    for lvl, contrast in enumerate(module.cls_contrasts):
        assert torch.all(logits[lvl][0, 1] == -1e4)
        # other prompts untouched
        torch.testing.assert_close(logits[lvl][:, 2], unmasked[lvl][:, 2])
        torch.testing.assert_close(logits[lvl][1], unmasked[lvl][1])
        # without the mask the padding logit is the contrastive bias
        torch.testing.assert_close(
            unmasked[lvl][0, 1],
            torch.full_like(unmasked[lvl][0, 1], contrast.bias.item()))


def test_loss_equals_yolov8_loss_with_k_classes_and_restores_state():
    torch.manual_seed(2)
    head = _head(num_classes=4).train()
    feats, txt = _feats(), _texts(k=3)
    losses = head.loss(feats, txt, _dict_samples())
    assert head.num_classes == 4 and head.assigner.num_classes == 4

    ref = YOLOv8Head(
        head_module=dict(type='YOLOv8HeadModule', num_classes=3,
                         in_channels=CHANNELS, widen_factor=WIDEN),
        train_cfg=ConfigDict(assigner=_assigner(3)))
    with torch.no_grad():
        outs = head(feats, txt)
    ref_losses = ref.loss_by_feat(*outs, _dict_samples()['bboxes_labels'],
                                  _dict_samples()['img_metas'])
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_dfl'}
    for key in losses:
        torch.testing.assert_close(losses[key].detach(), ref_losses[key])
        assert torch.isfinite(losses[key]) and losses[key] > 0


def test_loss_with_data_sample_list_equals_dict_form():
    torch.manual_seed(3)
    head = _head().train()
    feats, txt = _feats(), _texts(k=3)
    bl = _dict_samples()['bboxes_labels']
    samples = []
    for i in range(2):
        s = DetDataSample(metainfo=dict(batch_input_shape=(64, 64),
                                        img_shape=(64, 64)))
        rows = bl[bl[:, 0] == i]
        s.gt_instances = InstanceData(bboxes=rows[:, 2:],
                                      labels=rows[:, 1].long())
        samples.append(s)
    a = head.loss(feats, txt, _dict_samples())
    b = head.loss(feats, txt, samples)
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_out_of_vocabulary_label_raises_and_state_is_restored():
    head = _head(num_classes=4).train()
    with pytest.raises(ValueError, match='K=2'):
        head.loss(_feats(), _texts(k=2), _dict_samples())  # label 2 >= K
    assert head.num_classes == 4 and head.assigner.num_classes == 4


def test_predict_labels_index_the_vocabulary():
    torch.manual_seed(4)
    head = _head(num_classes=4).eval()
    samples = [
        DetDataSample(metainfo=dict(ori_shape=(64, 64), img_shape=(64, 64),
                                    scale_factor=(1.0, 1.0)))
        for _ in range(2)
    ]
    with torch.no_grad():
        results = head.predict(_feats(), _texts(k=6), samples)
    assert head.num_classes == 4
    for res in results:
        assert len(res) > 0
        assert res.labels.max() < 6 and res.labels.min() >= 0
        assert set(res.labels.tolist()) - set(range(4))  # labels 4, 5 too
        assert torch.all(res.bboxes >= 0) and torch.all(res.bboxes <= 64)
