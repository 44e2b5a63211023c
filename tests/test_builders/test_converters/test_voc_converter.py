# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Pascal VOC xml -> MMIOC: coordinates, every rejection reason, sizes."""
import os.path as osp

import pytest

from mmioc_rtvp.builders.converters import VOCConverter
from tests.test_builders.test_converters.builders import (
    boxes_by_image, check_reconciled, entries, read_outputs, save_image,
    write_mapping, write_text)

# 1-based inclusive pixels 11..30 x 6..15 -> x 10, y 5, w 20, h 10
GOOD_OBJECT = ('<object><name>scratch</name><bndbox><xmin>11</xmin>'
               '<ymin>6</ymin><xmax>30</xmax><ymax>15</ymax></bndbox>'
               '</object>')
GOOD_BOX = [10.0, 5.0, 20.0, 10.0]


def xml(filename, objects, size=(100, 50)):
    size_xml = ('' if size is None else f'<size><width>{size[0]}</width>'
                f'<height>{size[1]}</height><depth>3</depth></size>')
    return (f'<annotation><filename>{filename}</filename>{size_xml}'
            f"{''.join(objects)}</annotation>")


def obj(name, xmin, ymin, xmax, ymax):
    return (f'<object><name>{name}</name><bndbox><xmin>{xmin}</xmin>'
            f'<ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>'
            '</bndbox></object>')


def make_voc(root, items, size=(100, 50)):
    """items: stem -> xml text (None: no xml); images are <stem>.jpg."""
    for stem, text in items.items():
        save_image(osp.join(root, 'JPEGImages', f'{stem}.jpg'), *size)
        if text is not None:
            write_text(osp.join(root, 'Annotations', f'{stem}.xml'), text)
    return root


def convert(tmp_path, root, name='voc', **kwargs):
    out = str(tmp_path / 'out')
    VOCConverter(
        root,
        mapping=write_mapping(str(tmp_path / 'm.json')),
        out_dir=out,
        name=name,
        **kwargs).convert()
    ann, rep = read_outputs(out, name)
    check_reconciled(rep, ann)
    return ann, rep


def test_one_based_coordinates(tmp_path):
    root = make_voc(str(tmp_path / 'src'), {'a': xml('a.jpg', [GOOD_OBJECT])})
    ann, rep = convert(tmp_path, root)
    assert boxes_by_image(ann) == {'a.jpg': [('scratch on steel', GOOD_BOX)]}
    ann, _ = convert(tmp_path, root, name='zero', one_based=False)
    assert boxes_by_image(ann) == {
        'a.jpg': [('scratch on steel', [11.0, 6.0, 19.0, 9.0])]
    }


@pytest.mark.parametrize(
    'bad, reason',
    [
        (obj('dent', 11, 6, 30, 15), 'unknown_class'),
        (obj('scratch', 'nan', 6, 30, 15), 'nan_value'),
        (obj('scratch', 'abc', 6, 30, 15), 'malformed_record'),
        ('<object><name>scratch</name></object>', 'malformed_record'),
        ('<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax>'
         '<ymax>5</ymax></bndbox></object>', 'malformed_record'),  # no name
        ('<object><name>scratch</name><bndbox><xmin>1</xmin><ymin>1</ymin>'
         '<xmax>5</xmax></bndbox></object>', 'malformed_record'),  # no ymax
        (obj('scratch', 31, 6, 30, 15), 'non_positive_size'),  # w = 0
        (obj('scratch', 40, 6, 30, 15), 'non_positive_size'),  # w < 0
        (obj('scratch', 150, 6, 170, 15), 'outside_image'),
    ])
def test_box_rejection_reasons(tmp_path, bad, reason):
    root = make_voc(
        str(tmp_path / 'src'), {'a': xml('a.jpg', [GOOD_OBJECT, bad])})
    ann, rep = convert(tmp_path, root)
    assert entries(rep, reason) == [('Annotations/a.xml', 'object 2')]
    assert len(rep['rejections']) == 1
    assert boxes_by_image(ann) == {'a.jpg': [('scratch on steel', GOOD_BOX)]}


def test_clipped(tmp_path):
    root = make_voc(
        str(tmp_path / 'src'),
        {'a': xml('a.jpg', [obj('hole', 91, 41, 120, 60)])})
    ann, rep = convert(tmp_path, root)
    assert boxes_by_image(ann) == {
        'a.jpg': [('hole in wood', [90.0, 40.0, 10.0, 10.0])]
    }
    assert [
        (c['record'], c['xyxy'], c['clipped_xyxy']) for c in rep['clipped']
    ] == [('object 1', [90.0, 40.0, 120.0, 60.0], [90.0, 40.0, 100.0, 50.0])]


