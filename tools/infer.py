# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Detect free-text defect classes in images, folders, globs and videos.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] \
        --texts "scratch on metal" "hole in wood|drilled hole" \
        --out-dir work_dirs/infer

INPUT: image files, folders (recursive), glob patterns (quote them) and
videos (``--frame-stride N`` runs one frame in N). ``--texts`` gives one
class per argument, ``|`` separating the prompts of a prompt ensemble;
``--class-text FILE`` reads them from a YOLO-World class-text JSON or a
``.txt`` (one class per line). ``--exemplars FILE`` adds the classes of an
exemplar file (tools/make_exemplars.py) or prompt-tuning file
(tools/prompt_tune.py) of the same checkpoint: a class only in the file is
found by its exemplars, a class also given as text by both (``--exemplar-use
text|exemplars|both``, ``--class-use NAME=USE`` per class;
docs/exemplar_prompts.md). Writes ``OUT_DIR/predictions.json``
(COCO-style, with each image's defect score and OK/NG verdict) and the
drawn images in ``OUT_DIR/vis/``. The OK/NG threshold is read from
``--threshold``, ``--threshold-file`` or the file
``tools/analysis_tools/calibrate_threshold.py`` wrote next to the
checkpoint. Unreadable inputs (missing, empty, truncated, not an image,
over ``--max-pixels``; in a folder, files named as neither image nor video)
are skipped and listed at the end with their reasons, so that images
processed + inputs skipped = files given; the exit status is 0 unless
nothing could be read. ``--backend onnxruntime --onnx
FILE`` runs a file of tools/deploy/export_onnx.py instead of the PyTorch
network (docs/deploy.md). Throughput on a folder: ``--batch-size N`` runs
N images per forward (with onnxruntime, in one call for a file exported
with ``--dynamic-batch``), ``--workers N`` decodes and letterboxes the next
images in N threads while the model runs; outputs are the same
(benchmarks/bench_infer.py measures images/s).
"""
import argparse
import collections
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction

from mmioc_rtvp.apis.inference_inputs import MAX_IMAGE_PIXELS


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (training or baked)')
    parser.add_argument('inputs', nargs='+', help='images, folders, globs, '
                        'videos')
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument(
        '--texts', nargs='+', help='one class per argument; "a|b" is a '
        'prompt ensemble')
    vocab.add_argument('--class-text', help='class-text .json or .txt file')
    parser.add_argument(
        '--exemplars', help='exemplar / prompt-tuning embeddings file (.npz) '
        'of this checkpoint')
    parser.add_argument(
        '--exemplar-use', choices=('both', 'exemplars', 'text'),
        default='both', help='classes with text and exemplars: fuse both '
        '(default), or use one side only')
    parser.add_argument(
        '--class-use', nargs='+', default=[], metavar='NAME=USE',
        help='per-class use (both, exemplars or text)')
    parser.add_argument('--out-dir', default='work_dirs/infer')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward (default 1)')
    parser.add_argument(
        '--workers', type=int, default=0,
        help='loader threads decoding and letterboxing the next images '
        'while the model runs (default 0: none)')
    parser.add_argument('--frame-stride', type=int, default=1)
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='boxes drawn from this score (all are saved)')
    parser.add_argument('--threshold', type=float,
                        help='OK/NG threshold on the image defect score')
    parser.add_argument('--threshold-file', help='OK/NG threshold file')
    parser.add_argument('--no-vis', action='store_true',
                        help='do not draw images')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--backend', choices=('pytorch', 'onnxruntime'), default='pytorch',
        help='onnxruntime: run --onnx (tools/deploy/export_onnx.py) instead '
        'of the PyTorch network (CPU)')
    parser.add_argument('--onnx', help='the .onnx file (--backend '
                        'onnxruntime), exported from CONFIG')
    parser.add_argument(
        '--max-pixels', type=int, default=MAX_IMAGE_PIXELS,
        help='image files declaring more pixels (width x height) are '
        f'skipped before decoding (default {MAX_IMAGE_PIXELS})')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.test_cfg.score_thr=0.01')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.batch_size < 1 or args.workers < 0:
        print(f'infer: need --batch-size >= 1 and --workers >= 0 (got '
              f'{args.batch_size}, {args.workers})', file=sys.stderr)
        return 2
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            print(f'infer: no such file: {path}', file=sys.stderr)
            return 2
    if args.backend == 'onnxruntime' and not (args.onnx
                                              and osp.isfile(args.onnx)):
        print(f'infer: --backend onnxruntime needs --onnx FILE (got '
              f'{args.onnx})', file=sys.stderr)
        return 2
    from mmioc_rtvp.apis import MMIOCInferencer
    from mmioc_rtvp.prompts import parse_class_use
    try:
        class_use = parse_class_use(args.class_use)
    except ValueError as err:
        print(f'infer: --class-use: {err}', file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    common = dict(
        model=cfg, weights=args.checkpoint,
        ok_ng_threshold=args.threshold, threshold_file=args.threshold_file,
        show_progress=not args.no_progress, max_pixels=args.max_pixels)
    texts = args.class_text or args.texts
    if args.exemplars:
        common.update(exemplars=args.exemplars, texts=texts,
                      exemplar_use=args.exemplar_use, class_use=class_use)
    try:
        if args.backend == 'onnxruntime':
            from mmioc_rtvp.deploy.ort_inferencer import ORTInferencer
            inferencer = ORTInferencer(onnx_file=args.onnx, **common)
        else:
            inferencer = MMIOCInferencer(device=args.device, **common)
    except (ValueError, FileNotFoundError) as err:
        if not args.exemplars:
            raise
        print(f'infer: {err}', file=sys.stderr)
        return 2
    out = inferencer(
        args.inputs, texts=texts, batch_size=args.batch_size,
        num_workers=args.workers, frame_stride=args.frame_stride,
        pred_score_thr=args.score_thr, out_dir=args.out_dir,
        no_save_vis=args.no_vis, no_save_pred=False)
    preds = out['predictions']
    verdicts = collections.Counter(p['verdict'] for p in preds)
    boxes = sum(sum(s >= args.score_thr for s in p['scores']) for p in preds)
    print(f'infer: {len(preds)} images, {boxes} boxes with score >= '
          f'{args.score_thr}, classes {out["classes"]}')
    if inferencer.ok_ng is not None:
        print(f'infer: OK/NG threshold {inferencer.ok_ng.threshold:.4f}: '
              f'{verdicts.get("NG", 0)} NG, {verdicts.get("OK", 0)} OK')
    else:
        print('infer: no OK/NG threshold (calibrate one with '
              'tools/analysis_tools/calibrate_threshold.py)')
    print(f'infer: results -> {osp.join(args.out_dir, "predictions.json")}')
    print(f'infer: {len(preds)} image(s) processed, '
          f'{len(out["skipped"])} input(s) skipped')
    if out['skipped']:
        print(f'infer: {len(out["skipped"])} input(s) skipped:')
        for name, reason in out['skipped']:
            print(f'  {name}: {reason}')
    return 0 if preds or not out['skipped'] else 1


if __name__ == '__main__':
    sys.exit(main())
