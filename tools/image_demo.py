# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Detect free-text defect prompts in one image and draw the boxes.

    python tools/image_demo.py CONFIG CHECKPOINT IMAGE \
        --texts "scratch on wood" "hole in paper" --out work_dirs/pred.jpg

A thin wrapper over :class:`mmioc_rtvp.apis.MMIOCInferencer` (see
tools/infer.py for folders, videos, JSON results and OK/NG verdicts).
Closed-set detectors (no text side) ignore ``--texts`` and use their
classes.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import cv2
from mmengine.config import Config, DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument(
        '--texts', nargs='+', help='free-text prompts, one per class')
    parser.add_argument('--out', default='work_dirs/image_demo.jpg')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.test_cfg.score_thr=0.01')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint, args.image):
        if not osp.isfile(path):
            raise FileNotFoundError(f'image_demo: no such file: {path}')
    from mmioc_rtvp.apis import MMIOCInferencer
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    inferencer = MMIOCInferencer(
        model=cfg, weights=args.checkpoint, device=args.device,
        show_progress=False)
    texts = args.texts if inferencer.open_vocabulary else None
    if args.texts and texts is None:
        print('image_demo: closed-set detector: --texts ignored, classes '
              f'{inferencer.classes}')
    out = inferencer(
        args.image, texts=texts, return_vis=True, no_save_vis=True,
        pred_score_thr=args.score_thr)
    if out['skipped']:
        name, reason = out['skipped'][0]
        raise SystemExit(f'image_demo: cannot read {name}: {reason}')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, out['visualization'][0][:, :, ::-1])
    pred = out['predictions'][0]
    kept = [i for i, s in enumerate(pred['scores']) if s >= args.score_thr]
    print(f'image_demo: {len(kept)} boxes with score >= {args.score_thr} '
          f'-> {args.out}')
    for i in kept:
        box = ', '.join(f'{v:.0f}' for v in pred['bboxes'][i])
        print(f'  {pred["label_names"][i]!r:32s} {pred["scores"][i]:.2f} '
              f'[{box}]')


if __name__ == '__main__':
    main()
