# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Smoke and behaviour tests of benchmarks/bench_latency.py on tiny models
(the full models would take minutes on this machine)."""
import json
import os.path as osp

import pytest
import torch

from mmioc_rtvp.models.text_encoders import HFCLIPTextEncoder
from tests.test_models.rtvpnet_utils import tiny_rtvpnet_cfg
from tests.test_models.yolo_world_utils import tiny_yolo_world_cfg
from tests.utils.tiny_clip import save_tiny_clip
from tests.utils.scripts import load_script

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NAMES = [
    'YOLOv8-S', 'YOLO-World-S {}', 'YOLO-World-S reparameterized',
    'RTVPNet-S {}', 'RTVPNet-S reparameterized'
]


bench = load_script('benchmarks/bench_latency.py', 'bench_latency_under_test')


@pytest.fixture(scope='module')
def tiny_configs(tmp_path_factory):
    """Config files of a tiny RTVPNet, YOLO-World and YOLOv8 (K = 3)."""
    root = tmp_path_factory.mktemp('bench_configs')
    clip = str(save_tiny_clip(root / 'clip', 16))
    text_model = dict(type='HFCLIPTextEncoder', model_name_or_path=clip)
    rtvpnet = tiny_rtvpnet_cfg()
    rtvpnet['backbone']['text_model'] = text_model
    yolo_world = tiny_yolo_world_cfg(embed_dim=16, text_model=text_model)
    files = {}
    for name, cfg in (('rtvpnet', rtvpnet), ('yolo_world', yolo_world)):
        files[name] = root / f'{name}.py'
        files[name].write_text(
            f"default_scope = 'mmioc_rtvp'\nmodel = {cfg!r}\n")
    base = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'yolov8_s.py')
    files['yolov8'] = root / 'yolov8.py'
    files['yolov8'].write_text(
        f"_base_ = {base!r}\ndefault_scope = 'mmioc_rtvp'\n"
        'model = dict(backbone=dict(widen_factor=0.125), '
        'neck=dict(widen_factor=0.125), bbox_head=dict(head_module=dict('
        'num_classes=4, widen_factor=0.125)), '
        'train_cfg=dict(assigner=dict(num_classes=4)))\n')
    return {k: str(v) for k, v in files.items()}


@pytest.fixture
def encode_calls(monkeypatch):
    """Counts the runs of the CLIP network (cache misses)."""
    calls = []
    original = HFCLIPTextEncoder._encode_uncached

    def counting(self, prompts):
        calls.append(list(prompts))
        return original(self, prompts)

    monkeypatch.setattr(HFCLIPTextEncoder, '_encode_uncached', counting)
    return calls


def _run(tiny_configs, tmp_path, *extra, warmup=0):
    out = tmp_path / 'latency.json'
    threads = torch.get_num_threads()
    try:
        code = bench.main([
            '--rtvpnet-config', tiny_configs['rtvpnet'],
            '--yolo-world-config', tiny_configs['yolo_world'],
            '--yolov8-config', tiny_configs['yolov8'], '--shape', '64',
            '--texts', '3', '--iters', '2', '--warmup', str(warmup), '--out',
            str(out), *extra
        ])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return json.loads(out.read_text())


def test_cached_online_text_never_encodes_while_timed(
        tiny_configs, tmp_path, encode_calls, capsys):
    result = _run(tiny_configs, tmp_path, '--threads', '1')
    rows = result['results']
    assert [r['name'] for r in rows] == [
        n.format('online, cached text') for n in NAMES
    ]
    assert all(r['iters'] == 2 for r in rows)
    # filling the cache of the 2 online models + the 2 reparameterize()
    # calls; none in the timed calls (not even the first: no warm-up)
    assert len(encode_calls) == 4
    assert all(len(c) == 3 for c in encode_calls)
    assert result['machine']['threads'] == 1
    # ratios of medians
    by_name = {r['name']: r for r in rows}
    ref = by_name['YOLOv8-S']['median_ms']
    for r in rows:
        assert r['vs_yolov8'] == pytest.approx(r['median_ms'] / ref)
        assert r['p90_ms'] >= r['median_ms'] >= r['min_ms'] > 0
    for mode in ('online, cached text', 'reparameterized'):
        assert by_name[f'RTVPNet-S {mode}']['vs_yolo_world'] == \
            pytest.approx(by_name[f'RTVPNet-S {mode}']['median_ms'] /
                          by_name[f'YOLO-World-S {mode}']['median_ms'])
    out = capsys.readouterr().out
    assert '1 intra-op threads' in out and 'load average' in out
    assert 'every call is a cache hit' in out
    assert out.count('| RTVPNet-S ') == 2


def test_no_text_cache_encodes_every_call(tiny_configs, tmp_path,
                                          encode_calls, capsys):
    result = _run(tiny_configs, tmp_path, '--no-text-cache', warmup=1)
    assert [r['name'] for r in result['results']] == [
        n.format('online, cold text encode') for n in NAMES
    ]
    # 2 reparameterize() calls + 2 online models x (1 warm-up + 2 timed)
    assert len(encode_calls) == 2 + 2 * 3
    assert 'cold encode of the K prompts' in capsys.readouterr().out


def test_summarise_by_hand():
    variants = [
        bench.Variant('YOLOv8-S', None, times=[0.004, 0.001, 0.003, 0.002]),
        bench.Variant('YOLO-World-S reparameterized', None,
                      times=[0.010, 0.010, 0.020]),
        bench.Variant('RTVPNet-S reparameterized', None,
                      times=[0.030, 0.040, 0.050]),
    ]
    rows = bench.summarise(variants)
    assert rows[0]['median_ms'] == pytest.approx(2.5)
    # numpy's linear p90 of 1, 2, 3, 4 ms: 3 + 0.7 * (4 - 3)
    assert rows[0]['p90_ms'] == pytest.approx(3.7)
    assert rows[1]['vs_yolov8'] == pytest.approx(10 / 2.5)
    assert rows[2]['vs_yolov8'] == pytest.approx(40 / 2.5)
    assert rows[2]['vs_yolo_world'] == pytest.approx(40 / 10)
    assert 'vs_yolo_world' not in rows[1]
    table = bench.format_table(rows)
    assert ('| RTVPNet-S reparameterized | 40.0 | 48.0 | 30.0 | 16.00 '
            '| 4.00 |') in table


def test_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        bench.parse_args(['--iters', '0'])
    with pytest.raises(SystemExit):
        bench.parse_args(['--yolov8-config', str(tmp_path / 'missing.py')])
