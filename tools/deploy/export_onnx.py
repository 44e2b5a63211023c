# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Export a YOLOv8 / YOLO-World / RTVPNet checkpoint to ONNX.

Three kinds of file (see docs/deploy.md):

- closed-set model (YOLOv8): ``image`` in;
- ``--texts ...`` / ``--class-text FILE``: the vocabulary (prompt
  ensembles averaged, as :class:`mmioc_rtvp.apis.Vocabulary` does) is
  encoded once with the model's text encoder and baked into the graph;
  ``image`` in. A checkpoint of tools/deploy/reparameterize.py is exported
  with its baked vocabulary;
- ``--runtime-vocabulary``: ``image`` (1, 3, H, W) and ``text_feats``
  (1, K, D) in, K dynamic: feed the embeddings of any vocabulary (computed
  with the project's text encoders, e.g.
  tools/misc/precompute_text_embeddings.py, or the MiniLM encoder exported
  with ``--text-encoder-out DIR`` and run by
  ``mmioc_rtvp.deploy.ORTTextEncoder``) without exporting again. RTVPNet's
  V-T text update is part of the graph.

Outputs: ``boxes`` (1, N, 4) and ``scores`` (1, N, K) of every prior; the
score threshold and NMS run in the runner (``mmioc_rtvp.deploy.ORTDetector``)
with the model's ``test_cfg``, stored in the file's metadata.

Examples::

    python tools/deploy/export_onnx.py configs/rtvpnet_s_mini.py \\
        work_dirs/rtvpnet_s_mini/epoch_40.pth --runtime-vocabulary \\
        --out work_dirs/deploy/rtvpnet_s_mini.onnx --check
    python tools/deploy/export_onnx.py \\
        configs/baselines/yolo_world_s_open_mini.py CKPT \\
        --texts "scratch on steel" "hole in wood|drilled hole" --out yw.onnx
    python tools/deploy/export_onnx.py \\
        configs/baselines/yolov8_s_closed_mini.py none --out yolov8.onnx
    # `none`: random weights
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmioc_rtvp.deploy import (ExportableDetector, ORTDetector,
                               build_metadata, export_onnx,
                               export_text_encoder)


def image_shape_of(cfg: Config, shape: Optional[Sequence[int]]) -> tuple:
    """(H, W) from ``--shape`` or the config's ``img_scale`` (w, h)."""
    if shape:
        return (shape[0], shape[-1])
    scale = cfg.get('img_scale')
    if scale is None:
        return (640, 640)
    return (int(scale[1]), int(scale[0]))


def load_detector(config: str, checkpoint: str,
                  cfg_options: Optional[dict]) -> tuple:
    """The detector of a config with a checkpoint (``none``: random
    weights), on the CPU in eval mode, the config and the checkpoint dict
    (``{}`` for random weights).

    Loading is :func:`mmioc_rtvp.apis.build_detector`'s: strict, slim
    checkpoints accepted, a checkpoint that does not match the config names
    both files.
    """
    from mmioc_rtvp.apis import build_detector
    if not osp.isfile(config):
        raise FileNotFoundError(f'no such config file: {config}')
    random_weights = checkpoint.lower() == 'none'
    if not random_weights and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'no such checkpoint: {checkpoint} (use `none` for random '
            'weights)')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmioc_rtvp'))
    model, ckpt = build_detector(cfg,
                                 None if random_weights else checkpoint)
    return model.eval(), cfg, ckpt


def choose_export(args: argparse.Namespace, model: torch.nn.Module,
                  ckpt: dict) -> Tuple[ExportableDetector, Optional[list],
                                       Optional[list]]:
    """The module to export, its vocabulary (prompt lists of a baked file)
    and class names (closed set), from the command line and the model."""
    from mmioc_rtvp.apis import BAKED_KEY, Vocabulary
    open_vocab = hasattr(model, 'reparameterize')
    texts = args.class_text or args.texts
    if texts is not None or (BAKED_KEY in ckpt and
                             not args.runtime_vocabulary):
        if not open_vocab:
            raise ValueError(f'{args.config}: a closed-set model has no '
                             'vocabulary to bake (drop --texts)')
        if texts is None:  # a checkpoint of tools/deploy/reparameterize.py
            baked = ckpt[BAKED_KEY]
            vocabulary = Vocabulary.parse(baked['prompts'])
            text_feats = baked['text_feats'].float().reshape(
                1, len(vocabulary), -1)
        elif BAKED_KEY in ckpt:
            raise ValueError(
                f'{args.checkpoint} has a baked vocabulary and no text '
                'encoder; export it without --texts / --class-text, or '
                'export the training checkpoint')
        else:
            vocabulary = Vocabulary.parse(texts)
            with torch.no_grad():
                text_feats = vocabulary.embed(
                    lambda t: model.backbone.forward_text(t, device='cpu'))
        return (ExportableDetector(model, text_feats=text_feats),
                vocabulary.to_list(), None)
    if args.runtime_vocabulary:
        return ExportableDetector(model, runtime_vocabulary=True), None, None
    if open_vocab:
        raise ValueError(
            f'{args.config} is an open-vocabulary model: give '
            '--runtime-vocabulary, --texts or --class-text')
    class_names = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    num_classes = model.bbox_head.num_classes
    if class_names is not None and len(class_names) != num_classes:
        print(f'class names not stored: the checkpoint names '
              f'{len(class_names)} classes, the head has {num_classes}')
        class_names = None
    return ExportableDetector(model), None, class_names


