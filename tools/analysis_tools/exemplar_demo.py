# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Text prompts vs few-shot exemplar classes on one unseen-class image.

Draws, side by side, what a detector finds on a query image of an unseen
class with the class texts (left) and with classes given by k exemplar
boxes each (right), the support images drawn from the same annotation file
(``mmioc_rtvp.apis.kshot_protocol``); the query image is none of them.

    python tools/analysis_tools/exemplar_demo.py \\
        configs/exemplar/rtvpnet_s_mini_exemplar.py CKPT \\
        --data-root data/mmioc_mini --shots 5 --out side_by_side.jpg
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

import cv2
import numpy as np


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', default='data/mmioc_mini')
    parser.add_argument('--ann-file', default='annotations/open_val.json',
                        help='below --data-root: where support and query '
                        'images come from')
    parser.add_argument('--class-texts',
                        default='texts/unseen_class_texts.json')
    parser.add_argument('--shots', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the support draw')
    parser.add_argument('--score-thr', type=float, default=0.25)
    parser.add_argument('--out', default='work_dirs/exemplar_demo.jpg')
    return parser.parse_args(argv)


def draw_panel(image: np.ndarray, sample, names: List[str], title: str,
               score_thr: float, truth: np.ndarray) -> np.ndarray:
    """The image with the ground truth (green, ``truth`` (G, 4) xyxy), the
    detections >= score_thr (red) and a title bar; with no detection kept,
    the bar names the best one below the threshold."""
    canvas = image.copy()
    for x1, y1, x2, y2 in truth.round().astype(int):
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 160, 0), 1)
    pred = sample.pred_instances
    scores = pred.scores.numpy()
    keep = scores >= score_thr
    for box, label, score in zip(pred.bboxes.numpy()[keep],
                                 pred.labels.numpy()[keep], scores[keep]):
        x1, y1, x2, y2 = box.round().astype(int)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 0, 255), 2)
        cv2.putText(canvas, f'{names[label]} {score:.2f}',
                    (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 255), 1, cv2.LINE_AA)
    if keep.any():
        note = f'{int(keep.sum())} boxes >= {score_thr}'
    elif len(scores):
        best = int(scores.argmax())
        note = (f'no box >= {score_thr} (best: {names[pred.labels[best]]} '
                f'{scores[best]:.3f})')
    else:
        note = 'no box'
    bar = np.full((40, canvas.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(bar, note, (4, 33), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, canvas])


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config

    from mmioc_rtvp.apis import build_detector
    from mmioc_rtvp.apis.kshot_protocol import (KShotEvaluator, subset_coco,
                                                write_json)
    root = args.data_root.rstrip('/') + '/'
    for path in (args.config, args.checkpoint, root + args.ann_file,
                 root + args.class_texts):
        if not osp.exists(path):
            print(f'exemplar_demo: {path} does not exist', file=sys.stderr)
            return 2
    cfg = Config.fromfile(args.config)
    test_ds = cfg.test_dataloader.dataset
    test_ds['class_text_path'] = root + args.class_texts
    inner = test_ds.get('dataset', test_ds)
    inner['data_root'] = root
    model, _ = build_detector(cfg, args.checkpoint)
    if getattr(model, 'exemplar_encoder', None) is None:
        print(f'exemplar_demo: {args.config} has no exemplar encoder '
              '(use a config of configs/exemplar/)', file=sys.stderr)
        return 2
    work_dir = osp.splitext(args.out)[0] + '_files'
    ev = KShotEvaluator(model, cfg, work_dir, root + args.ann_file)
    shots = args.shots
    while True:  # a small dataset may hold fewer images of a class
        try:
            support_json, query_json, support = ev.split(shots, args.seed)
            break
        except ValueError as err:
            if shots == 1:
                print(f'exemplar_demo: {err}', file=sys.stderr)
                return 1
            shots -= 1
    if shots != args.shots:
        print(f'exemplar_demo: {args.shots} support images per class do not '
              f'leave a query image of every class; using {shots}')
    text = ev.text_embeddings()
    exemplar = ev.exemplar_embeddings(support_json)
    # the first query image with a box (no choice by result)
    with open(query_json) as f:
        queries = json.load(f)
    image_id = queries['annotations'][0]['image_id']
    one = write_json(subset_coco(queries, [image_id]),
                     osp.join(work_dir, 'demo_image.json'))
    names = ev.vocabulary.names
    by_text = ev.predict(text, one)[0]
    by_exemplar = ev.predict(exemplar, one)[0]
    image = cv2.imread(by_text.img_path)
    truth = next(names[i] for i, c in enumerate(ev.cat_ids)
                 if c == queries['annotations'][0]['category_id'])
    boxes = np.array([a['bbox'] for a in queries['annotations']
                      if a['image_id'] == image_id], np.float32)
    boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
    left = draw_panel(image, by_text, names, 'text prompts (green: truth)',
                      args.score_thr, boxes)
    right = draw_panel(
        image, by_exemplar, names,
        f'{shots}-shot exemplar classes', args.score_thr, boxes)
    gap = np.full((left.shape[0], 8, 3), 255, np.uint8)
    out = np.hstack([left, gap, right])
    cv2.imwrite(args.out, out)
    print(f'exemplar_demo: {osp.basename(by_text.img_path)} (a {truth!r} '
          f'image; support: {shots} images per class, '
          f'{sum(len(v) for v in support.values())} in all, none of them '
          f'this one) -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
