# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The generator and the text-reading checker agree; crowd regions, edge
sides, several classes per image and shared prompt texts."""
import json

import numpy as np
import pytest

from mmioc_rtvp.builders.grounding_check import (check_grounding,
                                                 image_objects, judge,
                                                 read_caption)
from mmioc_rtvp.builders.grounding_split import make_grounding_split
from tests.utils.scripts import load_script

CATS = [
    dict(id=3, name='hole in wood', texts=['hole in wood']),
    dict(id=8, name='crack in rock', texts=['crack in rock']),
    dict(id=11, name='stain on fabric', texts=['stain on fabric']),
]
SIDES = ('left', 'right', 'top', 'bottom')
PLACES = ('on the left', 'on the right', 'at the top', 'at the bottom',
          'in the centre')
ORDINALS = ('second', 'third', 'fourth', 'fifth')  # 2..max_ordinal (5)


def every_caption(noun):
    """Every caption the templates can write for a class (the k = 1 ordinal
    is written "nearest the ... edge")."""
    return ([f'the {noun}', f'the largest {noun}', f'the smallest {noun}'] +
            [f'the {noun} nearest the {s} edge' for s in SIDES] +
            [f'the {noun} {p}' for p in PLACES] +
            [f'the {w} {noun} from the {a}' for w in ORDINALS
             for a in ('left', 'top')])


def assert_agreement(data, grounding, gap=0.05, ratio=1.5):
    """For every image, class present and caption: the generator wrote it
    for box b iff the checker, reading the text alone, finds b is the one
    object it denotes. Returns the number of (caption, box) pairs judged."""
    nouns, objects = image_objects(data)
    lexicon = sorted(set(nouns.values()))
    written = {(r['original_img_id'], r['caption'], a['original_id'])
               for r, a in zip(grounding['images'], grounding['annotations'])}
    accepted, judged = set(), 0
    for img_id, objs in objects.items():
        for noun in {o.noun for o in objs}:
            for caption in every_caption(noun):
                (reading, ) = read_caption(caption, lexicon)
                for o in objs:
                    if o.noun != noun or o.crowd:
                        continue
                    judged += 1
                    if judge(reading, o.ann_id, objs, gap, ratio) is None:
                        accepted.add((img_id, caption, o.ann_id))
    assert accepted == written, (sorted(accepted - written)[:5],
                                 sorted(written - accepted)[:5])
    return judged


def crowded_split(seed, num_images=25):
    """Images with 1-3 classes, 1-5 boxes each, and crowd regions."""
    rng = np.random.default_rng(seed)
    images, anns = [], []

    def add(img_id, cat_id, box, crowd):
        anns.append(dict(id=len(anns) + 1, image_id=img_id,
                         category_id=cat_id, bbox=[float(v) for v in box],
                         iscrowd=int(crowd)))

    for img_id in range(1, num_images + 1):
        w, h = (int(v) for v in rng.integers(200, 400, 2))
        images.append(dict(id=img_id, file_name=f'{img_id}.jpg', width=w,
                           height=h))
        for cat in rng.permutation(CATS)[:int(rng.integers(1, 4))]:
            for _ in range(int(rng.integers(1, 6))):
                bw, bh = rng.uniform(4, 80, 2)
                add(img_id, cat['id'],
                    [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh],
                    False)
            if rng.random() < 0.5:
                cw, ch = rng.uniform(20, 120, 2)
                add(img_id, cat['id'],
                    [rng.uniform(0, w - cw), rng.uniform(0, h - ch), cw, ch],
                    True)
    return dict(images=images, annotations=anns, categories=CATS)


def one_image(boxes, size=(300, 300)):
    """``boxes``: (category id, xywh, iscrowd) triples in one image."""
    anns = [dict(id=i + 1, image_id=1, category_id=c, bbox=b, iscrowd=z)
            for i, (c, b, z) in enumerate(boxes)]
    return dict(images=[dict(id=1, file_name='a.jpg', width=size[0],
                             height=size[1])],
                annotations=anns, categories=CATS)


def captions_of(grounding, ann_id):
    return sorted(r['caption'] for r, a in zip(grounding['images'],
                                               grounding['annotations'])
                  if a['original_id'] == ann_id)


@pytest.mark.parametrize('seed', [0, 1])
def test_generator_and_checker_agree_with_crowds_and_many_classes(seed):
    data = crowded_split(seed)
    grounding, report = make_grounding_split(data, 'crowded')
    assert report.reconciles() and report.invalid == 0
    assert report.crowd == sum(a['iscrowd'] for a in data['annotations']) > 5
    assert report.ambiguous_by_crowd > 0
    # the fixture holds what MMIOC-mini lacks: several classes in an image,
    # and expressions written in images that hold a crowd region of the class
    classes = {}
    for a in data['annotations']:
        classes.setdefault(a['image_id'], set()).add(a['category_id'])
    assert max(len(c) for c in classes.values()) == 3
    crowd_keys = {(a['image_id'], a['category_id'])
                  for a in data['annotations'] if a['iscrowd']}
    assert any((r['original_img_id'], a['category_id']) in crowd_keys
               for r, a in zip(grounding['images'],
                               grounding['annotations']))
    assert assert_agreement(data, grounding) > 500
    assert check_grounding(grounding, data) == []


def test_crowd_region_of_the_class_blocks_only_what_it_could_satisfy():
    # a hole at the far left; a crowd region of holes on the right; a crack
    data = one_image([(3, [10, 140, 20, 20], 0), (3, [200, 100, 80, 80], 1),
                      (8, [150, 20, 10, 10], 0)])
    grounding, report = make_grounding_split(data)
    # "the hole in wood" could be any hole of the crowd; nothing inside the
    # crowd region can be further left, or in the left third
    assert captions_of(grounding, 1) == [
        'the hole in wood nearest the left edge',
        'the hole in wood on the left']
    # a crowd region of another class does not matter
    assert captions_of(grounding, 3) == ['the crack in rock',
                                         'the crack in rock at the top']
    assert (report.boxes, report.referred, report.crowd) == (3, 2, 1)
    # a crowd region over the left: the hole is no longer told apart
    data = one_image([(3, [10, 140, 20, 20], 0), (3, [0, 0, 60, 300], 1)])
    grounding, report = make_grounding_split(data)
    assert grounding['images'] == []
    assert (report.ambiguous, report.ambiguous_by_crowd, report.crowd) == (
        1, 1, 1)
    assert 'ambiguous (1 because of a crowd region) + 1 crowd' in \
        report.summary()


def test_checker_sees_crowd_regions_a_crowd_blind_file_ignored():
    data = one_image([(3, [10, 140, 20, 20], 0), (3, [0, 0, 60, 300], 1)])
    blind = dict(data, annotations=data['annotations'][:1])
    grounding, _ = make_grounding_split(blind)
    assert 'the hole in wood' in captions_of(grounding, 1)
    assert check_grounding(grounding, blind) == []
    problems = check_grounding(grounding, data, name='g.json')
    assert len(problems) == len(grounding['images'])
    assert ("g.json: expression 1 'the hole in wood': does not single out "
            'one box of image 1 (could be: box 1, crowd region 2)'
            in problems)


def test_edges_are_the_boxes_own_sides():
    # a wide box whose left side is further left than a narrow box's, but
    # whose centre is to its right (x1 10 vs 60; cx 110 vs 70)
    data = one_image([(3, [10, 200, 200, 20], 0), (3, [60, 10, 20, 20], 0)])
    grounding, _ = make_grounding_split(data)
    assert 'the hole in wood nearest the left edge' in captions_of(
        grounding, 1)
    assert 'the hole in wood nearest the right edge' in captions_of(
        grounding, 1)  # x2 210 vs 80
    assert 'the hole in wood nearest the top edge' in captions_of(
        grounding, 2)  # y1 10 vs 200
    assert 'the hole in wood nearest the bottom edge' in captions_of(
        grounding, 1)  # y2 220 vs 30
    # left sides 10 px apart in 300 (0.033 < min_gap 0.05): a near tie
    data = one_image([(3, [10, 200, 200, 20], 0), (3, [20, 10, 20, 20], 0)])
    grounding, _ = make_grounding_split(data)
    assert not any('left edge' in r['caption'] for r in grounding['images'])
    assert_agreement(data, grounding)


def test_checker_rejects_wrong_expressions():
    data = one_image([(3, [10, 140, 20, 20], 0), (3, [250, 140, 20, 20], 0),
                      (8, [150, 20, 10, 10], 0)])
    grounding, _ = make_grounding_split(data)
    assert check_grounding(grounding, data) == []
    index = {r['caption']: i for i, r in enumerate(grounding['images'])}
    edited = json.loads(json.dumps(grounding))
    i = index['the hole in wood nearest the left edge']
    edited['images'][i]['caption'] = 'the hole in wood nearest the right edge'
    j = index['the crack in rock']
    edited['annotations'][j]['original_id'] = 1  # another box
    problems = check_grounding(edited, data, name='g.json')
    assert problems == [
        f"g.json: expression {i + 1} 'the hole in wood nearest the right "
        "edge': refers to box 2 but the record gives 1",
        f"g.json: expression {j + 1} 'the crack in rock': refers to box 3 "
        'but the record gives 1',
    ]


def test_checker_reads_every_reading_of_a_text():
    cats = [dict(id=1, name='hole', texts=['hole']),
            dict(id=2, name='largest hole', texts=['largest hole'])]
    assert len(read_caption('the largest hole', ['hole', 'largest hole'])) \
        == 2
    data = dict(images=[dict(id=1, file_name='a.jpg', width=99, height=99)],
                annotations=[dict(id=1, image_id=1, category_id=2,
                                  bbox=[1, 1, 5, 5])],
                categories=cats)
    grounding, _ = make_grounding_split(data)
    assert [r['caption'] for r in grounding['images']][0] == \
        'the largest hole'
    assert check_grounding(grounding, data)[0].endswith('reads in 2 ways')


@pytest.mark.parametrize('texts',
                         [['Hole in  wood'], ['a hole', 'hole in wood']])
def test_categories_sharing_a_prompt_text_are_refused(texts, tmp_path,
                                                      capsys):
    cats = [CATS[0], dict(id=5, name='knot hole', texts=texts)]
    data = dict(one_image([(3, [10, 10, 20, 20], 0)]), categories=cats)
    with pytest.raises(ValueError) as err:
        make_grounding_split(data, 'a.json')
    message = str(err.value)
    assert '\n' not in message and message.startswith('a.json: ')
    assert "3 ('hole in wood')" in message and \
        "5 ('knot hole')" in message
    root = tmp_path / 'root'
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'a.json').write_text(json.dumps(data))
    cli = load_script('tools/dataset_converters/make_grounding_split.py',
                      'make_grounding_split')
    assert cli.main(['--data-root', str(root), '--split',
                     'val=annotations/a.json']) == 2
    err_line = capsys.readouterr().err.strip()
    assert 'annotations/a.json' in err_line and 'knot hole' in err_line
