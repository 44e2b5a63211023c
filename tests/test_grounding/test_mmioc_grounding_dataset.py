# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The grounding files load in mmdet's readers and in MMIOCGroundingDataset."""
import json

import pytest
from mmdet.datasets import MDETRStyleRefCocoDataset, ODVGDataset

from mmioc_rtvp.datasets import MMIOCGroundingDataset
from mmioc_rtvp.builders.grounding_split import make_grounding_split, to_odvg

SOURCE = dict(
    images=[dict(id=5, file_name='wood/5.jpg', width=300, height=200)],
    annotations=[
        dict(id=1, image_id=5, category_id=3, bbox=[10, 10, 20, 20]),
        dict(id=2, image_id=5, category_id=3, bbox=[200, 150, 60, 40]),
    ],
    categories=[dict(id=3, name='hole in wood', supercategory='wood',
                     texts=['hole in wood'])])


@pytest.fixture
def files(tmp_path):
    grounding, _ = make_grounding_split(SOURCE)
    mdetr = tmp_path / 'g.json'
    mdetr.write_text(json.dumps(grounding))
    odvg = tmp_path / 'g_odvg.jsonl'
    odvg.write_text(''.join(json.dumps(x) + '\n' for x in to_odvg(grounding)))
    return grounding, str(mdetr), str(odvg)


def test_mmdet_readers_load_the_files(files):
    grounding, mdetr, odvg = files
    captions = [r['caption'] for r in grounding['images']]
    refcoco = MDETRStyleRefCocoDataset(
        ann_file=mdetr, data_prefix=dict(img='images/'), test_mode=True)
    assert [refcoco[i]['text'] for i in range(len(refcoco))] == captions
    assert refcoco[0]['instances'][0]['bbox'] == [10, 10, 30, 30]
    vg = ODVGDataset(ann_file=odvg, data_prefix=dict(img='images/'),
                     return_classes=True)
    assert [vg[i]['text'] for i in range(len(vg))] == captions
    assert vg.get_data_info(0)['instances'][0]['bbox'] == [10, 10, 30, 30]


def test_each_record_is_a_one_prompt_image(files):
    grounding, mdetr, _ = files
    dataset = MMIOCGroundingDataset(
        ann_file=mdetr, data_prefix=dict(img='images/'), test_mode=True)
    assert dataset.metainfo['classes'] == ('referent', )
    for i, rec in enumerate(grounding['images']):
        info = dataset.get_data_info(i)
        assert info['texts'] == [rec['caption']]
        assert info['img_path'] == 'images/wood/5.jpg'
        (instance, ) = info['instances']
        assert instance['bbox_label'] == 0
        assert instance['category_id'] == 3


@pytest.mark.parametrize('edit, message', [
    (lambda g: g['images'][1].update(caption='  '),
     'expression 2: empty or missing caption'),
    (lambda g: g['annotations'].append(dict(g['annotations'][0], id=99)),
     r"expression 1 \('the hole in wood nearest the left edge'\) has 2 "
     'boxes'),
    (lambda g: g['annotations'][0].update(bbox=[1, 1, 0, 5]),
     'has no area'),
])
def test_bad_records_are_named(files, tmp_path, edit, message):
    grounding, _, _ = files
    edit(grounding)
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(grounding))
    with pytest.raises(ValueError, match=f'bad.json: .*{message}'):
        MMIOCGroundingDataset(ann_file=str(path), data_prefix=dict(img=''),
                              test_mode=True)
