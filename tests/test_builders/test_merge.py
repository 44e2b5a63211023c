# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Merging converted sources: taxonomy order, stable ids, duplicates."""
import json
import os
import os.path as osp

import pytest

from mmioc_rtvp.builders.converters import YOLOConverter
from mmioc_rtvp.builders.merge import MergeError, MergeSource, merge_mmioc
from tests.test_builders.test_converters.builders import (load_tool,
                                                          save_image,
                                                          write_mapping,
                                                          write_text)

CATS = {
    'hole in wood': ('wood', 'wood'),
    'scratch on steel': ('metal', 'steel'),
    'crack on brick': ('construction', 'brick wall'),
    'dent on aluminum': ('metal', 'aluminum'),
}


def category(cat_id, name, texts=None):
    sup, scene = CATS[name]
    return dict(
        id=cat_id,
        name=name,
        supercategory=sup,
        scene=scene,
        texts=texts or [name])


def make_source(root, name, images, categories):
    """A converted source: <root>/annotations/<name>.json + images.

    images: list of (file_name, seed, [(category id, bbox), ...]); images
    with the same seed have the same content.
    """
    records, anns = [], []
    for k, (file_name, seed, boxes) in enumerate(images):
        save_image(osp.join(root, 'images', file_name), 40, 30, seed=seed)
        image_id = 100 + k  # ids unrelated to the merged ones
        records.append(
            dict(id=image_id, file_name=file_name, width=40, height=30))
        for cat_id, bbox in boxes:
            anns.append(
                dict(
                    id=1000 + len(anns),
                    image_id=image_id,
                    category_id=cat_id,
                    bbox=bbox,
                    area=bbox[2] * bbox[3],
                    iscrowd=0))
    path = osp.join(root, 'annotations', f'{name}.json')
    write_text(
        path,
        json.dumps(
            dict(images=records, annotations=anns, categories=categories)))
    return path


@pytest.fixture
def two_sources(tmp_path):
    """Source 'wood_src' and 'steel_src'; wood_src/b.png and steel_src/y.png
    have the same content."""
    wood = make_source(
        str(tmp_path / 'wood_src'), 'wood_src', [
            ('a.png', 1, [(5, [1, 1, 5, 5])]),
            ('b.png', 2, [(5, [2, 2, 4, 4]), (5, [10, 10, 3, 3])]),
        ], [category(5, 'hole in wood')])
    steel = make_source(
        str(tmp_path / 'steel_src'), 'steel_src', [
            ('x.png', 3, [(2, [0, 0, 8, 8]), (1, [5, 5, 5, 5])]),
            ('y.png', 2, [(2, [2, 2, 4, 4])]),
            ('z.png', 4, []),
        ], [category(1, 'crack on brick'),
            category(2, 'scratch on steel')])
    return MergeSource('wood_src', wood), MergeSource('steel_src', steel)


def load(out, name='all'):
    with open(
            osp.join(out, 'annotations', f'{name}.json'),
            encoding='utf-8') as f:
        return json.load(f)


def summary(ann):
    cats = {c['id']: c['name'] for c in ann['categories']}
    files = {im['id']: im['file_name'] for im in ann['images']}
    return sorted(
        (a['id'], files[a['image_id']], cats[a['category_id']], a['bbox'])
        for a in ann['annotations'])


