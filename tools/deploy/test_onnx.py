# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Evaluate an exported ONNX file (float or INT8) like tools/test.py.

The config's test set (dataloader, test pipeline and evaluator, e.g.
``MMIOCMetric``) is run with the network of the ``.onnx`` file (a file of
``tools/deploy/export_onnx.py`` or ``tools/deploy/quantize_onnx.py``)
instead of PyTorch's: :class:`mmioc_rtvp.deploy.ort_inferencer.ORTInferencer`
(the config's data preprocessor, ONNX Runtime for the network, the model's
``test_cfg`` for score threshold and NMS). A run-time-vocabulary file is
given the embeddings of the test set's class texts (one prompt per class,
as the test pipeline's ``LoadText`` gives the PyTorch model), computed by
the config's text encoder (``--checkpoint``: its weights; without, the
config's initialisation, which is the frozen pre-trained encoder of the
shipped configs). A baked file must have the test set's vocabulary, a
closed-set file the config's classes.

Another test set: ``--ann-file`` and ``--class-text`` (both relative to
the data root, or absolute) replace the config's annotation file (of the
dataset and of the evaluator) and class texts; ``--data-root`` moves the
whole test set. The figures are printed as tools/test.py prints them and
written as JSON (``--out``), with the numbers of images and detections.

Examples (MMIOC-mini's open split: the unseen classes are the config's
test set; the seen classes on their held-out images)::

    python tools/deploy/test_onnx.py configs/rtvpnet_s_mini.py \\
        rtvpnet_s_mini_int8.onnx --checkpoint CKPT --out unseen.json
    python tools/deploy/test_onnx.py configs/rtvpnet_s_mini.py \\
        rtvpnet_s_mini_int8.onnx --checkpoint CKPT \\
        --ann-file annotations/open_val_seen.json \\
        --class-text texts/seen_class_texts.json --out seen.json
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config, DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the file was exported '
                        'from')
    parser.add_argument('onnx', help='.onnx file (float or INT8)')
    parser.add_argument('--checkpoint',
                        help='the checkpoint exported: weights of the text '
                        'encoder (default: the config\'s initialisation)')
    parser.add_argument('--data-root',
                        help='data root of the test set (default: the '
                        'config\'s)')
    parser.add_argument('--ann-file',
                        help='annotation file, relative to the data root '
                        '(default: the config\'s test annotation file)')
    parser.add_argument('--class-text',
                        help='class-text JSON, relative to the data root '
                        '(default: the config\'s test class texts)')
    parser.add_argument('--out',
                        help='JSON file of the figures (default: next to '
                        'the .onnx file, <onnx stem>.<annotation stem>.json)')
    parser.add_argument('--threads', type=int, default=None,
                        help='onnxruntime intra-op threads (default: its '
                        'own)')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='data loader workers (default: the config\'s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    if args.num_workers is not None and args.num_workers < 0:
        parser.error('--num-workers must be >= 0')
    return args


def _under(root: str, path: str) -> str:
    """``path`` when absolute, else below ``root``."""
    return path if osp.isabs(path) else osp.join(root, path)


def set_test_set(cfg: Config, data_root: Optional[str] = None,
                 ann_file: Optional[str] = None,
                 class_text: Optional[str] = None) -> Tuple[str, str]:
    """Point the config's test dataloader and evaluator at another test set.

    Args:
        cfg (Config): Changed in place.
        data_root (str, optional): New data root (the images'
            ``data_prefix`` is kept); the config's class-text path moves
            with it when it lies below the old root.
        ann_file (str, optional): Annotation file (relative to the data
            root, or absolute), for the dataset and the evaluator.
        class_text (str, optional): Class-text JSON (relative to the data
            root, or absolute).

    Returns:
        tuple[str, str]: The annotation file and the class-text file (''
        for a closed-set config) the test will read.
    """
    wrapper = cfg.test_dataloader.dataset
    inner = wrapper.get('dataset', wrapper)
    old_root = str(inner.get('data_root') or '')
    root = data_root if data_root is not None else old_root
    ann = ann_file if ann_file is not None else inner.ann_file
    inner.data_root = root
    inner.ann_file = ann
    ann_path = _under(root, ann)
    if ann_file is not None or data_root is not None:
        metrics = cfg.test_evaluator
        for metric in metrics if isinstance(metrics, list) else [metrics]:
            metric.ann_file = ann_path
    text = wrapper.get('class_text_path')
    if class_text is not None:
        if text is None:
            raise ValueError(f'{cfg.filename}: a closed-set config has no '
                             'class texts (--class-text)')
        text = _under(root, class_text)
    elif text and data_root is not None and old_root and \
            str(text).startswith(old_root):
        text = osp.join(root, str(text)[len(old_root):].lstrip('/'))
    if text is not None:
        wrapper.class_text_path = text
    for path, what in ((ann_path, 'annotation file'),
                       (text, 'class-text file')):
        if path and not osp.isfile(path):
            raise FileNotFoundError(f'{cfg.filename}: the test {what} '
                                    f'{path} does not exist')
    return ann_path, text or ''


