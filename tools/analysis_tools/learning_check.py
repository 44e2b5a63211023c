# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Multi-seed learning check: train configs x seeds, test, tabulate.

Every run gets the same data, schedule and CPU budget: ``tools/train.py``
with ``randomness.seed=K`` and ``OMP_NUM_THREADS=--threads`` under ``nice``,
``--jobs`` runs at a time; then ``tools/test.py`` on the last checkpoint
with the config's own test set (open split: the unseen classes) and, for
open-split configs, once more on the seen classes (``open_val_seen`` with the
seen vocabulary) and once with the generalized vocabulary (seen + unseen
prompts on ``open_val_generalized``: the config's
``generalized_test_options``; seen / unseen AP and their harmonic mean).
Each run leaves ``ROOT/<config>/seed<K>/result.json``; finished runs are
skipped, and a run whose result lacks a test (e.g. made before the
generalized test existed) gets only that test, so the command can be re-run
after a stop.

    python tools/analysis_tools/learning_check.py run \\
        configs/rtvpnet_s_mini.py \\
        configs/baselines/yolo_world_s_open_mini.py \\
        --seeds 0 1 2 --jobs 2 --threads 1
    python tools/analysis_tools/learning_check.py summarize --runs \\
        --paired rtvpnet_s_mini

``summarize`` prints a markdown table: per config, the number of seeds and
mean +- sample standard deviation of unseen / seen AP and AP50, of the
generalized harmonic-mean AP / AP50 and of the training wall time;
``--runs`` adds one row per run, ``--paired NAME`` each config's difference
to NAME, seed by seed.

``kshot`` scores the trained runs with k-shot vocabularies on the unseen
classes (:mod:`mmioc_rtvp.apis.kshot_protocol`; docs/exemplar_prompts.md):
for each k and support draw, text only, exemplars (trained, and with an
untrained pooling as the control), text + exemplars and prompt tuning, all
on the same query images; a closed-split config is scored on the queries it
did not train on (the ceiling). ``kshot --summarize`` tabulates them (mean
+- std over seeds and draws, and paired differences to text only).

    python tools/analysis_tools/learning_check.py kshot \
        configs/exemplar/rtvpnet_s_mini_exemplar.py --seeds 0 1 \
        --shots 1 5 --draws 0 1 2
    python tools/analysis_tools/learning_check.py kshot --summarize

Every command takes ``--data-root`` (default ``data/mmioc_mini``), so the
same protocol runs on another MMIOC-format dataset.
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_ROOT = 'work_dirs/learning_check'
#: (result key, metric key in mmengine's test json); MMIOCMetric's
#: ``<key>_unrounded`` is read when present (see :func:`metric_value`)
METRICS = (('AP', 'coco/bbox_mAP'), ('AP50', 'coco/bbox_mAP_50'))
#: the generalized test's keys: MMIOCMetric's seen / unseen / harmonic mean
GENERALIZED_METRICS = tuple(
    (f'gen_{group}_{short}', f'coco/bbox_{key}_{group}')
    for group in ('hm', 'seen', 'unseen')
    for short, key in (('AP', 'mAP'), ('AP50', 'mAP_50')))


def run_name(config: str) -> str:
    """``configs/ablations/x/y.py`` -> ``y``."""
    return osp.splitext(osp.basename(config))[0]


def seen_test_options(data_root: str, num_seen: int) -> List[str]:
    """``--cfg-options`` that test an open-split config on the seen classes
    (``open_val_seen`` with the seen vocabulary)."""
    root = data_root.rstrip('/') + '/'
    return [
        'test_dataloader.dataset.dataset.ann_file='
        'annotations/open_val_seen.json',
        f'test_dataloader.dataset.class_text_path={root}'
        'texts/seen_class_texts.json',
        f'test_evaluator.ann_file={root}annotations/open_val_seen.json',
        f'model.num_test_classes={num_seen}',
    ]


