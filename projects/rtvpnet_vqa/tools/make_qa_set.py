# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Generate the templated VQA set of an MMIOC annotation file.

    python projects/rtvpnet_vqa/tools/make_qa_set.py \\
        data/mmioc_mini/annotations/open_val.json \\
        data/mmioc_mini/vqa/open_val_qa.json

Questions per image: presence, identify, count (every class in the image
and one absent class) and locate (classes with exactly one box); answers
from the ground truth (see ``rtvpnet_vqa/qa_set.py``). Rejected annotations
are listed with their reason; the counts reconcile.
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('ann_file', help='MMIOC annotation JSON')
    parser.add_argument('out', help='QA set JSON to write')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    from projects.rtvpnet_vqa.rtvpnet_vqa import BadInputError, make_qa_set
    if not osp.isfile(args.ann_file):
        print(f'make_qa_set: {args.ann_file}: no such file', file=sys.stderr)
        return 2
    try:
        with open(args.ann_file, encoding='utf-8') as f:
            data = json.load(f)
        qa = make_qa_set(data, seed=args.seed, source=args.ann_file)
    except ValueError as err:  # BadInputError or invalid JSON
        kind = '' if isinstance(err, BadInputError) else 'not JSON: '
        print(f'make_qa_set: {args.ann_file}: {kind}{err}', file=sys.stderr)
        return 2
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(qa, f, indent=1)
    rep = qa['report']
    print(f"make_qa_set: {rep['questions']} questions "
          f"{rep['questions_per_type']} on {rep['images_used']} of "
          f"{rep['images']} images -> {args.out}")
    print(f"  annotations: {rep['annotations']} = {rep['annotations_used']} "
          f"used + {rep['annotations_rejected']} rejected; "
          f"{rep['images_skipped_bad_annotation']} images skipped for a "
          f"rejected annotation; {rep['locate_skipped_multiple']} locate "
          f'questions skipped (class with several boxes)')
    for line in rep['rejected']:
        print(f'  rejected: {line}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
