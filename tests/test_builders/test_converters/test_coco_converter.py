# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""COCO json -> MMIOC: ids, every rejection reason, sizes."""
import json
import os
import os.path as osp

import pytest

from mmioc_rtvp.builders.converters import COCOConverter
from tests.test_builders.test_converters.builders import (
    boxes_by_image, check_reconciled, entries, read_outputs, save_image,
    write_mapping, write_text)

CATEGORIES = [
    dict(id=7, name='scratch'),
    dict(id=9, name='hole'),
    dict(id=11, name='dent')
]


def make_coco(root, images, annotations, categories=CATEGORIES, raw=None):
    """Write images (100 x 50 PNGs unless absent from disk) + coco.json."""
    os.makedirs(osp.join(root, 'imgs'), exist_ok=True)
    for rec in images:
        if isinstance(rec, dict) and rec.get('_on_disk', True):
            save_image(osp.join(root, 'imgs', rec['file_name']), 100, 50)
    images = [{
        k: v
        for k, v in rec.items() if k != '_on_disk'
    } if isinstance(rec, dict) else rec for rec in images]
    path = osp.join(root, 'coco.json')
    text = raw if raw is not None else json.dumps(
        dict(images=images, annotations=annotations, categories=categories))
    write_text(path, text)
    return path, osp.join(root, 'imgs')


def ann(ann_id, image_id, bbox, category_id=7, **extra):
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=category_id,
        bbox=bbox,
        **extra)


def convert(tmp_path, ann_file, img_dir, name='coco'):
    out = str(tmp_path / 'out')
    COCOConverter(
        ann_file,
        img_dir,
        mapping=write_mapping(str(tmp_path / 'm.json')),
        out_dir=out,
        name=name).convert()
    result, rep = read_outputs(out, name)
    check_reconciled(rep, result)
    return result, rep


IMAGES = [dict(id=1, file_name='a.png', width=100, height=50)]


def test_valid_boxes_crowd_and_hierarchy(tmp_path):
    ann_file, img_dir = make_coco(
        str(tmp_path / 'src'), IMAGES + [dict(id=2, file_name='b.png')], [
            ann(10, 1, [10, 5, 20, 10]),
            ann(11, 1, [0, 0, 5, 5], category_id=9, iscrowd=1),
        ])
    result, rep = convert(tmp_path, ann_file, img_dir)
    assert boxes_by_image(result) == {
        'a.png': [('scratch on steel', [10.0, 5.0, 20.0, 10.0]),
                  ('hole in wood', [0.0, 0.0, 5.0, 5.0])],
        'b.png': []
    }
    assert [a['iscrowd'] for a in result['annotations']] == [0, 1]
    assert [a['area'] for a in result['annotations']] == [200.0, 25.0]
    assert result['images'][0]['scene'] == 'steel'
    assert rep['rejections'] == [] and rep['size_mismatches'] == []


@pytest.mark.parametrize(
    'bad, reason',
    [
        (ann(2, 1, [1, 1, 5, 5], category_id=11), 'unknown_class'),  # dent
        (ann(2, 1, [1, 1, 5, 5], category_id=99), 'unknown_class'),
        (ann(2, 1, [float('nan'), 1, 5, 5]), 'nan_value'),
        (ann(2, 1, [1, 1, float('inf'), 5]), 'nan_value'),
        (ann(2, 1, [1, 1, 5]), 'malformed_record'),
        (ann(2, 1, 'box'), 'malformed_record'),
        (ann(2, 1, [1, 1, 5, 5], iscrowd=3), 'malformed_record'),
        (ann(2, 1, [1, 1, 0, 5]), 'non_positive_size'),
        (ann(2, 1, [1, 1, 5, -5]), 'non_positive_size'),
        (ann(2, 1, [100, 10, 5, 5]), 'outside_image'),  # starts at x = W
        (ann(1, 1, [1, 1, 5, 5]), 'duplicate_id'),  # repeats annotation 1
        (ann(2, 42, [1, 1, 5, 5]), 'unknown_image_id'),  # no image 42
    ])
def test_box_rejection_reasons(tmp_path, bad, reason):
    ann_file, img_dir = make_coco(
        str(tmp_path / 'src'), IMAGES, [ann(1, 1, [10, 5, 20, 10]), bad])
    result, rep = convert(tmp_path, ann_file, img_dir)
    assert entries(rep,
                   reason) == [('coco.json', f"annotations[1] id={bad['id']}")]
    assert len(rep['rejections']) == 1
    assert boxes_by_image(result) == {
        'a.png': [('scratch on steel', [10.0, 5.0, 20.0, 10.0])]
    }


