# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""YOLO txt -> MMIOC: every rejection reason, clipping, image modes."""
import json
import os
import os.path as osp

import pytest

from mmioc_rtvp.builders.converters import YOLOConverter, read_class_names
from tests.test_builders.test_converters.builders import (
    boxes_by_image, check_reconciled, entries, read_outputs, save_image,
    snapshot, write_bytes, write_mapping, write_text)

# image 100 x 50; '0 .5 .5 .2 .2' -> x 40..60, y 20..30
GOOD_LINE = '0 0.5 0.5 0.2 0.2'
GOOD_BOX = [40.0, 20.0, 20.0, 10.0]


def make_source(root, labels, classes='scratch\nhole\n', size=(100, 50)):
    """images/<stem>.png + labels/<stem>.txt for each (stem, text)."""
    write_text(osp.join(root, 'classes.txt'), classes)
    for stem, text in labels.items():
        save_image(osp.join(root, 'images', f'{stem}.png'), *size)
        if text is not None:
            write_text(osp.join(root, 'labels', f'{stem}.txt'), text)
    return root


def convert(tmp_path, root, name='src', **kwargs):
    mapping = kwargs.pop('mapping', None) or write_mapping(
        str(tmp_path / 'mapping.json'))
    out = str(tmp_path / 'out')
    report = YOLOConverter(
        root, mapping=mapping, out_dir=out, name=name, **kwargs).convert()
    ann, rep = read_outputs(out, name)
    check_reconciled(rep, ann)
    assert report.reconciles()
    return ann, rep


@pytest.mark.parametrize(
    'line, reason',
    [
        ('5 0.5 0.5 0.2 0.2', 'unknown_class'),  # index beyond classes.txt
        ('2 0.5 0.5 0.2 0.2', 'unknown_class'),  # 'dent' is not mapped
        ('0 nan 0.5 0.2 0.2', 'nan_value'),
        ('0 0.5 0.5 inf 0.2', 'nan_value'),
        ('0 0.5 0.5 0.2', 'malformed_record'),  # 4 values
        ('0 0.5 0.5 0.2 0.2 0.9', 'malformed_record'),  # 6 values
        ('0 a 0.5 0.2 0.2', 'malformed_record'),  # not a number
        ('0.5 0.5 0.5 0.2 0.2', 'malformed_record'),  # class not integer
        ('0 0.5 0.5 0 0.2', 'non_positive_size'),  # zero width
        ('0 0.5 0.5 0.2 -0.2', 'non_positive_size'),  # negative height
        ('0 1.5 0.5 0.2 0.2', 'outside_image'),  # x 140..160 > 100
        ('0 0.5 -0.3 0.2 0.2', 'outside_image'),  # y -20..-10
    ])
def test_box_rejection_reasons(tmp_path, line, reason):
    root = make_source(
        str(tmp_path / 'src'), {'a': f'{GOOD_LINE}\n\n{line}\n'},
        classes='scratch\nhole\ndent\n')
    ann, rep = convert(tmp_path, root)
    # the blank line 2 is not a record; the defect is on line 3
    assert [(r['file'], r['record'], r['reason'], r['image'])
            for r in rep['rejections']] == [('labels/a.txt', 'line 3', reason,
                                             'images/a.png')]
    assert rep['summary']['input_boxes'] == 2
    assert rep['summary']['converted_boxes'] == 1
    assert boxes_by_image(ann) == {'a.png': [('scratch on steel', GOOD_BOX)]}
    # the image keeps its valid box and is flagged as partially rejected
    assert rep['summary']['partially_rejected_images'] == 1


def test_clipped_box_is_converted_and_counted(tmp_path):
    # cx .95 w .2 -> x 85..105 clipped to 85..100
    root = make_source(
        str(tmp_path / 'src'), {'a': f'{GOOD_LINE}\n1 0.95 0.5 0.2 0.2\n'})
    ann, rep = convert(tmp_path, root)
    assert boxes_by_image(ann) == {
        'a.png': [('scratch on steel', GOOD_BOX),
                  ('hole in wood', [85.0, 20.0, 15.0, 10.0])]
    }
    assert rep['rejections'] == []
    assert rep['clipped'] == [
        dict(
            file='labels/a.txt',
            record='line 2',
            image='images/a.png',
            xyxy=[85.0, 20.0, 105.0, 30.0],
            clipped_xyxy=[85.0, 20.0, 100.0, 30.0])
    ]
    assert rep['summary']['clipped_boxes'] == 1