def test_size_is_read_from_the_image(tmp_path):
    # the xml claims 200 x 100; the image is 100 x 50: the box 150..170 is
    # outside the real image, and the mismatch is reported
    root = make_voc(
        str(tmp_path / 'src'), {
            'a':
            xml('a.jpg',
                [GOOD_OBJECT, obj('scratch', 151, 6, 170, 15)],
                size=(200, 100))
        })
    ann, rep = convert(tmp_path, root)
    assert (ann['images'][0]['width'], ann['images'][0]['height']) == (100, 50)
    assert rep['size_mismatches'] == [
        dict(
            image='JPEGImages/a.jpg',
            file='Annotations/a.xml',
            annotated=[200, 100],
            actual=[100, 50])
    ]
    assert entries(rep, 'outside_image') == [('Annotations/a.xml', 'object 2')]


def test_missing_image(tmp_path):
    root = make_voc(str(tmp_path / 'src'), {'a': xml('a.jpg', [GOOD_OBJECT])})
    write_text(
        osp.join(root, 'Annotations', 'ghost.xml'),
        xml('ghost.jpg', [GOOD_OBJECT, GOOD_OBJECT]))
    ann, rep = convert(tmp_path, root)
    assert entries(rep,
                   'missing_image') == [('Annotations/ghost.xml', 'object 1'),
                                        ('Annotations/ghost.xml', 'object 2')]
    assert [(r['image'], r['reason']) for r in rep['rejected_images']
            ] == [('JPEGImages/ghost.jpg', 'missing_image')]


def test_corrupt_image(tmp_path):
    root = make_voc(str(tmp_path / 'src'), {'a': xml('a.jpg', [GOOD_OBJECT])})
    with open(osp.join(root, 'JPEGImages', 'b.jpg'), 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 truncated')
    write_text(
        osp.join(root, 'Annotations', 'b.xml'), xml('b.jpg', [GOOD_OBJECT]))
    ann, rep = convert(tmp_path, root)
    assert entries(rep, 'corrupt_image') == [('Annotations/b.xml', 'object 1')]
    assert [im['file_name'] for im in ann['images']] == ['a.jpg']


def test_malformed_annotation_file(tmp_path):
    root = make_voc(
        str(tmp_path / 'src'), {
            'a': xml('a.jpg', [GOOD_OBJECT]),
            'b': xml('b.jpg', [GOOD_OBJECT, GOOD_OBJECT])[:-20]
        })
    ann, rep = convert(tmp_path, root)
    [entry] = rep['rejections']
    assert (entry['file'], entry['record'], entry['reason'], entry['boxes'],
            entry['estimated']) == ('Annotations/b.xml', 'whole file',
                                    'malformed_annotation_file', 2, True)
    assert [(r['image'], r['reason']) for r in rep['rejected_images']
            ] == [('JPEGImages/b.jpg', 'malformed_annotation_file')]
    assert [im['file_name'] for im in ann['images']] == ['a.jpg']


def test_duplicate_id_two_xml_files_one_image(tmp_path):
    root = make_voc(str(tmp_path / 'src'), {'a': xml('a.jpg', [GOOD_OBJECT])})
    write_text(
        osp.join(root, 'Annotations', 'a_copy.xml'),
        xml('a.jpg', [GOOD_OBJECT]))
    ann, rep = convert(tmp_path, root)
    assert entries(rep,
                   'duplicate_id') == [('Annotations/a.xml', 'object 1'),
                                       ('Annotations/a_copy.xml', 'object 1')]
    assert ann['images'] == []


def test_filename_fallback_and_unannotated(tmp_path):
    # <filename> is wrong: the image is found by the xml stem; an image
    # without xml is kept as defect-free
    root = make_voc(
        str(tmp_path / 'src'), {
            'a': xml('wrong_name.png', [GOOD_OBJECT]),
            'bg': None
        })
    ann, rep = convert(tmp_path, root)
    assert boxes_by_image(ann) == {
        'a.jpg': [('scratch on steel', GOOD_BOX)],
        'bg.jpg': []
    }
    assert rep['summary']['defect_free_images'] == 1