def test_nan_literal_in_json_text(tmp_path):
    raw = json.dumps(
        dict(
            images=[dict(id=1, file_name='a.png')],
            annotations=[ann(1, 1, [10, 5, 20, 10]),
                         ann(2, 1, [0, 0, 1, 1])],
            categories=CATEGORIES)).replace('[0, 0, 1, 1]', '[NaN, 0, 1, 1]')
    ann_file, img_dir = make_coco(
        str(tmp_path / 'src'), [dict(id=1, file_name='a.png')], [], raw=raw)
    _, rep = convert(tmp_path, ann_file, img_dir)
    assert entries(rep, 'nan_value') == [('coco.json', 'annotations[1] id=2')]


def test_duplicate_image_ids_and_file_names(tmp_path):
    ann_file, img_dir = make_coco(
        str(tmp_path / 'src'), [
            dict(id=1, file_name='a.png'),
            dict(id=1, file_name='b.png'),
            dict(id=2, file_name='c.png'),
            dict(id=3, file_name='c.png'),
        ], [
            ann(1, 1, [1, 1, 5, 5]),
            ann(2, 2, [1, 1, 5, 5]),
            ann(3, 3, [1, 1, 5, 5]),
        ])
    result, rep = convert(tmp_path, ann_file, img_dir)
    # id 1 is ambiguous: both images and its annotation are rejected; the
    # second record of c.png (id 3) is rejected with its annotation
    assert entries(rep,
                   'duplicate_id') == [('coco.json', 'annotations[0] id=1'),
                                       ('coco.json', 'annotations[2] id=3')]
    assert sorted(
        (r['image'], r['reason'])
        for r in rep['rejected_images']) == [('a.png', 'duplicate_id'),
                                             ('b.png', 'duplicate_id'),
                                             ('c.png', 'duplicate_id')]
    assert boxes_by_image(result) == {
        'c.png': [('scratch on steel', [1.0, 1.0, 5.0, 5.0])]
    }


def test_missing_and_corrupt_image_files(tmp_path):
    root = str(tmp_path / 'src')
    ann_file, img_dir = make_coco(root, [
        dict(id=1, file_name='a.png'),
        dict(id=2, file_name='gone.png', _on_disk=False),
        dict(id=3, file_name='bad.png', _on_disk=False),
    ], [
        ann(1, 1, [1, 1, 5, 5]),
        ann(2, 2, [1, 1, 5, 5]),
        ann(3, 3, [1, 1, 5, 5])
    ])
    write_text(osp.join(img_dir, 'bad.png'), 'not a png')
    result, rep = convert(tmp_path, ann_file, img_dir)
    assert entries(rep,
                   'missing_image') == [('coco.json', 'annotations[1] id=2')]
    assert entries(rep,
                   'corrupt_image') == [('coco.json', 'annotations[2] id=3')]
    assert sorted(
        (r['image'], r['reason'])
        for r in rep['rejected_images']) == [('bad.png', 'corrupt_image'),
                                             ('gone.png', 'missing_image')]


def test_malformed_image_record(tmp_path):
    ann_file, img_dir = make_coco(
        str(tmp_path / 'src'), IMAGES + [dict(file_name='x.png')],
        [ann(1, 1, [1, 1, 5, 5])])
    _, rep = convert(tmp_path, ann_file, img_dir)
    assert [
        (r['image'], r['reason'], r['file']) for r in rep['rejected_images']
    ] == [('images[1]', 'malformed_record', 'coco.json')]


def test_size_mismatch_is_reported(tmp_path):
    ann_file, img_dir = make_coco(
        str(tmp_path / 'src'),
        [dict(id=1, file_name='a.png', width=640, height=480)],
        [ann(1, 1, [90, 40, 20, 20])])
    result, rep = convert(tmp_path, ann_file, img_dir)
    assert rep['size_mismatches'] == [
        dict(
            image='a.png',
            file='coco.json',
            annotated=[640, 480],
            actual=[100, 50])
    ]
    assert result['images'][0]['width'] == 100
    assert boxes_by_image(result) == {
        'a.png': [('scratch on steel', [90.0, 40.0, 10.0, 10.0])]
    }
    assert len(rep['clipped']) == 1


@pytest.mark.parametrize(
    'raw, estimated',
    [('{"images": [], "annotations": [{"bbox": [1, 2, 3, 4]}, {"bbox"', 2),
     ('[1, 2, 3]', 0), ('{"images": {}, "annotations": []}', 0)])
def test_malformed_annotation_file(tmp_path, raw, estimated):
    ann_file, img_dir = make_coco(str(tmp_path / 'src'), [], [], raw=raw)
    result, rep = convert(tmp_path, ann_file, img_dir)
    [entry] = rep['rejections']
    assert (entry['file'], entry['record'], entry['reason'],
            entry['boxes']) == ('coco.json', 'whole file',
                                'malformed_annotation_file', estimated)
    assert result['images'] == []
