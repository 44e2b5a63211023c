# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of the MMIOC validation (mmioc_rtvp/builders/validate.py)."""
import copy
import csv
import importlib.util
import json
import os
import os.path as osp

import pytest
from PIL import Image

from mmioc_rtvp.testing.synthetic_mmioc import make_synthetic_mmioc
from mmioc_rtvp.builders.validate import REASONS, validate_mmioc

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                'validate_mmioc.py')

# (file_name, width, height, scene)
IMAGES = [('brick/a.png', 40, 30, 'brick wall'),
          ('wood/b.jpg', 50, 20, 'wooden table'),
          ('wood/c.png', 30, 30, 'wooden table')]


def valid_dataset():
    """3 images (the last defect-free), 3 boxes touching the borders."""
    return dict(
        info=dict(description='validation test'),
        images=[
            dict(id=i, file_name=f, width=w, height=h, scene=s)
            for i, (f, w, h, s) in enumerate(IMAGES, start=1)
        ],
        annotations=[
            dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 40, 30],
                 area=1200.0, iscrowd=0),
            dict(id=2, image_id=2, category_id=2, bbox=[10, 5, 5, 5],
                 area=25.0, iscrowd=0),
            dict(id=3, image_id=2, category_id=2, bbox=[45, 15, 5, 5],
                 area=25.0, iscrowd=0),
        ],
        categories=[
            dict(id=1, name='crack on brick', supercategory='construction',
                 scene='brick wall',
                 texts=['crack on brick', 'a cracked brick']),
            dict(id=2, name='hole in wood', supercategory='wood',
                 scene='wooden table', texts=['hole in wood']),
        ])


@pytest.fixture
def root(tmp_path):
    """A data root with images/ and annotations/ (written by the test)."""
    for file_name, w, h, _ in IMAGES:
        path = tmp_path / 'images' / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new('RGB', (w, h), (120, 90, 60)).save(path)
    (tmp_path / 'annotations').mkdir()
    return tmp_path


def write(root, data, name='all.json'):
    path = root / 'annotations' / name
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_text(json.dumps(data))
    return str(path)


def found(report):
    return sorted(
        ((p.reason, p.image_id, p.ann_id, p.category_id)
         for p in report.problems),
        key=repr)


def test_valid_dataset(root):
    report = validate_mmioc(write(root, valid_dataset()))
    assert report.ok and report.counts == {} and report.problems == []
    assert report.images_checked == 3
    assert (report.num_images, report.num_annotations,
            report.num_categories) == (3, 3, 2)
    assert report.format().endswith('OK: 0 errors, 0 warnings')


def _images(d):
    return d['images']


def _anns(d):
    return d['annotations']


def _cats(d):
    return d['categories']


def setitem(getter, index, key, value):

    def mutate(data, root):
        getter(data)[index][key] = value
        return data

    return mutate


def delitem(getter, index, key):

    def mutate(data, root):
        del getter(data)[index][key]
        return data

    return mutate


def append(getter, record):

    def mutate(data, root):
        getter(data).append(record)
        return data

    return mutate


def remove_file(data, root):
    os.remove(root / 'images' / 'wood' / 'c.png')
    return data


def garbage_file(data, root):
    (root / 'images' / 'wood' / 'c.png').write_bytes(b'not an image')
    return data


def same_file_name(data, root):
    data['images'][2].update(file_name='wood/b.jpg', width=50, height=20)
    return data


def invalid_json(data, root):
    return '{"images": ['


def no_images_list(data, root):
    del data['images']
    return data


def no_categories(data, root):
    data['categories'] = []
    return data


CAT3 = dict(id=3, name='hole in wood', supercategory='wood',
            scene='wooden table', texts=['hole'])

