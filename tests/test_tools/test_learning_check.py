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


def test_open_plan_has_the_generalized_test_and_closed_plan_one_test():
    plan = lc.test_plan(
        osp.join(REPO_ROOT, 'configs/baselines/yolo_world_s_open_mini.py'))
    assert [name for name, _, _ in plan] == ['test', 'seen', 'generalized']
    name, opts, keys = plan[2]
    root = 'data/mmioc_mini/'
    assert opts == [
        'test_dataloader.dataset.dataset.ann_file='
        'annotations/open_val_generalized.json',
        f'test_dataloader.dataset.class_text_path={root}'
        'texts/generalized_class_texts.json',
        f'test_evaluator.ann_file={root}annotations/'
        'open_val_generalized.json',
        f'test_evaluator.seen_classes={root}annotations/open_val_seen.json',
    ]
    assert ('gen_hm_AP', 'coco/bbox_mAP_hm') in keys
    assert ('gen_unseen_AP50', 'coco/bbox_mAP_50_unseen') in keys
    assert [k for k, _ in plan[0][2]] == ['unseen_AP', 'unseen_AP50']
    closed = lc.test_plan(
        osp.join(REPO_ROOT, 'configs/baselines/yolov8_s_closed_mini.py'))
    assert [(n, [k for k, _ in ks]) for n, _, ks in closed] == [
        ('test', ['test_AP', 'test_AP50'])]


class _FakeRuns:
    """Stands in for ``_run``: training writes ``last_checkpoint``, a test
    writes mmengine's metrics json with values that name the test."""

    def __init__(self):
        self.cmds = []

    def __call__(self, cmd, log, threads):
        self.cmds.append(cmd)
        work_dir = cmd[cmd.index('--work-dir') + 1]
        if cmd[1] == 'tools/train.py':
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(work_dir, 'epoch_20.pth'))
            return
        value = {'test_test': 0.1, 'test_seen': 0.2,
                 'test_generalized': 0.3}[osp.basename(work_dir)]
        import os
        os.makedirs(osp.join(work_dir, 'ts'))
        metrics = {'coco/bbox_mAP': value, 'coco/bbox_mAP_50': 2 * value}
        if value == 0.3:
            metrics.update({'coco/bbox_mAP_hm': 0.25,
                            'coco/bbox_mAP_50_hm': 0.5})
        with open(osp.join(work_dir, 'ts', 'ts.json'), 'w') as f:
            json.dump(metrics, f)


def test_run_one_trains_once_then_adds_only_missing_tests(
        tmp_path, monkeypatch):
    config = osp.join(REPO_ROOT, 'configs/baselines/yolo_world_s_open_mini.py')
    fake = _FakeRuns()
    monkeypatch.setattr(lc, '_run', fake)
    root = str(tmp_path)
    assert lc.run_one(config, 3, root, 1, ['a=1']) is None
    steps = [c[1] for c in fake.cmds]
    assert steps == ['tools/train.py'] + ['tools/test.py'] * 3
    assert 'randomness.seed=3' in fake.cmds[0]
    result_file = osp.join(root, 'yolo_world_s_open_mini', 'seed3',
                           'result.json')
    with open(result_file) as f:
        result = json.load(f)
    assert (result['unseen_AP'], result['seen_AP50']) == (0.1, 0.4)
    assert (result['gen_hm_AP'], result['gen_hm_AP50']) == (0.25, 0.5)
    assert result['options'] == ['a=1']

    # a result made before the generalized test existed: no training, one
    # test on its checkpoint, with the options it was trained with
    for key in [k for k in result if k.startswith('gen_')]:
        del result[key]
    with open(result_file, 'w') as f:
        json.dump(result, f)
    import shutil
    shutil.rmtree(osp.join(root, 'yolo_world_s_open_mini', 'seed3',
                           'test_generalized'))
    fake.cmds.clear()
    assert lc.run_one(config, 3, root, 1, ['b=2']) is None
    assert len(fake.cmds) == 1
    cmd = fake.cmds[0]
    assert cmd[1:3] == ['tools/test.py', config]
    assert cmd[3] == result['checkpoint']
    assert 'a=1' in cmd and 'b=2' not in cmd
    with open(result_file) as f:
        assert json.load(f)['gen_hm_AP'] == 0.25

    # complete: nothing runs
    fake.cmds.clear()
    assert lc.run_one(config, 3, root, 1, []) is None
    assert fake.cmds == []


