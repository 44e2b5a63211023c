# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""benchmarks/bench_deploy.py on the mini configs at 64 px (the 640 px S
models take minutes): every model is exported, both backends are timed in
the same run, the ratio is theirs and the outputs agree."""
import json
import os.path as osp

import pytest

from tests.utils.scripts import REPO_ROOT, load_script

bench = load_script('benchmarks/bench_deploy.py', 'bench_deploy_under_test')


def test_bench_deploy_mini(tmp_path, capsys):
    out = str(tmp_path / 'bench.json')
    assert bench.main([
        '--rtvpnet-config', osp.join(REPO_ROOT, 'configs/rtvpnet_s_mini.py'),
        '--yolo-world-config',
        osp.join(REPO_ROOT, 'configs/baselines/yolo_world_s_open_mini.py'),
        '--yolov8-config',
        osp.join(REPO_ROOT, 'configs/baselines/yolov8_s_closed_mini.py'),
        '--shape', '64', '--iters', '2', '--warmup', '0', '--texts', '3',
        '--threads', '1', '--out', out
    ]) == 0
    printed = capsys.readouterr().out
    rows = json.load(open(out))['results']
    assert [r['model'] for r in rows] == ['YOLOv8-S', 'YOLO-World-S',
                                          'RTVPNet-S']
    for r in rows:
        assert r['eager']['iters'] == r['onnxruntime']['iters'] == 2
        assert r['speedup'] == pytest.approx(
            r['eager']['median_ms'] / r['onnxruntime']['median_ms'])
        assert r['max_abs_box_diff'] < 1e-3
        assert r['max_abs_score_diff'] < 1e-4
        assert f'| {r["model"]} |' in printed
    assert 'K=3 text embeddings' in printed


def test_bench_deploy_rejects_bad_arguments():
    for argv in (['--shape', '100'], ['--texts', '0'],
                 ['--yolov8-config', 'missing.py']):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