# (case id, mutation, expected problems (reason, image_id, ann_id, cat_id))
CASES = [
    ('invalid_json', invalid_json, [('bad_structure', None, None, None)]),
    ('no_images_list', no_images_list,
     [('bad_structure', None, None, None)]),
    ('no_categories', no_categories,
     [('no_categories', None, None, None),
      ('unknown_category_id', 1, 1, 1),
      ('unknown_category_id', 2, 2, 2),
      ('unknown_category_id', 2, 3, 2)]),
    ('zero_width', setitem(_images, 2, 'width', 0),
     [('bad_image_record', 3, None, None)]),
    ('image_without_id', delitem(_images, 2, 'id'),
     [('bad_image_record', None, None, None)]),
    ('duplicate_image_id', setitem(_images, 2, 'id', 2),
     [('duplicate_image_id', 2, None, None)]),
    ('duplicate_file_name', same_file_name,
     [('duplicate_file_name', 3, None, None)]),
    ('missing_image_file', remove_file,
     [('missing_image_file', 3, None, None)]),
    ('unreadable_image', garbage_file,
     [('unreadable_image', 3, None, None)]),
    ('size_mismatch', setitem(_images, 0, 'width', 41),
     [('size_mismatch', 1, None, None)]),
    ('annotation_without_category', delitem(_anns, 0, 'category_id'),
     [('bad_annotation_record', 1, 1, None)]),
    ('annotation_float_id', setitem(_anns, 0, 'id', 1.0),
     [('bad_annotation_record', 1, None, 1)]),
    ('duplicate_annotation_id', setitem(_anns, 2, 'id', 2),
     [('duplicate_annotation_id', 2, 2, 2)]),
    ('unknown_image_id', setitem(_anns, 0, 'image_id', 99),
     [('unknown_image_id', 99, 1, 1)]),
    ('unknown_category_id', setitem(_anns, 0, 'category_id', 7),
     [('unknown_category_id', 1, 1, 7)]),
    ('bbox_of_3', setitem(_anns, 0, 'bbox', [0, 0, 40]),
     [('bad_bbox', 1, 1, 1)]),
    ('bbox_with_string', setitem(_anns, 0, 'bbox', [0, 0, '40', 30]),
     [('bad_bbox', 1, 1, 1)]),
    ('bbox_with_bool', setitem(_anns, 0, 'bbox', [0, 0, True, 30]),
     [('bad_bbox', 1, 1, 1)]),
    ('zero_width_box', setitem(_anns, 1, 'bbox', [10, 5, 0, 5]),
     [('non_positive_box', 2, 2, 2)]),
    ('negative_height_box', setitem(_anns, 1, 'bbox', [10, 5, 5, -2]),
     [('non_positive_box', 2, 2, 2)]),
    ('box_past_right_edge', setitem(_anns, 2, 'bbox', [45.5, 15, 5, 5]),
     [('box_out_of_range', 2, 3, 2)]),
    ('box_negative_y', setitem(_anns, 1, 'bbox', [10, -1, 5, 5]),
     [('box_out_of_range', 2, 2, 2)]),
    ('zero_area', setitem(_anns, 1, 'area', 0),
     [('bad_area', 2, 2, 2)]),
    ('no_area', delitem(_anns, 1, 'area'), [('bad_area', 2, 2, 2)]),
    ('scene_mismatch', setitem(_images, 0, 'scene', 'wooden table'),
     [('scene_mismatch', 1, 1, 1)]),
    ('category_string_id', setitem(_cats, 1, 'id', '2'),
     [('bad_category_record', None, None, None),
      ('unknown_category_id', 2, 2, 2),
      ('unknown_category_id', 2, 3, 2)]),
    ('duplicate_category_id', append(_cats, dict(CAT3, id=1, name='x')),
     [('duplicate_category_id', None, None, 1)]),
    ('duplicate_category_name', append(_cats, CAT3),
     [('duplicate_category_name', None, None, 3)]),
    ('missing_name', setitem(_cats, 0, 'name', ''),
     [('missing_name', None, None, 1)]),
    ('empty_texts', setitem(_cats, 0, 'texts', []),
     [('missing_texts', None, None, 1)]),
    ('empty_prompt', setitem(_cats, 1, 'texts', ['hole in wood', '']),
     [('missing_texts', None, None, 2)]),
    ('no_texts', delitem(_cats, 1, 'texts'),
     [('missing_texts', None, None, 2)]),
    ('missing_supercategory', delitem(_cats, 0, 'supercategory'),
     [('missing_supercategory', None, None, 1)]),
    ('missing_scene', setitem(_cats, 1, 'scene', None),
     [('missing_scene', None, None, 2)]),
]