def describe_config(config) -> Tuple[bool, str, int]:
    """Whether a config (a file or a loaded ``Config``) is open-split, its
    data root and its number of training classes.

    Open split = the test vocabulary is the unseen class-text file.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    test_ds = cfg.test_dataloader.dataset
    text_path = str(test_ds.get('class_text_path', ''))
    inner = test_ds.get('dataset', test_ds)
    data_root = str(inner.get('data_root', 'data/mmioc_mini/'))
    num_train = int(cfg.model.get('num_train_classes', 0) or 0)
    return 'unseen' in osp.basename(text_path), data_root, num_train


#: one test of a run: (name, extra --cfg-options, [(result key, json key)])
TestSpec = Tuple[str, List[str], List[Tuple[str, str]]]


#: the config sections whose paths follow the data root
DATA_SECTIONS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
                 'val_evaluator', 'test_evaluator')


def _reroot(value: str, old: str, new: Optional[str]) -> str:
    """``value`` with the data-root prefix ``old`` replaced by ``new``."""
    if new is None or not value.startswith(old):
        return value
    return osp.abspath(new).rstrip('/') + '/' + value[len(old):]


def data_root_options(config: str, data_root: str) -> List[str]:
    """``--cfg-options`` that move every data path of a config (its
    dataloaders and evaluators) from the config's data root to
    ``data_root``; relative paths below the root are kept."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    old = describe_config(cfg)[1].rstrip('/') + '/'
    options: List[str] = []

    def walk(node, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f'{key}.{k}')
        elif isinstance(node, str) and (node + '/').startswith(old):
            value = node + '/' if node + '/' == old else node
            options.append(f'{key}={_reroot(value, old, data_root)}')

    for section in DATA_SECTIONS:
        walk(cfg.get(section, {}), section)
    return options


def test_plan(config: str,
              data_root: Optional[str] = None) -> List[TestSpec]:
    """The tests of one run. Closed split: the config's test (``test_AP``,
    ``test_AP50``). Open split: the unseen classes (``unseen_*``), the seen
    classes (``seen_*``) and, when the config lists
    ``generalized_test_options``, the generalized vocabulary (``gen_*``).
    ``data_root`` replaces the config's data root in their options."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    is_open, old_root, num_train = describe_config(cfg)
    old_root = old_root.rstrip('/') + '/'
    new_root = _reroot(old_root, old_root, data_root)

    def keys(prefix: str) -> List[Tuple[str, str]]:
        return [(f'{prefix}_{short}', long) for short, long in METRICS]

    if not is_open:
        return [('test', [], keys('test'))]
    plan = [('test', [], keys('unseen')),
            ('seen', seen_test_options(new_root, num_train), keys('seen'))]
    generalized = cfg.get('generalized_test_options')
    if generalized:
        plan.append(('generalized',
                     [f'{k}={_reroot(str(v), old_root, data_root)}'
                      for k, v in generalized.items()],
                     list(GENERALIZED_METRICS)))
    return plan


def latest_metrics(test_dir: str) -> Dict[str, float]:
    """Metrics of the newest ``<timestamp>/<timestamp>.json`` in a test
    work dir (what mmengine writes after ``runner.test()``)."""
    logs = sorted(
        glob.glob(osp.join(test_dir, '*', '*.json')), key=osp.getmtime)
    if not logs:
        raise FileNotFoundError(f'no test metrics json under {test_dir}')
    with open(logs[-1]) as f:
        return json.load(f)


def metric_value(metrics: Dict[str, float], key: str) -> Optional[float]:
    """``key``'s figure in a test's metrics: MMIOCMetric's unrounded
    ``<key>_unrounded`` if there is one, else ``key``'s value (3 decimals
    from mmdet's CocoMetric), None if absent."""
    return metrics.get(f'{key}_unrounded', metrics.get(key))


def summarise_values(values: Sequence[float], signed: bool = False) -> str:
    """``mean +- sample std`` (``mean`` alone for one value), 3 decimals;
    ``signed`` writes the mean's sign (differences)."""
    if not values:
        return '-'
    mean = round(statistics.fmean(values), 3) + 0.0  # no '-0.000'
    text = f'{mean:+.3f}' if signed else f'{mean:.3f}'
    if len(values) == 1:
        return text
    return f'{text} ± {statistics.stdev(values):.3f}'


