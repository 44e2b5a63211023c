# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of tools/analysis_tools/visualize_prompts.py (paper Fig. 13)."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tests.utils.scripts import load_script

RED = (0, 0, 255)


def load_tool():
    return load_script('tools/analysis_tools/visualize_prompts.py',
                       'visualize_prompts_tool')


@pytest.fixture(scope='module')
def tool():
    return load_tool()


pytestmark = pytest.mark.usefixtures('one_thread')


# ----------------------------------------------------------------------
# the letterbox inversion
# ----------------------------------------------------------------------
# a 200 x 100 (W x H) image letterboxed into 320 x 320: scale 1.6, content
# 320 x 160, 80 rows of padding above and below
LETTERBOX_META = dict(
    ori_shape=(100, 200), scale_factor=(1.6, 1.6),
    pad_param=np.array([80., 80., 0., 0.], dtype=np.float32))


def test_map_to_image_nearest_is_exactly_the_cell(tool):
    feat = np.zeros((10, 10), np.float32)  # stride 32
    feat[4, 3] = 1.0
    heat = tool.map_to_image(feat, 32, LETTERBOX_META, nearest=True)
    assert heat.shape == (100, 200)
    # cell (4, 3) covers input x [96, 128), y [128, 160): original
    # x = u / 1.6 in [60, 80), y = (v - 80) / 1.6 in [30, 50)
    expected = np.zeros((100, 200), np.float32)
    expected[30:50, 60:80] = 1.0
    np.testing.assert_array_equal(heat, expected)


def reference_bilinear(feat, stride, meta):
    """Pixel-by-pixel bilinear sampling between cell centres (clamped)."""
    sx, sy = meta['scale_factor']
    top, left = meta['pad_param'][0], meta['pad_param'][2]
    height, width = meta['ori_shape']
    h, w = feat.shape
    out = np.zeros((height, width))
    for y in range(height):
        fy = min(max(((y + 0.5) * sy + top) / stride - 0.5, 0), h - 1)
        y0 = int(np.floor(fy))
        y1, wy = min(y0 + 1, h - 1), fy - y0
        for x in range(width):
            fx = min(max(((x + 0.5) * sx + left) / stride - 0.5, 0), w - 1)
            x0 = int(np.floor(fx))
            x1, wx = min(x0 + 1, w - 1), fx - x0
            out[y, x] = ((1 - wy) * ((1 - wx) * feat[y0, x0] +
                                     wx * feat[y0, x1]) +
                         wy * ((1 - wx) * feat[y1, x0] + wx * feat[y1, x1]))
    return out


def test_map_to_image_bilinear_matches_reference_and_peaks_at_cell(tool):
    feat = np.zeros((10, 10), np.float32)
    feat[4, 3] = 1.0
    heat = tool.map_to_image(feat, 32, LETTERBOX_META)
    np.testing.assert_allclose(
        heat, reference_bilinear(feat, 32, LETTERBOX_META), atol=1e-6)
    # the cell centre, input (112, 144), is original (70, 40): the 4 pixels
    # around it (centres 0.8 input px away on each axis, 0.025 cells) peak
    # at 0.975 ** 2
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    assert 69 <= x <= 70 and 39 <= y <= 40
    np.testing.assert_allclose(heat[39:41, 69:71], 0.975**2, rtol=1e-5)
    # columns whose centres are a cell centre or more away get nothing:
    # x = 49 -> u = 79.2 (fx 1.975), x = 90 -> u = 144.8 (fx 4.025)
    assert heat[:, :50].max() == 0 and heat[:, 90:].max() == 0
    assert heat[:, 50].max() > 0 and heat[:, 89].max() > 0

    # another letterbox (left/right padding, unequal scales) and stride 8
    meta = dict(ori_shape=(37, 23), scale_factor=(1.5, 1.25),
                pad_param=np.array([3., 2., 7., 5.], dtype=np.float32))
    feat = np.random.default_rng(0).random((7, 6)).astype(np.float32)
    np.testing.assert_allclose(
        tool.map_to_image(feat, 8, meta), reference_bilinear(feat, 8, meta),
        atol=1e-5)


def test_normalise_and_overlay(tool):
    np.testing.assert_allclose(
        tool.normalise(np.array([[2., 4.], [3., 6.]])),
        [[0., 0.5], [0.25, 1.]])
    assert not tool.normalise(np.full((2, 3), 7.0)).any()
    image = np.full((20, 30, 3), 100, np.uint8)
    heat = np.zeros((20, 30), np.float32)
    heat[:, 15:] = 1.0
    out = tool.overlay(image, heat, alpha=1.0, boxes=[[2, 3, 10, 12]])
    # viridis: high = yellow (B low, G and R high), low = dark blue-violet
    b, g, r = out[5, 25].astype(int)
    assert r > 200 and g > 200 and b < 80
    b, g, r = out[5, 12].astype(int)
    assert b > r and g < 60
    assert tuple(out[3, 2]) == RED and tuple(out[12, 10]) == RED
    assert tuple(out[7, 6]) != RED


