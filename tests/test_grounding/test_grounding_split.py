# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Referring expressions: every emitted expression singles out its box.

Each expression is checked by reading it back from its text alone with
mmioc_rtvp.builders.grounding_check (pairwise reasoning over every object of
the image, crowd regions included), not with the generator's rules.
"""
import json

import numpy as np
import pytest

from mmioc_rtvp.builders.grounding import ReferringRules, parse
from mmioc_rtvp.builders.grounding_check import (denotable, image_objects,
                                                 read_caption)
from mmioc_rtvp.builders.grounding_split import (make_grounding_split,
                                                to_odvg, verify_grounding)
from tests.utils.scripts import load_script


def _rule_matches(scene, caption, image_id, gap=0.05, ratio=1.5):
    """Ids of the objects of an image (crowd regions as ``('crowd', id)``)
    that the caption could denote, read from its text alone; ``scene`` is
    ``image_objects`` of the source."""
    nouns, objects = scene
    readings = read_caption(caption, sorted(set(nouns.values())))
    assert len(readings) == 1, (caption, readings)
    return [('crowd', o.ann_id) if o.crowd else o.ann_id
            for o in denotable(readings[0], objects[image_id], gap, ratio)]


CATS = [
    dict(id=3, name='hole in wood', supercategory='wood',
         texts=['hole in wood', 'a wooden board with a hole']),
    dict(id=8, name='crack in rock', supercategory='stone',
         texts=['crack in rock']),
]


def _random_split(seed, num_images=60):
    """Images with 1-6 boxes of one or two classes, some nearly touching."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for img_id in range(1, num_images + 1):
        w, h = (int(v) for v in rng.integers(200, 400, 2))
        images.append(dict(id=img_id, file_name=f'{img_id}.jpg', width=w,
                           height=h))
        for cat in CATS[:int(rng.integers(1, 3))]:
            for _ in range(int(rng.integers(1, 7))):
                bw, bh = (float(v) for v in rng.uniform(4, 80, 2))
                x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
                anns.append(dict(id=len(anns) + 1, image_id=img_id,
                                 category_id=cat['id'],
                                 bbox=[float(x), float(y), bw, bh],
                                 iscrowd=0))
    return dict(images=images, annotations=anns, categories=CATS)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_every_expression_matches_exactly_its_box(seed):
    data = _random_split(seed)
    grounding, report = make_grounding_split(data, 'random')
    assert report.reconciles() and report.invalid == 0
    assert report.expressions == len(grounding['images']) > 100
    # all five attributes occur
    assert set(report.by_attribute) == {'only', 'edge', 'size', 'order',
                                        'region'}
    img_of = {i['id']: i for i in data['images']}
    target = {a['image_id']: a for a in grounding['annotations']}
    referred = set()
    scene = image_objects(data)
    for rec in grounding['images']:
        ann = target[rec['id']]
        img = img_of[rec['original_img_id']]
        hits = _rule_matches(scene, rec['caption'], img['id'])
        assert hits == [ann['original_id']], rec['caption']
        source_box = next(a for a in data['annotations']
                          if a['id'] == hits[0])
        assert ann['bbox'] == source_box['bbox']
        referred.add(ann['original_id'])
    # one referent per record; ambiguous boxes are exactly the others
    assert len(grounding['annotations']) == len(grounding['images'])
    assert report.referred == len(referred)
    assert report.ambiguous == len(data['annotations']) - len(referred) > 0
    assert verify_grounding(grounding, data) == []


def _one_image(boxes, cat=CATS[0], size=(300, 300)):
    anns = [dict(id=i + 1, image_id=1, category_id=cat['id'], bbox=b)
            for i, b in enumerate(boxes)]
    return dict(
        images=[dict(id=1, file_name='a.jpg', width=size[0],
                     height=size[1])],
        annotations=anns, categories=CATS)


def _captions(grounding, ann_id):
    return sorted(a['caption'] for a, t in zip(grounding['images'],
                                                 grounding['annotations'])
                  if t['original_id'] == ann_id)


def test_hand_computed_expressions():
    # three holes in a row at the top: centres x = 20/300, 140/300, 260/300
    # (0.067, 0.467, 0.867), y = 0.067; areas 400, 1600, 400
    data = _one_image([[10, 10, 20, 20], [120, 0, 40, 40], [250, 10, 20, 20]])
    grounding, report = make_grounding_split(data)
    assert _captions(grounding, 1) == [
        'the hole in wood nearest the left edge',
        'the hole in wood on the left']
    # the middle one is the largest (1600 > 1.5 x 400), second from the left,
    # in the top third but not alone there, and not at an edge in y (all
    # centres within 0.05 of each other)
    assert _captions(grounding, 2) == [
        'the largest hole in wood', 'the second hole in wood from the left']
    assert _captions(grounding, 3) == [
        'the hole in wood nearest the right edge',
        'the hole in wood on the right',
        'the third hole in wood from the left']
    assert (report.referred, report.ambiguous) == (3, 0)


