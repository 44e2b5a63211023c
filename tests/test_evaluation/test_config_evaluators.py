# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Every shipped config that evaluates COCO boxes does it with MMIOCMetric
on the fast exact backend (hotcoco); grounding (precision@k) and LVIS keep
their own metrics."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import METRICS, init_default_scope

from tests.conftest import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True) if '_base_' not in p)
#: metrics of other tasks than COCO box detection
OTHER_TASKS = ('MMIOCRefExpMetric', 'FastLVISMetric')


def _metrics(evaluator) -> list:
    """The metric dicts of an evaluator config (a dict, a list, or a
    MultiDatasetsEvaluator)."""
    if isinstance(evaluator, (list, tuple)):
        return [m for e in evaluator for m in _metrics(e)]
    if evaluator.get('type', '').endswith('MultiDatasetsEvaluator'):
        return _metrics(evaluator['metrics'])
    return [evaluator]


def test_every_kind_of_config_is_covered():
    kinds = {c.split('/')[1] if c.count('/') > 1 else 'top' for c in CONFIGS}
    assert {'top', 'baselines', 'ablations', 'model_zoo', 'generalization',
            'grounding'} <= kinds


@pytest.mark.parametrize('config', CONFIGS)
def test_coco_evaluation_is_mmioc_metric_on_hotcoco(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    init_default_scope('mmioc_rtvp')
    for key in ('val_evaluator', 'test_evaluator'):
        for metric in _metrics(cfg[key]):
            name = metric['type'].split('.')[-1]
            if name in OTHER_TASKS:
                continue
            assert name == 'MMIOCMetric', f'{config}: {key} is {name}'
            built = METRICS.build(dict(metric, ann_file=None))
            assert built.backend == 'hotcoco', config
