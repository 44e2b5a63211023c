# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Detect free-text defect prompts in an image and draw the boxes.

    python tools/image_demo.py CONFIG CHECKPOINT IMAGE \
        --texts "scratch on wood" "hole in paper" --out work_dirs/pred.jpg

Closed-set detectors (no text side) ignore ``--texts`` and use their classes.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import mmcv
import torch
from mmdet.apis import init_detector
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import VISUALIZERS

# transforms that need annotations or per-dataset texts: not at inference
_SKIP = ('LoadAnnotations', 'LoadText', 'RandomLoadText')


def build_inference_pipeline(cfg) -> Compose:
    """The test pipeline of ``cfg`` without annotation/text loading."""
    dataset_cfg = cfg.test_dataloader.dataset
    pipeline = dataset_cfg.get('pipeline')
    while not pipeline and 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
        pipeline = dataset_cfg.get('pipeline')
    steps = [
        t for t in pipeline if str(t['type']).split('.')[-1] not in _SKIP
    ]
    return Compose(steps)


def detect(model, image_path: str, texts: Optional[List[str]],
           score_thr: float):
    """Run one image through ``model``; returns (data_sample, class names)."""
    cfg = model.cfg
    if texts and hasattr(model, 'reparameterize'):
        model.reparameterize([texts])
        names = list(texts)
    else:
        names = list(model.dataset_meta.get('classes', []))
    pipeline = build_inference_pipeline(cfg)
    data = pipeline(dict(img_path=image_path, img_id=0))
    with torch.no_grad():
        result = model.test_step(pseudo_collate([data]))[0]
    keep = result.pred_instances.scores >= score_thr
    result.pred_instances = result.pred_instances[keep]
    return result, names


def main() -> None:
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
    args = parser.parse_args()
    for path in (args.config, args.checkpoint, args.image):
        if not osp.isfile(path):
            raise FileNotFoundError(f'image_demo: no such file: {path}')

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = init_detector(cfg, args.checkpoint, device=args.device)
    result, names = detect(model, args.image, args.texts, args.score_thr)

    visualizer = VISUALIZERS.build(model.cfg.visualizer)
    visualizer.dataset_meta = dict(
        classes=names, palette='random')
    image = mmcv.imread(args.image, channel_order='rgb')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    visualizer.add_datasample(
        'prediction', image, result, draw_gt=False, show=False,
        out_file=args.out, pred_score_thr=args.score_thr)
    inst = result.pred_instances
    print(f'image_demo: {len(inst)} boxes with score >= {args.score_thr} '
          f'-> {args.out}')
    for box, score, label in zip(inst.bboxes.tolist(), inst.scores.tolist(),
                                 inst.labels.tolist()):
        print(f'  {names[label]!r:32s} {score:.2f} '
              f'[{", ".join(f"{v:.0f}" for v in box)}]')


if __name__ == '__main__':
    main()