@pytest.mark.parametrize('mutation, expected',
                         [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_reason(root, mutation, expected):
    data = mutation(valid_dataset(), root)
    report = validate_mmioc(write(root, data))
    assert found(report) == sorted(expected, key=repr)
    errors = [e for e in expected if REASONS[e[0]][0] == 'error']
    assert report.ok == (not errors)
    assert report.num_errors == len(errors)
    assert report.num_warnings == len(expected) - len(errors)


def truncate_jpeg(root):
    path = root / 'images' / 'wood' / 'b.jpg'
    Image.effect_noise((50, 20), 60).convert('RGB').save(path, quality=95)
    content = path.read_bytes()
    path.write_bytes(content[:len(content) // 2])


def test_truncated_image_needs_decode(root):
    truncate_jpeg(root)
    ann = write(root, valid_dataset())
    assert validate_mmioc(ann, images='header').ok
    report = validate_mmioc(ann, images='decode')
    assert found(report) == [('unreadable_image', 2, None, None)]
    assert 'truncated' in report.problems[0].detail
    assert report.problems[0].file == str(root / 'images' / 'wood' / 'b.jpg')


def test_no_image_checks_and_img_dir(root, tmp_path):
    remove_file(None, root)
    ann = write(root, valid_dataset())
    report = validate_mmioc(ann, images='none')
    assert report.ok and report.images_checked == 0
    # an explicit image directory
    other = tmp_path / 'elsewhere'
    os.rename(root / 'images', other)
    report = validate_mmioc(ann, img_dir=str(other))
    assert found(report) == [('missing_image_file', 3, None, None)]
    with pytest.raises(ValueError, match='img_dir'):
        validate_mmioc(valid_dataset())
    assert validate_mmioc(valid_dataset(), images='none').ok


def test_box_tolerance(root):
    data = valid_dataset()
    data['annotations'][2]['bbox'] = [45.5, 15, 5, 5]
    ann = write(root, data)
    assert not validate_mmioc(ann).ok
    assert validate_mmioc(ann, box_tolerance=0.5).ok


def test_class_texts(root):
    ann = write(root, valid_dataset())
    texts = root / 'texts.json'
    texts.write_text(json.dumps([['crack on brick', 'a cracked brick'],
                                 ['hole in wood']]))
    assert validate_mmioc(ann, class_texts=str(texts)).ok
    texts.write_text(json.dumps([['hole in wood'],
                                 ['crack on brick', 'a cracked brick']]))
    report = validate_mmioc(ann, class_texts=str(texts))
    assert found(report) == [('class_texts_mismatch', None, None, 1),
                             ('class_texts_mismatch', None, None, 2)]
    assert report.problems[0].file == str(texts)
    texts.write_text(json.dumps([['hole in wood']]))
    report = validate_mmioc(ann, class_texts=str(texts))
    assert found(report) == [('class_texts_mismatch', None, None, None)]
    assert '1 entries for 2 categories' in report.problems[0].detail


def test_every_reason_is_tested():
    tested = {e[0] for c in CASES for e in c[2]}
    tested |= {'class_texts_mismatch'}  # test_class_texts
    assert tested == set(REASONS)


def test_max_records_keeps_counts(root):
    data = valid_dataset()
    for ann in data['annotations']:
        ann['area'] = -1
    report = validate_mmioc(write(root, data), max_records=2)
    assert report.counts == {'bad_area': 3}
    assert len(report.problems) == 2 and report.num_errors == 3


def load_tool():
    spec = importlib.util.spec_from_file_location('validate_mmioc_tool',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_exit_codes_and_reports(root, capsys):
    tool = load_tool()
    ann = write(root, valid_dataset())
    assert tool.main([ann, '--no-progress']) == 0
    assert 'OK: 0 errors, 0 warnings' in capsys.readouterr().out

    # a warning: exit 0, or 1 with --strict
    data = valid_dataset()
    data['images'][0]['scene'] = 'wooden table'
    ann = write(root, data)
    assert tool.main([ann, '--no-progress']) == 0
    assert tool.main([ann, '--no-progress', '--strict']) == 1

    # errors: exit 1, summary with examples, JSON and CSV reports
    data = copy.deepcopy(valid_dataset())
    data['annotations'][1]['bbox'] = [10, 5, 0, 5]
    remove_file(data, root)
    ann = write(root, data)
    report_json = str(root / 'report.json')
    report_csv = str(root / 'report.csv')
    assert tool.main([ann, '--no-progress', '--report', report_json]) == 1
    out = capsys.readouterr().out
    assert 'non_positive_box' in out and 'missing_image_file' in out
    assert 'FAILED: 2 errors, 0 warnings' in out
    with open(report_json, encoding='utf-8') as f:
        report = json.load(f)
    assert report['ok'] is False and report['num_errors'] == 2
    assert report['counts'] == dict(missing_image_file=1, non_positive_box=1)
    records = {p['reason']: p for p in report['problems']}
    assert records['non_positive_box']['ann_id'] == 2
    assert records['non_positive_box']['file'] == ann
    assert records['missing_image_file']['file'] == str(
        root / 'images' / 'wood' / 'c.png')
    assert records['missing_image_file']['severity'] == 'error'
    assert tool.main([ann, '--no-progress', '--report', report_csv]) == 1
    capsys.readouterr()
    with open(report_csv, encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert sorted(r['reason'] for r in rows) == [
        'missing_image_file', 'non_positive_box'
    ]
    # --no-images: only the box error is left
    assert tool.main([ann, '--no-progress', '--no-images']) == 1
    assert 'missing_image_file' not in capsys.readouterr().out
    # an unreadable annotation file is an error too
    assert tool.main([str(root / 'nothing.json'), '--no-progress']) == 1
    assert 'bad_structure' in capsys.readouterr().out


def test_synthetic_dataset_is_valid_and_seeded():
    data = make_synthetic_mmioc(
        num_images=500, num_boxes=1500, num_classes=20, num_scenes=5,
        num_supercategories=3, seed=1)
    report = validate_mmioc(data, images='none')
    assert report.ok and report.num_warnings == 0  # scenes consistent too
    assert (len(data['images']), len(data['annotations']),
            len(data['categories'])) == (500, 1500, 20)
    with_boxes = {a['image_id'] for a in data['annotations']}
    assert len(with_boxes) == 500 - 25  # 5 % defect-free images
    assert len({c['scene'] for c in data['categories']}) == 5
    assert len({c['supercategory'] for c in data['categories']}) == 3
    again = make_synthetic_mmioc(
        num_images=500, num_boxes=1500, num_classes=20, num_scenes=5,
        num_supercategories=3, seed=1)
    assert again == data
    other = make_synthetic_mmioc(
        num_images=500, num_boxes=1500, num_classes=20, num_scenes=5,
        num_supercategories=3, seed=2)
    assert other['annotations'] != data['annotations']
