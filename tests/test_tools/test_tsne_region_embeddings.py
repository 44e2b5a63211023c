# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of tools/analysis_tools/tsne_region_embeddings.py (paper Fig. 10)."""
import csv
import json
import os.path as osp
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tests.utils.scripts import load_script

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STRIDES = (8, 16, 32)


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/analysis_tools/tsne_region_embeddings.py',
                       'tsne_tool')


pytestmark = pytest.mark.usefixtures('one_thread')


def write_ann(path, boxes_per_class, image_size=(160, 80)):
    """An MMIOC file with one image per box; class c has
    boxes_per_class[c] boxes; category ids 10, 11, ..."""
    images, anns = [], []
    for cls, count in enumerate(boxes_per_class):
        for _ in range(count):
            i = len(images) + 1
            images.append(dict(id=i, file_name=f'img{i}.png',
                               width=image_size[0], height=image_size[1]))
            anns.append(dict(id=100 + i, image_id=i, category_id=10 + cls,
                             bbox=[40, 20, 20, 20], area=400, iscrowd=0))
    cats = [dict(id=10 + c, name=f'class {c}', texts=[f'c{c} a', f'c{c} b'])
            for c in range(len(boxes_per_class))]
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(dict(images=images, annotations=anns, categories=cats), f)
    return str(path)


# ----------------------------------------------------------------------
# level and cell of a box
# ----------------------------------------------------------------------
# a 160 x 80 (W x H) image at 128 px: scale 0.8 -> 128 x 64, 32 rows of
# padding on top; levels of 16, 8 and 4 cells
META = dict(scale_factor=(0.8, 0.8),
            pad_param=np.array([32., 32., 0., 0.], dtype=np.float32))
SHAPES = [(16, 16), (8, 8), (4, 4)]


def test_select_level(tool):
    # the finest level where sqrt(w * h) <= 8 cells
    assert tool.select_level(10, STRIDES) == 0
    assert tool.select_level(64, STRIDES) == 0
    assert tool.select_level(64.5, STRIDES) == 1
    assert tool.select_level(128, STRIDES) == 1
    assert tool.select_level(129, STRIDES) == 2
    assert tool.select_level(5000, STRIDES) == 2


def test_box_cell_hand_computed(tool):
    # 20 x 20 -> 16 x 16 input px: level 0; centre (50, 30) -> input
    # (40, 56) -> stride-8 cell row 7, col 5
    assert tool.box_cell([40, 20, 60, 40], META, SHAPES, 128) == (0, 7, 5)
    # 100 x 80 -> 80 x 64: sqrt(5120) = 71.6 > 64: level 1; centre
    # (50, 40) -> input (40, 64) -> stride-16 row 4, col 2
    assert tool.box_cell([0, 0, 100, 80], META, SHAPES, 128) == (1, 4, 2)
    # a forced level: stride 32, input (40, 56) -> row 1, col 1
    assert tool.box_cell([40, 20, 60, 40], META, SHAPES, 128,
                         level=2) == (2, 1, 1)
    # bottom-right corner: centre (159, 79) -> input (127.2, 95.2)
    assert tool.box_cell([158, 78, 160, 80], META, SHAPES, 128) == (0, 11,
                                                                   15)
    # without a letterbox (no pad_param, scale 1)
    assert tool.box_cell([0, 0, 8, 8], dict(scale_factor=(1., 1.)),
                         SHAPES, 128) == (0, 0, 0)


def test_perplexity_for(tool):
    assert tool.perplexity_for(5) == pytest.approx(4 / 3)
    assert tool.perplexity_for(61) == 20
    assert tool.perplexity_for(91) == 30
    assert tool.perplexity_for(1000) == 30


# ----------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------
def test_sample_boxes_caps_per_class(tool, tmp_path):
    ann = write_ann(tmp_path / 'ann.json', [6, 2, 0, 3])
    records, data = tool.sample_boxes(ann, max_per_class=3, seed=0)
    assert Counter(r['label'] for r in records) == {0: 3, 1: 2, 3: 3}
    again, _ = tool.sample_boxes(ann, max_per_class=3, seed=0)
    assert [r['ann_id'] for r in again] == [r['ann_id'] for r in records]
    subsets = {
        tuple(sorted(r['ann_id'] for r in tool.sample_boxes(ann, 3, s)[0]
                     if r['label'] == 0))
        for s in range(6)
    }
    assert len(subsets) > 1  # the seed picks the subset of class 0
    # xyxy boxes; label = position of the category in the file
    assert all(r['bbox'] == [40.0, 20.0, 60.0, 40.0] for r in records)
    cat_of = {a['id']: a['category_id'] for a in data['annotations']}
    assert all(cat_of[r['ann_id']] == 10 + r['label'] for r in records)
    all_records, _ = tool.sample_boxes(ann, max_per_class=50, seed=0)
    assert len(all_records) == 11


