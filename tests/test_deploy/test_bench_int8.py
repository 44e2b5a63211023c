# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""benchmarks/bench_int8.py on the mini configs at 64 px (the 640 px S
models take minutes): both models are exported and quantized, float and
INT8 are timed in the same run, the ratios are theirs, the INT8 file holds
int8 weights and its outputs differ a little from the float file's."""
import json
import os.path as osp

import pytest

from tests.test_deploy.test_quantize import _write_images
from tests.utils.scripts import load_script

bench = load_script('benchmarks/bench_int8.py', 'bench_int8_under_test')

MODELS = ['--model', 'RTVPNet-S-mini=configs/rtvpnet_s_mini.py',
          '--model',
          'YOLO-World-S-mini=configs/baselines/yolo_world_s_open_mini.py']


@pytest.fixture
def calib_tree(tmp_path):
    """Two scene folders of synthetic images (3 and 2) and a text file."""
    root = tmp_path / 'images'
    root.mkdir()
    _write_images(root / 'a_scene', 3, 0)
    _write_images(root / 'b_scene', 2, 1)
    return root


def test_bench_int8_mini(tmp_path, calib_tree, capsys):
    out = str(tmp_path / 'int8.json')
    assert bench.main(MODELS + [
        '--reference', 'YOLO-World-S-mini', '--shape', '64', '--iters', '2',
        '--warmup', '0', '--texts', '3', '--calib', str(calib_tree),
        '--calib-images', '3', '--threads', '1', '--out', out
    ]) == 0
    printed = capsys.readouterr().out
    rows = json.load(open(out))['results']
    assert [r['model'] for r in rows] == ['RTVPNet-S-mini',
                                          'YOLO-World-S-mini']
    ref = rows[1]['float']['median_ms']
    for r in rows:
        for backend in ('float', 'int8'):
            assert r[backend]['iters'] == 2
            assert r[backend]['vs_reference_float'] == pytest.approx(
                r[backend]['median_ms'] / ref)
        assert r['int8_speedup'] == pytest.approx(
            r['float']['median_ms'] / r['int8']['median_ms'])
        # int8 weights: the file shrinks (float32 -> int8 plus scales)
        assert r['int8_mb'] < 0.6 * r['float_mb']
        # quantized, so not equal; calibrated, so not far
        assert 0 < r['max_abs_score_diff'] < 0.2
        assert f'| {r["model"]} |' in printed
    assert rows[1]['float']['vs_reference_float'] == 1.0
    assert '3 calibration images (MinMax)' in printed
    assert 'K=3 text embeddings' in printed


def test_pick_images_takes_each_folder_in_turn(calib_tree):
    picked = [osp.relpath(p, calib_tree)
              for p in bench.pick_images(str(calib_tree), 4)]
    assert picked == ['a_scene/00.png', 'b_scene/00.png', 'a_scene/01.png',
                      'b_scene/01.png']
    with pytest.raises(ValueError, match='holds 5 images, 6 are needed'):
        bench.pick_images(str(calib_tree), 6)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        bench.pick_images(str(calib_tree / 'missing'), 1)


def test_bench_int8_rejects_bad_arguments():
    for argv in (['--shape', '100'], ['--calib-images', '0'],
                 MODELS + ['--reference', 'YOLO-World-S'],
                 ['--model', 'x=missing.py'],
                 ['--model', 'a=configs/rtvpnet_s_mini.py',
                  '--model', 'a=configs/rtvpnet_s_mini.py']):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