def _run(cmd: List[str], log: str, threads: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    with open(log, 'a') as f:
        f.write(f'$ {" ".join(cmd)}\n')
        f.flush()
        proc = subprocess.run(['nice', '-n', '5', *cmd],
                              cwd=REPO,
                              env=env,
                              stdout=f,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}); '
                           f'see {log}')


def run_one(config: str, seed: int, root: str, threads: int,
            options: Sequence[str],
            data_root: Optional[str] = None) -> Optional[str]:
    """Train, run every test of :func:`test_plan` and write
    ``result.json``; returns None on success or a one-line error.

    A run with a ``result.json`` is not trained again; the tests whose keys
    it lacks are run on its checkpoint with the options it was trained with.
    ``data_root`` moves the config's data paths there.
    """
    work_dir = osp.join(root, run_name(config), f'seed{seed}')
    result_file = osp.join(work_dir, 'result.json')
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(work_dir, 'learning_check.log')
    py = sys.executable
    try:
        plan = test_plan(config, data_root)
        if data_root:
            options = [*options, *data_root_options(config, data_root)]
        if osp.isfile(result_file):
            with open(result_file) as f:
                result = json.load(f)
            options = result.get('options', list(options))
        else:
            t0 = time.time()
            _run([
                py, 'tools/train.py', config, '--work-dir', work_dir,
                '--cfg-options', f'randomness.seed={seed}', *options
            ], log, threads)
            train_s = time.time() - t0
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                ckpt = f.read().strip()
            result = dict(
                config=config,
                seed=seed,
                threads=threads,
                options=list(options),
                checkpoint=ckpt,
                train_seconds=round(train_s, 1))
        for name, extra, keys in plan:
            if all(key in result for key, _ in keys):
                continue
            test_dir = osp.join(work_dir, f'test_{name}')
            cmd = [
                py, 'tools/test.py', config, result['checkpoint'],
                '--work-dir', test_dir
            ]
            if extra or options:
                cmd += ['--cfg-options', *options, *extra]
            _run(cmd, log, threads)
            metrics = latest_metrics(test_dir)
            for key, long in keys:
                result[key] = metric_value(metrics, long)
            with open(result_file, 'w') as f:
                json.dump(result, f, indent=1)
        return None
    except Exception as err:  # reported, the other runs go on
        return f'{config} seed {seed}: {err}'


#: the table's columns: (result key, title)
COLUMNS = (('unseen_AP', 'unseen AP'), ('unseen_AP50', 'unseen AP50'),
           ('seen_AP', 'seen AP'), ('seen_AP50', 'seen AP50'),
           ('gen_hm_AP', 'gen. HM AP'), ('gen_hm_AP50', 'gen. HM AP50'),
           ('test_AP', 'AP (closed)'), ('test_AP50', 'AP50 (closed)'))


def load_results(root: str) -> Dict[str, List[dict]]:
    """Every ``result.json`` under ``root``, grouped by config name, sorted
    by seed."""
    groups: Dict[str, List[dict]] = {}
    for path in sorted(glob.glob(osp.join(root, '*', 'seed*',
                                          'result.json'))):
        with open(path) as f:
            res = json.load(f)
        groups.setdefault(run_name(res['config']), []).append(res)
    for runs in groups.values():
        runs.sort(key=lambda r: r['seed'])
    return groups


def _used_columns(groups: Dict[str, List[dict]]) -> List[Tuple[str, str]]:
    return [(k, t) for k, t in COLUMNS
            if any(r.get(k) is not None for g in groups.values() for r in g)]


