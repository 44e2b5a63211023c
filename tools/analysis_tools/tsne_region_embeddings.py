# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""t-SNE of the region embeddings of ground-truth boxes (paper Fig. 10).

For every sampled ground-truth box of ``--ann-file``, the region embedding
(the input of the contrastive classifier, ``region_embeddings()`` of
YOLO-World and RTVPNet) is read at the cell holding the box centre on one
pyramid level, L2-normalised (the classifier compares directions), and the
points are embedded in 2-D with scikit-learn's t-SNE, coloured by their
ground-truth class. Compact, separated clusters mean that the detector's
features tell the classes apart. Example (unseen classes of the open
split)::

    python tools/analysis_tools/tsne_region_embeddings.py \\
        configs/rtvpnet_s_mini.py work_dirs/rtvpnet_s_mini/epoch_40.pth \\
        --ann-file data/mmioc_mini/annotations/open_val.json \\
        --img-dir data/mmioc_mini/images --out work_dirs/tsne/rtvpnet.png

Level rule (``--level auto``): the finest level on which the box spans at
most :data:`MAX_CELLS` cells, measured by the geometric mean of its sides in
network-input pixels: ``sqrt(w * h) <= 8 * stride``, i.e. boxes up to 64 /
128 input pixels use strides 8 / 16, larger ones stride 32. Every level has
its own class-branch convolution, so points of different levels can form
separate groups: the plot's markers show the level, and ``--level 0`` reads
every box on one level.