def test_merge_two_sources_with_a_duplicate(tmp_path, two_sources):
    out = str(tmp_path / 'merged')
    report = merge_mmioc(list(two_sources), out)
    ann = load(out)
    # sources in name order (steel_src < wood_src), images in name order;
    # wood_src/b.png repeats steel_src/y.png and is dropped with its 2 boxes
    assert [(im['id'], im['file_name'])
            for im in ann['images']] == [(1, 'steel_src/x.png'),
                                         (2, 'steel_src/y.png'),
                                         (3, 'steel_src/z.png'),
                                         (4, 'wood_src/a.png')]
    # category ids follow the taxonomy: metal/steel, wood/wood,
    # construction/brick wall
    assert [(c['id'], c['name'])
            for c in ann['categories']] == [(1, 'scratch on steel'),
                                            (2, 'hole in wood'),
                                            (3, 'crack on brick')]
    assert summary(ann) == [
        # within an image, in source annotation-id order
        (1, 'steel_src/x.png', 'scratch on steel', [0, 0, 8, 8]),
        (2, 'steel_src/x.png', 'crack on brick', [5, 5, 5, 5]),
        (3, 'steel_src/y.png', 'scratch on steel', [2, 2, 4, 4]),
        (4, 'wood_src/a.png', 'hole in wood', [1, 1, 5, 5]),
    ]
    assert report.reconciles()
    assert (report.input_images, report.kept_images) == (5, 4)
    assert (report.input_boxes, report.kept_boxes) == (6, 4)
    [group] = report.duplicate_groups
    assert [(i['source'], i['file_name'], i['boxes'], i['kept'])
            for i in group['images']] == [('steel_src', 'y.png', 1, True),
                                          ('wood_src', 'b.png', 2, False)]
    assert group['across_sources'] and group['labels_differ']
    assert [(d['source'], d['file_name'], d['duplicate_of'])
            for d in report.dropped_duplicates] == [('wood_src', 'b.png',
                                                     'steel_src/y.png')]
    with open(
            osp.join(out, 'reports', 'all_merge.json'), encoding='utf-8') as f:
        saved = json.load(f)
    assert saved['summary']['dropped_duplicate_images'] == 1
    with open(
            osp.join(out, 'texts', 'all_class_texts.json'),
            encoding='utf-8') as f:
        assert json.load(f) == [['scratch on steel'], ['hole in wood'],
                                ['crack on brick']]
    for im in ann['images']:
        assert osp.isfile(osp.join(out, 'images', im['file_name']))
    assert not osp.exists(osp.join(out, 'images', 'wood_src', 'b.png'))
    text = report.format_summary()
    assert 'images: input 5 = kept 4 + dropped duplicates 1 + missing 0' \
        in text
    assert 'input boxes 6 = kept 4 + dropped with their image 2' in text


def test_ids_are_stable_across_runs(tmp_path, two_sources):
    outputs = []
    for k, order in enumerate([two_sources, two_sources[::-1], two_sources]):
        out = str(tmp_path / f'run{k}')
        merge_mmioc(list(order), out, num_workers=2 if k else 0)
        with open(osp.join(out, 'annotations', 'all.json'), 'rb') as f:
            outputs.append(f.read())
    assert outputs[0] == outputs[1] == outputs[2]


def test_keep_ids_from_a_previous_merge(tmp_path, two_sources):
    first = str(tmp_path / 'first')
    merge_mmioc(list(two_sources), first)
    before = load(first)
    extra = make_source(
        str(tmp_path / 'alu_src'), 'alu_src',
        [('q.png', 9, [(4, [3, 3, 3, 3])])], [category(4, 'dent on aluminum')])
    second = str(tmp_path / 'second')
    merge_mmioc(
        list(two_sources) + [MergeSource('alu_src', extra)],
        second,
        keep_ids_from=osp.join(first, 'annotations', 'all.json'))
    after = load(second)
    old = {im['file_name']: im['id'] for im in before['images']}
    new = {im['file_name']: im['id'] for im in after['images']}
    assert {k: new[k] for k in old} == old
    assert new['alu_src/q.png'] == 5  # after the largest previous id
    # categories: list in taxonomy order (aluminum after steel), ids kept
    assert [(c['id'], c['name'])
            for c in after['categories']] == [(1, 'scratch on steel'),
                                              (4, 'dent on aluminum'),
                                              (2, 'hole in wood'),
                                              (3, 'crack on brick')]
    # every previous annotation keeps its id
    assert all(row in summary(after) for row in summary(before))
    assert [row for row in summary(after) if row[1] == 'alu_src/q.png'
            ] == [(5, 'alu_src/q.png', 'dent on aluminum', [3, 3, 3, 3])]
    # without keep_ids_from the ids follow the taxonomy again
    plain = str(tmp_path / 'plain')
    merge_mmioc(list(two_sources) + [MergeSource('alu_src', extra)], plain)
    assert [c['id'] for c in load(plain)['categories']] == [1, 2, 3, 4]


def test_keep_all_duplicates(tmp_path, two_sources):
    out = str(tmp_path / 'merged')
    report = merge_mmioc(list(two_sources), out, duplicates='keep-all')
    assert len(load(out)['images']) == 5
    assert len(report.duplicate_groups) == 1
    assert report.dropped_duplicates == []
    assert report.reconciles()


