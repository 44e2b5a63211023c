# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Reference lists (class, image, box): CSV and JSON, bad records refused."""
import json
import os.path as osp

import pytest

from mmioc_rtvp.prompts.exemplar_refs import (ExemplarRef, check_box,
                                              read_exemplar_refs)


def test_csv_and_json_give_the_same_references(tmp_path):
    (tmp_path / 'refs.csv').write_text(
        'class,image,x1,y1,x2,y2\n'
        'hole,imgs/a.png,1,2,30,40\n'
        'pit,/abs/b.png,5,5,9.5,9\n')
    (tmp_path / 'refs.json').write_text(json.dumps([
        {'class': 'hole', 'image': 'imgs/a.png', 'box': [1, 2, 30, 40]},
        {'class': ' pit ', 'image': '/abs/b.png', 'box': [5, 5, 9.5, 9]},
    ]))
    for name in ('refs.csv', 'refs.json'):
        path = str(tmp_path / name)
        refs, refused = read_exemplar_refs(path)
        assert not refused
        assert refs == [
            ExemplarRef('hole', osp.join(str(tmp_path), 'imgs', 'a.png'),
                        (1.0, 2.0, 30.0, 40.0), f'{path} record 0'),
            ExemplarRef('pit', '/abs/b.png', (5.0, 5.0, 9.5, 9.0),
                        f'{path} record 1')
        ]


def test_bad_records_are_refused_and_the_rest_kept(tmp_path):
    path = str(tmp_path / 'refs.csv')
    with open(path, 'w') as f:
        f.write('class,image,x1,y1,x2,y2\n'
                'hole,a.png,1,2,30,40\n'
                ',a.png,1,2,3,4\n'
                'pit,a.png,one,2,3,4\n'
                'pit,,1,2,3,4\n'
                'pit,b.png,1,2,3,4\n')
    refs, refused = read_exemplar_refs(path)
    assert [r.where for r in refs] == [f'{path} record 0',
                                       f'{path} record 4']
    assert len(refs) + len(refused) == 5
    assert refused[0].startswith(f'{path} record 1: "class"')
    assert refused[1].startswith(f'{path} record 2: "box" must hold 4')
    assert refused[2].startswith(f'{path} record 3: "image"')


def test_unreadable_lists_are_one_error(tmp_path):
    bad_header = tmp_path / 'h.csv'
    bad_header.write_text('label,path,x,y,w,h\n')
    with pytest.raises(ValueError, match='header must be'):
        read_exemplar_refs(str(bad_header))
    not_json = tmp_path / 'r.json'
    not_json.write_text('[{')
    with pytest.raises(ValueError, match='not valid JSON'):
        read_exemplar_refs(str(not_json))
    with pytest.raises(ValueError, match='.json or .csv'):
        read_exemplar_refs(str(bad_header.rename(tmp_path / 'r.txt')))
    with pytest.raises(FileNotFoundError, match='missing.csv'):
        read_exemplar_refs(str(tmp_path / 'missing.csv'))


def test_box_checks():
    assert check_box([-0.5, 0, 100.8, 50], 100, 50) == (0, 0, 100, 50)
    for box, match in (([5, 5, 5, 9], 'zero area'),
                       ([9, 5, 5, 9], 'zero area'),
                       ([0, 0, 120, 10], 'outside the 100x50 image'),
                       ([101, 0, 130, 10], 'outside'),
                       ([0, 0, float('nan'), 3], 'not finite')):
        with pytest.raises(ValueError, match=match):
            check_box(box, 100, 50)