def evaluate_onnx(cfg: Config,
                  onnx_file: str,
                  checkpoint: Optional[str] = None,
                  threads: Optional[int] = None) -> Tuple[Dict, Dict]:
    """Run the config's test set through an exported file and evaluate.

    Args:
        cfg (Config): The config (with its test set, see
            :func:`set_test_set`).
        onnx_file (str): The ``.onnx`` file.
        checkpoint (str, optional): Weights of the text encoder.
        threads (int, optional): ONNX Runtime intra-op threads.

    Returns:
        tuple[dict, dict]: The evaluator's figures (keys as in
        tools/test.py, e.g. ``coco/bbox_mAP``) and the counts: ``images``
        (of the dataset, all evaluated) and ``detections``.
    """
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmioc_rtvp.deploy.ort_inferencer import ORTInferencer
    init_default_scope(cfg.get('default_scope', 'mmioc_rtvp'))
    inferencer = ORTInferencer(cfg, onnx_file, weights=checkpoint,
                               num_threads=threads, show_progress=False,
                               palette='none')
    dataloader = Runner.build_dataloader(cfg.test_dataloader)
    dataset = dataloader.dataset
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    images = detections = 0
    for data in dataloader:
        samples = data['data_samples']
        texts = samples[0].metainfo.get('texts')
        if texts is not None:
            for sample in samples:
                if sample.metainfo.get('texts') != texts:
                    raise ValueError(
                        f'{cfg.filename}: image {sample.img_path} has '
                        'another vocabulary than the first image of its '
                        'batch; the test pipeline must give every image '
                        'the whole vocabulary (LoadText)')
            # one prompt per class, as LoadText gives the PyTorch model
            inferencer.set_vocabulary([[t] for t in texts])
        size = tuple(data['inputs'][0].shape[-2:])
        if size != inferencer.ort.image_shape:
            raise ValueError(
                f'{onnx_file} was exported for {inferencer.ort.image_shape} '
                f'inputs but the test pipeline of {cfg.filename} gives '
                f'{size}: export with --shape {size[0]} {size[1]}')
        outputs = inferencer.forward(data)
        images += len(outputs)
        detections += sum(len(s.pred_instances) for s in outputs)
        evaluator.process(data_samples=outputs, data_batch=data)
    if images != len(dataset):
        raise RuntimeError(f'{images} images evaluated of the '
                           f'{len(dataset)} of the test set')
    metrics = evaluator.evaluate(len(dataset))
    return metrics, dict(images=images, detections=detections)


def default_out(onnx_file: str, ann_file: str) -> str:
    """``<onnx without .onnx>.<annotation stem>.json``."""
    stem = osp.splitext(osp.basename(ann_file))[0]
    return f'{osp.splitext(onnx_file)[0]}.{stem}.json'


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if not osp.isfile(args.onnx):
        raise FileNotFoundError(f'ONNX file {args.onnx} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.num_workers is not None:
        cfg.test_dataloader.num_workers = args.num_workers
        if args.num_workers == 0:
            cfg.test_dataloader.persistent_workers = False
    ann_file, class_text = set_test_set(cfg, args.data_root, args.ann_file,
                                        args.class_text)
    start = time.perf_counter()
    metrics, counts = evaluate_onnx(cfg, args.onnx, args.checkpoint,
                                    args.threads)
    seconds = time.perf_counter() - start
    from mmioc_rtvp.deploy.quantize import read_file_metadata
    meta = read_file_metadata(args.onnx)
    print(f'{args.onnx} ({meta["kind"]}, '
          f'{"INT8" if meta.get("quantization") else "float"}) on '
          f'{ann_file}' + (f' with {class_text}' if class_text else '') +
          f': {counts["images"]} images, {counts["detections"]} detections, '
          f'{seconds:.1f} s')
    print(f'Epoch(test) [{counts["images"]}/{counts["images"]}]    ' +
          '  '.join(f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}'
                    for k, v in metrics.items()))
    out = args.out or default_out(args.onnx, ann_file)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(dict(metrics=metrics, **counts, seconds=seconds,
                       config=args.config, onnx=args.onnx,
                       checkpoint=args.checkpoint, ann_file=ann_file,
                       class_text=class_text, kind=meta['kind'],
                       quantization=meta.get('quantization')), f, indent=2)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
