# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import os.path as osp
import shutil

import numpy as np
import pytest

from mmioc_rtvp.datasets import MMIOCDataset


def build(paths, **kwargs):
    return MMIOCDataset(
        data_root=paths.root, ann_file=paths.ann_file, **kwargs)


def test_metainfo_from_file_with_hierarchy(mmioc):
    dataset = build(mmioc)
    meta = dataset.metainfo
    assert meta['classes'] == ('crack on brick', 'hole in wood',
                               'scratch on metal', 'stain on fabric')
    assert meta['supercategories'] == ('construction', 'wood', 'metal',
                                       'textile')
    assert meta['scenes'] == ('brick wall', 'wood plank', 'steel plate',
                              'fabric')
    assert meta['texts'] == (('crack on brick', 'a cracked brick',
                              'fissure in a brick wall'),
                             ('hole in wood', 'a wooden board with a hole'),
                             ('scratch on metal', ), ('stain on fabric',
                                                      'a stained cloth'))
    assert meta['category_ids'] == (7, 3, 12, 20)
    palette = meta['palette']
    assert len(palette) == 4 and len(set(palette)) == 4
    assert all(0 <= v <= 255 for color in palette for v in color)
    # the CocoDataset classes must not leak in
    assert 'person' not in meta['classes']


def test_label_mapping_non_contiguous_ids(mmioc):
    dataset = build(mmioc, filter_cfg=dict(filter_empty_gt=False))
    assert len(dataset) == 4
    assert dataset.cat2label == {7: 0, 3: 1, 12: 2, 20: 3}
    infos = {
        dataset.get_data_info(i)['img_id']: dataset.get_data_info(i)
        for i in range(len(dataset))
    }

    first = infos[1]
    assert first['img_path'] == osp.join(mmioc.root, 'images',
                                         'brick_wall/000001.png')
    assert (first['width'], first['height']) == (64, 48)
    assert first['scene'] == 'brick wall'
    assert [(i['bbox'], i['bbox_label'], i['ignore_flag'])
            for i in first['instances']] == [([4, 4, 28, 24], 0, 0),
                                             ([30, 20, 58, 44], 2, 0)]
    assert [i['bbox_label'] for i in infos[2]['instances']] == [1]
    # defect-free image kept, without instances
    assert infos[5]['instances'] == []
    # image 9: no scene; crowd box ignored; zero-width box skipped
    assert 'scene' not in infos[9]
    assert [(i['bbox'], i['bbox_label'], i['ignore_flag'])
            for i in infos[9]['instances']] == [([0, 0, 30, 30], 3, 0),
                                                ([36, 8, 60, 32], 1, 1)]
    assert dataset.get_cat_ids(0) == [
        i['bbox_label'] for i in dataset.get_data_info(0)['instances']
    ]


def test_filter_empty_gt_and_test_mode(mmioc):
    kept = build(mmioc, filter_cfg=dict(filter_empty_gt=True))
    assert sorted(kept.get_data_info(i)['img_id']
                  for i in range(len(kept))) == [1, 2, 9]
    test = build(mmioc, filter_cfg=dict(filter_empty_gt=True), test_mode=True)
    assert len(test) == 4
    by_size = build(mmioc, filter_cfg=dict(min_size=50))
    assert sorted(
        by_size.get_data_info(i)['img_id']
        for i in range(len(by_size))) == [5]


def test_user_class_subset(mmioc):
    dataset = build(
        mmioc,
        metainfo=dict(classes=('crack on brick', 'scratch on metal')),
        filter_cfg=dict(filter_empty_gt=True))
    meta = dataset.metainfo
    assert meta['classes'] == ('crack on brick', 'scratch on metal')
    assert meta['texts'] == (('crack on brick', 'a cracked brick',
                              'fissure in a brick wall'),
                             ('scratch on metal', ))
    assert meta['scenes'] == ('brick wall', 'steel plate')
    assert meta['category_ids'] == (7, 12)
    # other categories are dropped, so are images left without boxes
    assert len(dataset) == 1
    info = dataset.get_data_info(0)
    assert info['img_id'] == 1
    assert [(i['bbox'], i['bbox_label'])
            for i in info['instances']] == [([4, 4, 28, 24], 0),
                                            ([30, 20, 58, 44], 1)]
    with pytest.raises(ValueError, match=r"\['no such class'\]"):
        build(mmioc, metainfo=dict(classes=('no such class', )))


def test_user_class_subset_takes_file_order(mmioc):
    """Label i must be classes[i] and agree with mmdet.CocoMetric, which
    maps labels to category ids in file order."""
    dataset = build(
        mmioc, metainfo=dict(classes=('stain on fabric', 'hole in wood')))
    assert dataset.metainfo['classes'] == ('hole in wood', 'stain on fabric')
    assert dataset.metainfo['category_ids'] == (3, 20)
    assert dataset.cat2label == {3: 0, 20: 1}


def test_user_metainfo_overrides_and_checks_length(mmioc):
    palette = [(1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12)]
    assert build(
        mmioc, metainfo=dict(palette=palette)).metainfo['palette'] == palette
    with pytest.raises(ValueError, match="'palette'.* 1 entries .* 4 class"):
        build(mmioc, metainfo=dict(palette=[(1, 2, 3)]))


def test_lazy_init_reads_metainfo_only(mmioc):
    dataset = build(mmioc, lazy_init=True)
    assert dataset.metainfo['classes'][0] == 'crack on brick'
    assert not dataset._fully_initialized
    assert len(dataset) == 4
    assert dataset._fully_initialized


