# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Turn boxes on reference images into an exemplar file.

    python tools/make_exemplars.py CONFIG CHECKPOINT \
        --refs refs.csv --out exemplars.npz

REFS: a ``.csv`` with the header ``class,image,x1,y1,x2,y2`` or a
``.json`` list of ``{"class", "image", "box": [x1, y1, x2, y2]}``; boxes in
the image's pixels, relative image paths relative to the list. A class may
have several exemplars, on one image or on several. The file (embeddings,
manifest, the model's fingerprint) is read by ``tools/infer.py
--exemplars``, the onnxruntime backend, OK/NG calibration and the web demo
(docs/exemplar_prompts.md). ``--append`` keeps the entries already in OUT
(it must come from the same checkpoint).

A reference that cannot be used (unreadable image, box of zero area or
outside the image) is refused with one line; the others are written, and
the last line reconciles the counts (written + refused = given). Each
class's line says how many exemplars it uses and which were excluded as
outliers. Exit status: 0 when something was written, 1 otherwise, 2 for
missing files or a file of another model.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmioc_rtvp.apis.inference_inputs import MAX_IMAGE_PIXELS


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='model config with an exemplar '
                        'encoder (configs/exemplar/)')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--refs', required=True,
                        help='reference list (.csv or .json)')
    parser.add_argument('--out', required=True, help='exemplar file (.npz)')
    parser.add_argument('--append', action='store_true',
                        help='keep the entries already in OUT')
    parser.add_argument(
        '--max-pixels', type=int, default=MAX_IMAGE_PIXELS,
        help='reference images declaring more pixels are refused')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint, args.refs):
        if not osp.isfile(path):
            print(f'make_exemplars: no such file: {path}', file=sys.stderr)
            return 2
    from mmengine.config import Config

    from mmioc_rtvp.apis import build_detector
    from mmioc_rtvp.apis.exemplar_prompts import make_exemplar_file
    from mmioc_rtvp.prompts import PromptEmbeddingsError
    model, _ = build_detector(Config.fromfile(args.config), args.checkpoint)
    if getattr(model, 'exemplar_encoder', None) is None:
        print(f'make_exemplars: {args.config} has no exemplar encoder; use '
              'a config of configs/exemplar/', file=sys.stderr)
        return 2
    append_to = args.out if args.append and osp.isfile(args.out) else None
    try:
        report = make_exemplar_file(model, args.refs, args.out, append_to,
                                    args.max_pixels)
    except (PromptEmbeddingsError, ValueError) as err:
        print(f'make_exemplars: {err}', file=sys.stderr)
        return 2
    for line in report.lines():
        print(f'make_exemplars: {line}')
    if report.prompts is None:
        print(f'make_exemplars: nothing written to {args.out}',
              file=sys.stderr)
        return 1
    print(f'make_exemplars: {len(report.prompts)} entries -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
