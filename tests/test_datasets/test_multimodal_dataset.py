# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import json

import pytest
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import DefaultScope

from mmioc_rtvp.datasets import MMIOCDataset, MultiModalDataset


def inner_cfg(paths, **kwargs):
    return dict(
        type='MMIOCDataset',
        data_root=paths.root,
        ann_file=paths.ann_file,
        filter_cfg=dict(filter_empty_gt=False),
        **kwargs)


def test_texts_from_metainfo(mmioc, mmioc_defaults):
    dataset = MultiModalDataset(inner_cfg(mmioc))
    expected = [c['texts'] for c in mmioc_defaults['categories']]
    assert len(dataset) == 4
    assert dataset.metainfo['texts'] == tuple(tuple(t) for t in expected)
    assert dataset.metainfo['classes'] == dataset.dataset.metainfo['classes']
    info = dataset.get_data_info(2)
    assert info['texts'] == expected
    # the inner data info is passed on unchanged
    inner = dataset.dataset.get_data_info(2)
    assert {k: v for k, v in info.items() if k != 'texts'} == inner
    # every call gives a fresh copy
    info['texts'][0].append('mutated')
    assert dataset.get_data_info(2)['texts'] == expected


def test_texts_from_class_text_file(mmioc, mmioc_defaults):
    dataset = MultiModalDataset(
        inner_cfg(mmioc), class_text_path=mmioc.class_text_file)
    expected = mmioc_defaults['class_texts']
    assert dataset.metainfo['texts'] == tuple(tuple(t) for t in expected)
    assert dataset.get_data_info(0)['texts'] == expected


def test_class_text_file_with_class_subset(mmioc):
    dataset = MultiModalDataset(
        inner_cfg(
            mmioc, metainfo=dict(classes=('stain on fabric', 'hole in wood'))),
        class_text_path=mmioc.class_text_file)
    # entries 1 and 3 of the file (the subset in file order)
    expected = [['wood hole', 'holes in wood'], ['fabric stain']]
    assert dataset.get_data_info(0)['texts'] == expected


def test_wraps_built_dataset_and_lazy_init(mmioc):
    inner = MMIOCDataset(
        data_root=mmioc.root, ann_file=mmioc.ann_file, lazy_init=True)
    dataset = MultiModalDataset(inner, lazy_init=True)
    assert not dataset._fully_initialized
    assert dataset.metainfo['classes'][1] == 'hole in wood'
    dataset.full_init()
    assert inner._fully_initialized and len(dataset) == 4


def test_class_count_mismatch(mmioc):
    with open(mmioc.class_text_file, 'w') as f:
        json.dump([['a'], ['b'], ['c']], f)
    with pytest.raises(ValueError) as e:
        MultiModalDataset(
            inner_cfg(mmioc), class_text_path=mmioc.class_text_file)
    assert str(e.value) == (
        f'class-text file {mmioc.class_text_file} has 3 classes but '
        f'annotation file {mmioc.ann_path} has 4 categories')


def test_missing_class_text_file(mmioc, tmp_path):
    path = str(tmp_path / 'absent.json')
    with pytest.raises(FileNotFoundError) as e:
        MultiModalDataset(inner_cfg(mmioc), class_text_path=path)
    assert str(e.value) == f'class-text file not found: {path}'


@pytest.mark.parametrize('content', [{
    'a': 1
}, [], [['ok'], []], [['ok'], 'flat'], [['ok'], [3]]])
def test_malformed_class_text_file(mmioc, content):
    with open(mmioc.class_text_file, 'w') as f:
        json.dump(content, f)
    with pytest.raises(ValueError, match='class-text file .*tiny_class'):
        MultiModalDataset(
            inner_cfg(mmioc), class_text_path=mmioc.class_text_file)


def test_inner_pipeline_is_refused(mmioc):
    with pytest.raises(ValueError, match='must not have a pipeline'):
        MultiModalDataset(
            inner_cfg(mmioc, pipeline=[dict(type='LoadImageFromFile')]))
    inner = MMIOCDataset(
        data_root=mmioc.root,
        ann_file=mmioc.ann_file,
        pipeline=[dict(type='mmdet.LoadImageFromFile')])
    with pytest.raises(ValueError, match='must not have a pipeline'):
        MultiModalDataset(inner)


def test_pipeline_gets_wrapper_as_dataset(mmioc):

    def record(results):
        return results

    train = MultiModalDataset(inner_cfg(mmioc), pipeline=[record])
    out = train[1]
    assert out['dataset'] is train and 'texts' in out
    test = MultiModalDataset(
        inner_cfg(mmioc, test_mode=True), pipeline=[record], test_mode=True)
    assert 'dataset' not in test[1]


def test_refetch_in_training_and_error_in_test(mmioc):
    calls = []

    def reject_first(results):
        calls.append(results['img_id'])
        return None if len(calls) == 1 else results

    train = MultiModalDataset(inner_cfg(mmioc), pipeline=[reject_first])
    assert train[0] is not None and len(calls) == 2

    test = MultiModalDataset(
        inner_cfg(mmioc), pipeline=[lambda r: None], test_mode=True)
    with pytest.raises(RuntimeError, match='returned None for sample 0'):
        test[0]


def test_build_through_registry_with_default_scope(mmioc):
    cfg = dict(
        type='MultiModalDataset',
        dataset=inner_cfg(mmioc),
        class_text_path=mmioc.class_text_file,
        pipeline=[dict(type='LoadText')])
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        dataset = ROOT_DATASETS.build(cfg)
    assert type(dataset) is MultiModalDataset
    assert type(dataset.dataset) is MMIOCDataset
    assert dataset[0]['texts'] == [
        'brick crack', 'wood hole', 'metal scratch', 'fabric stain'
    ]


def test_test_mode_propagates_to_inner_dataset(mmioc):
    cfg = inner_cfg(mmioc)
    cfg['filter_cfg'] = dict(filter_empty_gt=True)
    # training: the defect-free image is filtered out
    assert len(MultiModalDataset(cfg)) == 3
    # testing: nothing is filtered
    test = MultiModalDataset(cfg, test_mode=True)
    assert test.dataset.test_mode and len(test) == 4


def test_get_cat_ids(mmioc):
    dataset = MultiModalDataset(inner_cfg(mmioc))
    labels = {
        dataset.get_data_info(i)['img_id']: dataset.get_cat_ids(i)
        for i in range(len(dataset))
    }
    assert labels == {1: [0, 2], 2: [1], 5: [], 9: [3, 1]}
