# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of the dataset statistics (mmioc_rtvp/builders/statistics.py)."""
import csv
import importlib.util
import json
import os.path as osp
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from mmioc_rtvp.format.io import DatasetArrays
from mmioc_rtvp.builders.statistics import (PLOT_FILES, compute_statistics,
                                            format_markdown, run_statistics,
                                            scale_bucket)
from mmioc_rtvp.testing.synthetic_mmioc import (benchmark_toolkit,
                                                make_synthetic_mmioc)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'mmioc_statistics.py')


def hand_dataset():
    """4 classes (the last without boxes), 6 images (3 defect-free)."""
    cats = [
        dict(id=10, name='crack', supercategory='metal',
             scene='steel plate', texts=['crack']),
        dict(id=20, name='hole', supercategory='metal', scene='steel pipe',
             texts=['hole']),
        dict(id=30, name='stain', supercategory='textile', scene='fabric',
             texts=['stain']),
        dict(id=40, name='chip', supercategory='textile', scene='fabric',
             texts=['chip']),
    ]
    images = [
        dict(id=i, file_name=f'{i}.jpg', width=s, height=s, scene=scene)
        for i, s, scene in [(1, 100, 'steel plate'), (2, 200, 'fabric'),
                            (3, 50, 'fabric'), (4, 60, 'steel pipe'),
                            (5, 60, 'paint shop'), (6, 80, 'steel pipe')]
    ]
    # (image, category, bbox, area or None): areas at COCO's thresholds
    boxes = [(1, 10, [0, 0, 1, 1], 1023.5),  # small: < 32**2
             (1, 10, [0, 0, 1, 1], 1024.0),  # medium: == 32**2
             (1, 20, [0, 0, 1, 1], 9215.9),  # medium: < 96**2
             (2, 30, [0, 0, 1, 1], 9216.0),  # large: == 96**2
             (2, 30, [5, 5, 10, 10], None),  # no area: 10 * 10 -> small
             (2, 10, [0, 0, 40, 40], 1600.0),  # medium
             (6, 20, [0, 0, 5, 10], 50.0)]  # small
    anns = []
    for j, (img, cat, bbox, area) in enumerate(boxes, start=1):
        ann = dict(id=j, image_id=img, category_id=cat, bbox=bbox,
                   iscrowd=0)
        if area is not None:
            ann['area'] = area
        anns.append(ann)
    return dict(images=images, annotations=anns, categories=cats)


def test_scale_bucket_thresholds():
    areas = [0, 1023.999, 1024, 5000, 9215.999, 9216, 1e6]
    assert scale_bucket(np.array(areas)).tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_statistics_by_hand():
    stats = compute_statistics(DatasetArrays.from_dict(hand_dataset()))
    rows = [(c['rank'], c['name'], c['instances'], c['images'], c['small'],
             c['medium'], c['large']) for c in stats['classes']]
    # sorted by instances; hole and stain tie (2): file order
    assert rows == [(1, 'crack', 3, 2, 1, 2, 0), (2, 'hole', 2, 2, 1, 1, 0),
                    (3, 'stain', 2, 1, 1, 0, 1), (4, 'chip', 0, 0, 0, 0, 0)]
    assert stats['scales'] == dict(
        small=dict(count=3, share=round(3 / 7, 6)),
        medium=dict(count=3, share=round(3 / 7, 6)),
        large=dict(count=1, share=round(1 / 7, 6)))
    assert stats['supercategories'] == [
        dict(name='metal', classes=2, instances=5, images=3),
        dict(name='textile', classes=2, instances=2, images=1),
    ]
    assert stats['scenes'] == [
        dict(name='steel plate', classes=1, instances=3, images=2,
             defect_free_images=0),
        dict(name='steel pipe', classes=1, instances=2, images=2,
             defect_free_images=1),
        dict(name='fabric', classes=2, instances=2, images=1,
             defect_free_images=1),
        dict(name='paint shop', classes=0, instances=0, images=0,
             defect_free_images=1),
    ]
    ov = stats['overview']
    assert (ov['images'], ov['defect_free_images'], ov['annotations'],
            ov['categories'], ov['supercategories'],
            ov['scenes']) == (6, 3, 7, 4, 2, 3)
    assert ov['boxes_per_image'] == dict(min=1.0, median=3.0, mean=2.333,
                                         max=3.0)
    assert stats['long_tail'] == dict(
        classes_without_instances=1, max_instances=3,
        min_nonzero_instances=2, imbalance_ratio=1.5, top10pct_classes=1,
        top10pct_share=round(3 / 7, 6))
    hist = stats['scale_histogram']
    assert sum(hist['counts']) == 7
    assert hist['edges'][0] == pytest.approx(np.sqrt(50), abs=1e-4)
    assert hist['edges'][-1] == pytest.approx(96, abs=1e-4)


def reference_statistics(data):
    """Per-record Python loops over the same definitions."""
    cats = {c['id']: c for c in data['categories']}
    instances = defaultdict(int)
    images = defaultdict(set)
    scales = defaultdict(lambda: [0, 0, 0])
    group_images = defaultdict(set)
    for a in data['annotations']:
        cid = a['category_id']
        area = a.get('area', a['bbox'][2] * a['bbox'][3])
        bucket = 0 if area < 32**2 else (1 if area < 96**2 else 2)
        instances[cid] += 1
        images[cid].add(a['image_id'])
        scales[cid][bucket] += 1
        group_images['super', cats[cid]['supercategory']].add(a['image_id'])
        group_images['scene', cats[cid]['scene']].add(a['image_id'])
    return instances, images, scales, group_images


