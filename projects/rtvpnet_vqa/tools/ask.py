# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Ask questions about an image: RTVPNet detections -> a frozen causal LM.

    python projects/rtvpnet_vqa/tools/ask.py CONFIG CHECKPOINT IMAGE \\
        "Is this part OK?" "Where is the crack in wood?" [--lm DIR|none]

More items: ``--batch FILE`` (JSON lines ``{"image": ..., "question": ...}``).
Checkable questions (is there a defect / how many X / which defect / where
is X) get an answer computed by rules from the detections (``rule``); with
a language model every question also gets its answer (``lm``), generated
from a prompt that states the rules' answer as a fact when there is one.
Each result says where its final ``answer`` comes from (``answer_source``:
``rules``, ``language_model`` or ``language_model_given_rules``). A bad
item (empty question, unreadable image, bad JSON line) is reported on one
line and the others are answered; the exit status is then 1.
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import List, Tuple

from mmengine.config import Config, DictAction

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)  # the project package: projects.rtvpnet_vqa


#: ``VQAResult.answer_source`` as printed
SOURCES = dict(
    rules='rules (computed from the detections)',
    language_model='language model',
    language_model_given_rules='language model (given the rule answer)')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='a projects/rtvpnet_vqa config')
    parser.add_argument('checkpoint', help='detector weights (.pth)')
    parser.add_argument('image', nargs='?', help='image to ask about')
    parser.add_argument('questions', nargs='*', help='one or more questions')
    parser.add_argument('--batch', help='JSON lines of {"image", "question"}')
    parser.add_argument(
        '--lm', default='config',
        help='language model: a local directory or a cached hub id; "none" '
        'answers from the detections only (default: the config\'s)')
    parser.add_argument('--max-new-tokens', type=int)
    parser.add_argument('--score-thr', type=float)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--show-prompt', action='store_true')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. vqa.score_thr=0.2')
    return parser.parse_args(argv)


def read_batch(path: str) -> Tuple[List[Tuple[str, str]], List[str]]:
    """Items of a JSON-lines file and one error line per bad line."""
    items, errors = [], []
    with open(path, encoding='utf-8') as f:
        for num, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                items.append((str(rec['image']), rec['question']))
            except (ValueError, KeyError, TypeError) as err:
                errors.append(f'{path}:{num}: not {{"image", "question"}} '
                              f'JSON ({type(err).__name__}: {err})')
    return items, errors


def main(argv=None) -> int:
    args = parse_args(argv)
    from projects.rtvpnet_vqa.rtvpnet_vqa import BadInputError, DetectionVQA
    items: List[Tuple[str, str]] = []
    errors: List[str] = []
    if args.image:
        if not args.questions:
            errors.append(f'{args.image}: no question given')
        items += [(args.image, q) for q in args.questions]
    if args.batch:
        if not osp.isfile(args.batch):
            print(f'ask.py: {args.batch}: no such batch file',
                  file=sys.stderr)
            return 2
        more, bad = read_batch(args.batch)
        items += more
        errors += bad
    if not items and not errors:
        print('ask.py: nothing to ask: give IMAGE "question" or --batch',
              file=sys.stderr)
        return 2
    if not osp.isfile(args.config):
        print(f'ask.py: {args.config}: no such config file', file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    start = time.time()
    try:
        vqa = DetectionVQA.from_config(
            cfg, args.checkpoint, language_model=args.lm,
            device=args.device, score_thr=args.score_thr,
            max_new_tokens=args.max_new_tokens)
    except BadInputError as err:
        print(f'ask.py: {err}', file=sys.stderr)
        return 2
    results = vqa.ask(items) if items else []
    for line in errors:
        print(f'ask.py: bad item: {line}', file=sys.stderr)
    for res in results:
        if res.error:
            print(f'ask.py: bad item: {res.error}', file=sys.stderr)
            continue
        if args.show_prompt and res.prompt:
            print(f'--- prompt ---\n{res.prompt}\n--------------')
        print(f'{res.image} | {res.question}')
        print(f'  type: {res.question_type}  detections: '
              f'{res.num_detections}')
        if res.rule_answer is not None:
            print(f'  rule: {res.rule_answer}    '
                  '[computed by rules from the detections]')
        if res.lm_answer is not None:
            given = (' (its prompt stated the rule answer as a fact)'
                     if res.lm_saw_rule_answer else '')
            print(f'  lm ({res.num_new_tokens} tokens): {res.lm_answer}\n'
                  f'    [generated by the language model{given}]')
        print(f'  answer from: {SOURCES.get(res.answer_source, "none")}')
    num_bad = len(errors) + sum(r.error is not None for r in results)
    print(f'ask.py: {len(results) + len(errors) - num_bad} answered, '
          f'{num_bad} bad, {time.time() - start:.1f} s')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump([r.to_json() for r in results] +
                      [dict(error=e) for e in errors], f, indent=1)
    return 1 if num_bad else 0


if __name__ == '__main__':
    sys.exit(main())
