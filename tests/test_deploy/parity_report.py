# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Print eager vs ONNX Runtime parity figures.

Without arguments: the setting of tests/test_deploy/test_onnx_parity.py
(same random mini models, input, vocabularies and matching; the test's
assertions stay the check). With ``--trained CONFIG CKPT``: a trained open
model exported with a run-time vocabulary, ``MMIOCInferencer`` against
``ORTInferencer`` on real images, for two vocabularies through the one file.
Prints per model / vocabulary the detections and the largest deviations of
the matched pairs (same label, box within 1e-3 relative, score within 1e-4;
an unmatched detection fails)::

    OMP_NUM_THREADS=1 python -m tests.test_deploy.parity_report
    OMP_NUM_THREADS=1 python -m tests.test_deploy.parity_report \\
        --trained configs/rtvpnet_s_mini.py CKPT --images 20
"""
import argparse
import glob
import json
import os.path as osp
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx)
from tests.test_deploy.test_onnx_parity import (CONFIGS, IMG_META, SIZE,
                                                VOCAB_A, VOCAB_B,
                                                assert_same_detections,
                                                build_mini, eager_predict)

HEADER = ('| model | vocabulary | detections (eager = ORT) | '
          'max relative box diff | max score diff |\n|---|---|---:|---:|---:|')


def random_models() -> None:
    """Export each mini model once and compare eager and ONNX Runtime."""
    image = torch.rand(1, 3, SIZE, SIZE,
                       generator=torch.Generator().manual_seed(1))
    print(HEADER)
    with tempfile.TemporaryDirectory() as work:
        for name in CONFIGS:
            model = build_mini(name)
            exportable = ExportableDetector(
                model, runtime_vocabulary=name != 'yolov8')
            path = export_onnx(exportable, f'{work}/{name}.onnx',
                               (SIZE, SIZE),
                               build_metadata(exportable, (SIZE, SIZE)))
            det = ORTDetector(path, num_threads=1)
            vocabs = [None] if name == 'yolov8' else [VOCAB_A, VOCAB_B]
            for vocab in vocabs:
                eager = eager_predict(model, image, vocab)
                feats = None if vocab is None else model.text_feats.numpy()
                box, score = assert_same_detections(
                    eager, det.predict(image.numpy(), feats, IMG_META))
                what = ('fixed classes' if vocab is None else
                        f'K = {len(vocab)}')
                print(f'| {name} | {what} | {len(eager)} | {box:.1e} | '
                      f'{score:.1e} |')


def above(pred: dict, min_score: float) -> Dict[str, np.ndarray]:
    """The detections of an inferencer prediction with a score >= min_score.
    """
    keep = np.asarray(pred['scores'], dtype=np.float32) >= min_score
    return dict(
        bboxes=np.asarray(pred['bboxes'], np.float32).reshape(-1, 4)[keep],
        scores=np.asarray(pred['scores'], np.float32)[keep],
        labels=np.asarray(pred['labels'], np.int64)[keep])


def trained_model(config: str, checkpoint: str, images: List[str],
                  vocabularies: List[str], min_score: float) -> None:
    """A trained open model: both inferencers on real images.

    Only detections with a score >= ``min_score`` are matched: scores that
    differ by 1e-7 can fall on either side of ``test_cfg.score_thr``
    (0.001), and which of those enter the 300 kept boxes then differs; a
    box never suppresses a higher-scoring one, so the detections above any
    score are decided by the boxes above it (while fewer than
    ``max_per_img`` are kept).
    """
    from mmioc_rtvp.apis import MMIOCInferencer, build_detector
    from mmioc_rtvp.deploy.ort_inferencer import ORTInferencer
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmioc_rtvp'))
    # the open configs test on a ConcatDataset; same test pipeline
    cfg.test_dataloader = cfg.val_dataloader
    model, _ = build_detector(cfg, checkpoint)
    size = tuple(int(s) for s in cfg.img_scale[::-1])
    exportable = ExportableDetector(model, runtime_vocabulary=True)
    print(HEADER)
    with tempfile.TemporaryDirectory() as work:
        path = export_onnx(exportable, f'{work}/model.onnx', size,
                           build_metadata(exportable, size))
        eager = MMIOCInferencer(cfg, checkpoint, show_progress=False)
        ort = ORTInferencer(cfg, path, checkpoint, num_threads=1,
                            show_progress=False)
        for vocab in vocabularies:
            times = {}
            outs = {}
            for name, inferencer in (('eager', eager), ('ort', ort)):
                inferencer(images[:1], texts=vocab)  # warm-up, vocabulary
                start = time.perf_counter()
                outs[name] = inferencer(images, texts=vocab)['predictions']
                times[name] = (time.perf_counter() - start) / len(images)
            count, box, score = 0, 0.0, 0.0
            totals = [0, 0]
            for e, o in zip(outs['eager'], outs['ort']):
                totals = [totals[0] + len(e['labels']),
                          totals[1] + len(o['labels'])]
                e, o = above(e, min_score), above(o, min_score)
                b, s = assert_same_detections(
                    InstanceData(**{k: torch.from_numpy(v)
                                    for k, v in e.items()}),
                    o, min_count=0)
                count, box, score = count + len(e['labels']), max(box, b), \
                    max(score, s)
            print(f'| {osp.basename(config)} | {osp.basename(vocab)} '
                  f'({len(images)} images) | {count} with score >= '
                  f'{min_score} ({totals[0]} / {totals[1]} in all) | '
                  f'{box:.1e} | {score:.1e} |')
            print(f'  s/image end to end (1 thread): eager '
                  f'{times["eager"]:.3f}, onnxruntime {times["ort"]:.3f}')


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trained', nargs=2, metavar=('CONFIG', 'CKPT'))
    parser.add_argument('--data-root', default='data/mmioc_mini')
    parser.add_argument('--images', type=int, default=20,
                        help='first N images of the open split\'s val set')
    parser.add_argument('--min-score', type=float, default=0.01,
                        help='compare detections from this score')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if not args.trained:
        random_models()
        return
    with open(osp.join(args.data_root, 'annotations', 'open_val.json')) as f:
        files = [im['file_name'] for im in json.load(f)['images']]
    images = [osp.join(args.data_root, 'images', f)
              for f in files[:args.images]]
    vocabularies = sorted(
        glob.glob(osp.join(args.data_root, 'texts', '*seen_class_texts.json')))
    trained_model(*args.trained, images, vocabularies, args.min_score)


if __name__ == '__main__':
    main()