def test_prompts_united_and_conflicts(tmp_path):
    a = make_source(
        str(tmp_path / 'a'), 'a', [('1.png', 1, [(1, [0, 0, 2, 2])])],
        [category(1, 'hole in wood', ['hole in wood', 'a knot hole'])])
    b = make_source(
        str(tmp_path / 'b'), 'b', [('2.png', 2, [(7, [0, 0, 2, 2])])],
        [category(7, 'hole in wood', ['wood hole', 'a knot hole'])])
    report = merge_mmioc([a, b], str(tmp_path / 'out'))
    assert load(str(tmp_path / 'out'))['categories'][0]['texts'] == [
        'hole in wood', 'a knot hole', 'wood hole'
    ]
    assert report.texts_merged == [
        dict(category='hole in wood', source='b', added=['wood hole'])
    ]
    bad = dict(category(7, 'hole in wood'), scene='wooden table')
    c = make_source(
        str(tmp_path / 'c'), 'c', [('3.png', 3, [(7, [0, 0, 2, 2])])], [bad])
    with pytest.raises(MergeError, match="scene 'wooden table' differs"):
        merge_mmioc([a, c], str(tmp_path / 'out2'))
    moon = dict(category(7, 'hole in wood'), scene='moon')
    d = make_source(
        str(tmp_path / 'd'), 'd', [('4.png', 4, [(7, [0, 0, 2, 2])])], [moon])
    with pytest.raises(
            MergeError,
            match=r"d\.json: category 'hole in wood'"
            r": unknown scene 'moon'"):
        merge_mmioc([d], str(tmp_path / 'out3'))


def test_invalid_inputs(tmp_path, two_sources):
    bad = write_text(
        str(tmp_path / 'bad' / 'annotations' / 'bad.json'),
        json.dumps(
            dict(
                images=[dict(id=1, file_name='a.png')],
                annotations=[
                    dict(id=1, image_id=2, category_id=1, bbox=[0, 0, 1, 1])
                ],
                categories=[category(1, 'hole in wood')])))
    with pytest.raises(
            MergeError, match=r'bad\.json: annotations\[0\]: image_id 2'):
        merge_mmioc([bad], str(tmp_path / 'out'))
    with pytest.raises(MergeError, match="'wood_src' is given twice"):
        merge_mmioc([two_sources[0], two_sources[0]], str(tmp_path / 'o'))
    for bad_out in (tmp_path / 'wood_src',
                    tmp_path / 'wood_src' / 'images' / 'merged'):
        with pytest.raises(MergeError, match='overlaps source wood_src'):
            merge_mmioc(list(two_sources), str(bad_out))


def test_missing_image_file_is_reported(tmp_path):
    src = make_source(
        str(tmp_path / 's'), 's', [('a.png', 1, [(1, [0, 0, 2, 2])]),
                                   ('b.png', 2, [(1, [0, 0, 3, 3])])],
        [category(1, 'hole in wood')])
    os.remove(str(tmp_path / 's' / 'images' / 'b.png'))
    report = merge_mmioc([src], str(tmp_path / 'out'))
    assert [(m['file_name'], m['boxes'])
            for m in report.missing_images] == [('b.png', 1)]
    assert report.reconciles() and report.kept_boxes == 1


def test_convert_then_merge_cli(tmp_path, capsys):
    """End to end: two YOLO sources converted, then merged by the CLI."""
    mapping = write_mapping(str(tmp_path / 'm.json'))
    out_sources = str(tmp_path / 'sources')
    for name, seed in (('s1', 1), ('s2', 1)):  # same image in both
        root = str(tmp_path / name)
        write_text(osp.join(root, 'classes.txt'), 'scratch\n')
        save_image(osp.join(root, 'images', 'im.png'), 50, 40, seed=seed)
        write_text(osp.join(root, 'labels', 'im.txt'), '0 0.5 0.5 0.2 0.5\n')
        YOLOConverter(
            root, mapping=mapping, out_dir=out_sources, name=name).convert()
    tool = load_tool('merge_mmioc')
    merged = str(tmp_path / 'merged')
    argv = [
        f's1={out_sources}/annotations/s1.json',
        f'{out_sources}/annotations/s2.json', '--out', merged, '--no-progress'
    ]
    assert tool.main(argv) == 0
    printed = capsys.readouterr().out
    assert 'duplicate images: 1 group(s) (1 across sources, 0 with ' \
        'differing labels)' in printed
    ann = load(merged)
    assert [im['file_name'] for im in ann['images']] == ['s1/im.png']
    assert ann['annotations'][0]['bbox'] == [20.0, 10.0, 10.0, 20.0]
    assert tool.main(
        [str(tmp_path / 'none.json'), '--out', merged, '--no-progress']) == 2
    assert 'not found' in capsys.readouterr().err