def test_sample_boxes_errors(tool, tmp_path):
    with pytest.raises(ValueError, match='at least 2 classes, got 1'):
        tool.sample_boxes(write_ann(tmp_path / 'one.json', [8, 0]), 50, 0)
    with pytest.raises(ValueError, match='2 boxes sampled, t-SNE needs at '
                       'least 5'):
        tool.sample_boxes(write_ann(tmp_path / 'few.json', [4, 4]), 1, 0)
    path = write_ann(tmp_path / 'bad.json', [3, 3])
    with open(path) as f:
        data = json.load(f)
    data['annotations'][2]['category_id'] = 99
    with open(path, 'w') as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match='annotation 103 refers to unknown '
                       'category 99'):
        tool.sample_boxes(path, 50, 0)


def test_vocabulary(tool, tmp_path):
    ann = write_ann(tmp_path / 'ann.json', [3, 3])
    data = tool.load_mmioc(ann)
    assert tool.vocabulary(data, ann, None) == ['c0 a', 'c1 a']
    texts = tmp_path / 'texts.json'
    texts.write_text(json.dumps([['x', 'y'], ['z']]))
    assert tool.vocabulary(data, ann, str(texts)) == ['x', 'z']
    texts.write_text(json.dumps([['x']]))
    with pytest.raises(ValueError, match='has 1 classes but .* 2 categories'):
        tool.vocabulary(data, ann, str(texts))


# ----------------------------------------------------------------------
# embeddings through the real test pipeline, with a stub model
# ----------------------------------------------------------------------
class StubEmbeddingModel(nn.Module):
    """Region embeddings that spell out their own (level, row, col)."""

    def __init__(self) -> None:
        super().__init__()
        self.data_preprocessor = DetDataPreprocessor(
            mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True)

    def region_embeddings(self, inputs):
        feats = []
        for level, stride in enumerate(STRIDES):
            h, w = inputs.shape[2] // stride, inputs.shape[3] // stride
            rows, cols = torch.meshgrid(
                torch.arange(h), torch.arange(w), indexing='ij')
            feats.append(
                torch.stack([torch.full_like(rows, level), rows,
                             cols]).float()[None])
        return tuple(feats)


def test_collect_embeddings_reads_the_box_cell(tool, tiny_config, tmp_path):
    init_default_scope('mmioc_rtvp')
    pipeline = tool.build_file_pipeline(Config.fromfile(tiny_config))
    cv2.imwrite(str(tmp_path / 'wide.png'),
                np.full((80, 160, 3), 90, np.uint8))
    cv2.imwrite(str(tmp_path / 'square.png'),
                np.full((64, 64, 3), 90, np.uint8))
    records = [
        dict(image_id=1, file_name='wide.png', bbox=[40, 20, 60, 40]),
        dict(image_id=2, file_name='square.png', bbox=[0, 0, 64, 64]),
        dict(image_id=1, file_name='wide.png', bbox=[0, 0, 100, 80]),
    ]
    feats = tool.collect_embeddings(StubEmbeddingModel(), pipeline, records,
                                    str(tmp_path))
    # wide: see test_box_cell_hand_computed; square 64 px at 128 px:
    # scale 2, no padding, 128 x 128 box -> level 1 (sqrt = 128), centre
    # input (64, 64) -> stride-16 cell (4, 4)
    expected = [(0, 7, 5), (1, 4, 4), (1, 4, 2)]
    np.testing.assert_array_equal(feats, np.array(expected, np.float32))
    assert [(r['level'], r['row'], r['col']) for r in records] == expected
    feats = tool.collect_embeddings(StubEmbeddingModel(), pipeline,
                                    records[:1], str(tmp_path), level=2)
    np.testing.assert_array_equal(feats, [[2, 1, 1]])
    with pytest.raises(FileNotFoundError, match='image 7: no such file'):
        tool.collect_embeddings(
            StubEmbeddingModel(), pipeline,
            [dict(image_id=7, file_name='gone.png', bbox=[0, 0, 1, 1])],
            str(tmp_path))


