# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""INT8 (static, calibrated QDQ) version of a file of export_onnx.py.

The normalisations, the region-text similarity and text branch, the
sigmoids and the box decoding stay in float (docs/deploy.md). A run-time
vocabulary file keeps its ``text_feats`` input; calibrate it with the
embeddings of the vocabulary the line uses: a ``.npy`` file of (K, D)
embeddings (``--text-feats``) or prompts encoded by the exported MiniLM
encoder (``--text-encoder DIR --texts ...``). No PyTorch is needed.

Examples::

    python tools/deploy/quantize_onnx.py rtvpnet_s.onnx data/line_images/ \\
        --text-encoder work_dirs/deploy/text_encoder \\
        --texts "scratch on steel" "hole in wood" --out rtvpnet_s_int8.onnx \\
        --check
    python tools/deploy/quantize_onnx.py yolov8.onnx data/line_images/ \\
        --out yolov8_int8.onnx
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, Optional

import numpy as np

from mmioc_rtvp.deploy.quantize import (DEFAULT_OP_TYPES,
                                        calibration_images,
                                        quantize_detector,
                                        read_file_metadata)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('onnx', help='file of tools/deploy/export_onnx.py')
    parser.add_argument('calibration', help='folder of calibration images')
    parser.add_argument('--out', required=True, help='INT8 .onnx file')
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument('--text-feats', help='.npy of (K, D) embeddings')
    vocab.add_argument('--text-encoder',
                       help='directory of the exported MiniLM encoder '
                       '(export_onnx.py --text-encoder-out), with --texts')
    parser.add_argument('--texts', nargs='+', help='prompts to encode')
    parser.add_argument('--max-images', type=int, default=32)
    parser.add_argument('--op-types', nargs='+',
                        default=list(DEFAULT_OP_TYPES),
                        help='operator types to quantize (default: '
                        f'{" ".join(DEFAULT_OP_TYPES)})')
    parser.add_argument('--per-tensor', action='store_true',
                        help='one weight scale per tensor (default: per '
                        'output channel)')
    parser.add_argument('--calibrate-method', default='MinMax',
                        choices=('MinMax', 'Entropy', 'Percentile'))
    parser.add_argument('--check', action='store_true',
                        help='compare float and INT8 outputs on the '
                        'calibration images')
    args = parser.parse_args(argv)
    if args.text_encoder and not args.texts:
        parser.error('--text-encoder needs --texts')
    if args.max_images < 1:
        parser.error('--max-images must be >= 1')
    return args


def load_text_feats(args: argparse.Namespace) -> Optional[np.ndarray]:
    """(K, D) embeddings from ``--text-feats`` or ``--text-encoder``."""
    if args.text_feats:
        return np.load(args.text_feats)
    if args.text_encoder:
        from mmioc_rtvp.deploy.ort_text_encoder import ORTTextEncoder
        return ORTTextEncoder(args.text_encoder)(args.texts)
    return None


def check(float_path: str, int8_path: str, args: argparse.Namespace,
          feats: Optional[np.ndarray]) -> None:
    """Print the largest output differences on the calibration images."""
    import onnxruntime as ort
    sessions = [ort.InferenceSession(p, providers=['CPUExecutionProvider'])
                for p in (float_path, int8_path)]
    meta = read_file_metadata(float_path)
    box_diff = score_diff = 0.0
    for image in calibration_images(args.calibration,
                                    tuple(meta['image_shape']),
                                    meta['preprocess'], args.max_images):
        feed = dict(image=image)
        if feats is not None:
            feed['text_feats'] = np.asarray(feats, np.float32).reshape(
                1, -1, meta['embed_dims'])
        (b0, s0), (b1, s1) = (s.run(['boxes', 'scores'], feed)
                              for s in sessions)
        box_diff = max(box_diff, float(np.abs(b0 - b1).max()))
        score_diff = max(score_diff, float(np.abs(s0 - s1).max()))
    print(f'float vs INT8 on the calibration images: max |box diff| '
          f'{box_diff:.2f} px, max |score diff| {score_diff:.4f}')


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    feats = load_text_feats(args)
    start = time.perf_counter()
    quantize_detector(
        args.onnx, args.out, args.calibration, text_feats=feats,
        max_images=args.max_images, op_types=args.op_types,
        per_channel=not args.per_tensor,
        calibrate_method=args.calibrate_method)
    print(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} MB, '
          f'float {osp.getsize(args.onnx) / 2**20:.1f} MB) in '
          f'{time.perf_counter() - start:.1f} s')
    if args.check:
        check(args.onnx, args.out, args, feats)
    return 0


if __name__ == '__main__':
    sys.exit(main())
