# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exact-match accuracy per question type of a detection checkpoint on a
templated QA set (tools/make_qa_set.py).

    python projects/rtvpnet_vqa/tools/eval_vqa.py \\
        projects/rtvpnet_vqa/configs/rtvpnet_s_mini_vqa.py CHECKPOINT \\
        data/mmioc_mini/vqa/open_val_qa.json --img-dir data/mmioc_mini/images

The deterministic answers (from the detections) are scored; ``--lm DIR``
also scores the language model's answers (exact match after
normalisation). Images are resolved as ``--img-dir/<file_name>``; an
unreadable image counts its questions as wrong and is reported. The last
column is the accuracy of always giving a type's most frequent reference
answer, the baseline a detector must beat.
"""
import argparse
import json
import os.path as osp
import sys
import time
from collections import Counter

from mmengine.config import Config, DictAction

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def majority_baseline(questions: list) -> dict:
    """Per question type: ``(hits, answer)`` of always giving the type's
    most frequent reference answer (what a detector must beat)."""
    per_type = {}
    for q in questions:
        per_type.setdefault(q['type'], Counter())[q['answer']] += 1
    return {t: (c.most_common(1)[0][1], c.most_common(1)[0][0])
            for t, c in per_type.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('qa_file')
    parser.add_argument('--img-dir', required=True,
                        help='directory the QA file names are relative to')
    parser.add_argument('--lm', default='none',
                        help='also score a language model (directory or '
                        'cached hub id; "config": the config\'s)')
    parser.add_argument('--score-thr', type=float)
    parser.add_argument('--limit', type=int, help='first N questions only')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write metrics + answers (JSON)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. vqa.ann_file=data/mmioc_mini/'
        'annotations/open_val_generalized.json (the vocabulary)')
    args = parser.parse_args(argv)
    from projects.rtvpnet_vqa.rtvpnet_vqa import (BadInputError,
                                                  DetectionVQA, VQAExactMatch)
    if not osp.isfile(args.qa_file):
        print(f'eval_vqa: {args.qa_file}: no such QA file', file=sys.stderr)
        return 2
    with open(args.qa_file, encoding='utf-8') as f:
        questions = json.load(f)['questions'][:args.limit]
    if not osp.isfile(args.config):
        print(f'eval_vqa: {args.config}: no such config file',
              file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    start = time.time()
    try:
        vqa = DetectionVQA.from_config(
            cfg, args.checkpoint, language_model=args.lm,
            device=args.device, score_thr=args.score_thr)
    except BadInputError as err:
        print(f'eval_vqa: {err}', file=sys.stderr)
        return 2
    results = vqa.ask([(osp.join(args.img_dir, q['file_name']),
                        q['question']) for q in questions])
    bad = sorted({r.error for r in results if r.error})
    for line in bad:
        print(f'eval_vqa: bad item: {line}', file=sys.stderr)
    metrics = {}
    scored = [('rule', 'rule_answer')]
    if vqa.language_model is not None:
        scored.append(('lm', 'lm_answer'))
    for name, field in scored:
        metric = VQAExactMatch(prefix=name)
        metric.process(None, [
            dict(question_type=q['type'], gt_answer=q['answer'],
                 pred_answer=getattr(r, field))
            for q, r in zip(questions, results)])
        metrics.update(metric.evaluate(len(questions)))
    baseline = majority_baseline(questions)
    print(f'eval_vqa: {len(questions)} questions on '
          f'{len({q["file_name"] for q in questions})} images, '
          f'{time.time() - start:.0f} s, score_thr {vqa.detect.score_thr}')
    header = f'  {"type":10s}{"n":>6s}' + ''.join(
        f'{name:>8s}' for name, _ in scored) + '  majority answer'
    print(header)
    for qtype in [*baseline, 'all']:
        key = 'accuracy' if qtype == 'all' else f'accuracy/{qtype}'
        num = len(questions) if qtype == 'all' else \
            metrics[f'rule/num/{qtype}']
        hits, answer = baseline.get(qtype, (None, ''))
        if qtype == 'all':
            hits = sum(h for h, _ in baseline.values())
        print(f'  {qtype:10s}{num:6d}' + ''.join(
            f'{metrics[f"{name}/{key}"]:8.3f}' for name, _ in scored) +
            f'  {hits / num:.3f}' + (f' ({answer!r})' if answer else ''))
    if metrics['rule/num_missing']:
        print(f'  {metrics["rule/num_missing"]} questions without an answer '
              '(bad items above) count as wrong')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(dict(metrics=metrics, answers=[
                dict(q, rule_answer=r.rule_answer, lm_answer=r.lm_answer,
                     error=r.error) for q, r in zip(questions, results)]),
                f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