def test_missing_image_orphan_label(tmp_path):
    root = make_source(str(tmp_path / 'src'), {'a': GOOD_LINE})
    write_text(
        osp.join(root, 'labels', 'b.txt'), f'{GOOD_LINE}\n1 .2 .2 .1 .1\n')
    ann, rep = convert(tmp_path, root)
    assert entries(rep, 'missing_image') == [('labels/b.txt', 'line 1'),
                                             ('labels/b.txt', 'line 2')]
    assert rep['rejected_images'] == [
        dict(
            image='images/b.*',
            reason='missing_image',
            detail='label file labels/b.txt has no image (looked for '
            'images/b.*)',
            file='labels/b.txt')
    ]
    assert rep['summary']['input_images'] == 2
    assert len(ann['images']) == 1


def test_corrupt_image(tmp_path):
    root = make_source(str(tmp_path / 'src'), {'a': GOOD_LINE})
    write_bytes(osp.join(root, 'images', 'c.jpg'), b'not an image at all')
    write_text(osp.join(root, 'labels', 'c.txt'), GOOD_LINE)
    # a truncated PNG: the header is fine, the end marker is missing
    save_image(osp.join(root, 'images', 't.png'), 100, 50)
    with open(osp.join(root, 'images', 't.png'), 'rb') as f:
        data = f.read()
    write_bytes(osp.join(root, 'images', 't.png'), data[:len(data) // 2])
    write_text(osp.join(root, 'labels', 't.txt'), GOOD_LINE)
    ann, rep = convert(tmp_path, root)
    assert entries(rep, 'corrupt_image') == [('labels/c.txt', 'line 1'),
                                             ('labels/t.txt', 'line 1')]
    assert [(r['image'], r['reason']) for r in rep['rejected_images']
            ] == [('images/c.jpg', 'corrupt_image'),
                  ('images/t.png', 'corrupt_image')]
    assert [im['file_name'] for im in ann['images']] == ['a.png']


def test_duplicate_id_two_images_one_label(tmp_path):
    root = make_source(str(tmp_path / 'src'), {'a': GOOD_LINE})
    save_image(osp.join(root, 'images', 'd.png'), 100, 50)
    save_image(osp.join(root, 'images', 'd.jpg'), 100, 50)
    write_text(osp.join(root, 'labels', 'd.txt'), f'{GOOD_LINE}\n{GOOD_LINE}')
    ann, rep = convert(tmp_path, root)
    # the two boxes are rejected once each, both images are rejected
    assert entries(rep, 'duplicate_id') == [('labels/d.txt', 'line 1'),
                                            ('labels/d.txt', 'line 2')]
    assert sorted(
        (r['image'], r['reason'])
        for r in rep['rejected_images']) == [('images/d.jpg', 'duplicate_id'),
                                             ('images/d.png', 'duplicate_id')]
    assert rep['summary']['input_boxes'] == 3
    assert [im['file_name'] for im in ann['images']] == ['a.png']


def test_malformed_annotation_file(tmp_path):
    root = make_source(str(tmp_path / 'src'), {'a': GOOD_LINE})
    save_image(osp.join(root, 'images', 'e.png'), 100, 50)
    write_bytes(
        osp.join(root, 'labels', 'e.txt'),
        b'0 0.5 0.5 0.2 0.2\n\xff\xfe garbage\n1 0.1 0.1 0.1 0.1\n')
    ann, rep = convert(tmp_path, root)
    assert rep['rejections'] == [
        dict(
            file='labels/e.txt',
            record='whole file',
            reason='malformed_annotation_file',
            detail=rep['rejections'][0]['detail'],
            image='images/e.png',
            boxes=3,
            estimated=True)
    ]
    assert 'not UTF-8' in rep['rejections'][0]['detail']
    assert [(r['image'], r['reason']) for r in rep['rejected_images']
            ] == [('images/e.png', 'malformed_annotation_file')]
    assert rep['summary']['input_boxes'] == 4
    assert rep['summary']['rejected_boxes'] == 3


def test_image_with_all_boxes_rejected_is_dropped(tmp_path):
    root = make_source(
        str(tmp_path / 'src'), {
            'a': GOOD_LINE,
            'b': '7 0.5 0.5 0.2 0.2\n'
        })
    ann, rep = convert(tmp_path, root)
    assert entries(rep, 'unknown_class') == [('labels/b.txt', 'line 1')]
    assert [(r['image'], r['reason']) for r in rep['rejected_images']
            ] == [('images/b.png', 'all_boxes_rejected')]
    assert [im['file_name'] for im in ann['images']] == ['a.png']


def test_unannotated_images(tmp_path):
    root = make_source(
        str(tmp_path / 'src'), {
            'a': GOOD_LINE,
            'bg': None,
            'empty': ''
        })
    ann, rep = convert(
        tmp_path,
        root,
        mapping=write_mapping(str(tmp_path / 'm.json'), default_scene='steel'))
    by_name = {im['file_name']: im for im in ann['images']}
    assert sorted(by_name) == ['a.png', 'bg.png', 'empty.png']
    assert by_name['bg.png']['scene'] == 'steel'  # default_scene
    assert rep['summary']['defect_free_images'] == 2
    ann, rep = convert(tmp_path, root, name='strict', keep_unannotated=False)
    # an empty label file is an annotation saying "no defect"; no file is not
    assert [im['file_name'] for im in ann['images']] == ['a.png', 'empty.png']
    assert [(r['image'], r['reason']) for r in rep['rejected_images']
            ] == [('images/bg.png', 'missing_annotation')]


@pytest.mark.parametrize('mode', ['L', 'RGBA', 'I;16', 'RGB'])
def test_image_modes_and_real_size(tmp_path, mode):
    root = str(tmp_path / 'src')
    write_text(osp.join(root, 'classes.txt'), 'scratch\n')
    # the size is read from the image: 200 x 80, not square
    save_image(osp.join(root, 'images', 'm.png'), 200, 80, mode=mode)
    write_text(osp.join(root, 'labels', 'm.txt'), '0 0.25 0.5 0.1 0.25')
    ann, rep = convert(tmp_path, root)
    assert ann['images'][0]['width'] == 200
    assert ann['images'][0]['height'] == 80
    assert boxes_by_image(ann) == {
        'm.png': [('scratch on steel', [40.0, 30.0, 20.0, 20.0])]
    }
    assert rep['summary']['image_modes'] == {mode: 1}
    with open(osp.join(root, 'images', 'm.png'), 'rb') as f:
        source_bytes = f.read()
    with open(osp.join(tmp_path, 'out', 'images', 'm.png'), 'rb') as f:
        assert f.read() == source_bytes


def test_non_ascii_names_survive(tmp_path):
    root = str(tmp_path / 'src')
    stem = 'défaut_划痕'
    write_text(osp.join(root, 'classes.txt'), 'égratignure\n')
    save_image(osp.join(root, 'images', f'{stem}.png'), 100, 50)
    write_text(osp.join(root, 'labels', f'{stem}.txt'), GOOD_LINE)
    mapping = write_mapping(
        str(tmp_path / 'm.json'),
        classes={
            'égratignure':
            dict(
                supercategory='metal',
                scene='steel',
                name='égratignure sur acier',
                texts=['égratignure sur acier', '钢材划痕'])
        })
    ann, rep = convert(tmp_path, root, mapping=mapping)
    assert ann['images'][0]['file_name'] == f'{stem}.png'
    assert ann['categories'][0]['texts'] == ['égratignure sur acier', '钢材划痕']
    assert osp.isfile(osp.join(tmp_path, 'out', 'images', f'{stem}.png'))
    with open(osp.join(tmp_path, 'out', 'annotations', 'src.json'), 'rb') as f:
        raw = f.read()
    assert stem.encode('utf-8') in raw  # written as UTF-8, not \u escapes


def test_data_yaml_names_and_polygon(tmp_path):
    root = str(tmp_path / 'src')
    write_text(
        osp.join(root, 'data.yaml'), 'path: .\nnames:\n  0: scratch\n'
        '  2: hole\n')
    assert read_class_names(osp.join(
        root, 'data.yaml')) == ['scratch', None, 'hole']
    save_image(osp.join(root, 'train', 'images', 'p.png'), 100, 50)
    # polygon (0.1,0.2) (0.3,0.2) (0.2,0.6) -> x 10..30, y 10..30
    write_text(
        osp.join(root, 'train', 'labels', 'p.txt'),
        '2 0.1 0.2 0.3 0.2 0.2 0.6\n1 0.5 0.5 0.1 0.1\n')
    ann, rep = convert(tmp_path, root)
    assert boxes_by_image(ann) == {
        'train/images/p.png': [('hole in wood', [10.0, 10.0, 20.0, 20.0])]
    }
    assert entries(rep, 'unknown_class') == [('train/labels/p.txt', 'line 2')]


def test_flat_layout_and_explicit_dirs(tmp_path):
    flat = str(tmp_path / 'flat')
    write_text(osp.join(flat, 'classes.txt'), 'scratch\n')
    save_image(osp.join(flat, 'x.png'), 100, 50)
    write_text(osp.join(flat, 'x.txt'), GOOD_LINE)
    write_text(osp.join(flat, 'y.txt'), GOOD_LINE)  # orphan
    ann, rep = convert(tmp_path, flat, name='flat')
    assert boxes_by_image(ann) == {'x.png': [('scratch on steel', GOOD_BOX)]}
    assert entries(rep, 'missing_image') == [('y.txt', 'line 1')]

    root = str(tmp_path / 'explicit')
    write_text(osp.join(root, 'names.txt'), 'scratch\n')
    save_image(osp.join(root, 'pics', 'sub', 'z.png'), 100, 50)
    write_text(osp.join(root, 'txt', 'sub', 'z.txt'), GOOD_LINE)
    ann, rep = convert(
        tmp_path,
        root,
        name='explicit',
        classes_file=osp.join(root, 'names.txt'),
        images_dir=osp.join(root, 'pics'),
        labels_dir=osp.join(root, 'txt'))
    assert boxes_by_image(ann) == {
        'pics/sub/z.png': [('scratch on steel', GOOD_BOX)]
    }


def test_source_is_never_modified(tmp_path):
    root = make_source(
        str(tmp_path / 'src'), {
            'a': GOOD_LINE,
            'b': '1 0.9 0.9 0.5 0.5\n9 0 0 1 1\n'
        })
    before = snapshot(root)
    mapping = write_mapping(str(tmp_path / 'm.json'))
    out = str(tmp_path / 'out')
    for mode in ('hardlink', 'copy', 'symlink', 'copy'):
        # a copy over a previous hard link / symbolic link must replace the
        # link, not write through it into the source
        YOLOConverter(
            root, mapping=mapping, out_dir=out, name='s',
            image_mode=mode).convert()
        assert snapshot(root) == before
        dst = osp.join(out, 'images', 'a.png')
        assert osp.islink(dst) == (mode == 'symlink')
    with pytest.raises(ValueError, match='inside the source'):
        YOLOConverter(
            root, mapping=mapping, out_dir=osp.join(root, 'out'),
            name='s').convert()


def test_deterministic_with_workers(tmp_path):
    labels = {
        f'i{k:02d}': f'{k % 2} 0.5 0.5 0.{k % 9 + 1} 0.2\n'
        for k in range(12)
    }
    labels['i03'] = 'bad line\n'
    root = make_source(str(tmp_path / 'src'), labels)
    mapping = write_mapping(str(tmp_path / 'm.json'))
    results = []
    for workers in (0, 2):
        out = str(tmp_path / f'out{workers}')
        YOLOConverter(
            root, mapping=mapping, out_dir=out, name='s',
            num_workers=workers).convert()
        with open(osp.join(out, 'annotations', 's.json'), 'rb') as f:
            ann = f.read()
        _, rep = read_outputs(out, 's')
        results.append((ann, rep['rejections'], rep['rejected_images']))
    assert results[0] == results[1]
    ann = json.loads(results[0][0])
    assert [im['id'] for im in ann['images']] == list(range(1, 12))
    assert [im['file_name'] for im in ann['images']
            ] == sorted(f'{stem}.png' for stem in labels if stem != 'i03')


def test_categories_in_taxonomy_order(tmp_path):
    root = make_source(str(tmp_path / 'src'), {'a': GOOD_LINE})
    ann, _ = convert(tmp_path, root)
    # metal (taxonomy index 0) before wood, whatever the mapping order
    assert [(c['id'], c['name'], c['supercategory'], c['scene'])
            for c in ann['categories']
            ] == [(1, 'scratch on steel', 'metal', 'steel'),
                  (2, 'hole in wood', 'wood', 'wood')]
    assert ann['categories'][0]['texts'] == [
        'scratch on steel', 'a scratched steel strip'
    ]


def test_missing_class_file_is_an_error(tmp_path):
    root = str(tmp_path / 'src')
    os.makedirs(root)
    with pytest.raises(FileNotFoundError, match='classes.txt'):
        YOLOConverter(
            root,
            mapping=write_mapping(str(tmp_path / 'm.json')),
            out_dir=str(tmp_path / 'out'),
            name='s')
    write_text(osp.join(root, 'classes.txt'), 'a\n\nb\n')
    with pytest.raises(ValueError, match='line 2 is blank'):
        read_class_names(osp.join(root, 'classes.txt'))