def _table(head: List[str], rows: List[List[str]]) -> str:
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def summarize(root: str) -> str:
    """Markdown table of every ``result.json`` under ``root``."""
    groups = load_results(root)
    used = _used_columns(groups)
    rows = []
    for name, runs in sorted(groups.items()):
        seeds = ','.join(str(r['seed']) for r in runs)
        cells = [
            summarise_values([r[k] for r in runs if r.get(k) is not None])
            for k, _ in used
        ]
        mins = summarise_values([r['train_seconds'] / 60 for r in runs])
        rows.append([name, seeds, *cells, mins])
    return _table(['config', 'seeds', *(t for _, t in used), 'train min'],
                  rows)


def list_runs(root: str) -> str:
    """Markdown table with one row per run (config, seed, every column,
    training minutes)."""
    groups = load_results(root)
    used = _used_columns(groups)

    def cell(value) -> str:
        return '-' if value is None else f'{value:.3f}'

    rows = [[name, str(r['seed']), *(cell(r.get(k)) for k, _ in used),
             f"{r['train_seconds'] / 60:.1f}"]
            for name, runs in sorted(groups.items()) for r in runs]
    return _table(['config', 'seed', *(t for _, t in used), 'train min'],
                  rows)


def summarize_paired(root: str, reference: str) -> str:
    """Markdown table of each config's difference to ``reference``, paired
    by seed: per column, mean +- sample std of (config - reference) over the
    seeds both have. A shared seed gives both runs the same sampler order
    and augmentation stream; how much of the seed-to-seed spread the pairing
    cancels is an empirical matter (read it next to the unpaired std)."""
    groups = load_results(root)
    if reference not in groups:
        raise KeyError(f'no results of {reference!r} under {root}')
    ref = {r['seed']: r for r in groups[reference]}
    used = _used_columns(groups)
    rows = []
    for name, runs in sorted(groups.items()):
        pairs = [(r, ref[r['seed']]) for r in runs if r['seed'] in ref]
        cells = []
        for key, _ in used:
            diffs = [
                a[key] - b[key] for a, b in pairs
                if a.get(key) is not None and b.get(key) is not None
            ]
            cells.append(summarise_values(diffs, signed=True))
        if name != reference and any(c != '-' for c in cells):
            seeds = ','.join(str(a['seed']) for a, _ in pairs)
            rows.append([name, seeds, *cells])
    # columns without any pair (e.g. closed-split AP against an open config)
    keep = [i for i in range(len(used)) if any(r[2 + i] != '-' for r in rows)]
    return _table(['config - ' + reference, 'paired seeds'] +
                  [f'Δ {used[i][1]}' for i in keep],
                  [r[:2] + [r[2 + i] for i in keep] for r in rows])


def kshot_one(result: dict, root: str, data_root: str, shots: Sequence[int],
              draws: Sequence[int], tune_steps: int = 0,
              heldout_from: Sequence[str] = ()) -> dict:
    """Score one trained run with every k-shot row (see the module doc);
    the scores are kept in ``kshot/kshot.json`` beside its
    ``result.json``; ``tune_steps`` > 0 adds the prompt-tuned row.
    ``heldout_from`` (configs) also leaves their training images out of the
    queries; those scores go to ``kshot_heldout-<names>/``."""
    from mmioc_rtvp.apis.kshot_protocol import prompt_tuning_row, run_kshot
    tune = prompt_tuning_row(tune_steps) if tune_steps > 0 else None
    work_dir = osp.join(root, run_name(result['config']),
                        f"seed{result['seed']}")
    sub = 'kshot'
    if heldout_from:
        sub += '_heldout-' + '-'.join(run_name(c) for c in heldout_from)
    return run_kshot(result['config'], result['checkpoint'],
                     osp.join(work_dir, sub), data_root, shots, draws,
                     options=result.get('options', []),
                     seed=result['seed'], tune=tune,
                     heldout_from=heldout_from)