def test_summarize_has_the_generalized_harmonic_mean(tmp_path):
    root = str(tmp_path)
    _result(root, 'a', 0, unseen_AP=0.1, gen_hm_AP=0.2, gen_hm_AP50=0.4,
            train_seconds=60)
    _result(root, 'a', 1, unseen_AP=0.1, gen_hm_AP=0.4, gen_hm_AP50=0.4,
            train_seconds=60)
    table = lc.summarize(root).splitlines()
    assert table[0] == ('| config | seeds | unseen AP | gen. HM AP '
                        '| gen. HM AP50 | train min |')
    assert table[2] == ('| a | 0,1 | 0.100 ± 0.000 | 0.300 ± 0.141 '
                        '| 0.400 ± 0.000 | 1.000 ± 0.000 |')


def test_summarize_paired_differences_by_seed(tmp_path, capsys):
    root = str(tmp_path)
    _result(root, 'ref', 0, unseen_AP=0.10, seen_AP=0.2, train_seconds=60)
    _result(root, 'ref', 1, unseen_AP=0.30, seen_AP=0.2, train_seconds=60)
    _result(root, 'abl', 0, unseen_AP=0.05, seen_AP=0.3, train_seconds=60)
    _result(root, 'abl', 1, unseen_AP=0.35, seen_AP=0.2, train_seconds=60)
    # seed 2 has no reference run: not paired
    _result(root, 'abl', 2, unseen_AP=0.90, seen_AP=0.9, train_seconds=60)
    _result(root, 'other', 5, unseen_AP=0.0, train_seconds=60)
    # a closed-split run on a reference seed: no column in common
    _result(root, 'closed', 0, test_AP=0.5, train_seconds=60)
    table = lc.summarize_paired(root, 'ref').splitlines()
    assert table[0] == ('| config - ref | paired seeds | Δ unseen AP '
                        '| Δ seen AP |')
    # differences (-0.05, +0.05): mean 0, std 0.0707; seen (+0.1, 0)
    assert table[2] == ('| abl | 0,1 | +0.000 ± 0.071 '
                        '| +0.050 ± 0.071 |')
    # 'other' shares no seed, 'closed' no metric; 'ref' is not listed, and
    # the closed column, without any pair, is left out
    assert len(table) == 3
    assert lc.main(['summarize', '--root', root, '--paired', 'nope']) == 2
    assert "no results of 'nope'" in capsys.readouterr().err


def test_list_runs_has_a_row_per_run(tmp_path, capsys):
    root = str(tmp_path)
    _result(root, 'b', 1, unseen_AP=0.25, test_AP=None, train_seconds=90)
    _result(root, 'a', 0, unseen_AP=None, test_AP=0.5, train_seconds=600)
    assert lc.list_runs(root).splitlines() == [
        '| config | seed | unseen AP | AP (closed) | train min |',
        '|---|---|---|---|---|',
        '| a | 0 | - | 0.500 | 10.0 |',
        '| b | 1 | 0.250 | - | 1.5 |',
    ]
    assert lc.main(['summarize', '--root', root, '--runs']) == 0
    assert '| b | 1 | 0.250 | - | 1.5 |' in capsys.readouterr().out


def test_metric_value_reads_the_unrounded_figure():
    """MMIOCMetric's unrounded key wins over the 3-decimal one; a log of
    mmdet's CocoMetric (rounded only) still reads."""
    metrics = {'coco/bbox_mAP': 0.123, 'coco/bbox_mAP_unrounded': 0.12345,
               'coco/bbox_mAP_50': 0.5}
    assert lc.metric_value(metrics, 'coco/bbox_mAP') == 0.12345
    assert lc.metric_value(metrics, 'coco/bbox_mAP_50') == 0.5
    assert lc.metric_value(metrics, 'coco/bbox_mAP_hm') is None


def test_data_root_moves_every_data_path_of_a_config(tmp_path):
    config = osp.join(REPO_ROOT, 'configs/baselines/yolo_world_s_open_mini.py')
    new = str(tmp_path / 'my_data')
    options = dict(o.split('=', 1) for o in lc.data_root_options(config, new))
    # every path below the old root moved, relative ann_files untouched
    assert options['train_dataloader.dataset.dataset.data_root'] == new + '/'
    assert options['test_dataloader.dataset.class_text_path'] == (
        new + '/texts/unseen_class_texts.json')
    assert options['test_evaluator.ann_file'] == (
        new + '/annotations/open_val.json')
    assert not any('data/mmioc_mini' in v for v in options.values())
    assert all(k.split('.')[0] in lc.DATA_SECTIONS for k in options)
    plan = dict((n, o) for n, o, _ in lc.test_plan(config, new))
    assert f'test_evaluator.seen_classes={new}/annotations/open_val_seen.json' \
        in plan['generalized']
    assert f'test_evaluator.ann_file={new}/annotations/open_val_seen.json' \
        in plan['seen']
    # a run's options get them (the fake trainer records its command)
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(config)
    for key, value in options.items():
        cfg.merge_from_dict({key: DictAction._parse_iterable(value)})
    assert cfg.val_evaluator.ann_file == new + '/annotations/open_val_seen.json'
