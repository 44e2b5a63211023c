# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""benchmarks/bench_infer.py on the mini configs at 64 px and 2 images of
a generated MMIOC-mini (the 640 px S models take minutes): every model, backend, batch size
and worker count is timed in the same run, and the ratios are those of the
images/s it reports."""
import itertools
import json
import os.path as osp

import pytest

from tests.utils.scripts import REPO_ROOT, load_script

bench = load_script('benchmarks/bench_infer.py', 'bench_infer_under_test')
MINI = [
    '--rtvpnet-config', osp.join(REPO_ROOT, 'configs/rtvpnet_s_mini.py'),
    '--yolo-world-config',
    osp.join(REPO_ROOT, 'configs/baselines/yolo_world_s_open_mini.py')
]


def test_bench_infer_mini(tmp_path, capsys, mini_workspace):
    out = str(tmp_path / 'bench.json')
    folder = str(mini_workspace / 'data' / 'mmioc_mini' / 'images')
    assert bench.main(MINI + [
        '--folder', folder,
        '--images', '2', '--shape', '64', '--texts', '3', '--batch-sizes',
        '1', '2', '--workers', '0', '1', '--iters', '1', '--warmup', '0',
        '--threads', '1', '--out', out
    ]) == 0
    printed = capsys.readouterr().out
    rows = json.load(open(out))['results']
    assert [(r['model'], r['backend'], r['batch_size'], r['workers'])
            for r in rows] == list(itertools.product(
                ['RTVPNet-S', 'YOLO-World-S'], ['eager', 'onnxruntime'],
                [1, 2], [0, 1]))
    by_key = {(r['model'], r['backend'], r['batch_size'], r['workers']): r
              for r in rows}
    for (model, backend, batch, workers), r in by_key.items():
        assert r['iters'] == 1
        assert r['images_per_s'] == pytest.approx(2 / r['median_s'])
        first = by_key[model, backend, 1, 0]
        assert r['vs_first_setting'] == pytest.approx(
            r['images_per_s'] / first['images_per_s'])
        ref = by_key['YOLO-World-S', backend, batch, workers]
        assert r['time_vs_reference'] == pytest.approx(
            ref['images_per_s'] / r['images_per_s'])
        assert (f'| {model} | {backend} | {batch} | {workers} | '
                f'{r["images_per_s"]:.2f} |') in printed
    assert '2 images of' in printed and 'K=3 prompts' in printed
    assert 'exported RTVPNet-S (64x64, dynamic batch)' in printed


def test_bench_infer_rejects_bad_arguments(tmp_path):
    for argv in (['--shape', '100'], ['--batch-sizes', '0'],
                 ['--workers', '-1'], ['--images', '0'],
                 ['--folder', str(tmp_path / 'missing')]):
        with pytest.raises(SystemExit):
            bench.parse_args(MINI + argv)
    (tmp_path / 'one.png').write_bytes(b'')
    with pytest.raises(ValueError, match='holds 1 image files, fewer than '
                       '--images 2'):
        bench.copy_images(str(tmp_path), 2, str(tmp_path / 'out'))