def test_run_tsne(tool):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2, 8)) * 5
    feats = np.concatenate(
        [c + 0.1 * rng.standard_normal((6, 8)) for c in centres])
    points, perplexity = tool.run_tsne(feats, seed=0)
    assert points.shape == (12, 2) and perplexity == pytest.approx(11 / 3)
    # the embeddings are L2-normalised first: row scales do not matter
    scaled, _ = tool.run_tsne(feats * rng.uniform(0.5, 3, (12, 1)), seed=0)
    np.testing.assert_allclose(scaled, points, rtol=1e-4, atol=1e-4)
    # two well separated groups stay separated
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    assert d[:6, 6:].min() > max(d[:6, :6].max(), d[6:, 6:].max())
    with pytest.raises(ValueError, match='at least 5 points, got 4'):
        tool.run_tsne(feats[:4], seed=0)
    with pytest.raises(ValueError, match=r'perplexity must be in \(0, 12\)'):
        tool.run_tsne(feats, seed=0, perplexity=12)


# ----------------------------------------------------------------------
# the command line, on a random RTVPNet
# ----------------------------------------------------------------------
def test_cli_end_to_end(tool, tiny_config, mini_root, tmp_path):
    ann_file = osp.join(mini_root, 'annotations', 'open_val.json')
    with open(ann_file, encoding='utf-8') as f:
        ann = json.load(f)
    out = str(tmp_path / 'tsne' / 'unseen.png')
    assert tool.main([
        tiny_config, 'none', '--ann-file', ann_file, '--img-dir',
        osp.join(mini_root, 'images'), '--out', out, '--max-per-class', '3'
    ]) == 0
    label_of = {c['id']: i for i, c in enumerate(ann['categories'])}
    names = [c['name'] for c in ann['categories']]
    label_of_ann = {a['id']: label_of[a['category_id']]
                    for a in ann['annotations']}
    per_class = Counter(label_of_ann.values())
    with open(osp.join(tmp_path, 'tsne', 'unseen.json')) as f:
        result = json.load(f)
    points = result['points']
    # one point per sampled box: min(3, boxes) of each class
    assert Counter(p['label'] for p in points) == {
        c: min(3, n) for c, n in per_class.items()
    }
    assert len({p['ann_id'] for p in points}) == len(points)
    for p in points:
        assert p['label'] == label_of_ann[p['ann_id']]
        assert p['class_name'] == names[p['label']]
        assert np.isfinite([p['x'], p['y']]).all()
    assert result['classes'] == names
    assert result['texts'] == [c['texts'][0] for c in ann['categories']]
    assert result['perplexity'] == pytest.approx((len(points) - 1) / 3)
    assert len({(round(p['x'], 3), round(p['y'], 3)) for p in points}) > 1
    with open(osp.join(tmp_path, 'tsne', 'unseen.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    assert [int(r['ann_id']) for r in rows] == [p['ann_id'] for p in points]
    assert [int(r['label']) for r in rows] == [p['label'] for p in points]
    np.testing.assert_allclose([float(r['x']) for r in rows],
                               [p['x'] for p in points], rtol=1e-6)
    png = cv2.imread(out)
    assert png is not None and png.shape[0] > 100 and png.shape[1] > 100


def test_cli_errors(tool, tiny_config, mini_root, tmp_path, capsys):
    img_dir = osp.join(mini_root, 'images')
    one = write_ann(tmp_path / 'one.json', [6])
    assert tool.main([tiny_config, 'none', '--ann-file', one, '--img-dir',
                      img_dir, '--out', str(tmp_path / 'a.png')]) == 2
    assert 'at least 2 classes, got 1' in capsys.readouterr().err
    ann_file = osp.join(mini_root, 'annotations', 'open_val.json')
    closed = osp.join(REPO_ROOT, 'configs', 'baselines',
                      'yolov8_s_closed_mini.py')
    assert tool.main([closed, 'none', '--ann-file', ann_file, '--img-dir',
                      img_dir, '--out', str(tmp_path / 'b.png')]) == 2
    assert 'has no region embeddings' in capsys.readouterr().err
    texts = tmp_path / 'texts.json'
    texts.write_text(json.dumps([['x']]))
    assert tool.main([tiny_config, 'none', '--ann-file', ann_file,
                      '--img-dir', img_dir, '--out', str(tmp_path / 'c.png'),
                      '--texts-file', str(texts)]) == 2
    assert 'has 1 classes but' in capsys.readouterr().err
    assert tool.main([tiny_config, 'none', '--ann-file', ann_file,
                      '--img-dir', img_dir, '--out', str(tmp_path / 'd.jpg')
                      ]) == 2
    assert '--out must be a .png' in capsys.readouterr().err
