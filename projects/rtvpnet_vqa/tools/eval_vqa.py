# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exact-match accuracy per question type of a detection checkpoint on a
templated QA set (tools/make_qa_set.py).

    python projects/rtvpnet_vqa/tools/eval_vqa.py \\
        projects/rtvpnet_vqa/configs/rtvpnet_s_mini_vqa.py CHECKPOINT \\
        data/mmioc_mini/vqa/open_val_qa.json --img-dir data/mmioc_mini/images

The deterministic answers (from the detections) are scored; ``--lm DIR``
also scores the language model's answers (exact match after
normalisation). Images are resolved as ``--img-dir/<file_name>``; an
unreadable image counts its questions as wrong and is reported.
"""
import argparse
import json
import os.path as osp
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


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
    args = parser.parse_args(argv)
    from projects.rtvpnet_vqa.rtvpnet_vqa import (BadInputError,
                                                  DetectionVQA, VQAExactMatch)
    if not osp.isfile(args.qa_file):
        print(f'eval_vqa: {args.qa_file}: no such QA file', file=sys.stderr)
        return 2
    with open(args.qa_file, encoding='utf-8') as f:
        questions = json.load(f)['questions'][:args.limit]
    start = time.time()
    try:
        vqa = DetectionVQA.from_config(
            args.config, args.checkpoint, language_model=args.lm,
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
    print(f'eval_vqa: {len(questions)} questions, '
          f'{time.time() - start:.0f} s, score_thr '
          f'{vqa.detect.score_thr}')
    for name, _ in scored:
        print(f'  {name}: ' + '  '.join(
            f'{k.split("/", 1)[1]} {v:.3f}' if isinstance(v, float) else
            f'{k.split("/", 1)[1]} {v}'
            for k, v in metrics.items() if k.startswith(name + '/')))
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(dict(metrics=metrics, answers=[
                dict(q, rule_answer=r.rule_answer, lm_answer=r.lm_answer,
                     error=r.error) for q, r in zip(questions, results)]),
                f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
