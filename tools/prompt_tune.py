# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Learn one embedding per new class from a few labelled images.

    python tools/prompt_tune.py CONFIG CHECKPOINT --ann support.json \\
        --classes "dent,burr" --keep-vocabulary texts/seen.json \\
        --out work_dirs/tuned.npz [--steps 200 --lr 0.05 --seed 0]

Every network weight stays frozen; only the new classes' embeddings are
learned, by the detector's own detection loss on the support images, with
the kept vocabulary's text embeddings fixed beside them
(:mod:`mmioc_rtvp.apis.prompt_tuning`). ``--ann`` is a COCO-style file
whose categories are named: boxes of the new classes (and of kept classes)
are the ground truth; boxes of other categories are left out and counted.
The output is a prompt-embeddings file (kind ``tuned``, with the model's
fingerprint) that the inferencer, tools/infer.py, the onnxruntime runner
and the web demo read (docs/exemplar_prompts.md).
"""
import argparse
import os.path as osp
import time
from typing import List, Optional

from mmengine.config import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='checkpoint, or none (random)')
    parser.add_argument('--ann', required=True,
                        help='COCO-style annotations of the support images')
    parser.add_argument('--img-dir', default=None,
                        help='folder of the images (default: the --ann '
                        'file\'s folder)')
    parser.add_argument('--classes', required=True,
                        help='the new classes, comma separated (category '
                        'names of --ann)')
    parser.add_argument('--keep-vocabulary', default=None,
                        help='the classes kept beside them: .txt / .json '
                        'file or "a,b,c" (encoded as text)')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument('--steps', type=int, default=200)
    parser.add_argument('--lr', type=float, default=0.05)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--init', default='auto',
                        choices=['auto', 'text', 'exemplar', 'random'],
                        help='start: the class name as text, its support '
                        'boxes as exemplars, or random (auto: the first '
                        'the model can do)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    from mmioc_rtvp.apis import Vocabulary
    from mmioc_rtvp.apis.image_pipeline import load_detector
    from mmioc_rtvp.apis.model_fingerprint import model_fingerprint
    from mmioc_rtvp.apis.prompt_tuning import (initial_embeddings,
                                               tune_on_batch, tuned_records)
    from mmioc_rtvp.apis.support_images import (read_coco_support,
                                                support_batch)
    from mmioc_rtvp.prompts import save_prompt_embeddings

    new = Vocabulary.parse(args.classes).names
    kept = (Vocabulary.parse(args.keep_vocabulary)
            if args.keep_vocabulary else None)
    kept_names = kept.names if kept else []
    clash = sorted(set(new) & set(kept_names))
    if clash:
        raise SystemExit(f'prompt_tune: {clash} are both new and kept')
    if not osp.isfile(args.ann):
        raise SystemExit(f'prompt_tune: no such file: {args.ann}')
    data = read_coco_support(args.ann, kept_names + new, args.img_dir)
    for j, name in enumerate(new):
        if not any((lab == len(kept_names) + j).any()
                   for lab in data['labels']):
            raise SystemExit(f'prompt_tune: {args.ann}: the new class '
                             f'{name!r} has no box (categories: '
                             f'{sorted(data["left_out"])})')
    model = load_detector(args.config, args.checkpoint, args.cfg_options,
                          args.device, args.seed)
    support = support_batch(model, data['images'], data['boxes'],
                            data['labels'])
    labels = support.bboxes_labels[:, 1].long()
    num_new = int((labels >= len(kept_names)).sum())
    left_out = sum(data['left_out'].values())
    print(f'prompt_tune: {len(data["images"])} images, '
          f'{len(labels) + left_out} boxes: {num_new} of the new classes, '
          f'{len(labels) - num_new} of kept classes, {left_out} left out '
          f'(categories outside the vocabulary: {data["left_out"] or "-"})')
    init = initial_embeddings(model, new, support, len(kept_names),
                              args.init, args.seed)
    base = (kept.embed(model.backbone.forward_text)[0].cpu()
            if kept else init.new_zeros(0, init.shape[1]))
    start = time.perf_counter()
    result = tune_on_batch(model, support, base, init, args.steps, args.lr)
    seconds = time.perf_counter() - start
    print(f'prompt_tune: {args.steps} steps in {seconds:.1f} s, loss '
          f'{result.losses[0]:.4f} -> {result.losses[-1]:.4f}')
    settings = dict(steps=args.steps, lr=args.lr, seed=args.seed,
                    init=args.init, kept_vocabulary=kept_names)
    records = tuned_records(new, len(kept_names), data, args.ann, settings)
    save_prompt_embeddings(args.out, result.embeds.cpu().numpy(), records,
                           model_fingerprint(model), 'tools/prompt_tune.py')
    print(f'prompt_tune: wrote {len(records)} tuned embeddings to '
          f'{args.out}')


if __name__ == '__main__':
    main()
