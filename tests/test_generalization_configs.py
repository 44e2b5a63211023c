# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""configs/generalization/ (paper Tables IV and VI): the datasets they name
read the documented layout (docs/generalization.md).

COCO, Objects365 and LVIS are not on this machine: a workspace with two
images per dataset, in their annotation formats, stands in for them. The
models of these configs are built and run by tests/test_configs.py.
"""
import glob
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from tests.conftest import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs/generalization/*.py')))


def _images(folder, names):
    import cv2
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        cv2.imwrite(str(folder / name),
                    rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))


def _coco(classes, file_names, **image_extra):
    images = [dict(id=i + 1, file_name=n, width=64, height=48, **{
        k: v.format(n) for k, v in image_extra.items()
    }) for i, n in enumerate(file_names)]
    annotations = [
        dict(id=i + 1, image_id=i + 1, category_id=i % 2 + 1,
             bbox=[4, 4, 20, 16], area=320, iscrowd=0, segmentation=[])
        for i in range(len(file_names))
    ]
    categories = [dict(id=i + 1, name=c) for i, c in enumerate(classes[:2])]
    return dict(images=images, annotations=annotations,
                categories=categories)


def _texts(path, classes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([[c.replace('_', ' ')] for c in classes]))


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """data/coco, data/objects365v1 and data/texts as documented."""
    from mmdet.datasets import LVISV1Dataset, Objects365V1Dataset
    from mmyolo.datasets import YOLOv5CocoDataset
    root = tmp_path_factory.mktemp('generalization')
    data = root / 'data'
    coco = YOLOv5CocoDataset.METAINFO['classes']
    o365 = Objects365V1Dataset.METAINFO['classes']
    lvis = LVISV1Dataset.METAINFO['classes']
    for split in ('train2017', 'val2017'):
        names = [f'{split}_{i}.jpg' for i in range(2)]
        _images(data / 'coco' / split, names)
        (data / 'coco' / 'annotations').mkdir(exist_ok=True)
        (data / 'coco' / 'annotations' /
         f'instances_{split}.json').write_text(json.dumps(_coco(coco, names)))
    names = ['o365_0.jpg', 'o365_1.jpg']
    _images(data / 'objects365v1' / 'train', names)
    (data / 'objects365v1' / 'annotations').mkdir()
    (data / 'objects365v1' / 'annotations' /
     'objects365_train.json').write_text(json.dumps(_coco(o365, names)))
    # LVIS v1: images named by coco_url, categories with frequencies
    lvis_ann = _coco(lvis, ['val2017_0.jpg', 'val2017_1.jpg'],
                     coco_url='http://images.cocodataset.org/val2017/{}')
    for image in lvis_ann['images']:
        image.update(not_exhaustive_category_ids=[], neg_category_ids=[])
    for cat in lvis_ann['categories']:
        cat.update(frequency='f', synonyms=[cat['name']], image_count=1,
                   instance_count=1, synset=cat['name'], def_='')
    (data / 'coco' / 'lvis').mkdir()
    (data / 'coco' / 'lvis' /
     'lvis_v1_minival_inserted_image_name.json').write_text(
         json.dumps(lvis_ann))
    _texts(data / 'texts' / 'coco_class_texts.json', coco)
    _texts(data / 'texts' / 'obj365v1_class_texts.json', o365)
    _texts(data / 'texts' / 'lvis_v1_class_texts.json', lvis)
    return root


def test_configs_were_found():
    names = {osp.basename(c) for c in CONFIGS}
    for size in 'sl':
        assert {f'rtvpnet_yolo11_{size}_lvis.py', f'yolo_world_{size}_lvis.py',
                f'rtvpnet_yolo11_{size}_coco.py', f'yolo_world_{size}_coco.py',
                f'yolov8_{size}_coco.py'} <= names


# one config per data base; the others' data settings equal theirs (below)
DATA_BASES = {
    '_lvis.py': 'configs/generalization/rtvpnet_yolo11_s_lvis.py',
    '_coco.py': 'configs/generalization/yolo_world_s_coco.py',
}
CLOSED = 'configs/generalization/yolov8_s_coco.py'


def _representative(config):
    if osp.basename(config).startswith('yolov8_'):
        return CLOSED
    return next(v for k, v in DATA_BASES.items() if config.endswith(k))


@pytest.mark.parametrize('config', CONFIGS)
def test_data_settings_equal_their_representative(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    ref = Config.fromfile(osp.join(REPO_ROOT, _representative(config)))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator', 'train_pipeline_stage2'):
        assert cfg.get(key) == ref.get(key), key
    assert cfg.model.get('num_train_classes') == ref.model.get(
        'num_train_classes')


@pytest.mark.parametrize('config', sorted({*DATA_BASES.values(), CLOSED}))
def test_datasets_read_the_documented_layout(config, workspace,
                                             monkeypatch):
    monkeypatch.chdir(workspace)
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    init_default_scope('mmioc_rtvp')
    lvis = config.endswith('_lvis.py')
    expected_classes = {'train': 365 if lvis else 80,
                        'val': 1203 if lvis else 80}
    for split in ('train', 'val'):
        dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
        assert len(dataset.metainfo['classes']) == expected_classes[split]
        assert len(dataset) == 2
        sample = dataset[0]
        assert max(sample['inputs'].shape[1:]) == 640
        texts = sample['data_samples'].metainfo.get('texts')
        if 'num_train_classes' in cfg.model:
            assert len(texts) == (cfg.model.num_train_classes
                                  if split == 'train' else
                                  cfg.model.num_test_classes)
        else:
            assert texts is None
    if lvis:
        from mmengine.registry import METRICS
        assert cfg.val_evaluator.type == 'FastLVISMetric'
        metric = METRICS.build(cfg.val_evaluator)  # reads the LVIS file
        assert len(metric._lvis_api.get_img_ids()) == 2
        assert cfg.model.num_test_classes == 1203


@pytest.mark.parametrize('size, channels', [('s', [256, 256, 512]),
                                            ('l', [512, 512, 512])])
def test_rtvpnet_uses_the_yolo11_expert(size, channels):
    from mmyolo.models.utils import make_divisible
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, f'configs/generalization/rtvpnet_yolo11_{size}_'
                 'coco.py'))
    expert = cfg.model.backbone.image_model
    assert expert.type == 'YOLO11Backbone'
    neck = cfg.model.neck
    assert [make_divisible(c, neck.widen_factor)
            for c in neck.in_channels] == channels
