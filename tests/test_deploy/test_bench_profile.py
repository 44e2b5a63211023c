# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""benchmarks/bench_profile.py on the mini configs at 64 px, one call per
measurement: every table is produced, the per-module rows add up to the
total, the vocabulary sweep covers each K and onnxruntime's per-node
profile is read."""
import json

import pytest

from tests.utils.scripts import load_script

bench = load_script('benchmarks/bench_profile.py', 'bench_profile_under_test')


def test_bench_profile_mini(tmp_path, capsys):
    out = str(tmp_path / 'profile.json')
    assert bench.main([
        '--model', 'RTVPNet-S-mini=configs/rtvpnet_s_mini.py',
        '--model', 'YOLO-World-S-mini='
        'configs/baselines/yolo_world_s_open_mini.py',
        '--model', 'YOLOv8-S-mini=configs/baselines/yolov8_s_closed_mini.py',
        '--model', 'RTVPNet-S-mini-edp32=configs/rtvpnet_s_mini.py;'
        'model.domain_projection.hidden_channels=32',
        '--reference', 'YOLO-World-S-mini', '--shape', '64', '--iters', '1',
        '--warmup', '0', '--texts', '3', '--vocab-sizes', '2', '5',
        '--threads', '1', '2', '--ort-profile', '--out', out
    ]) == 0
    printed = capsys.readouterr().out
    results = json.load(open(out))['results']
    names = ['RTVPNet-S-mini', 'YOLO-World-S-mini', 'YOLOv8-S-mini',
             'RTVPNet-S-mini-edp32']
    assert list(results['modules']) == names
    rtvp = results['modules']['RTVPNet-S-mini']
    for row in ('backbone.image_model', 'visual_encoder',
                'domain_projection', 'neck', 'visual_text', 'bbox_head'):
        assert rtvp[row] > 0, row
    rows = [k for k in rtvp if k not in ('total', 'other')]
    assert sum(rtvp[k] for k in rows) + rtvp['other'] == \
        pytest.approx(rtvp['total'])
    assert 'visual_encoder' not in results['modules']['YOLO-World-S-mini']
    assert set(results['latency']) == {'1', '2'}
    assert set(results['vocab']) == {'RTVPNet-S-mini', 'YOLO-World-S-mini',
                                     'RTVPNet-S-mini-edp32'}
    assert set(results['vocab']['RTVPNet-S-mini']) == {'2', '5'}
    assert results['memory']['RTVPNet-S-mini']['weights_mb'] > \
        results['memory']['RTVPNet-S-mini-edp32']['weights_mb']
    ort = results['ort']['RTVPNet-S-mini']
    assert ort['by_op']['Conv'] > 0
    assert {'backbone.image_model', 'domain_projection', 'decode'} <= \
        set(ort['by_module'])
    for title in ('Per-module time', 'Latency, 2 thread(s)',
                  'Latency vs vocabulary size', 'Memory',
                  'onnxruntime profile of RTVPNet-S-mini'):
        assert title in printed


def test_bench_profile_rejects_bad_arguments():
    for argv in (['--shape', '100'], ['--threads', '0'],
                 ['--model', 'x=missing.py'], ['--model', 'no-config']):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