def summarize_kshot(root: str) -> str:
    """Markdown tables of every ``kshot.json`` under ``root``."""
    from mmioc_rtvp.apis.kshot_protocol import kshot_tables
    runs = []
    for path in sorted(glob.glob(osp.join(root, '*', 'seed*', 'kshot*',
                                          'kshot.json'))):
        with open(path) as f:
            runs.append(json.load(f))
    return kshot_tables(runs, summarise_values, _table)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    run = sub.add_parser('run', help='train and test configs x seeds')
    run.add_argument('configs', nargs='+')
    run.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    run.add_argument('--jobs', type=int, default=2,
                     help='runs at a time (one per core)')
    run.add_argument('--threads', type=int, default=1,
                     help='OMP threads per run')
    run.add_argument('--root', default=DEFAULT_ROOT)
    run.add_argument('--cfg-options', nargs='+', default=[],
                     help='key=value overrides for every run')
    summ = sub.add_parser('summarize', help='markdown table of the results')
    summ.add_argument('--root', default=DEFAULT_ROOT)
    summ.add_argument(
        '--runs', action='store_true', help='also print one row per run')
    summ.add_argument(
        '--paired',
        metavar='CONFIG_NAME',
        help='also print each config minus this one (e.g. rtvpnet_s_mini), '
        'paired by seed')
    kshot = sub.add_parser('kshot', help='k-shot vocabularies on the '
                           'unseen classes, for trained runs')
    kshot.add_argument('configs', nargs='*')
    kshot.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    kshot.add_argument('--shots', type=int, nargs='+', default=[1, 5])
    kshot.add_argument('--draws', type=int, nargs='+', default=[0, 1, 2],
                       help='seeds of the support draws')
    kshot.add_argument('--root', default=DEFAULT_ROOT)
    kshot.add_argument('--data-root', default='data/mmioc_mini')
    kshot.add_argument('--tune-steps', type=int, default=200,
                       help='prompt-tuning steps of the tuned row (0: no '
                       'tuned row)')
    kshot.add_argument('--heldout-from', nargs='+', default=[],
                       metavar='CONFIG',
                       help='also leave these configs\' training images out '
                       'of the queries (score on the queries of a closed '
                       'ceiling run)')
    kshot.add_argument('--summarize', action='store_true',
                       help='print the tables of the scored runs')
    run.add_argument('--data-root', default=None,
                     help='MMIOC-format data folder replacing the '
                     'config\'s (default: the config\'s own)')
    return parser.parse_args(argv)


def main_kshot(args: argparse.Namespace) -> int:
    """The ``kshot`` command."""
    if args.summarize:
        print(summarize_kshot(args.root))
        return 0
    groups = load_results(args.root)
    errors = 0
    for config in args.configs:
        runs = [r for r in groups.get(run_name(config), [])
                if r['seed'] in args.seeds]
        if not runs:
            print(f'learning_check: no trained run of {config} under '
                  f'{args.root} (learning_check.py run first)',
                  file=sys.stderr)
            errors += 1
        for result in runs:
            try:
                kshot_one(result, args.root, args.data_root, args.shots,
                          args.draws, args.tune_steps, args.heldout_from)
            except Exception as err:  # reported, the other runs go on
                print(f'learning_check: FAILED kshot {config} seed '
                      f"{result['seed']}: {err}", file=sys.stderr)
                errors += 1
    print(summarize_kshot(args.root))
    return 1 if errors else 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.cmd == 'kshot':
        return main_kshot(args)
    if args.cmd == 'summarize':
        print(summarize(args.root))
        if args.runs:
            print('\n' + list_runs(args.root))
        if args.paired:
            try:
                paired = summarize_paired(args.root, args.paired)
            except KeyError as err:
                print(f'learning_check: {err.args[0]}', file=sys.stderr)
                return 2
            print('\n' + paired)
        return 0
    for config in args.configs:
        if not osp.isfile(config):
            print(f'learning_check: config {config} does not exist',
                  file=sys.stderr)
            return 2
    # seed-major order: every config gets seed 0 before any gets seed 1
    jobs = [(c, s) for s in args.seeds for c in args.configs]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        errors = [
            e for e in pool.map(
                lambda cs: run_one(cs[0], cs[1], args.root, args.threads,
                                   args.cfg_options, args.data_root), jobs)
            if e
        ]
    for err in errors:
        print(f'learning_check: FAILED {err}', file=sys.stderr)
    print(summarize(args.root))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
