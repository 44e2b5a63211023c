# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The registry tree and the default scope."""
import subprocess
import sys
import textwrap

import mmyolo.registry as mmyolo_registry
import pytest
from mmengine.registry import DefaultScope
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import RUNNERS as ROOT_RUNNERS

import mmioc_rtvp.registry as registry

NODES = [
    'LOOPS', 'HOOKS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'TASK_UTILS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS',
    'VISUALIZERS', 'VISBACKENDS'
]


@pytest.mark.parametrize('name', NODES)
def test_nodes_are_children_of_mmyolo(name):
    node = getattr(registry, name)
    assert node.scope == 'mmioc_rtvp'
    assert node.parent is getattr(mmyolo_registry, name)
    assert node.parent.children['mmioc_rtvp'] is node


def test_runners_and_functions_hang_under_the_root():
    assert registry.RUNNERS.parent is ROOT_RUNNERS
    from mmengine.registry import FUNCTIONS
    assert registry.FUNCTIONS.parent is FUNCTIONS


def test_lookup_order_ours_then_mmyolo_then_prefixed_mmdet():
    models = registry.MODELS
    assert models.get('YOLOWorldDetector').__module__.startswith(
        'mmioc_rtvp.')
    assert models.get('YOLOv8CSPDarknet').__module__.startswith('mmyolo.')
    assert models.get('mmdet.CrossEntropyLoss').__module__.startswith(
        'mmdet.')
    # our modules do not leak into the parents
    assert mmyolo_registry.MODELS.get('YOLOWorldDetector') is None
    assert ROOT_MODELS.get('YOLOWorldDetector') is None


def test_default_scope_builds_mmyolo_and_own_modules():
    with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
        neck = ROOT_MODELS.build(
            dict(type='YOLOv8PAFPN', in_channels=[8, 16, 32],
                 out_channels=[8, 16, 32], deepen_factor=0.33,
                 widen_factor=0.25))
        hook_cls = registry.HOOKS.get('YOLOv5ParamSchedulerHook')
    assert type(neck).__name__ == 'YOLOv8PAFPN'
    assert hook_cls.__module__.startswith('mmyolo.')


def test_fresh_process_needs_no_custom_imports():
    """Only the registry is imported: locations bring in everything else."""
    code = textwrap.dedent("""
        from mmengine.registry import DefaultScope, MODELS, HOOKS, RUNNERS
        assert RUNNERS.get('mmioc_rtvp.MMIOCRunner') is not None
        with DefaultScope.overwrite_default_scope('mmioc_rtvp'):
            enc = MODELS.build(dict(type='PrecomputedTextEncoder',
                                    embeddings_file='%s'))
            hook = HOOKS.build(dict(type='YOLOv5ParamSchedulerHook'))
            ema = HOOKS.build(dict(type='CloseMosaicHook', num_last_epochs=2))
        print(type(enc).__name__, type(hook).__name__, type(ema).__name__)
    """)
    import json
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'emb.json')
        with open(path, 'w') as f:
            json.dump({'hole in wood': [1.0, 0.0]}, f)
        out = subprocess.run([sys.executable, '-c', code % path],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [
        'PrecomputedTextEncoder', 'YOLOv5ParamSchedulerHook',
        'CloseMosaicHook'
    ]


def test_build_from_another_scope_with_scope_key(tmp_path):
    import json
    from mmdet.registry import MODELS as MMDET_MODELS
    path = tmp_path / 'emb.json'
    path.write_text(json.dumps({'hole in wood': [0.6, 0.8]}))
    with DefaultScope.overwrite_default_scope('mmdet'):
        enc = MMDET_MODELS.build(
            dict(type='PrecomputedTextEncoder', _scope_='mmioc_rtvp',
                 embeddings_file=str(path)))
    assert enc.encode(['hole in wood'])[0].tolist() == pytest.approx([0.6, 0.8])