def check_export(exportable: ExportableDetector, path: str,
                 image_shape: tuple, num_texts: int) -> dict:
    """Eager vs ONNX Runtime on one random input: max abs differences."""
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, *image_shape, generator=gen)
    text_feats = None
    if exportable.runtime_vocabulary:
        text_feats = torch.nn.functional.normalize(
            torch.randn(1, num_texts, exportable.embed_dims, generator=gen),
            dim=-1)
    with torch.no_grad():
        boxes, scores = exportable(image, text_feats)
    ort_boxes, ort_scores = ORTDetector(path).forward(
        image.numpy(), None if text_feats is None else text_feats.numpy())
    return dict(
        max_abs_box_diff=float(np.abs(ort_boxes - boxes.numpy()).max()),
        max_abs_score_diff=float(np.abs(ort_scores - scores.numpy()).max()))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (.pth), or `none` '
                        'for random weights')
    parser.add_argument('--out', required=True, help='output .onnx file')
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument('--runtime-vocabulary', action='store_true',
                       help='text_feats (1, K, D) is an input, K dynamic')
    vocab.add_argument('--texts', nargs='+', help='classes to bake in, one '
                       'per argument, in label order; "a|b" is a prompt '
                       'ensemble (embeddings averaged)')
    vocab.add_argument('--class-text', help='class-text .json (YOLO-World '
                       'format) or .txt (one class per line) to bake in')
    parser.add_argument('--shape', type=int, nargs='+',
                        help='input size: S or H W (default: the config\'s '
                        'img_scale, else 640)')
    parser.add_argument('--text-encoder-out', metavar='DIR',
                        help='also export the model\'s text encoder '
                        '(MiniLMTextEncoder) and its tokenizer to DIR '
                        '(mmioc_rtvp.deploy.ORTTextEncoder reads it)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='dynamic batch axis (B images per call, '
                        'e.g. for folder throughput); default batch 1')
    parser.add_argument('--check', action='store_true',
                        help='compare eager and ONNX Runtime on a random '
                        'input and print the largest differences')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (key=value)')
    args = parser.parse_args(argv)
    if args.shape and len(args.shape) not in (1, 2):
        parser.error('--shape takes S or H W')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    model, cfg, ckpt = load_detector(args.config, args.checkpoint,
                                     args.cfg_options)
    shape = image_shape_of(cfg, args.shape)
    exportable, vocabulary, class_names = choose_export(args, model, ckpt)
    meta = build_metadata(
        exportable, shape, vocabulary=vocabulary, class_names=class_names,
        extra=dict(config=osp.abspath(args.config),
                   checkpoint=args.checkpoint, opset=args.opset))
    start = time.perf_counter()
    export_onnx(exportable, args.out, shape, meta, opset=args.opset,
                dynamic_batch=args.dynamic_batch)
    size_mb = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({size_mb:.1f} MB, {meta["kind"]}, input '
          f'{shape[0]}x{shape[1]}, {time.perf_counter() - start:.1f} s)')
    if args.text_encoder_out:
        text_model = getattr(getattr(model, 'backbone', None), 'text_model',
                             None)
        if text_model is None:
            raise ValueError(f'{args.config} / {args.checkpoint}: the model '
                             'has no text encoder to export')
        path = export_text_encoder(text_model, args.text_encoder_out,
                                   opset=args.opset)
        print(f'wrote {path} and its tokenizer')
    if args.check:
        diffs = check_export(exportable, args.out, shape, num_texts=7)
        print('eager vs onnxruntime on a random input: ' + ', '.join(
            f'{k} {v:.3g}' for k, v in diffs.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
