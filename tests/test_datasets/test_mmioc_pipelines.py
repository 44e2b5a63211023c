# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Training and test pipelines run through MultiModalDataset, as a config
would build them."""
import random
import subprocess
import sys
import textwrap

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, DefaultScope

from mmioc_rtvp.datasets import multimodal_collate

PACK_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'texts')


class RecordSubImage:
    """Mosaic pre-transform that records what each sub-image carries."""

    def __init__(self):
        self.records = []

    def __call__(self, results):
        self.records.append((results['dataset'], results.get('texts')))
        return results


class SnapshotLabels:
    """Keeps the class labels (and ignore flags) before RandomLoadText
    remaps them."""

    def __call__(self, results):
        results['class_labels'] = results['gt_bboxes_labels'].copy()
        results['class_ignore'] = results['gt_ignore_flags'].copy()
        return results


def check_labels(data_sample, class_texts):
    """Box by box, ``texts[label]`` is a prompt of the box's true class;
    returns the number of boxes checked."""
    texts = data_sample.texts
    true = data_sample.class_labels
    ignore = data_sample.class_ignore
    pairs = [(data_sample.gt_instances.labels, true[~ignore]),
             (data_sample.ignored_instances.labels, true[ignore])]
    for labels, classes in pairs:
        assert len(labels) == len(classes)
        for label, cls in zip(labels.tolist(), classes.tolist()):
            assert texts[label] in class_texts[cls]
    # every class of a box is sampled exactly once
    for cls in set(true.tolist()):
        assert sum(t in class_texts[cls] for t in texts) == 1
    return len(true)


def train_cfg(paths, recorder, img_scale=(64, 64), max_num_samples=6):
    return dict(
        type='MultiModalDataset',
        dataset=dict(
            type='MMIOCDataset',
            data_root=paths.root,
            ann_file=paths.ann_file,
            filter_cfg=dict(filter_empty_gt=False)),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                type='Mosaic',
                img_scale=img_scale,
                pad_val=114.0,
                pre_transform=[
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True), recorder
                ]),
            dict(
                type='YOLOv5RandomAffine',
                max_rotate_degree=0.0,
                max_shear_degree=0.0,
                scaling_ratio_range=(0.9, 1.1),
                border=(-img_scale[0] // 2, -img_scale[1] // 2),
                border_val=(114, 114, 114)),
            SnapshotLabels(),
            dict(
                type='RandomLoadText',
                num_neg_samples=(1, 2),
                max_num_samples=max_num_samples,
                padding_to_max=True),
            dict(
                type='mmdet.PackDetInputs',
                meta_keys=PACK_KEYS + ('class_labels', 'class_ignore'))
        ])


def test_train_pipeline_with_mosaic_and_collate(mmioc):
    recorder = RecordSubImage()
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        dataset = DATASETS.build(train_cfg(mmioc, recorder))
    class_texts = dataset.metainfo['texts']
    random.seed(0)
    np.random.seed(0)
    samples = [dataset[0], dataset[3]]

    # every Mosaic sub-image came from the wrapper and carried the texts
    assert len(recorder.records) == 6
    for source, texts in recorder.records:
        assert source is dataset
        assert texts == [list(t) for t in class_texts]

    num_boxes = 0
    for sample in samples:
        data_sample = sample['data_samples']
        assert isinstance(data_sample, DetDataSample)
        assert sample['inputs'].shape == (3, 64, 64)
        texts = data_sample.texts
        assert len(texts) == 6
        check_labels(data_sample, class_texts)
        num_boxes += len(data_sample.gt_instances)

    batch = multimodal_collate(samples)
    assert batch['inputs'].shape == (2, 3, 64, 64)
    assert batch['inputs'].dtype == torch.uint8
    rows = batch['data_samples']['bboxes_labels']
    assert rows.shape == (num_boxes, 6) and num_boxes > 0
    assert rows[:, 1].max() < 6
    expected_rows = torch.cat([
        torch.cat([
            torch.full((len(s['data_samples'].gt_instances), 1), float(i)),
            s['data_samples'].gt_instances.labels[:, None].float(),
            s['data_samples'].gt_instances.bboxes.tensor
        ], 1) for i, s in enumerate(samples)
    ])
    torch.testing.assert_close(rows, expected_rows)
    texts = batch['data_samples']['texts']
    assert len(texts) == 2 and all(len(t) == 6 for t in texts)
    assert texts[1] == samples[1]['data_samples'].texts
    assert len(batch['data_samples']['img_metas']) == 2


def test_box_labels_point_at_their_class_prompt(mmioc):
    """Without Mosaic, box order is preserved: check label by label."""
    cfg = dict(
        type='MultiModalDataset',
        dataset=dict(
            type='MMIOCDataset', data_root=mmioc.root,
            ann_file=mmioc.ann_file),
        pipeline=[
            dict(type='LoadImageFromFile'),
            # mmdet's loader keeps crowd boxes (as ignored); mmyolo's drops
            dict(type='mmdet.LoadAnnotations', with_bbox=True),
            SnapshotLabels(),
            dict(
                type='RandomLoadText',
                num_neg_samples=(0, 3),
                max_num_samples=5),
            dict(
                type='mmdet.PackDetInputs',
                meta_keys=PACK_KEYS + ('class_labels', 'class_ignore'))
        ])
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        dataset = DATASETS.build(cfg)
    class_texts = dataset.metainfo['texts']
    checked = 0
    for seed in range(5):
        random.seed(seed)
        for idx in range(len(dataset)):
            checked += check_labels(dataset[idx]['data_samples'], class_texts)
    # 4 valid boxes + 1 crowd box, 5 times
    assert checked == 25


def test_test_pipeline_and_pseudo_collate(mmioc):
    cfg = dict(
        type='MultiModalDataset',
        dataset=dict(
            type='MMIOCDataset',
            data_root=mmioc.root,
            ann_file=mmioc.ann_file,
            test_mode=True,
            batch_shapes_cfg=None),
        class_text_path=mmioc.class_text_file,
        test_mode=True,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='YOLOv5KeepRatioResize', scale=(64, 64)),
            dict(
                type='LetterResize',
                scale=(64, 64),
                allow_scale_up=False,
                pad_val=dict(img=114)),
            dict(type='LoadAnnotations', with_bbox=True, _scope_='mmdet'),
            dict(type='LoadText'),
            dict(
                type='mmdet.PackDetInputs',
                meta_keys=PACK_KEYS + ('pad_param', ))
        ])
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        dataset = DATASETS.build(cfg)
    batch = pseudo_collate([dataset[0], dataset[1]])
    assert [tuple(i.shape) for i in batch['inputs']] == [(3, 64, 64)] * 2
    for data_sample in batch['data_samples']:
        assert isinstance(data_sample, DetDataSample)
        assert data_sample.texts == [
            'brick crack', 'wood hole', 'metal scratch', 'fabric stain'
        ]
    # image 1 (64 x 48): labels untouched by LoadText
    assert batch['data_samples'][0].gt_instances.labels.tolist() == [0, 2]


def test_config_build_in_fresh_process(mmioc):
    """Only the registry is imported: locations must find every module."""
    code = textwrap.dedent(f"""
        from mmengine.dataset import DefaultSampler
        from mmengine.registry import DATASETS, FUNCTIONS, init_default_scope
        from torch.utils.data import DataLoader
        init_default_scope('mmioc_rtvp')
        dataset = DATASETS.build(dict(
            type='MultiModalDataset',
            dataset=dict(type='MMIOCDataset', data_root={mmioc.root!r},
                         ann_file={mmioc.ann_file!r}),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations', with_bbox=True),
                      dict(type='YOLOv5KeepRatioResize', scale=(32, 32)),
                      dict(type='LetterResize', scale=(32, 32)),
                      dict(type='RandomLoadText', num_neg_samples=(1, 1),
                           max_num_samples=4),
                      dict(type='PackDetInputs', meta_keys=('texts', ))]))
        collate = FUNCTIONS.get('mmioc_rtvp.multimodal_collate')
        loader = DataLoader(dataset, batch_size=2, collate_fn=collate,
                            sampler=DefaultSampler(dataset, shuffle=False))
        batch = next(iter(loader))
        print(tuple(batch['inputs'].shape),
              [len(t) for t in batch['data_samples']['texts']])
        """)
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == '(2, 3, 32, 32) [4, 4]'