def test_ambiguous_boxes_are_skipped_and_counted():
    # two equal holes, centres 6 and 10 px apart in a 300 px image (0.02 and
    # 0.033 < min_gap 0.05), both in the centre: nothing tells them apart
    data = _one_image([[140, 140, 10, 10], [146, 150, 10, 10]])
    grounding, report = make_grounding_split(data)
    assert grounding['images'] == []
    assert (report.boxes, report.referred, report.ambiguous) == (2, 0, 2)
    assert report.ambiguous_by_class == {'hole in wood': 2}
    assert report.reconciles()


def test_invalid_records_are_reported_one_line_each():
    data = _one_image([[10, 10, 20, 20], [5, 5, 0, 3], [1, 2, 3]])
    data['annotations'].append(
        dict(id=9, image_id=7, category_id=3, bbox=[1, 1, 5, 5]))
    data['annotations'].append(
        dict(id=10, image_id=1, category_id=99, bbox=[1, 1, 5, 5]))
    grounding, report = make_grounding_split(data, 'src.json')
    assert report.problems == [
        'src.json: annotation 2: bbox has no area: [5, 5, 0, 3]',
        'src.json: annotation 3: bbox must be 4 finite numbers, got '
        '[1, 2, 3]',
        'src.json: annotation 9: image_id 7 is not in images',
        'src.json: annotation 10: category_id 99 is not in categories',
    ]
    assert (report.boxes, report.referred, report.invalid) == (5, 1, 4)
    assert report.reconciles()
    assert [r['caption'] for r in grounding['images']] == [
        'the hole in wood', 'the hole in wood on the left',
        'the hole in wood at the top']


def test_verify_names_expressions_that_match_no_box_or_several():
    data = _one_image([[10, 10, 20, 20], [250, 10, 20, 20]])
    grounding, _ = make_grounding_split(data)
    assert verify_grounding(grounding, data) == []
    edited = json.loads(json.dumps(grounding))
    edited['images'][0]['caption'] = 'the crack in rock'  # not in the image
    edited['images'][1]['caption'] = 'the hole in wood'  # two holes
    edited['images'][2]['caption'] = 'the dent in steel'  # unknown class
    problems = verify_grounding(edited, data, name='g.json')
    assert problems == [
        "g.json: expression 1 'the crack in rock': matches no box (image 1 "
        "has no 'crack in rock')",
        "g.json: expression 2 'the hole in wood': does not single out one "
        'box of image 1 (could be: box 1, box 2)',
        "g.json: expression 3 'the dent in steel': 'the dent in steel' "
        'follows no expression template or names no class of this file',
    ]


def test_parse_reads_back_every_template():
    nouns = ['hole in wood']
    assert parse('the third hole in wood from the top', nouns).value == \
        'top:3'
    assert parse('the hole in wood in the centre', nouns).value == 'centre'
    assert parse('the smallest hole in wood', nouns).attribute == 'size'
    assert parse('the hole in wood', nouns).attribute == 'only'
    with pytest.raises(ValueError, match='the hole in metal'):
        parse('the hole in metal', nouns)
    with pytest.raises(ValueError, match='min_gap'):
        ReferringRules(min_gap=0.5)


def test_odvg_lines_carry_xyxy_regions():
    grounding, _ = make_grounding_split(_one_image([[10, 20, 30, 40]]))
    line = to_odvg(grounding)[0]
    assert line['filename'] == 'a.jpg'
    region = line['grounding']['regions'][0]
    assert region['bbox'] == [10, 20, 40, 60]
    assert region['tokens_positive'] == [[0, len(line['grounding']
                                                 ['caption'])]]


def test_cli_writes_splits_and_report(tmp_path, capsys):
    root = tmp_path / 'root'
    (root / 'annotations').mkdir(parents=True)
    data = _random_split(3, num_images=5)
    data['annotations'].append(
        dict(id=999, image_id=1, category_id=3, bbox=[0, 0, -1, 4]))
    (root / 'annotations' / 'a.json').write_text(json.dumps(data))
    cli = load_script('tools/dataset_converters/make_grounding_split.py',
                      'make_grounding_split')
    code = cli.main(['--data-root', str(root), '--split',
                     'val=annotations/a.json'])
    out, err = capsys.readouterr()
    assert code == 1  # one invalid record: reported, the rest written
    assert 'annotation 999: bbox has no area' in err
    report = json.loads((root / 'grounding' / 'report.json').read_text())
    val = report['splits']['val']
    assert val['boxes'] == len(data['annotations'])
    assert val['boxes'] == val['referred'] + val['ambiguous'] + val['invalid']
    written = json.loads((root / 'grounding' / 'val.json').read_text())
    assert len(written['images']) == val['expressions']
    lines = (root / 'grounding' / 'val_odvg.jsonl').read_text().splitlines()
    assert len(lines) == val['expressions']
    assert f"{val['expressions']} expressions" in out
    assert cli.main(['--data-root', str(root), '--split', 'nonsense']) == 2