def test_statistics_match_reference():
    data = make_synthetic_mmioc(
        num_images=3000, num_boxes=9000, num_classes=40, num_scenes=7,
        num_supercategories=3, seed=4)
    for ann in data['annotations'][::7]:
        del ann['area']  # the w * h fallback
    stats = compute_statistics(DatasetArrays.from_dict(data))
    instances, images, scales, group_images = reference_statistics(data)
    order = sorted(data['categories'],
                   key=lambda c: -instances[c['id']])  # stable: file order
    assert [c['id'] for c in stats['classes']] == [c['id'] for c in order]
    for row in stats['classes']:
        cid = row['id']
        assert row['instances'] == instances[cid]
        assert row['images'] == len(images[cid])
        assert [row['small'], row['medium'], row['large']] == scales[cid]
    for row in stats['supercategories']:
        assert row['images'] == len(group_images['super', row['name']])
    for row in stats['scenes']:
        assert row['images'] == len(group_images['scene', row['name']])
    assert sum(r['instances'] for r in stats['scenes']) == 9000


def test_run_statistics_writes_plots_and_markdown(tmp_path):
    ann = tmp_path / 'all.json'
    ann.write_text(json.dumps(hand_dataset()))
    out = tmp_path / 'stats'
    stats = run_statistics(str(ann), str(out))
    assert set(stats['timing']) == {'load', 'arrays', 'statistics', 'plots',
                                    'write'}
    for name in PLOT_FILES.values():
        with Image.open(out / name) as img:
            assert img.format == 'PNG'
            assert img.size[0] >= 600 and img.size[1] >= 200
            # not a blank canvas
            assert len(set(img.convert('L').getdata())) > 5
    md = (out / 'summary.md').read_text(encoding='utf-8')
    assert md.startswith('# MMIOC dataset statistics: all.json')
    for line in [
            '| images | 6 |', '| defect-free images | 3 |', '| boxes | 7 |',
            '| 1 | crack | metal | steel plate | 3 | 2 | 1 | 2 | 0 |',
            '| 4 | chip | textile | fabric | 0 | 0 | 0 | 0 | 0 |',
            '| small | < 1024 | 3 | 42.86% |',
            '| medium | 1024 .. < 9216 | 3 | 42.86% |',
            '| large | >= 9216 | 1 | 14.29% |',
            '| metal | 2 | 5 | 3 |', '| textile | 2 | 2 | 1 |',
            '| steel pipe | 1 | 2 | 2 | 1 |', '| paint shop | 0 | 0 | 0 | 1 |',
            '![instances per class](class_counts.png)',
            '![box scales](box_scales.png)'
    ]:
        assert line in md.splitlines(), line
    with open(out / 'class_counts.csv', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert [(r['name'], r['instances']) for r in rows] == [
        ('crack', '3'), ('hole', '2'), ('stain', '2'), ('chip', '0')
    ]
    saved = json.loads((out / 'statistics.json').read_text())
    assert saved['scales']['small']['count'] == 3
    assert saved['classes'] == stats['classes']


def test_markdown_head_and_tail_tables():
    stats = compute_statistics(DatasetArrays.from_dict(hand_dataset()))
    md = format_markdown(stats, top=1).splitlines()
    head = md.index('Most frequent 1 classes:')
    tail = md.index('Least frequent 1 classes:')
    assert md[head + 4] == '| 1 | crack | metal | steel plate | 3 | 2 | 1 ' \
        '| 2 | 0 |'
    assert md[tail + 4] == '| 4 | chip | textile | fabric | 0 | 0 | 0 | 0 ' \
        '| 0 |'
    assert 'All classes: `class_counts.csv`.' in md


def load_tool():
    spec = importlib.util.spec_from_file_location('mmioc_statistics_tool',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli(tmp_path, capsys):
    tool = load_tool()
    ann = tmp_path / 'all.json'
    ann.write_text(json.dumps(hand_dataset()))
    out = tmp_path / 'stats'
    assert tool.main([str(ann), '--out', str(out), '--no-plots',
                      '--no-progress']) == 0
    printed = capsys.readouterr().out
    assert ('6 images (3 defect-free), 7 boxes, 4 classes in 2 '
            'supercategories / 3 scenes; boxes: small 3, medium 3, large 1'
            in printed)
    assert (out / 'summary.md').is_file()
    assert not (out / 'class_counts.png').exists()
    assert tool.main([str(tmp_path / 'none.json'), '--out', str(out)]) == 2
    assert 'annotation file not found' in capsys.readouterr().err


def test_benchmark_hook_runs_every_step(tmp_path):
    timing = benchmark_toolkit(
        num_images=300, num_boxes=900, out_dir=str(tmp_path))
    steps = ['arrays', 'closed_split', 'open_classes', 'build_splits',
             'statistics', 'write_splits', 'plots']
    assert list(timing) == ['generate', *steps, 'total']
    assert timing['total'] == pytest.approx(
        sum(timing[s] for s in steps), abs=1e-2)
    written = json.loads((tmp_path / 'closed_train.json').read_text())
    val = json.loads((tmp_path / 'closed_val.json').read_text())
    assert len(written['images']) + len(val['images']) == 300
    assert (tmp_path / 'class_counts.png').is_file()