# ----------------------------------------------------------------------
# through the real test pipeline, with a stub model
# ----------------------------------------------------------------------
class StubPromptModel(nn.Module):
    """Returns maps that are 1 at the cell holding input pixel (u, v)."""

    def __init__(self, cfg, u: float, v: float) -> None:
        super().__init__()
        self.cfg = cfg
        self.u, self.v = u, v
        self.data_preprocessor = DetDataPreprocessor(
            mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True)
        self.visual_encoder = nn.Identity()
        self.visual_prompts = nn.ModuleList()
        self.seen_inputs = []

    def visual_prompt_maps(self, inputs):
        self.seen_inputs.append(tuple(inputs.shape))
        maps = []
        for stride in (8, 16, 32):
            m = inputs.new_zeros(1, 1, inputs.shape[2] // stride,
                                 inputs.shape[3] // stride)
            m[0, 0, int(self.v // stride), int(self.u // stride)] = 1.0
            maps.append(m)
        maps = tuple(maps)
        return dict(scores=maps, keep_masks=maps, prompt_norms=maps)


def test_prompt_heatmaps_undo_the_pipeline_letterbox(tool, tiny_config,
                                                     tmp_path):
    init_default_scope('mmioc_rtvp')
    cfg = Config.fromfile(tiny_config)
    pipeline = tool.build_file_pipeline(cfg)
    image_path = str(tmp_path / 'wide.png')
    cv2.imwrite(image_path, np.full((80, 160, 3), 90, np.uint8))
    # 160 x 80 at 128 px: scale 0.8 -> 128 x 64, 32 rows of padding on top;
    # original (50, 30) -> input (40, 56)
    model = StubPromptModel(cfg, u=40, v=56)
    heats, meta = tool.prompt_heatmaps(model, pipeline, image_path, 'keep',
                                       'all')
    assert model.seen_inputs == [(1, 3, 128, 128)]
    np.testing.assert_allclose(meta['scale_factor'], (0.8, 0.8))
    np.testing.assert_array_equal(meta['pad_param'], [32, 32, 0, 0])
    # input cells -> original rectangles (x0, x1, y0, y1):
    # stride 8 cell (7, 5): x [40, 48) -> [50, 60), y [56, 64) -> [30, 40)
    # stride 16 cell (3, 2): x [32, 48) -> [40, 60), y [48, 64) -> [20, 40)
    # stride 32 cell (1, 1): x [32, 64) -> [40, 80), y [32, 64) -> [0, 40)
    rects = {'level0': (50, 60, 30, 40), 'level1': (40, 60, 20, 40),
             'level2': (40, 80, 0, 40)}
    assert set(heats) == set(rects)
    for key, (x0, x1, y0, y1) in rects.items():
        expected = np.zeros((80, 160), np.float32)
        expected[y0:y1, x0:x1] = 1.0
        np.testing.assert_array_equal(heats[key], expected, err_msg=key)

    heats, _ = tool.prompt_heatmaps(model, pipeline, image_path, 'score', '0')
    heat = heats['level0']
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    assert 50 <= x < 60 and 30 <= y < 40  # brightest inside the cell
    assert heat.max() == 1.0 and heat.min() == 0.0

    heats, _ = tool.prompt_heatmaps(model, pipeline, image_path, 'keep',
                                    'mean')
    assert list(heats) == ['mean']
    assert heats['mean'][35, 55] == 1.0  # in all three cells
    assert heats['mean'][35, 45] == pytest.approx(2 / 3)  # levels 1 and 2
    assert heats['mean'][10, 70] == pytest.approx(1 / 3)  # level 2 only
    with pytest.raises(ValueError, match='3 levels'):
        tool.prompt_heatmaps(model, pipeline, image_path, 'keep', '3')


def test_find_boxes_and_output_stems(tool, tmp_path):
    ann = dict(
        images=[dict(id=1, file_name='a/x.jpg', width=30, height=20),
                dict(id=2, file_name='x.jpg', width=30, height=20)],
        annotations=[dict(id=1, image_id=1, category_id=1,
                          bbox=[1, 2, 3, 4])],
        categories=[dict(id=1, name='c')])
    ann_file = str(tmp_path / 'ann.json')
    with open(ann_file, 'w') as f:
        json.dump(ann, f)
    records = tool.gt_boxes_by_image(ann_file)
    # the longest file_name that ends the path wins
    assert tool.find_boxes(records, '/d/a/x.jpg', (20, 30)) == [[1, 2, 4, 6]]
    assert tool.find_boxes(records, '/d/b/x.jpg', (20, 30)) == []
    assert tool.find_boxes(records, '/d/b/y.jpg', (20, 30)) is None
    with pytest.raises(ValueError, match='size 30x20 but the image is 31x20'):
        tool.find_boxes(records, '/d/a/x.jpg', (20, 31))
    assert tool.output_stems(['/d/a/x.jpg', '/d/b/x.jpg', '/d/y.png']) == [
        'a_x', 'b_x', 'y']


# ----------------------------------------------------------------------
# the command line, on a random RTVPNet
# ----------------------------------------------------------------------
def test_cli_end_to_end(tool, tiny_config, mini_root, tmp_path, capsys):
    ann_file = osp.join(mini_root, 'annotations', 'open_val.json')
    with open(ann_file, encoding='utf-8') as f:
        ann = json.load(f)
    with_boxes = {a['image_id'] for a in ann['annotations']}
    img = next(i for i in ann['images'] if i['id'] in with_boxes)
    boxes = [a['bbox'] for a in ann['annotations']
             if a['image_id'] == img['id']]
    listed = osp.join(mini_root, 'images', img['file_name'])
    # an image the file does not list
    unlisted = str(tmp_path / 'unlisted.png')
    cv2.imwrite(unlisted, np.full((50, 70, 3), 200, np.uint8))
    out_dir = str(tmp_path / 'out')
    assert tool.main([tiny_config, 'none', listed, unlisted, '--out-dir',
                      out_dir, '--ann-file', ann_file, '--map', 'score',
                      '--alpha', '0.6']) == 0
    assert 'unlisted.png is not in' in capsys.readouterr().out
    stem = osp.splitext(osp.basename(listed))[0]
    for level in range(3):
        out = cv2.imread(osp.join(out_dir, f'{stem}_score_level{level}.png'))
        assert out.shape[:2] == (img['height'], img['width'])
        for x, y, w, h in boxes:  # red box corners
            assert tuple(out[int(y), int(x)]) == RED
            assert tuple(out[int(round(y + h)), int(round(x + w))]) == RED
        other = cv2.imread(osp.join(out_dir, f'unlisted_score_level{level}'
                                    '.png'))
        assert other.shape[:2] == (50, 70)
        assert not (other == RED).all(axis=-1).any()

    # the PNG is the overlay of the seeded random model's map
    model = tool.load_detector(tiny_config, 'none', seed=0)
    pipeline = tool.build_file_pipeline(model.cfg)
    heats, _ = tool.prompt_heatmaps(model, pipeline, listed, 'score', 'all')
    image = cv2.imread(listed)
    expected = tool.overlay(image, heats['level1'], 0.6,
                            [[x, y, x + w, y + h] for x, y, w, h in boxes])
    out = cv2.imread(osp.join(out_dir, f'{stem}_score_level1.png'))
    np.testing.assert_array_equal(out, expected)
    assert heats['level1'].min() == 0.0 and heats['level1'].max() == 1.0


def test_cli_rejects_models_without_prompts(tool, tiny_config, mini_root,
                                            tmp_path, capsys):
    image = str(tmp_path / 'img.png')
    cv2.imwrite(image, np.zeros((40, 40, 3), np.uint8))
    no_encoder = [
        'model.visual_encoder=None', 'model.domain_projection=None',
        'model.visual_prompt=None', 'model.prompt_aux_head=None'
    ]
    assert tool.main([tiny_config, 'none', image, '--out-dir',
                      str(tmp_path / 'o'), '--cfg-options', *no_encoder]) == 2
    assert 'has no visual prompts' in capsys.readouterr().err
    no_rvp = ['model.visual_prompt=None', 'model.prompt_aux_head=None']
    assert tool.main([tiny_config, 'none', image, '--out-dir',
                      str(tmp_path / 'o'), '--map', 'keep', '--cfg-options',
                      *no_rvp]) == 2
    assert 'use --map norm' in capsys.readouterr().err
    # the prompt norms exist without RVP
    assert tool.main([tiny_config, 'none', image, '--out-dir',
                      str(tmp_path / 'o'), '--map', 'norm', '--level', '2',
                      '--cfg-options', *no_rvp]) == 0
    assert osp.isfile(str(tmp_path / 'o' / 'img_norm_level2.png'))
    assert tool.main([tiny_config, str(tmp_path / 'missing.pth'), image,
                      '--out-dir', str(tmp_path / 'o')]) == 2
    assert 'no such checkpoint' in capsys.readouterr().err