def test_batch_shapes_cfg(mmioc):
    dataset = build(
        mmioc,
        test_mode=True,
        batch_shapes_cfg=dict(
            type='BatchShapePolicy',
            batch_size=2,
            img_size=64,
            size_divisor=32,
            extra_pad_ratio=0.5))
    shapes = {
        dataset.get_data_info(i)['img_id']:
        dataset.get_data_info(i)['batch_shape'].tolist()
        for i in range(len(dataset))
    }
    # images sorted by h/w: 1 and 9 (0.75) share a batch: shape
    # ceil([0.75, 1] * 64 / 32 + 0.5) * 32 = [64, 96]; 5 (1.0) and 2 (1.33)
    # share [1, 1] -> [96, 96]
    assert shapes == {1: [64, 96], 9: [64, 96], 5: [96, 96], 2: [96, 96]}


# ---------------------------------------------------------------- errors
def test_missing_data_root(tmp_path):
    root = str(tmp_path / 'absent')
    with pytest.raises(FileNotFoundError) as e:
        MMIOCDataset(data_root=root, ann_file='annotations/train.json')
    assert str(e.value) == f'MMIOC data root not found: {root}'


def test_missing_ann_file(mmioc):
    with pytest.raises(FileNotFoundError) as e:
        MMIOCDataset(data_root=mmioc.root, ann_file='annotations/val.json')
    path = osp.join(mmioc.root, 'annotations/val.json')
    assert str(e.value) == f'MMIOC annotation file not found: {path}'


def test_missing_image_dir(mmioc):
    shutil.rmtree(osp.join(mmioc.root, 'images'))
    with pytest.raises(FileNotFoundError) as e:
        build(mmioc)
    assert str(e.value) == ('MMIOC image directory not found: '
                            f"{osp.join(mmioc.root, 'images/')}")
    assert '\n' not in str(e.value)


@pytest.mark.parametrize('key', ['texts', 'supercategory', 'scene'])
def test_category_missing_field(make_mmioc, mmioc_defaults, key):
    categories = mmioc_defaults['categories']
    del categories[2][key]
    paths = make_mmioc(categories=categories, write_images=False)
    with pytest.raises(ValueError) as e:
        build(paths)
    assert str(e.value) == f"{paths.ann_path}: category id 12 has no '{key}'"


@pytest.mark.parametrize('texts', [[], 'crack', ['ok', '']])
def test_category_bad_texts(make_mmioc, mmioc_defaults, texts):
    categories = mmioc_defaults['categories']
    categories[0]['texts'] = texts
    paths = make_mmioc(categories=categories, write_images=False)
    with pytest.raises(ValueError, match='category id 7: .texts. must be'):
        build(paths)


def test_annotation_with_unknown_category(make_mmioc):
    annotations = [
        dict(id=1, image_id=1, category_id=99, bbox=[0, 0, 5, 5], area=25.0)
    ]
    paths = make_mmioc(annotations=annotations, write_images=False)
    with pytest.raises(ValueError) as e:
        build(paths)
    assert str(e.value) == (f'{paths.ann_path}: annotation id 1 has '
                            "category_id 99, which is not in 'categories'")


def test_annotation_with_unknown_image(make_mmioc):
    annotations = [
        dict(id=8, image_id=77, category_id=7, bbox=[0, 0, 5, 5], area=25.0)
    ]
    paths = make_mmioc(annotations=annotations, write_images=False)
    with pytest.raises(ValueError, match="id 8 refers to image id 77"):
        build(paths)


def test_invalid_json(mmioc):
    with open(mmioc.ann_path, 'w') as f:
        f.write('{"images": [')
    with pytest.raises(ValueError, match='is not valid JSON'):
        build(mmioc)


def test_duplicate_category_name(make_mmioc, mmioc_defaults):
    categories = mmioc_defaults['categories']
    categories[1]['name'] = 'crack on brick'
    paths = make_mmioc(categories=categories, write_images=False)
    with pytest.raises(ValueError, match="duplicate category name 'crack"):
        build(paths)


def test_large_random_file_matches_reference(make_mmioc):
    """Labels and boxes of a random file match a direct computation."""
    rng = np.random.RandomState(3)
    ids = [int(i) for i in rng.permutation(100)[:6]]
    categories = [
        dict(
            id=i, name=f'c{i}', supercategory='s', scene='x', texts=[f'c{i}'])
        for i in ids
    ]
    images = [
        dict(id=10 + k, file_name=f'{k}.png', width=100, height=80)
        for k in range(20)
    ]
    annotations = []
    for a in range(60):
        x, y = rng.randint(0, 70, 2)
        w, h = rng.randint(1, 30, 2)
        annotations.append(
            dict(
                id=a,
                image_id=10 + int(rng.randint(20)),
                category_id=ids[rng.randint(6)],
                bbox=[int(x), int(y), int(w), int(h)],
                area=float(w * h)))
    paths = make_mmioc(
        categories=categories,
        images=images,
        annotations=annotations,
        write_images=False)
    dataset = build(paths, serialize_data=False)
    expected = {img['id']: [] for img in images}
    for ann in annotations:
        x, y, w, h = ann['bbox']
        # boxes crossing the border are kept unclipped, as in mmdet
        expected[ann['image_id']].append(
            ([x, y, x + w, y + h], ids.index(ann['category_id'])))
    got = {
        info['img_id']: [(i['bbox'], i['bbox_label'])
                         for i in info['instances']]
        for info in dataset.data_list
    }
    assert got == expected
