# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The k-shot protocol's draw, subsets and tables (no model needed)."""
import pytest

import json

from mmengine.config import Config

from mmioc_rtvp.apis.kshot_protocol import (draw_support, excluded_queries,
                                            kshot_tables, subset_coco)


def _coco():
    images = [dict(id=i, file_name=f'{i}.png') for i in range(12)]
    # category 1 on images 0-5, category 2 on 6-11, image 5 holds both
    anns = [dict(id=i, image_id=i, category_id=1 if i < 6 else 2, iscrowd=0)
            for i in range(12)]
    anns.append(dict(id=99, image_id=5, category_id=2, iscrowd=0))
    anns.append(dict(id=100, image_id=11, category_id=1, iscrowd=1))
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='a'), dict(id=2, name='b')])


def test_draw_support_is_seeded_disjoint_and_complete():
    coco = _coco()
    support, queries = draw_support(coco, 2, seed=3)
    assert sorted(support) == [1, 2]
    assert all(len(v) == 2 for v in support.values())
    drawn = {i for v in support.values() for i in v}
    assert len(drawn) == 4  # an image serves one class only
    assert not drawn & set(queries)
    assert sorted(drawn | set(queries)) == list(range(12))
    # every support image of a class holds a (non-crowd) box of it
    holds = {(a['image_id'], a['category_id']) for a in coco['annotations']
             if not a['iscrowd']}
    assert all((i, c) in holds for c, ids in support.items() for i in ids)
    assert draw_support(coco, 2, seed=3) == (support, queries)
    assert draw_support(coco, 2, seed=4) != (support, queries)


def test_draw_support_needs_a_query_left():
    with pytest.raises(ValueError, match='category 1 has 6 free images'):
        draw_support(_coco(), 6, seed=0)
    with pytest.raises(ValueError, match='k must be'):
        draw_support(_coco(), 0, seed=0)


def test_subset_keeps_images_and_their_annotations():
    sub = subset_coco(_coco(), [5, 11])
    assert [i['id'] for i in sub['images']] == [5, 11]
    assert sorted(a['id'] for a in sub['annotations']) == [5, 11, 99, 100]
    assert len(sub['categories']) == 2


def _summarise(values, signed=False):
    if not values:
        return '-'
    mean = sum(values) / len(values)
    return f'{mean:+.3f}' if signed else f'{mean:.3f}'


def _table(head, rows):
    return '\n'.join(' | '.join(r) for r in [head, *rows])


def test_tables_pair_rows_with_text_of_the_same_run():
    def run(seed, text, exemplar):
        return dict(config='configs/exemplar/m.py', seed=seed, results={
            'k5_draw0': dict(k=5, draw=0, queries=10, rows=dict(
                text=dict(AP=text, AP50=text * 2),
                exemplar=dict(AP=exemplar, AP50=exemplar * 2)))})

    out = kshot_tables([run(0, 0.1, 0.2), run(1, 0.2, 0.5)], _summarise,
                       _table).splitlines()
    text_row = next(line for line in out if '| text |' in line)
    ex_row = next(line for line in out if '| exemplar |' in line)
    assert '| 0.150 | 0.300 |' in text_row
    # paired: (0.2 - 0.1 + 0.5 - 0.2) / 2 = 0.2; ratio (2 + 2.5) / 2 = 2.25
    assert '| 0.350 | 0.700 | +0.200 | +0.400 | 2.25x | 10' in ex_row
    assert '| 0,1 | 0 |' in ex_row


def _train_config(tmp_path, name, ann_file, image_ids):
    (tmp_path / 'annotations').mkdir(exist_ok=True)
    with open(tmp_path / ann_file, 'w') as f:
        json.dump(dict(images=[dict(id=i) for i in image_ids]), f)
    path = tmp_path / f'{name}.py'
    path.write_text('train_dataloader = dict(dataset=dict(type="W", '
                    f'dataset=dict(ann_file="{ann_file}")))\n')
    return str(path)


def test_excluded_queries_adds_the_training_images_of_heldout_configs(
        tmp_path):
    own = _train_config(tmp_path, 'open', 'annotations/open_train.json',
                        [1, 2])
    closed = _train_config(tmp_path, 'closed',
                           'annotations/closed_train.json', [2, 3, 7])
    root = str(tmp_path)
    assert excluded_queries(Config.fromfile(own), root) == {1, 2}
    assert excluded_queries(Config.fromfile(own), root,
                            [closed]) == {1, 2, 3, 7}


def test_tables_name_the_runs_scored_on_heldout_queries():
    res = {'k5_draw0': dict(k=5, draw=0, queries=4, rows=dict(
        text=dict(AP=0.1, AP50=0.2)))}
    runs = [dict(config='configs/a.py', seed=0, results=res),
            dict(config='configs/a.py', seed=0, results=res,
                 heldout_from=['configs/rtvpnet_s_closed_mini.py'])]
    out = kshot_tables(runs, _summarise, _table).splitlines()
    names = sorted(line.split(' | ')[0] for line in out[1:])
    assert names == [
        'a', "a (queries outside rtvpnet_s_closed_mini's training)"]
