# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Choose the OK/NG threshold of a detector on a labelled validation set.

    python tools/analysis_tools/calibrate_threshold.py CONFIG CKPT \
        --ann-file data/mmioc_mini/annotations/open_val_generalized.json \
        [--method f1 | --method recall --target-recall 0.95] [--out FILE]

Every image of the COCO/MMIOC annotation file is run through
:class:`mmioc_rtvp.apis.MMIOCInferencer`; its defect score is its highest
detection score, and it is *defective* when the file has at least one
annotation on it (defect-free images have none). The threshold is the
F1-maximising score (``--method f1``) or the highest score that still
reaches ``--target-recall`` of the defective images (``--method recall``,
as anomalib's adaptive threshold on a recall target). The report gives
image-level precision / recall / F1 / accuracy at the threshold and the
AUROC of the scores. The threshold file (default: ``<CKPT without
.pth>.okng.json``, where the inferencer, tools/infer.py and the web demo
look) records the threshold, the method, the metrics and the vocabulary.

The vocabulary defaults to the annotation file's categories with all
their prompts (``texts``; prompt ensembles); ``--texts`` / ``--class-text``
override it. ``--exemplars FILE`` (with ``--exemplar-use`` and
``--class-use``, as tools/infer.py) calibrates the vocabulary that mixes
text and exemplar classes; the threshold file records which classes read
the exemplar file. Images that cannot be read are listed and left out of the
metrics (the counts are printed).
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional, Tuple

from mmengine.config import Config, DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--ann-file', required=True,
                        help='COCO/MMIOC annotation JSON of the set')
    parser.add_argument(
        '--img-dir', help='folder of the images (default: images/ next to '
        'the annotations/ folder of --ann-file)')
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument('--texts', nargs='+',
                       help='one class per argument, "a|b" for an ensemble')
    vocab.add_argument('--class-text', help='class-text .json or .txt file')
    parser.add_argument('--exemplars',
                        help='exemplar / prompt-tuning embeddings file')
    parser.add_argument('--exemplar-use', default='both',
                        choices=('both', 'exemplars', 'text'))
    parser.add_argument('--class-use', nargs='+', default=[],
                        metavar='NAME=USE')
    parser.add_argument('--method', choices=('f1', 'recall'), default='f1')
    parser.add_argument('--target-recall', type=float)
    parser.add_argument('--out', help='threshold file to write')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def read_labelled_images(ann_file: str, img_dir: Optional[str]
                         ) -> Tuple[List[str], List[bool], List[List[str]]]:
    """Image paths, defective flags and the categories' prompts.

    Args:
        ann_file (str): COCO JSON (MMIOC categories carry ``texts``).
        img_dir (str, optional): Image folder; default ``../images``
            relative to the annotation file's folder.

    Returns:
        tuple: ``(paths, labels, prompts)``: (N,) image paths, (N,) True
        for images with at least one annotation, and the K categories'
        prompt lists (``texts``, else ``[name]``).
    """
    with open(ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    if img_dir is None:
        img_dir = osp.join(osp.dirname(osp.dirname(osp.abspath(ann_file))),
                           'images')
    annotated = {a['image_id'] for a in coco.get('annotations', [])}
    paths = [osp.join(img_dir, im['file_name']) for im in coco['images']]
    labels = [im['id'] in annotated for im in coco['images']]
    prompts = [list(c.get('texts') or [c['name']])
               for c in coco.get('categories', [])]
    return paths, labels, prompts


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint, args.ann_file):
        if not osp.isfile(path):
            print(f'calibrate_threshold: no such file: {path}',
                  file=sys.stderr)
            return 2
    if args.method == 'recall' and args.target_recall is None:
        print('calibrate_threshold: --method recall needs --target-recall',
              file=sys.stderr)
        return 2
    from mmioc_rtvp.apis import (MMIOCInferencer, OKNGThreshold, auroc,
                                 binary_metrics, calibrate_threshold,
                                 default_threshold_file)
    paths, labels, prompts = read_labelled_images(args.ann_file,
                                                  args.img_dir)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    from mmioc_rtvp.prompts import parse_class_use
    try:
        class_use = parse_class_use(args.class_use)
    except ValueError as err:
        print(f'calibrate_threshold: --class-use: {err}', file=sys.stderr)
        return 2
    inferencer = MMIOCInferencer(
        model=cfg, weights=args.checkpoint, device=args.device)
    texts = args.class_text or args.texts or (
        prompts if inferencer.open_vocabulary else None)
    if args.exemplars:
        try:
            inferencer.set_exemplars(args.exemplars, args.exemplar_use,
                                     class_use, texts)
        except (ValueError, FileNotFoundError) as err:
            print(f'calibrate_threshold: {err}', file=sys.stderr)
            return 2
    out = inferencer(paths, texts=texts, batch_size=args.batch_size)
    skipped = {name for name, _ in out['skipped']}
    kept = [i for i, p in enumerate(paths) if p not in skipped]
    scores = [p['defect_score'] for p in out['predictions']]
    labels = [labels[i] for i in kept]
    if len(scores) != len(kept):
        raise RuntimeError(f'{len(scores)} predictions for {len(kept)} '
                           'readable images')
    threshold = calibrate_threshold(scores, labels, args.method,
                                    args.target_recall)
    metrics = binary_metrics(scores, labels, threshold)
    metrics['auroc'] = auroc(scores, labels)
    metrics['num_defective'] = int(sum(labels))
    metrics['num_defect_free'] = len(labels) - int(sum(labels))
    result = OKNGThreshold(
        threshold=threshold, method=args.method,
        target_recall=args.target_recall, metrics=metrics,
        vocabulary=(inferencer.vocabulary.to_list()
                    if inferencer.vocabulary is not None else None),
        exemplars=inferencer.exemplar_uses,
        source=dict(config=args.config, checkpoint=args.checkpoint,
                    ann_file=args.ann_file, exemplars=args.exemplars,
                    num_images=len(paths),
                    num_skipped=len(out['skipped'])))
    out_file = args.out or default_threshold_file(args.checkpoint)
    result.dump(out_file)

    print(f'calibrate_threshold: {len(paths)} images in {args.ann_file}: '
          f'{len(kept)} scored ({metrics["num_defective"]} defective, '
          f'{metrics["num_defect_free"]} defect-free), '
          f'{len(out["skipped"])} unreadable')
    for name, reason in out['skipped']:
        print(f'  skipped {name}: {reason}')
    rule = ('F1-max' if args.method == 'f1' else
            f'recall >= {args.target_recall}')
    auroc_text = ('n/a (one class only)' if metrics['auroc'] is None else
                  f'{metrics["auroc"]:.4f}')
    print(f'  threshold ({rule}): {threshold:.4f}')
    print(f'  precision {metrics["precision"]:.4f}  recall '
          f'{metrics["recall"]:.4f}  F1 {metrics["f1"]:.4f}  accuracy '
          f'{metrics["accuracy"]:.4f}  AUROC {auroc_text}')
    print(f'  TP {metrics["tp"]}  FP {metrics["fp"]}  FN {metrics["fn"]}  '
          f'TN {metrics["tn"]}')
    print(f'  -> {out_file}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
