# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/prompt_tune.py on MMIOC-mini images with a tiny RTVPNet."""
import json
import os.path as osp

import pytest

from mmioc_rtvp.apis.image_pipeline import load_detector
from mmioc_rtvp.apis.model_fingerprint import model_fingerprint
from mmioc_rtvp.prompts import TUNED, load_prompt_embeddings
from tests.utils.scripts import load_script


def main(argv):
    load_script('tools/prompt_tune.py', 'prompt_tune_tool').main(argv)


def _support_file(mini_root, tmp_path):
    """Two open_val images of its first category, as a COCO file."""
    with open(osp.join(mini_root, 'annotations', 'open_val.json')) as f:
        coco = json.load(f)
    cat = coco['categories'][0]
    ids = sorted({a['image_id'] for a in coco['annotations']
                  if a['category_id'] == cat['id']})[:2]
    support = dict(
        images=[i for i in coco['images'] if i['id'] in ids],
        annotations=[a for a in coco['annotations'] if a['image_id'] in ids],
        categories=coco['categories'])
    path = tmp_path / 'support.json'
    path.write_text(json.dumps(support))
    boxes = [a for a in support['annotations']
             if a['category_id'] == cat['id']]
    return str(path), cat['name'], support, boxes


def test_prompt_tune_writes_a_tuned_embeddings_file(tiny_config, mini_root,
                                                     tmp_path, capsys):
    ann, name, support, boxes = _support_file(mini_root, tmp_path)
    out = str(tmp_path / 'tuned.npz')
    seen = osp.join(mini_root, 'texts', 'seen_class_texts.json')
    main([
        tiny_config, 'none', '--ann', ann, '--img-dir',
        osp.join(mini_root, 'images'), '--classes', name,
        '--keep-vocabulary', seen, '--out', out, '--steps', '3', '--init',
        'random'
    ])
    printed = capsys.readouterr().out
    total = len(support['annotations'])
    assert (f'2 images, {total} boxes: {len(boxes)} of the new classes, 0 '
            f'of kept classes, {total - len(boxes)} left out') in printed
    model = load_detector(tiny_config, 'none', seed=0)
    tuned = load_prompt_embeddings(out, model_fingerprint(model), dim=16)
    assert tuned.class_names == [name]
    record = tuned.records[0]
    assert record.kind == TUNED and record.source == ann
    note = json.loads(record.note)
    assert note['steps'] == 3 and len(note['kept_vocabulary']) == 12
    assert sorted(s['image'] for s in note['support']) == sorted(
        i['file_name'] for i in support['images']
        for b in boxes if b['image_id'] == i['id'])
    with pytest.raises(SystemExit, match="'no such class' has no box"):
        main([
            tiny_config, 'none', '--ann', ann, '--classes', 'no such class',
            '--out', out
        ])
