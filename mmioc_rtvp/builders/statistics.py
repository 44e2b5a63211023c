# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Statistics and plots of an MMIOC dataset (the paper's Figs. 5-6).

:func:`compute_statistics` counts, with numpy only:

- per class: instances (boxes) and images, and its boxes per COCO scale;
  classes sorted by instances (descending; ties: file order) show the long
  tail of the paper's Fig. 6;
- box scales by COCO's area thresholds: ``small`` ``area < 32**2``,
  ``medium`` ``32**2 <= area < 96**2``, ``large`` ``area >= 96**2``. The
  area is the annotation's ``area`` field (what COCO evaluation uses),
  ``w * h`` of the box where it is missing. (COCOeval's ranges are closed
  intervals, so an area of exactly ``32**2`` or ``96**2`` counts in two of
  its ranges; here every box is in exactly one bucket.) A histogram of
  ``sqrt(area)`` is kept for the plot;
- per supercategory and per scene (of the categories): classes, instances,
  images with a box of it; per scene also the defect-free images whose
  ``scene`` field names it;
- an overview: images, defect-free images, boxes per image, image sizes.

:func:`plot_statistics` draws PNGs with matplotlib's Agg canvas (no pyplot,
no display needed) and :func:`format_markdown` writes a summary with
tables. :func:`run_statistics` does everything for an annotation file.
"""
import csv
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from mmioc_rtvp.format.io import (AnnotationArrays, dump_json, encode_strings,
                                  load_mmioc)

#: COCO's area thresholds (pixels^2) between small / medium / large.
SMALL_AREA = 32**2
MEDIUM_AREA = 96**2
SCALES = ('small', 'medium', 'large')
#: File names written by :func:`run_statistics`.
PLOT_FILES = dict(
    class_counts='class_counts.png',
    box_scales='box_scales.png',
    supercategories='supercategories.png',
    scenes='scenes.png')


def scale_bucket(areas: np.ndarray) -> np.ndarray:
    """COCO scale bucket of each area: 0 small, 1 medium, 2 large.

    Args:
        areas (np.ndarray): ``(M,)`` areas in pixels^2.

    Returns:
        np.ndarray: ``(M,)`` int64; ``area < 32**2`` -> 0,
        ``32**2 <= area < 96**2`` -> 1, ``area >= 96**2`` -> 2.
    """
    return np.searchsorted(
        np.array([SMALL_AREA, MEDIUM_AREA], dtype=np.float64),
        np.asarray(areas, dtype=np.float64),
        side='right').astype(np.int64)


def _group_table(arrays: AnnotationArrays, class_group: Sequence[str],
                 pair_image: np.ndarray, pair_label: np.ndarray,
                 instances: np.ndarray) -> List[dict]:
    """Classes, instances and images of every group of classes."""
    codes, names = encode_strings(list(class_group))
    codes = np.where(codes < 0, len(names), codes)
    num_groups = len(names) + 1
    inst = np.bincount(codes, weights=instances, minlength=num_groups)
    classes = np.bincount(codes, minlength=num_groups)
    pair_group = np.unique(pair_image * num_groups + codes[pair_label]) \
        % num_groups
    images = np.bincount(pair_group, minlength=num_groups)
    rows = [
        dict(name=n, classes=int(classes[g]), instances=int(inst[g]),
             images=int(images[g])) for g, n in enumerate(names + [''])
        if classes[g]
    ]
    rows.sort(key=lambda r: -r['instances'])
    return rows


def compute_statistics(arrays: AnnotationArrays, hist_bins: int = 60) -> dict:
    """Every number of the statistics report.

    Args:
        arrays (AnnotationArrays): The dataset.
        hist_bins (int): Bins of the ``sqrt(area)`` histogram (log-spaced).

    Returns:
        dict: ``overview``, ``scales``, ``scale_histogram``, ``classes``
        (sorted by instances, descending), ``supercategories`` and
        ``scenes`` (sorted by instances), ``long_tail``.
    """
    k = arrays.num_categories
    labels = arrays.ann_label
    bucket = scale_bucket(arrays.areas)
    instances = np.bincount(labels, minlength=k)
    per_scale = np.bincount(labels * 3 + bucket, minlength=3 * k).reshape(
        k, 3)
    keys = np.unique(arrays.ann_image * max(k, 1) + labels)
    pair_image, pair_label = keys // max(k, 1), keys % max(k, 1)
    images = np.bincount(pair_label, minlength=k)
    order = np.lexsort((np.arange(k), -instances))
    classes = [
        dict(
            rank=r + 1,
            id=int(arrays.category_ids[i]),
            name=arrays.names[i],
            supercategory=arrays.supercategories[i],
            scene=arrays.scenes[i],
            instances=int(instances[i]),
            images=int(images[i]),
            **{s: int(per_scale[i, j])
               for j, s in enumerate(SCALES)})
        for r, i in enumerate(order.tolist())
    ]

    boxes_per_image = np.bincount(arrays.ann_image,
                                  minlength=arrays.num_images)
    num_boxes = arrays.num_annotations
    scale_counts = np.bincount(bucket, minlength=3)
    scales = {
        s: dict(
            count=int(scale_counts[j]),
            share=round(float(scale_counts[j] / num_boxes), 6)
            if num_boxes else 0.0)
        for j, s in enumerate(SCALES)
    }
    side = np.sqrt(np.maximum(arrays.areas, 0))
    positive = side[side > 0]
    if len(positive):
        lo = max(float(positive.min()), 0.5)
        hi = max(float(positive.max()), lo * 1.01)
        edges = np.geomspace(lo, hi, hist_bins + 1)
        counts, _ = np.histogram(np.clip(positive, lo, hi), bins=edges)
    else:
        edges, counts = np.zeros(0), np.zeros(0, dtype=np.int64)

    def describe(values: np.ndarray) -> dict:
        if len(values) == 0:
            return {}
        return dict(
            min=float(values.min()),
            median=float(np.median(values)),
            mean=round(float(values.mean()), 3),
            max=float(values.max()))

    supercategories = _group_table(arrays, arrays.supercategories,
                                   pair_image, pair_label, instances)
    scenes = _group_table(arrays, arrays.scenes, pair_image, pair_label,
                          instances)
    # defect-free images per scene, from the images' own scene field
    free = boxes_per_image == 0
    free_scene = np.bincount(
        arrays.image_scene[free & (arrays.image_scene >= 0)],
        minlength=len(arrays.image_scenes))
    free_by_name = dict(zip(arrays.image_scenes, free_scene.tolist()))
    for row in scenes:
        row['defect_free_images'] = int(free_by_name.pop(row['name'], 0))
    for name, count in free_by_name.items():  # scenes without a class
        if count:
            scenes.append(
                dict(name=name, classes=0, instances=0, images=0,
                     defect_free_images=int(count)))

    nonzero = instances[instances > 0]
    sorted_inst = np.sort(instances)[::-1]
    top = max(1, int(np.ceil(0.1 * k))) if k else 0
    long_tail = dict(
        classes_without_instances=int((instances == 0).sum()),
        max_instances=int(nonzero.max()) if len(nonzero) else 0,
        min_nonzero_instances=int(nonzero.min()) if len(nonzero) else 0,
        imbalance_ratio=round(float(nonzero.max() / nonzero.min()), 3)
        if len(nonzero) else None,
        top10pct_classes=top,
        top10pct_share=round(float(sorted_inst[:top].sum() / num_boxes), 6)
        if num_boxes else 0.0)
    overview = dict(
        images=arrays.num_images,
        defect_free_images=int(free.sum()),
        annotations=num_boxes,
        categories=k,
        supercategories=len({s for s in arrays.supercategories if s}),
        scenes=len({s for s in arrays.scenes if s}),
        boxes_per_image=describe(boxes_per_image[~free].astype(np.float64)),
        image_width=describe(arrays.widths),
        image_height=describe(arrays.heights),
        box_sqrt_area=describe(side))
    return dict(
        overview=overview,
        scales=scales,
        scale_histogram=dict(
            edges=[round(float(e), 4) for e in edges],
            counts=counts.tolist()),
        long_tail=long_tail,
        classes=classes,
        supercategories=supercategories,
        scenes=scenes)


def _figure(width: float, height: float):
    """A matplotlib Figure on an Agg canvas (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _bar_groups(path: str, rows: List[dict], title: str) -> None:
    """Horizontal bars of instances (and images) per group."""
    names = [r['name'] or '(none)' for r in rows][::-1]
    inst = [r['instances'] for r in rows][::-1]
    imgs = [r['images'] for r in rows][::-1]
    fig = _figure(9, max(2.5, 0.28 * len(rows) + 1.2))
    ax = fig.add_subplot()
    pos = np.arange(len(rows))
    ax.barh(pos + 0.2, inst, height=0.4, label='instances', color='#3b75af')
    ax.barh(pos - 0.2, imgs, height=0.4, label='images', color='#ef8636')
    ax.set_yticks(pos, names, fontsize=8)
    if max(inst + [0]) > 0:
        ax.set_xscale('log')
        ax.set_xlim(left=0.5)  # counts are >= 1: bars start below them
    ax.set_xlabel('count (log scale)')
    ax.set_title(title)
    ax.legend(loc='lower right', fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def plot_statistics(stats: dict, out_dir: str) -> Dict[str, str]:
    """Draw the PNG plots of :func:`compute_statistics` output.

    Args:
        stats (dict): The statistics.
        out_dir (str): Output directory.

    Returns:
        dict[str, str]: Plot key -> file path (keys of :data:`PLOT_FILES`).
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: osp.join(out_dir, v) for k, v in PLOT_FILES.items()}

    # per-class counts, sorted: the long tail
    classes = stats['classes']
    counts = np.array([c['instances'] for c in classes])
    fig = _figure(12, 4.5)
    ax = fig.add_subplot()
    ax.bar(np.arange(len(counts)), counts,
           width=0.8 if len(counts) <= 60 else 1.0, color='#3b75af')
    if counts.max(initial=0) > 0:
        ax.set_yscale('log')
        ax.set_ylim(bottom=0.5)  # counts are >= 1: bars start below them
    if len(classes) <= 60:
        ax.set_xticks(np.arange(len(classes)),
                      [c['name'] for c in classes], rotation=90, fontsize=7)
    ax.set_xlabel(f'{len(classes)} classes, sorted by instances')
    ax.set_ylabel('instances (log scale)')
    zero = stats['long_tail']['classes_without_instances']
    ax.set_title('Instances per class' +
                 (f' ({zero} without instances)' if zero else ''))
    ax.set_xlim(-0.5, max(len(classes), 1) - 0.5)
    fig.tight_layout()
    fig.savefig(paths['class_counts'])

    # box scales
    fig = _figure(11, 4)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1, 2]))
    scale_counts = [stats['scales'][s]['count'] for s in SCALES]
    bars = ax1.bar(SCALES, scale_counts, color=['#d95f02', '#7570b3',
                                                '#1b9e77'])
    for bar, s in zip(bars, SCALES):
        ax1.annotate(f"{100 * stats['scales'][s]['share']:.1f}%",
                     (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                     ha='center', va='bottom', fontsize=8)
    ax1.set_ylabel('boxes')
    ax1.set_title('COCO box scales')
    hist = stats['scale_histogram']
    if hist['counts']:
        edges = np.array(hist['edges'])
        ax2.stairs(hist['counts'], edges, fill=True, color='#3b75af')
        ax2.set_xscale('log')
    for threshold in (32, 96):
        ax2.axvline(threshold, color='k', linestyle='--', linewidth=1)
    ax2.set_xlabel('sqrt(box area) in pixels (lines: 32, 96)')
    ax2.set_ylabel('boxes')
    ax2.set_title('Box size distribution')
    fig.tight_layout()
    fig.savefig(paths['box_scales'])

    _bar_groups(paths['supercategories'], stats['supercategories'],
                'Instances and images per supercategory')
    _bar_groups(paths['scenes'], stats['scenes'],
                'Instances and images per scene')
    return paths


def _table(headers: Sequence[str], rows: Sequence[Sequence]) -> List[str]:
    """Markdown table lines."""

    def cell(value) -> str:
        text = f'{value:,}' if isinstance(value, int) else str(value)
        return text.replace('|', '\\|')

    lines = ['| ' + ' | '.join(headers) + ' |',
             '|' + '|'.join('---' for _ in headers) + '|']
    lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]
    return lines


def format_markdown(stats: dict,
                    title: str = 'MMIOC dataset statistics',
                    plots: Optional[Dict[str, str]] = None,
                    top: int = 20) -> str:
    """The markdown summary.

    Args:
        stats (dict): Output of :func:`compute_statistics`.
        title (str): First heading.
        plots (dict[str, str], optional): Plot key -> path relative to the
            markdown file, embedded as images.
        top (int): Rows of the head and tail tables of classes.

    Returns:
        str: Markdown text.
    """
    ov = stats['overview']
    plots = plots or {}
    bpi = ov['boxes_per_image']
    lines = [f'# {title}', '']
    lines += _table(['', 'count'], [
        ['images', ov['images']],
        ['defect-free images', ov['defect_free_images']],
        ['boxes', ov['annotations']],
        ['classes', ov['categories']],
        ['supercategories', ov['supercategories']],
        ['scenes', ov['scenes']],
        ['boxes per defect image (mean / max)',
         f"{bpi.get('mean', 0)} / {bpi.get('max', 0):g}"],
    ])
    lt = stats['long_tail']
    lines += [
        '', '## Long tail', '',
        f"The {lt['top10pct_classes']} most frequent classes (10%) hold "
        f"{100 * lt['top10pct_share']:.1f}% of the boxes; the largest class "
        f"has {lt['max_instances']:,} boxes, the smallest non-empty one "
        f"{lt['min_nonzero_instances']:,} (ratio "
        f"{lt['imbalance_ratio']}); {lt['classes_without_instances']} "
        'classes have no box.', ''
    ]
    if 'class_counts' in plots:
        lines += [f"![instances per class]({plots['class_counts']})", '']
    headers = ['rank', 'class', 'supercategory', 'scene', 'instances',
               'images', 'small', 'medium', 'large']

    def rows(items: List[dict]) -> List[list]:
        return [[c['rank'], c['name'], c['supercategory'], c['scene'],
                 c['instances'], c['images'], c['small'], c['medium'],
                 c['large']] for c in items]

    classes = stats['classes']
    if len(classes) <= 2 * top:
        lines += _table(headers, rows(classes))
    else:
        lines += [f'Most frequent {top} classes:', '']
        lines += _table(headers, rows(classes[:top]))
        lines += ['', f'Least frequent {top} classes:', '']
        lines += _table(headers, rows(classes[-top:]))
        lines += ['', 'All classes: `class_counts.csv`.']
    sc = stats['scales']
    lines += ['', '## Box scales (COCO areas)', '']
    lines += _table(['scale', 'area (pixels^2)', 'boxes', 'share'], [
        ['small', f'< {SMALL_AREA}', sc['small']['count'],
         f"{100 * sc['small']['share']:.2f}%"],
        ['medium', f'{SMALL_AREA} .. < {MEDIUM_AREA}', sc['medium']['count'],
         f"{100 * sc['medium']['share']:.2f}%"],
        ['large', f'>= {MEDIUM_AREA}', sc['large']['count'],
         f"{100 * sc['large']['share']:.2f}%"],
    ])
    if 'box_scales' in plots:
        lines += ['', f"![box scales]({plots['box_scales']})"]
    lines += ['', '## Supercategories', '']
    lines += _table(['supercategory', 'classes', 'instances', 'images'],
                    [[r['name'], r['classes'], r['instances'], r['images']]
                     for r in stats['supercategories']])
    if 'supercategories' in plots:
        lines += ['', f"![supercategories]({plots['supercategories']})"]
    lines += ['', '## Scenes', '']
    lines += _table(
        ['scene', 'classes', 'instances', 'images', 'defect-free images'],
        [[r['name'], r['classes'], r['instances'], r['images'],
          r['defect_free_images']] for r in stats['scenes']])
    if 'scenes' in plots:
        lines += ['', f"![scenes]({plots['scenes']})"]
    return '\n'.join(lines) + '\n'


def write_class_csv(stats: dict, path: str) -> None:
    """Every class with its counts, by rank, as CSV."""
    keys = ['rank', 'id', 'name', 'supercategory', 'scene', 'instances',
            'images', *SCALES]
    with open(path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(keys)
        for c in stats['classes']:
            writer.writerow([c[k] for k in keys])


def run_statistics(ann_file: Union[str, dict],
                   out_dir: str,
                   plots: bool = True,
                   top: int = 20,
                   progress: bool = False) -> dict:
    """Compute, plot and write the statistics of an annotation file.

    Writes ``statistics.json``, ``class_counts.csv``, ``summary.md`` and
    (``plots=True``) the PNGs of :data:`PLOT_FILES` into ``out_dir``.

    Args:
        ann_file (str | dict): The annotation file (or its dict).
        out_dir (str): Output directory.
        plots (bool): Draw the PNGs. Defaults to True.
        top (int): Rows of the head / tail class tables in the markdown.
        progress (bool): Show a progress bar over the steps.

    Returns:
        dict: The statistics, with the wall time of each step in
        ``timing``.
    """
    from tqdm import tqdm
    steps = ['load', 'arrays', 'statistics', 'plots', 'write']
    if not plots:
        steps.remove('plots')
    timing = {}
    source = ann_file if isinstance(ann_file, str) else '<dict>'
    data = arrays = stats = None
    plot_paths: Dict[str, str] = {}
    os.makedirs(out_dir, exist_ok=True)
    bar = tqdm(steps, desc='statistics', unit='step', disable=not progress)
    for step in bar:
        bar.set_postfix_str(step)
        start = time.perf_counter()
        if step == 'load':
            data = load_mmioc(ann_file) if isinstance(ann_file,
                                                      str) else ann_file
        elif step == 'arrays':
            arrays = AnnotationArrays.from_dict(data, source)
            data = None  # the records are no longer needed here
        elif step == 'statistics':
            stats = compute_statistics(arrays)
            stats['source'] = source
        elif step == 'plots':
            plot_paths = plot_statistics(stats, out_dir)
        else:
            title = 'MMIOC dataset statistics'
            if isinstance(ann_file, str):
                title += f': {osp.basename(ann_file)}'
            rel = {k: osp.relpath(v, out_dir) for k, v in plot_paths.items()}
            with open(osp.join(out_dir, 'summary.md'), 'w',
                      encoding='utf-8') as f:
                f.write(format_markdown(stats, title, rel, top))
            write_class_csv(stats, osp.join(out_dir, 'class_counts.csv'))
            dump_json(stats, osp.join(out_dir, 'statistics.json'),
                      indent=True)
        timing[step] = round(time.perf_counter() - start, 3)
    stats['timing'] = timing
    return stats