The model's vocabulary (which guides its neck) is the first prompt of each
class: of ``--texts-file`` (YOLO-World class-text JSON, in the order of the
file's categories), else of each category's ``texts``, else its name.
Up to ``--max-per-class`` boxes are drawn per class at random (``--seed``);
t-SNE's perplexity is ``min(30, (N - 1) / 3)`` for N points unless given.
Outputs: the PNG, and next to it ``<stem>.json`` (settings and one record per
point: ``x``, ``y``, ``label``, ``class_name``, ``ann_id``, ``image_id``,
``level``, ``row``, ``col``) and ``<stem>.csv`` (the same records).

CHECKPOINT ``none`` builds the model with random weights (seeded by
``--seed``), which is only useful to test the tool.
"""
import argparse
import csv
import math
import os
import os.path as osp
import sys
from collections import defaultdict
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch.nn as nn
from mmengine.config import DictAction
from mmengine.dataset import Compose

from mmioc_rtvp.apis.image_pipeline import (build_file_pipeline,
                                            input_to_original, load_detector,
                                            prepare_inputs)
from mmioc_rtvp.datasets.multimodal_dataset import load_class_texts
from mmioc_rtvp.format.io import class_texts, dump_json, load_mmioc

#: --level auto: the finest level where sqrt(w * h) <= MAX_CELLS * stride
MAX_CELLS = 8
#: fewest points t-SNE is run on
MIN_POINTS = 5
MAX_PERPLEXITY = 30.0


def select_level(box_size: float, strides: Sequence[float]) -> int:
    """Pyramid level of a box of geometric-mean side ``box_size``.

    Args:
        box_size (float): ``sqrt(w * h)`` in network-input pixels.
        strides (Sequence[float]): Strides of the levels, finest first.

    Returns:
        int: The first level with ``box_size <= MAX_CELLS * stride``, else
        the last one.
    """
    for i, stride in enumerate(strides):
        if box_size <= MAX_CELLS * stride:
            return i
    return len(strides) - 1


def box_cell(box: Sequence[float], meta: dict,
             shapes: Sequence[Tuple[int, int]], input_width: int,
             level: Optional[int] = None) -> Tuple[int, int, int]:
    """Level and cell of a ground-truth box's centre.

    Args:
        box (Sequence[float]): xyxy in original image pixels.
        meta (dict): Metainfo of the test pipeline (``scale_factor``,
            ``pad_param``; see ``mmioc_rtvp.apis.image_pipeline.input_to_original``).
        shapes (Sequence[tuple]): ``(H_i, W_i)`` of every level.
        input_width (int): Width W of the network input (strides are
            ``W / W_i``).
        level (int, optional): Force a level; None uses
            :func:`select_level`.

    Returns:
        tuple[int, int, int]: ``(level, row, col)``.
    """
    sx, sy, left, top = input_to_original(meta)
    x1, y1, x2, y2 = (float(v) for v in box)
    strides = [input_width / w for _, w in shapes]
    if level is None:
        size = math.sqrt(max(x2 - x1, 0.0) * sx * max(y2 - y1, 0.0) * sy)
        level = select_level(size, strides)
    u = (x1 + x2) / 2 * sx + left
    v = (y1 + y2) / 2 * sy + top
    h, w = shapes[level]
    col = min(max(int(math.floor(u / strides[level])), 0), w - 1)
    row = min(max(int(math.floor(v / strides[level])), 0), h - 1)
    return level, row, col


def perplexity_for(num_points: int) -> float:
    """``min(30, (N - 1) / 3)``: t-SNE needs ``perplexity < N``."""
    return min(MAX_PERPLEXITY, (num_points - 1) / 3.0)


def sample_boxes(ann_file: str, max_per_class: int,
                 seed: int) -> Tuple[List[dict], dict]:
    """Ground-truth boxes to embed, up to ``max_per_class`` per class.

    Args:
        ann_file (str): MMIOC annotation JSON.
        max_per_class (int): Cap per class (random subset, ``seed``).
        seed (int): Seed of the subset.

    Returns:
        tuple: ``(records, data)``: per sampled box ``dict(ann_id,
        image_id, file_name, bbox (xyxy), label)`` grouped by image, and the
        parsed file.

    Raises:
        ValueError: Fewer than 2 classes with boxes or fewer than
            :data:`MIN_POINTS` boxes; a malformed record.
    """
    data = load_mmioc(ann_file)
    label_of = {cat['id']: i for i, cat in enumerate(data['categories'])}
    images = {img['id']: img for img in data['images']}
    by_label = defaultdict(list)
    for ann in data['annotations']:
        name = f'{ann_file}: annotation {ann.get("id")}'
        if ann.get('image_id') not in images:
            raise ValueError(f'{name} refers to unknown image '
                             f'{ann.get("image_id")}')
        if ann.get('category_id') not in label_of:
            raise ValueError(f'{name} refers to unknown category '
                             f'{ann.get("category_id")}')
        if ann.get('iscrowd', 0):
            continue
        x, y, w, h = (float(v) for v in ann['bbox'])
        if w <= 0 or h <= 0:
            raise ValueError(f'{name} has an empty box {ann["bbox"]}')
        by_label[label_of[ann['category_id']]].append(
            dict(
                ann_id=ann.get('id'),
                image_id=ann['image_id'],
                file_name=images[ann['image_id']]['file_name'],
                bbox=[x, y, x + w, y + h],
                label=label_of[ann['category_id']]))
    if len(by_label) < 2:
        raise ValueError(
            f'{ann_file}: t-SNE by class needs boxes of at least 2 classes, '
            f'got {len(by_label)}')
    rng = np.random.default_rng(seed)
    records = []
    for label in sorted(by_label):
        boxes = by_label[label]
        if len(boxes) > max_per_class:
            keep = np.sort(rng.choice(len(boxes), max_per_class,
                                      replace=False))
            boxes = [boxes[i] for i in keep]
        records.extend(boxes)
    if len(records) < MIN_POINTS:
        raise ValueError(
            f'{ann_file}: {len(records)} boxes sampled, t-SNE needs at '
            f'least {MIN_POINTS}')
    records.sort(key=lambda r: (str(r['file_name']), r['image_id']))
    return records, data


def vocabulary(data: dict, ann_file: str,
               texts_file: Optional[str]) -> List[str]:
    """First prompt of every class (the model's vocabulary)."""
    if texts_file:
        texts = load_class_texts(texts_file)
        if len(texts) != len(data['categories']):
            raise ValueError(
                f'{texts_file} has {len(texts)} classes but {ann_file} '
                f'{len(data["categories"])} categories')
    else:
        texts = class_texts(data['categories'])
    return [prompts[0] for prompts in texts]


def collect_embeddings(model: nn.Module,
                       pipeline: Compose,
                       records: List[dict],
                       img_dir: str,
                       level: Optional[int] = None) -> np.ndarray:
    """Region embeddings at the boxes' centres (see :func:`box_cell`).

    Adds ``level``, ``row`` and ``col`` to every record.

    Args:
        model (nn.Module): Detector with ``region_embeddings`` and a
            vocabulary (``reparameterize`` called).
        pipeline (Compose): Inference pipeline.
        records (list[dict]): From :func:`sample_boxes`.
        img_dir (str): Directory of the ``file_name`` paths.
        level (int, optional): Force a level.

    Returns:
        np.ndarray: (N, D) float32 embeddings, as the model returns them.
    """
    by_image = defaultdict(list)
    for i, rec in enumerate(records):
        by_image[rec['image_id']].append(i)
    out: List[Optional[np.ndarray]] = [None] * len(records)
    for indices in by_image.values():
        path = osp.join(img_dir, records[indices[0]]['file_name'])
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'image {records[indices[0]]["image_id"]}: no such file '
                f'{path} (check --img-dir)')
        inputs, meta = prepare_inputs(model, pipeline, path)
        feats = model.region_embeddings(inputs)
        shapes = [tuple(f.shape[-2:]) for f in feats]
        if level is not None and not 0 <= level < len(feats):
            raise ValueError(f'--level {level}: the model has {len(feats)} '
                             'levels')
        for i in indices:
            lvl, row, col = box_cell(records[i]['bbox'], meta, shapes,
                                     inputs.shape[-1], level)
            records[i].update(level=lvl, row=row, col=col)
            out[i] = feats[lvl][0, :, row, col].float().cpu().numpy()
    return np.stack(out)


def run_tsne(embeddings: np.ndarray,
             seed: int,
             perplexity: Optional[float] = None) -> Tuple[np.ndarray, float]:
    """2-D t-SNE of L2-normalised embeddings.

    Args:
        embeddings (np.ndarray): (N, D).
        seed (int): ``random_state``.
        perplexity (float, optional): None uses :func:`perplexity_for`.

    Returns:
        tuple: ``((N, 2) points, perplexity used)``.
    """
    from sklearn.manifold import TSNE
    num = len(embeddings)
    if num < MIN_POINTS:
        raise ValueError(f't-SNE needs at least {MIN_POINTS} points, got '
                         f'{num}')
    if perplexity is None:
        perplexity = perplexity_for(num)
    if not 0 < perplexity < num:
        raise ValueError(f'--perplexity must be in (0, {num}) for {num} '
                         f'points, got {perplexity}')
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    feats = embeddings / np.maximum(norms, 1e-12)
    tsne = TSNE(
        n_components=2, perplexity=perplexity, init='pca',
        random_state=seed)
    return tsne.fit_transform(feats.astype(np.float64)), perplexity


def plot_points(points: np.ndarray, labels: Sequence[int],
                levels: Sequence[int], names: Sequence[str], out_file: str,
                title: str) -> None:
    """Scatter plot: colour = class (legend of names), marker = level.

    Every level has its own class-branch convolution, so points of
    different levels may form separate groups; the markers show it.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    labels, levels = np.asarray(labels), np.asarray(levels)
    markers = 'os^Dv'
    if len(names) <= 20:
        cmap = matplotlib.colormaps['tab10' if len(names) <= 10 else 'tab20']
        colors = [cmap(i % cmap.N) for i in range(len(names))]
    else:
        cmap = matplotlib.colormaps['hsv']
        colors = [cmap(i / len(names)) for i in range(len(names))]
    fig = Figure(figsize=(7, 6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for label in sorted(set(labels.tolist())):
        for level in sorted(set(levels[labels == label].tolist())):
            sel = (labels == label) & (levels == level)
            ax.scatter(points[sel, 0], points[sel, 1], s=14,
                       color=colors[label],
                       marker=markers[level % len(markers)])
    handles = [
        Line2D([], [], linestyle='', marker='o', color=colors[label],
               label=f'{names[label]} ({int((labels == label).sum())})')
        for label in sorted(set(labels.tolist()))
    ]
    handles += [
        Line2D([], [], linestyle='', marker=markers[level % len(markers)],
               color='gray', label=f'level {level}')
        for level in sorted(set(levels.tolist()))
    ]
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    ax.legend(handles=handles, loc='center left', bbox_to_anchor=(1.0, 0.5),
              fontsize=8, frameon=False)
    fig.savefig(out_file, bbox_inches='tight')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description='t-SNE of region embeddings at ground-truth boxes '
        '(paper Fig. 10)')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='.pth, or `none` (random weights)')
    parser.add_argument('--ann-file', required=True)
    parser.add_argument('--img-dir', required=True,
                        help='directory of the file_name paths')
    parser.add_argument('--out', required=True, help='output .png')
    parser.add_argument('--max-per-class', type=int, default=50)
    parser.add_argument(
        '--texts-file',
        help='class-text JSON in the order of the categories (default: '
        'their texts)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--level', default='auto', choices=['auto', '0', '1', '2'],
        help='pyramid level (auto: by box size, see the module doc)')
    parser.add_argument(
        '--perplexity', type=float,
        help='default: min(30, (N - 1) / 3) for N points')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Embed, project, plot and save; returns the JSON record."""
    if args.max_per_class < 1:
        raise ValueError(f'--max-per-class must be >= 1, got '
                         f'{args.max_per_class}')
    if not args.out.lower().endswith('.png'):
        raise ValueError(f'--out must be a .png file, got {args.out}')
    if not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'no such image directory: {args.img_dir}')
    records, data = sample_boxes(args.ann_file, args.max_per_class,
                                 args.seed)
    texts = vocabulary(data, args.ann_file, args.texts_file)
    names = [cat['name'] for cat in data['categories']]

    model = load_detector(args.config, args.checkpoint, args.cfg_options,
                       args.device, args.seed)
    if not hasattr(model, 'region_embeddings') or not hasattr(
            model, 'reparameterize'):
        raise ValueError(
            f'the model ({type(model).__name__}) has no region embeddings: '
            'it needs to be an open-vocabulary detector (YOLOWorldDetector '
            'or RTVPNet)')
    model.reparameterize([texts])
    pipeline = build_file_pipeline(model.cfg)
    level = None if args.level == 'auto' else int(args.level)
    feats = collect_embeddings(model, pipeline, records, args.img_dir, level)
    points, perplexity = run_tsne(feats, args.seed, args.perplexity)

    stem = osp.splitext(args.out)[0]
    parent = osp.dirname(osp.abspath(args.out))
    title = (f'{osp.basename(args.config)} | {osp.basename(args.checkpoint)}'
             f'\n{len(records)} boxes of {osp.basename(args.ann_file)}')
    rows = [
        dict(x=float(p[0]), y=float(p[1]), label=r['label'],
             class_name=names[r['label']], ann_id=r['ann_id'],
             image_id=r['image_id'], level=r['level'], row=r['row'],
             col=r['col']) for p, r in zip(points, records)
    ]
    result = dict(
        config=args.config, checkpoint=args.checkpoint,
        ann_file=args.ann_file, seed=args.seed, perplexity=perplexity,
        max_per_class=args.max_per_class, level=args.level,
        classes=names, texts=texts, points=rows)
    dump_json(result, f'{stem}.json', indent=True)
    os.makedirs(parent, exist_ok=True)
    with open(f'{stem}.csv', 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_points(points, [r['label'] for r in records],
                [r['level'] for r in records], names, args.out, title)
    print(f'tsne_region_embeddings: {len(rows)} points of '
          f'{len({r["label"] for r in rows})} classes -> {args.out}, '
          f'{stem}.json, {stem}.csv')
    return result


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    try:
        run(args)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
