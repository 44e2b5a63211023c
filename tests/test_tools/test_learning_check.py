# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of tools/analysis_tools/learning_check.py (no training: the
table, the seen-class test options and the config description)."""
import json
import os.path as osp

import pytest

from tests.utils.scripts import REPO_ROOT, load_script

lc = load_script('tools/analysis_tools/learning_check.py', 'learning_check')


def _result(root, name, seed, **values):
    run_dir = osp.join(root, name, f'seed{seed}')
    import os
    os.makedirs(run_dir)
    with open(osp.join(run_dir, 'result.json'), 'w') as f:
        json.dump(dict(config=f'configs/{name}.py', seed=seed, **values), f)


def test_summarise_values_is_mean_and_sample_std():
    # mean 0.2, sample std sqrt(((.1)^2 + 0 + (.1)^2) / 2) = 0.1
    assert lc.summarise_values([0.1, 0.2, 0.3]) == '0.200 ± 0.100'
    assert lc.summarise_values([0.25]) == '0.250'
    assert lc.summarise_values([]) == '-'


def test_summarize_groups_seeds_per_config(tmp_path):
    root = str(tmp_path)
    _result(root, 'a', 1, unseen_AP=0.3, unseen_AP50=0.5, train_seconds=600)
    _result(root, 'a', 0, unseen_AP=0.1, unseen_AP50=0.3, train_seconds=720)
    _result(root, 'b', 0, unseen_AP=0.0, unseen_AP50=None, train_seconds=60)
    table = lc.summarize(root).splitlines()
    assert table[0] == ('| config | seeds | unseen AP | unseen AP50 '
                        '| train min |')
    # std of (0.1, 0.3) = 0.1414; of (10, 12) min = 1.414
    assert table[2] == '| a | 0,1 | 0.200 ± 0.141 | 0.400 ± 0.141 ' \
        '| 11.000 ± 1.414 |'
    assert table[3] == '| b | 0 | 0.000 | - | 1.000 |'


def test_seen_options_and_open_detection():
    is_open, root, num_train = lc.describe_config(
        osp.join(REPO_ROOT, 'configs/baselines/yolo_world_s_open_mini.py'))
    assert is_open and root == 'data/mmioc_mini/' and num_train == 12
    opts = lc.seen_test_options(root, num_train)
    assert 'test_evaluator.ann_file=data/mmioc_mini/annotations/' \
        'open_val_seen.json' in opts
    assert 'model.num_test_classes=12' in opts
    is_open, _, _ = lc.describe_config(
        osp.join(REPO_ROOT, 'configs/baselines/yolov8_s_closed_mini.py'))
    assert not is_open


def test_run_refuses_a_missing_config(capsys):
    assert lc.main(['run', 'configs/nope.py', '--seeds', '0']) == 2
    assert 'configs/nope.py does not exist' in capsys.readouterr().err


def test_latest_metrics_needs_a_json(tmp_path):
    with pytest.raises(FileNotFoundError, match='no test metrics'):
        lc.latest_metrics(str(tmp_path))
